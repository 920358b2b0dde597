"""The training step and memory model evaluated for many splits at once (numpy arrays, no Python loop).

This is the one implementation of the formulas documented on :func:`chipfleet.perf.training.training_step`
and :func:`chipfleet.perf.training.training_memory`; those scalar functions evaluate a batch of one. Every
quantity below is an array over splits; the model, the training setup and the hardware are shared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from chipfleet.catalog import Precision
from chipfleet.perf.hardware import Hardware
from chipfleet.perf.kernels import attention_precision, elementwise_bytes_per_token
from chipfleet.workloads.models import ModelArch

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

RECOMPUTE_CODES = {"none": 0, "selective": 1, "full": 2}

# Bytes per parameter for mixed-precision Adam (Rajbhandari et al. 2020, "ZeRO").
WEIGHT_BYTES = 2.0  # bf16 weights
GRAD_BYTES = 2.0  # bf16 gradients
OPTIMIZER_BYTES = 12.0  # fp32 master weights, Adam m and v
# Bytes one Adam update moves per parameter: reads master, m, v (12) and the grad (2), writes master,
# m, v (12) and the bf16 weight copy (2).
OPTIMIZER_STEP_BYTES = 28.0
# Korthikanti et al. 2022: activation bytes stored per layer are s·b·h·34 (with sequence parallelism,
# divided by t) plus 5·a·s²·b for the attention scores (removed by FlashAttention).
ACT_BYTES_PER_SBH = 34.0
ACT_BYTES_PER_SBH_NO_SP_SHARED = 10.0  # the part replicated on every tensor rank without SP
LOGIT_BYTES = 4.0  # fp32 logits for the loss, vocab-parallel over t
ACTIVATION_BYTES = 2.0  # bf16 activations on the wire


@dataclass(frozen=True)
class Splits:
    """Parallel arrays, one entry per split: degrees in chips, ZeRO stage, micro-batch, recompute code."""

    tp: IntArray
    pp: IntArray
    dp: IntArray
    cp: IntArray
    ep: IntArray
    vp: IntArray
    zero: IntArray
    micro_batch: IntArray
    recompute: IntArray  # RECOMPUTE_CODES
    sequence_parallel: BoolArray

    def __len__(self) -> int:
        return int(self.tp.shape[0])

    @property
    def chips(self) -> IntArray:
        out: IntArray = self.tp * self.pp * self.dp * self.cp
        return out

    def take(self, mask: BoolArray | IntArray) -> Splits:
        return Splits(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})


@dataclass(frozen=True)
class SplitResults:
    """Per split: validity, memory, step time with its breakdown, throughput, MFU and HFU."""

    valid: BoolArray  # divisibility and link rules hold
    memory_bytes: dict[str, FloatArray]
    available_bytes: float
    step_time_s: FloatArray
    breakdown: dict[str, FloatArray]
    tokens_per_s: FloatArray
    mfu: FloatArray
    hfu: FloatArray
    micro_batches: IntArray
    busy_fraction: FloatArray

    @property
    def memory_total_bytes(self) -> FloatArray:
        total: FloatArray = sum(self.memory_bytes.values(), np.zeros_like(self.step_time_s))
        return total

    @property
    def fits(self) -> BoolArray:
        out: BoolArray = self.memory_total_bytes <= self.available_bytes
        return out


def _ring(kind: str, ranks: IntArray, message_bytes: FloatArray, bw: FloatArray, lat: FloatArray) -> FloatArray:
    """Vectorised ring collectives (see :mod:`chipfleet.perf.collectives`); zero for one rank."""
    n = ranks.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        s_over_b = np.where(bw > 0, message_bytes / bw, np.inf)
        if kind == "all-reduce":
            t = 2 * (n - 1) / n * s_over_b + 2 * (n - 1) * lat
        elif kind == "p2p":
            t = s_over_b + lat
        else:  # reduce-scatter, all-gather, all-to-all
            t = (n - 1) / n * s_over_b + (n - 1) * lat
    out: FloatArray = np.where((ranks <= 1) | (message_bytes <= 0), 0.0, t)
    return out


def _link(hw: Hardware, inner_ranks: IntArray, ranks: IntArray) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Bandwidth (efficiency applied) and latency of a group whose ranks sit ``inner_ranks`` apart, and
    whether it is usable: a group spans instances when the ranks inside it exceed one instance's chips."""
    span = inner_ranks > hw.chips_per_instance
    bw = np.where(span, hw.scaleout_bytes_per_s_per_chip, hw.intra_link_bytes_per_s) * hw.eff.collective
    lat = np.where(span, hw.eff.inter_latency_s, hw.eff.intra_latency_s)
    ok = (ranks <= 1) | (bw > 0)
    return bw.astype(np.float64), lat.astype(np.float64), ok


