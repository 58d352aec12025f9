"""The model card: a README.md that tells a reader what an exported model is.

:func:`render_card` turns the facts :mod:`rnnseq.export` gathers (:class:`CardFacts`)
into plain Markdown: the task and labels, how to use the folder, the network, the
training data and the command that trained it, dev and test scores, the files and the
versions. The option tables and the command are generated from the option declarations
(:data:`rnnseq.training.config.SECTIONS`), so the card names every option as
``rnnseq train`` does and never restates a list of them.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field
from typing import Any

from rnnseq.data.encoded import MAX_WORD_LEN
from rnnseq.models import ModelConfig
from rnnseq.options import applies, flag, spec_of
from rnnseq.preprocess import SchemeMap, Vocabularies
from rnnseq.tag_schemes import span_types
from rnnseq.tasks import REGISTRY
from rnnseq.tasks.base import Task
from rnnseq.train_command import train_command
from rnnseq.training.config import SECTIONS, TrainConfig

__all__ = ["CardFacts", "DataFile", "render_card"]

_LABELS_SHOWN = 60  # labels listed on the card before "... (N in all)"


# ---------------------------------------------------------------- the facts


@dataclass
class DataFile:
    """A data file of the run as found at export time."""

    role: str  # "training data", "dev data", "test data"
    recorded: str  # the path as the run (or --test) gave it
    size: int | None = None  # bytes; None: not found at export time
    sha256: str | None = None


@dataclass
class CardFacts:
    """Everything the card says, gathered by :func:`rnnseq.export.export_folder`."""

    folder_name: str
    task: Task
    config: TrainConfig  # the run's resolved options
    network: ModelConfig
    schemes: SchemeMap
    vocabs: Vocabularies
    parameters: int
    has_crf: bool
    metrics: dict | None  # metrics.json, None when the folder has none
    dev_scores: dict[str, float]  # dev_ keys without the prefix; {} without dev
    dev_epoch: int | None
    test_scores: dict | None  # rnnseq evaluate's keys; None: not measured
    data_files: list[DataFile]  # training (and dev) data
    test_file: DataFile | None  # --test
    files: dict[str, int]  # file name -> bytes, in the exported folder
    versions: dict[str, str]  # "rnnseq (training)", "rnnseq (export)", "torch", ...
    format_version: int
    date: str  # ISO date of the export
    onnx: dict | None = None  # onnx.json's content, with --onnx
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- rendering


def render_card(f: CardFacts) -> str:
    """The README.md of an exported folder (plain Markdown, no HTML)."""
    parts = [
        _title(f),
        _labels(f),
        _usage(f),
        _network(f),
        _training(f),
        _scores(f),
    ]
    if f.onnx is not None:
        parts.append(_onnx(f))
    parts += [_files(f), _versions(f)]
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


def _title(f: CardFacts) -> str:
    what = REGISTRY[f.task.name][2]
    net = f.network
    direction = "bidirectional" if net.bidirectional else "left-to-right"
    return (
        f"# {f.folder_name}: an rnnseq {f.task.name} model\n\n"
        f"Task `{f.task.name}`: {what}. A {direction} {net.cell.upper()} network "
        f"({_count(f.parameters)} parameters) trained with rnnseq "
        f"{f.versions.get('rnnseq (training)', 'unknown')} on `{_name(f.config.train)}`; "
        f"exported on {f.date}."
    )


def _labels(f: CardFacts) -> str:
    labels = f.vocabs.labels.tokens
    lines = ["## Labels", ""]
    words = f.vocabs.words
    if f.schemes.source is not None:
        types = span_types(labels)
        lines.append(f"Entity types ({len(types)}): {', '.join(types)}.")
        lines.append("")
        learned = f.schemes.learned
        how = "" if learned == f.schemes.source else f" (the model learned them as {learned})"
        lines.append(
            f"The model writes span tags in {f.schemes.source}, the scheme of its training "
            f"file{how}. Its {len(labels)} tags in the learned scheme, in id order:"
        )
    else:
        lines.append(f"{len(labels)} labels, in id order:")
    lines += ["", _listed([f"`{t}`" for t in labels]), ""]
    lowercase = " (lowercased before lookup)" if words.lowercase else ""
    lines.append(
        f"Input vocabulary: {_count(len(words))} entries{lowercase}, `<pad>` = 0 and "
        "`<unk>` = 1 first; an input not in it reads as `<unk>`."
    )
    if f.vocabs.chars is not None:
        lines.append(
            f"Character vocabulary: {_count(len(f.vocabs.chars))} entries (the first "
            f"{MAX_WORD_LEN} characters of each word are read)."
        )
    lines.append("All vocabularies are in `vocab.json`.")
    return "\n".join(lines)


def _usage(f: CardFacts) -> str:
    folder = shlex.quote(f.folder_name)
    lines = [
        "## Use",
        "",
        "With rnnseq installed (`pip install rnnseq`):",
        "",
        "```",
        f"rnnseq predict --model {folder} input.txt",
        f"rnnseq evaluate --model {folder} --data labelled-file",
        "```",
        "",
        "or in Python:",
        "",
        "```python",
        "import rnnseq",
        f"model = rnnseq.load({f.folder_name!r})",
        "predictions = model.predict(texts)  # one prediction per input text",
        "```",
    ]
    if f.onnx is not None:
        lines += ["", "Without rnnseq, with onnxruntime: see *ONNX graph* below."]
    return "\n".join(lines)


def _network(f: CardFacts) -> str:
    net = f.network
    rows = [
        (
            "encoder",
            f"{net.cell.upper()}, {net.layers} layer(s), "
            f"{'both directions' if net.bidirectional else 'left to right'}, "
            f"{net.hidden} units per direction",
        ),
        ("word embeddings", f"{net.vocab_size} x {net.embedding_dim}"),
    ]
    if net.char_features != "none":
        rows.append(
            (
                "character features",
                f"{net.char_features.upper()} over the first {MAX_WORD_LEN} "
                f"characters: {net.char_vocab_size} x {net.char_dim} character embeddings, "
                f"{net.char_hidden} features per word",
            )
        )
    output = f"linear, {net.encoder_output_size} -> {net.num_labels}"
    if f.has_crf:
        output += "; then a linear-chain CRF (transition scores, Viterbi decoding)"
    rows += [("output", output), ("parameters", _count(f.parameters))]
    table = _table(("part", "value"), rows)
    options = _options_table(f, "model")
    return f"## Network\n\n{table}\n\nThe model options of the run:\n\n{options}"


def _training(f: CardFacts) -> str:
    lines = ["## Training", "", "Data:", ""]
    lines += [f"- {d.role}: {_file_line(d)}" for d in f.data_files]
    if f.config.data.holdout:
        lines.append(
            f"- dev data: the last {f.config.data.holdout:.0%} of the training file (`--holdout`)"
        )
    elif f.config.dev is None:
        lines.append("- dev data: none (the last epoch's weights were kept)")
    if f.test_file is not None:
        lines.append(f"- test data: {_file_line(f.test_file)}")
    command = train_command(f.config)
    lines += [
        "",
        "Command (reconstructed from the options recorded in `config.json`; only "
        "those that differ from the defaults):",
        "",
        "```",
        command.shell(),
        "```",
    ]
    if command.api_only:
        given = ", ".join(f"{k}={v!r}" for k, v in command.api_only.items())
        lines += ["", f"Set through the Python API (no command-line flag): `{given}`."]
    if command.resumed:
        lines += ["", "The run was continued with `--resume` at least once."]
    m = f.metrics or {}
    epochs = m.get("epochs") or []
    if epochs:
        done = (
            f"{len(epochs)} epoch(s), {m.get('steps', '?')} optimizer steps, "
            f"{m.get('train_seconds', '?')} s on {m.get('processes', 1)} process(es)"
        )
        lines += [
            "",
            f"Trained {done}; the kept weights are epoch {f.dev_epoch or epochs[-1]['epoch']}'s.",
        ]
    loss = f.config.objective.label(f.task.per_step)
    lines += ["", f"Loss: {loss}. The options of the run:", ""]
    for section in ("data", "objective", "training"):
        lines += [_options_table(f, section), ""]
    return "\n".join(lines)


def _scores(f: CardFacts) -> str:
    unit = "token" if f.task.loss_unit == "step" else f.task.loss_unit
    names = {
        "loss": f"loss (nats per {unit})",
        "accuracy": "accuracy",
        "macro_f1": "macro-F1",
        "span_f1": "span F1 (type and both boundaries exact, as conlleval)",
        "span_precision": "span precision",
        "span_recall": "span recall",
        "perplexity": "perplexity",
        "n_examples": "examples",
        "n_tokens": "tokens scored",
    }
    test = f.test_scores or {}
    keys = [k for k in names if k in f.dev_scores or k in test]
    # Other numbers rnnseq evaluate may report; "objective" is the training loss on dev,
    # on the training loss's scale (metrics.json keeps it), not an evaluation score.
    keys += sorted(
        k
        for k in {*f.dev_scores, *test} - set(names) - {"objective"}
        if _is_number(f.dev_scores.get(k, test.get(k)))
    )
    lines = ["## Scores", ""]
    if not keys:
        lines.append("No dev data and no test file: not measured.")
        return "\n".join(lines)
    not_measured = "not measured"
    rows = [
        (
            names.get(k, k),
            _number(f.dev_scores.get(k), not_measured),
            _number(test.get(k), not_measured) if f.test_scores is not None else not_measured,
        )
        for k in keys
    ]
    lines.append(_table(("metric", "dev", "test"), rows))
    lines.append("")
    if f.dev_scores:
        dev = (f.metrics or {}).get("dev") or _name(f.config.dev or "")
        lines.append(f"Dev: `{dev}`, epoch {f.dev_epoch}, scored by the training run.")
    else:
        lines.append("Dev: not measured (the run had no dev data).")
    if f.test_scores is None:
        lines.append(
            "Test: not measured (`rnnseq export --test FILE` scores a test file, as "
            "`rnnseq evaluate` does)."
        )
    else:
        lines.append(
            f"Test: `{_name(f.test_file.recorded)}`, scored at export time as "
            "`rnnseq evaluate` scores it."
        )
        per_type = test.get("per_type")
        if per_type:
            rows = [
                (
                    t,
                    _number(s["precision"]),
                    _number(s["recall"]),
                    _number(s["f1"]),
                    str(s["support"]),
                )
                for t, s in per_type.items()
            ]
            lines += [
                "",
                "Test spans per type:",
                "",
                _table(("type", "precision", "recall", "F1", "support"), rows),
            ]
    return "\n".join(lines)


def _onnx(f: CardFacts) -> str:
    o = f.onnx
    inputs = "\n".join(
        f"- `{name}` {' x '.join(spec['shape'])} {spec['dtype']}: {spec['meaning']}"
        for name, spec in o["inputs"].items()
    )
    out = o["output"]
    check = o["check"]
    lines = [
        "## ONNX graph",
        "",
        f"`{o['file']}` (ONNX opset {o['opset']}) is the network alone, on a padded batch "
        "with dynamic batch and length axes. `onnx.json` describes it.",
        "",
        "Inputs:",
        "",
        inputs,
        "",
        f"Output `{out['name']}` {' x '.join(str(d) for d in out['shape'])} float32: "
        f"{out['meaning']}",
        "",
        "Pre-processing: look each token up in `vocab.json` `words` (lowercased first "
        "when its `lowercase` is true; tried lowercased when missing and its "
        "`lowercase_fallback` is true; unknown -> 1, `<unk>`) and pad the rows with 0 to the "
        f"longest; characters likewise in `chars` (the first {MAX_WORD_LEN} of each word, "
        "unknown -> 1, padding 0).",
        f"Post-processing: {o['decode']}.",
        "",
        f"Checked at export: onnxruntime {f.versions.get('onnxruntime', '?')} gave PyTorch's "
        f"scores to {check['max_abs_diff']:.2g} (largest absolute difference at a real "
        f"step; tolerance {check['tolerance']:g}) on {len(check['batches'])} random "
        "ragged batches.",
    ]
    return "\n".join(lines)


def _files(f: CardFacts) -> str:
    what = {
        "README.md": "this card",
        "config.json": "task, sizes, tag schemes and the run's options (format "
        f"{f.format_version})",
        "vocab.json": "word, label and character vocabularies",
        "model.safetensors": "the weights (safetensors)",
        "metrics.json": "per-epoch losses and dev scores, the best epoch",
        "loss_curve.png": "train and dev loss per epoch",
        "model.onnx": "the network as an ONNX graph",
        "onnx.json": "the ONNX graph's inputs, outputs and decoding",
        "crf.json": "the CRF's transition scores, for Viterbi decoding outside the graph",
    }
    rows = [(f"`{name}`", what.get(name, ""), _count(size)) for name, size in f.files.items()]
    return (
        "## Files\n\n"
        + _table(("file", "what", "bytes"), rows)
        + ("\n\nThe folder holds no training state: `rnnseq train --resume` cannot continue it.")
    )


def _versions(f: CardFacts) -> str:
    rows = [(k, v) for k, v in f.versions.items()]
    rows.append(("model folder format", str(f.format_version)))
    rows.append(("export date", f.date))
    return "## Versions\n\n" + _table(("what", "version"), rows)


# ---------------------------------------------------------------- helpers


def _options_table(f: CardFacts, section: str) -> str:
    """Every option of ``section`` that applies to the task (and whose required options
    hold), with its value and help line; options of a session (epochs, device, ...) are
    in the command, not here."""
    config = f.config
    values = config.options()
    part = getattr(config, section)
    rows = []
    for fld in dataclasses.fields(SECTIONS[section][0]):
        spec = spec_of(fld)
        if spec.session or not applies(spec, config.task):
            continue
        if any(values.get(o) not in allowed for o, allowed in spec.requires.items()):
            continue
        value = getattr(part, fld.name)
        shown = flag(fld.name) if spec.cli else f"{fld.name} (Python API)"
        rows.append((f"`{shown}`", f"`{_value(value)}`", _text(spec.help)))
    title = SECTIONS[section][1]
    return _table((f"{title} option", "value", "meaning"), rows)


def _file_line(d: DataFile) -> str:
    if d.size is None:
        return f"`{_name(d.recorded)}` (file not found at export time)"
    return f"`{_name(d.recorded)}`, {_count(d.size)} bytes, SHA-256 `{d.sha256}`"


def _text(text: str) -> str:
    """Prose for a Markdown cell: '<' and '>' escaped, so ``<unk>`` is not read as HTML."""
    return text.replace("<", "\\<").replace(">", "\\>")


def _name(path: str) -> str:
    """The file name of a recorded path (the full path is in config.json)."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or path


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _number(value: Any, missing: str = "") -> str:
    if value is None:
        return missing
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return _count(value)
    return f"{value:.4f}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(n: int) -> str:
    return f"{n:,}"


def _listed(items: list[str]) -> str:
    more = f", ... ({len(items)} in all)" if len(items) > _LABELS_SHOWN else ""
    return ", ".join(items[:_LABELS_SHOWN]) + more


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A Markdown table; '|' in a cell is escaped."""

    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)])
