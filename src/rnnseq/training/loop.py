"""The training loop: batches -> loss -> gradient -> optimizer, epoch after epoch.

After every epoch the model is scored on the dev data; the best model is kept in
the folder's ``model.safetensors``, the learning rate follows its schedule, and
training stops early when dev stops improving. A resumable checkpoint, the
metrics and the loss curve are written (atomically) after every epoch, and
every ``checkpoint_every`` steps if asked.

Loss bookkeeping is (sum, count) pairs divided once, so the training loss of an
epoch, the dev loss and the gradient mean the same thing whatever the batch size
or the number of processes.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from rnnseq.data import bucket_batches, collate, shard_batches
from rnnseq.data.lm_stream import lm_stream_batches
from rnnseq.inference import Predictor, resolve_device
from rnnseq.model_folder import (
    FILES,
    FolderMeta,
    build_task_model,
    create_folder,
    load_model_folder,
    load_weights,
    unique_state,
    write_metrics,
    write_weights,
)
from rnnseq.preprocess import class_weight_values
from rnnseq.serialization import ModelFolderError
from rnnseq.task_model import LossOptions, TaskModel
from rnnseq.training import distributed
from rnnseq.training.checkpoint import Progress, load_resume, save_resume
from rnnseq.training.config import TrainConfig
from rnnseq.training.optim import LearningRateSchedule, make_optimizer
from rnnseq.training.setup import model_config_for, read_run_data

__all__ = ["train", "TrainResult", "NumericalError"]


class NumericalError(RuntimeError):
    """The loss or the gradient became NaN or infinite."""


@dataclass
class TrainResult:
    out: Path  # the model folder
    metrics: dict  # what metrics.json holds


def selection_score(task: str, scores: dict) -> float:
    """Higher is better: span F1 for span tags, accuracy for other tags and classes,
    minus the loss for a language model."""
    if task == "lm":
        return -scores["loss"]
    return scores.get("span_f1", scores["accuracy"])


def train(config: TrainConfig) -> TrainResult:
    """Run ``config`` (see :class:`TrainConfig`); return the folder and its metrics."""
    cfg = config.resolved()
    device = resolve_device(cfg.device)
    ctx = distributed.setup(device)
    if device.type == "cuda" and ctx.distributed:
        device = torch.device("cuda", ctx.local_rank)
    try:
        return _Run(cfg, device, ctx).run()
    finally:
        distributed.teardown(ctx)


class _Run:
    def __init__(self, cfg: TrainConfig, device: torch.device, ctx: distributed.Context):
        self.cfg, self.device, self.ctx = cfg, device, ctx
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.out = Path(cfg.out)
        resumed = None
        if cfg.resume:
            loaded = load_model_folder(self.out, "cpu")
            resumed = load_resume(self.out / FILES["resume"])
            data = read_run_data(cfg, loaded.vocabs, loaded.meta.schemes)
            self.meta = loaded.meta
            model = loaded.model
            if resumed.progress.world_size != ctx.world_size:
                raise ModelFolderError(
                    f"{self.out}: the run was started with {resumed.progress.world_size} "
                    f"process(es); resume it with the same number, not {ctx.world_size}"
                )
        else:
            data = read_run_data(cfg)
            self.meta = FolderMeta(
                task=cfg.task,
                loss=cfg.loss,
                schemes=data.schemes,
                unit=cfg.unit,
                bptt=cfg.bptt,
                training=cfg.to_dict(),
            )
            model = build_task_model(model_config_for(cfg, data.vocabs), self.meta, data.vocabs)
        self.data = data
        self.model: TaskModel = model.to(device).train()
        self.net = self.model
        if ctx.distributed:
            self.net = DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None
            )
        self.optimizer = make_optimizer(self.model.parameters(), cfg, device)
        self.schedule = LearningRateSchedule(self.optimizer, cfg)
        weights = class_weight_values(
            cfg.class_weights, data.vocabs.labels, [] if data.train is None else data.train.targets
        )
        self.opts = LossOptions(
            kind=cfg.loss,
            time_reduction=cfg.time_reduction,
            reduction=cfg.reduction,
            label_smoothing=cfg.label_smoothing,
            class_weights=None if weights is None else torch.tensor(weights, device=device),
        )
        self.progress = Progress(world_size=ctx.world_size)
        self.lm_state = None
        self.folder_ready = cfg.resume
        self.lm_batches = None
        # Each process draws its own dropout masks; the weights start equal (DDP
        # broadcasts rank 0's).
        torch.manual_seed(cfg.seed * 1000 + ctx.rank)
        if resumed is not None:
            self._restore(resumed)

    # ------------------------------------------------------------------ state

    def _restore(self, resumed) -> None:
        load_weights(self.model, resumed.model_state, self.out / FILES["resume"])
        self.optimizer.load_state_dict(resumed.optimizer_state)
        self.progress = resumed.progress
        torch.set_rng_state(resumed.rng_states[self.ctx.rank])
        if resumed.lm_states is not None:
            state = resumed.lm_states[self.ctx.rank]
            self.lm_state = _to_device(state, self.device)

    def _save_checkpoint(self) -> None:
        """Resume state from every process, written by rank 0."""
        rngs = self.ctx.gather(torch.get_rng_state())
        lm_states = None
        if self.lm_state is not None:
            parts = self.lm_state if isinstance(self.lm_state, tuple) else (self.lm_state,)
            gathered = [self.ctx.gather(p) for p in parts]
            lm_states = [
                tuple(g[r].cpu() for g in gathered)
                if isinstance(self.lm_state, tuple)
                else gathered[0][r].cpu()
                for r in range(self.ctx.world_size)
            ]
        if not self.ctx.is_main:
            return
        self._ensure_folder()
        save_resume(
            self.out / FILES["resume"],
            self.progress,
            unique_state(self.model),
            self.optimizer,
            rngs,
            lm_states,
        )

    def _ensure_folder(self) -> None:
        """Create the model folder at the first checkpoint (a resumed run has one)."""
        if self.folder_ready:
            return
        create_folder(
            self.out, self.model.config, self.data.vocabs, self.meta, overwrite=self.cfg.overwrite
        )
        write_weights(self.out / FILES["weights"], self.model)
        write_metrics(self.out, self._metrics())
        self.folder_ready = True

    # ------------------------------------------------------------------- loop

    def run(self) -> TrainResult:
        cfg, p = self.cfg, self.progress
        if not cfg.resume and self.out.exists() and not cfg.overwrite:
            raise ModelFolderError(
                f"{self.out} already exists; use --overwrite to replace it or --resume to "
                "continue it"
            )
        while not p.finished and p.epoch <= cfg.epochs:
            stopped = self._epoch()
            self._end_of_epoch()
            if stopped:
                p.finished = True
            p.epoch += 1
            p.step_in_epoch = 0
            self._save_checkpoint()
        p.finished = True
        self._log(f"done: model folder {self.out}")
        return TrainResult(self.out, self._metrics())

    def _batches(self):
        """This process's batches of the current epoch, in order."""
        cfg, ctx = self.cfg, self.ctx
        if cfg.task == "lm":  # the same windows every epoch: the state flows through them
            if self.lm_batches is None:
                rows = cfg.batch_size * ctx.world_size
                batches = lm_stream_batches(self.data.train_ids, rows, cfg.bptt)
                lo = ctx.rank * cfg.batch_size
                self.lm_batches = [_rows(b, lo, lo + cfg.batch_size) for b in batches]
            return self.lm_batches
        order = bucket_batches(
            self.data.train.lengths,
            cfg.batch_size,
            shuffle=True,
            seed=cfg.seed,
            epoch=self.progress.epoch,
        )
        return [
            collate(self.data.train, rows)
            for rows in shard_batches(order, ctx.rank, ctx.world_size)
        ]

    def _epoch(self) -> bool:
        """One pass over the training data; True when max_steps was reached."""
        cfg, p = self.cfg, self.progress
        batches = self._batches()
        if p.step_in_epoch == 0:
            p.train_total = p.train_count = 0.0
            p.train_tokens = 0
            self.lm_state = None
        self.model.train()
        show = self.ctx.is_main and (
            cfg.progress if cfg.progress is not None else sys.stderr.isatty()
        )
        bar = tqdm(
            total=len(batches),
            initial=p.step_in_epoch,
            disable=not show,
            leave=False,
            desc=f"epoch {p.epoch}/{cfg.epochs}",
            unit="batch",
            file=sys.stderr,
        )
        started = time.perf_counter()
        tokens_here = 0
        try:
            for k in range(p.step_in_epoch, len(batches)):
                batch = batches[k].to(self.device)
                self._step(batch)
                p.step_in_epoch = k + 1
                tokens_here += batch.n_tokens
                if show:
                    rate = tokens_here * self.ctx.world_size / (time.perf_counter() - started)
                    bar.set_postfix(loss=f"{self._train_loss():.4f}", tok_s=f"{rate:,.0f}")
                    bar.update(1)
                if cfg.max_steps is not None and p.global_step >= cfg.max_steps:
                    return True
                if cfg.checkpoint_every and p.global_step % cfg.checkpoint_every == 0:
                    p.seconds += time.perf_counter() - started
                    started = time.perf_counter()
                    self._save_checkpoint()
        finally:
            bar.close()
            p.seconds += time.perf_counter() - started
        return False

    def _step(self, batch) -> None:
        cfg, p = self.cfg, self.progress
        with torch.autograd.set_detect_anomaly(cfg.detect_anomaly):
            total, count, state = self.net(batch, self.opts, self.lm_state)
            self.lm_state = state
            world = self.ctx.world_size
            if count is None:  # reduction "sum": no division
                loss = total * world
                global_count = None
            else:
                global_count = self.ctx.all_sum(count.detach())
                loss = total * world / global_count.clamp(min=torch.finfo(total.dtype).tiny)
            if not torch.isfinite(loss):
                raise NumericalError(
                    f"the loss became {float(loss)} at step {p.global_step + 1} (epoch {p.epoch}); "
                    f"the last good checkpoint is kept in {self.out}. Try --clip 1 or a lower --lr."
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(
            self.model.parameters(), cfg.clip if cfg.clip > 0 else math.inf
        )
        if not torch.isfinite(norm):
            raise NumericalError(
                f"the gradient became {float(norm)} at step {p.global_step + 1} (epoch {p.epoch}); "
                f"the last good checkpoint is kept in {self.out}. Try --clip 1 or a lower --lr."
            )
        self.optimizer.step()
        p.global_step += 1
        p.train_total += float(self.ctx.all_sum(total.detach()))
        p.train_count += float(global_count) if global_count is not None else 1.0
        p.train_tokens += batch.n_tokens

    def _train_loss(self) -> float:
        p = self.progress
        return p.train_total / p.train_count if p.train_count else 0.0

    # ------------------------------------------------------------ epoch end

    def _end_of_epoch(self) -> None:
        """Score on dev (rank 0), keep the best, schedule, decide about stopping."""
        cfg, p, ctx = self.cfg, self.progress, self.ctx
        record = {
            "epoch": p.epoch,
            "steps": p.global_step,
            "train_loss": self._train_loss(),
            "lr": self.schedule.lr,
            "seconds": round(p.seconds, 2),
        }
        improved = None
        decision = torch.zeros(2)  # (improved, stop)
        if ctx.is_main:
            if self.data.dev is not None:
                scores = self._evaluate_dev()
                record["dev_loss"] = scores["loss"]
                record.update(
                    {
                        f"dev_{k}": v
                        for k, v in scores.items()
                        if k != "per_class" and k != "loss" and isinstance(v, (int, float))
                    }
                )
                score = selection_score(cfg.task, scores)
                improved = p.best_score is None or score > p.best_score
                if improved:
                    p.best_score, p.best_epoch, p.bad_epochs = score, p.epoch, 0
                else:
                    p.bad_epochs += 1
                decision[0] = float(improved)
                decision[1] = float(cfg.patience > 0 and p.bad_epochs >= cfg.patience)
            p.history.append(record)
            self._ensure_folder()
            if improved or self.data.dev is None:
                write_weights(self.out / FILES["weights"], self.model)
            write_metrics(self.out, self._metrics())
            self._log(_summary(record, cfg.epochs, improved))
        decision = ctx.broadcast(decision)
        if ctx.distributed:
            improved = None if self.data.dev is None else bool(decision[0])
            if not ctx.is_main:
                p.history.append(record)
                if improved is not None:
                    p.bad_epochs = 0 if improved else p.bad_epochs + 1
        self.schedule.epoch_end(p.epoch, improved)
        if decision[1]:
            self._log(f"early stopping: dev has not improved for {cfg.patience} epoch(s)")
            p.finished = True

    @torch.no_grad()
    def _evaluate_dev(self) -> dict:
        self.model.eval()
        try:
            predictor = Predictor(self.model, self.data.vocabs, self.meta, self.device)
            return predictor.evaluate_data(self.data.dev, self.data.dev_name, self.opts)
        finally:
            self.model.train()

    def _metrics(self) -> dict:
        p = self.progress
        best = next((h for h in p.history if h["epoch"] == p.best_epoch), None)
        return {
            "task": self.cfg.task,
            "loss_label": f"{self.cfg.loss}, time {self.cfg.time_reduction}, "
            f"batch {self.cfg.reduction}",
            "epochs": p.history,
            "best_epoch": p.best_epoch,
            "best": best,
            "steps": p.global_step,
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


def _rows(batch, lo: int, hi: int):
    """Rows lo..hi of a batch (a process's share of a language-model stream)."""
    from dataclasses import replace

    targets = None if batch.targets is None else batch.targets[lo:hi]
    return replace(
        batch,
        tokens=batch.tokens[lo:hi],
        lengths=batch.lengths[lo:hi],
        targets=targets,
        indices=batch.indices[lo:hi],
    )


def _to_device(state, device):
    if isinstance(state, tuple):
        return tuple(s.to(device) for s in state)
    return state.to(device)