def params_per_chip(model: ModelArch, tp: IntArray, pp: IntArray, ep: IntArray) -> FloatArray:
    """Parameters on one chip of the most loaded stage before ZeRO: per layer, attention, norms and router
    split over ``t`` and experts over ``t·ep``; ``⌈L/p⌉`` layers; the first stage adds the embedding, the
    last the head (untied or not), one stage holds both."""
    expert = float(model.n_experts * model.params_mlp_per_expert) * model.n_moe_layers / model.n_layers  # mean
    dense = float(model.params_per_layer) - expert
    per_layer = dense / tp + expert / (tp * ep)
    layers = np.ceil(model.n_layers / pp) * per_layer
    embed = model.params_embedding / tp
    head_matrix = (model.params_lm_head if not model.tied_embeddings else model.vocab_size * model.hidden_size) / tp
    single = layers + embed + model.params_lm_head / tp
    multi = layers + np.maximum(embed, head_matrix)
    out: FloatArray = np.where(pp == 1, single, multi) + model.params_outside_layers
    return out


def activation_bytes_per_layer(
    model: ModelArch, seq_len: int, flash_attention: bool, s: Splits, recompute: IntArray | None = None
) -> FloatArray:
    """Stored activation bytes of one layer for one micro-batch (Korthikanti et al. 2022), ``s' = s/cp``:
    none/selective with SP ``34·s'·b·h/t``; without SP ``s'·b·h·(10 + 24/t)``; full recompute the layer
    input ``2·s'·b·h`` (``/t`` with SP); no FlashAttention and no recompute adds ``5·a·s'·s·b/t``."""
    rc = s.recompute if recompute is None else recompute
    s_local = seq_len / s.cp
    sbh = s_local * s.micro_batch * model.hidden_size
    t = s.tp.astype(np.float64)
    sp = s.sequence_parallel
    full = 2.0 * sbh / np.where(sp, t, 1.0)
    with_sp = ACT_BYTES_PER_SBH * sbh / t
    without_sp = sbh * (ACT_BYTES_PER_SBH_NO_SP_SHARED + (ACT_BYTES_PER_SBH - ACT_BYTES_PER_SBH_NO_SP_SHARED) / t)
    act = np.where(sp, with_sp, without_sp)
    if not flash_attention:
        act = act + np.where(rc == 0, 5.0 * model.n_heads * s_local * seq_len * s.micro_batch / t, 0.0)
    out: FloatArray = np.where(rc == 2, full, act)
    return out


def overlapped_s(comm_s: FloatArray, compute_s: FloatArray, chunks: FloatArray) -> FloatArray:
    """Time of ``compute_s`` overlapped with ``comm_s`` in ``chunks`` layer-sized pieces (a two-stage
    pipeline: chunk ``i+1`` moves while chunk ``i`` computes): ``max(C, X) + min(C, X)/n``. The ``1/n`` is
    the piece that cannot overlap: the first layer's weights must arrive before any compute starts (or the
    last layer's gradients leave after it ends)."""
    out: FloatArray = np.maximum(comm_s, compute_s) + np.minimum(comm_s, compute_s) / chunks
    return out


