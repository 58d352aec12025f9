"""The training loop: batches -> loss -> gradient -> optimizer, epoch after epoch.

After every epoch the model is scored on the dev data; the best model is kept in
the folder's ``model.safetensors``, the learning rate follows its schedule, and
training stops early when dev stops improving. A resumable checkpoint, the
metrics and the loss curve are written (atomically) after every epoch, and a
checkpoint every ``checkpoint_every`` steps if asked; the folder itself appears,
whole, at the first checkpoint (:mod:`rnnseq.training.folder`).

Loss bookkeeping is (sum, count) pairs divided once (:mod:`rnnseq.training.step`),
so the training loss of an epoch, the dev loss and the gradient mean the same
thing whatever the batch size or the number of processes.
"""

from __future__ import annotations

import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnseq.inference import Predictor, resolve_device
from rnnseq.model_folder import (
    FILES,
    FolderMeta,
    build_task_model,
    load_model_folder,
    load_weights,
    network_config,
    unique_state,
)
from rnnseq.options import OptionError, OptionWarning, literal
from rnnseq.preprocess import class_weight_values
from rnnseq.serialization import FolderExistsError, ModelFolderError
from rnnseq.task_model import Objective, TaskModel
from rnnseq.tasks import get_task
from rnnseq.training import distributed
from rnnseq.training.checkpoint import (
    Progress,
    load_resume,
    rng_state,
    save_resume,
    set_rng_state,
)
from rnnseq.training.config import TrainConfig, option_applies, resumed_config
from rnnseq.training.folder import RunFolder, check_writable, remove_leftovers
from rnnseq.training.optim import LearningRateSchedule, make_optimizer
from rnnseq.training.progress import EpochProgress
from rnnseq.training.setup import prepare_run_data, read_run_data, read_run_files
from rnnseq.training.step import (
    NumericalError,
    OutOfMemory,
    StepResult,
    TrainingFailed,
    out_of_memory,
    train_step,
)

__all__ = ["train", "TrainResult", "TrainingFailed", "NumericalError", "OutOfMemory"]


@dataclass
class TrainResult:
    out: Path  # the model folder
    metrics: dict  # what metrics.json holds (on rank 0; the others lack the dev scores)
    is_main: bool = True  # False on the other processes of a distributed run


def train(config: TrainConfig) -> TrainResult:
    """Run ``config`` (see :class:`TrainConfig`); return the folder and its metrics.

    Under torchrun every process calls this; they train one model together
    (:mod:`rnnseq.training.distributed`). Only rank 0 writes files and logs.

    Raises:
        ValueError: bad options or input, found before any folder is written.
        ModelFolderError: --out exists (without --overwrite/--resume), or its
            checkpoint cannot be resumed.
        NumericalError: the loss or gradient became NaN/inf; the folder keeps the
            last good checkpoint.
    """
    cfg = config.resolved()  # checked before anything is read; the data may choose more
    if cfg.training.device == "cuda" and not torch.cuda.is_available():
        raise OptionError("{0} was asked for, but torch sees no CUDA GPU", ("device", "cuda"))
    ctx = distributed.setup(resolve_device(cfg.training.device))
    try:
        # The other processes stay quiet: rank 0 warns and logs for the run.
        quiet = nullcontext() if ctx.is_main else warnings.catch_warnings()
        with quiet:
            if not ctx.is_main:
                warnings.simplefilter("ignore")
            result = _Run(config, cfg, ctx).run()
        distributed.wait_for_all(ctx)  # no rank leaves the group while another still talks
        return result
    finally:
        distributed.teardown(ctx)


