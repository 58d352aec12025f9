"""The network of a model folder as an ONNX graph, for onnxruntime (``rnnseq export --onnx``).

The graph is the network alone — embeddings, character features, recurrent encoder,
(pooling,) output layer — on a padded batch; the vocabularies stay in ``vocab.json``,
and decoding (argmax, or Viterbi with ``crf.json``) runs outside. docs/EXPORT.md shows
the pre- and post-processing with onnxruntime, NumPy and json only.

Inputs (N and T are dynamic axes, and so is W)::

    tokens   (N, T)     int64   word ids from vocab.json "words"; anything at padded steps
    lengths  (N,)       int64   real steps per row, in [0, T]
    chars    (N, T, W)  int64   character ids of each word's first W <= 20 characters,
                                0 = padding (only when the model reads characters)

Output ``scores``: (N, C) logits for classify; (N, T, C) per step for tag and lm (for a
CRF tagger the emission scores). At padded steps the scores are the output layer's bias
(the encoder's output there is 0), as in PyTorch; they mean nothing.

How the graph is made. ``torch.onnx.export`` traces :class:`TraceableNetwork`, which
computes what ``TaskModel.net`` computes with the same modules and weights but without
Python that depends on the data: the encoder runs its "padded" implementation over all
T steps (``RecurrentEncoder._padded``: the backward direction reads each row reversed
within its own length), character features are computed for every word and masked, and
ids at padded steps are set to 0. The legacy TorchScript exporter (``dynamo=False``) is
used on purpose: torch 2.13's default, torch.export-based exporter specialises the time
axis of a recurrent layer to the example's length (pytorch#115092, pytorch#191855), so
its graph is wrong for other lengths; the TorchScript exporter writes ONNX ``LSTM``/
``GRU``/``RNN`` nodes whose time axis stays dynamic.

Every export is checked: onnxruntime runs the written graph on random ragged batches and
its scores must equal PyTorch's to :data:`TOLERANCE` at real steps, or the export fails.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from rnnseq.data.encoded import MAX_WORD_LEN
from rnnseq.models.char_features import CharBiLSTM, CharCNN
from rnnseq.models.classifier import SequenceClassifier
from rnnseq.models.pooling import pool
from rnnseq.serialization import ModelFolderError
from rnnseq.task_model import TaskModel

__all__ = [
    "OPSET",
    "TOLERANCE",
    "OnnxCheck",
    "TraceableNetwork",
    "check_onnx",
    "crf_tables",
    "export_onnx",
    "graph_inputs",
    "random_batch",
    "require_onnx",
]

OPSET = 17  # ONNX operator set: LSTM/GRU/RNN since 7; onnxruntime >= 1.11 runs it
TOLERANCE = 1e-4  # largest |onnxruntime - PyTorch| accepted at a real step
# (N, T, W) of the batches every export is checked on: one step, wider than the
# example, and longer than it (the example is 3 x 5 x 4).
CHECK_SHAPES = ((1, 1, 1), (4, 9, 6), (7, 3, MAX_WORD_LEN), (2, 31, 3))
INSTALL_HINT = "pip install 'rnnseq[onnx]' (the packages onnx and onnxruntime)"


def require_onnx() -> None:
    """Raise a one-line ModelFolderError when onnx or onnxruntime is not installed."""
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise ModelFolderError(f"--onnx needs {' and '.join(missing)}: {INSTALL_HINT}")


# ---------------------------------------------------------------- the traced network


class TraceableNetwork(nn.Module):
    """``TaskModel.net`` as a function of (tokens, lengths[, chars]) that traces to a
    graph valid for every N, T and W: the network's own modules (shared, not copied),
    no validation, no branch on the data.

    Shape:
        - tokens: (N, T) int64; lengths: (N,) int64 in [0, T]; chars: (N, T, W) int64.
        - output: (N, C) (classifier) or (N, T, C) (tagger, language model).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.pooled = isinstance(net, SequenceClassifier)
        self.chars = _traceable_chars(net.embedder.chars)

    @property
    def reads_chars(self) -> bool:
        return self.chars is not None

    def forward(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None) -> Tensor:
        net = self.net
        n, t = tokens.shape
        real = torch.arange(t, device=tokens.device).unsqueeze(0) < lengths.unsqueeze(1)  # (N, T)
        tokens = tokens.masked_fill(~real, 0)  # (N, T): padding reads the zero vector
        x = net.embedder.word(tokens)  # (N, T, E)
        if self.chars is not None:
            chars = chars.masked_fill(~real.unsqueeze(2), 0)  # (N, T, W)
            x = torch.cat([x, self.chars(chars)], dim=2)  # (N, T, E + F)
        y, _ = net.encoder._padded(x, lengths, None)  # (N, T, H_out), 0 at padding
        if self.pooled:
            v = pool(y, lengths, net.config.pooling, net.encoder.directions)  # (N, H_out)
            return net.output(v)  # (N, C)
        return net.output(y)  # (N, T, C)


