"""``lm``: the next character or word at every step of a text (a language model).

    z_t = W · LSTM(x_1..x_t) + b,    L_t = -log softmax(z_t)[x_{t+1}]

The text is one stream of units (characters, or words with ``<eos>`` per line) read
in windows of ``--bptt`` steps; the encoder's state flows from one window to the
next (truncated backpropagation through time). A large vocabulary trains through
the chunked linear + loss head, so the (N, T, V) logits never exist at once.
``rnnseq predict`` continues each prompt; the loss per step gives the perplexity.

Training always reads the text from token files (:meth:`LanguageModelTask.stream_run_data`,
docs/TOKEN_FILES.md): the text is encoded once, streaming, into ``--token-cache``, and
every window is read from disk when it is trained on, so memory does not grow with the
corpus. The vocabulary, the windows and so the loss curve are exactly those of reading
the text into memory (:meth:`read` and :meth:`prepare`, kept for the Python API).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnseq.data import EOS, IGNORE_INDEX, DataError, Vocab, read_dataset
from rnnseq.data.formats import FORMATS, checked_format
from rnnseq.data.lm_windows import LMWindows
from rnnseq.data.token_cache import token_file
from rnnseq.data.token_file import TokenFile, holdout_cut
from rnnseq.data.token_span import TokenSpan
from rnnseq.data.vocab import PAD, UNK
from rnnseq.evaluation import perplexity
from rnnseq.explanation import Explanation, explained_step
from rnnseq.kernels import use_linear_head
from rnnseq.losses import linear_sequence_labeling_loss_terms, sequence_labeling_loss_terms
from rnnseq.models.tagger import SequenceTagger
from rnnseq.options import OptionError, literal
from rnnseq.preprocess import Vocabularies
from rnnseq.tasks.base import RunData, Task
from rnnseq.tasks.word_vectors import pretrained_vocabulary

__all__ = ["LanguageModelTask"]

PROMPT_WINDOW = 4096  # prompt units read at once
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


class LanguageModelTask(Task):
    name = "lm"

    # ------------------------------------------------------------------ data

    def read(self, path: str, cfg) -> list[str]:
        """The text's units, in memory (the Python API; training streams them instead)."""
        units = read_dataset(path, self.name, format=cfg.data.format, unit=cfg.data.unit)
        _check_length(path, len(units))  # found now, not when the first epoch ends
        return units

    def stream_run_data(self, cfg, vocabs, schemes, resolve=None) -> RunData:
        """The run's text as token files: ``--train`` encoded once (streaming) into
        ``--token-cache``, or mapped from there; the vocabulary built in the same pass
        (from the part before ``--holdout``), unless given (a resumed run's); ``--dev``
        encoded with it. RunData.train and .dev are :class:`TokenSpan` s, read window by
        window, so no process holds the text, whatever its size."""
        for path in (cfg.train, cfg.dev):
            if path is not None:
                _check_format(path, cfg.data.format)
        if schemes is None:
            schemes = self.schemes(None, cfg)
        holdout = cfg.data.holdout if cfg.dev is None else 0.0
        saved = None if vocabs is None else vocabs.words
        whole = TokenSpan.whole(self._train_tokens(cfg, saved))
        weight = None
        if vocabs is None:
            units = whole.vocab
            if cfg.model.embeddings is not None:  # no word is added: the ids stay valid
                units, weight = pretrained_vocabulary(units, cfg, extend=False)
            vocabs = Vocabularies(words=units, labels=units)
        train, dev, dev_name = whole, None, None
        if cfg.dev is not None:
            dev = TokenSpan.whole(self._dev_tokens(cfg, vocabs.words))
            dev_name = cfg.dev
        elif holdout > 0:
            cut = holdout_cut(len(whole), holdout)
            if cut < 2:
                raise OptionError(
                    f"{{0}} leaves too little of {literal(cfg.train)} to train on",
                    ("holdout", holdout),
                )
            train, dev = whole.split(cut)
            dev_name = f"{cfg.train} (last {holdout:.0%})"
        return RunData(vocabs, schemes, train, dev, dev_name, len(train), word_vectors=weight)

    def prepare_files(self, cfg) -> list[tuple[str, TokenFile]]:
        """The token files of ``--train`` (and ``--dev``), encoded now or found fresh in
        ``--token-cache``: what a training run with these options maps."""
        train = self._train_tokens(cfg, None)
        if cfg.dev is None:
            return [(cfg.train, train)]
        return [(cfg.train, train), (cfg.dev, self._dev_tokens(cfg, train.vocab))]

    def _train_tokens(self, cfg, vocab: Vocab | None) -> TokenFile:
        """The token file of ``--train``: its vocabulary built from the part before
        ``--holdout`` (without ``--dev``), unless ``vocab`` is given."""
        _check_format(cfg.train, cfg.data.format)
        holdout = cfg.data.holdout if cfg.dev is None else 0.0
        tokens = self._tokens(cfg.train, cfg, vocab=vocab, holdout=holdout)
        _check_length(cfg.train, len(tokens))
        return tokens

    def _dev_tokens(self, cfg, vocab: Vocab) -> TokenFile:
        """The token file of ``--dev``, encoded with the training vocabulary."""
        _check_format(cfg.dev, cfg.data.format)
        tokens = self._tokens(cfg.dev, cfg, vocab=vocab)
        _check_length(cfg.dev, len(tokens))
        return tokens

    def _tokens(self, path: str, cfg, *, vocab: Vocab | None, holdout: float = 0.0):
        """The token file of ``path`` (a progress bar on rank 0, as --progress says)."""
        progress = cfg.training.progress if _is_main_process() else False
        return token_file(
            path,
            unit=cfg.data.unit,
            min_freq=cfg.data.min_freq,
            holdout=holdout,
            vocab=vocab,
            cache_dir=cfg.data.token_cache,
            progress=progress,
        )

    def read_labelled(self, path: str, *, format, column, config) -> TextFile:
        """The text to evaluate on, not read yet: :meth:`evaluate` reads it through a
        token file (encoded streaming with the model's vocabulary, then read window by
        window), so no text is held whatever its size."""
        if column is not None:
            raise ValueError("--column does not apply to a language model's text")
        checked_format(path, self.name, format, None)
        return TextFile(str(path), config.data.unit, config.data.token_cache)

    def check_config(self, cfg) -> None:
        if cfg.model.embeddings is not None and cfg.data.unit != "word":
            raise OptionError(
                "{0} needs {1}: pretrained vectors are for words, not characters",
                "embeddings",
                ("unit", "word"),
            )

    def prepare(self, train, dev, dev_name, cfg, vocabs, schemes) -> RunData:
        """The unit vocabulary (input and output) and the encoded text. With
        ``--embeddings`` the input rows start from the file's vectors; no word is added,
        since the vocabulary is also the output layer."""
        weight = None
        if vocabs is None:  # a resumed run reuses the saved vocabularies and weights
            units = Vocab.build([train], min_freq=cfg.data.min_freq, specials=(PAD, UNK))
            if cfg.model.embeddings is not None:
                units, weight = pretrained_vocabulary(units, cfg, extend=False)
            vocabs = Vocabularies(words=units, labels=units)
        ids = vocabs.words.encode(train)
        return RunData(vocabs, schemes, ids, dev, dev_name, len(train), word_vectors=weight)

    # --------------------------------------------------------------- network

    def build_network(self, config, *, bf16: bool = False) -> SequenceTagger:
        if config.bidirectional:
            raise ValueError(
                "bidirectional must be False for a language model (it would see the unit "
                "it predicts)"
            )
        return SequenceTagger(config, bf16=bf16)

    def scores(self, model, batch, state=None):
        hidden, final = model.net.features(batch.tokens, batch.lengths, state=state)
        return model.net.output(hidden), final

    @staticmethod
    def uses_chunked_head(model) -> bool:
        """True for a vocabulary large enough that the fused linear + loss beats forming
        the logits (the kernel plan's threshold), unless the model trains in bfloat16."""
        device = model.net.output.weight.device
        return use_linear_head(model.config.num_labels, device) and not model.bf16

    # ------------------------------------------------------------- objective

    def loss_terms(self, model, batch, objective, state=None):
        """The training loss of a window, and the encoder state after it (detached)."""
        opts = objective.options
        if not self.uses_chunked_head(model):
            scores, final = self.scores(model, batch, state)
            return self.objective_terms(model, scores, batch, objective), _detach(final)
        hidden, final = model.net.features(batch.tokens, batch.lengths, state=state)
        terms = linear_sequence_labeling_loss_terms(
            hidden,
            model.net.output.weight,
            model.net.output.bias,
            batch.targets,
            batch.lengths.to(hidden.device),
            time_reduction=opts.time_reduction,
            reduction=opts.reduction,
            class_weight=objective.class_weights,
            label_smoothing=opts.label_smoothing,
        )
        return terms, _detach(final)

    def objective_terms(self, model, scores, batch, objective):
        opts = objective.options
        return sequence_labeling_loss_terms(
            scores,
            batch.targets,
            batch.lengths.to(scores.device),
            time_reduction=opts.time_reduction,
            reduction=opts.reduction,
            weight=objective.class_weights,
            label_smoothing=opts.label_smoothing,
        )

    def eval_terms(self, model, batch, scores):
        lengths = batch.lengths.to(scores.device)
        return sequence_labeling_loss_terms(scores, batch.targets, lengths, reduction="token_mean")

    def class_weight_targets(self, data: RunData):
        return []

    # -------------------------------------------------------------- training

    @property
    def carries_state(self) -> bool:
        return True

    def epoch_plan(self, data: RunData, cfg, epoch: int, rank: int, world_size: int) -> list:
        """The same windows every epoch (the state flows through them): this process's
        rows of each, cut from the token file when trained on (:class:`LMWindows`)."""
        key = ("lm windows", cfg.training.batch_size, cfg.training.bptt, rank, world_size)
        if key not in data.plan_cache:
            data.plan_cache.clear()
            data.plan_cache[key] = LMWindows(
                _ids(data.train), cfg.training.batch_size, cfg.training.bptt, rank=rank,
                world_size=world_size,
            )  # fmt: skip
        return data.plan_cache[key]

    def batch(self, data: RunData, item):
        return item

    def selection_score(self, scores: dict) -> list[float]:
        """A language model is selected on its dev loss alone."""
        return [-scores["loss"]]

    # ------------------------------------------------------------ evaluation

    @torch.no_grad()
    def evaluate(self, predictor, data, path: str, objective=None, encoded=None,
                 reports=None, rows: int = 16) -> dict:  # fmt: skip
        """Loss per unit, next-unit accuracy and perplexity of the unit stream ``data``."""
        from rnnseq.inference import ObjectiveTally

        tally = ObjectiveTally(predictor.model, objective)
        if isinstance(data, TextFile):
            data = data.tokens(predictor.vocabs.words)
        ids = _ids(data, predictor.vocabs.words)
        loss_sum = count = correct = 0.0
        state = None
        bptt = max(predictor.meta.config.training.bptt, 64)
        model = predictor.model
        for batch in LMWindows(ids, min(rows, max(1, len(ids) - 1)), bptt):
            batch = batch.to(predictor.device)
            scores, state = model.scores(batch, state)
            total, n = model.eval_terms(batch, scores)
            loss_sum += float(total)
            count += float(n)
            tally.add(scores, batch)
            real = batch.targets != IGNORE_INDEX
            correct += float(((scores.argmax(-1) == batch.targets) & real).sum())
        loss = loss_sum / count if count else 0.0
        result = {
            "loss": loss,
            "accuracy": correct / count if count else 0.0,
            "perplexity": perplexity(loss),
            "n_examples": _count_lines(data, predictor),
            "n_tokens": int(count),
        }
        return tally.into(result)

    # ------------------------------------------------------------ prediction

    def reads_labelled_input(self, format: str | None) -> bool:
        if format not in (None, "text"):
            raise ValueError(f"--format {format} cannot hold lm prompts; use --format text")
        return False

    def labels(self, predictor) -> list[str]:
        """The units the model can generate (its vocabulary without <pad> and <unk>)."""
        words = predictor.vocabs.words
        return [u for u in words.tokens if u not in (words.tokens[words.pad_id],
                                                     words.tokens[words.unk_id])]

    def predict(self, predictor, texts, settings) -> list:
        """Each prompt's continuation ("" for a blank prompt)."""
        return [self.continue_prompt(predictor, t, settings) for t in texts]

    def predict_lines(self, predictor, lines, settings, *, chunk: int):
        """TSV: each continuation on one line, with backslash, newline, carriage return
        and tab written as ``\\\\``, ``\\n``, ``\\r``, ``\\t``; JSON Lines:
        {"prompt", "continuation"}. A blank line gives a blank result."""
        from rnnseq.text_input import strip_line_end

        for line in lines:
            prompt = strip_line_end(line)
            text = self.continue_prompt(predictor, prompt, settings)
            if settings.output == "jsonl":
                yield json.dumps({"prompt": prompt, "continuation": text},
                                 ensure_ascii=False) + "\n"  # fmt: skip
            else:
                yield text.translate(_ESCAPES) + "\n"

    def continue_prompt(self, predictor, prompt: str, settings) -> str:
        if not prompt.strip():
            return ""
        with predictor.model_call():
            return self.generate(predictor, prompt, settings.max_new, settings.temperature,
                                 settings.seed, top_k=settings.top_k, stop=settings.stop)

    def default_stop(self, predictor) -> str:
        """Word models end at the end of the line (a sentence); character models never."""
        return "\n" if predictor.meta.config.data.unit == "word" else ""

    def _line_start(self, predictor) -> int | None:
        """The id of the unit that precedes every line of the training text ("\\n" for
        characters, <eos> for words), or None when the vocabulary lacks it."""
        words = predictor.vocabs.words
        unit = "\n" if predictor.meta.config.data.unit == "char" else EOS
        return words.encode([unit])[0] if unit in words else None

    def _prompt_ids(self, predictor, text: str) -> tuple[list[str], list[int]]:
        """The units of ``text`` (characters, or whitespace words) and their ids."""
        chars = predictor.meta.config.data.unit == "char"
        units = list(text) if chars else text.split()
        return units, predictor.vocabs.words.encode(units)

    @torch.no_grad()
    def generate(self, predictor, prompt: str, max_new: int = 200, temperature: float = 0.8,
                 seed: int = 0, *, top_k: int | None = None, stop: str | None = None) -> str:
        """Continue ``prompt`` as the start of a line.

        The prompt is read ``PROMPT_WINDOW`` units at a time, the state carried across,
        so a long prompt takes bounded memory. Each step then feeds the last unit and
        draws the next from softmax(z / temperature) over the ``top_k`` most likely units
        (temperature 0: the most likely unit), never <pad> or <unk>. A word model's
        <eos> is written as a line end ("\\n"); words are joined by single spaces.
        Generation stops after ``max_new`` units or where ``stop`` first appears (not
        included; None: :meth:`default_stop`, "" never). The same prompt and seed give
        the same continuation.
        """
        if isinstance(max_new, bool) or not isinstance(max_new, int) or max_new < 0:
            raise ValueError(f"max_new must be an integer >= 0, got {max_new!r}")
        if not (isinstance(temperature, (int, float)) and 0 <= temperature < math.inf):
            raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                                  or top_k < 1):  # fmt: skip
            raise ValueError(f"top_k must be an integer >= 1 or None, got {top_k!r}")
        stop = self.default_stop(predictor) if stop is None else stop
        words = predictor.vocabs.words
        chars = predictor.meta.config.data.unit == "char"
        net = predictor.model.net
        _, ids = self._prompt_ids(predictor, prompt)
        start = self._line_start(predictor)
        if start is not None:
            ids = [start, *ids]
        if not ids:  # no line start and no prompt: begin from <unk>
            ids = [words.unk_id]
        state = None
        while len(ids) > PROMPT_WINDOW:  # all but the last unit: context only
            window, ids = ids[:PROMPT_WINDOW], ids[PROMPT_WINDOW:]
            tokens = torch.tensor([window], device=predictor.device)  # (1, T)
            _, state = net.features(tokens, torch.tensor([len(window)]), state=state)
        eos = words.encode([EOS])[0] if EOS in words else None
        generator = torch.Generator(device="cpu").manual_seed(seed)
        text = ""
        for _ in range(max_new):
            tokens = torch.tensor([ids], device=predictor.device)  # (1, T)
            hidden, state = net.features(tokens, torch.tensor([len(ids)]), state=state)
            logits = net.output(hidden[0, -1]).float().cpu()  # (V,)
            logits[[words.pad_id, words.unk_id]] = -math.inf
            nxt = _draw(logits, temperature, top_k, generator)
            unit = "\n" if nxt == eos else words.decode([nxt])[0]
            joint = "" if chars or not text or unit == "\n" or text.endswith("\n") else " "
            text += joint + unit
            if stop:  # look where the new characters could complete it
                at = text.find(stop, max(0, len(text) - len(joint + unit) - len(stop) + 1))
                if at >= 0:
                    return text[:at]
            ids = [nxt]
        return text

    # ---------------------------------------------------------------- explain

    def parse_labels(self, text: str) -> list[str]:
        raise ValueError("--labels does not apply to lm: the text's next units are the labels")

    @torch.no_grad()
    def explain(self, predictor, text: str, labels: Sequence[str] | None, *,
                pretokenized: bool | None = None) -> Explanation:  # fmt: skip
        """Step j reads unit j-1 (the line start before the first unit) and is scored on
        unit j, as when the text is a line of the training file. Without a line start
        in the vocabulary, the first unit is context only."""
        if labels is not None:
            self.parse_labels("")
        units, ids = self._prompt_ids(predictor, text)
        start = self._line_start(predictor)
        shown = units
        if start is not None:
            shown = [predictor.vocabs.words.decode([start])[0], *units]
            ids = [start, *ids]
        if len(ids) < 2:
            raise ValueError("--text is empty: give at least one unit for the model to predict")
        net = predictor.model.net
        tokens = torch.tensor([ids[:-1]], device=predictor.device)  # (1, T)
        lengths = torch.tensor([len(ids) - 1])  # (1,)
        hidden, _ = net.features(tokens, lengths, return_state=False)  # (1, T, H)
        probs = torch.softmax(net.output(hidden).float(), -1)[0]  # (T, V)
        steps = [
            explained_step(shown[j], shown[j + 1], float(probs[j, ids[j + 1]]))
            for j in range(len(ids) - 1)
        ]
        return Explanation(steps, True, label_head="next unit")


