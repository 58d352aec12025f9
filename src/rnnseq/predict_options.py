"""The options of ``rnnseq evaluate``, ``predict`` and ``explain``, each declared once.

Each section is a dataclass whose fields are made with :func:`rnnseq.options.option`;
the command-line arguments are generated from them (:func:`add_command_arguments`),
and an option that does not apply to the loaded model's task is refused once the
model is loaded (:func:`check_for_task`), with the option named as a flag on the
command line and as a field in Python.

=============  ============================================  ==========================
section        options                                       commands
=============  ============================================  ==========================
ModelUse       --model --device --batch-size --threads       evaluate, predict, explain
Engine         --engine                                      predict
Reading        --format --column                             evaluate, predict
Tokens         --pretokenized                                predict, explain
Evaluation     --data --confusion --errors                   evaluate
Explaining     --text --labels                               explain
JsonReport     --json                                        evaluate, explain
PredictOutput  --output --top-k --max-tokens --bf16          predict
Generation     --max-new --temperature --seed --stop         predict (lm)
=============  ============================================  ==========================
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any

from rnnseq.options import (
    OptionError,
    Per,
    add_arguments,
    applies,
    check_value,
    default_value,
    integer,
    number,
    option,
    spec_of,
)

__all__ = [
    "DEVICES",
    "BATCH_SIZE",
    "ModelUse",
    "ENGINES",
    "Engine",
    "Reading",
    "Tokens",
    "Evaluation",
    "Explaining",
    "JsonReport",
    "PredictOutput",
    "Generation",
    "PredictSettings",
    "unescape",
    "COMMANDS",
    "add_command_arguments",
    "sections_from",
    "check_values",
    "check_for_task",
    "check_device",
]

DEVICES = ("auto", "cpu", "cuda")
ENGINES = ("auto", "torch", "onnx")  # what runs the network (rnnseq.onnx_engine.choose)
FORMAT_NAMES = ("conllu", "conll", "tsv", "csv", "jsonl", "text")  # rnnseq.data.FORMATS


def _path(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise OptionError("{0} must name a path", name)


def check_device(name: str, value: Any) -> None:
    """auto, cpu, cuda or cuda:N (a torch.device is accepted too)."""
    text = str(value)
    index = text.removeprefix("cuda:")
    if text in DEVICES or (text.startswith("cuda:") and index.isdigit()):
        return
    raise OptionError(f"{{0}} must be one of {', '.join(DEVICES)} (or cuda:N), got {value!r}", name)


@dataclass(kw_only=True)
class ModelUse:
    """Which model, and where it runs."""

    model: str = option(
        None, "model folder written by rnnseq train", metavar="DIR", check=_path, required=True
    )
    # The same default as rnnseq train's --device, rnnseq.load and Predictor.load.
    device: str = option(
        "auto",
        "where the model runs: auto (a CUDA GPU when torch sees one, else the CPU), cpu, cuda",
        check=check_device,
        metavar="DEVICE",
    )
    batch_size: int = option(128, "inputs (or windows of a long input) per batch",
                             check=integer(1))  # fmt: skip
    threads: int | None = option(
        None,
        "CPU threads for torch (or onnxruntime) (default: the library's choice, one per core)",
        check=integer(1),
    )


@dataclass(kw_only=True)
class Engine:
    """What runs the network for predict."""

    engine: str = option(
        "auto",
        "auto: onnxruntime when the model folder holds the ONNX graph (rnnseq export --onnx), "
        "onnxruntime is installed and the model is a tagger or classifier run on the CPU "
        "without --bf16, so torch is never imported and one line is answered in about a "
        "second; else torch. torch: always torch. onnx: onnxruntime, or an error saying why "
        "not. Both write the same output (onnxruntime computes in float32, as --no-bf16)",
        choices=ENGINES,
    )


@dataclass(kw_only=True)
class Reading:
    """How a labelled file is read."""

    format: str | None = option(
        None,
        "format of a labelled FILE (default: from the file name, else the content); predict "
        "reads raw text lines without it",
        choices=FORMAT_NAMES,
    )
    column: str | None = option(
        None,
        "CoNLL-U field or CoNLL column with the tags, or the label column named in a TSV/CSV "
        "header (default: the model's training column for CoNLL-U and CoNLL files)",
        metavar="C",
        tasks=("classify", "tag"),
    )


@dataclass(kw_only=True)
class Tokens:
    """How a raw text line becomes tokens."""

    pretokenized: bool | None = option(
        None,
        "the text is already tokenized: split it on whitespace only; --no-pretokenized: "
        "tokenize raw text with the built-in UD/PTB tokenizer (default: tokenize for tag, "
        "whose training files hold tokens; whitespace for classify, whose training texts are "
        "split on whitespace; labelled files keep their own tokens)",
        tasks=("classify", "tag"),
        default=Per("task", {"tag": False, "classify": True}),
    )


@dataclass(kw_only=True)
class Evaluation:
    """What evaluate reads and writes besides the scores."""

    data: str = option(None, "labelled data to score", metavar="FILE", check=_path,
                       required=True)  # fmt: skip
    confusion: str | None = option(
        None,
        "also draw the confusion matrix (gold rows, predicted columns) as a PNG",
        metavar="FILE.png",
        check=_path,
        tasks=("classify", "tag"),
    )
    errors: str | None = option(
        None,
        "also write every wrongly labelled example, gold and predicted side by side",
        metavar="FILE",
        check=_path,
        tasks=("classify", "tag"),
    )


@dataclass(kw_only=True)
class Explaining:
    """The one input explain shows."""

    text: str = option(None, "the input (tag: raw text, tokenized as predict does)",
                       required=True)  # fmt: skip
    labels: str | None = option(
        None, "true labels: one per token (tag), one label (classify)", tasks=("classify", "tag")
    )


@dataclass(kw_only=True)
class JsonReport:
    json: bool = option(False, "print one JSON object")


@dataclass(kw_only=True)
class PredictOutput:
    """What predict writes for each input."""

    output: str = option(
        "tsv",
        "tsv: classify a label per line, tag a token<TAB>tag line per token and a blank line "
        "per input, lm the continuation on one line; jsonl: one JSON object per input with "
        "the probabilities (and, for span tags, the entities with character offsets); "
        "conllu (tag): the CoNLL-U input with the predicted column filled in",
        choices=("tsv", "jsonl", "conllu"),
        choice_tasks={"conllu": ("tag",)},
    )
    top_k: int | None = option(
        None,
        "classify, tag: also list the K most probable labels with their probabilities "
        "(--output jsonl); lm: draw each unit from the K most likely ones only (default: "
        "the best label only; lm: from all)",
        check=integer(1),
        metavar="K",
    )
    max_tokens: int = option(
        10_000,
        "classify: read at most the first N tokens of a text (a warning says how many texts "
        "were cut); memory stays bounded whatever the line length",
        check=integer(1),
        tasks=("classify",),
    )
    bf16: bool | None = option(
        None,
        "bfloat16 matrix products (--no-bf16: float32; default: bfloat16 where the CPU has "
        "native bfloat16 instructions, AVX-512-BF16 or AMX)",
    )


@dataclass(kw_only=True)
class Generation:
    """How a language model continues a prompt."""

    max_new: int = option(200, "units to generate at most", check=integer(0), tasks=("lm",))
    temperature: float = option(
        0.8,
        "sampling temperature (0 = always the most likely unit)",
        check=number(0.0),
        metavar="T",
        tasks=("lm",),
    )
    seed: int = option(
        0, "sampling seed: the same prompt and seed give the same continuation",
        check=integer(0), tasks=("lm",),
    )  # fmt: skip
    stop: str | None = option(
        None,
        "end the continuation where STRING first appears (backslash escapes \\n \\t \\\\ "
        "are read; '' = never; default: the end of the line for word models, whose lines "
        "are sentences; never for character models)",
        metavar="STRING",
        tasks=("lm",),
    )


@dataclass(frozen=True)
class PredictSettings:
    """The predict options, resolved for one model's task (what the task objects read)."""

    output: str = "tsv"
    top_k: int | None = None
    max_tokens: int = 10_000
    pretokenized: bool = False
    max_new: int = 200
    temperature: float = 0.8
    seed: int = 0
    stop: str | None = None  # None: the model's default
    probs: bool = False  # Python only: return probabilities with the answers

    @classmethod
    def resolve(cls, task, *, probs: bool = False, lines: bool = False, **given: Any
                ) -> PredictSettings:  # fmt: skip
        """Check ``given`` (fields of Tokens, PredictOutput, Generation) for ``task`` (a
        task object) and fill in its defaults; ``lines``: the settings write output lines
        (``rnnseq predict``), so their combination with ``output`` is checked too.

        Raises:
            OptionError: naming the first option in the wrong.
        """
        sections = []
        for section in (Tokens, PredictOutput, Generation):
            names = {f.name for f in dataclasses.fields(section)}
            sections.append(section(**{k: v for k, v in given.items() if k in names}))
        known = {f.name for s in sections for f in dataclasses.fields(s)}
        unknown = [k for k in given if k not in known]
        if unknown:
            raise OptionError("{0} is not an option of predict", unknown[0])
        check_values(sections)
        check_for_task(sections, task.name)
        fields = {f.name for f in dataclasses.fields(cls)}
        flat = {k: v for s in sections for k, v in dataclasses.asdict(s).items() if k in fields}
        if flat.get("pretokenized") is None:
            flat.pop("pretokenized", None)
        settings = cls(probs=probs, **flat)
        if lines:
            task.check_predict(settings)
        return settings