def _traceable_chars(module: nn.Module | None) -> nn.Module | None:
    if module is None:
        return None
    if isinstance(module, CharCNN):
        return _AllWordsCNN(module)
    if isinstance(module, CharBiLSTM):
        return _AllWordsBiLSTM(module)
    raise ModelFolderError(f"no ONNX export for character features {type(module).__name__}")


class _AllWordsCNN(nn.Module):
    """CharCNN on every word: f = relu(max over real characters of the convolution).

    A word without characters has max -inf, so relu gives 0, as CharCNN's 0 for it.
    Shape: chars (N, T, W) -> (N, T, F).
    """

    def __init__(self, cnn: CharCNN) -> None:
        super().__init__()
        self.cnn = cnn

    def forward(self, chars: Tensor) -> Tensor:
        n, t, w = chars.shape
        flat = chars.reshape(n * t, w)  # (M, W), M = N*T
        real = flat != 0  # (M, W)
        e = self.cnn.embedding(flat).transpose(1, 2)  # (M, char_dim, W)
        h = self.cnn.conv(e).masked_fill(~real.unsqueeze(1), float("-inf"))  # (M, F, W)
        f = torch.relu(h.amax(dim=2))  # (M, F)
        return f.reshape(n, t, self.cnn.output_size)  # (N, T, F)


class _AllWordsBiLSTM(nn.Module):
    """CharBiLSTM on every word, padded instead of packed.

    f = [h_forward after the last real character; h_backward after the first], the
    backward direction reading each word reversed within its own length (as the word
    encoder's "padded" implementation does). The two directions run as one-direction
    LSTMs holding copies of the BiLSTM's weights. A word without characters gets 0.
    Shape: chars (N, T, W) -> (N, T, F).
    """

    def __init__(self, lstm: CharBiLSTM) -> None:
        super().__init__()
        self.embedding = lstm.embedding
        self.output_size = lstm.output_size
        source = lstm.lstm
        size, hidden = source.input_size, source.hidden_size
        self.forward_lstm = nn.LSTM(size, hidden, batch_first=True)
        self.backward_lstm = nn.LSTM(size, hidden, batch_first=True)
        names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        with torch.no_grad():
            for name in names:
                getattr(self.forward_lstm, name).copy_(getattr(source, name))
                getattr(self.backward_lstm, name).copy_(getattr(source, name + "_reverse"))

    def forward(self, chars: Tensor) -> Tensor:
        n, t, w = chars.shape
        flat = chars.reshape(n * t, w)  # (M, W)
        real = flat != 0  # (M, W)
        count = real.sum(dim=1)  # (M,) characters per word
        steps = torch.arange(w, device=chars.device).unsqueeze(0)  # (1, W)
        # rev[m, k] = count_m - 1 - k on real characters, k on padding (an involution).
        rev = torch.where(real, count.unsqueeze(1) - 1 - steps, steps)  # (M, W)
        e = self.embedding(flat)  # (M, W, D)
        last = (count - 1).clamp(min=0).view(-1, 1, 1)  # (M, 1, 1)
        out, _ = self.forward_lstm(e)  # (M, W, H)
        h_forward = out.gather(1, last.expand(-1, 1, out.shape[2])).squeeze(1)  # (M, H)
        flipped = e.gather(1, rev.unsqueeze(2).expand(-1, -1, e.shape[2]))  # (M, W, D)
        out, _ = self.backward_lstm(flipped)  # (M, W, H)
        h_backward = out.gather(1, last.expand(-1, 1, out.shape[2])).squeeze(1)  # (M, H)
        f = torch.cat([h_forward, h_backward], dim=1)  # (M, F)
        f = f.masked_fill((count == 0).unsqueeze(1), 0.0)  # (M, F)
        return f.reshape(n, t, self.output_size)  # (N, T, F)


# ---------------------------------------------------------------- inputs


