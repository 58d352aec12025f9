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
from tqdm import tqdm

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
from rnnseq.preprocess import class_weight_values
from rnnseq.serialization import ModelFolderError
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
from rnnseq.training.config import TrainConfig, resumed_config
from rnnseq.training.folder import RunFolder, check_writable, remove_leftovers
from rnnseq.training.optim import LearningRateSchedule, make_optimizer
from rnnseq.training.setup import read_run_data
from rnnseq.training.step import NumericalError, train_step

__all__ = ["train", "TrainResult", "NumericalError"]


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
    cfg = config.resolved()
    ctx = distributed.setup(resolve_device(cfg.training.device))
    try:
        # The other processes stay quiet: rank 0 warns and logs for the run.
        quiet = nullcontext() if ctx.is_main else warnings.catch_warnings()
        with quiet:
            if not ctx.is_main:
                warnings.simplefilter("ignore")
            return _Run(cfg, ctx).run()
    finally:
        distributed.teardown(ctx)


class _Run:
    def __init__(self, cfg: TrainConfig, ctx: distributed.Context):
        self.device, self.ctx = ctx.device, ctx
        self.task = get_task(cfg.task)
        if cfg.training.threads:
            torch.set_num_threads(cfg.training.threads)
        self.out = Path(cfg.out)
        if cfg.training.resume:
            cfg, model, resumed = self._load_run(cfg)
        else:
            model, resumed = self._new_run(cfg), None
        self.cfg = cfg
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

    def _new_run(self, cfg: TrainConfig) -> TaskModel:
        """Read the data, build vocabularies and a freshly initialised model."""
        if self.out.exists() and not cfg.training.overwrite:
            raise ModelFolderError(
                f"{self.out} already exists; use --overwrite to replace it or --resume "
                "to continue it"
            )
        self.data = read_run_data(cfg)
        self.meta = FolderMeta(task=self.task, config=cfg, schemes=self.data.schemes)
        torch.manual_seed(cfg.training.seed)  # the same initial weights on every process
        vocabs = self.data.vocabs
        return build_task_model(
            network_config(self.meta, vocabs), self.meta, vocabs, bf16=cfg.training.bf16
        )

    def _load_run(self, cfg: TrainConfig):
        """The saved run's options, model (at its last checkpoint) and resume state;
        the data read with the saved vocabularies."""
        if self.ctx.is_main:
            remove_leftovers(self.out)  # a killed run's half-written files
        loaded = load_model_folder(self.out, "cpu")
        cfg = resumed_config(cfg, loaded.meta.config)
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
        try:
            while not self._done():
                self._epoch()
                improved, stop = self._end_of_epoch()
                p.epoch += 1
                p.step_in_epoch = 0
                p.stopped_early = stop
                self._checkpoint(metrics=True, weights=improved is not False)
        except NumericalError as e:
            raise NumericalError(f"{e}; {self._advice()}") from None
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
            self.lm_state = None
        self.model.train()
        show = self.ctx.is_main and (
            t.progress if t.progress is not None else sys.stderr.isatty()
        )
        bar = tqdm(
            total=len(plan),
            initial=p.step_in_epoch,
            disable=not show,
            leave=False,
            desc=f"epoch {p.epoch}/{t.epochs}",
            unit="batch",
            file=sys.stderr,
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        tokens = 0
        try:
            for k in range(p.step_in_epoch, len(plan)):
                rows = plan[k]
                batch = self.task.batch(self.data, rows)
                with torch.autograd.set_detect_anomaly(t.detect_anomaly):
                    result = train_step(
                        self.net,
                        batch.to(self.device),
                        self.objective,
                        self.optimizer,
                        self.ctx,
                        clip=t.clip,
                        state=self.lm_state,
                        where=f"step {p.global_step + 1} (epoch {p.epoch})",
                    )
                self.lm_state = result.state
                p.global_step += 1
                p.step_in_epoch = k + 1
                p.train_total += result.total
                p.train_count += 1.0 if result.count is None else result.count
                tokens += result.tokens
                p.tokens += result.tokens
                if show:
                    rate = tokens / max(time.perf_counter() - started, 1e-9)
                    bar.set_postfix(loss=f"{self._train_loss():.4f}", tok_s=f"{rate:,.0f}")
                    bar.update(1)
                if t.max_steps is not None and p.global_step >= t.max_steps:
                    return
                if t.checkpoint_every and p.global_step % t.checkpoint_every == 0:
                    now, cpu_now = time.perf_counter(), time.process_time()
                    p.seconds += now - started
                    p.cpu_seconds += cpu_now - cpu_started
                    started, cpu_started = now, cpu_now
                    self._checkpoint()
        finally:
            bar.close()
            p.seconds += time.perf_counter() - started
            p.cpu_seconds += time.process_time() - cpu_started

    def _train_loss(self) -> float:
        p = self.progress
        return p.train_total / p.train_count if p.train_count else 0.0

    # ------------------------------------------------------------ epoch end

    def _end_of_epoch(self) -> tuple[bool | None, bool]:
        """Score on dev (rank 0), log, follow the schedule; every process gets rank 0's
        decisions. Returns (improved: None without dev, stop early)."""
        t, p, ctx = self.cfg.training, self.progress, self.ctx
        record = {
            "epoch": p.epoch,
            "steps": p.global_step,
            "train_loss": self._train_loss(),
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

    def _advice(self) -> str:
        if self.saved_step is None:
            kept = "no checkpoint was written yet, so there is no model folder"
        else:
            kept = f"{self.out} keeps the last good checkpoint (step {self.saved_step})"
        return (
            f"{kept}; try a lower --lr or --clip 1 (and --detect-anomaly to find the "
            "operation that made it)"
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


def _summary(record: dict, epochs: int, improved: bool | None) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}", f"train loss {record['train_loss']:.4f}"]
    names = {
        "dev_objective": "dev loss",
        "dev_loss": "dev nats/step",
        "dev_accuracy": "dev accuracy",
        "dev_span_f1": "dev span F1",
        "dev_perplexity": "dev perplexity",
    }
    for key, name in names.items():
        if key in record:
            parts.append(f"{name} {record[key]:.4f}")
    parts.append(f"lr {record['lr']:.3g}")
    parts.append(f"{record['seconds']:.0f}s")
    return " | ".join(parts) + ("  (best so far)" if improved else "")


def _to_device(state, device):
    if isinstance(state, tuple):
        return tuple(s.to(device) for s in state)
    return state.to(device)