def zero3_exposed_s(
    gather_s: FloatArray, scatter_s: FloatArray, fwd_s: FloatArray, bwd_s: FloatArray, layers: FloatArray
) -> FloatArray:
    """Exposed data-parallel time of one ZeRO-3 micro-batch (Rajbhandari et al. 2020, "ZeRO", sec. 7.2.2).

    ZeRO-3 moves 3× the stage's weight bytes per micro-batch where plain data parallelism moves 2×: the
    weights are all-gathered layer by layer in the forward (``G``) and again in the backward (``G``), and
    each layer's gradients are reduce-scattered as soon as they exist (``S``). Prefetching hides what fits
    under compute, layer by layer, over the ``ℓ`` layers of the stage (:func:`overlapped_s`):

    - forward:  ``max(G, F) + min(G, F)/ℓ − F``
    - backward: ``max(G + S, B) + min(G + S, B)/ℓ − B`` (the gathers and the scatters share the link)

    So even a link fast enough to hide the traffic exposes the first layer's gather and the last layer's
    scatter; a slow link exposes everything beyond the compute time.
    """
    fwd = overlapped_s(gather_s, fwd_s, layers) - fwd_s
    bwd = overlapped_s(gather_s + scatter_s, bwd_s, layers) - bwd_s
    out: FloatArray = np.where(gather_s + scatter_s > 0, fwd + bwd, 0.0)
    return out


