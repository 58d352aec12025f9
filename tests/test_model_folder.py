"""rnnseq.model_folder: a model folder from someone else is data, never code.

Every tampering is tried through ``rnnseq.load`` (a ModelFolderError, one line,
naming the file) and through ``rnnseq evaluate`` (exit status 2, one line on
stderr, no traceback).
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import rnnseq
from model_folder_factory import edit_config, make_model_folder
from rnnseq.cli import main
from rnnseq.model_folder import FORMAT_VERSION, ModelFolderError

SRC = Path(__file__).resolve().parents[1] / "src" / "rnnseq"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return make_model_folder(tmp_path_factory.mktemp("pristine") / "model", "classify")


@pytest.fixture
def folder(pristine, tmp_path) -> Path:
    """A fresh copy of a good folder, to tamper with."""
    return Path(shutil.copytree(pristine, tmp_path / "model"))


@pytest.fixture
def data_file(tmp_path) -> Path:
    path = tmp_path / "reviews.tsv"
    path.write_text("the film was good\tpositive\nnot good at all\tnegative\n")
    return path


def _weights(folder: Path) -> Path:
    return folder / "model.safetensors"


def _rewrite_weights(folder: Path, change) -> None:
    tensors = load_file(_weights(folder))
    save_file(change(tensors), _weights(folder))


def _deep_json(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


class _Payload:
    """Unpickling this creates a folder: proof that a pickle was (or was not) run."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


