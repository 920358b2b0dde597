"""Inference latency and throughput: compute-bound prefill, memory-bound decode, KV cache and memory fit.

Static batching of ``batch`` requests with the same input and output lengths on one model replica of
``tp`` chips (a replica per ``tp`` chips of an instance). Roofline per phase (Pope et al. 2022):
``time = max(FLOPs / (peak·η(M)), bytes / (bandwidth·η_mem)) + tensor-parallel all-reduces +
L·layer_overhead + step_overhead``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.collectives import Collective, Link, collective_time_s
from chipfleet.perf.hardware import Hardware
from chipfleet.perf.kernels import attention_precision, elementwise_bytes_per_token
from chipfleet.workloads.models import ModelArch

ACTIVATION_BYTES = 2.0  # activations and all-reduce payloads in bf16
LOGIT_BYTES = 4.0


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
        if self.batch < 1 or self.input_tokens < 1 or self.output_tokens < 1:
            raise ConfigError("batch, input_tokens and output_tokens must be positive integers")
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

    def as_dict(self) -> dict[str, float]:
        return {
            "weights_bytes": self.weights_bytes,
            "kv_cache_bytes": self.kv_cache_bytes,
            "workspace_bytes": self.workspace_bytes,
            "total_bytes": self.total_bytes,
            "available_bytes": self.available_bytes,
        }


@dataclass(frozen=True)
class PhaseTime:
    """One prefill or one decode iteration, with its breakdown."""

    time_s: float
    compute_s: float
    memory_s: float
    comm_s: float
    overhead_s: float

    @property
    def bound(self) -> str:
        terms = {
            "compute": self.compute_s,
            "memory": self.memory_s,
            "comm": self.comm_s,
            "overhead": self.overhead_s,
        }
        return max(terms, key=lambda k: terms[k])

    @property
    def busy_fraction(self) -> float:
        """Share of the phase the chip computes or streams memory (not waiting on links or the host)."""
        return max(self.compute_s, self.memory_s) / self.time_s if self.time_s > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "time_s": self.time_s,
            "compute_s": self.compute_s,
            "memory_s": self.memory_s,
            "comm_s": self.comm_s,
            "overhead_s": self.overhead_s,
        }


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


def weight_bytes_per_chip(model: ModelArch, tp: int, precision: Precision) -> float:
    """All weights (every expert) ÷ ``tp``, at ``precision.bytes`` per parameter."""
    return model.params_total * precision.bytes / tp


def kv_bytes_per_token_per_chip(model: ModelArch, tp: int, precision: Precision) -> float:
    """``2·L·⌈a_kv/t⌉·d·bytes``: KV heads split over ``tp``, replicated when ``tp > a_kv`` (GQA)."""
    heads = math.ceil(model.n_kv_heads / tp)
    return 2.0 * model.n_layers * heads * model.head_dim * precision.bytes


def workspace_bytes_per_chip(model: ModelArch, tp: int, batch: int, input_tokens: int) -> float:
    """Peak transient buffers during prefill: the widest activations ``b·s·(4h + 2f·k)`` in bf16 plus the
    last-token logits ``b·V·4``, split over ``tp``. An estimate of ours; runtimes differ."""
    k = model.experts_top_k
    acts = batch * input_tokens * (4 * model.hidden_size + 2 * model.ffn_size * k) * ACTIVATION_BYTES
    return (acts + batch * model.vocab_size * LOGIT_BYTES) / tp


def inference_memory(model: ModelArch, cfg: ServingConfig, hw: Hardware, tp: int) -> InferenceMemory:
    return InferenceMemory(
        weights_bytes=weight_bytes_per_chip(model, tp, cfg.weight_precision),
        kv_cache_bytes=cfg.batch * cfg.context_tokens * kv_bytes_per_token_per_chip(model, tp, cfg.kv_dtype),
        workspace_bytes=workspace_bytes_per_chip(model, tp, cfg.batch, cfg.input_tokens),
        available_bytes=hw.usable_memory_bytes,
    )


def max_batch(model: ModelArch, cfg: ServingConfig, hw: Hardware, tp: int) -> int:
    """The largest batch whose weights, KV cache (full context) and workspace fit; 0 if none does."""
    free = hw.usable_memory_bytes - weight_bytes_per_chip(model, tp, cfg.weight_precision)
    per_seq = cfg.context_tokens * kv_bytes_per_token_per_chip(model, tp, cfg.kv_dtype)
    per_seq += workspace_bytes_per_chip(model, tp, 1, cfg.input_tokens)
    return max(0, int(free // per_seq)) if free > 0 else 0


def valid_tp_degrees(model: ModelArch, hw: Hardware) -> list[int]:
    """Chip counts a replica may use: divisors of the instance's chips that split the heads evenly."""
    return [t for t in range(1, hw.chips_per_instance + 1) if hw.chips_per_instance % t == 0 and model.n_heads % t == 0]


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
        return tp, note
    for tp in valid_tp_degrees(model, hw):
        if inference_memory(model, cfg, hw, tp).fits:
            return tp, None
    full = hw.chips_per_instance
    mem = inference_memory(model, cfg, hw, full)
    best_batch = max_batch(model, cfg, hw, full)
    hint = f"batch ≤ {best_batch} fits with tp={full}" if best_batch else _precision_hint(model, cfg, hw, full)
    raise DoesNotFitError(
        f"{model.name} with batch {cfg.batch} × {cfg.context_tokens} tokens needs "
        f"{mem.total_bytes / 1e9:.1f} GB per chip even over all {full} chips of {hw.instance}, which have "
        f"{mem.available_bytes / 1e9:.1f} GB usable.",
        needed_bytes=mem.total_bytes,
        available_bytes=mem.available_bytes,
        suggestion=hint,
    )


