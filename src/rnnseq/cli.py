"""The ``rnnseq`` command line (also ``python -m rnnseq``, so ``torchrun -m rnnseq`` works).

    rnnseq train    --task {classify,tag,lm} --train FILE [--dev FILE] --out DIR [options]
    rnnseq prepare  --task lm --train FILE [--dev FILE] [the data options of train]
    rnnseq evaluate --model DIR --data FILE [--json] [--format F] [--column C]
    rnnseq predict  --model DIR [FILE | -] [--format F]
    rnnseq explain  --model DIR --text "..." [--labels "..."] [--json]
    rnnseq serve    --model DIR [--host ADDR] [--port N]
    rnnseq demo     [--out DIR]
    rnnseq download NAME [--cache-dir DIR] [--mirror URL]

Bad usage or unreadable input exits with status 2 and one line on stderr naming
the file (and line); a numerical failure during training exits with status 1.
"""

from __future__ import annotations

import argparse
import functools
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
        help=_HELP["train"],
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
# prepare
# --------------------------------------------------------------------------


def _add_prepare(sub) -> None:
    from rnnseq.training.config import add_train_arguments

    p = sub.add_parser(
        "prepare",
        help=_HELP["prepare"],
        description="Encode the text files of a language model (--task lm) into token files "
        "ahead of training, streaming, with a progress bar, and print where they are. Takes "
        "the options of rnnseq train (--out is not needed); those that shape the data "
        "(--unit, --min-freq, --holdout, --format, --token-cache) decide the token file, so "
        "the same options given to rnnseq train map it instead of encoding the text again.",
    )
    add_train_arguments(p)
    p._option_string_actions["--out"].required = False  # nothing is written there
    p.set_defaults(run=_prepare_tokens)


def _prepare_tokens(args) -> int:
    from rnnseq.tasks import get_task
    from rnnseq.training.config import TrainConfig

    given = {k: v for k, v in vars(args).items() if k not in ("run", "command")}
    given.setdefault("out", "(none)")  # checked as a path, never used
    cfg = TrainConfig(**given).resolved()
    for path, tokens in get_task(cfg.task).prepare_files(cfg):
        print(f"{path}: {tokens.path} ({len(tokens):,} {tokens.unit} units, vocabulary of "
              f"{len(tokens.vocab):,})")  # fmt: skip
    return 0


# --------------------------------------------------------------------------
# evaluate / predict / explain
# --------------------------------------------------------------------------

_DESCRIPTIONS = {
    "evaluate": (
        "score a model on a labelled file",
        "Score a model on a labelled file: loss (nats per counted step; per example for "
        "classify), accuracy, macro-F1, span precision, recall and F1 per entity type for "
        "IOB1/IOB2/IOBES tags (as conlleval scores them), perplexity for lm; optionally the "
        "confusion matrix as a PNG and the list of wrongly labelled examples.",
    ),
    "predict": (
        "label raw text (or continue it, for lm)",
        "Read one input per line from FILE or standard input ('-') and write one result "
        "per input: classify a label per line; tag a 'token<TAB>tag' line per token and a "
        "blank line after each input; lm the continuation on one line (--output jsonl: "
        "one JSON object per input, with probabilities and entities; --output conllu: the "
        "CoNLL-U input with the predicted column filled in). A blank line gives a blank "
        "result. Tag input is raw text, tokenized by the built-in UD/PTB tokenizer "
        "(--pretokenized: split on whitespace only); with --format, FILE is a labelled "
        "file whose tokens are kept. Streams: memory stays flat for any input size, and a "
        "long line is read in bounded windows. A tagger or classifier folder written by "
        "'rnnseq export --onnx' runs on onnxruntime without importing torch (a one-line "
        "answer in about a second; --engine torch forces PyTorch).",
    ),
    "explain": (
        "show the per-step loss of one input",
        "For one input, print each time step's input, true label (from --labels, else "
        "the predicted one), the predicted probability p_j of that label and L_j = -ln "
        "p_j, then Σ_j L_j and their mean: the sequence cross-entropy made visible. For "
        "classify there is one step; tag text is tokenized as predict tokenizes it.",
    ),
}


