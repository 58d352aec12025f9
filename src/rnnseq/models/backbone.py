"""``RecurrentBackbone``: the layers both sequence models share.

    x_t = Dropout([WordEmbedding(w_t); CharFeatures(w_t)])       self.embedder, self.dropout
    y_1..y_T = RecurrentEncoder(x_1..x_T)                        self.encoder
    z = W · Dropout(·) + b                                       self.output

The classifier pools y before the output layer, the tagger applies it at every step;
each subclass writes its own ``forward``. The attribute names are the state-dict keys
of saved models, so they must not change.
"""

from __future__ import annotations

from torch import nn

from rnnseq.models.config import ModelConfig
from rnnseq.models.embedding import TokenEmbedder
from rnnseq.models.encoder import RecurrentEncoder
from rnnseq.models.precision import OutputLayer


class RecurrentBackbone(nn.Module):
    """Embedder, dropout, recurrent encoder and output layer built from one config.

    Args:
        config: a validated ``ModelConfig``; ``num_labels`` sizes the output layer.
        bf16: train with bfloat16 matrix products (:mod:`rnnseq.models.precision`); a
            choice of the training run, not of the model (eval mode is float32).
    """

    def __init__(self, config: ModelConfig, *, bf16: bool = False) -> None:
        super().__init__()
        self.config = config
        self.embedder = TokenEmbedder(config)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = RecurrentEncoder(
            self.embedder.output_size,
            config.hidden,
            cell=config.cell,
            layers=config.layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
        )
        self.output = OutputLayer(self.encoder.output_size, config.num_labels, bf16)
        self.bf16 = bf16
