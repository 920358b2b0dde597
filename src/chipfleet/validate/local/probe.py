"""Kernel probes: timed GEMMs (square and skinny), STREAM-like copy/add and causal attention on this machine.

Each probe returns frozen points (shape, time, derived rate); :func:`fit_half_rows` fits the skinny-GEMM curve.
Timing: each kernel is warmed up, then run in blocks of repeated calls sized to a time budget; the block mean is
one sample and the median of the samples is reported (``torch.cuda.synchronize`` closes each block on a GPU).
``torch`` and the device come in as arguments (see :mod:`chipfleet.validate.local.machine`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError
from chipfleet.validate.local.machine import (
    TORCH_PRECISIONS,
    host_memory_bytes,
    last_level_cache_bytes,
    time_call,
    torch_dtype,
)


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


@dataclass(frozen=True)
class ProbePlan:
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


def probe_plan(gpu: bool, quick: bool) -> ProbePlan:
    """The shapes, buffer sizes and time budgets to probe a GPU or this CPU with (fewer and shorter when quick)."""
    if gpu:
        return ProbePlan(
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
    floor = max(2**29, 16 * last_level_cache_bytes())
    size = 2 ** math.ceil(math.log2(floor))
    size = max(2**26, min(size, 2 ** int(math.log2(host_memory_bytes() / 16))))
    return ProbePlan(
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
        a = torch.ones(8, 8, dtype=torch_dtype(torch, p), device=dev)
        (a @ a).sum().item()
    except (RuntimeError, TypeError):
        return False
    return True


def measure_gemm(torch: Any, dev: Any, plan: ProbePlan, sync: Callable[[], None]) -> list[GemmPoint]:
    """``torch.mm`` into a preallocated output, per precision that runs here (no fp16 on the CPU), over the plan's
    square and skinny ``M × W × W`` shapes, smallest first; a shape slower than ``plan.max_call_s`` is skipped."""
    points: list[GemmPoint] = []
    for p in TORCH_PRECISIONS:
        if p is Precision.FP16 and dev.type == "cpu":
            continue  # CPU fp16 GEMMs are emulated on most cores; bf16 is the CPU's 16-bit format
        if not _runs(torch, dev, p):
            continue
        dt = torch_dtype(torch, p)
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
            t = time_call(functools.partial(torch.mm, a, b, out=c), sync, plan.budget_s)
            points.append(GemmPoint(precision=p, m=m, k=k, n=n, kind=kind, time_s=t))
            rate = max(rate, points[-1].flops_per_s)
            del a, b, c
    return points


def measure_bandwidth(torch: Any, dev: Any, plan: ProbePlan, sync: Callable[[], None]) -> list[BandwidthPoint]:
    """STREAM-like ``copy_`` and ``add`` on filled fp32 tensors of each of the plan's sizes (far beyond the caches)."""
    points: list[BandwidthPoint] = []
    for nbytes in plan.bandwidth_bytes:
        n = nbytes // 4
        x = torch.full((n,), 1.0, dtype=torch.float32, device=dev)  # filled (touched), values don't matter
        y = torch.full((n,), 2.0, dtype=torch.float32, device=dev)
        z = torch.zeros(n, dtype=torch.float32, device=dev)
        t_copy = time_call(functools.partial(z.copy_, x), sync, plan.budget_s * 2)
        t_add = time_call(functools.partial(torch.add, x, y, out=z), sync, plan.budget_s * 2)
        points.append(BandwidthPoint(kernel="copy", tensor_bytes=nbytes, time_s=t_copy))
        points.append(BandwidthPoint(kernel="add", tensor_bytes=nbytes, time_s=t_add))
        del x, y, z
    return points


def measure_attention(
    torch: Any, dev: Any, plan: ProbePlan, p: Precision, sync: Callable[[], None]
) -> list[AttentionPoint]:
    """Causal ``scaled_dot_product_attention`` in precision ``p`` at each of the plan's (b, a, s, d) shapes."""
    sdpa = torch.nn.functional.scaled_dot_product_attention
    dt = torch_dtype(torch, p)
    points: list[AttentionPoint] = []
    with torch.inference_mode():
        for b, a, s, d in plan.attention:
            q = torch.randn(b, a, s, d, dtype=dt, device=dev)
            k = torch.randn(b, a, s, d, dtype=dt, device=dev)
            v = torch.randn(b, a, s, d, dtype=dt, device=dev)
            t = time_call(functools.partial(sdpa, q, k, v, is_causal=True), sync, plan.budget_s)
            points.append(AttentionPoint(p, b, a, s, d, True, t))
    return points