def _draw(logits: torch.Tensor, temperature: float, top_k: int | None,
          generator: torch.Generator) -> int:  # fmt: skip
    """The next unit's id from logits (V,): the most likely for temperature 0, else a
    draw from softmax(logits / temperature) over the ``top_k`` most likely."""
    if temperature == 0:
        return int(logits.argmax())
    if top_k is not None and top_k < logits.numel():
        values, indices = logits.topk(top_k)  # (K,)
        probs = torch.softmax(values / temperature, -1)  # (K,)
        return int(indices[torch.multinomial(probs, 1, generator=generator)])
    probs = torch.softmax(logits / temperature, -1)  # (V,)
    return int(torch.multinomial(probs, 1, generator=generator))


@dataclass(frozen=True)
class TextFile:
    """A text file to evaluate a language model on, read when it is scored.

    path: the file; unit: the model's ("char" or "word"); cache: the token-file folder
    (None: :func:`rnnseq.data.token_cache.default_cache_dir`).
    """

    path: str
    unit: str
    cache: str | None = None

    def tokens(self, vocab: Vocab) -> TokenSpan:
        """The text as ids of ``vocab`` (units it lacks: ``<unk>``), from its token file:
        encoded now in one streaming pass, or mapped when a fresh one is cached."""
        found = token_file(self.path, unit=self.unit, vocab=vocab, cache_dir=self.cache,
                           progress=False)  # fmt: skip
        return TokenSpan.whole(found)


