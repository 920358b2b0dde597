"""The tiny-decoder benchmark: measure this machine (kernel probes plus a tiny transformer's fixed costs) into a
:class:`LocalMeasurement`, and time a small decoder's training step, prefill and decode (:func:`time_decoder`).

Nothing here predicts or compares (that is :mod:`chipfleet.validate.local.check`) and nothing prints.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError
from chipfleet.validate.local.machine import (
    TORCH_PRECISIONS,
    available_cores,
    cpu_info,
    gpu_power_limit_w,
    host_memory_bytes,
    import_torch,
    resolve_device,
    slug,
    sync_fn,
    time_call,
    time_repeats,
    torch_dtype,
    torch_threads,
)
from chipfleet.validate.local.probe import (
    AttentionPoint,
    BandwidthPoint,
    GemmPoint,
    fit_half_rows,
    measure_attention,
    measure_bandwidth,
    measure_gemm,
    probe_plan,
)
from chipfleet.workloads.models import ModelArch

MEASURE_PASSES = 2  # whole measurement sweeps; each item keeps its faster pass


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
        return tuple(p for p in TORCH_PRECISIONS if any(g.precision is p for g in self.gemm))

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
        return "local-cpu" if not self.is_gpu else f"local-{slug(self.device_name)}"


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
        source="chipfleet.validate.local.bench.default_local_model (a test shape; random weights, no checkpoint)",
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
    dt = torch_dtype(torch, p)
    model = Decoder(arch, max_len=16).to(device=dev, dtype=dt)
    tok = torch.zeros(1, 1, dtype=torch.long, device=dev)
    x = torch.randn(1, 1, arch.hidden_size, dtype=dt, device=dev)
    block = model.layers[0]
    rope = model.rope(dev)
    with torch.inference_mode():
        t_layer = time_call(lambda: block(x, rope, None, 0, 0), sync, budget_s, samples=7, warmup=3)
        t_model = time_call(lambda: model(tok).argmax(-1), sync, budget_s, samples=7, warmup=3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    seq = torch.zeros(1, 9, dtype=torch.long, device=dev)

    def train() -> None:
        logits = model(seq[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, arch.vocab_size), seq[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t_train = time_call(train, sync, budget_s, samples=7, warmup=3)
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
    torch = import_torch()
    t_start = time.perf_counter()
    dev = resolve_device(torch, device)
    gpu = dev.type == "cuda"
    plan = probe_plan(gpu, quick)
    sync = sync_fn(torch, dev)
    cores = available_cores()
    cpu_name, cpu_vendor = cpu_info()
    gemm: dict[tuple[object, ...], GemmPoint] = {}
    bandwidth: dict[tuple[object, ...], BandwidthPoint] = {}
    attention: dict[tuple[object, ...], AttentionPoint] = {}
    fixed = (math.inf, math.inf, math.inf)
    with torch_threads(torch, cores):
        torch.manual_seed(0)
        # Whole sweeps repeated, keeping each item's faster pass: a burst of load from elsewhere on a shared
        # machine (longer than one item's median window) then has to hit the same item twice to count.
        for _ in range(MEASURE_PASSES):
            for g in measure_gemm(torch, dev, plan, sync):
                _keep_faster(gemm, (g.precision, g.m, g.k, g.n, g.kind), g)
            if not gemm:
                raise ConfigError(f"no GEMM precision runs on {dev}; check the PyTorch build")
            best = max({g.precision for g in gemm.values()}, key=lambda p: _peak(gemm.values(), p))
            for b in measure_bandwidth(torch, dev, plan, sync):
                _keep_faster(bandwidth, (b.kernel, b.tensor_bytes), b)
            for a in measure_attention(torch, dev, plan, best, sync):
                _keep_faster(attention, (a.precision, a.shape), a)
            now = _measure_overheads(torch, dev, best, plan.budget_s * 3, sync)
            fixed = (min(fixed[0], now[0]), min(fixed[1], now[1]), min(fixed[2], now[2]))
    layer_s, model_s, train_s = fixed
    if gpu:
        props = torch.cuda.get_device_properties(dev)
        name = str(props.name)
        device_memory: float | None = float(props.total_memory)
        power = gpu_power_limit_w(dev.index)
    else:
        name, device_memory, power = cpu_name, None, None
    return LocalMeasurement(
        device=str(dev),
        device_name=name,
        torch_version=str(torch.__version__),
        threads=cores,
        cpu_count=os.cpu_count() or cores,
        device_memory_bytes=device_memory,
        host_memory_bytes=host_memory_bytes(),
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


@dataclass(frozen=True)
class DecoderTimings:
    """Wall times of :func:`time_decoder`'s three phases (seconds, one sample per timed repeat)."""

    device: str  # the torch device, e.g. "cpu" or "cuda:0"
    torch_version: str
    threads: int
    params: int  # parameters of the torch model (equal to the ModelArch's params_total)
    train_step_s: tuple[float, ...]
    prefill_s: tuple[float, ...]
    decode_step_s: tuple[float, ...]  # mean time per step of each repeat's greedy decode


def time_decoder(arch: ModelArch, shapes: LocalShapes, device: str, precision: Precision) -> DecoderTimings:
    """Time a real training step, prefill and decode step of a random-weight ``arch`` with PyTorch.

    - training step: forward + cross-entropy + backward + AdamW step on ``train_batch × seq_len`` tokens;
    - prefill: ``serve_batch × input_tokens`` into an empty KV cache, logits of the last token only;
    - decode step: ``output_tokens`` greedy steps after that prefill, the mean time per step.
    """
    torch = import_torch()
    from chipfleet.validate.local.model import Decoder, KVCache, count_parameters

    sh = shapes
    dev = resolve_device(torch, device)
    dt = torch_dtype(torch, precision)
    sync = sync_fn(torch, dev)
    cores = available_cores()
    max_len = max(sh.seq_len + 1, sh.input_tokens + sh.output_tokens)
    with torch_threads(torch, cores):
        torch.manual_seed(0)
        net = Decoder(arch, max_len=max_len).to(device=dev, dtype=dt)
        v = arch.vocab_size

        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        batch = torch.randint(0, v, (sh.train_batch, sh.seq_len + 1), device=dev)

        def train_step() -> None:
            logits = net(batch[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, v), batch[:, 1:].reshape(-1))
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        train_samples = time_repeats(train_step, sync, sh.repeats, sh.warmup)
        opt.state.clear()  # free the Adam moments before timing inference

        prompt = torch.randint(0, v, (sh.serve_batch, sh.input_tokens), device=dev)
        cache = KVCache.empty(arch, sh.serve_batch, max_len, dt, dev)
        decode_samples: list[float] = []

        def prefill() -> Any:
            cache.length = 0
            return net(prompt, cache, last_only=True).argmax(-1)

        with torch.inference_mode():
            prefill_samples = time_repeats(prefill, sync, sh.repeats, sh.warmup)
            for i in range(sh.warmup + sh.repeats):
                tok = prefill()
                sync()
                t0 = time.perf_counter()
                for _ in range(sh.output_tokens):
                    tok = net(tok, cache).argmax(-1)
                sync()
                if i >= sh.warmup:
                    decode_samples.append((time.perf_counter() - t0) / sh.output_tokens)
    return DecoderTimings(
        device=str(dev),
        torch_version=str(torch.__version__),
        threads=cores,
        params=count_parameters(net),
        train_step_s=tuple(train_samples),
        prefill_s=tuple(prefill_samples),
        decode_step_s=tuple(decode_samples),
    )
