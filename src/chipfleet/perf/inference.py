"""Inference latency and throughput: compute-bound prefill, memory-bound decode, KV cache and memory fit.

Static batching of ``batch`` requests with the same input and output lengths on one model replica of
``tp`` chips (a replica per ``tp`` chips of an instance). Roofline per phase (Pope et al. 2022):
``time = max(FLOPs / (peak·η(M)), bytes / (bandwidth·η_mem)) + tensor-parallel all-reduces +
L·layer_overhead + step_overhead``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import ClassVar

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.collectives import Collective, Link, collective_time_s
from chipfleet.perf.hardware import Hardware, divisors
from chipfleet.perf.kernels import attention_precision, elementwise_bytes_per_token
from chipfleet.workloads.models import ModelArch

ACTIVATION_BYTES = 2.0  # activations and all-reduce payloads in bf16
LOGIT_BYTES = 4.0
# Concurrent sequences per replica: far above any runtime's limit (vLLM defaults to 256-1024), so a typo
# does not size a KV cache of 1e12 sequences. Our ceiling, 2026-12.
MAX_SERVING_BATCH = 1 << 20


@dataclass(frozen=True)
class ServingConfig:
    """A batch of identical requests on one replica."""

    model: ModelArch
    batch: int = 1
    input_tokens: int = 1024
    output_tokens: int = 256
    tp: int | None = None  # chips per replica; None: the fewest that fit
    weight_precision: Precision = Precision.BF16
    kv_precision: Precision | None = None  # None: fp8 with fp8 weights, else bf16

    def __post_init__(self) -> None:
        for name, limit in (("batch", MAX_SERVING_BATCH), ("input_tokens", None), ("output_tokens", None)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1 or (limit is not None and v > limit):
                top = f" to {limit:,}" if limit is not None else ""
                raise ConfigError(f"{name} must be an integer from 1{top}, got {v!r} (a request has ≥ 1 token)")
        if self.tp is not None and (isinstance(self.tp, bool) or not isinstance(self.tp, int) or self.tp < 1):
            raise ConfigError(f"tp must be a positive integer (chips, or NeuronCores on Neuron), got {self.tp!r}")
        if self.model.kind != "decoder":
            raise ConfigError(f"{self.model.name} is an encoder; serving estimates cover decoder LMs")
        if self.input_tokens + self.output_tokens > self.model.max_position_embeddings * 32:
            raise ConfigError(
                f"input + output = {self.input_tokens + self.output_tokens} tokens is far beyond the "
                f"{self.model.max_position_embeddings}-token context of {self.model.name}"
            )

    @property
    def kv_dtype(self) -> Precision:
        if self.kv_precision is not None:
            return self.kv_precision
        return Precision.FP8 if self.weight_precision is Precision.FP8 else Precision.BF16

    @property
    def context_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class InferenceMemory:
    """Bytes per chip of one replica."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("total_bytes",)

    weights_bytes: float
    kv_cache_bytes: float
    workspace_bytes: float
    available_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.kv_cache_bytes + self.workspace_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.available_bytes


