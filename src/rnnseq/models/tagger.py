"""``SequenceTagger``: one label per step; with task "lm", a language model.

    x_t = Dropout([WordEmbedding(w_t); CharFeatures(w_t)])
    y_1..y_T = RecurrentEncoder(x_1..x_T)            (real steps only)
    z_t = W · Dropout(y_t) + b                       logits at every step; ŷ_t = softmax(z_t)

A language model is a unidirectional tagger whose target at step t is unit t+1; with
``tie_embeddings`` its output matrix W is the input embedding matrix. The model holds
no loss: the training loop applies ``rnnseq.losses.sequence_labeling_loss`` to z, or,
for large vocabularies, a chunked linear + loss to ``features(...)`` with
``self.output.weight`` / ``self.output.bias`` so the (N, T, C) logits never exist at once.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnseq.models.backbone import RecurrentBackbone
from rnnseq.models.config import ModelConfig
from rnnseq.models.encoder import State
from rnnseq.models.precision import full_precision, lower_precision


class SequenceTagger(RecurrentBackbone):
    """Embedding (+ char features) -> dropout -> RecurrentEncoder -> dropout -> linear per step.

    Args:
        config: the network's ``ModelConfig`` (a language model's is unidirectional).
        bf16: train with bfloat16 matrix products.

    Shape:
        - tokens: (N, T) integer ids, 0 = padding (anything is allowed at padded steps).
        - lengths: (N,) integers in [0, T].
        - chars: (N, T, W) character ids, only when the config has character features.
        - state: the encoder state, (layers * D, N, hidden), a pair (h, c) for LSTM,
          index layer * D + direction; None = zeros.
        - output: (N, T, C) logits, C = config.num_labels; rows of padded steps hold the
          output bias (the hidden vector there is 0) and must be masked by the loss.

    Example::

        >>> cfg = ModelConfig(vocab_size=50, num_labels=5, char_vocab_size=20, char_features="cnn")
        >>> model = SequenceTagger(cfg)
        >>> tokens, lengths = torch.randint(1, 50, (2, 4)), torch.tensor([4, 2])
        >>> model(tokens, lengths, torch.randint(1, 20, (2, 4, 6))).shape
        torch.Size([2, 4, 5])
    """

    def __init__(self, config: ModelConfig, *, bf16: bool = False) -> None:
        config.validate()
        super().__init__(config, bf16=bf16)
        if config.tie_embeddings:
            # One (V, E) matrix reads words in and scores them out; small init so the
            # first logits are not huge.
            with torch.no_grad():
                self.embedder.word.weight.uniform_(-0.1, 0.1)
                self.embedder.word.weight[0].zero_()
            self.output.weight = self.embedder.word.weight

    def features(
        self,
        tokens: Tensor,
        lengths: Tensor,
        chars: Tensor | None = None,
        state: State | None = None,
        *,
        return_state: bool = True,
    ) -> tuple[Tensor, State | None]:
        """The vectors the output layer reads, and the encoder's final state.

        Returns ``(hidden, final_state)``: hidden (N, T, H_out) after the output dropout,
        0 at padded steps, so ``logits = hidden @ self.output.weight.T + self.output.bias``;
        final_state is the state after each row's last real step (a row of length 0 keeps
        ``state``), for the next window of a stream, or None when ``return_state=False``.
        Requesting the state with ragged lengths makes the encoder run packed.
        """
        tokens, lengths, chars = self.embedder.check(tokens, lengths, chars)
        with lower_precision(self, tokens.device):
            x = self.dropout(self.embedder.embed(tokens, chars))  # (N, T, E + F)
            y, final = self.encoder(x, lengths, state, return_state=return_state)  # (N, T, H_out)
        return self.dropout(full_precision(y)), full_precision(final)

    def forward(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None) -> Tensor:
        hidden, _ = self.features(tokens, lengths, chars, return_state=False)  # (N, T, H_out)
        return self.output(hidden)  # (N, T, C)
