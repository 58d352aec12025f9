"""rnnseq.task_model: the objective as (sum, count), and the chunked head of large LMs."""

import pytest
import torch

from rnnseq.data import Batch
from rnnseq.kernels import default_plan
from rnnseq.models import ModelConfig
from rnnseq.objective import LossOptions
from rnnseq.task_model import Objective, TaskModel
from rnnseq.tasks import get_task

LM = get_task("lm")


def lm_batch(vocab: int) -> Batch:
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(2, vocab, (3, 7), generator=g)
    targets = torch.randint(2, vocab, (3, 7), generator=g)
    lengths = torch.tensor([7, 4, 0])
    targets[1, 4:] = -100
    targets[2] = -100
    return Batch(tokens=tokens, lengths=lengths, targets=targets, chars=None, indices=[0, 1, 2])


@pytest.mark.parametrize(
    "opts",
    [
        LossOptions(),
        LossOptions(reduction="token_mean", label_smoothing=0.1),
        LossOptions(time_reduction="mean"),
        LossOptions(reduction="sum"),
    ],
)
def test_large_lm_uses_the_chunked_head_with_the_same_loss_and_gradients(opts):
    vocab = default_plan(torch.device("cpu")).linear_head_min_classes + 10
    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=vocab,
        num_labels=vocab,
        hidden=8,
        embedding_dim=8,
        dropout=0.0,
        bidirectional=False,
    )
    model = TaskModel(LM, cfg).double()
    assert LM.uses_chunked_head(model)
    batch = lm_batch(vocab)
    opts = Objective(opts)

    chunked, _ = model.loss_terms(batch, opts)
    chunked.value().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    scores, _ = model.scores(batch)
    direct = model.objective(scores, batch, opts).value()
    direct.backward()

    torch.testing.assert_close(chunked.value(), direct)
    for name, p in model.named_parameters():
        torch.testing.assert_close(grads[name], p.grad, msg=name)


def test_small_lm_forms_its_logits():
    cfg = ModelConfig(
        vocab_size=70, num_labels=70, hidden=8, embedding_dim=8, bidirectional=False
    )
    assert not LM.uses_chunked_head(TaskModel(LM, cfg))
