from __future__ import annotations

import pytest
import torch
from model_checks import RAGGED, make_batch

from rnnseq.models import ModelConfig, SequenceClassifier, pool

CFG = ModelConfig(vocab_size=30, num_labels=4, embedding_dim=6, hidden=5, pooling="mean")


def test_logits_are_the_output_layer_of_the_pooled_encoding():
    torch.manual_seed(0)
    model = SequenceClassifier(CFG).eval()
    batch = make_batch(CFG, RAGGED)
    v = model.encode(batch.tokens, batch.lengths)
    assert v.shape == (len(RAGGED), 10)
    x = model.embedder(batch.tokens, batch.lengths)
    y, _ = model.encoder(x, batch.lengths)
    torch.testing.assert_close(v, pool(y, batch.lengths, "mean", 2))
    torch.testing.assert_close(model(batch.tokens, batch.lengths), model.output(v))


def test_an_empty_sequence_scores_the_output_bias():
    torch.manual_seed(0)
    model = SequenceClassifier(CFG).eval()
    logits = model(torch.tensor([[0, 0, 0], [4, 5, 6]]), torch.tensor([0, 3]))
    torch.testing.assert_close(logits[0], model.output.bias.detach())


@pytest.mark.parametrize(
    ("tokens", "lengths", "message"),
    [
        (torch.tensor([[1, 30, 2]]), torch.tensor([3]), "tokens"),
        (torch.tensor([[1, -1, 2]]), torch.tensor([3]), "tokens"),
        (torch.tensor([1, 2, 3]), torch.tensor([3]), "tokens"),
        (torch.tensor([[1.0, 2.0]]), torch.tensor([2]), "tokens"),
        (torch.tensor([[1, 2, 3]]), torch.tensor([4]), "lengths"),
        (torch.tensor([[1, 2, 3]]), torch.tensor([3, 3]), "lengths"),
        (torch.tensor([[1, 2, 3]]), torch.tensor([2.0]), "lengths"),
    ],
)
def test_bad_batches_raise_errors_naming_the_argument(tokens, lengths, message):
    model = SequenceClassifier(CFG)
    with pytest.raises((ValueError, TypeError), match=message):
        model(tokens, lengths)


def test_ids_past_the_length_may_be_anything():
    torch.manual_seed(0)
    model = SequenceClassifier(CFG).eval()
    a = model(torch.tensor([[3, 4, 0]]), torch.tensor([2]))
    b = model(torch.tensor([[3, 4, 999]]), torch.tensor([2]))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