class _Run:
    def __init__(self, given: TrainConfig, cfg: TrainConfig, ctx: distributed.Context):
        """``given``: the options as the user gave them; ``cfg``: resolved without the data."""
        self.device, self.ctx = ctx.device, ctx
        self.task = get_task(cfg.task)
        if cfg.training.threads:
            torch.set_num_threads(cfg.training.threads)
        self.out = Path(cfg.out)
        if cfg.training.resume:
            cfg, model, resumed = self._load_run(given)
        else:
            (cfg, model), resumed = self._new_run(given, cfg), None
        self.cfg = cfg
        if self.data.dev is None:
            warnings.warn(_no_dev_warning(cfg), stacklevel=3)
        # Fail now, before any folder exists, if the processes cannot all be fed.
        self.task.epoch_plan(self.data, cfg, 1, ctx.rank, ctx.world_size)
        self.model: TaskModel = model.to(self.device).train()
        self.net = distributed.wrap(self.model, ctx)  # DDP, for several processes
        self.optimizer = make_optimizer(self.model.parameters(), cfg.training, self.device)
        self.schedule = LearningRateSchedule(self.optimizer, cfg.training)
        self.objective = self._objective()
        if ctx.is_main and not cfg.training.resume:
            check_writable(self.out)
        self.folder = RunFolder(
            self.out,
            self.data.vocabs,
            self.meta,
            overwrite=cfg.training.overwrite,
            exists=cfg.training.resume,
        )
        self.progress = Progress(world_size=ctx.world_size)
        self.lm_state = None
        self.dev_encoded = None  # the dev set as ids, made at the first dev scoring
        self.saved_step: int | None = None  # global step of the last checkpoint written
        torch.manual_seed(cfg.training.seed * 1000 + ctx.rank)  # each process its own dropout
        if resumed is not None:
            self.optimizer.load_state_dict(resumed.optimizer_state)
            self.progress = resumed.progress
            self.saved_step = self.progress.global_step
            set_rng_state(resumed.rng_states[ctx.rank], self.device)
            if resumed.lm_states is not None:
                self.lm_state = _to_device(resumed.lm_states[ctx.rank], self.device)

    def _new_run(self, given: TrainConfig, cfg: TrainConfig) -> tuple[TrainConfig, TaskModel]:
        """Read the data, choose the defaults it decides (:mod:`.auto_defaults`), build
        vocabularies and a freshly initialised model; the run's config and the model."""
        if self.out.exists() and not cfg.training.overwrite:
            raise FolderExistsError(self.out)
        # lm: token files; classify, tag: a training file too large to read
        streamed = self.task.stream_run_data(cfg, None, None, resolve=given.resolved)
        if streamed is not None:
            self.data = streamed
            cfg = streamed.config or cfg
        else:
            train, dev, dev_name = read_run_files(cfg)
            summary = self.task.data_summary(train, has_dev=dev is not None)
            if summary is not None:
                cfg = given.resolved(summary)
            self.data = prepare_run_data(cfg, train, dev, dev_name)
        self.meta = FolderMeta(task=self.task, config=cfg, schemes=self.data.schemes)
        torch.manual_seed(cfg.training.seed)  # the same initial weights on every process
        vocabs = self.data.vocabs
        model = build_task_model(
            network_config(self.meta, vocabs), self.meta, vocabs, bf16=cfg.training.bf16
        )
        self.task.initialise(model, self.data)  # pretrained word vectors, if any
        return cfg, model

    def _load_run(self, given: TrainConfig):
        """The saved run's options, model (at its last checkpoint) and resume state;
        the data read with the saved vocabularies."""
        if self.ctx.is_main:
            remove_leftovers(self.out)  # a killed run's half-written files
        loaded = load_model_folder(self.out, "cpu")
        cfg = resumed_config(given, loaded.meta.config)
        resumed = load_resume(self.out / FILES["resume"])
        if resumed.progress.world_size != self.ctx.world_size:
            raise ModelFolderError(
                f"{self.out}: the run was started with {resumed.progress.world_size} "
                f"process(es); resume it with the same number, not {self.ctx.world_size}"
            )
        self.data = read_run_data(cfg, loaded.vocabs, loaded.meta.schemes)
        self.meta = FolderMeta(task=self.task, config=cfg, schemes=loaded.meta.schemes)
        model = build_task_model(
            network_config(self.meta, loaded.vocabs),
            self.meta,
            loaded.vocabs,
            bf16=cfg.training.bf16,
        )
        load_weights(model, resumed.model_state, self.out / FILES["resume"])
        return cfg, model, resumed

    def _objective(self) -> Objective:
        options, data = self.cfg.objective, self.data
        weights = class_weight_values(
            options.class_weights, data.vocabs.labels, self.task.class_weight_targets(data)
        )
        return Objective(
            options=options,
            class_weights=None if weights is None else torch.tensor(weights, device=self.device),
        )

    # ------------------------------------------------------------------- loop

    def run(self) -> TrainResult:
        p = self.progress
        chosen = self.cfg.chosen
        if chosen is not None and chosen.options:  # one line: what the data chose, and why
            self._log(chosen.description)
        try:
            while not self._done():
                self._epoch()
                improved, stop = self._end_of_epoch()
                p.epoch += 1
                p.step_in_epoch = 0
                p.stopped_early = stop
                self._checkpoint(metrics=True, weights=improved is not False)
        except NumericalError as e:
            raise NumericalError(f"{literal(e)}; {self._advice()}", *_ADVICE) from None
        except OutOfMemory as e:
            raise OutOfMemory(f"{e.template}; {self._kept()}", *e.refs) from None
        self._log(f"done: model folder {self.out}")
        return TrainResult(self.out, self._metrics(), self.ctx.is_main)

    def _done(self) -> bool:
        p, t = self.progress, self.cfg.training
        steps_done = t.max_steps is not None and p.global_step >= t.max_steps
        return p.stopped_early or steps_done or p.epoch > t.epochs

    def _epoch_plan(self) -> list:
        """This process's batches of the current epoch (the task's cheap plan items,
        made into batches when used)."""
        ctx = self.ctx
        return self.task.epoch_plan(
            self.data, self.cfg, self.progress.epoch, ctx.rank, ctx.world_size
        )

    def _epoch(self) -> None:
        """Train on this epoch's batches, from the first not yet taken; stop at max_steps."""
        t, p = self.cfg.training, self.progress
        plan = self._epoch_plan()
        if p.step_in_epoch == 0:
            p.train_total = p.train_count = 0.0
            p.train_tokens = 0
            self.lm_state = None
        self.model.train()
        shown = EpochProgress(
            self._progress_mode(),
            total=len(plan),
            done=p.step_in_epoch,
            label=f"epoch {p.epoch}/{t.epochs}",
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        tokens = 0
        try:
            for k in range(p.step_in_epoch, len(plan)):
                result = self._step(plan[k])
                self.lm_state = result.state
                p.global_step += 1
                p.step_in_epoch = k + 1
                p.train_total += result.total
                p.train_count += 1.0 if result.count is None else result.count
                p.train_tokens += result.tokens
                tokens += result.tokens
                p.tokens += result.tokens
                shown.update(k + 1, _loss_text("train_loss", self._train_losses()), tokens)
                if t.max_steps is not None and p.global_step >= t.max_steps:
                    return
                if t.checkpoint_every and p.global_step % t.checkpoint_every == 0:
                    now, cpu_now = time.perf_counter(), time.process_time()
                    p.seconds += now - started
                    p.cpu_seconds += cpu_now - cpu_started
                    started, cpu_started = now, cpu_now
                    self._checkpoint()
        finally:
            shown.close()
            p.seconds += time.perf_counter() - started
            p.cpu_seconds += time.process_time() - cpu_started

    def _step(self, item) -> StepResult:
        """One optimizer step on the batch of plan item ``item``; an allocation failure
        becomes OutOfMemory naming the batch's shape and the options that bound it."""
        t, p = self.cfg.training, self.progress
        where = f"step {p.global_step + 1} (epoch {p.epoch})"
        shape = None
        try:
            batch = self.task.batch(self.data, item)
            shape = tuple(batch.tokens.shape)  # (N, T)
            with torch.autograd.set_detect_anomaly(t.detect_anomaly):
                return train_step(
                    self.net,
                    batch.to(self.device),
                    self.objective,
                    self.optimizer,
                    self.ctx,
                    clip=t.clip,
                    state=self.lm_state,
                    where=where,
                )
        except (RuntimeError, MemoryError) as e:
            asked = out_of_memory(e)
            if asked is None:
                raise
            self.optimizer.zero_grad(set_to_none=True)
            raise self._out_of_memory(where, shape, asked) from None

    def _out_of_memory(self, where: str, shape, asked: str) -> OutOfMemory:
        what = "a batch" if shape is None else (
            f"a batch of {shape[0]} sequence(s) of up to {shape[1]:,} tokens"
        )  # fmt: skip
        tried = f" (it asked the {self.device.type} for {asked} more)" if asked else ""
        bounds = _batch_bounds(self.cfg.task)
        lower = " or ".join(f"{{{i}}}" for i in range(len(bounds)))
        return OutOfMemory(
            f"out of memory at {where}: {what}{tried}; a lower {lower} makes batches smaller",
            *bounds,
        )

    def _progress_mode(self) -> str | None:
        """The display: "bar" at a terminal (or with --progress), "lines" elsewhere, None with
        --no-progress or on the other processes."""
        asked = self.cfg.training.progress
        if not self.ctx.is_main or asked is False:
            return None
        return "bar" if asked or sys.stderr.isatty() else "lines"

    def _sums_steps(self) -> bool:
        """Whether the objective adds up a sequence's steps (a summed time reduction or a
        CRF's sequence score, reduced over sequences): then its per-step mean is shown
        beside it, for a number comparable with the dev loss in nats per step."""
        o = self.cfg.objective
        summed = o.loss == "crf" or o.time_reduction == "sum"
        return self.task.per_step and summed and o.reduction != "token_mean"

    def _train_losses(self) -> tuple[float, float | None]:
        """The epoch's training objective so far, and its mean per step (or None)."""
        p = self.progress
        loss = p.train_total / p.train_count if p.train_count else 0.0
        if not self._sums_steps():
            return loss, None
        return loss, p.train_total / p.train_tokens if p.train_tokens else 0.0

    # ------------------------------------------------------------ epoch end

    def _end_of_epoch(self) -> tuple[bool | None, bool]:
        """Score on dev (rank 0), log, follow the schedule; every process gets rank 0's
        decisions. Returns (improved: None without dev, stop early)."""
        t, p, ctx = self.cfg.training, self.progress, self.ctx
        train_loss, per_step = self._train_losses()
        record = {"epoch": p.epoch, "steps": p.global_step, "train_loss": train_loss}
        if per_step is not None:
            record["train_loss_per_step"] = per_step
        record |= {
            "lr": self.schedule.lr,
            "seconds": round(p.seconds, 2),
            "cpu_seconds": round(p.cpu_seconds, 2),
            "tokens": p.tokens,
        }
        decision = torch.zeros(2)  # (improved, stop)
        if ctx.is_main and self.data.dev is not None:
            scores = self._evaluate_dev()
            record["dev_loss"] = scores["loss"]
            record.update(
                {
                    f"dev_{k}": v
                    for k, v in scores.items()
                    if k not in ("per_class", "loss") and isinstance(v, (int, float))
                }
            )
            if not self._sums_steps():
                record.pop("dev_objective_per_step", None)
            score = self.task.selection_score(scores)
            improved = p.best_score is None or score > p.best_score
            if improved:
                p.best_score, p.best_epoch, p.bad_epochs = score, p.epoch, 0
            else:
                p.bad_epochs += 1
            decision[0] = float(improved)
            decision[1] = float(t.patience > 0 and p.bad_epochs >= t.patience)
        decision = ctx.broadcast(decision)
        improved = None if self.data.dev is None else bool(decision[0])
        stop = bool(decision[1])
        p.history.append(record)
        self.schedule.epoch_end(p.epoch, improved)
        self._log(_summary(record, t.epochs, improved))
        if stop:
            self._log(f"early stopping: dev has not improved for {t.patience} epoch(s)")
        return improved, stop

    @torch.no_grad()
    def _evaluate_dev(self) -> dict:
        self.model.eval()
        try:
            predictor = Predictor(self.model, self.data.vocabs, self.meta, self.device)
            if self.dev_encoded is None:
                self.dev_encoded = predictor.encode_labelled(self.data.dev, self.data.dev_name)
            return predictor.evaluate_data(
                self.data.dev, self.data.dev_name, self.objective, encoded=self.dev_encoded
            )
        finally:
            self.model.train()

    # ----------------------------------------------------------- checkpoints

    def _checkpoint(self, *, metrics: bool = False, weights: bool = False) -> None:
        """Every process hands rank 0 its RNG and lm states; rank 0 writes the
        checkpoint (and, at an epoch end, the metrics and the best weights)."""
        rngs = self._gather_rng()
        lm_states = self._gather_lm_state()
        if self.ctx.is_main:
            p = self.progress

            def write_resume(path: Path) -> None:
                save_resume(path, p, unique_state(self.model), self.optimizer, rngs, lm_states)

            self.folder.checkpoint(
                self.model,
                write_resume,
                metrics=self._metrics() if metrics else None,
                weights=weights,
            )
        self.saved_step = self.progress.global_step

    def _gather_rng(self) -> list[dict[str, torch.Tensor]]:
        mine = rng_state(self.device)
        per_key = {k: self.ctx.gather(v) for k, v in mine.items()}  # key -> [rank]
        return [{k: per_key[k][r] for k in mine} for r in range(self.ctx.world_size)]

    def _gather_lm_state(self) -> list | None:
        state = self.lm_state
        if state is None:
            return None
        parts = state if isinstance(state, tuple) else (state,)
        gathered = [self.ctx.gather(t) for t in parts]  # part -> [rank]
        per_rank = [tuple(g[r].cpu() for g in gathered) for r in range(self.ctx.world_size)]
        return per_rank if isinstance(state, tuple) else [s[0] for s in per_rank]

    def _kept(self) -> str:
        """What a failed run leaves (for a template)."""
        if self.saved_step is None:
            return "no checkpoint was written yet, so there is no model folder"
        return f"{literal(self.out)} keeps the last good checkpoint (step {self.saved_step})"

    def _advice(self) -> str:
        """What is kept, and what to try (a template naming the options of _ADVICE)."""
        return (
            f"{self._kept()}; try a lower {{0}} or {{1}} (and {{2}} to find the operation "
            "that made it)"
        )

    # ---------------------------------------------------------------- output

    def _metrics(self) -> dict:
        p = self.progress
        best = next((h for h in p.history if h["epoch"] == p.best_epoch), None)
        return {
            "task": self.cfg.task,
            "loss_label": self.cfg.objective.label(self.task.per_step),
            "epochs": p.history,
            "best_epoch": p.best_epoch,
            "best": best,
            "steps": p.global_step,
            "processes": self.ctx.world_size,
            "train_seconds": round(p.seconds, 2),
            "train_examples": self.data.n_train,
            "dev": self.data.dev_name,
        }

    def _log(self, message: str) -> None:
        if self.ctx.is_main:
            print(message, file=sys.stderr, flush=True)


_ADVICE = ("lr", ("clip", 1), ("detect_anomaly", True))


def _no_dev_warning(cfg: TrainConfig) -> OptionWarning:
    """Without dev data nothing is selected: say so, what happens instead, and how to."""
    refs: list = ["dev", ("holdout", 0.1)]
    schedule = ""
    if cfg.training.schedule == "plateau":
        schedule = " and the learning rate never decays ({2} follows dev scores)"
        refs.append(("schedule", "plateau"))
    return OptionWarning(
        "no dev data: no model selection and no early stopping, so the folder keeps the "
        f"last epoch's weights{schedule}; give a dev file ({{0}}) or hold out part of the "
        "training data ({1}) to keep the best epoch",
        *refs,
    )


def _batch_bounds(task: str) -> tuple[str, ...]:
    """The options that bound a batch's size for ``task``: the batch size, and the
    sequence length (--max-length) or window (--bptt) where it applies."""
    return ("batch_size", *(n for n in ("max_length", "bptt") if option_applies(n, task)))


# The scores of an epoch's line, named as metrics.json names them.
_LOGGED = ("dev_objective", "dev_loss", "dev_accuracy", "dev_macro_f1", "dev_span_f1",
           "dev_perplexity")  # fmt: skip


def _loss_text(name: str, losses: tuple[float, float | None]) -> str:
    """A summed objective with its mean per step: "train_loss 153.7500 (2.4023 per step)"."""
    value, per_step = losses
    text = f"{name} {value:.4f}"
    return text if per_step is None else f"{text} ({per_step:.4f} per step)"


def _summary(record: dict, epochs: int, improved: bool | None) -> str:
    """The epoch's line: the keys of its metrics.json record, with their values."""
    parts = [f"epoch {record['epoch']}/{epochs}"]
    train = (record["train_loss"], record.get("train_loss_per_step"))
    parts.append(_loss_text("train_loss", train))
    for key in _LOGGED:
        if key == "dev_objective" and key in record:
            per_step = record.get("dev_objective_per_step")
            parts.append(_loss_text(key, (record[key], per_step)))
        elif key in record:
            parts.append(f"{key} {record[key]:.4f}")
    parts.append(f"lr {record['lr']:.3g}")
    parts.append(f"{record['seconds']:.0f}s")
    return " | ".join(parts) + ("  (best so far)" if improved else "")


def _to_device(state, device):
    if isinstance(state, tuple):
        return tuple(s.to(device) for s in state)
    return state.to(device)
