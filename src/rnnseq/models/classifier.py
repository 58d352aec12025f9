"""``SequenceClassifier``: one label per sequence.

    x_t = Dropout([WordEmbedding(w_t); CharFeatures(w_t)])
    y_1..y_T = RecurrentEncoder(x_1..x_T)            (real steps only)
    v = Pool(y_1..y_T)                               (last | mean | max)
    z = W · Dropout(v) + b                           logits; ŷ = softmax(z)

The model holds no loss: the training loop applies
``rnnseq.losses.sequence_classification_loss`` to ``z``.
"""

from __future__ import annotations

from torch import Tensor

from rnnseq.models.backbone import RecurrentBackbone
from rnnseq.models.config import ModelConfig
from rnnseq.models.pooling import pool
from rnnseq.models.precision import full_precision, lower_precision


class SequenceClassifier(RecurrentBackbone):
    """Embedding -> dropout -> RecurrentEncoder -> pooling -> dropout -> linear.

    Args:
        config: the network's ``ModelConfig`` (``pooling`` says how steps become one vector).
        bf16: train with bfloat16 matrix products.

    Shape:
        - tokens: (N, T) integer ids, 0 = padding (anything is allowed at padded steps).
        - lengths: (N,) integers in [0, T]; a row of length 0 pools to zeros.
        - chars: (N, T, W) character ids, only when the config has character features.
        - output: (N, C) logits, C = config.num_labels.

    Example::

        >>> import torch
        >>> cfg = ModelConfig(vocab_size=50, num_labels=3, hidden=8)
        >>> model = SequenceClassifier(cfg)
        >>> model(torch.randint(1, 50, (4, 6)), torch.tensor([6, 3, 1, 0])).shape
        torch.Size([4, 3])
    """

    def __init__(self, config: ModelConfig, *, bf16: bool = False) -> None:
        config.validate()
        super().__init__(config, bf16=bf16)

    def encode(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None) -> Tensor:
        """The pooled sequence vector v, before the output dropout: (N, H_out)."""
        tokens, lengths, chars = self.embedder.check(tokens, lengths, chars)
        with lower_precision(self, tokens.device):
            x = self.dropout(self.embedder.embed(tokens, chars))  # (N, T, E + F)
            y, _ = self.encoder(x, lengths)  # (N, T, H_out)
            v = pool(y, lengths, self.config.pooling, self.encoder.directions)  # (N, H_out)
        return full_precision(v)  # (N, H_out)

    def forward(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None) -> Tensor:
        v = self.encode(tokens, lengths, chars)  # (N, H_out)
        return self.output(self.dropout(v))  # (N, C)
