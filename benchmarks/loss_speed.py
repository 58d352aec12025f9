"""Speed and memory of the sequence cross-entropy: rnnseq against the losses people write by hand.

One command prints everything, measured in one run on one machine:

    python benchmarks/loss_speed.py                  # about 5-10 minutes on 2 cores
    python benchmarks/loss_speed.py --quick          # a smoke run on small shapes
    python benchmarks/loss_speed.py --device cuda    # the same on a GPU
    python benchmarks/loss_speed.py --shapes word-LM --plan path=plain   # one shape, one path

Losses, forward + backward, on logits (N, T, C) with ragged lengths (each row
uniformly 50-100 % of T real steps):

    naive       F.cross_entropy(logits.view(-1, C), targets.view(-1), reduction="none")
                .view(N, T) * mask, summed over time, averaged over rows
    flat        F.cross_entropy(..., ignore_index=-100) on flattened logits
    allennlp    log_softmax + gather, times the mask weights, averaged over time
                (AllenNLP's sequence_cross_entropy_with_logits recipe)
    rnnseq      rnnseq.losses.sequence_labeling_loss(logits, targets, lengths)

Output heads, hidden (N, T, H) -> V classes, forward + backward:

    unfused     F.linear(hidden, W, b), then the naive loss
    rnnseq      rnnseq.losses.linear_sequence_labeling_loss(hidden, W, b, targets, lengths)

Times are medians over interleaved repeats (wall and this process's CPU time),
with 1 and with 2 threads. "x floor" divides the time by the memory-traffic
floor: the logits read once and their gradient written once, at the copy
bandwidth measured in this run. Peak extra memory is read in a fresh process
per variant: the peak resident set (VmHWM, reset just before the step) less
the resident set with the inputs made. On CUDA, memory is the caching
allocator's peak of allocated bytes during the step, less those allocated
before it, and CPU threads are not varied.

With ``--profile``, instead of the tables: for each loss shape, thread count and
variant, one step under torch.profiler (record_shapes) and a few without it,
reported per step as the top-level ATen operations, those of at least 32,768
elements (the size from which an elementwise or reduction operation runs as an
OpenMP parallel region, i.e. ends at a barrier, when there are several
threads), the largest tensor an operation read (a chunk, for rnnseq), the bytes
of all tensors the operations read, and the page faults and context switches
of the process (getrusage).

rnnseq's kernels run with the device's default plan (rnnseq.kernels.default_plan)
unless ``--plan FIELD=VALUE`` overrides a field of it (repeatable; e.g.
``path=plain``, ``chunk_elements=131072``, ``dense_chunks=false``); the plan in
force is printed with the results.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnseq.kernels import KernelPlan, current_plan, use_plan
from rnnseq.losses import linear_sequence_labeling_loss, sequence_labeling_loss

# name -> (N, T, C)
LOSS_SHAPES = {
    "tagging": (32, 50, 17),
    "char-LM": (64, 256, 65),
    "word-LM": (32, 70, 10_000),
    "big-vocab": (8, 128, 50_257),
}
# name -> (N, T, H, V)
HEAD_SHAPES = {
    "word-LM head": (32, 70, 650, 10_000),
    "big-vocab head": (8, 128, 768, 50_257),
}
QUICK_LOSS_SHAPES = {"word-LM (small)": (4, 20, 3000)}
QUICK_HEAD_SHAPES = {"head (small)": (4, 20, 64, 3000)}
MIB = 1 << 20
DEVICE = torch.device("cpu")  # set by --device
PLAN_FIELDS: dict = {}  # kernel-plan fields set by --plan


# --------------------------------------------------------------------------
# Inputs and the variants under test.
# --------------------------------------------------------------------------


@dataclass
class Batch:
    """One batch: logits or hidden states, and every form of target a variant wants."""

    x: torch.Tensor  # (N, T, C) logits, or (N, T, H) hidden states; a leaf needing grad
    targets: torch.Tensor  # (N, T) valid class indices everywhere (padding holds class 0)
    ignored: torch.Tensor  # (N, T) targets with -100 at padding
    lengths: torch.Tensor  # (N,) real steps per row
    mask: torch.Tensor  # (N, T) float, 1 at real steps
    weight: torch.Tensor | None = None  # (V, H) output layer
    bias: torch.Tensor | None = None  # (V,)

    def params(self) -> list[torch.Tensor]:
        return [p for p in (self.x, self.weight, self.bias) if p is not None]


def make_batch(n: int, t: int, c: int, hidden: int | None = None, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint((t + 1) // 2, t + 1, (n,), generator=g)
    real = torch.arange(t)[None, :] < lengths[:, None]  # (N, T)
    targets = torch.randint(0, c, (n, t), generator=g).masked_fill(~real, 0)
    weight = bias = None
    if hidden is None:
        x = torch.randn(n, t, c, generator=g) * 2
    else:
        x = torch.randn(n, t, hidden, generator=g)
        weight = (torch.randn(c, hidden, generator=g) / hidden**0.5).requires_grad_(True)
        bias = torch.zeros(c).requires_grad_(True)

    def put(x):
        return None if x is None else x.detach().to(DEVICE).requires_grad_(x.requires_grad)

    return Batch(
        put(x.requires_grad_(True)), put(targets), put(targets.masked_fill(~real, -100)),
        put(lengths), put(real.float()), put(weight), put(bias),
    )  # fmt: skip


def naive(z: torch.Tensor, b: Batch) -> torch.Tensor:
    n, t, c = z.shape
    per_step = F.cross_entropy(z.view(-1, c), b.targets.view(-1), reduction="none").view(n, t)
    return (per_step * b.mask).sum() / n


def flat(z: torch.Tensor, b: Batch) -> torch.Tensor:
    n, t, c = z.shape
    return F.cross_entropy(z.view(-1, c), b.ignored.view(-1), reduction="sum") / n


def allennlp(z: torch.Tensor, b: Batch) -> torch.Tensor:
    n, t, c = z.shape
    log_probs = torch.log_softmax(z.view(-1, c), dim=-1)  # (N·T, C)
    nll = -log_probs.gather(1, b.targets.view(-1, 1)).view(n, t) * b.mask  # (N, T)
    per_row = nll.sum(1) / (b.mask.sum(1) + 1e-13)  # (N,) averaged over time
    return per_row.sum() / ((b.mask.sum(1) > 0).sum() + 1e-13)


def rnnseq(z: torch.Tensor, b: Batch) -> torch.Tensor:
    return sequence_labeling_loss(z, b.targets, b.lengths)


def head_unfused(b: Batch) -> torch.Tensor:
    return naive(F.linear(b.x, b.weight, b.bias), b)


def head_rnnseq(b: Batch) -> torch.Tensor:
    return linear_sequence_labeling_loss(b.x, b.weight, b.bias, b.targets, b.lengths)


LOSSES = {"naive": naive, "flat": flat, "allennlp": allennlp, "rnnseq": rnnseq}
HEADS = {"unfused": head_unfused, "rnnseq": head_rnnseq}


def step(kind: str, variant: str, batch: Batch) -> None:
    """One training step's loss work: clear the gradients, forward, backward."""
    for p in batch.params():
        p.grad = None
    loss = LOSSES[variant](batch.x, batch) if kind == "loss" else HEADS[variant](batch)
    loss.backward()


