"""Training step time, memory per chip and FLOPs for a decoder on one instance type.

Conventions (stated once, used everywhere here):

- FLOPs: a multiply-add is 2 FLOPs. Attention score/mix FLOPs use the causal convention (kernels that skip
  the masked half, FlashAttention), i.e. ``2·L·s·a·d`` per token forward; Kaplan's ``12·L·s·h`` training
  term counts the full square and is twice ours.
- Model FLOPs (for MFU) exclude recomputation; hardware FLOPs (HFU) include it (PaLM, Appendix B).
- Rank order is Megatron's: tensor (innermost) → context → data/expert → pipeline (outermost), so a group
  crosses instances when the product of the degrees inside it exceeds the chips of one instance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import product
from typing import Any, ClassVar

import numpy as np

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import Hardware, divisors
from chipfleet.perf.training_batch import (
    GRAD_BYTES,
    OPTIMIZER_BYTES,
    RECOMPUTE_CODES,
    WEIGHT_BYTES,
    SplitResults,
    Splits,
    elementwise,
    evaluate,
    memory_terms,
    peaks,
)
from chipfleet.perf.training_batch import activation_bytes_per_layer as _act_batch
from chipfleet.perf.training_batch import params_per_chip as _params_batch
from chipfleet.workloads.models import ModelArch

# Ceilings that keep every search bounded and every price meaningful (our choices, 2026-12; raise them here
# if a real job needs more). Each is well above the largest published figure named beside it.
MAX_CHIPS = 1 << 20  # ~10× the largest announced single training clusters (~100,000 GPUs, 2024)
MAX_TRAINING_TOKENS = 1e15  # ~64× the largest published pre-training set (Llama 3: 15.6T tokens, 2024)
MAX_SEQ_LEN = 1 << 24  # above the longest advertised context (10M tokens, Llama 4 Scout, 2025)
MAX_GLOBAL_BATCH = 1 << 24  # sequences per step; Llama 3 405B used 16M tokens = 4,096 sequences of 4k


def check_cluster(hw: Hardware, instances: int) -> None:
    """Raise :class:`ConfigError` unless ``1 ≤ instances`` and the chips stay within ``MAX_CHIPS``."""
    if isinstance(instances, bool) or not isinstance(instances, int) or instances < 1:
        raise ConfigError(f"the instance count must be a positive integer, got {instances!r}")
    chips = instances * hw.chips_per_instance
    if chips > MAX_CHIPS:
        raise ConfigError(
            f"{instances} × {hw.instance} = {chips:,} chips is above chipfleet's ceiling of {MAX_CHIPS:,} chips "
            "(about 10× the largest training clusters announced); use fewer instances"
        )


def check_training_tokens(tokens: float) -> None:
    """Raise :class:`ConfigError` unless ``tokens`` is finite, ≥ 1 and at most ``MAX_TRAINING_TOKENS``."""
    if not math.isfinite(tokens) or tokens < 1 or tokens > MAX_TRAINING_TOKENS:
        raise ConfigError(
            f"training tokens must be a finite count from 1 to {MAX_TRAINING_TOKENS:.0e} (about 64× the largest "
            f"published pre-training set, Llama 3's 15.6T), got {tokens:g}"
        )


class Recompute(StrEnum):
    NONE = "none"
    SELECTIVE = "selective"  # recompute the attention core only (Korthikanti et al. 2022)
    FULL = "full"  # keep each layer's input, recompute the whole layer in backward


_RECOMPUTE_BY_CODE = {code: Recompute(name) for name, code in RECOMPUTE_CODES.items()}


@dataclass(frozen=True)
class Parallelism:
    """How a training job is split over chips. Degrees count chips."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("chips",)

    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    ep: int = 1
    zero: int = 1
    micro_batch: int = 1
    recompute: Recompute = Recompute.SELECTIVE
    sequence_parallel: bool = True
    virtual_stages: int = 1

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "dp", "cp", "ep", "micro_batch", "virtual_stages"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_CHIPS:
                raise ConfigError(f"{name} must be an integer from 1 to {MAX_CHIPS:,}, got {v!r}")
        if self.zero not in (0, 1, 2, 3):
            raise ConfigError(f"zero must be 0, 1, 2 or 3, got {self.zero}")
        if (self.dp * self.cp) % self.ep:
            raise ConfigError(f"ep={self.ep} must divide dp·cp={self.dp * self.cp} (experts shard over data ranks)")

    @property
    def chips(self) -> int:
        return self.tp * self.pp * self.dp * self.cp

    def describe(self) -> str:
        parts = [f"tp={self.tp}", f"pp={self.pp}", f"dp={self.dp}"]
        if self.cp > 1:
            parts.append(f"cp={self.cp}")
        if self.ep > 1:
            parts.append(f"ep={self.ep}")
        if self.virtual_stages > 1:
            parts.append(f"vp={self.virtual_stages}")
        parts += [f"zero={self.zero}", f"mb={self.micro_batch}", f"recompute={self.recompute.value}"]
        return ",".join(parts)

    def short(self) -> str:
        """Compact form for tables: ``tp8 pp2 dp64 vp4 z1 mb4 sel``."""
        parts = [f"tp{self.tp}", f"pp{self.pp}", f"dp{self.dp}"]
        parts += [f"{k}{v}" for k, v in (("cp", self.cp), ("ep", self.ep), ("vp", self.virtual_stages)) if v > 1]
        rc = {"none": "", "selective": " sel", "full": " full"}[self.recompute.value]
        return " ".join(parts) + f" z{self.zero} mb{self.micro_batch}{rc}"


