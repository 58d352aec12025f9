"""The ``rnnseq`` command line (grows with the training issue)."""

from __future__ import annotations

import argparse
import sys


def _walkthrough() -> int:
    from rnnseq.reference import cross_entropy, labeling_loss, softmax

    print("Two classes, the first is true, ŷ = (0.7, 0.3):")
    print(f"  L = -log 0.7 = {cross_entropy([1.0, 0.0], [0.7, 0.3]):.3f}")
    y_pred = softmax([[[2.0, 0.5, 0.1], [0.2, 1.5, 0.3], [0.1, 0.4, 3.0]]])
    targets = [[0, 1, 2]]
    total = labeling_loss(y_pred, targets, time_reduction="sum")
    mean = labeling_loss(y_pred, targets, time_reduction="mean")
    print(f"A 3-step sequence: sum over steps {total:.3f}, mean over steps {mean:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnnseq", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="walk through the sequence cross-entropy")
    parser.parse_args(argv)
    return _walkthrough()


if __name__ == "__main__":
    sys.exit(main())