@dataclass(frozen=True)
class PhaseTime:
    """One prefill or one decode iteration, with its breakdown."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("bound",)

    time_s: float
    compute_s: float
    memory_s: float
    comm_s: float
    overhead_s: float

    @property
    def breakdown(self) -> dict[str, float]:
        """The terms of ``time_s``: ``compute_s``, ``memory_s``, ``comm_s``, ``overhead_s``."""
        return {
            "compute_s": self.compute_s,
            "memory_s": self.memory_s,
            "comm_s": self.comm_s,
            "overhead_s": self.overhead_s,
        }

    @property
    def bound(self) -> str:
        """The largest term of the phase: ``compute``, ``memory``, ``comm`` or ``overhead``."""
        terms = self.breakdown
        return max(terms, key=lambda k: terms[k]).removesuffix("_s")

    @property
    def busy_fraction(self) -> float:
        """Share of the phase the chip computes or streams memory (not waiting on links or the host)."""
        return max(self.compute_s, self.memory_s) / self.time_s if self.time_s > 0 else 0.0


@dataclass(frozen=True)
class InferenceResult:
    tp: int
    replicas_per_instance: int
    batch: int
    ttft_s: float
    tpot_s: float
    output_tokens_per_s_per_replica: float
    output_tokens_per_s: float  # whole instance
    max_batch: int
    memory: InferenceMemory
    prefill: PhaseTime
    decode: PhaseTime
    busy_fraction: float
    compute_precision: Precision
    assumptions: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class HeadLayout:
    """How one replica's attention heads sit on its ``tp`` chips (``ranks`` tensor-parallel ranks).

    ``q_heads_per_rank`` counts padded (zero) query heads, ``kv_heads_per_rank`` replicated KV heads; both
    are what a rank stores and computes, so padding costs weights, FLOPs and KV cache.
    """

    tp: int
    ranks: int
    q_heads_per_rank: int
    kv_heads_per_rank: int
    padded: bool

    @property
    def q_heads_per_chip(self) -> float:
        return self.q_heads_per_rank * self.ranks / self.tp

    @property
    def kv_heads_per_chip(self) -> float:
        return self.kv_heads_per_rank * self.ranks / self.tp


def head_layout(model: ModelArch, tp: int, hw: Hardware | None = None) -> HeadLayout:
    """Query and KV heads per tensor-parallel rank of a replica on ``tp`` chips.

    Without head padding (vLLM, TensorRT-LLM; ``hw`` None or ``hw.pads_attention_heads`` false) a rank is a
    chip, ``tp`` must divide the ``a`` query heads (callers check), and KV heads are split, one replicated
    on each rank when ``tp > a_kv``: ``q = a/t``, ``kv = ⌈a_kv/t⌉``.

    With head padding (NxD Inference on Neuron) the ranks are NeuronCores, ``r = t·cores_per_chip``, and any
    ``r`` works: query heads are padded up to a multiple of ``r``, ``q = ⌈a/r⌉`` per rank; KV heads stay
    split when ``r`` divides ``a_kv``, are replicated to one per rank when ``a_kv`` divides ``r``
    (``REPLICATE_TO_TP_DEGREE``), and otherwise are replicated to match the padded query heads
    (``CONVERT_TO_MHA``: ``kv = q``); MHA models pad K and V with Q. Sources: NxD Inference
    ``modules/attention/gqa.py`` (``GQA`` sharding strategies, ``determine_sharding_strategy``,
    ``get_shardable_head_counts``), https://github.com/aws-neuron/neuronx-distributed-inference, and the NxD
    Inference parallelism app note,
    https://awsdocs-neuron.readthedocs-hosted.com/en/latest/libraries/nxd-inference/app-notes/parallelism.html
    (both read 2026-12-06). ``cores_per_chip`` counts physical NeuronCores; Trainium2's default logical
    core pairs two of them (LNC=2), so on trn2 this overstates the padding (an upper bound on its cost).
    """
    a, a_kv = model.n_heads, model.n_kv_heads
    if hw is None or not hw.pads_attention_heads:
        return HeadLayout(tp=tp, ranks=tp, q_heads_per_rank=math.ceil(a / tp),
                          kv_heads_per_rank=math.ceil(a_kv / tp), padded=False)  # fmt: skip
    ranks = tp * max(1, hw.cores_per_chip)
    q = math.ceil(a / ranks)
    if a == a_kv:
        kv = q
    elif a_kv % ranks == 0:
        kv = a_kv // ranks
    elif ranks % a_kv == 0:
        kv = 1
    else:
        kv = q
    return HeadLayout(tp=tp, ranks=ranks, q_heads_per_rank=q, kv_heads_per_rank=kv,
                      padded=q * ranks != a or kv * ranks != a_kv)  # fmt: skip


def padding_params_per_chip(model: ModelArch, tp: int, hw: Hardware | None = None) -> float:
    """Parameters a chip holds beyond its ``1/t`` share because heads are padded or KV heads replicated.

    Per layer, a query head carries ``2·h·d`` weights (its Q rows and O columns) plus ``d`` Q bias, a KV head
    ``2·h·d`` (K and V) plus ``2·d`` biases: ``L·[(q_chip − a/t)·(2hd + d·bias) + (kv_chip − a_kv/t)·(2hd +
    2d·bias)]`` with the per-chip counts of :func:`head_layout`. Zero when the heads split evenly.
    """
    lay = head_layout(model, tp, hw)
    h, d = model.hidden_size, model.head_dim
    bias = 1 if model.attention_bias else 0
    q_extra = lay.q_heads_per_chip - model.n_heads / tp
    kv_extra = lay.kv_heads_per_chip - model.n_kv_heads / tp
    return model.n_layers * (q_extra * (2 * h * d + d * bias) + kv_extra * (2 * h * d + 2 * d * bias))


def weight_bytes_per_chip(model: ModelArch, tp: int, precision: Precision, hw: Hardware | None = None) -> float:
    """All weights (every expert) ÷ ``tp`` plus the padded / replicated attention heads
    (:func:`padding_params_per_chip`), at ``precision.bytes`` per parameter."""
    return (model.params_total / tp + padding_params_per_chip(model, tp, hw)) * precision.bytes


def kv_bytes_per_token_per_chip(model: ModelArch, tp: int, precision: Precision, hw: Hardware | None = None) -> float:
    """``2·L·kv_chip·d·bytes``: the KV heads a chip stores (:func:`head_layout`): ``⌈a_kv/t⌉`` without
    padding (split over ``tp``, replicated when ``tp > a_kv``), more where Neuron replicates them."""
    heads = head_layout(model, tp, hw).kv_heads_per_chip
    return 2.0 * model.n_layers * heads * model.head_dim * precision.bytes


def attention_flops_share(model: ModelArch, tp: int, hw: Hardware | None = None) -> float:
    """Share of a replica's attention score/mix FLOPs one chip runs: ``q_chip / a`` (``1/t`` unpadded)."""
    return head_layout(model, tp, hw).q_heads_per_chip / model.n_heads


