"""The ``rnnseq`` command line (also ``python -m rnnseq``, so ``torchrun -m rnnseq`` works).

    rnnseq train    --task {classify,tag,lm} --train FILE [--dev FILE] --out DIR [options]
    rnnseq evaluate --model DIR --data FILE [--json] [--format F] [--column C]
    rnnseq predict  --model DIR [FILE | -] [--format F]
    rnnseq explain  --model DIR --text "..." [--labels "..."] [--json]
    rnnseq demo     [--out DIR]
    rnnseq download NAME [--cache-dir DIR] [--mirror URL]

Bad usage or unreadable input exits with status 2 and one line on stderr naming
the file (and line); a numerical failure during training exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from rnnseq import __version__

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and still exit status 2)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class UsageError(Exception):
    """Bad input found by the CLI itself: one line, exit status 2."""


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------


def _add_train(sub) -> None:
    from rnnseq.training.config import add_train_arguments

    p = sub.add_parser(
        "train",
        help="train a model and write its folder",
        description="Train a recurrent model on FILE and write DIR: weights (safetensors), "
        "config and vocabularies (JSON), metrics.json and a loss-curve PNG, checkpointed after "
        "every epoch. Defaults give a good model without tuning; an option that does not "
        "apply to the task is refused.",
    )
    add_train_arguments(p)
    p.set_defaults(run=_train)


def _train(args) -> int:
    from rnnseq.training.config import TrainConfig
    from rnnseq.training.loop import train

    given = {k: v for k, v in vars(args).items() if k not in ("run", "command")}
    result = train(TrainConfig(**given))
    if not result.is_main:  # one summary per run, from rank 0
        return 0
    best = result.metrics.get("best") or (result.metrics["epochs"] or [{}])[-1]
    summary = {k: v for k, v in best.items() if k.startswith("dev_")}
    if summary:
        print(
            json.dumps(
                {"out": str(result.out), "best_epoch": result.metrics["best_epoch"], **summary}
            )
        )
    else:
        print(json.dumps({"out": str(result.out)}))
    return 0


# --------------------------------------------------------------------------
# evaluate / predict / explain
# --------------------------------------------------------------------------


def _add_common_model(p) -> None:
    p.add_argument("--model", required=True, metavar="DIR", help="model folder from rnnseq train")
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="cpu",
        help="where to run the model (default cpu)",
    )
    p.add_argument(
        "--batch-size", type=int, default=64, metavar="N", help="inputs per batch (default 64)"
    )


def _load(args):
    from rnnseq.inference import Predictor

    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {args.batch_size}")
    return Predictor.load(args.model, device=args.device, batch_size=args.batch_size)


def _format_choices() -> list[str]:
    from rnnseq.data.formats import FORMATS

    return list(FORMATS)


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a model on a labelled file",
        description="Score a model on a labelled file: loss (nats per counted "
        "step; per example for classify), accuracy, macro-F1, span F1 for "
        "IOB1/IOB2/IOBES tags, perplexity for lm.",
    )
    _add_common_model(p)
    p.add_argument("--data", required=True, metavar="FILE", help="labelled data")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--format",
        choices=_format_choices(),
        help="input format (default: from the file name, else the content)",
    )
    p.add_argument("--column", metavar="C", help="CoNLL-U tag field or header label column")
    p.set_defaults(run=_evaluate)


def _evaluate(args) -> int:
    from rnnseq.report import evaluation_report

    predictor = _load(args)
    result = predictor.evaluate(args.data, format=args.format, column=args.column)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "per_class"}))
    else:
        print(evaluation_report(result, args.data, predictor.meta.task.loss_unit))
    return 0


def _add_predict(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="label raw text (or continue it, for lm)",
        description="Read one input per line from FILE or standard input ('-') "
        "and write one result per input: classify one label per line; tag one "
        "'token<TAB>tag' line per token and a blank line after each input; lm the "
        "continuation on one line. With --format, FILE is a labelled file whose "
        "inputs are predicted. Streams: memory stays flat for any input size.",
    )
    _add_common_model(p)
    p.add_argument(
        "input",
        nargs="?",
        default="-",
        metavar="FILE",
        help="input file, or - for standard input (default)",
    )
    p.add_argument(
        "--format",
        choices=_format_choices(),
        help="read FILE as labelled data of this format (conllu, conll, tsv, csv, jsonl) and "
        "predict its inputs; lm: text, the same as no --format",
    )
    p.add_argument(
        "--max-new",
        type=int,
        default=200,
        metavar="N",
        help="lm: units to generate at most; generation also stops where the model ends "
        "the line (default 200)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=0.8,
        metavar="T",
        help="lm: sampling temperature (0 = always the most likely unit; default 0.8)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="lm: sampling seed; the same prompt and seed give the same line (default 0)",
    )
    p.set_defaults(run=_predict)


def _predict(args) -> int:
    if args.max_new < 0:
        raise UsageError(f"--max-new must be >= 0, got {args.max_new}")
    if not 0 <= args.temperature < float("inf"):
        raise UsageError(f"--temperature must be a number >= 0, got {args.temperature}")
    _bound_kernel_cache()
    predictor = _load(args)
    generation = {"max_new": args.max_new, "temperature": args.temperature, "seed": args.seed}
    task = predictor.meta.task
    if task.reads_labelled_input(args.format):
        if args.input == "-":
            raise UsageError("--format needs a FILE (labelled data), not standard input")
        data = task.read_labelled(
            args.input, format=args.format, column=None, config=predictor.meta.config
        )
        blocks = predictor.predict_labelled(data)
    else:
        blocks = _predict_raw(predictor, args.input, generation)
    out = sys.stdout
    interactive = args.input == "-" and sys.stdin.isatty()
    for block in blocks:
        out.write(block)
        if interactive:
            out.flush()  # answer each typed line at once
    return 0


def _predict_raw(predictor, path: str, generation: dict):
    """Output blocks for raw input lines from ``path`` or, for ``-``, standard input.

    At a terminal each line is answered as soon as it is typed; otherwise lines go
    through the model 256 at a time.
    """
    if path == "-":
        name, source = "<stdin>", getattr(sys.stdin, "buffer", sys.stdin)
        chunk = 1 if sys.stdin.isatty() else 256
    else:
        try:
            source = open(path, "rb")  # closed below
        except OSError as e:
            raise UsageError(f"{path}: cannot read ({e.strerror or e})") from None
        name, chunk = path, 256
    try:
        lines = _input_lines(source, name, need_text=predictor.meta.task.needs_text)
        yield from predictor.predict_lines(lines, chunk=chunk, **generation)
    finally:
        if path != "-":
            source.close()


def _bound_kernel_cache() -> None:
    """Keep memory flat over a long stream.

    oneDNN, behind torch's CPU kernels, keeps a compiled kernel and its buffers for
    every input shape it meets, up to 1024 of them, and a stream of sentences of every
    length meets that many. On an EWT tagger (benchmarks/predict_stream.py) the peak
    memory over 100,000 / 1,000,000 lines was 613 / 705 MiB with oneDNN's default and
    478 / 541 MiB with 64, and 64 was no slower. Takes effect before the process's
    first oneDNN kernel; a value the user set wins.
    """
    import os

    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")


def _input_lines(source, name: str, *, need_text: bool):
    """The lines of ``source`` (bytes, or str for a text stream), decoded one at a time.

    Streams: holds one line at a time. A line is what ends at ``\\n``, as the readers
    count them, so an error names the line a text editor shows. Raises DataError for
    invalid UTF-8 (naming the byte), for an empty line when a classifier needs text,
    and for input with no line at all.
    """
    from rnnseq.data.errors import DataError

    number = 0
    for number, data in enumerate(source, 1):  # noqa: B007 (number is used after the loop)
        if isinstance(data, bytes):
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    name,
                    number,
                    f"invalid UTF-8 byte 0x{data[e.start]:02x} at byte {e.start + 1} of the "
                    "line; expected UTF-8 text",
                ) from None
        else:
            line = data
        if number == 1:
            line = line.removeprefix("\ufeff")
        if need_text and not line.strip():
            raise DataError(name, number, "empty line; the classifier needs a text on every line")
        yield line
    if number == 0:
        raise DataError(name, None, "no input; expected one input per line")


def _add_explain(sub) -> None:
    p = sub.add_parser(
        "explain",
        help="show the per-step loss of one input",
        description="For one input, print each time step's input, true label "
        "(from --labels, else the predicted one), the predicted probability p_j "
        "of that label and L_j = -ln p_j, then Σ_j L_j and their mean: the "
        "sequence cross-entropy made visible. For classify there is one step.",
    )
    _add_common_model(p)
    p.add_argument("--text", required=True, help="the input (tag: whitespace-separated tokens)")
    p.add_argument("--labels", help="true labels: one per token (tag), one label (classify)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_explain)


def _explain(args) -> int:
    from rnnseq.report import explanation_table, use_colour

    predictor = _load(args)
    expl = predictor.explain(args.text, args.labels)
    if args.json:
        print(json.dumps(expl.to_dict()))
    else:
        print(explanation_table(expl, colour=use_colour()))
    return 0


# --------------------------------------------------------------------------
# demo / download
# --------------------------------------------------------------------------


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="train a tagger and a classifier on generated data",
        description="Generate two small datasets (sentences with part-of-speech "
        "tags from a probabilistic grammar; reviews whose sentiment turns on "
        "negation), train a tagger and a classifier on them (about 20 s of CPU "
        "time) and print explain tables.",
    )
    p.add_argument(
        "--out",
        default="runs/demo",
        metavar="DIR",
        help="where the two model folders go (default runs/demo)",
    )
    p.add_argument("--seed", type=int, default=1, metavar="N", help="random seed (default 1)")
    p.set_defaults(run=_demo)


def _demo(args) -> int:
    from rnnseq.demo import run_demo

    run_demo(args.out, seed=args.seed)
    return 0


def _add_download(sub) -> None:
    from rnnseq.data.download import DATASETS

    p = sub.add_parser(
        "download",
        help="fetch a public dataset (SHA-256 verified)",
        description="Download a public dataset into the cache folder, verify "
        "every file's SHA-256 and print the folder.",
    )
    p.add_argument("name", choices=list(DATASETS), help="dataset")
    p.add_argument(
        "--cache-dir", metavar="DIR", help="cache folder (default $RNNSEQ_CACHE or ~/.cache/rnnseq)"
    )
    p.add_argument(
        "--mirror",
        metavar="URL",
        help="fetch from URL/<folder>/<file> instead of the original sites",
    )
    p.add_argument("--force", action="store_true", help="download again even if cached")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_download)


def _download(args) -> int:
    from rnnseq.data.download import download

    folder = download(
        args.name,
        cache_dir=args.cache_dir,
        mirror=args.mirror,
        progress=not args.no_progress,
        force=args.force,
    )
    print(folder)
    return 0


# --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rnnseq",
        description="Recurrent networks (RNN, LSTM, GRU) for sequence classification and "
        "sequence labeling, trained with an exact sequence cross-entropy.",
    )
    parser.add_argument("--version", action="version", version=f"rnnseq {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    for add in (_add_train, _add_evaluate, _add_predict, _add_explain, _add_demo, _add_download):
        add(sub)
    return parser


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 numerical failure, 2 bad
    usage or input, 130 interrupted). Bad input is one line on stderr, never a traceback."""
    args = build_parser().parse_args(argv)
    from rnnseq.data.download import DownloadError
    from rnnseq.options import OptionError
    from rnnseq.serialization import ModelFolderError
    from rnnseq.training.loop import NumericalError

    shown = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return args.run(args)
    except NumericalError as e:
        print(f"rnnseq {args.command}: {_one_line(e)}", file=sys.stderr)
        return 1
    except OptionError as e:  # named as flags here, as fields in Python
        print(f"rnnseq {args.command}: error: {_one_line(e.for_cli())}", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, ValueError, ModelFolderError, DownloadError) as e:
        # DataError (readers) and UnicodeDecodeError are ValueErrors too.
        print(f"rnnseq {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `rnnseq predict ... | head`
        return 0
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        print(f"rnnseq {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"rnnseq {args.command}: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = shown


def _resume_hint(args) -> str:
    """For an interrupted train whose folder holds a checkpoint: how to continue it."""
    from pathlib import Path

    if args.command != "train" or not (Path(args.out) / "resume.safetensors").exists():
        return ""
    return f"; the last checkpoint is in {args.out}: add --resume to continue"


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"rnnseq: warning: {_one_line(message)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