def graph_inputs(model: TaskModel) -> list[str]:
    """The graph's input names, in order: tokens, lengths (and chars)."""
    reads_chars = model.net.embedder.chars is not None
    return ["tokens", "lengths", *(["chars"] if reads_chars else [])]


def random_batch(
    model: TaskModel, n: int, t: int, w: int, generator: torch.Generator
) -> dict[str, Tensor]:
    """A ragged batch of valid ids: the first row fills all T steps, the others have
    random lengths in [0, T] (a row of 0 steps included when N >= 3); each word has 1 to
    W characters. Padded steps hold random ids (they must not matter)."""
    config = model.config
    lengths = torch.randint(0, t + 1, (n,), generator=generator)  # (N,)
    lengths[0] = t
    if n >= 3:
        lengths[-1] = 0
    tokens = torch.randint(1, config.vocab_size, (n, t), generator=generator)  # (N, T)
    batch = {"tokens": tokens, "lengths": lengths}
    if model.net.embedder.chars is not None:
        chars = torch.randint(1, config.char_vocab_size, (n, t, w), generator=generator)
        count = torch.randint(1, w + 1, (n, t, 1), generator=generator)  # (N, T, 1)
        chars = chars.masked_fill(torch.arange(w) >= count, 0)  # (N, T, W) left-aligned
        batch["chars"] = chars
    return batch


# ---------------------------------------------------------------- export and check


@dataclass
class OnnxCheck:
    """How far onnxruntime's scores were from PyTorch's on the check batches."""

    max_abs_diff: float  # at real steps (classify: every row)
    max_abs_diff_padding: float  # at padded steps (tag, lm), 0.0 for classify
    shapes: list[tuple[int, int, int]]  # the (N, T, W) checked

    def to_dict(self) -> dict:
        return {
            "max_abs_diff": self.max_abs_diff,
            "max_abs_diff_padding": self.max_abs_diff_padding,
            "tolerance": TOLERANCE,
            "batches": [list(s) for s in self.shapes],
        }


def export_onnx(
    model: TaskModel, path: str | Path, *, metadata: dict[str, str] | None = None
) -> OnnxCheck:
    """Write ``model``'s network to ``path`` as ONNX and check it under onnxruntime.

    Args:
        model: a loaded TaskModel (eval mode, CPU).
        path: the .onnx file to write (weights inside the file).
        metadata: strings stored in the graph's ``metadata_props``.

    Raises:
        ModelFolderError: onnx or onnxruntime missing, or the graph's scores differ from
            PyTorch's by more than :data:`TOLERANCE` at a real step.
    """
    require_onnx()
    import onnx

    path = Path(path)
    model = model.cpu().eval()
    net = TraceableNetwork(model.net).eval()
    names = graph_inputs(model)
    example = random_batch(model, 3, 5, 4, torch.Generator().manual_seed(0))
    axes = {
        "tokens": {0: "batch", 1: "length"},
        "lengths": {0: "batch"},
        "chars": {0: "batch", 1: "length", 2: "word_length"},
    }
    output_axes = {0: "batch"} if net.pooled else {0: "batch", 1: "length"}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter is deprecated (see the module docstring for why it is
        # used), and warns that an LSTM without h0 inputs may fail for other batch sizes:
        # the check below runs batches of 1 to 7 rows.
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                net,
                tuple(example[name] for name in names),
                str(path),
                dynamo=False,
                opset_version=OPSET,
                input_names=names,
                output_names=["scores"],
                dynamic_axes={**{name: axes[name] for name in names}, "scores": output_axes},
            )
        except Exception as e:  # a torch without the TorchScript exporter, an unknown op
            message = " ".join(str(e).split())[:200]
            raise ModelFolderError(
                f"torch {torch.__version__} could not export the network to ONNX: {message}"
            ) from None
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    for key, value in (metadata or {}).items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(path))
    check = check_onnx(model, path)
    if not check.max_abs_diff <= TOLERANCE:
        raise ModelFolderError(
            f"{path}: onnxruntime's scores differ from PyTorch's by {check.max_abs_diff:.3g} "
            f"at a real step (tolerance {TOLERANCE}); the graph was not kept"
        )
    return check