def workspace_bytes_per_chip(model: ModelArch, tp: int, batch: int, input_tokens: int) -> float:
    """Peak transient buffers during prefill: the widest activations ``b·s·(4h + 2f·k)`` in bf16 plus the
    last-token logits ``b·V·4``, split over ``tp``. An estimate of ours; runtimes differ."""
    k = model.experts_top_k
    acts = batch * input_tokens * (4 * model.hidden_size + 2 * model.ffn_size * k) * ACTIVATION_BYTES
    return (acts + batch * model.vocab_size * LOGIT_BYTES) / tp


def inference_memory(model: ModelArch, cfg: ServingConfig, hw: Hardware, tp: int) -> InferenceMemory:
    return InferenceMemory(
        weights_bytes=weight_bytes_per_chip(model, tp, cfg.weight_precision, hw),
        kv_cache_bytes=cfg.batch * cfg.context_tokens * kv_bytes_per_token_per_chip(model, tp, cfg.kv_dtype, hw),
        workspace_bytes=workspace_bytes_per_chip(model, tp, cfg.batch, cfg.input_tokens),
        available_bytes=hw.usable_memory_bytes,
    )


def max_batch(model: ModelArch, cfg: ServingConfig, hw: Hardware, tp: int) -> int:
    """The largest batch whose weights, KV cache (full context) and workspace fit; 0 if none does; at most
    :data:`MAX_SERVING_BATCH`, the largest batch a :class:`ServingConfig` takes (a two-token request on a big
    node would otherwise report a batch no configuration can be built with)."""
    free = hw.usable_memory_bytes - weight_bytes_per_chip(model, tp, cfg.weight_precision, hw)
    per_seq = cfg.context_tokens * kv_bytes_per_token_per_chip(model, tp, cfg.kv_dtype, hw)
    per_seq += workspace_bytes_per_chip(model, tp, 1, cfg.input_tokens)
    return min(MAX_SERVING_BATCH, max(0, int(free // per_seq))) if free > 0 else 0


def valid_tp_degrees(model: ModelArch, hw: Hardware) -> list[int]:
    """Chip counts a replica may use: divisors of the instance's chips, which must also split the query heads
    evenly unless the runtime pads them (:func:`head_layout`)."""
    n = hw.chips_per_instance
    return [t for t in divisors(n) if hw.pads_attention_heads or model.n_heads % t == 0]


def resolve_tp(model: ModelArch, cfg: ServingConfig, hw: Hardware) -> tuple[int, str | None]:
    """Chips per replica. ``cfg.tp`` may count NeuronCores (Neuron docs do): 24 on inf2.48xlarge = 12 chips.

    With no ``tp`` given, the fewest chips whose memory holds the batch; raises :class:`DoesNotFitError`
    with what would fit when even the whole instance is too small.
    """
    if cfg.tp is not None:
        tp = cfg.tp
        note = None
        if tp > hw.chips_per_instance:
            cores = hw.cores_per_chip
            if cores > 1 and tp % cores == 0 and tp // cores <= hw.chips_per_instance:
                note = f"tp={tp} read as NeuronCores: {tp // cores} chips × {cores} cores"
                tp //= cores
            else:
                raise ConfigError(
                    f"tp={tp} exceeds the {hw.chips_per_instance} chips of {hw.instance}; serving runs one "
                    f"replica inside one instance, so use tp ≤ {hw.chips_per_instance}"
                )
        if hw.chips_per_instance % tp:
            raise ConfigError(f"tp={tp} must divide the {hw.chips_per_instance} chips of {hw.instance}")
        if tp not in valid_tp_degrees(model, hw):
            good = ", ".join(str(t) for t in valid_tp_degrees(model, hw))
            raise ConfigError(
                f"tp={tp} does not divide the {model.n_heads} attention heads of {model.name}, and the runtime "
                f"on {hw.instance} does not pad heads; use tp in {{{good}}}"
            )
        return tp, note
    degrees = valid_tp_degrees(model, hw)
    for tp in degrees:
        if inference_memory(model, cfg, hw, tp).fits:
            return tp, None
    full = degrees[-1]  # the most chips a replica may use (1 always divides the heads)
    mem = inference_memory(model, cfg, hw, full)
    hint, field = _fitting_hint(model, cfg, hw, full)
    raise DoesNotFitError(
        f"{model.name} with batch {cfg.batch} × {cfg.context_tokens} tokens needs "
        f"{mem.total_bytes / 1e9:.1f} GB per chip even with tp={full} on {hw.instance}, whose chips have "
        f"{mem.available_bytes / 1e9:.1f} GB usable.",
        needed_bytes=mem.total_bytes,
        available_bytes=mem.available_bytes,
        suggestion=hint,
        field=field,
    )


def _fitting_hint(model: ModelArch, cfg: ServingConfig, hw: Hardware, tp: int) -> tuple[str, str | None]:
    """Advice that is checked to fit: the largest batch at ``tp``, or a narrower weight precision; with the
    :class:`ServingConfig` field it asks to change (None: change the instance)."""
    fits = max_batch(model, cfg, hw, tp)
    if fits and inference_memory(model, replace(cfg, batch=fits), hw, tp).fits:
        return f"batch ≤ {fits} fits with tp={tp}", "batch"
    for p in (Precision.FP8, Precision.INT8, Precision.INT4):
        if p.bytes >= cfg.weight_precision.bytes:
            continue
        narrow = replace(cfg, weight_precision=p, batch=1)
        if inference_memory(model, narrow, hw, tp).fits:
            gb = weight_bytes_per_chip(model, tp, p, hw) / 1e9
            return f"use weight_precision={p.value} (weights {gb:.1f} GB per chip) or a larger instance", (
                "weight_precision"
            )
    return "use an instance with more memory per chip, or more chips per instance", None


def _tp_link(hw: Hardware, tp: int) -> Link:
    return Link(
        bytes_per_s=hw.link_bytes_per_s(tp, span_instances=False) * hw.eff.collective,
        latency_s=hw.latency_s(span_instances=False),
    )


def prefill_time(
    model: ModelArch, hw: Hardware, tp: int, batch: int, input_tokens: int, cfg: ServingConfig
) -> PhaseTime:
    """Prefill of ``batch`` prompts of ``input_tokens``: compute-bound at useful sizes.

    FLOPs per chip = ``b·s·(2·L·P_layer_active + 2·L·s·a·d) / t`` (causal attention) + ``2·b·V·h / t`` for
    the last-token logits. Bytes = weights ÷ t + the KV written + element-wise traffic ``34·b·s·h·L / t``.
    With padded heads (:func:`head_layout`) the attention term scales with the chip's query heads
    ``q_chip/a`` instead of ``1/t`` and each token also multiplies the padding weights (``2·P_pad``).
    Comm: 2 all-reduces of ``b·s·h`` bf16 per layer.
    """
    tokens = batch * input_tokens
    attn = tokens * model.attention_flops_per_token_forward(input_tokens, causal=True)
    attn *= attention_flops_share(model, tp, hw)
    flops = tokens * 2.0 * model.n_layers * model.params_per_layer_active
    flops += 2.0 * batch * model.vocab_size * model.hidden_size
    flops /= tp
    flops += tokens * 2.0 * padding_params_per_chip(model, tp, hw)
    bytes_ = weight_bytes_per_chip(model, tp, cfg.weight_precision, hw)
    bytes_ += tokens * kv_bytes_per_token_per_chip(model, tp, cfg.kv_dtype, hw)
    bytes_ += elementwise_bytes_per_token(model, cfg.weight_precision) * tokens * model.n_layers / tp
    return phase_time(model, hw, tp, cfg, flops, tokens, bytes_, tokens * model.hidden_size * ACTIVATION_BYTES, attn)


def phase_time(
    model: ModelArch,
    hw: Hardware,
    tp: int,
    cfg: ServingConfig,
    flops: float,
    rows: float,
    bytes_: float,
    allreduce_bytes: float,
    attention_flops: float,
) -> PhaseTime:
    """Roofline of one forward pass per chip: ``max(compute, bytes/(BW·η_mem))`` + 2 TP all-reduces of
    ``allreduce_bytes`` per layer + ``L·layer_overhead + step_overhead``, where compute is the linear
    FLOPs at the weights' compute precision plus attention FLOPs at bf16 (fp8/int weights), ÷ η(rows)."""
    eta = hw.eff.gemm_fraction(rows)
    attn_peak = hw.peak(attention_precision(cfg.weight_precision))
    compute_s = flops / (hw.peak(cfg.weight_precision) * eta) + attention_flops / (attn_peak * eta)
    memory_s = bytes_ / (hw.memory_bytes_per_s * hw.eff.memory)
    link = _tp_link(hw, tp)
    comm_s = 2 * model.n_layers * collective_time_s(Collective.ALL_REDUCE, tp, allreduce_bytes, link)
    overhead_s = model.n_layers * hw.eff.layer_overhead_s + hw.eff.step_overhead_s
    return PhaseTime(
        time_s=max(compute_s, memory_s) + comm_s + overhead_s,
        compute_s=compute_s,
        memory_s=memory_s,
        comm_s=comm_s,
        overhead_s=overhead_s,
    )


def expected_experts_touched(model: ModelArch, batch: int) -> float:
    """Distinct experts a batch of ``b`` tokens routes to per MoE layer, with uniform routing:
    ``E·(1 − (1 − k/E)^b)``; ``1`` for a dense model."""
    if not model.is_moe:
        return 1.0
    e, k = model.n_experts, model.experts_top_k
    return e * (1.0 - (1.0 - k / e) ** batch)


def decode_step_time(
    model: ModelArch, hw: Hardware, tp: int, batch: int, context: float, cfg: ServingConfig
) -> PhaseTime:
    """One decode iteration of ``batch`` sequences at ``context`` cached tokens: memory-bound when small.

    FLOPs per chip = ``b·(2·(L·P_layer_active + V·h) + 4·L·c·a·d) / t``. Bytes per chip = the weights read
    (dense part + the experts the batch touches) ÷ t + ``b·c`` cached tokens' KV. Comm: 2 all-reduces of
    ``b·h`` bf16 per layer (latency-bound). Padded heads (:func:`head_layout`) add their weights ``P_pad``
    to the bytes and ``2·b·P_pad`` FLOPs, and attention scales with ``q_chip/a`` instead of ``1/t``.
    """
    per_token = 2.0 * (model.n_layers * model.params_per_layer_active + model.vocab_size * model.hidden_size)
    padding = padding_params_per_chip(model, tp, hw)
    flops = batch * (per_token / tp + 2.0 * padding)
    attn = batch * model.attention_flops_per_token_forward(int(context), causal=False)
    attn *= attention_flops_share(model, tp, hw)
    expert = model.params_mlp_per_expert * model.n_layers
    touched = model.params_total - (model.n_experts - expected_experts_touched(model, batch)) * expert
    bytes_ = (touched / tp + padding) * cfg.weight_precision.bytes
    bytes_ += batch * context * kv_bytes_per_token_per_chip(model, tp, cfg.kv_dtype, hw)
    bytes_ += elementwise_bytes_per_token(model, cfg.weight_precision) * batch * model.n_layers / tp
    return phase_time(model, hw, tp, cfg, flops, batch, bytes_, batch * model.hidden_size * ACTIVATION_BYTES, attn)


def estimate_inference(cfg: ServingConfig, hw: Hardware, check_memory: bool = True) -> InferenceResult:
    """TTFT, TPOT and throughput of a static batch (see module docstring).

    TTFT = prefill of the whole batch (the first token comes out of the prefill). TPOT = a decode
    iteration at the mean context ``input + output/2``. A batch takes ``TTFT + (output − 1)·TPOT``; the
    replica's throughput is ``batch·output`` over that, and the instance runs ``chips ÷ tp`` replicas.
    ``check_memory=False`` times a configuration known to run (a published measurement) even where the
    memory model thinks it does not fit.
    """
    model = cfg.model
    tp, note = resolve_tp(model, cfg, hw) if check_memory or cfg.tp is None else (cfg.tp, None)
    mem = inference_memory(model, cfg, hw, tp)
    if check_memory and not mem.fits:
        larger = [t for t in valid_tp_degrees(model, hw) if t > tp and inference_memory(model, cfg, hw, t).fits]
        hint, field = (f"tp={larger[0]} fits", "tp") if larger else _fitting_hint(model, cfg, hw, tp)
        raise DoesNotFitError(
            f"{model.name} at batch {cfg.batch} × {cfg.context_tokens} tokens needs {mem.total_bytes / 1e9:.1f} GB "
            f"per chip with tp={tp} (weights {mem.weights_bytes / 1e9:.1f}, KV {mem.kv_cache_bytes / 1e9:.1f}, "
            f"workspace {mem.workspace_bytes / 1e9:.1f}); {hw.chip} has {mem.available_bytes / 1e9:.1f} GB usable.",
            needed_bytes=mem.total_bytes,
            available_bytes=mem.available_bytes,
            suggestion=hint,
            field=field,
        )
    prefill = prefill_time(model, hw, tp, cfg.batch, cfg.input_tokens, cfg)
    decode = decode_step_time(model, hw, tp, cfg.batch, cfg.input_tokens + cfg.output_tokens / 2, cfg)
    batch_time = prefill.time_s + (cfg.output_tokens - 1) * decode.time_s
    per_replica = cfg.batch * cfg.output_tokens / batch_time
    replicas = hw.chips_per_instance // tp
    busy = (
        prefill.busy_fraction * prefill.time_s + decode.busy_fraction * decode.time_s * (cfg.output_tokens - 1)
    ) / batch_time
    assumptions = list(INFERENCE_ASSUMPTIONS)
    if note:
        assumptions.append(note)
    layout = head_layout(model, tp, hw)
    if layout.padded:
        assumptions.append(
            f"heads padded for tp: {layout.q_heads_per_rank * layout.ranks} query heads (of {model.n_heads}) and "
            f"{layout.kv_heads_per_rank * layout.ranks} KV heads (of {model.n_kv_heads}) over {layout.ranks} "
            "ranks, as NxD Inference shards GQA; the padding costs weights, FLOPs and KV cache"
        )
    compute = hw.compute_precision(cfg.weight_precision)
    if compute is not cfg.weight_precision:
        assumptions.append(
            f"{cfg.weight_precision.value} weights are dequantized; matmuls run in {compute.value} on {hw.chip}"
        )
    return InferenceResult(
        tp=tp,
        replicas_per_instance=replicas,
        batch=cfg.batch,
        ttft_s=prefill.time_s,
        tpot_s=decode.time_s,
        output_tokens_per_s_per_replica=per_replica,
        output_tokens_per_s=per_replica * replicas,
        max_batch=max_batch(model, cfg, hw, tp),
        memory=mem,
        prefill=prefill,
        decode=decode,
        busy_fraction=busy,
        compute_precision=compute,
        assumptions=tuple(assumptions),
    )


INFERENCE_ASSUMPTIONS: tuple[str, ...] = (
    "static batch of identical requests; TTFT = prefill of the whole batch, no queueing",
    "TPOT = one decode iteration at the mean context (input + output/2)",
    "KV cache in bf16 (fp8 with fp8 weights), split over tp, replicated when tp > KV heads",
    "5 % of device memory reserved for the runtime; prefill workspace estimated from activation widths",
    "one replica per tp chips; all replicas of an instance serve in parallel",
)
