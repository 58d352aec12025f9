"""Character-level word features, so a word unseen in training still has a useful vector.

Each word is a row of W character ids, left-aligned, 0 = padding; a word of 0
characters (a padding word) gets the feature vector 0.

- ``CharCNN`` (Ma & Hovy 2016 style): e_k = CharEmbedding(c_k);
  f = relu(max_{k real} (W * [e_{k-r} .. e_{k+r}] + b)), a convolution of odd width
  2r + 1 over the characters, max over the real ones (padding never wins the max).
- ``CharBiLSTM`` (Lample et al. 2016 style): f = [h_forward(last char); h_backward(first
  char)], the final states of a BiLSTM over the real characters.

Only words with at least one character are computed; the rest are scattered back as 0.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence


class _PerWord(nn.Module):
    """Runs ``self._words`` ((M, W) ids -> (M, F)) on the non-empty words of (N, T, W) ids."""

    output_size: int

    def forward(self, chars: Tensor) -> Tensor:
        if chars.dim() != 3:
            raise ValueError(f"chars must have shape (N, T, W), got {tuple(chars.shape)}")
        n, t, w = chars.shape
        flat = chars.reshape(n * t, w)  # (N*T, W)
        nonempty = (flat != 0).any(dim=1).nonzero().squeeze(1)  # (M,)
        if nonempty.numel() == 0:
            dtype = self.embedding.weight.dtype
            return torch.zeros(n, t, self.output_size, device=chars.device, dtype=dtype)
        found = self._words(flat.index_select(0, nonempty))  # (M, F)
        out = found.new_zeros(n * t, self.output_size).index_copy(0, nonempty, found)
        return out.view(n, t, self.output_size)  # (N, T, F)

    def _words(self, chars: Tensor) -> Tensor:
        raise NotImplementedError


class CharCNN(_PerWord):
    """Char embedding -> convolution over each word's characters -> max over real chars.

    Args:
        char_vocab_size: character ids are in [0, char_vocab_size); 0 is padding.
        char_dim: size of the character embedding.
        features: F, number of convolution filters = size of the output per word.
        kernel: odd convolution width (default 3).

    Shape:
        - chars: (N, T, W) integer ids, 0 = padding.
        - output: (N, T, F); 0 for words without characters.

    Example::

        >>> CharCNN(30, 8, 16)(torch.randint(0, 30, (2, 5, 7))).shape
        torch.Size([2, 5, 16])
    """

    def __init__(self, char_vocab_size: int, char_dim: int, features: int, kernel: int = 3):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd, got {kernel}")
        self.output_size = features
        self.embedding = nn.Embedding(char_vocab_size, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, features, kernel, padding=kernel // 2)

    def _words(self, chars: Tensor) -> Tensor:
        real = chars != 0  # (M, W)
        e = self.embedding(chars).transpose(1, 2)  # (M, char_dim, W)
        h = self.conv(e)  # (M, F, W)
        h = h.masked_fill(~real.unsqueeze(1), float("-inf")).amax(dim=2)  # (M, F)
        return torch.relu(h)  # (M, F); every word here has a real character


class CharBiLSTM(_PerWord):
    """Char embedding -> BiLSTM over each word's characters -> both final states.

    Args:
        char_vocab_size: character ids are in [0, char_vocab_size); 0 is padding.
        char_dim: size of the character embedding.
        features: F, output size per word (even; F / 2 units per direction).

    Shape:
        - chars: (N, T, W) integer ids, 0 = padding, each word's characters left-aligned.
        - output: (N, T, F); 0 for words without characters.

    Example::

        >>> CharBiLSTM(30, 8, 16)(torch.randint(0, 30, (2, 5, 7))).shape
        torch.Size([2, 5, 16])
    """

    def __init__(self, char_vocab_size: int, char_dim: int, features: int):
        super().__init__()
        if features % 2:
            raise ValueError(f"features must be even (half per direction), got {features}")
        self.output_size = features
        self.embedding = nn.Embedding(char_vocab_size, char_dim, padding_idx=0)
        self.lstm = nn.LSTM(char_dim, features // 2, batch_first=True, bidirectional=True)

    def _words(self, chars: Tensor) -> Tensor:
        lengths = (chars != 0).sum(dim=1).cpu()  # (M,), all >= 1
        e = self.embedding(chars)  # (M, W, char_dim)
        packed = pack_padded_sequence(e, lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)  # h: (2, M, F / 2) in input order
        return torch.cat([h[0], h[1]], dim=1)  # (M, F)


def build_char_features(
    kind: str, char_vocab_size: int, char_dim: int, features: int, kernel: int = 3
) -> nn.Module | None:
    """``"cnn"`` -> CharCNN, ``"lstm"`` -> CharBiLSTM, ``"none"`` -> None."""
    if kind == "none":
        return None
    if kind == "cnn":
        return CharCNN(char_vocab_size, char_dim, features, kernel)
    if kind == "lstm":
        return CharBiLSTM(char_vocab_size, char_dim, features)
    raise ValueError(f"char_features must be one of none, cnn, lstm, got {kind!r}")