def _add_use(sub, command: str) -> None:
    from rnnseq.predict_options import add_command_arguments

    short, long = _DESCRIPTIONS[command]
    p = sub.add_parser(command, help=short, description=long)
    if command == "predict":  # the input is an argument, not an option
        p.add_argument(
            "input",
            nargs="?",
            default="-",
            metavar="FILE",
            help="input file, or - for standard input (default)",
        )
    add_command_arguments(p, command)
    p.set_defaults(run=_COMMANDS[command])


def _prepare(args, command: str, sections: dict | None = None):
    """The command's option sections (values checked) and the loaded Predictor, with
    the options that do not apply to the model's task refused."""
    from rnnseq.predict_options import ModelUse, PredictOutput, check_for_task

    if sections is None:
        sections = _sections(args, command)
    use = sections[ModelUse]
    if use.threads is not None:
        import torch

        torch.set_num_threads(use.threads)
    from rnnseq.inference import Predictor

    output = sections.get(PredictOutput)
    predictor = Predictor.load(
        use.model,
        device=use.device,
        batch_size=use.batch_size,
        bf16=output.bf16 if output is not None else False,
    )
    check_for_task(sections.values(), predictor.task)
    return sections, predictor


def _sections(args, command: str) -> dict:
    """The command's option sections, their values checked (before any model is loaded)."""
    from rnnseq.predict_options import check_values, sections_from

    given = {k: v for k, v in vars(args).items() if k not in ("run", "command", "input")}
    sections = sections_from(command, given)
    check_values(sections.values())
    _keep_freed_memory()
    return sections


def _evaluate(args) -> int:
    from rnnseq.predict_options import Evaluation, JsonReport, Reading
    from rnnseq.report import evaluation_report

    sections, predictor = _prepare(args, "evaluate")
    ev, reading = sections[Evaluation], sections[Reading]
    result = predictor.evaluate(
        ev.data,
        format=reading.format,
        column=reading.column,
        confusion=ev.confusion,
        errors=ev.errors,
    )
    if sections[JsonReport].json:
        print(json.dumps({k: v for k, v in result.items() if k != "per_class"}))
    else:
        print(evaluation_report(result, ev.data, predictor.meta.task.loss_unit))
    return 0


def _predict(args) -> int:
    from rnnseq.predict_options import (
        Engine,
        Generation,
        ModelUse,
        PredictOutput,
        Reading,
        Tokens,
        check_for_task,
        unescape,
    )

    sections = _sections(args, "predict")
    from rnnseq.onnx_engine import choose

    predictor = choose(sections[ModelUse], sections[Engine].engine, sections[PredictOutput].bf16)
    if predictor is None:  # torch
        _bound_kernel_cache()
        sections, predictor = _prepare(args, "predict", sections)
    else:
        check_for_task(sections.values(), predictor.task)
    reading = sections[Reading]
    options = {**vars(sections[Tokens]), **vars(sections[PredictOutput]),
               **vars(sections[Generation])}  # fmt: skip
    options.pop("bf16")
    if options["stop"] is not None:
        options["stop"] = unescape(options["stop"])
    task = predictor.meta.task
    interactive = args.input == "-" and sys.stdin.isatty()
    if options["output"] == "conllu":
        if reading.format not in (None, "conllu"):
            raise UsageError(f"--output conllu needs CoNLL-U input, not --format {reading.format}")
        if args.input == "-":
            raise UsageError("--output conllu needs a FILE (CoNLL-U), not standard input")
        predictor.settings(**options)
        _write_bytes(predictor.predict_conllu(args.input, column=reading.column))
        return 0
    if task.reads_labelled_input(reading.format):
        if args.input == "-":
            raise UsageError("--format needs a FILE (labelled data), not standard input")
        data = task.read_labelled(args.input, format=reading.format, column=reading.column,
                                  config=predictor.meta.config)  # fmt: skip
        blocks = predictor.predict_labelled(data, **options)
    else:
        blocks = _predict_raw(predictor, args.input, options)
    out = sys.stdout
    for block in blocks:
        out.write(block)
        if interactive:
            out.flush()  # answer each typed line at once
    return 0


