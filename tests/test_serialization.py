"""rnnseq.serialization: atomic files, no pickle, clear errors for damaged input."""

import json
import os
import random

import pytest
import torch

from rnnseq.serialization import (
    ModelFolderError,
    atomic_write_json,
    flatten_state,
    load_tensors,
    member_path,
    read_json,
    save_tensors,
    unflatten_state,
)


def test_tensors_and_metadata_round_trip(tmp_path):
    tensors = {"a": torch.randn(3, 4), "b": torch.arange(5)}
    save_tensors(tmp_path / "w.safetensors", tensors, metadata={"epoch": 3, "x": [1, 2]})
    loaded, meta = load_tensors(tmp_path / "w.safetensors")
    assert meta == {"epoch": 3, "x": [1, 2]}
    assert torch.equal(loaded["a"], tensors["a"]) and torch.equal(loaded["b"], tensors["b"])


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    atomic_write_json(tmp_path / "m.json", {"k": 1})
    atomic_write_json(tmp_path / "m.json", {"k": 2})
    assert read_json(tmp_path / "m.json") == {"k": 2}
    assert sorted(os.listdir(tmp_path)) == ["m.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    atomic_write_json(tmp_path / "m.json", {"k": 1})
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "m.json", {"k": object()})
    assert read_json(tmp_path / "m.json") == {"k": 1}
    assert sorted(os.listdir(tmp_path)) == ["m.json"]


def test_truncated_weights_give_a_clear_error(tmp_path):
    path = tmp_path / "w.safetensors"
    save_tensors(path, {"a": torch.randn(100)})
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(ModelFolderError, match="w.safetensors"):
        load_tensors(path)
    path.write_bytes(b"\x00" * 3)
    with pytest.raises(ModelFolderError, match="w.safetensors"):
        load_tensors(path)


def test_pickle_files_are_not_loaded(tmp_path):
    path = tmp_path / "w.safetensors"
    torch.save({"a": torch.randn(3)}, path)  # a pickle in disguise
    with pytest.raises(ModelFolderError):
        load_tensors(path)


def test_bad_json_names_the_file(tmp_path):
    (tmp_path / "c.json").write_text("{nope")
    with pytest.raises(ModelFolderError, match="c.json"):
        read_json(tmp_path / "c.json")
    with pytest.raises(ModelFolderError, match="missing"):
        read_json(tmp_path / "absent.json")


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b", "..", "", 5, None, "a\\b"])
def test_member_path_refuses_names_outside_the_folder(tmp_path, name):
    with pytest.raises(ModelFolderError):
        member_path(tmp_path, name)


def test_member_path_accepts_plain_names(tmp_path):
    assert member_path(tmp_path, "model.safetensors") == tmp_path / "model.safetensors"


def test_optimizer_state_round_trips_exactly(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(4, 3)).sum().backward()
        opt.step()
    state = {
        "optimizer": opt.state_dict(),
        "python_rng": random.getstate(),
        "torch_rng": torch.get_rng_state(),
    }
    tree, tensors = flatten_state(state)
    json.dumps(tree)  # the tree is plain JSON
    save_tensors(tmp_path / "s.safetensors", tensors, metadata=tree)
    loaded_tensors, loaded_tree = load_tensors(tmp_path / "s.safetensors")
    back = unflatten_state(loaded_tree, loaded_tensors)

    random.setstate(back["python_rng"])
    assert random.getstate() == state["python_rng"]
    assert torch.equal(back["torch_rng"], state["torch_rng"])
    opt2 = torch.optim.Adam(model.parameters(), lr=0.5)
    opt2.load_state_dict(back["optimizer"])
    assert opt2.param_groups[0]["betas"] == (0.8, 0.9)
    for p in model.parameters():
        for k, v in opt.state[p].items():
            assert torch.equal(opt2.state[p][k], v)


def test_flatten_refuses_objects_that_would_need_pickle():
    with pytest.raises(TypeError, match="pickle"):
        flatten_state({"f": object()})
