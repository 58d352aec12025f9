"""Two "machines" under torchrun (--nnodes 2, one process each, c10d rendezvous on
127.0.0.1) train a language model from one token file, each on its own rows: the
result equals one process on the union of the rows, to 1e-6."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from procs import run_nodes
from safetensors import safe_open
from token_windows_worker import BPTT, ROWS, build, train

from rnnseq.data.lm_windows import LMWindows
from rnnseq.data.token_cache import token_file
from rnnseq.training.distributed import Context

WORKER = Path(__file__).with_name("token_windows_worker.py")


@pytest.mark.skipif(not Path("/sys/class/net/lo").exists(), reason="needs the loopback device")
def test_two_nodes_on_one_token_file_train_like_one_process_on_the_union(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "".join(f"To be, or not to be {i}: that is the question.\n" for i in range(12)),
        encoding="utf-8",
    )
    cache = tmp_path / "cache"  # shared by both nodes, as on a shared file system
    target = [str(WORKER), str(tmp_path), str(corpus), str(cache)]
    for returncode, output in run_nodes(target, "token-windows-test"):
        assert returncode == 0, output

    tokens = token_file(corpus, unit="char", cache_dir=cache, progress=False)
    model = build(len(tokens.vocab))
    union = LMWindows(tokens.reader(), 2 * ROWS, BPTT)
    losses = train(union, model, model, Context())
    for rank in (0, 1):
        with safe_open(tmp_path / f"rank{rank}.safetensors", "pt") as f:
            assert json.loads(f.metadata()["world_size"]) == 2
            assert json.loads(f.metadata()["losses"]) == pytest.approx(losses, abs=1e-6, rel=0)
            for name, value in model.state_dict().items():
                assert torch.allclose(f.get_tensor(name), value, rtol=0, atol=1e-6), name
    assert len(losses) > 4 and len({round(x, 6) for x in losses}) > 1  # it did train
