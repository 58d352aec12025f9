"""ONNX export at real sizes: how close onnxruntime stays to PyTorch, and what it costs.

    PYTHONPATH=src python benchmarks/onnx_export.py

For networks of the default sizes (random weights; the difference is arithmetic, not
learning), on one thread: the largest |onnxruntime - PyTorch| at a real step over the
export's own check batches and three larger ragged ones, the CPU seconds of
``export_onnx`` (tracing, writing and its check), the graph's size, and the time of one
forward pass of a (32 x 25) batch in each (median of 20, after 3 warm-ups). Prints a
Markdown table for docs/EXPORT.md, and the load average before and after.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import torch

from rnnseq.models import ModelConfig
from rnnseq.onnx_export import check_onnx, export_onnx, random_batch, reference_scores
from rnnseq.task_model import TaskModel
from rnnseq.tasks import get_task

CASES = {
    "tagger: BiLSTM 128, char CNN 50, V = 20000, C = 17": (
        "tag",
        {"vocab_size": 20000, "num_labels": 17, "char_vocab_size": 100, "char_features": "cnn"},
    ),
    "classifier: BiLSTM 128, max pooling, V = 20000, C = 5": (
        "classify",
        {"vocab_size": 20000, "num_labels": 5},
    ),
    "character LM: 2 x 512 LSTM, V = 100": (
        "lm",
        {"vocab_size": 100, "num_labels": 100, "hidden": 512, "layers": 2, "bidirectional": False},
    ),
}


def _median_ms(run, repeat: int = 20) -> float:
    for _ in range(3):
        run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    import onnxruntime

    torch.set_num_threads(1)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print("| network | max abs diff | export CPU s | graph MB | torch ms | onnxruntime ms |")
    print("|---|---|---|---|---|---|")
    for name, (task, sizes) in CASES.items():
        torch.manual_seed(0)
        model = TaskModel(get_task(task), ModelConfig(**sizes)).eval()
        path = os.path.join(tempfile.mkdtemp(), "model.onnx")
        cpu = time.process_time()
        check = export_onnx(model, path)
        cpu = time.process_time() - cpu
        larger = check_onnx(model, path, shapes=[(32, 60, 20), (64, 25, 12), (1, 200, 8)], seed=5)
        diff = max(check.max_abs_diff, larger.max_abs_diff)
        batch = random_batch(model, 32, 25, 10, torch.Generator().manual_seed(1))
        feeds = {k: v.numpy() for k, v in batch.items()}
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        torch_ms = _median_ms(lambda: reference_scores(model, batch))  # noqa: B023
        ort_ms = _median_ms(lambda: session.run(None, feeds))  # noqa: B023
        size = os.path.getsize(path) / 1e6
        print(f"| {name} | {diff:.1e} | {cpu:.1f} | {size:.1f} | {torch_ms:.1f} | {ort_ms:.1f} |")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