def _count_lines(data, predictor) -> int:
    """Lines of a unit stream (units, or a TokenSpan of ids): its line ends ("\\n", or
    <eos> for words), plus an unfinished last line. In a TokenSpan a line end is told
    by its id, so line ends the vocabulary lacks (rarer than --min-freq) are not seen."""
    end = "\n" if predictor.meta.config.data.unit == "char" else EOS
    if not isinstance(data, TokenSpan):
        ends = sum(1 for u in data if u == end)
        return ends + (1 if data and data[-1] != end else 0)
    words = predictor.vocabs.words
    end_id = words.encode([end])[0] if end in words else None
    ends = 0 if end_id is None else data.count(end_id)
    last = data.last()
    return ends + (1 if last is not None and last != end_id else 0)


def _ids(data, vocab: Vocab | None = None):
    """What LMWindows reads: a TokenSpan's reader (from disk), or units (with
    ``vocab``) or ids in memory as an int64 array."""
    if isinstance(data, TokenSpan):
        return data.reader()
    ids = data if vocab is None else vocab.encode(data)
    return np.asarray(ids, dtype=np.int64)  # (n,)


def _is_main_process() -> bool:
    """False on the processes of a distributed run other than rank 0 (no progress bars)."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _check_length(path: str, n_units: int) -> None:
    if n_units < 2:
        raise DataError(
            path, None, f"the text is {n_units} unit long; a language model needs at "
            "least 2 (one to read, the next to predict)"
        )


def _check_format(path: str, format: str | None) -> None:
    """Refuse a --format that cannot hold a language model's text (before reading)."""
    if format is not None and "lm" not in FORMATS[format]:
        raise ValueError(
            f"format {format!r} cannot feed task 'lm' (it feeds {', '.join(FORMATS[format])}); "
            "lm reads any file as plain text: use format 'text' (--format text)"
        )


def _detach(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