def unescape(text: str) -> str:
    """What the command line's ``--stop`` means: ``\\n``, ``\\t``, ``\\r`` and
    ``\\\\`` read as the characters they name."""
    out, k = [], 0
    while k < len(text):
        c = text[k]
        if c == "\\" and k + 1 < len(text) and text[k + 1] in _UNESCAPE:
            out.append(_UNESCAPE[text[k + 1]])
            k += 2
        else:
            out.append(c)
            k += 1
    return "".join(out)


_UNESCAPE = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


# The declared defaults the Python API's signatures repeat.
BATCH_SIZE: int = ModelUse.__dataclass_fields__["batch_size"].default


# command -> its sections, in --help order
COMMANDS: dict[str, tuple[type, ...]] = {
    "evaluate": (ModelUse, Evaluation, Reading, JsonReport),
    "predict": (ModelUse, Engine, Reading, Tokens, PredictOutput, Generation),
    "explain": (ModelUse, Explaining, Tokens, JsonReport),
}
_TITLES = {
    ModelUse: "model",
    Engine: "model",
    Reading: "input",
    Tokens: "tokens",
    Evaluation: "evaluation",
    Explaining: "input",
    JsonReport: "output",
    PredictOutput: "output",
    Generation: "lm generation",
}


def add_command_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The options of ``rnnseq COMMAND``, generated from its sections, by group."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for section in COMMANDS[command]:
        title = _TITLES[section]
        if title not in groups:
            groups[title] = parser.add_argument_group(title)
        add_arguments(groups[title], section)


