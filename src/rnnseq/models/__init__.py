"""Sequence models: the Elman RNN by hand in NumPy, and the PyTorch encoders and heads."""