@dataclass(frozen=True)
class TrainingSetup:
    """What is trained, independent of how it is split."""

    model: ModelArch
    seq_len: int = 4096
    global_batch: int = 1024  # sequences per optimizer step
    precision: Precision = Precision.BF16
    flash_attention: bool = True
    overlap_grad_comm: bool = True

    def __post_init__(self) -> None:
        for name, limit, why in (
            ("seq_len", MAX_SEQ_LEN, "above the longest advertised context, 10M tokens"),
            ("global_batch", MAX_GLOBAL_BATCH, "thousands of times the batches of published runs"),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= limit:
                raise ConfigError(f"{name} must be an integer from 1 to {limit:,} ({why}), got {v!r}")
        if self.model.kind != "decoder":
            raise ConfigError(f"{self.model.name} is an encoder; training estimates cover decoder LMs only")
        if self.precision not in (Precision.BF16, Precision.FP16, Precision.FP8, Precision.FP32):
            raise ConfigError(f"training precision must be bf16, fp16, fp8 or fp32, got {self.precision.value}")


@dataclass(frozen=True)
class TrainingFlops:
    """FLOPs per token: ``model`` (no recompute) and ``hardware`` (with recompute)."""

    model_per_token: float
    hardware_per_token: float


def flops_per_token_parts(model: ModelArch, seq_len: int) -> tuple[float, float, float]:
    """(model FLOPs per token, attention forward FLOPs per token, output-head forward FLOPs per token)."""
    attn = model.attention_flops_per_token_forward(seq_len, causal=True)
    return (
        training_flops_per_token(model, seq_len, Recompute.NONE).model_per_token,
        attn,
        2.0 * model.vocab_size * model.hidden_size,
    )


def training_flops_per_token(model: ModelArch, seq_len: int, recompute: Recompute) -> TrainingFlops:
    """Training FLOPs per token, forward + backward (backward = 2 × forward; Kaplan et al. 2020).

    forward = ``2·(L·P_layer_active + V·h)`` (every matmul weight, the output head even when tied)
              + ``2·L·s·a·d`` (causal attention scores and mix)
    model   = 3 · forward
    hardware = model + one more forward of the layers (not the head) for full recompute, or + the
               attention part for selective.
    """
    matmul_params = model.n_layers * model.params_per_layer_active + model.vocab_size * model.hidden_size
    attn = model.attention_flops_per_token_forward(seq_len, causal=True)
    fwd = 2.0 * matmul_params + attn
    # Full recompute re-runs every layer; the output head's logits are not recomputed (Megatron).
    layers_fwd = fwd - 2.0 * model.vocab_size * model.hidden_size
    extra = {Recompute.NONE: 0.0, Recompute.SELECTIVE: attn, Recompute.FULL: layers_fwd}[recompute]
    return TrainingFlops(model_per_token=3.0 * fwd, hardware_per_token=3.0 * fwd + extra)


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes per chip on the most loaded pipeline stage."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("total_bytes",)

    weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float
    logits_bytes: float
    available_bytes: float

    @property
    def total_bytes(self) -> float:
        return (
            self.weights_bytes
            + self.gradients_bytes
            + self.optimizer_bytes
            + self.activations_bytes
            + self.logits_bytes
        )

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.available_bytes


def _splits(par: Parallelism) -> Splits:
    """A batch of one split, for the vectorised evaluator."""

    def arr(v: int) -> np.ndarray:
        return np.array([v], dtype=np.int64)

    return Splits(
        tp=arr(par.tp),
        pp=arr(par.pp),
        dp=arr(par.dp),
        cp=arr(par.cp),
        ep=arr(par.ep),
        vp=arr(par.virtual_stages),
        zero=arr(par.zero),
        micro_batch=arr(par.micro_batch),
        recompute=arr(RECOMPUTE_CODES[par.recompute.value]),
        sequence_parallel=np.array([par.sequence_parallel]),
    )


def params_per_chip(model: ModelArch, par: Parallelism) -> float:
    """Parameters held by one chip of the most loaded stage, before ZeRO sharding.

    Per layer: attention, norms and router split over ``t``; experts over ``t·ep``. The first stage adds the
    token embedding, the last the (untied) head; with one stage both. ``⌈L/p⌉`` layers per stage.
    """
    s = _splits(par)
    return float(_params_batch(model, s.tp, s.pp, s.ep)[0])


def activation_bytes_per_layer(model: ModelArch, setup: TrainingSetup, par: Parallelism) -> float:
    """Stored activation bytes of one layer for one micro-batch (Korthikanti et al. 2022).

    With ``s' = s/cp`` tokens per context rank and ``b`` the micro-batch:
    - none / selective, sequence parallel:   ``34·s'·b·h / t``
    - none / selective, no sequence parallel: ``s'·b·h·(10 + 24/t)``
    - full recompute: the layer input only, ``2·s'·b·h`` (``/t`` with SP)
    - without FlashAttention and no recompute: ``+ 5·a·s'·s·b / t`` for the attention scores.
    """
    return float(_act_batch(model, setup.seq_len, setup.flash_attention, _splits(par))[0])


def training_memory(model: ModelArch, setup: TrainingSetup, par: Parallelism, hw: Hardware) -> TrainingMemory:
    """Memory per chip: 2 + 2 + 12 bytes per parameter sharded by ZeRO stage, plus activations.

    ZeRO-1 shards the optimizer over the data-parallel group (``dp·cp``), ZeRO-2 also the gradients, ZeRO-3
    also the weights. 1F1B keeps ``min(p, m)`` micro-batches of activations in flight on the first stage;
    full recompute also holds one layer's full activations while it is recomputed. The last stage holds the
    fp32 logits of one micro-batch (``s'·b·V·4 / t``).
    """
    terms = memory_terms(model, setup.seq_len, setup.global_batch, setup.flash_attention, _splits(par))
    return TrainingMemory(**{k: float(v[0]) for k, v in terms.items()}, available_bytes=hw.usable_memory_bytes)


@dataclass(frozen=True)
class TrainingStep:
    """One optimizer step: its time, the breakdown of that time, throughput and memory."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("bound",)

    parallelism: Parallelism
    instances: int
    step_time_s: float
    breakdown: dict[str, float]
    tokens_per_s: float
    mfu: float
    hfu: float
    memory: TrainingMemory
    micro_batches: int
    flops: TrainingFlops
    assumptions: tuple[str, ...] = field(default=())

    @property
    def bound(self) -> str:
        """The largest term of the step time."""
        return max(self.breakdown, key=lambda k: self.breakdown[k])


def check_parallelism(model: ModelArch, setup: TrainingSetup, par: Parallelism, hw: Hardware, instances: int) -> None:
    """Raise :class:`ConfigError` naming the first rule a split breaks."""
    check_cluster(hw, instances)
    chips = instances * hw.chips_per_instance
    if par.chips != chips:
        raise ConfigError(
            f"tp·pp·dp·cp = {par.tp}·{par.pp}·{par.dp}·{par.cp} = {par.chips} but {instances} × {hw.instance} "
            f"have {chips} chips; make the product equal the chip count"
        )
    if model.n_heads % par.tp or (model.n_kv_heads % par.tp and par.tp % model.n_kv_heads):
        raise ConfigError(f"tp={par.tp} must divide the {model.n_heads} attention heads of {model.name}")
    if par.pp > model.n_layers:
        raise ConfigError(f"pp={par.pp} exceeds the {model.n_layers} layers of {model.name}")
    if par.pp * par.virtual_stages > model.n_layers:
        raise ConfigError(f"pp·vp={par.pp * par.virtual_stages} exceeds the {model.n_layers} layers of {model.name}")
    if setup.seq_len % par.cp:
        raise ConfigError(f"cp={par.cp} must divide seq_len={setup.seq_len}")
    if par.ep > 1 and not model.is_moe:
        raise ConfigError(f"ep={par.ep} needs a mixture-of-experts model; {model.name} is dense")
    if par.ep > 1 and model.n_experts % par.ep:
        raise ConfigError(f"ep={par.ep} must divide the {model.n_experts} experts of {model.name}")
    if setup.global_batch % (par.micro_batch * par.dp):
        raise ConfigError(
            f"global batch {setup.global_batch} must be a multiple of micro_batch·dp = "
            f"{par.micro_batch}·{par.dp}; change global_batch, micro_batch or dp",
            field="global_batch",
        )
    if hw.max_instances is not None and instances > hw.max_instances:
        raise ConfigError(f"{hw.instance} is offered up to {hw.max_instances} instances per cluster, not {instances}")


def training_step(
    model: ModelArch, setup: TrainingSetup, par: Parallelism, hw: Hardware, instances: int
) -> TrainingStep:
    """Time of one optimizer step and its breakdown (Narayanan et al. 2021; Korthikanti et al. 2022).

    Per micro-batch on the slowest stage (``L/p`` layers, plus the output head on the last stage):

    - ``compute``: linear-layer FLOPs ÷ (peak · η(M)) and attention FLOPs ÷ (bf16 peak under FP8 · η(M)),
      ``M = b·s/cp`` rows; backward = 2 × forward; recompute adds a forward of the layers (full) or the
      attention core (selective).
    - ``memory``: element-wise traffic (:func:`chipfleet.perf.kernels.elementwise_bytes_per_token`),
      forward once and backward twice, ÷ (HBM bandwidth · η_mem).
    - ``tp_comm``: 2 all-reduces of ``b·s'·h`` bf16 per layer in forward and 2 in backward (as reduce-scatter +
      all-gather with sequence parallelism: the same time); full recompute repeats the forward pair.
    - ``cp_comm``: ring attention passes K,V (``cp − 1`` steps), overlapped with attention compute; the
      excess is exposed.
    - ``ep_comm``: 2 all-to-alls per MoE layer per pass of the routed tokens (``b·s'·h·k`` bf16).
    - ``pp_comm``: one activation send forward and one gradient send backward per micro-batch.
    - ``overhead``: ``layer_overhead`` × layers × 3 passes, + ``step_overhead`` per step.

    Pipeline: ``m = B/(b·dp)`` micro-batches; step = ``(m + (p−1)/v) · T_mb``, the bubble is
    ``(p−1)/v · T_mb``. Data parallel: all-reduce (ZeRO-0) or reduce-scatter + all-gather (ZeRO-1/2) of
    ``2·N_chip`` bytes over ``dp·cp`` ranks, overlapped with the last micro-batch's backward when
    ``overlap_grad_comm``. ZeRO-3 moves 3× the weight bytes per micro-batch (weights all-gathered in the
    forward and again in the backward, gradients reduce-scattered per layer), prefetched layer by layer
    under compute; the first layer's gather and the last layer's scatter, and all traffic beyond the
    compute time, are exposed (:func:`chipfleet.perf.training_batch.zero3_exposed_s`). Then a memory-bound
    Adam update of ``28`` bytes per sharded parameter.
    """
    check_parallelism(model, setup, par, hw, instances)
    flops = training_flops_per_token(model, setup.seq_len, par.recompute)
    res = evaluate_grid(model, setup, hw, _splits(par), instances)
    breakdown = {k: float(v[0]) for k, v in res.breakdown.items()}
    step = float(res.step_time_s[0])
    tokens_per_s = float(res.tokens_per_s[0])
    mfu = float(res.mfu[0])
    hfu = float(res.hfu[0])
    m = int(res.micro_batches[0])
    return TrainingStep(
        parallelism=par,
        instances=instances,
        step_time_s=step,
        breakdown=breakdown,
        tokens_per_s=tokens_per_s,
        mfu=mfu,
        hfu=hfu,
        memory=training_memory(model, setup, par, hw),
        micro_batches=m,
        flops=flops,
        assumptions=TRAINING_ASSUMPTIONS,
    )


TRAINING_ASSUMPTIONS: tuple[str, ...] = (
    "FLOPs: causal attention counted as half the square (FlashAttention convention); MFU excludes recompute",
    "memory: bf16 weights and grads + fp32 Adam states (16 B/param) sharded by ZeRO stage over dp·cp",
    "memory: 5 % of device memory reserved for the runtime; activations per Korthikanti et al. 2022",
    "schedule: 1F1B pipeline, bubble (p-1)/v of a micro-batch time; TP comm exposed, DP comm overlapped "
    "with the last backward",
    "links: Megatron rank order tp→cp→dp→pp; groups larger than one instance use the per-chip share of "
    "scale-out bandwidth",
    "efficiency: per-family parameters from the catalog (achievable compute, memory, collective fractions, "
    "fixed overheads)",
)


MAX_PIPELINE_STAGES = 64  # the search's ceiling; a user may still fix a deeper pipeline


@dataclass(frozen=True)
class ParallelismChoice:
    """The fastest split that fits, and how many splits were tried and rejected."""

    step: TrainingStep
    evaluated: int
    rejected: dict[str, int]


def split_grid(
    model: ModelArch, hw: Hardware, instances: int, seq_len: int, fixed: dict[str, object] | None = None
) -> Splits:
    """Every split of ``instances × chips`` worth evaluating, honouring the fields in ``fixed``.

    TP stays inside one instance (it is the most communication-heavy) and divides the heads; PP divides the
    chips, up to 64 stages and at most one layer per stage (stages may be uneven: the slowest holds
    ``⌈L/p⌉`` layers, so Llama-3.1-405B's 126 layers can run on 16 stages); interleaving 1, 2 or 4; CP only
    for sequences of 16k tokens or more; EP only for MoE; micro-batch 1-8; ZeRO 1 or 3; the three recompute
    modes. Every list comes from divisors (found up to ``√n``), so the grid is bounded for any size.
    """
    fixed = fixed or {}
    check_cluster(hw, instances)
    chips = instances * hw.chips_per_instance

    def opts(name: str, default: Sequence[Any]) -> list[Any]:
        return [fixed[name]] if name in fixed else list(default)

    tps = opts("tp", [t for t in divisors(hw.chips_per_instance) if model.n_heads % t == 0])
    pps = opts("pp", [p for p in divisors(chips) if p <= min(model.n_layers, MAX_PIPELINE_STAGES)])
    cps = opts("cp", [1, 2, 4, 8] if seq_len >= 16384 else [1])
    eps = opts("ep", divisors(model.n_experts) if model.is_moe else [1])
    rows = []
    for tp, pp, cp, ep in product(tps, pps, cps, eps):
        if chips % (tp * pp * cp) or ("dp" in fixed and fixed["dp"] != chips // (tp * pp * cp)):
            continue
        vps = opts("virtual_stages", [v for v in (1, 2, 4) if v == 1 or (pp > 1 and pp * v <= model.n_layers)])
        rows += [(tp, pp, chips // (tp * pp * cp), cp, ep, vp) for vp in vps]
    recompute = [RECOMPUTE_CODES[Recompute(r).value] for r in opts("recompute", list(Recompute))]
    knobs = list(product(opts("micro_batch", [1, 2, 4, 8]), opts("zero", [1, 3]), recompute))
    if not rows:
        z = np.zeros(0, dtype=np.int64)
        return Splits(z, z, z, z, z, z, z, z, z, np.zeros(0, dtype=bool))
    grid = np.repeat(np.array(rows, dtype=np.int64), len(knobs), axis=0)
    kk = np.tile(np.array(knobs, dtype=np.int64), (len(rows), 1))
    sp = fixed.get("sequence_parallel")
    return Splits(
        tp=grid[:, 0],
        pp=grid[:, 1],
        dp=grid[:, 2],
        cp=grid[:, 3],
        ep=grid[:, 4],
        vp=grid[:, 5],
        micro_batch=kk[:, 0],
        zero=kk[:, 1],
        recompute=kk[:, 2],
        sequence_parallel=grid[:, 0] > 1 if sp is None else np.full(len(grid), bool(sp)),
    )


def split_at(s: Splits, i: int) -> Parallelism:
    """Row ``i`` of a grid as a :class:`Parallelism`."""
    return Parallelism(
        tp=int(s.tp[i]),
        pp=int(s.pp[i]),
        dp=int(s.dp[i]),
        cp=int(s.cp[i]),
        ep=int(s.ep[i]),
        zero=int(s.zero[i]),
        micro_batch=int(s.micro_batch[i]),
        recompute=_RECOMPUTE_BY_CODE[int(s.recompute[i])],
        sequence_parallel=bool(s.sequence_parallel[i]),
        virtual_stages=int(s.vp[i]),
    )


def evaluate_grid(model: ModelArch, setup: TrainingSetup, hw: Hardware, s: Splits, instances: int) -> SplitResults:
    """:func:`training_batch.evaluate` for a training setup."""
    peak, attn_peak = peaks(hw, setup.precision)
    return evaluate(
        model,
        hw,
        s,
        instances,
        setup.seq_len,
        setup.global_batch,
        peak,
        attn_peak,
        elementwise(model, setup.precision),
        flops_per_token_parts(model, setup.seq_len),
        flash_attention=setup.flash_attention,
        overlap_grad_comm=setup.overlap_grad_comm,
    )


def count_splits(
    model: ModelArch,
    setup: TrainingSetup,
    hw: Hardware,
    instances: int,
    fixed: dict[str, object] | None = None,
) -> tuple[int, int]:
    """(valid splits, valid splits that fit in memory) of the search grid: tells a divisibility problem
    (no valid split at all) from a memory problem (valid splits, none fits)."""
    grid = split_grid(model, hw, instances, setup.seq_len, fixed)
    if not len(grid):
        return 0, 0
    res = evaluate_grid(model, setup, hw, grid, instances)
    return int(res.valid.sum()), int((res.valid & res.fits).sum())


def choose_parallelism(
    model: ModelArch,
    setup: TrainingSetup,
    hw: Hardware,
    instances: int,
    fixed: dict[str, object] | None = None,
) -> ParallelismChoice | None:
    """The fastest valid split that fits in memory, or None when none does (see :func:`min_chips_to_fit`)."""
    grid = split_grid(model, hw, instances, setup.seq_len, fixed)
    if not len(grid):
        return None
    res = evaluate_grid(model, setup, hw, grid, instances)
    ok = res.valid & res.fits
    rejected = {"invalid split": int((~res.valid).sum()), "does not fit in memory": int((res.valid & ~res.fits).sum())}
    if not ok.any():
        return None
    best = split_at(grid, int(np.argmin(np.where(ok, res.step_time_s, np.inf))))
    return ParallelismChoice(
        step=training_step(model, setup, best, hw, instances), evaluated=len(grid), rejected=rejected
    )


_DEGREES = ("tp", "pp", "dp", "cp")


def check_fixed_fields(
    model: ModelArch, setup: TrainingSetup, hw: Hardware, instances: int, fixed: dict[str, object]
) -> None:
    """Raise :class:`ConfigError` for a fixed parallelism field that no completion of the split can honour
    (a divisibility or range rule), so such a field is never reported as a memory problem."""
    chips = instances * hw.chips_per_instance
    where = f"{instances} × {hw.instance}"
    ints: dict[str, int] = {}
    for name, v in fixed.items():
        if name not in (*_DEGREES, "ep", "micro_batch", "virtual_stages", "zero"):
            continue
        if not isinstance(v, int) or isinstance(v, bool):
            raise ConfigError(f"{name} must be an integer, got {v!r}")
        ints[name] = v
        low = 0 if name == "zero" else 1
        if v < low:
            raise ConfigError(f"{name} must be at least {low}, got {v}")
    if "zero" in ints and ints["zero"] > 3:
        raise ConfigError(f"zero must be 0, 1, 2 or 3, got {ints['zero']}")
    given = {k: ints[k] for k in _DEGREES if k in ints}
    for name, v in given.items():
        if chips % v:
            raise ConfigError(f"{name}={v} does not divide the {chips} chips of {where}; pick a divisor of {chips}")
    product = math.prod(given.values())
    if chips % product:
        expr = "·".join(given)
        raise ConfigError(f"{expr} = {product} does not divide the {chips} chips of {where}")
    tp = given.get("tp")
    if tp is not None and (model.n_heads % tp or (model.n_kv_heads % tp and tp % model.n_kv_heads)):
        raise ConfigError(
            f"tp={tp} must divide the {model.n_heads} attention heads (and {model.n_kv_heads} KV heads) of {model.name}"
        )
    pp = given.get("pp")
    if pp is not None and pp > model.n_layers:
        raise ConfigError(f"pp={pp} exceeds the {model.n_layers} layers of {model.name}")
    cp = given.get("cp")
    if cp is not None and setup.seq_len % cp:
        raise ConfigError(f"cp={cp} must divide seq_len={setup.seq_len}")
    ep = ints.get("ep")
    if ep is not None and ep > 1:
        if not model.is_moe:
            raise ConfigError(f"ep={ep} needs a mixture-of-experts model; {model.name} is dense")
        if model.n_experts % ep:
            raise ConfigError(f"ep={ep} must divide the {model.n_experts} experts of {model.name}")
        if "dp" in given and (given["dp"] * given.get("cp", 1)) % ep:
            dpcp = given["dp"] * given.get("cp", 1)
            raise ConfigError(f"ep={ep} must divide dp·cp = {dpcp} (experts shard over data ranks)")
    dp, mb = given.get("dp"), ints.get("micro_batch")
    step = (dp or 1) * (mb or 1)
    if setup.global_batch % step:
        raise ConfigError(
            f"global batch {setup.global_batch} must be a multiple of micro_batch·dp = {mb or 1}·{dp or 1}; "
            "change global_batch, micro_batch or dp",
            field="global_batch",
        )


def min_chips_to_fit(model: ModelArch, setup: TrainingSetup, hw: Hardware) -> int:
    """A lower bound on chips that can hold the training state: ZeRO-3 + full recompute, 16 B/param."""
    state = model.params_total * (WEIGHT_BYTES + GRAD_BYTES + OPTIMIZER_BYTES)
    return max(1, math.ceil(state / hw.usable_memory_bytes))
