"""``lm``: the next character or word at every step of a text (a language model).

    z_t = W · LSTM(x_1..x_t) + b,    L_t = -log softmax(z_t)[x_{t+1}]

The text is one stream of units (characters, or words with ``<eos>`` per line) read
in windows of ``--bptt`` steps; the encoder's state flows from one window to the
next (truncated backpropagation through time). A large vocabulary trains through
the chunked linear + loss head, so the (N, T, V) logits never exist at once.
``rnnseq predict`` continues each prompt; the loss per step gives the perplexity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from rnnseq.data import EOS, IGNORE_INDEX, Vocab, read_dataset
from rnnseq.data.lm_stream import lm_stream_batches
from rnnseq.data.vocab import PAD, UNK
from rnnseq.evaluation import perplexity
from rnnseq.explanation import Explanation, explained_step
from rnnseq.kernels import use_linear_head
from rnnseq.losses import linear_sequence_labeling_loss_terms, sequence_labeling_loss_terms
from rnnseq.models.tagger import SequenceTagger
from rnnseq.preprocess import Vocabularies
from rnnseq.tasks.base import RunData, Task
from rnnseq.training.sharding import lm_batches

__all__ = ["LanguageModelTask"]


class LanguageModelTask(Task):
    name = "lm"

    # ------------------------------------------------------------------ data

    def read(self, path: str, cfg) -> list[str]:
        return read_dataset(path, self.name, format=cfg.data.format, unit=cfg.data.unit)

    def read_labelled(self, path: str, *, format, column, config) -> list[str]:
        if column is not None:
            raise ValueError("--column does not apply to a language model's text")
        return read_dataset(path, self.name, format=format, unit=config.data.unit)

    def prepare(self, train, dev, dev_name, cfg, vocabs, schemes) -> RunData:
        if vocabs is None:
            units = Vocab.build([train], min_freq=cfg.data.min_freq, specials=(PAD, UNK))
            vocabs = Vocabularies(words=units, labels=units)
        return RunData(vocabs, schemes, vocabs.words.encode(train), dev, dev_name, len(train))

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
        """The same windows every epoch: the state flows through them."""
        key = ("lm windows", cfg.training.batch_size, cfg.training.bptt, rank, world_size)
        if key not in data.plan_cache:
            data.plan_cache.clear()
            data.plan_cache[key] = lm_batches(
                data.train, cfg.training.batch_size, cfg.training.bptt, rank=rank,
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
                 rows: int = 16) -> dict:  # fmt: skip
        """Loss per unit, next-unit accuracy and perplexity of the unit stream ``data``."""
        from rnnseq.inference import ObjectiveTally

        tally = ObjectiveTally(predictor.model, objective)
        ids = predictor.vocabs.words.encode(data)
        loss_sum = count = correct = 0.0
        state = None
        bptt = max(predictor.meta.config.training.bptt, 64)
        model = predictor.model
        for batch in lm_stream_batches(ids, min(rows, max(1, len(ids) - 1)), bptt):
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
            "n_examples": _count_lines(data),
            "n_tokens": int(count),
        }
        return tally.into(result)

    # ------------------------------------------------------------ prediction

    def reads_labelled_input(self, format: str | None) -> bool:
        if format not in (None, "text"):
            raise ValueError(f"--format {format} cannot hold lm prompts; use --format text")
        return False

    def predict_options(self) -> tuple[str, ...]:
        return ("max_new", "temperature", "seed")

    def predict(self, predictor, texts, *, max_new=200, temperature=0.8, seed=0, **_) -> list:
        return [self.generate(predictor, t, max_new, temperature, seed) for t in texts]

    def predict_lines(self, predictor, lines, *, chunk: int, max_new=200, temperature=0.8,
                      seed=0, **_):  # fmt: skip
        for line in lines:
            yield self.generate(predictor, line.rstrip("\r\n"), max_new, temperature, seed) + "\n"

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
                 seed: int = 0) -> str:  # fmt: skip
        """Continue ``prompt`` as the start of a line.

        Each step feeds the last unit and draws the next from softmax(z / temperature)
        (temperature 0: the most likely unit), never <pad> or <unk>. Generation stops
        when the model ends the line (it draws "\\n" or <eos>, which is not returned)
        or after ``max_new`` units, so the result is one line, possibly empty. The same
        prompt and seed give the same continuation.
        """
        if isinstance(max_new, bool) or not isinstance(max_new, int) or max_new < 0:
            raise ValueError(f"max_new must be an integer >= 0, got {max_new!r}")
        if not (isinstance(temperature, (int, float)) and 0 <= temperature < math.inf):
            raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
        words = predictor.vocabs.words
        net = predictor.model.net
        _, ids = self._prompt_ids(predictor, prompt)
        start = self._line_start(predictor)
        if start is not None:
            ids = [start, *ids]
        if not ids:  # no line start and no prompt: begin from <unk>
            ids = [words.unk_id]
        ends = {words.encode([u])[0] for u in ("\n", EOS) if u in words}  # line ends
        generator = torch.Generator(device="cpu").manual_seed(seed)
        state = None
        out: list[str] = []
        for _ in range(max_new):
            tokens = torch.tensor([ids], device=predictor.device)  # (1, T)
            hidden, state = net.features(tokens, torch.tensor([len(ids)]), state=state)
            logits = net.output(hidden[0, -1]).float().cpu()  # (V,)
            logits[[words.pad_id, words.unk_id]] = -math.inf
            if temperature == 0:
                nxt = int(logits.argmax())
            else:
                probs = torch.softmax(logits / temperature, -1)  # (V,)
                nxt = int(torch.multinomial(probs, 1, generator=generator))
            if nxt in ends:
                break
            out.append(words.decode([nxt])[0])
            ids = [nxt]
        return "".join(out) if predictor.meta.config.data.unit == "char" else " ".join(out)

    # ---------------------------------------------------------------- explain

    def parse_labels(self, text: str) -> list[str]:
        raise ValueError("--labels does not apply to lm: the text's next units are the labels")

    @torch.no_grad()
    def explain(self, predictor, text: str, labels: Sequence[str] | None) -> Explanation:
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


def _count_lines(units: Sequence[str]) -> int:
    """Lines of a unit stream: its line ends, plus an unfinished last line."""
    ends = sum(1 for u in units if u in ("\n", EOS))
    return ends + (1 if units and units[-1] not in ("\n", EOS) else 0)


def _detach(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