def memory_terms(
    model: ModelArch, seq_len: int, global_batch: int, flash_attention: bool, s: Splits
) -> dict[str, FloatArray]:
    """Bytes per chip (see :func:`chipfleet.perf.training.training_memory`)."""
    n = params_per_chip(model, s.tp, s.pp, s.ep)
    shard = (s.dp * s.cp).astype(np.float64)
    weights = n * WEIGHT_BYTES / np.where(s.zero >= 3, shard, 1.0)
    grads = n * GRAD_BYTES / np.where(s.zero >= 2, shard, 1.0)
    optim = n * OPTIMIZER_BYTES / np.where(s.zero >= 1, shard, 1.0)
    micro_batches = np.maximum(1, global_batch // (s.micro_batch * s.dp))
    in_flight = np.minimum(s.pp, micro_batches)
    per_layer = activation_bytes_per_layer(model, seq_len, flash_attention, s)
    acts = np.ceil(model.n_layers / s.pp) * in_flight * per_layer
    full_layer = activation_bytes_per_layer(model, seq_len, flash_attention, s, recompute=np.zeros_like(s.recompute))
    acts = acts + np.where(s.recompute == 2, full_layer, 0.0)
    logits = seq_len / s.cp * s.micro_batch * model.vocab_size * LOGIT_BYTES / s.tp
    return {
        "weights_bytes": weights,
        "gradients_bytes": grads,
        "optimizer_bytes": optim,
        "activations_bytes": acts,
        "logits_bytes": logits.astype(np.float64),
    }


def validity(model: ModelArch, seq_len: int, global_batch: int, s: Splits, instances: int, hw: Hardware) -> BoolArray:
    """The rules of :func:`chipfleet.perf.training.check_parallelism`, as a mask."""
    ok = s.chips == instances * hw.chips_per_instance
    ok &= model.n_heads % s.tp == 0
    ok &= (model.n_kv_heads % s.tp == 0) | (s.tp % max(1, model.n_kv_heads) == 0)
    ok &= s.pp * s.vp <= model.n_layers
    ok &= seq_len % s.cp == 0
    ok &= (s.ep == 1) | ((model.n_experts % s.ep == 0) & model.is_moe)
    ok &= ((s.dp * s.cp) % s.ep) == 0
    ok &= global_batch % (s.micro_batch * s.dp) == 0
    if hw.max_instances is not None:
        ok &= instances <= hw.max_instances
    out: BoolArray = ok
    return out


# Splits whose links do not exist get infinite times (and NaN where multiplied by 0); they are invalid and
# masked by ``valid``, so the floating-point warnings they raise are noise.
@np.errstate(invalid="ignore", divide="ignore", over="ignore")
def evaluate(
    model: ModelArch,
    hw: Hardware,
    s: Splits,
    instances: int,
    seq_len: int,
    global_batch: int,
    precision_peak_flops_per_s: float,
    attention_peak_flops_per_s: float,
    elementwise_bytes: float,
    flops_per_token: tuple[float, float, float],
    flash_attention: bool = True,
    overlap_grad_comm: bool = True,
) -> SplitResults:
    """Step time, breakdown and memory of every split (formulas on :func:`training.training_step`).

    ``flops_per_token`` is (model FLOPs, attention forward FLOPs, head forward FLOPs) per token, so HFU can
    add what each recompute mode re-runs.
    """
    valid = validity(model, seq_len, global_batch, s, instances, hw)
    t = s.tp.astype(np.float64)
    p, d, c, b = s.pp, s.dp, s.cp, s.micro_batch
    h = model.hidden_size
    layers = np.ceil(model.n_layers / p)
    tokens_mb = b * seq_len / c
    rows = tokens_mb.astype(np.float64)
    eta = hw.eff.compute * rows / (rows + hw.eff.compute_half_rows)  # Efficiency.gemm_fraction, vectorised
    peak, attn_peak = precision_peak_flops_per_s, attention_peak_flops_per_s

    layer_gemm = 2.0 * model.params_per_layer_active * tokens_mb / t
    layer_attn = model.attention_flops_per_token_forward(seq_len, causal=True) / model.n_layers * tokens_mb / t
    head = 2.0 * model.vocab_size * h * tokens_mb / t
    linear_fwd = layers * layer_gemm + head
    attn_fwd = layers * layer_attn
    attn_s = attn_fwd / (attn_peak * eta)
    fwd_s = linear_fwd / (peak * eta) + attn_s
    recompute_s = np.select([s.recompute == 1, s.recompute == 2], [attn_s, fwd_s - head / (peak * eta)], 0.0)
    compute_mb = 3.0 * fwd_s + recompute_s

    passes = np.where(s.recompute == 2, 4.0, 3.0)
    memory_mb = passes * layers * elementwise_bytes * tokens_mb / t / (hw.memory_bytes_per_s * hw.eff.memory)

    tp_bw, tp_lat, tp_ok = _link(hw, s.tp, s.tp)
    ar = _ring("all-reduce", s.tp, tokens_mb * h * ACTIVATION_BYTES, tp_bw, tp_lat)
    tp_mb = layers * np.where(s.recompute == 2, 6.0, 4.0) * ar

    cp_bw, cp_lat, cp_ok = _link(hw, s.tp * c, c)
    kv_local = np.maximum(1, model.n_kv_heads // s.tp)
    kv_bytes = 2.0 * tokens_mb * kv_local * model.head_dim * ACTIVATION_BYTES
    ring = (c - 1) * _ring("p2p", np.where(c > 1, 2, 1), kv_bytes, cp_bw, cp_lat)
    cp_mb = np.where(c > 1, layers * 3.0 * np.maximum(0.0, ring - attn_s / layers), 0.0)

    ep_bw, ep_lat, ep_ok = _link(hw, s.tp * c * s.ep, s.ep)
    routed = tokens_mb / np.where(s.sequence_parallel, t, 1.0) * h * ACTIVATION_BYTES * model.experts_top_k
    ep_mb = np.where((s.ep > 1) & model.is_moe, layers * 4 * _ring("all-to-all", s.ep, routed, ep_bw, ep_lat), 0.0)

    pp_bw, pp_lat, pp_ok = _link(hw, s.tp * c * d * p, np.where(p > 1, 2, 1))
    act = tokens_mb * h * ACTIVATION_BYTES / np.where(s.sequence_parallel, t, 1.0)
    pp_mb = 2 * s.vp * _ring("p2p", np.where(p > 1, 2, 1), act, pp_bw, pp_lat)

    overhead_mb = 3.0 * layers * hw.eff.layer_overhead_s
    t_mb = compute_mb + memory_mb + tp_mb + cp_mb + ep_mb + pp_mb + overhead_mb
    m = np.maximum(1, global_batch // (b * d))
    bubble = np.where(p > 1, (p - 1) / s.vp * t_mb, 0.0)

    n_chip = params_per_chip(model, s.tp, p, s.ep)
    dp_ranks = d * c
    dp_bw, dp_lat, dp_ok = _link(hw, s.tp * dp_ranks, dp_ranks)
    grad_bytes = n_chip * GRAD_BYTES
    bwd_s = compute_mb - fwd_s
    gather = _ring("all-gather", dp_ranks, n_chip * WEIGHT_BYTES, dp_bw, dp_lat)
    scatter = _ring("reduce-scatter", dp_ranks, grad_bytes, dp_bw, dp_lat)
    sync = _ring("all-reduce", dp_ranks, grad_bytes, dp_bw, dp_lat)
    if overlap_grad_comm:
        # ZeRO-0: all-reduce under the last backward. ZeRO-1/2: reduce-scatter under the last backward and
        # the updated-weight all-gather under the next first forward. ZeRO-3: see zero3_exposed_s.
        z0 = np.maximum(0.0, sync - bwd_s)
        z12 = np.maximum(0.0, scatter - bwd_s) + np.maximum(0.0, gather - fwd_s)
        z3 = m * zero3_exposed_s(gather, scatter, fwd_s, bwd_s, layers)
    else:
        z0, z12, z3 = sync, scatter + gather, m * (2 * gather + scatter)
    dp_exposed = np.select([s.zero == 0, s.zero <= 2], [z0, z12], z3)

    optimizer_s = n_chip / np.where(s.zero >= 1, dp_ranks, 1) * OPTIMIZER_STEP_BYTES
    optimizer_s = optimizer_s / (hw.memory_bytes_per_s * hw.eff.memory)

    breakdown = {
        "compute_s": m * compute_mb,
        "memory_s": m * memory_mb,
        "tp_comm_s": m * tp_mb,
        "cp_comm_s": m * cp_mb,
        "ep_comm_s": m * ep_mb,
        "pp_comm_s": m * pp_mb,
        "bubble_s": bubble,
        "dp_comm_s": dp_exposed,
        "optimizer_s": optimizer_s,
        "overhead_s": m * overhead_mb + hw.eff.step_overhead_s,
    }
    breakdown = {k: np.asarray(v, dtype=np.float64) * np.ones(len(s)) for k, v in breakdown.items()}
    step = np.sum(np.stack(list(breakdown.values())), axis=0)
    tokens = global_batch * seq_len
    tokens_per_s = tokens / step
    model_fpt, attn_fpt, head_fpt = flops_per_token
    layers_fwd_fpt = model_fpt / 3.0 - head_fpt
    extra = np.select([s.recompute == 1, s.recompute == 2], [attn_fpt, layers_fwd_fpt], 0.0)
    chips = s.chips.astype(np.float64)
    mfu = model_fpt * tokens_per_s / (chips * peak)
    hfu = (model_fpt + extra) * tokens_per_s / (chips * peak)
    busy = (breakdown["compute_s"] + breakdown["memory_s"] + breakdown["optimizer_s"]) / step
    valid = valid & tp_ok & cp_ok & ep_ok & pp_ok & dp_ok
    return SplitResults(
        valid=valid,
        memory_bytes=memory_terms(model, seq_len, global_batch, flash_attention, s),
        available_bytes=hw.usable_memory_bytes,
        step_time_s=step,
        breakdown=breakdown,
        tokens_per_s=tokens_per_s,
        mfu=mfu,
        hfu=hfu,
        micro_batches=m.astype(np.int64),
        busy_fraction=busy,
    )


def peaks(hw: Hardware, precision: Precision) -> tuple[float, float]:
    """(linear-layer peak, attention peak) FLOP/s for a training precision on ``hw``."""
    return hw.peak(precision), hw.peak(attention_precision(precision))


def elementwise(model: ModelArch, precision: Precision) -> float:
    return elementwise_bytes_per_token(model, precision)