def check_onnx(model: TaskModel, path: str | Path, shapes=CHECK_SHAPES, seed: int = 0) -> OnnxCheck:
    """Run the graph at ``path`` under onnxruntime on random ragged batches of ``shapes``
    (N, T, W) and compare with ``model.scores`` (what rnnseq's predict and evaluate use)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    real_diff = pad_diff = 0.0
    for n, t, w in shapes:
        batch = random_batch(model, n, t, w, generator)
        got = torch.from_numpy(session.run(None, {k: v.numpy() for k, v in batch.items()})[0])
        want = reference_scores(model, batch)
        diff = (got - want).abs()  # (N, C) or (N, T, C)
        if diff.dim() == 2:
            real_diff = max(real_diff, float(diff.max()))
            continue
        real = torch.arange(t).unsqueeze(0) < batch["lengths"].unsqueeze(1)  # (N, T)
        real_diff = max(real_diff, float(diff[real].max()) if real.any() else 0.0)
        if (~real).any():
            pad_diff = max(pad_diff, float(diff[~real].max()))
    return OnnxCheck(real_diff, pad_diff, [tuple(s) for s in shapes])


@torch.no_grad()
def reference_scores(model: TaskModel, batch: dict[str, Tensor]) -> Tensor:
    """PyTorch's scores for a batch of :func:`random_batch`, as rnnseq computes them."""
    from rnnseq.data import Batch

    b = Batch(batch["tokens"], batch["lengths"], None, batch.get("chars"), [])
    scores, _ = model.scores(b)
    return scores.float()


def manifest(model: TaskModel, schemes, check: OnnxCheck, *, crf_file: str | None) -> dict:
    """onnx.json: what the graph reads and writes and how its scores become labels."""
    pooled = isinstance(model.net, SequenceClassifier)
    inputs = {
        "tokens": {
            "shape": ["batch", "length"],
            "dtype": "int64",
            "meaning": 'ids from vocab.json "words", 0 = padding (any id at padded '
            "steps is read as 0)",
        },
        "lengths": {
            "shape": ["batch"],
            "dtype": "int64",
            "meaning": "real steps of each row, in [0, length]",
        },
        "chars": {
            "shape": ["batch", "length", "word_length"],
            "dtype": "int64",
            "meaning": f'ids from vocab.json "chars" of each word\'s first '
            f"{MAX_WORD_LEN} characters, left-aligned, 0 = padding",
        },
    }
    num_labels = model.config.num_labels
    if pooled:
        output = {
            "shape": ["batch", num_labels],
            "meaning": 'logits over vocab.json "labels" (softmax gives probabilities)',
        }
    else:
        what = "emission scores of the CRF" if model.crf is not None else "logits"
        output = {
            "shape": ["batch", "length", num_labels],
            "meaning": f'{what} over vocab.json "labels" at every step; padded steps '
            "hold the output bias and mean nothing",
        }
    if model.crf is not None:
        decode = (
            f"Viterbi over each row's real steps with the start, transitions and end "
            f'scores of {crf_file}; the ids are tags of vocab.json "labels"'
        )
    else:
        decode = 'argmax over the last axis; the id is a label of vocab.json "labels"'
    if schemes.source is not None and schemes.learned != schemes.source:
        decode += (
            f"; the tags are in {schemes.learned}: rewrite each sentence's tags into "
            f"{schemes.source}, the training file's scheme, as rnnseq predict does"
        )
    names = graph_inputs(model)
    return {
        "file": "model.onnx",
        "opset": OPSET,
        "inputs": {name: inputs[name] for name in names},
        "output": {"name": "scores", "dtype": "float32", **output},
        "decode": decode,
        "crf": crf_file,
        "padding_id": 0,
        "unk_id": 1,
        "max_word_length": MAX_WORD_LEN,
        "tag_scheme": schemes.to_dict(),
        "check": check.to_dict(),
    }


def crf_tables(model: TaskModel) -> dict | None:
    """A CRF tagger's transition scores for Viterbi outside the graph (None without a
    CRF): start (C,), transitions (C, C) [from tag i to tag j], end (C,), with every move
    the tag scheme forbids at ``forbidden`` (-1e30), as rnnseq's own decoding uses them."""
    from rnnseq.crf import FORBIDDEN

    crf = model.crf
    if crf is None:
        return None
    tables = [crf.start_transitions, crf.transitions, crf.end_transitions]
    allowed = crf.constraints
    if allowed is not None:
        tables = [torch.where(a, s, FORBIDDEN) for s, a in zip(tables, allowed, strict=True)]
    start, transitions, end = (t.detach().double().tolist() for t in tables)
    return {"start": start, "transitions": transitions, "end": end, "forbidden": FORBIDDEN}
