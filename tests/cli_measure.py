"""Run ``rnnseq`` commands one after another in this process, each with its peak memory.

    python tests/cli_measure.py JOBS.json

JOBS.json is a list of ``{"argv": [...], "stdout": PATH}``. For each job the process's
peak resident memory is reset (``/proc/self/clear_refs``), ``rnnseq.cli.main(argv)``
runs with its standard output going to PATH, and one JSON line reports: the exit
status (or "traceback" when an exception escaped ``main``), what it wrote on stderr,
its peak memory over the memory held when it started (``peak_kib``, from ``VmHWM``),
its peak over the interpreter's after its imports (``total_kib``: what the commands so
far have kept counts too) and its CPU seconds. One interpreter for many commands saves
torch's import each time.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import traceback
import warnings


def kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS


def main() -> None:
    import torch

    import rnnseq.inference  # noqa: F401  (imported before the first measurement)
    import rnnseq.training.loop  # noqa: F401
    from rnnseq.cli import main as rnnseq_main

    torch.set_num_threads(1)
    start = kib("VmRSS")
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    for job in jobs:
        warnings.simplefilter("default")  # each job shows its warnings, as a new process would
        err = io.StringIO()
        reset_peak()
        base, cpu = kib("VmRSS"), time.process_time()
        with open(job["stdout"], "w") as out:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = rnnseq_main(job["argv"])
                except SystemExit as e:
                    code = e.code
                except BaseException:
                    code = "traceback"
                    err.write(traceback.format_exc())
        report = {
            "argv": job["argv"],
            "code": code,
            "stderr": err.getvalue(),
            "peak_kib": kib("VmHWM") - base,
            "total_kib": kib("VmHWM") - start,
            "cpu_s": round(time.process_time() - cpu, 2),
        }
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