def _write_bytes(parts) -> None:
    out = getattr(sys.stdout, "buffer", None)
    for part in parts:
        if out is None:  # a text stream (tests): the bytes are UTF-8
            sys.stdout.write(part.decode("utf-8"))
        else:
            out.write(part)
    sys.stdout.flush()


def _predict_raw(predictor, path: str, options: dict):
    """Output blocks for raw input lines from ``path`` or, for ``-``, standard input.

    At a terminal each line is answered as soon as it is typed; otherwise lines go
    through the model ``CHUNK`` at a time (see :mod:`rnnseq.text_input`).
    """
    from rnnseq.text_input import CHUNK, input_lines

    if path == "-":
        name, source = "<stdin>", getattr(sys.stdin, "buffer", sys.stdin)
        chunk = 1 if sys.stdin.isatty() else CHUNK
    else:
        try:
            source = open(path, "rb")  # closed below
        except OSError as e:
            raise UsageError(f"{path}: cannot read ({e.strerror or e})") from None
        name, chunk = path, CHUNK
    try:
        yield from predictor.predict_lines(input_lines(source, name), chunk=chunk, **options)
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


def _keep_freed_memory() -> None:
    """Ask glibc's malloc to keep freed memory for reuse instead of handing it back to
    the system after every batch (Linux with glibc only; elsewhere nothing happens).

    Why: each batch allocates and frees tensors of a few MB; by default glibc returns
    them to the system and the next batch faults the pages in again. On the EWT tagger
    (benchmarks/predict_stream.py) that was 1.1-1.9 of predict's ~20 CPU s, in system
    time; keeping up to 256 MB of freed memory brings it to ~0.3 s and leaves the peak
    memory where it was (docs/PERFORMANCE.md).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if sys.platform != "linux" or name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    trim, top_pad, mmap_threshold = -1, -2, -3  # M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD
    mallopt(trim, 256 << 20)
    mallopt(top_pad, 64 << 20)
    mallopt(mmap_threshold, 32 << 20)  # glibc's largest: bigger blocks come from the heap


def _explain(args) -> int:
    from rnnseq.predict_options import Explaining, JsonReport, Tokens
    from rnnseq.report import explanation_table, use_colour

    sections, predictor = _prepare(args, "explain")
    ex = sections[Explaining]
    expl = predictor.explain(ex.text, ex.labels, pretokenized=sections[Tokens].pretokenized)
    if sections[JsonReport].json:
        print(json.dumps(expl.to_dict()))
    else:
        print(explanation_table(expl, colour=use_colour()))
    return 0


_COMMANDS = {"evaluate": _evaluate, "predict": _predict, "explain": _explain}


# --------------------------------------------------------------------------
# demo / download
# --------------------------------------------------------------------------


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help=_HELP["demo"],
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
        help=_HELP["download"],
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
# export
# --------------------------------------------------------------------------


def _add_export(sub) -> None:
    from rnnseq.predict_options import FORMAT_NAMES

    p = sub.add_parser(
        "export",
        help=_HELP["export"],
        description="Copy what using a model needs (weights, config, vocabularies, metrics, "
        "loss curve; not the resume checkpoint) into a new folder DIR2 with a model card, "
        "README.md: task, labels, network, training data and command, dev and test scores, "
        "versions. With --onnx, also the network as an ONNX graph for onnxruntime "
        "(docs/EXPORT.md). DIR2 appears whole or not at all.",
    )
    p.add_argument("--model", required=True, metavar="DIR", help="model folder from rnnseq train")
    p.add_argument("--out", required=True, metavar="DIR2", help="the folder to write")
    p.add_argument(
        "--test",
        metavar="FILE",
        help="labelled test file scored as rnnseq evaluate scores it, for the card "
        "(default: the card says 'not measured')",
    )
    p.add_argument(
        "--format",
        choices=FORMAT_NAMES,
        help="format of --test (default: as the training data was read)",
    )
    p.add_argument(
        "--column",
        metavar="C",
        help="CoNLL-U tag field or header label column of --test (default: the training run's)",
    )
    p.add_argument(
        "--onnx",
        action="store_true",
        help="also write model.onnx (the network; needs pip install 'rnnseq[onnx]')",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing DIR2")
    p.set_defaults(run=_export)


def _export(args) -> int:
    from rnnseq.export import export_folder

    result = export_folder(
        args.model,
        args.out,
        test=args.test,
        format=args.format,
        column=args.column,
        onnx=args.onnx,
        overwrite=args.overwrite,
    )
    summary: dict = {"out": str(result.out), "files": result.files}
    if result.test_scores is not None:
        summary["test"] = {
            k: v for k, v in result.test_scores.items() if k not in ("per_class", "per_type")
        }
    if result.onnx_check is not None:
        summary["onnx_max_abs_diff"] = result.onnx_check["max_abs_diff"]
    print(json.dumps(summary))
    return 0


# --------------------------------------------------------------------------
# serve
# --------------------------------------------------------------------------


def _add_serve(sub) -> None:
    from rnnseq.serve_options import add_serve_arguments

    p = sub.add_parser(
        "serve",
        help=_HELP["serve"],
        description="Load a model once and answer HTTP requests: POST /predict "
        '{"texts": [...]} gives what predict --output jsonl writes for each text, POST '
        '/explain {"text": ..., "labels": [...]} what explain --json prints; GET /health, '
        "GET /info (the model card's facts) and GET / (a page to try the model in a "
        "browser). Requests are answered concurrently; the model runs in one thread, which "
        "batches predict requests that arrive together. Listens on 127.0.0.1 (this machine "
        "only) unless --host says otherwise; stop it with Ctrl-C.",
    )
    add_serve_arguments(p)
    p.set_defaults(run=_serve)


def _serve(args) -> int:
    from rnnseq.predict_options import ModelUse, check_values
    from rnnseq.serve_options import Serving

    given = {k: v for k, v in vars(args).items() if k not in ("run", "command")}
    use = ModelUse(**{k: v for k, v in given.items() if k in ModelUse.__dataclass_fields__})
    serving = Serving(**{k: v for k, v in given.items() if k in Serving.__dataclass_fields__})
    check_values([use, serving])
    _keep_freed_memory()
    _bound_kernel_cache()
    if use.threads is not None:
        import torch

        torch.set_num_threads(use.threads)
    from rnnseq.inference import Predictor
    from rnnseq.serve import ModelServer

    predictor = Predictor.load(use.model, device=use.device, batch_size=use.batch_size)
    log = None if serving.quiet else sys.stderr
    with ModelServer(predictor, use.model, serving, log=log) as server:
        print(f"rnnseq serve: {server.url} (model {use.model}, task {predictor.task}; "
              "Ctrl-C stops)", flush=True)  # fmt: skip
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


# --------------------------------------------------------------------------


_SUBCOMMANDS = (
    "train", "prepare", "evaluate", "predict", "explain", "serve", "export", "demo", "download"
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand; with ``command``, only that one's options are
    built (the others are listed with their help line)."""
    parser = _Parser(
        prog="rnnseq",
        description="Recurrent networks (RNN, LSTM, GRU) for sequence classification and "
        "sequence labeling, trained with an exact sequence cross-entropy.",
    )
    parser.add_argument("--version", action="version", version=f"rnnseq {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    adders = {
        "train": _add_train,
        "prepare": _add_prepare,
        "demo": _add_demo,
        "download": _add_download,
        "export": _add_export,
        "serve": _add_serve,
    }
    adders.update({name: functools.partial(_add_use, command=name) for name in _COMMANDS})
    for name in _SUBCOMMANDS:
        if command is None or command == name:
            adders[name](sub)
        else:
            sub.add_parser(name, help=_HELP[name])
    return parser


