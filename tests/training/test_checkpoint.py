"""rnnseq.training.checkpoint: the resume file holds progress, optimizer, RNG and lm
states exactly, and a damaged one is a ModelFolderError naming the file."""

from __future__ import annotations

import pytest
import torch

from rnnseq.serialization import ModelFolderError, save_tensors
from rnnseq.training.checkpoint import (
    Progress,
    load_resume,
    rng_state,
    save_resume,
    set_rng_state,
)


def _stepped_adam():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(4, 3)).pow(2).sum().backward()
        opt.step()
    return model, opt


def test_a_saved_run_continues_exactly(tmp_path):
    model, opt = _stepped_adam()
    progress = Progress(
        epoch=3, step_in_epoch=5, global_step=17, best_score=[0.25, 0.9], best_epoch=2
    )
    progress.train_total, progress.train_count = 1.0 / 3.0, 7.0
    progress.history = [{"epoch": 1, "train_loss": 0.1}, {"epoch": 2, "train_loss": 0.05}]
    rngs = [rng_state(torch.device("cpu")), {"cpu": torch.get_rng_state() ^ 1}]
    progress.world_size = 2
    lm = [(torch.randn(1, 2, 4), torch.randn(1, 2, 4)), (torch.zeros(1, 2, 4), torch.ones(1, 2, 4))]
    path = tmp_path / "resume.safetensors"
    save_resume(path, progress, model.state_dict(), opt, rngs, lm)

    back = load_resume(path)
    assert back.progress == progress
    assert all(torch.equal(back.model_state[k], v) for k, v in model.state_dict().items())
    for mine, theirs in zip(rngs, back.rng_states, strict=True):
        assert torch.equal(mine["cpu"], theirs["cpu"])
    assert isinstance(back.lm_states[0], tuple)
    for mine, theirs in zip(lm, back.lm_states, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(mine, theirs, strict=True))

    # The optimizer picks up where it was: the next step is the same.
    model2 = torch.nn.Linear(3, 2)
    model2.load_state_dict(back.model_state)
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.5)
    opt2.load_state_dict(back.optimizer_state)
    assert opt2.param_groups[0]["lr"] == 0.1
    x = torch.randn(4, 3)
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        m(x).pow(2).sum().backward()
        o.step()
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters(), strict=True)
    )


def test_restoring_the_rng_repeats_the_dropout_masks():
    state = rng_state(torch.device("cpu"))
    a = torch.rand(5)
    set_rng_state(state, torch.device("cpu"))
    assert torch.equal(torch.rand(5), a)


def test_a_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(ModelFolderError, match="no checkpoint to resume from"):
        load_resume(tmp_path / "resume.safetensors")


@pytest.mark.parametrize("damage", ["truncate", "foreign", "wrong_world"])
def test_a_damaged_checkpoint_is_a_model_folder_error_naming_it(tmp_path, damage):
    path = tmp_path / "resume.safetensors"
    model, opt = _stepped_adam()
    progress = Progress(world_size=2 if damage == "wrong_world" else 1)
    save_resume(path, progress, model.state_dict(), opt, [rng_state(torch.device("cpu"))], None)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "foreign":
        save_tensors(path, {"x": torch.zeros(2)}, metadata={"something": "else"})
    with pytest.raises(ModelFolderError, match=str(path)):
        load_resume(path)
