"""What a run shows while an epoch trains: a bar at a terminal, progress lines in a log.

At a terminal (stderr is a TTY) a tqdm bar counts the epoch's steps, with the training
loss and tokens per second; its last frame is drawn complete (``491/491``) before it
is cleared for the epoch's summary line. Elsewhere (a log file, a pipe, a batch job)
a bar's carriage returns would pile up, so one line is written every
:data:`LINE_SECONDS` seconds instead:

    epoch 1/10: step 120/491 (24%) | train_loss 153.7500 (2.4023 per step) |
        5,210 tokens/s | ETA 3m12s        (one line)

30 seconds: a stalled run shows in its log within half a minute, and an hour of
training writes about 120 lines. An epoch shorter than that writes none (its summary
line follows at once). The ETA is the epoch's remaining steps at this session's mean
step time so far.

``--progress`` asks for the bar even where stderr is not a terminal, ``--no-progress``
for neither.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

__all__ = ["EpochProgress", "LINE_SECONDS", "duration"]

LINE_SECONDS = 30.0


class EpochProgress:
    """Shows one epoch's progress: ``mode`` "bar" (tqdm), "lines" (every
    ``interval`` seconds) or None (nothing).

    Args:
        mode: how to show it.
        total: the epoch's steps; ``done``: those taken before (a resumed epoch).
        label: "epoch 3/10".
    """

    def __init__(self, mode: str | None, *, total: int, done: int, label: str,
                 interval: float | None = None, file: TextIO | None = None):  # fmt: skip
        self.mode, self.total, self.label = mode, total, label
        self.interval = LINE_SECONDS if interval is None else interval
        self.file = file or sys.stderr
        self.first = done  # steps of the epoch already taken when this session began
        self.started = self.last_line = time.perf_counter()
        self.bar = None
        if mode == "bar":
            self.bar = tqdm(
                total=total, initial=done, leave=False, desc=label, unit="batch", file=self.file
            )

    def update(self, done: int, loss: str, tokens: int) -> None:
        """After a step: ``done`` steps of the epoch taken, the epoch's ``loss`` so far
        (as the log writes it), ``tokens`` trained on in this session's part of it."""
        if self.mode is None:
            return
        now = time.perf_counter()
        rate = tokens / max(now - self.started, 1e-9)
        if self.bar is not None:
            self.bar.set_postfix_str(f"{loss}, {rate:,.0f} tokens/s", refresh=False)
            self.bar.update(done - self.bar.n)
            if done == self.total:
                self.bar.refresh()  # tqdm skips frames within 0.1 s: draw the last one
            return
        if now - self.last_line < self.interval or done >= self.total:
            return
        self.last_line = now
        steps = done - self.first
        eta = (self.total - done) * (now - self.started) / max(steps, 1)
        print(
            f"{self.label}: step {done}/{self.total} ({done / self.total:.0%}) | {loss} | "
            f"{rate:,.0f} tokens/s | ETA {duration(eta)}",
            file=self.file,
            flush=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def duration(seconds: float) -> str:
    """75 -> "1m15s"; 4000 -> "1h06m"; 9 -> "9s"."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