TAMPERINGS = {
    # config.json
    "unknown cell class": (
        lambda f: edit_config(f, lambda c: c["training"]["model"].update(cell="Transformer")),
        "config.json: training: cell must be one of",
    ),
    "config names a Python object": (
        lambda f: edit_config(f, lambda c: c["training"]["model"].update(__class__="os.system")),
        "config.json: training: __class__ is not an option",
    ),
    "unknown task": (
        lambda f: edit_config(f, lambda c: c.update(task="rm -rf")),
        "config.json: task must be classify, tag or lm",
    ),
    "shape does not match the weights": (
        lambda f: edit_config(f, lambda c: c["training"]["model"].update(hidden=9)),
        "model.safetensors: tensor .* has shape",
    ),
    "vocabulary does not match the config": (
        lambda f: (f / "vocab.json").write_text(
            json.dumps(
                {
                    **json.loads((f / "vocab.json").read_text()),
                    "labels": {"tokens": ["a", "b", "c"], "specials": [], "lowercase": False},
                }
            )
        ),
        "config.json: model.num_labels is 2 but the labels vocabulary has 3 entries",
    ),
    "future format version": (
        lambda f: edit_config(f, lambda c: c.update(format_version=FORMAT_VERSION + 1)),
        f"newer rnnseq \\(format version {FORMAT_VERSION + 1}; .* reads up to {FORMAT_VERSION}\\)",
    ),
    "no format version": (
        lambda f: edit_config(f, lambda c: c.pop("format_version")),
        "config.json: format_version must be a positive integer",
    ),
    "config is not an object": (
        lambda f: (f / "config.json").write_text("[1, 2]"),
        "config.json: expected a JSON object",
    ),
    "config nested absurdly deep": (
        lambda f: (f / "config.json").write_text(_deep_json()),
        "config.json: not valid JSON",
    ),
    "vocabulary nested absurdly deep": (
        lambda f: (f / "vocab.json").write_text(_deep_json()),
        "vocab.json: not valid JSON",
    ),
    "config is not UTF-8": (
        lambda f: (f / "config.json").write_bytes(b'{"task": "\xff"}'),
        "config.json: not UTF-8 text \\(byte 0xff at offset 10\\)",
    ),
    # file names in config.json
    "weights named outside the folder": (
        lambda f: edit_config(f, lambda c: c["files"].update(weights="../elsewhere.safetensors")),
        "file name '../elsewhere.safetensors' is not a plain name inside the folder",
    ),
    "weights named by an absolute path": (
        lambda f: edit_config(f, lambda c: c["files"].update(weights="/etc/passwd")),
        "file name '/etc/passwd' is not a plain name inside the folder",
    ),
    "vocabulary named as the parent": (
        lambda f: edit_config(f, lambda c: c["files"].update(vocabularies="..")),
        "file name '..' is not a plain name",
    ),
    "a file not read at load named outside": (
        lambda f: edit_config(f, lambda c: c["files"].update(metrics="../../metrics.json")),
        "file name '../../metrics.json' is not a plain name",
    ),
    "weights are a link to a file outside": (
        lambda f: (
            shutil.copy(_weights(f), f.parent / "outside.safetensors"),
            _weights(f).unlink(),
            _weights(f).symlink_to(f.parent / "outside.safetensors"),
        ),
        "file name 'model.safetensors' points outside the folder",
    ),
    # model.safetensors
    "weights truncated": (
        lambda f: _weights(f).write_bytes(_weights(f).read_bytes()[:-100]),
        "model.safetensors: not a valid safetensors file",
    ),
    "weights cut to a few bytes": (
        lambda f: _weights(f).write_bytes(b"\x08\x00"),
        "model.safetensors: not a valid safetensors file",
    ),
    "weights missing": (
        lambda f: _weights(f).unlink(),
        "model.safetensors: cannot read \\(No such file or directory\\)",
    ),
    "weights replaced by torch.save": (
        lambda f: torch.save(load_file(_weights(f)), _weights(f)),
        "model.safetensors: this is a pickle or torch.save file, not safetensors",
    ),
    "weights stored in another dtype": (
        lambda f: _rewrite_weights(f, lambda t: {k: v.double() for k, v in t.items()}),
        "model.safetensors: tensor .* torch.float64, the config needs .* torch.float32",
    ),
    "weights hold NaN": (
        lambda f: _rewrite_weights(f, lambda t: {k: v * float("nan") for k, v in t.items()}),
        "model.safetensors: tensor .* holds NaN or infinite values",
    ),
    "a weight tensor missing": (
        lambda f: _rewrite_weights(f, lambda t: dict(list(t.items())[1:])),
        "model.safetensors: missing tensors",
    ),
    "an extra weight tensor": (
        lambda f: _rewrite_weights(f, lambda t: {**t, "evil": torch.zeros(1)}),
        "model.safetensors: unexpected tensors \\['evil'\\]",
    ),
    "weights metadata nested absurdly deep": (
        lambda f: save_file(
            load_file(_weights(f)), _weights(f), metadata={"rnnseq": _deep_json(5000)}
        ),
        "model.safetensors: damaged metadata",
    ),
}


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=list(TAMPERINGS))
def test_tampered_folder_is_refused_by_load_with_one_line_naming_the_file(folder, tamper):
    change, message = TAMPERINGS[tamper]
    change(folder)
    with pytest.raises(ModelFolderError, match=message) as caught:
        rnnseq.load(folder)
    text = str(caught.value)
    assert "\n" not in text and str(folder) in text


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=list(TAMPERINGS))
def test_tampered_folder_makes_evaluate_exit_2_with_one_line(folder, data_file, capsys, tamper):
    change, message = TAMPERINGS[tamper]
    change(folder)
    code = main(["evaluate", "--model", str(folder), "--data", str(data_file), "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("rnnseq evaluate: error: ") and str(folder) in err


def test_good_folder_loads_and_says_its_format_version(folder, data_file, capsys):
    assert json.loads((folder / "config.json").read_text())["format_version"] == FORMAT_VERSION
    assert rnnseq.load(folder).predict(["a good film"])[0] in ("positive", "negative")
    assert main(["evaluate", "--model", str(folder), "--data", str(data_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_examples"] == 2


def test_older_format_version_still_loads(folder, monkeypatch):
    monkeypatch.setattr("rnnseq.model_folder.FORMAT_VERSION", FORMAT_VERSION + 1)
    assert rnnseq.load(folder).task == "classify"


def test_pickled_weights_are_never_unpickled(folder, data_file, tmp_path, capsys):
    marker = tmp_path / "the-pickle-ran"
    torch.save({"net.output.weight": _Payload(marker)}, _weights(folder))
    with pytest.raises(ModelFolderError, match="pickle or torch.save"):
        rnnseq.load(folder)
    assert main(["evaluate", "--model", str(folder), "--data", str(data_file)]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert not marker.exists()
    # The payload is live: anything that unpickled the file would have run it.
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.is_dir()


def test_loading_and_evaluating_call_no_unpickler(folder, data_file, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    predictor = rnnseq.load(folder)
    assert len(predictor.predict(["good", "bad film"])) == 2
    assert main(["evaluate", "--model", str(folder), "--data", str(data_file)]) == 0, (
        capsys.readouterr().err
    )


_UNSAFE_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve"}
_UNSAFE_MODULES |= {"marshal"}
_UNSAFE_CALLS = {("torch", "load"), ("jit", "load"), ("np", "load"), ("numpy", "load")}


def _unsafe_uses(path: Path) -> list[str]:
    """Imports of pickling modules, torch.load/np.load calls, eval/exec, weights_only=."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        else:
            names = []
        found += [f"{where}: imports {n}" for n in names if n in _UNSAFE_MODULES]
        if isinstance(node, ast.Call):
            func = node.func
            owner = getattr(func, "value", None)
            owner = getattr(owner, "id", None) or getattr(owner, "attr", None)
            if isinstance(func, ast.Attribute) and (owner, func.attr) in _UNSAFE_CALLS:
                found.append(f"{where}: calls {owner}.{func.attr}")
            if isinstance(func, ast.Name) and func.id in ("eval", "exec"):
                found.append(f"{where}: calls {func.id}")
            for kw in node.keywords:
                if kw.arg in ("weights_only", "allow_pickle"):
                    found.append(f"{where}: passes {kw.arg}=")
    return found


def test_package_source_never_unpickles():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20
    found = [use for path in files for use in _unsafe_uses(path)]
    assert found == []


def test_source_scan_would_see_an_unpickler(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import pickle\nimport torch\nx = torch.load('m.pt', weights_only=False)\neval('1')\n"
    )
    assert len(_unsafe_uses(probe)) == 4


_HUGE_CONFIG = """
import resource, sys
from rnnseq.cli import main

def vm_data():
    for line in open("/proc/self/status"):
        if line.startswith("VmData:"):
            return int(line.split()[1]) * 1024

# Allow 1.5 GiB more than the imports took: the model such a config describes
# needs hundreds of GiB, so allocating it before checking would fail here.
_, hard = resource.getrlimit(resource.RLIMIT_DATA)
resource.setrlimit(resource.RLIMIT_DATA, (vm_data() + 3 * 2**29, hard))
sys.exit(main(["evaluate", "--model", sys.argv[1], "--data", sys.argv[2]]))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_config_of_a_huge_model_is_refused_before_allocating_it(folder, data_file):
    edit_config(
        folder,
        lambda c: c["training"]["model"].update(hidden=16384, embedding_dim=16384, layers=32),
    )
    env = {**os.environ, "PYTHONPATH": str(SRC.parent)}
    done = subprocess.run(
        [sys.executable, "-c", _HUGE_CONFIG, str(folder), str(data_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(done.stderr.splitlines()) == 1
    assert "model.safetensors: tensor" in done.stderr and "the config needs" in done.stderr