# --------------------------------------------------------------------------
# Measurements.
# --------------------------------------------------------------------------


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def copy_bandwidth(nbytes: int, repeats: int) -> float:
    """Bytes moved per second (read + written) by a warm tensor copy of nbytes."""
    src = torch.ones(nbytes // 4, device=DEVICE)
    dst = torch.zeros_like(src)
    dst.copy_(src)
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        dst.copy_(src)
        sync()
        times.append(time.perf_counter() - start)
    return 2 * nbytes / statistics.median(times)


def time_variants(kind: str, variants, batch: Batch, repeats: int) -> dict[str, tuple]:
    """Median (wall, CPU) seconds per step of each variant, interleaved round-robin."""
    for variant in variants:  # warm up, and size the inner loop to ~50 ms
        step(kind, variant, batch)
    sync()
    start = time.perf_counter()
    step(kind, variants[0], batch)
    sync()
    inner = max(1, int(0.05 / max(time.perf_counter() - start, 1e-6)))
    samples = {v: ([], []) for v in variants}
    for r in range(repeats):
        for variant in variants[r % len(variants) :] + variants[: r % len(variants)]:
            sync()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(inner):
                step(kind, variant, batch)
            sync()
            samples[variant][0].append((time.perf_counter() - wall) / inner)
            samples[variant][1].append((time.process_time() - cpu) / inner)
    return {v: (statistics.median(w), statistics.median(c)) for v, (w, c) in samples.items()}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim), so that
    memory freed while the inputs were made is not silently reused by the step and
    left out of its peak."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure_peak(spec: dict) -> int:
    """In this (fresh) process: peak resident bytes of one step beyond the inputs."""
    torch.set_num_threads(spec["threads"])
    with use_plan(spec["plan"]):
        return _measure_peak(spec)


