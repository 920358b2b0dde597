"""Measure this machine with PyTorch, describe it as a catalog overlay, and check the model against it.

Three steps, each a plain function returning a frozen record (nothing here prints):

1. :func:`measure_local` times GEMMs (square and skinny, per dtype), STREAM-like copy and add kernels,
   ``scaled_dot_product_attention`` and the fixed per-layer and per-iteration cost of a tiny transformer.
2. :func:`local_overlay` turns the measurement into a catalog overlay: a chip ``local-cpu`` (or
   ``local-<gpu>``), its efficiency family ``local-<device>`` and an instance ``local``; every figure says
   whether it was measured or estimated and how. :func:`write_local_overlay` writes it as YAML, loadable by
   ``load_catalog([path])``.
3. :func:`validate_local` builds a small decoder-only transformer (random weights, no download) from a
   :class:`ModelArch`, times real training steps, prefill and decode, and compares each with the model's
   prediction for the instance ``local``: ``APE = |predicted − measured| / measured``.

Timing: each kernel is warmed up, then run in blocks of repeated calls sized to a time budget; the block
mean is one sample and the median of the samples is reported (``torch.cuda.synchronize`` closes each block
on a GPU). PyTorch is imported inside the functions, so this module loads without it; the functions raise
:class:`ConfigError` telling how to install ``chipfleet[torch]`` when it is missing.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml

from chipfleet.catalog import Catalog, Chip, Precision, load_catalog
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import Hardware, hardware_for
from chipfleet.perf.inference import ServingConfig, decode_step_time, prefill_time
from chipfleet.perf.training import Parallelism, Recompute, TrainingSetup, training_step
from chipfleet.serialize import atomic_write_text
from chipfleet.workloads.models import ModelArch

INSTANCE = "local"
TORCH_DEVICE_NOTE = "torch device: "
TRAINING_APE_SANITY_BOUND = 2.0  # benchmarks/local_validation.py checks it: a sanity bound, not a target
MEASURE_PASSES = 2  # whole measurement sweeps; each item keeps its faster pass

# CPU power figures (Cloud Carbon Footprint's AWS averages, the same numbers the shipped clouds.yaml cites).
CCF_CPU_MAX_W_PER_VCPU = 3.5
CCF_CPU_IDLE_W_PER_VCPU = 0.74
# GPU idle fraction: CCF's A100 min/max watts 46 / 407 (as the shipped nvidia families use).
CCF_GPU_IDLE_FRACTION = 46.0 / 407.0

_TORCH_PRECISIONS = (Precision.FP32, Precision.BF16, Precision.FP16)


# ===================================================================== records
@dataclass(frozen=True)
class GemmPoint:
    """One timed ``[M, K] @ [K, N]`` matmul: ``2·M·K·N`` FLOPs."""

    precision: Precision
    m: int
    k: int
    n: int
    kind: str  # "square" or "skinny"
    time_s: float

    @property
    def flops(self) -> float:
        return 2.0 * self.m * self.k * self.n

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.time_s

    @property
    def shape(self) -> str:
        return f"{self.m}x{self.k}x{self.n}"


@dataclass(frozen=True)
class BandwidthPoint:
    """One STREAM-like kernel on fp32 tensors of ``tensor_bytes``: copy moves 2×, add 3× (read + write)."""

    kernel: str  # "copy" or "add"
    tensor_bytes: int
    time_s: float

    @property
    def bytes_moved(self) -> float:
        return {"copy": 2.0, "add": 3.0}[self.kernel] * self.tensor_bytes

    @property
    def bytes_per_s(self) -> float:
        return self.bytes_moved / self.time_s


@dataclass(frozen=True)
class AttentionPoint:
    """One ``scaled_dot_product_attention`` call: ``4·b·a·s²·d`` FLOPs, halved when causal (chipfleet's
    convention: kernels skip the masked half)."""

    precision: Precision
    batch: int
    heads: int
    seq: int
    head_dim: int
    causal: bool
    time_s: float

    @property
    def flops(self) -> float:
        full = 4.0 * self.batch * self.heads * self.seq * self.seq * self.head_dim
        return full / 2.0 if self.causal else full

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.time_s

    @property
    def shape(self) -> str:
        return f"b{self.batch} a{self.heads} s{self.seq} d{self.head_dim}{' causal' if self.causal else ''}"


@dataclass(frozen=True)
class LocalMeasurement:
    """What :func:`measure_local` found on this machine. Rates in SI (FLOP/s, bytes/s), times in seconds."""

    device: str  # "cpu" or "cuda:N"
    device_name: str  # CPU model name or GPU name
    torch_version: str
    threads: int  # torch intra-op threads used (CPU cores available to this process)
    cpu_count: int  # logical CPUs of the machine
    device_memory_bytes: float | None  # GPU memory; None on the CPU (memory is host memory)
    host_memory_bytes: float
    gemm: tuple[GemmPoint, ...]
    bandwidth: tuple[BandwidthPoint, ...]
    attention: tuple[AttentionPoint, ...]
    layer_overhead_s: float  # forward of one 64-wide transformer block on one token
    step_overhead_s: float  # forward of a tiny one-layer model minus its block: embedding, norm, head
    train_step_overhead_s: float  # tiny one-layer training step minus 3 block passes (reported only)
    power_limit_w: float | None  # GPU power limit from nvidia-smi, where it answered
    cpu_vendor: str  # /proc/cpuinfo vendor_id (or the machine type)
    measured_on: str  # ISO date
    quick: bool
    wall_s: float
    passes: int = MEASURE_PASSES

    # ----------------------------------------------------------------- derived figures
    @property
    def precisions(self) -> tuple[Precision, ...]:
        return tuple(p for p in _TORCH_PRECISIONS if any(g.precision is p for g in self.gemm))

    def best_gemm(self, precision: Precision) -> GemmPoint:
        """The fastest GEMM of ``precision`` (its rate is the chip's peak for that precision)."""
        points = [g for g in self.gemm if g.precision is precision]
        if not points:
            raise ConfigError(f"no {precision.value} GEMM was measured on {self.device}")
        return max(points, key=lambda g: g.flops_per_s)

    @property
    def peak_flops_per_s(self) -> dict[Precision, float]:
        return {p: self.best_gemm(p).flops_per_s for p in self.precisions}

    @property
    def best_precision(self) -> Precision:
        """The precision with the highest measured GEMM rate: the one validation runs in."""
        peaks = self.peak_flops_per_s
        return max(peaks, key=lambda p: peaks[p])

    @property
    def best_bandwidth(self) -> BandwidthPoint:
        return max(self.bandwidth, key=lambda b: b.bytes_per_s)

    @property
    def memory_bytes_per_s(self) -> float:
        return self.best_bandwidth.bytes_per_s

    def gemm_fraction_curve(self, precision: Precision | None = None) -> tuple[tuple[int, float], ...]:
        """(rows M, achieved fraction of peak) of the skinny GEMMs of ``precision`` (default: the best)."""
        p = precision or self.best_precision
        peak = self.peak_flops_per_s[p]
        pts = sorted((g for g in self.gemm if g.precision is p and g.kind == "skinny"), key=lambda g: g.m)
        return tuple((g.m, g.flops_per_s / peak) for g in pts)

    @property
    def compute_half_rows(self) -> float:
        """M½ of ``η(M) = M / (M + M½)`` fitted (least squares in η) to the best precision's skinny curve."""
        return fit_half_rows(self.gemm_fraction_curve())[0]

    @property
    def is_gpu(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def chip_name(self) -> str:
        return "local-cpu" if not self.is_gpu else f"local-{_slug(self.device_name)}"


def fit_half_rows(curve: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares ``M½ ≥ 0`` of ``η(M) = M / (M + M½)`` (η_max = 1: peak is the measured maximum).

    Returns ``(M½, rms residual)``. A log-spaced grid over ``[1e-3, 1e6]`` finds the basin, a golden-section
    search refines it.
    """
    if not curve:
        raise ConfigError("no skinny GEMMs were measured, so compute_half_rows cannot be fitted")
    m = np.array([c[0] for c in curve], dtype=float)
    eta = np.array([c[1] for c in curve], dtype=float)

    def sse(x: float) -> float:
        return float(np.sum((eta - m / (m + x)) ** 2))

    grid = np.concatenate(([0.0], np.logspace(-3, 6, 361)))
    errs = [sse(float(x)) for x in grid]
    i = int(np.argmin(errs))
    lo, hi = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, len(grid) - 1)])
    g = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    for _ in range(80):
        c, d = b - g * (b - a), a + g * (b - a)
        if sse(c) < sse(d):
            b = d
        else:
            a = c
    best = (a + b) / 2
    if sse(best) > errs[i]:
        best = float(grid[i])
    return best, math.sqrt(sse(best) / len(m))


# ===================================================================== torch plumbing
def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ConfigError(
            "PyTorch is not installed, and `--local` runs real kernels with it; install the extra with "
            "`pip install torch==2.13.0 && pip install 'chipfleet[torch]'` (pinning torch first avoids a "
            "multi-GB CUDA download where a CPU build is wanted)"
        ) from None
    return torch


def _torch_dtype(torch: Any, p: Precision) -> Any:
    table = {Precision.FP32: torch.float32, Precision.BF16: torch.bfloat16, Precision.FP16: torch.float16}
    if p not in table:
        raise ConfigError(f"local validation runs in fp32, bf16 or fp16, not {p.value}")
    return table[p]


def _resolve_device(torch: Any, device: str | None) -> Any:
    if device is None:
        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} asked for, but this PyTorch sees no CUDA GPU; use --device cpu")
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
    elif dev.type != "cpu":
        raise ConfigError(f"device {device!r}: local measurement supports 'cpu' and 'cuda[:N]'")
    return dev


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def _threads(torch: Any, n: int) -> Iterator[None]:
    """Run with ``n`` intra-op threads, restoring the previous setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _sync_fn(torch: Any, dev: Any) -> Callable[[], None]:
    if dev.type == "cuda":
        return lambda: torch.cuda.synchronize(dev)
    return lambda: None


def _time_call(
    fn: Callable[[], object], sync: Callable[[], None], budget_s: float, samples: int = 5, warmup: int = 1
) -> float:
    """Median per-call time of ``fn`` over ``samples`` blocks that together fill about ``budget_s``."""
    for _ in range(warmup):
        fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t0, 1e-7)
    per_block = max(1, int(budget_s / samples / one))
    times: list[float] = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(per_block):
            fn()
        sync()
        times.append((time.perf_counter() - t0) / per_block)
    return statistics.median(times)


def _time_repeats(fn: Callable[[], object], sync: Callable[[], None], repeats: int, warmup: int) -> list[float]:
    """Wall time of each of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    sync()
    out: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t0)
    return out


# ===================================================================== machine facts
def _cpu_info() -> tuple[str, str]:
    """(model name, vendor id) from /proc/cpuinfo, falling back to :mod:`platform`."""
    name, vendor = "", ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "model name" and not name:
                name = value.strip()
            elif key == "vendor_id" and not vendor:
                vendor = value.strip()
            elif key == "cpu implementer" and not vendor:
                vendor = f"arm-implementer-{value.strip()}"
    return name or platform.processor() or platform.machine() or "unknown CPU", vendor or platform.machine()


def _host_memory_bytes() -> float:
    """MemTotal from /proc/meminfo, else physical pages × page size."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return float(line.split()[1]) * 1024.0
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        raise ConfigError("cannot read this machine's memory size (no /proc/meminfo or sysconf)") from None


def _last_level_cache_bytes() -> int:
    """The largest CPU cache in sysfs (0 when unknown), so bandwidth buffers can be made to exceed it."""
    best = 0
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for size_file in base.glob("index*/size"):
        with contextlib.suppress(OSError, ValueError):
            text = size_file.read_text().strip().upper()
            mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
            best = max(best, int(text.rstrip("KMG")) * mult)
    return best


def _gpu_power_limit_w(index: int) -> float | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, f"--id={index}", "--query-gpu=power.limit", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return float(out.splitlines()[0])
    except (subprocess.SubprocessError, OSError, ValueError, IndexError):
        return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


# ===================================================================== measurement
@dataclass(frozen=True)
class _Plan:
    """What to time, by device class and mode."""

    squares: tuple[int, ...]
    skinny_rows: tuple[int, ...]
    skinny_width: int
    bandwidth_bytes: tuple[int, ...]
    attention: tuple[tuple[int, int, int, int], ...]  # (batch, heads, seq, head_dim), causal
    budget_s: float
    # A GEMM whose one call would take longer than this, at the rate its precision reached on the shapes
    # timed so far, is skipped: CPUs without native bf16 emulate it ~100× slower than fp32 (0.3 GFLOP/s on
    # a 2-vCPU EPYC VM without AVX512-BF16), and timing its large shapes would take many minutes.
    max_call_s: float = math.inf


def _plan(gpu: bool, quick: bool) -> _Plan:
    if gpu:
        return _Plan(
            squares=(2048, 4096, 8192) if quick else (1024, 2048, 4096, 8192, 16384),
            skinny_rows=(1, 16, 128, 1024, 8192) if quick else (1, 4, 16, 64, 128, 256, 512, 1024, 2048, 4096, 8192),
            skinny_width=8192,
            bandwidth_bytes=(2**30,) if quick else (2**30, 2**31),
            attention=((4, 16, 2048, 128),) if quick else ((4, 16, 2048, 128), (1, 32, 8192, 128), (16, 32, 512, 64)),
            budget_s=0.05 if quick else 0.2,
        )
    # Buffers far beyond any cache: at least 512 MiB and 16 × the last-level cache (a VM's sysfs may show
    # only its slice of a larger shared cache: on a 2-vCPU EPYC VM, 128 MiB buffers still ran 1.8× faster
    # than the DRAM plateau reached at 512 MiB), capped at 1/16 of RAM so three buffers fit easily.
    floor = max(2**29, 16 * _last_level_cache_bytes())
    size = 2 ** math.ceil(math.log2(floor))
    size = max(2**26, min(size, 2 ** int(math.log2(_host_memory_bytes() / 16))))
    return _Plan(
        squares=(512, 1024) if quick else (256, 512, 1024, 2048, 4096),
        skinny_rows=(1, 4, 16, 64, 256, 1024) if quick else (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048),
        skinny_width=2048,
        bandwidth_bytes=(size,) if quick else (size, 2 * size),
        attention=((4, 8, 256, 64), (1, 8, 1024, 64))
        if quick
        else ((4, 8, 256, 64), (1, 8, 1024, 64), (1, 16, 2048, 128)),
        budget_s=0.08 if quick else 0.3,
        max_call_s=0.1 if quick else 1.0,
    )


def _runs(torch: Any, dev: Any, p: Precision) -> bool:
    """Whether a small matmul of ``p`` runs on ``dev`` at all."""
    try:
        a = torch.ones(8, 8, dtype=_torch_dtype(torch, p), device=dev)
        (a @ a).sum().item()
    except (RuntimeError, TypeError):
        return False
    return True


def _measure_gemm(torch: Any, dev: Any, plan: _Plan, sync: Callable[[], None]) -> list[GemmPoint]:
    points: list[GemmPoint] = []
    for p in _TORCH_PRECISIONS:
        if p is Precision.FP16 and dev.type == "cpu":
            continue  # CPU fp16 GEMMs are emulated on most cores; bf16 is the CPU's 16-bit format
        if not _runs(torch, dev, p):
            continue
        dt = _torch_dtype(torch, p)
        shapes = [(s, s, s, "square") for s in plan.squares]
        w = plan.skinny_width
        shapes += [(m, w, w, "skinny") for m in plan.skinny_rows]
        rate = 0.0  # best FLOP/s of this precision so far
        for m, k, n, kind in sorted(shapes, key=lambda s: s[0] * s[1] * s[2]):
            if rate > 0 and 2.0 * m * k * n / rate > plan.max_call_s:
                continue
            a = torch.randn(m, k, dtype=dt, device=dev)
            b = torch.randn(k, n, dtype=dt, device=dev)
            c = torch.empty(m, n, dtype=dt, device=dev)
            t = _time_call(functools.partial(torch.mm, a, b, out=c), sync, plan.budget_s)
            points.append(GemmPoint(precision=p, m=m, k=k, n=n, kind=kind, time_s=t))
            rate = max(rate, points[-1].flops_per_s)
            del a, b, c
    return points


def _measure_bandwidth(torch: Any, dev: Any, plan: _Plan, sync: Callable[[], None]) -> list[BandwidthPoint]:
    points: list[BandwidthPoint] = []
    for nbytes in plan.bandwidth_bytes:
        n = nbytes // 4
        x = torch.full((n,), 1.0, dtype=torch.float32, device=dev)  # filled (touched), values don't matter
        y = torch.full((n,), 2.0, dtype=torch.float32, device=dev)
        z = torch.zeros(n, dtype=torch.float32, device=dev)
        t_copy = _time_call(functools.partial(z.copy_, x), sync, plan.budget_s * 2)
        t_add = _time_call(functools.partial(torch.add, x, y, out=z), sync, plan.budget_s * 2)
        points.append(BandwidthPoint(kernel="copy", tensor_bytes=nbytes, time_s=t_copy))
        points.append(BandwidthPoint(kernel="add", tensor_bytes=nbytes, time_s=t_add))
        del x, y, z
    return points


def _measure_attention(
    torch: Any, dev: Any, plan: _Plan, p: Precision, sync: Callable[[], None]
) -> list[AttentionPoint]:
    sdpa = torch.nn.functional.scaled_dot_product_attention
    dt = _torch_dtype(torch, p)
    points: list[AttentionPoint] = []
    with torch.inference_mode():
        for b, a, s, d in plan.attention:
            q = torch.randn(b, a, s, d, dtype=dt, device=dev)
            k = torch.randn(b, a, s, d, dtype=dt, device=dev)
            v = torch.randn(b, a, s, d, dtype=dt, device=dev)
            t = _time_call(functools.partial(sdpa, q, k, v, is_causal=True), sync, plan.budget_s)
            points.append(AttentionPoint(p, b, a, s, d, True, t))
    return points


def _measure_overheads(
    torch: Any, dev: Any, p: Precision, budget_s: float, sync: Callable[[], None]
) -> tuple[float, float, float]:
    """Median times of (one block forward, tiny model forward, tiny training step), 64 wide, 1 layer.

    :func:`measure_local` derives the fixed costs: layer = the block forward on one token; step = the whole
    tiny model's forward (embedding, block, norm, head, argmax) minus that block; training step = a tiny
    training step (forward, backward, AdamW on 1 × 8 tokens) minus 3 block passes (chipfleet charges
    ``3·layer_overhead`` per layer per step).
    """
    from chipfleet.validate.local.model import Decoder, tiny_block_arch

    arch = tiny_block_arch(default_local_model())
    dt = _torch_dtype(torch, p)
    model = Decoder(arch, max_len=16).to(device=dev, dtype=dt)
    tok = torch.zeros(1, 1, dtype=torch.long, device=dev)
    x = torch.randn(1, 1, arch.hidden_size, dtype=dt, device=dev)
    block = model.layers[0]
    rope = model.rope(dev)
    with torch.inference_mode():
        t_layer = _time_call(lambda: block(x, rope, None, 0, 0), sync, budget_s, samples=7, warmup=3)
        t_model = _time_call(lambda: model(tok).argmax(-1), sync, budget_s, samples=7, warmup=3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    seq = torch.zeros(1, 9, dtype=torch.long, device=dev)

    def train() -> None:
        logits = model(seq[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, arch.vocab_size), seq[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t_train = _time_call(train, sync, budget_s, samples=7, warmup=3)
    return t_layer, t_model, t_train


_Timed = TypeVar("_Timed", GemmPoint, BandwidthPoint, AttentionPoint)


def _keep_faster(table: dict[tuple[object, ...], _Timed], key: tuple[object, ...], point: _Timed) -> None:
    if key not in table or point.time_s < table[key].time_s:
        table[key] = point


def _peak(points: Iterable[GemmPoint], p: Precision) -> float:
    return max(g.flops_per_s for g in points if g.precision is p)


def measure_local(device: str | None = None, quick: bool = False) -> LocalMeasurement:
    """Time this machine's GEMMs, memory bandwidth, attention and fixed costs with PyTorch.

    ``device``: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; None takes the first GPU if PyTorch sees one, else
    the CPU. Runs with as many intra-op threads as this process may use cores (restored afterwards).

    - GEMM: ``torch.mm`` with a preallocated output, per precision (fp32 and bf16; fp16 on GPUs) over square
      shapes and skinny shapes ``M × W × W`` (``W`` = 2048 on CPUs, 8192 on GPUs); the fastest rate of a
      precision is its peak, the skinny rates over it are the achieved-fraction curve η(M).
    - Memory: ``copy_`` (2 × bytes) and ``add`` (3 × bytes) on fp32 tensors of at least four times the
      last-level cache, several sizes (one in quick mode); the fastest is the memory bandwidth.
    - Attention: ``scaled_dot_product_attention(is_causal=True)`` in the best precision, a few shapes.
    - Fixed costs: see :func:`_measure_overheads`.

    Quick mode times fewer shapes with shorter budgets: about 10-20 s on a 2-core CPU.
    """
    torch = _import_torch()
    t_start = time.perf_counter()
    dev = _resolve_device(torch, device)
    gpu = dev.type == "cuda"
    plan = _plan(gpu, quick)
    sync = _sync_fn(torch, dev)
    cores = _available_cores()
    cpu_name, cpu_vendor = _cpu_info()
    gemm: dict[tuple[object, ...], GemmPoint] = {}
    bandwidth: dict[tuple[object, ...], BandwidthPoint] = {}
    attention: dict[tuple[object, ...], AttentionPoint] = {}
    fixed = (math.inf, math.inf, math.inf)
    with _threads(torch, cores):
        torch.manual_seed(0)
        # Whole sweeps repeated, keeping each item's faster pass: a burst of load from elsewhere on a shared
        # machine (longer than one item's median window) then has to hit the same item twice to count.
        for _ in range(MEASURE_PASSES):
            for g in _measure_gemm(torch, dev, plan, sync):
                _keep_faster(gemm, (g.precision, g.m, g.k, g.n, g.kind), g)
            if not gemm:
                raise ConfigError(f"no GEMM precision runs on {dev}; check the PyTorch build")
            best = max({g.precision for g in gemm.values()}, key=lambda p: _peak(gemm.values(), p))
            for b in _measure_bandwidth(torch, dev, plan, sync):
                _keep_faster(bandwidth, (b.kernel, b.tensor_bytes), b)
            for a in _measure_attention(torch, dev, plan, best, sync):
                _keep_faster(attention, (a.precision, a.shape), a)
            now = _measure_overheads(torch, dev, best, plan.budget_s * 3, sync)
            fixed = (min(fixed[0], now[0]), min(fixed[1], now[1]), min(fixed[2], now[2]))
    layer_s, model_s, train_s = fixed
    if gpu:
        props = torch.cuda.get_device_properties(dev)
        name = str(props.name)
        device_memory: float | None = float(props.total_memory)
        power = _gpu_power_limit_w(dev.index)
    else:
        name, device_memory, power = cpu_name, None, None
    return LocalMeasurement(
        device=str(dev),
        device_name=name,
        torch_version=str(torch.__version__),
        threads=cores,
        cpu_count=os.cpu_count() or cores,
        device_memory_bytes=device_memory,
        host_memory_bytes=_host_memory_bytes(),
        gemm=tuple(gemm.values()),
        bandwidth=tuple(bandwidth.values()),
        attention=tuple(attention.values()),
        layer_overhead_s=layer_s,
        step_overhead_s=max(model_s - layer_s, 0.0),
        train_step_overhead_s=max(train_s - 3.0 * layer_s, 0.0),
        power_limit_w=power,
        cpu_vendor=cpu_vendor,
        measured_on=_dt.date.today().isoformat(),
        quick=quick,
        wall_s=time.perf_counter() - t_start,
    )


# ===================================================================== overlay
def _sig(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}")


def _figure(value: float, unit: str, source: str, basis: str, note: str, digits: int = 4) -> dict[str, Any]:
    return {"value": _sig(value, digits), "unit": unit, "source": source, "basis": basis, "note": note}


def _vendor(meas: LocalMeasurement) -> tuple[str, str | None]:
    """The schema's vendor for this device, and a note where the schema has no right entry."""
    if meas.is_gpu:
        name = meas.device_name.lower()
        if "amd" in name or "instinct" in name or "radeon" in name:
            return "amd", None
        return "nvidia", None
    if meas.cpu_vendor == "AuthenticAMD":
        return "amd", None
    return "amd", (
        f"vendor: the catalog schema lists no vendor for this CPU ({meas.cpu_vendor}); 'amd' is a "
        "placeholder, not a statement"
    )


def _power(meas: LocalMeasurement, source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tdp figure, idle_power_fraction figure), both documented estimates."""
    if meas.is_gpu:
        if meas.power_limit_w is not None:
            tdp = _figure(
                meas.power_limit_w,
                "W",
                source,
                "estimate",
                f"the board power limit nvidia-smi reports ({meas.power_limit_w:g} W), taken as the TDP",
            )
        else:
            tdp = _figure(
                300.0,
                "W",
                source,
                "estimate",
                "nvidia-smi did not answer; 300 W is a placeholder for a data-centre PCIe/SXM GPU (low confidence)",
            )
        idle = _figure(
            CCF_GPU_IDLE_FRACTION,
            "ratio",
            source,
            "estimate",
            "Cloud Carbon Footprint A100 min/max watts 46 / 407, as the shipped NVIDIA families use",
            digits=3,
        )
        return tdp, idle
    n = meas.threads
    tdp = _figure(
        n * CCF_CPU_MAX_W_PER_VCPU,
        "W",
        source,
        "estimate",
        f"{n} logical CPUs x {CCF_CPU_MAX_W_PER_VCPU} W: Cloud Carbon Footprint's AWS average per vCPU at "
        "100 % load (the coefficient the shipped clouds.yaml cites); the package's own TDP is not readable here",
    )
    idle = _figure(
        CCF_CPU_IDLE_W_PER_VCPU / CCF_CPU_MAX_W_PER_VCPU,
        "ratio",
        source,
        "estimate",
        f"Cloud Carbon Footprint AWS per-vCPU watts at 0 % / 100 % load: {CCF_CPU_IDLE_W_PER_VCPU} / "
        f"{CCF_CPU_MAX_W_PER_VCPU}",
        digits=3,
    )
    return tdp, idle


def local_overlay(meas: LocalMeasurement) -> dict[str, Any]:
    """A catalog overlay (schema_version 1) describing this machine: source, family, chip, instance ``local``.

    - chip ``local-cpu`` / ``local-<gpu>``: ``peak_dense`` per measured precision (the fastest GEMM),
      ``memory_bandwidth`` (the fastest copy/add), GPU memory as torch reports it; on the CPU the chip is
      ``kind: cpu`` and memory is the instance's host memory (MemTotal), as for the shipped Graviton chips.
    - family ``local-<device>``: η_max = 1 (peak *is* the measured maximum), M½ fitted to the skinny-GEMM
      curve, η_mem = 1 (bandwidth *is* the measured one), measured layer and step overheads; collective
      efficiency and latencies are placeholders (one chip runs no collectives); idle power an estimate.
    - instance ``local``: 1 chip, this machine's logical CPUs and RAM, no prices (time estimates only).
    """
    chip = meas.chip_name
    sid = f"{chip}-measured"
    today = meas.measured_on
    mode = "quick" if meas.quick else "full"
    source = {
        "ref": "measured on this machine by chipfleet calibrate --local",
        "as_of": today,
        "title": f"PyTorch {meas.torch_version} on {meas.device_name} ({meas.device}, {meas.threads} threads, "
        f"{mode} run)",
    }
    peaks = meas.peak_flops_per_s
    peak_dense: dict[str, Any] = {}
    for p in meas.precisions:
        g = meas.best_gemm(p)
        n_shapes = sum(1 for x in meas.gemm if x.precision is p)
        peak_dense[p.value] = _figure(
            peaks[p] / 1e12,
            "TFLOPS",
            sid,
            "measured",
            f"fastest of {n_shapes} torch.mm shapes (M x K x N): {g.shape}; median of timed blocks, faster of "
            f"{meas.passes} passes",
        )
    bw = meas.best_bandwidth
    bandwidth = _figure(
        bw.bytes_per_s / 1e9,
        "GB/s",
        sid,
        "measured",
        f"fastest STREAM-like kernel: {bw.kernel} on fp32 tensors of {bw.tensor_bytes / 2**20:.0f} MiB "
        f"(bytes read + written / time; median of timed blocks, faster of {meas.passes} passes)",
    )
    best = meas.best_precision
    curve = meas.gemm_fraction_curve(best)
    half_rows, rms = fit_half_rows(curve)
    rows = ", ".join(f"{m}:{eta:.2f}" for m, eta in curve)
    width = _skinny_width(meas, best)
    tdp, idle = _power(meas, sid)
    family = {
        "name": chip,
        "description": f"this machine ({meas.device_name}, {meas.device}) with PyTorch {meas.torch_version}, "
        "eager mode; measured by chipfleet calibrate --local",
        "compute_efficiency": _figure(
            1.0,
            "ratio",
            sid,
            "measured",
            "1 by construction: peak_dense is the fastest GEMM measured here, so the largest GEMMs reach it",
        ),
        "compute_half_rows": _figure(
            half_rows,
            "count",
            sid,
            "measured",
            f"least-squares fit of eta(M) = M/(M+M_half) to {len(curve)} {best.value} GEMMs M x {width} x "
            f"{width} (M:eta {rows}); rms residual {rms:.3f}",
            digits=3,
        ),
        "memory_efficiency": _figure(
            1.0, "ratio", sid, "measured", "1 by construction: memory_bandwidth is the rate measured here"
        ),
        "collective_efficiency": _figure(
            1.0, "ratio", sid, "estimate", "placeholder: one local chip runs no collectives, so it is never used"
        ),
        "layer_overhead": _figure(
            meas.layer_overhead_s * 1e6,
            "us",
            sid,
            "measured",
            "median forward of one 64-wide transformer block on 1 token (norms, GQA attention, SwiGLU), "
            f"faster of {meas.passes} passes: framework dispatch and launch cost per layer",
            digits=3,
        ),
        "step_overhead": _figure(
            meas.step_overhead_s * 1e3,
            "ms",
            sid,
            "measured",
            "median forward of a tiny one-layer model on 1 token (embedding, norm, head, argmax) minus its "
            f"block; a tiny training step's fixed cost was {meas.train_step_overhead_s * 1e3:.3g} ms "
            "(not used: one field serves both)",
            digits=3,
        ),
        "intra_latency": _figure(0.0, "us", sid, "estimate", "placeholder: one chip, no collectives"),
        "inter_latency": _figure(0.0, "us", sid, "estimate", "placeholder: one instance, no collectives"),
        "idle_power_fraction": idle,
    }
    vendor, vendor_note = _vendor(meas)
    notes = [
        f"{TORCH_DEVICE_NOTE}{meas.device}",
        f"measured {today} by chipfleet calibrate --local ({mode}) with PyTorch {meas.torch_version}, "
        f"{meas.threads} threads",
        "a measured local machine, not a product: peaks are what PyTorch eager reaches here, not datasheet peaks",
    ]
    if vendor_note:
        notes.append(vendor_note)
    chip_rec: dict[str, Any] = {
        "name": chip,
        "display_name": f"{meas.device_name} (this machine)",
        "vendor": vendor,
        "kind": "accelerator" if meas.is_gpu else "cpu",
        "family": chip,
        "peak_dense": peak_dense,
        "memory_bandwidth": bandwidth,
        "tdp": tdp,
        "core_type": meas.device_name,
        "notes": notes,
    }
    if meas.device_memory_bytes is not None:
        chip_rec["memory"] = _figure(
            meas.device_memory_bytes / 2**30, "GiB", sid, "measured", "total_memory as torch.cuda reports it"
        )
    else:
        chip_rec["cores"] = _figure(
            meas.threads, "count", sid, "measured", "CPU cores this process may use (sched_getaffinity)"
        )
    instance = {
        "name": INSTANCE,
        "cloud": "aws",
        "chip": chip,
        "chips": 1,
        "vcpus": meas.cpu_count,
        "host_memory": _figure(
            meas.host_memory_bytes / 2**30, "GiB", sid, "measured", "MemTotal of /proc/meminfo (or sysconf)"
        ),
        "notes": [
            "this machine, not an AWS instance: `cloud: aws` only because the catalog schema requires a cloud",
            "no prices: use it for time estimates and `validate --local`, not for cost",
        ],
    }
    return {
        "schema_version": 1,
        "sources": {sid: source},
        "families": [family],
        "chips": [chip_rec],
        "instances": [instance],
    }


def _skinny_width(meas: LocalMeasurement, p: Precision) -> int:
    widths = {g.k for g in meas.gemm if g.precision is p and g.kind == "skinny"}
    return max(widths) if widths else 0


def write_local_overlay(meas: LocalMeasurement, path: str | os.PathLike[str]) -> Path:
    """Write :func:`local_overlay` as YAML to ``path`` (parents created); returns the path.

    The file is written atomically (:func:`chipfleet.serialize.atomic_write_text`: temp file, fsync, rename), so a
    failure never leaves a partial overlay and never damages one that is already there.
    """
    out = Path(path)
    header = (
        f"# chipfleet catalog overlay for this machine, written by `chipfleet calibrate --local` on "
        f"{meas.measured_on}.\n# Load it with --catalog {out.name} (or CHIPFLEET_CATALOG); the instance is "
        f"'{INSTANCE}'.\n"
    )
    body = yaml.safe_dump(local_overlay(meas), sort_keys=False, allow_unicode=True, width=120)
    atomic_write_text(out, header + body)
    return out


def catalog_with_local(meas: LocalMeasurement) -> Catalog:
    """The shipped catalog plus this measurement's overlay (no env-var overlays)."""
    with tempfile.TemporaryDirectory(prefix="chipfleet-local-") as tmp:
        path = write_local_overlay(meas, Path(tmp) / "local.yaml")
        return load_catalog([path], use_env=False)


# ===================================================================== validation
def default_local_model() -> ModelArch:
    """A tiny Llama-style decoder: 4 layers, h 512, 8 heads (2 KV), SwiGLU f 1536, vocab 8192, untied."""
    return ModelArch(
        name="local-tiny-llama",
        display_name="Tiny Llama-style decoder (local validation)",
        family="llama",
        kind="decoder",
        n_layers=4,
        hidden_size=512,
        n_heads=8,
        n_kv_heads=2,
        ffn_size=1536,
        vocab_size=8192,
        gated_mlp=True,
        tied_embeddings=False,
        max_position_embeddings=2048,
        learned_position_embeddings=False,
        norm="rmsnorm",
        attention_bias=False,
        mlp_bias=False,
        published_params=None,
        source="chipfleet.validate.local.check.default_local_model (a test shape; random weights, no checkpoint)",
        as_of="2026-11-01",
    )


@dataclass(frozen=True)
class LocalShapes:
    """Sizes and repeats of :func:`validate_local`'s three phases."""

    train_batch: int = 4
    seq_len: int = 256
    serve_batch: int = 4
    input_tokens: int = 256
    output_tokens: int = 32
    repeats: int = 7
    warmup: int = 2

    def __post_init__(self) -> None:
        if min(self.train_batch, self.seq_len, self.serve_batch, self.input_tokens, self.output_tokens) < 1:
            raise ConfigError("batch sizes and token counts must be positive")
        if self.repeats < 1 or self.warmup < 0:
            raise ConfigError("repeats must be ≥ 1 and warmup ≥ 0")

    @classmethod
    def quick(cls) -> LocalShapes:
        return cls(output_tokens=16, repeats=3, warmup=1)


@dataclass(frozen=True)
class PhaseComparison:
    """One phase: the model's prediction next to the measured time (median of ``samples_s``)."""

    phase: str  # "training step", "prefill", "decode step"
    shape: str
    predicted_s: float
    measured_s: float
    samples_s: tuple[float, ...]
    bound: str
    breakdown: Mapping[str, float] = field(default_factory=dict)

    @property
    def ape(self) -> float:
        """Absolute percentage error as a fraction: ``|predicted − measured| / measured``."""
        return abs(self.predicted_s - self.measured_s) / self.measured_s

    @property
    def ratio(self) -> float:
        """predicted ÷ measured (> 1: the model is pessimistic)."""
        return self.predicted_s / self.measured_s


@dataclass(frozen=True)
class LocalValidation:
    """The model's predictions for instance ``local`` against real PyTorch runs on it."""

    device: str
    device_name: str
    chip: str
    model: ModelArch
    params: int  # parameters of the torch model (equal to model.params_total)
    precision: Precision
    torch_version: str
    threads: int
    shapes: LocalShapes
    phases: tuple[PhaseComparison, ...]
    wall_s: float

    @property
    def mape(self) -> float:
        return sum(p.ape for p in self.phases) / len(self.phases)

    def phase(self, name: str) -> PhaseComparison:
        for p in self.phases:
            if p.phase == name:
                return p
        raise ConfigError(f"no phase {name!r}; phases: {', '.join(p.phase for p in self.phases)}")


def _local_catalog(source: LocalMeasurement | Catalog | str | os.PathLike[str]) -> Catalog:
    if isinstance(source, LocalMeasurement):
        return catalog_with_local(source)
    if isinstance(source, Catalog):
        return source
    return load_catalog([Path(source)], use_env=False)


def _device_of(chip: Chip) -> str:
    for note in chip.notes:
        if note.startswith(TORCH_DEVICE_NOTE):
            return note[len(TORCH_DEVICE_NOTE) :].strip()
    return "cpu"


def _best_torch_precision(hw: Hardware) -> Precision:
    usable = {p: f for p, f in hw.peak_flops_per_s.items() if p in _TORCH_PRECISIONS}
    if not usable:
        raise ConfigError(f"{hw.chip} lists no fp32, bf16 or fp16 peak; run `chipfleet calibrate --local` again")
    return max(usable, key=lambda p: usable[p])


def validate_local(
    source: LocalMeasurement | Catalog | str | os.PathLike[str],
    model: ModelArch | None = None,
    quick: bool = False,
    *,
    shapes: LocalShapes | None = None,
    precision: Precision | None = None,
) -> LocalValidation:
    """Time a real training step, prefill and decode step of ``model`` here and compare with the model.

    ``source``: a :class:`LocalMeasurement`, an overlay path written by :func:`write_local_overlay`, or a
    catalog that already holds instance ``local``. ``model`` defaults to :func:`default_local_model`.
    Runs on the device the overlay was measured on, in ``precision`` (default: the chip's fastest measured
    precision), the same precision in PyTorch and in the model.

    - training step: forward + cross-entropy + backward + AdamW step on ``train_batch × seq_len`` tokens,
      vs ``training_step`` with tp = pp = dp = 1, one micro-batch of the whole batch, no recompute.
    - prefill: ``serve_batch × input_tokens`` into an empty KV cache, logits of the last token only (as the
      model counts), vs ``prefill_time``.
    - decode step: ``output_tokens`` greedy steps after that prefill, mean time per step, vs
      ``decode_step_time`` at the mean context ``input + output/2`` (chipfleet's TPOT convention).
    """
    torch = _import_torch()
    from chipfleet.validate.local.model import Decoder, KVCache, count_parameters

    t_start = time.perf_counter()
    arch = model or default_local_model()
    sh = shapes or (LocalShapes.quick() if quick else LocalShapes())
    cat = _local_catalog(source)
    hw = hardware_for(cat, INSTANCE)
    chip = cat.chip_of(INSTANCE)
    prec = precision or _best_torch_precision(hw)
    if prec not in hw.peak_flops_per_s:
        raise ConfigError(f"{chip.name} has no measured {prec.value} peak; measured: {', '.join(hw.peak_flops_per_s)}")
    dev = _resolve_device(torch, _device_of(chip))
    dt = _torch_dtype(torch, prec)
    sync = _sync_fn(torch, dev)
    cores = _available_cores()
    max_len = max(sh.seq_len + 1, sh.input_tokens + sh.output_tokens)

    with _threads(torch, cores):
        torch.manual_seed(0)
        net = Decoder(arch, max_len=max_len).to(device=dev, dtype=dt)
        params = count_parameters(net)
        v = arch.vocab_size

        # ---- training step
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        batch = torch.randint(0, v, (sh.train_batch, sh.seq_len + 1), device=dev)

        def train_step() -> None:
            logits = net(batch[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, v), batch[:, 1:].reshape(-1))
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        train_samples = _time_repeats(train_step, sync, sh.repeats, sh.warmup)
        opt.state.clear()  # free the Adam moments before timing inference

        # ---- prefill and decode
        prompt = torch.randint(0, v, (sh.serve_batch, sh.input_tokens), device=dev)
        cache = KVCache.empty(arch, sh.serve_batch, max_len, dt, dev)
        decode_samples: list[float] = []

        def prefill() -> Any:
            cache.length = 0
            return net(prompt, cache, last_only=True).argmax(-1)

        def decode(first: Any) -> None:
            tok = first
            for _ in range(sh.output_tokens):
                tok = net(tok, cache).argmax(-1)

        with torch.inference_mode():
            prefill_samples = _time_repeats(prefill, sync, sh.repeats, sh.warmup)
            for i in range(sh.warmup + sh.repeats):
                first = prefill()
                sync()
                t0 = time.perf_counter()
                decode(first)
                sync()
                if i >= sh.warmup:
                    decode_samples.append((time.perf_counter() - t0) / sh.output_tokens)

    # ---- predictions for the same shapes and precision
    setup = TrainingSetup(model=arch, seq_len=sh.seq_len, global_batch=sh.train_batch, precision=prec)
    par = Parallelism(
        tp=1, pp=1, dp=1, micro_batch=sh.train_batch, recompute=Recompute.NONE, sequence_parallel=False, zero=0
    )
    step = training_step(arch, setup, par, hw, instances=1)
    cfg = ServingConfig(
        model=arch,
        batch=sh.serve_batch,
        input_tokens=sh.input_tokens,
        output_tokens=sh.output_tokens,
        tp=1,
        weight_precision=prec,
        kv_precision=prec,
    )
    pre = prefill_time(arch, hw, 1, sh.serve_batch, sh.input_tokens, cfg)
    context = sh.input_tokens + sh.output_tokens / 2
    dec = decode_step_time(arch, hw, 1, sh.serve_batch, context, cfg)

    phases = (
        PhaseComparison(
            phase="training step",
            shape=f"{sh.train_batch} x {sh.seq_len} tokens, AdamW",
            predicted_s=step.step_time_s,
            measured_s=statistics.median(train_samples),
            samples_s=tuple(train_samples),
            bound=step.bound.removesuffix("_s"),
            breakdown={k: v for k, v in step.breakdown.items() if v > 0},
        ),
        PhaseComparison(
            phase="prefill",
            shape=f"{sh.serve_batch} x {sh.input_tokens} tokens",
            predicted_s=pre.time_s,
            measured_s=statistics.median(prefill_samples),
            samples_s=tuple(prefill_samples),
            bound=pre.bound,
            breakdown={k: v for k, v in pre.as_dict().items() if k != "time_s"},
        ),
        PhaseComparison(
            phase="decode step",
            shape=f"{sh.serve_batch} seqs at context {context:g} (mean of {sh.output_tokens} steps)",
            predicted_s=dec.time_s,
            measured_s=statistics.median(decode_samples),
            samples_s=tuple(decode_samples),
            bound=dec.bound,
            breakdown={k: v for k, v in dec.as_dict().items() if k != "time_s"},
        ),
    )
    return LocalValidation(
        device=str(dev),
        device_name=chip.display_name,
        chip=chip.name,
        model=arch,
        params=params,
        precision=prec,
        torch_version=str(torch.__version__),
        threads=cores,
        shapes=sh,
        phases=phases,
        wall_s=time.perf_counter() - t_start,
    )