def sections_from(command: str, given: dict[str, Any]) -> dict[type, Any]:
    """The command's sections built from the options given (absent ones keep their
    defaults); unknown names are an OptionError."""
    sections = {}
    left = dict(given)
    for section in COMMANDS[command]:
        names = {f.name for f in dataclasses.fields(section)}
        sections[section] = section(**{k: left.pop(k) for k in list(left) if k in names})
    if left:
        raise OptionError(f"{{0}} is not an option of rnnseq {command}", next(iter(left)))
    return sections


def check_values(sections) -> None:
    """Check every value given (choices, ranges), whatever the model's task: before the
    model is loaded, so a typo fails at once.

    Raises:
        OptionError: naming the first option in the wrong.
    """
    for section in sections:
        for f in dataclasses.fields(section):
            spec, value = spec_of(f), getattr(section, f.name)
            if value is None:
                if spec.required:
                    raise OptionError("{0} is required", f.name)
                continue
            check_value(f, spec, value)


def check_for_task(sections, task: str) -> None:
    """Refuse an option given for a model whose task it does not apply to, and fill in
    the task's defaults in place (the values themselves: :func:`check_values`).

    Raises:
        OptionError: naming the first option in the wrong ("--temperature does not apply
            to this model (task tag; it applies to task lm)").
    """
    values: dict[str, Any] = {}
    for section in sections:
        values.update({f.name: getattr(section, f.name) for f in dataclasses.fields(section)})
    for section in sections:
        for f in dataclasses.fields(section):
            spec, value = spec_of(f), getattr(section, f.name)
            if value is None:
                if spec.default is not None:
                    setattr(section, f.name, default_value(spec, None, task, values))
                continue
            if not applies(spec, task) and value != default_value(spec, f.default, task, values):
                raise OptionError(
                    f"{{0}} does not apply to this model (task {task}; it applies to task "
                    f"{_either(spec.tasks)})",
                    f.name,
                )
            only = spec.choice_tasks.get(value) if isinstance(value, str) else None
            if only is not None and task not in only:
                raise OptionError(
                    f"{{0}} needs a model of task {_either(only)}, not {task}", (f.name, value)
                )


def _either(names) -> str:
    return " or ".join(str(n) for n in names or ())
