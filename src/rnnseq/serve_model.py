"""One thread that owns the model, for ``rnnseq serve``.

The HTTP server answers each connection in its own thread; the model is used by one
thread only, this one (a :class:`~rnnseq.inference.Predictor` keeps caches between
batches and is not made for concurrent calls). A request hands its job to
:class:`ModelWorker` and waits for the answer.

Batching: when the worker takes a predict job, it also takes every predict job already
waiting with the same options (up to ``max_batch_texts`` texts in all) and sends their
texts through the model as one run of ``rnnseq predict`` (length-sorted batches; each
input's answer is the same whatever it is batched with), then hands each request its
own answers. It never waits for more requests to come: a lone request is answered at
once. ``max_batch_texts=0`` answers each request alone (a lock around the model, in
effect); docs/PERFORMANCE.md, "Serving", compares the two under load.
"""

from __future__ import annotations

import json
import queue
import threading
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rnnseq.inference import Predictor
from rnnseq.text_input import CHUNK

__all__ = ["ModelWorker", "predict_objects", "explain_object"]


def predict_objects(predictor: Predictor, texts: list[str], options: dict) -> list[dict]:
    """What ``rnnseq predict --output jsonl`` writes for ``texts``, one object per text
    (the same code: :meth:`~rnnseq.inference.Predictor.predict_lines`)."""
    if not texts:
        return []
    lines = predictor.predict_lines(texts, chunk=CHUNK, output="jsonl", **options)
    # A long input may come in several pieces; each input ends with "\n" (JSON keeps
    # line breaks inside strings escaped, so "\n" ends an object and nothing else).
    out = "".join(lines).split("\n")[:-1]
    if len(out) != len(texts):  # pragma: no cover - predict_lines keeps alignment
        raise RuntimeError(f"predict gave {len(out)} answers for {len(texts)} texts")
    return [json.loads(line) for line in out]


def explain_object(predictor: Predictor, text: str, labels, pretokenized) -> dict:
    """What ``rnnseq explain --json`` prints, with ``label_head`` (the label column's
    title) and non-finite losses (p = 0) written as null, which JSON has."""
    expl = predictor.explain(text, labels, pretokenized=pretokenized)
    d = expl.to_dict()
    d["label_head"] = expl.label_head or ("label" if expl.labels_given else "predicted")
    for step in d["steps"]:
        step["loss"] = _finite(step["loss"])
    d["sum"], d["mean"] = _finite(d["sum"]), _finite(d["mean"])
    return d


def _finite(x: float) -> float | None:
    return x if x == x and abs(x) != float("inf") else None


@dataclass
class _Job:
    kind: str  # "predict" | "explain"
    args: tuple
    key: str = ""  # predict jobs with the same key may share a run of the model
    size: int = 0  # texts
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None
    warnings: list[str] = field(default_factory=list)


class ModelWorker:
    """Runs every model call of the server in one thread, batching predict requests.

    Args:
        predictor: the loaded model.
        max_batch_texts: texts one run of the model may gather from waiting requests
            (0: each request alone).
    """

    def __init__(self, predictor: Predictor, *, max_batch_texts: int = 1024):
        self.predictor = predictor
        self.max_batch_texts = max_batch_texts
        self.runs = 0  # model runs (one per batch of requests)
        self.jobs = 0  # requests answered
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._held: deque[_Job] = deque()  # taken from the queue, not yet run
        self._thread = threading.Thread(target=self._loop, name="rnnseq-model", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ for requests

    def predict(self, texts: list[str], options: dict) -> tuple[list[dict], list[str]]:
        """The jsonl objects of ``texts`` and any warnings; raises what predict raised."""
        key = json.dumps(options, sort_keys=True)
        return self._submit(_Job("predict", (texts, options), key, len(texts)))

    def explain(self, text: str, labels, pretokenized) -> tuple[dict, list[str]]:
        return self._submit(_Job("explain", (text, labels, pretokenized)))

    def _submit(self, job: _Job):
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result, job.warnings

    def close(self) -> None:
        """Finish the jobs taken and stop the thread."""
        self._queue.put(None)
        self._thread.join()

    # ------------------------------------------------------------ the thread

    def _loop(self) -> None:
        with self.predictor.predicting():
            while True:
                job = self._held.popleft() if self._held else self._queue.get()
                if job is None:
                    return
                if job.kind == "explain":
                    self._run([job], lambda job=job: [explain_object(self.predictor, *job.args)])
                else:
                    group = self._gather(job)
                    self._run(group, lambda group=group: self._predict(group))

    def _gather(self, first: _Job) -> list[_Job]:
        """``first`` and the predict jobs waiting now with the same options, within the
        text budget; the others are held, in order, for the next turns."""
        group, size = [first], first.size
        if self.max_batch_texts <= 0:
            return group
        while size < self.max_batch_texts:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if (
                job is not None
                and job.kind == "predict"
                and job.key == first.key
                and (size + job.size <= self.max_batch_texts)
            ):
                group.append(job)
                size += job.size
            else:
                self._held.append(job)
                if job is None:
                    break
        return group

    def _predict(self, group: list[_Job]) -> list[list[dict]]:
        texts = [t for job in group for t in job.args[0]]
        objects = predict_objects(self.predictor, texts, group[0].args[1])
        out, k = [], 0
        for job in group:
            out.append(objects[k : k + job.size])
            k += job.size
        return out

    def _run(self, group: list[_Job], compute) -> None:
        """Run ``compute`` (one result per job) and hand each job its result, its error,
        and the warnings raised; if a shared run fails, each job is run alone, so an
        error reaches only the request that caused it."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                results = compute()
            self.runs += 1
        except BaseException as e:  # handed to the waiting request
            if len(group) > 1:
                for job in group:
                    self._run([job], lambda job=job: self._predict([job]))
                return
            group[0].error = e
            group[0].done.set()
            return
        said = [" ".join(str(w.message).split()) for w in caught]
        for job, result in zip(group, results, strict=True):
            job.result, job.warnings = result, said
            self.jobs += 1
            job.done.set()