def _precision_hint(model: ModelArch, cfg: ServingConfig, hw: Hardware, tp: int) -> str:
    for p in (Precision.FP8, Precision.INT8, Precision.INT4):
        if p.bytes < cfg.weight_precision.bytes and weight_bytes_per_chip(model, tp, p) < hw.usable_memory_bytes:
            gb = weight_bytes_per_chip(model, tp, p) / 1e9
            return f"use --precision {p.value} (weights {gb:.1f} GB per chip) or a larger instance"
    return "use an instance with more memory per chip, or more chips per instance"


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
    Comm: 2 all-reduces of ``b·s·h`` bf16 per layer.
    """
    tokens = batch * input_tokens
    attn = tokens * model.attention_flops_per_token_forward(input_tokens, causal=True) / tp
    flops = tokens * 2.0 * model.n_layers * model.params_per_layer_active
    flops += 2.0 * batch * model.vocab_size * model.hidden_size
    flops /= tp
    bytes_ = weight_bytes_per_chip(model, tp, cfg.weight_precision)
    bytes_ += tokens * kv_bytes_per_token_per_chip(model, tp, cfg.kv_dtype)
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
    ``b·h`` bf16 per layer (latency-bound).
    """
    per_token = 2.0 * (model.n_layers * model.params_per_layer_active + model.vocab_size * model.hidden_size)
    flops = batch * per_token / tp
    attn = batch * model.attention_flops_per_token_forward(int(context), causal=False) / tp
    expert = model.params_mlp_per_expert * model.n_layers
    touched = model.params_total - (model.n_experts - expected_experts_touched(model, batch)) * expert
    bytes_ = touched * cfg.weight_precision.bytes / tp
    bytes_ += batch * context * kv_bytes_per_token_per_chip(model, tp, cfg.kv_dtype)
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
        fits = max_batch(model, cfg, hw, tp)
        larger = [t for t in valid_tp_degrees(model, hw) if t > tp and inference_memory(model, cfg, hw, t).fits]
        hint = f"tp={larger[0]}" if larger else (f"batch ≤ {fits}" if fits else _precision_hint(model, cfg, hw, tp))
        raise DoesNotFitError(
            f"{model.name} at batch {cfg.batch} × {cfg.context_tokens} tokens needs {mem.total_bytes / 1e9:.1f} GB "
            f"per chip with tp={tp} (weights {mem.weights_bytes / 1e9:.1f}, KV {mem.kv_cache_bytes / 1e9:.1f}, "
            f"workspace {mem.workspace_bytes / 1e9:.1f}); {hw.chip} has {mem.available_bytes / 1e9:.1f} GB usable.",
            needed_bytes=mem.total_bytes,
            available_bytes=mem.available_bytes,
            suggestion=hint,
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