def _measure_peak(spec: dict) -> int:
    shape = spec["shape"]
    hidden = shape[2] if spec["kind"] == "head" else None
    vocab = shape[-1]
    small = make_batch(2, 3, vocab, hidden)  # run the code once so lazy set-up is not counted
    step(spec["kind"], spec["variant"], small)
    batch = make_batch(shape[0], shape[1], vocab, hidden)
    del small
    gc.collect()
    release_free_memory()
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # peak resident set := current
    step(spec["kind"], spec["variant"], batch)
    return (_status_kib("VmHWM") - before) * 1024


def cuda_peak(kind: str, variant: str, shape) -> int:
    """Peak bytes the CUDA caching allocator hands out during one step, beyond the inputs."""
    hidden = shape[2] if kind == "head" else None
    batch = make_batch(shape[0], shape[1], shape[-1], hidden)
    step(kind, variant, batch)
    for p in batch.params():
        p.grad = None
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step(kind, variant, batch)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def peaks_in_fresh_processes(kind: str, variants, shape, threads: int) -> dict[str, int]:
    """Peak extra bytes of each variant, each measured in its own new process (run side by side)."""
    if DEVICE.type == "cuda":
        return {variant: cuda_peak(kind, variant, shape) for variant in variants}
    children = {}
    for variant in variants:
        spec = {
            "kind": kind, "variant": variant, "shape": list(shape), "threads": threads,
            "plan": PLAN_FIELDS,
        }  # fmt: skip
        children[variant] = subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps(spec)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": str(threads)},
        )
    peaks = {}
    for variant, child in children.items():
        out, _ = child.communicate()
        if child.returncode:
            raise RuntimeError(f"memory measurement of {kind} {variant} {shape} failed")
        peaks[variant] = int(out.strip().splitlines()[-1])
    return peaks


# --------------------------------------------------------------------------
# The profile.
# --------------------------------------------------------------------------

PARALLEL_ELEMENTS = 32_768  # at::internal::GRAIN_SIZE: from here an operation splits over threads
# Operations that make views or empty tensors: they read no data, and are not counted.
NO_DATA_OPS = {
    "view", "reshape", "slice", "select", "unsqueeze", "squeeze", "expand", "as_strided",
    "alias", "detach", "t", "transpose", "permute", "lift_fresh", "empty", "empty_like",
    "resolve_conj", "resolve_neg", "to", "item", "_local_scalar_dense",
}  # fmt: skip
_ELEMENT_BYTES = {"float": 4, "double": 8, "long int": 8, "int": 4, "bool": 1, "c10::Half": 2,
                  "c10::BFloat16": 2, "unsigned char": 1}  # fmt: skip


def _numel(shape) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def _tensor_inputs(event) -> list[tuple[int, int]]:
    """(elements, bytes) of each tensor an operation event took."""
    pairs = zip(event.input_shapes, event.input_dtypes, strict=False)
    return [
        (_numel(shape), _numel(shape) * _ELEMENT_BYTES.get(dtype, 4))
        for shape, dtype in pairs
        if shape and dtype
    ]


