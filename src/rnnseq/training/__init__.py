"""Training: the run's config, data set-up, the loop, checkpoints, several processes."""
