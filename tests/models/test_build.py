"""Every model variant honours the same contract (see conftest.py)."""

from __future__ import annotations

import torch
from model_checks import RAGGED, make_batch, masked_loss, run

from rnnseq.models import ModelConfig, SequenceClassifier, SequenceTagger


def _loss_and_grads(model, batch, seed=0):
    torch.manual_seed(seed)  # same dropout masks on every call
    model.zero_grad(set_to_none=True)
    logits = run(model, batch)
    masked_loss(logits, batch.targets).backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    return logits.detach(), grads


def test_every_variant_runs_forward_and_backward_on_lengths_0_to_T(variant):
    torch.manual_seed(0)
    model = variant.build().train()
    batch = make_batch(variant.config, RAGGED, per_sequence=variant.per_sequence)
    logits = run(model, batch)
    n, t = batch.tokens.shape
    c = variant.config.num_labels
    assert logits.shape == ((n, c) if variant.per_sequence else (n, t, c))
    masked_loss(logits, batch.targets).backward()
    assert torch.isfinite(logits).all()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.encoder.rnns[0].weight_hh_l0.grad.abs().sum() > 0


def test_every_variant_ignores_garbage_at_padded_steps(variant):
    torch.manual_seed(0)
    model = variant.build().train()  # dropout on, same seed for both runs
    batch = make_batch(variant.config, RAGGED, per_sequence=variant.per_sequence)
    clean_logits, clean_grads = _loss_and_grads(model, batch)
    dirty_logits, dirty_grads = _loss_and_grads(model, batch.with_garbage())
    if variant.per_sequence:
        torch.testing.assert_close(dirty_logits, clean_logits, rtol=0, atol=0)
    else:
        real = batch.real
        torch.testing.assert_close(dirty_logits[real], clean_logits[real], rtol=0, atol=0)
    assert dirty_grads.keys() == clean_grads.keys()
    for name in clean_grads:
        torch.testing.assert_close(dirty_grads[name], clean_grads[name], rtol=0, atol=0)


def test_every_variant_gives_the_same_numbers_packed_and_padded(variant):
    torch.manual_seed(0)
    model = variant.build().eval()
    batch = make_batch(variant.config, RAGGED, per_sequence=variant.per_sequence)
    results = {}
    for impl in ("packed", "padded"):
        model.encoder.implementation = impl
        results[impl] = _loss_and_grads(model, batch)
    (lp, gp), (ld, gd) = results["packed"], results["padded"]
    if not variant.per_sequence:
        lp, ld = lp[batch.real], ld[batch.real]
    torch.testing.assert_close(ld, lp, rtol=1e-5, atol=1e-5)
    for name in gp:
        torch.testing.assert_close(gd[name], gp[name], rtol=1e-5, atol=1e-5)


def test_tiny_models_overfit_a_tiny_batch():
    for task, net, chars in (
        ("classify", SequenceClassifier, "none"),
        ("tag", SequenceTagger, "cnn"),
        ("lm", SequenceTagger, "none"),
    ):
        cfg = ModelConfig(
            vocab_size=20,
            num_labels=20 if task == "lm" else 4,
            char_vocab_size=0 if chars == "none" else 9,
            char_features=chars,
            embedding_dim=16,
            hidden=16,
            dropout=0.0,
            bidirectional=task != "lm",
        )
        torch.manual_seed(0)
        model = net(cfg)
        batch = make_batch(cfg, [7, 5, 3, 6], seed=3, per_sequence=net is SequenceClassifier)
        opt = torch.optim.Adam(model.parameters(), lr=0.03)
        losses = []
        for _ in range(40):
            opt.zero_grad()
            loss = masked_loss(run(model, batch), batch.targets)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.1 * losses[0], (task, losses[0], losses[-1])
