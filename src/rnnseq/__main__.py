"""``python -m rnnseq`` runs the command line (so ``torchrun -m rnnseq`` works)."""

from rnnseq.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
