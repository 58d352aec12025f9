from __future__ import annotations

import pytest
import torch

from rnnseq.models import CharBiLSTM, CharCNN

KINDS = {"cnn": lambda: CharCNN(12, 4, 6, kernel=3), "lstm": lambda: CharBiLSTM(12, 4, 6)}


def _chars(seed=0):
    g = torch.Generator().manual_seed(seed)
    word_len = torch.tensor([[3, 0, 5], [1, 0, 0]])  # (N=2, T=3): three empty words
    real = torch.arange(5) < word_len.unsqueeze(2)  # (2, 3, 5)
    return torch.randint(1, 12, (2, 3, 5), generator=g) * real, word_len


@pytest.mark.parametrize("kind", KINDS)
def test_char_features_have_shape_n_t_f_and_zero_for_empty_words(kind):
    torch.manual_seed(0)
    module = KINDS[kind]()
    chars, word_len = _chars()
    f = module(chars)
    assert f.shape == (2, 3, 6)
    assert (f[word_len == 0] == 0).all()
    f.sum().backward()
    for p in module.parameters():
        assert torch.isfinite(p.grad).all()


@pytest.mark.parametrize("kind", KINDS)
def test_a_batch_of_only_empty_words_gives_zeros(kind):
    module = KINDS[kind]()
    f = module(torch.zeros(2, 4, 3, dtype=torch.long))
    assert f.shape == (2, 4, 6) and (f == 0).all()


@pytest.mark.parametrize("kind", KINDS)
def test_word_features_do_not_depend_on_batch_or_padding_width(kind):
    torch.manual_seed(0)
    module = KINDS[kind]()
    chars, _ = _chars()
    wide = torch.nn.functional.pad(chars, (0, 4))  # more padding characters
    torch.testing.assert_close(module(wide), module(chars))
    alone = module(chars[:1, :1])  # the first word on its own
    torch.testing.assert_close(alone[0, 0], module(chars)[0, 0])


def test_char_cnn_is_relu_of_max_over_real_characters():
    torch.manual_seed(0)
    module = CharCNN(12, 4, 6, kernel=3)
    word = torch.tensor([[[5, 7, 2, 0, 0]]])
    e = module.embedding(word[0]).transpose(1, 2)  # (1, 4, 5)
    h = module.conv(e)[:, :, :3]  # windows centred on the 3 real characters
    torch.testing.assert_close(module(word)[0, 0], torch.relu(h.amax(dim=2))[0])


def test_char_bilstm_gives_final_states_of_both_directions():
    torch.manual_seed(0)
    module = CharBiLSTM(12, 4, 6)
    word = torch.tensor([[[5, 7, 2, 0, 0]]])
    e = module.embedding(word[0, :, :3])  # (1, 3, 4): real characters only
    out, _ = module.lstm(e)  # (1, 3, 6)
    want = torch.cat([out[0, -1, :3], out[0, 0, 3:]])
    torch.testing.assert_close(module(word)[0, 0], want)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="kernel"):
        CharCNN(12, 4, 6, kernel=2)
    with pytest.raises(ValueError, match="features"):
        CharBiLSTM(12, 4, 5)
    with pytest.raises(ValueError, match="chars"):
        CharCNN(12, 4, 6)(torch.zeros(2, 3, dtype=torch.long))