_HELP = {
    "train": "train a model and write its folder",
    "prepare": "encode a language model's text into token files ahead of training",
    **{name: short for name, (short, _) in _DESCRIPTIONS.items()},
    "demo": "train a tagger and a classifier on generated data",
    "download": "fetch a public dataset (SHA-256 verified)",
    "export": "write a folder fit to hand over: no resume state, a model card, optional ONNX",
    "serve": "answer predict and explain requests over HTTP, with a page to try the model",
}


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def _cli_text(message) -> str:
    """One line; an error or warning that names options (``for_cli``: OptionError,
    OptionWarning and the like) names them as flags here, as fields in Python."""
    for_cli = getattr(message, "for_cli", None)
    return _one_line(for_cli() if callable(for_cli) else message)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 numerical failure, 2 bad
    usage or input, 130 interrupted). Bad input is one line on stderr, never a traceback.

    Only the command being run has its options built and its modules imported, so a
    one-line ``rnnseq predict`` does not pay for training's imports. Run from the command
    line (``argv`` None), evaluate, predict and explain end the process as soon as their
    output is flushed (:func:`_fast_exit`)."""
    from_command_line = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_command_of(argv)).parse_args(argv)
    status = _run(args)
    if from_command_line and args.command in _COMMANDS:
        _fast_exit(status)
    return status


def _fast_exit(status: int) -> None:
    """Flush the output and leave without the interpreter's teardown.

    Why: tearing down a process that imported torch costs about 0.3-0.5 CPU s (freeing
    torch's modules and objects one by one), a fifth of a one-line ``rnnseq predict``
    (docs/PERFORMANCE.md). These commands hold no state that needs a clean shutdown:
    their files are closed when written, and stdout and stderr are flushed here.
    """
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # a closed pipe (`| head`) or stream
            pass
    os._exit(status)


def _run(args) -> int:
    from rnnseq.options import OptionError

    shown = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return args.run(args)
    except _loaded("rnnseq.training.step", "TrainingFailed") as e:
        # NaN, out of memory: the run failed, not its input
        print(f"rnnseq {args.command}: {_cli_text(e)}", file=sys.stderr)
        return 1
    except MemoryError:
        print(
            f"rnnseq {args.command}: out of memory: the input or the model needs more memory "
            "than this machine has",
            file=sys.stderr,
        )
        return 1
    except (UsageError, OptionError, ValueError) as e:
        # DataError (readers), ModelFolderError, OptionError and UnicodeDecodeError are
        # ValueErrors; options are named as flags here, as fields in Python.
        print(f"rnnseq {args.command}: error: {_cli_text(e)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `rnnseq predict ... | head`
        return 0
    except _loaded("rnnseq.data.download", "DownloadError") as e:
        print(f"rnnseq {args.command}: error: {_cli_text(e)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        print(f"rnnseq {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"rnnseq {args.command}: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = shown


class _Never(Exception):
    """Matches no exception: the class of a module that was never imported."""


def _loaded(module: str, name: str) -> type[BaseException]:
    """Exception class ``name`` of ``module`` if that module was imported (only then can
    it have been raised), else :class:`_Never`. Evaluated when an exception is handled."""
    found = sys.modules.get(module)
    return getattr(found, name) if found is not None else _Never


def _command_of(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first argument that is one), or None."""
    for arg in argv:
        if arg in _SUBCOMMANDS:
            return arg
        if not arg.startswith("-"):
            return None
    return None


def _resume_hint(args) -> str:
    """For an interrupted train whose folder holds a checkpoint: how to continue it."""
    from pathlib import Path

    if args.command != "train" or not (Path(args.out) / "resume.safetensors").exists():
        return ""
    return f"; the last checkpoint is in {args.out}: add --resume to continue"


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"rnnseq: warning: {_cli_text(message)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