def profile_step(kind: str, variant: str, batch: Batch) -> dict:
    """Operations, parallel-sized operations, largest input and bytes read of one step,
    and page faults and context switches per step (measured over a few steps)."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(3):
        step(kind, variant, batch)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        step(kind, variant, batch)
    top = [
        e for e in prof.events()
        if e.name.startswith("aten::")
        and (e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::"))
    ]  # fmt: skip
    dispatched = len(top)
    top = [e for e in top if e.name[6:] not in NO_DATA_OPS]
    inputs = [_tensor_inputs(e) for e in top]  # (elements, bytes) of each tensor input
    sizes = [[count for count, _ in x] for x in inputs]
    nbytes = [sum(size for _, size in x) for x in inputs]
    largest = [max(x, default=0) for x in sizes]
    parallel = [x for x in largest if x >= PARALLEL_ELEMENTS]
    repeats = 5
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(repeats):
        step(kind, variant, batch)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "ops": dispatched,
        "data_ops": len(top),
        "parallel": len(parallel),
        "typical": statistics.median(parallel) * 4 if parallel else 0,
        "read": sum(nbytes),
        "faults": (after.ru_minflt - before.ru_minflt) / repeats,
        "switches": (after.ru_nvcsw + after.ru_nivcsw - before.ru_nvcsw - before.ru_nivcsw)
        / repeats,
    }


def report_profile(shapes, threads_list) -> None:
    print("\n### Profile of one step (loss, forward + backward)\n")
    print(
        "| shape (N, T, C) | threads | variant | ATen ops | ... reading data "
        "| ... of >= 32,768 elements | their median input MiB | MiB read by ops "
        "| page faults | context switches |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, (n, t, c) in shapes.items():
        for threads in threads_list:
            torch.set_num_threads(threads)
            batch = make_batch(n, t, c)
            for variant in ("naive", "rnnseq"):
                p = profile_step("loss", variant, batch)
                print(
                    f"| {name} ({n}, {t}, {c}) | {threads} | {variant} | {p['ops']} "
                    f"| {p['data_ops']} | {p['parallel']} | {p['typical'] / MIB:.1f} "
                    f"| {p['read'] / MIB:.0f} "
                    f"| {p['faults']:.0f} | {p['switches']:.1f} |",
                    flush=True,
                )


# --------------------------------------------------------------------------
# The report.
# --------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    thp = "?"
    thp_file = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if thp_file.exists():
        thp = thp_file.read_text().strip()
    gpu = f"; {torch.cuda.get_device_name()}" if DEVICE.type == "cuda" else ""
    return (
        f"{model}, {os.cpu_count()} logical CPUs{gpu}; Python {platform.python_version()}, "
        f"torch {torch.__version__}; transparent huge pages: {thp}"
    )


def load() -> str:
    """The machine's load averages: other work sharing the cores shows up here."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def report_losses(shapes, threads_list, repeats, bandwidth) -> None:
    print("\n### Loss, forward + backward\n")
    print(
        "| shape (N, T, C) | threads | variant | wall ms | CPU ms | x naive "
        "| x floor | peak extra MiB | x logits |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    variants = list(LOSSES)
    for name, (n, t, c) in shapes.items():
        logits_bytes = n * t * c * 4
        for threads in threads_list:
            torch.set_num_threads(threads)
            batch = make_batch(n, t, c)
            times = time_variants("loss", variants, batch, repeats)
            del batch
            gc.collect()
            floor = 2 * logits_bytes / bandwidth[threads]
            base = times["naive"][0]
            peaks = peaks_in_fresh_processes("loss", variants, (n, t, c), threads)
            for variant in variants:
                wall, cpu = times[variant]
                peak = peaks[variant]
                print(
                    f"| {name} ({n}, {t}, {c}) | {threads} | {variant} | {wall * 1e3:.2f} "
                    f"| {cpu * 1e3:.2f} | {wall / base:.2f} | {wall / floor:.1f} "
                    f"| {peak / MIB:.1f} | {peak / logits_bytes:.2f} |",
                    flush=True,
                )


def report_heads(shapes, threads_list, repeats) -> None:
    print("\n### Output layer + loss, forward + backward\n")
    print(
        "| head (N, T, H, V) | threads | variant | wall ms | CPU ms | x unfused "
        "| peak extra MiB | x unfused | x logits |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    variants = list(HEADS)
    for name, (n, t, h, v) in shapes.items():
        logits_bytes = n * t * v * 4
        for threads in threads_list:
            torch.set_num_threads(threads)
            batch = make_batch(n, t, v, hidden=h)
            times = time_variants("head", variants, batch, repeats)
            del batch
            gc.collect()
            peaks = peaks_in_fresh_processes("head", variants, (n, t, h, v), threads)
            for variant in variants:
                wall, cpu = times[variant]
                print(
                    f"| {name} ({n}, {t}, {h}, {v}) | {threads} | {variant} | {wall * 1e3:.1f} "
                    f"| {cpu * 1e3:.1f} | {wall / times['unfused'][0]:.2f} "
                    f"| {peaks[variant] / MIB:.1f} | {peaks[variant] / peaks['unfused']:.2f} "
                    f"| {peaks[variant] / logits_bytes:.2f} |",
                    flush=True,
                )


def parse_plan(items: list[str]) -> dict:
    """``FIELD=VALUE`` strings -> KernelPlan field values, typed by each field's default."""
    defaults = {f.name: f.default for f in dataclasses.fields(KernelPlan)}
    fields = {}
    for item in items:
        name, _, text = item.partition("=")
        if name not in defaults or not text:
            known = list(defaults)
            raise SystemExit(f"--plan {item!r}: expected FIELD=VALUE, FIELD one of {known}")
        default = defaults[name]
        if text.lower() == "none":
            value = None
        elif isinstance(default, bool):
            value = text.lower() in ("1", "true", "yes")
        elif isinstance(default, str):
            value = text
        else:
            value = int(text)
        fields[name] = value
    return fields


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, 1 thread: a smoke run")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved timing rounds")
    parser.add_argument("--threads", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument(
        "--shapes", help="comma-separated shape names to run (default: all of the tables)"
    )
    parser.add_argument(
        "--plan",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a field of rnnseq's kernel plan (repeatable), e.g. path=plain",
    )
    parser.add_argument(
        "--profile", action="store_true", help="count operations, parallel regions, bytes"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: one memory measurement
    args = parser.parse_args(argv)
    global DEVICE, PLAN_FIELDS
    DEVICE = torch.device(args.device)
    PLAN_FIELDS = parse_plan(args.plan)
    if args.child:
        print(measure_peak(json.loads(args.child)))
        return
    default_threads = "1" if args.quick or DEVICE.type == "cuda" else "1,2"
    threads_list = [int(x) for x in (args.threads or default_threads).split(",")]
    repeats = 1 if args.quick else args.repeats
    loss_shapes = QUICK_LOSS_SHAPES if args.quick else LOSS_SHAPES
    head_shapes = QUICK_HEAD_SHAPES if args.quick else HEAD_SHAPES
    if args.shapes:
        names = [name.strip() for name in args.shapes.split(",")]
        unknown = set(names) - set(loss_shapes) - set(head_shapes)
        if unknown:
            raise SystemExit(f"--shapes: unknown {sorted(unknown)}; known: "
                             f"{list(loss_shapes) + list(head_shapes)}")  # fmt: skip
        loss_shapes = {k: v for k, v in loss_shapes.items() if k in names}
        head_shapes = {k: v for k, v in head_shapes.items() if k in names}
    with use_plan(PLAN_FIELDS):
        run(args, loss_shapes, head_shapes, threads_list, repeats)


def run(args, loss_shapes, head_shapes, threads_list, repeats) -> None:
    """Print the machine, the plan, the bandwidth and both tables."""
    started = time.perf_counter()
    print(f"Machine: {machine()}")
    print(f"Load average before (1, 5, 15 min): {load()}")
    overridden = f", with --plan {' '.join(args.plan)}" if args.plan else ""
    bandwidth = {}
    for threads in threads_list:
        torch.set_num_threads(threads)
        print(f"Kernel plan, {threads} thread(s){overridden}: {current_plan(DEVICE)}")
        size = (16 if args.quick else 256) * MIB
        bandwidth[threads] = copy_bandwidth(size, 3 if args.quick else 9)
        gigabytes = bandwidth[threads] / 1e9
        print(f"Copy bandwidth, {threads} thread(s): {gigabytes:.1f} GB/s (read + written)")
    if args.profile:
        report_profile(loss_shapes, threads_list)
    elif loss_shapes:
        report_losses(loss_shapes, threads_list, repeats, bandwidth)
    if head_shapes and not args.profile:
        report_heads(head_shapes, threads_list, repeats)
    print(f"\nLoad average after (1, 5, 15 min): {load()}")
    print(f"Total run time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
