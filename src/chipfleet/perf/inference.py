"""Inference latency and throughput: compute-bound prefill, memory-bound decode, KV cache and memory fit.

Static batching of ``batch`` requests with the same input and output lengths on one model replica of
``tp`` chips (a replica per ``tp`` chips of an instance). Roofline per phase (Pope et al. 2022):
``time = max(FLOPs / (peak·η(M)), bytes / (bandwidth·η_mem)) + tensor-parallel all-reduces +
L·layer_overhead + step_overhead``.

Serving parallelism and engines (all off by default, so a plain configuration times as it always did):

- ``ep``: the routed experts of an MoE model are sharded over ``ep`` of the ``tp`` chips (whole experts per
  rank, each rank's experts split over the ``tp/ep`` chips of its group); ``dp_attention``: attention runs
  data-parallel, each of the ``tp`` chips holding the whole attention weights and the KV cache of its ``b/tp``
  sequences, and an MoE layer dispatches its tokens to their experts and combines them back (two all-to-alls
  over the ``ep`` ranks when ``ep = tp``, else an all-gather and a reduce-scatter), on the scale-up link inside
  an instance and the scale-out link (EFA, InfiniBand) when the group spans instances.
- ``pp``: the layers split into ``pp`` stages of ``tp`` chips (stages may span instances); the batch runs as
  ``pp`` micro-batches, so every sequence advances one token per ``pp`` stage passes of a micro-batch, each
  followed by a point-to-point send of its activations.
- ``spec``: speculative decoding or MTP with ``k`` draft tokens and an acceptance length ``τ``: a step drafts
  ``k`` tokens and verifies ``k + 1`` per sequence in one target pass, emitting ``τ`` tokens on average, so
  ``TPOT = (k·draft + verify) / τ``.
- ``engine``: its batching defaults (chunked prefill splits the batch's prompts into token-budget iterations)
  and its per-iteration overhead (:mod:`chipfleet.perf.engines`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import ClassVar

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.collectives import Collective, Link, collective_time_s
from chipfleet.perf.engines import DEFAULT_ENGINE, EngineProfile, SpecDecode
from chipfleet.perf.hardware import Hardware, divisors
from chipfleet.perf.kernels import attention_precision, elementwise_bytes_per_token, routed_extra_flops_per_token
from chipfleet.workloads.models import ModelArch

ACTIVATION_BYTES = 2.0  # activations and all-reduce payloads in bf16
LOGIT_BYTES = 4.0
# Concurrent sequences per replica: far above any runtime's limit (vLLM defaults to 256-1024), so a typo
# does not size a KV cache of 1e12 sequences. Our ceiling, 2026-12.
MAX_SERVING_BATCH = 1 << 20


@dataclass(frozen=True)
class ServingConfig:
    """A batch of identical requests on one replica (``tp × pp`` chips; see the module docstring for ``ep``,
    ``dp_attention``, ``pp``, ``spec`` and ``engine``)."""

    model: ModelArch
    batch: int = 1
    input_tokens: int = 1024
    output_tokens: int = 256
    tp: int | None = None  # chips per replica; None: the fewest that fit
    weight_precision: Precision = Precision.BF16
    kv_precision: Precision | None = None  # None: fp8 with fp8 weights, else bf16
    engine: EngineProfile = DEFAULT_ENGINE
    ep: int = 1  # expert-parallel ranks among the tp chips of a stage (MoE)
    dp_attention: bool = False  # attention data-parallel over the tp chips (MoE)
    pp: int = 1  # pipeline stages of tp chips each
    spec: SpecDecode | None = None

    def __post_init__(self) -> None:
        for name in ("ep", "pp"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65536:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}", field=name)
        if (self.ep > 1 or self.dp_attention) and not self.model.is_moe:
            what = "ep > 1" if self.ep > 1 else "dp_attention"
            raise ConfigError(
                f"{what} applies to mixture-of-experts models; {self.model.name} is dense (use tp and pp)",
                field="ep" if self.ep > 1 else "dp_attention",
            )
        if self.ep > self.model.n_experts:
            raise ConfigError(
                f"ep={self.ep} exceeds the {self.model.n_experts} experts of {self.model.name}", field="ep"
            )
        if self.tp is not None and self.ep > 1 and self.tp % self.ep:
            raise ConfigError(f"ep={self.ep} must divide tp={self.tp} (expert ranks are tp chips)", field="ep")
        if self.pp > self.model.n_layers:
            raise ConfigError(f"pp={self.pp} exceeds the {self.model.n_layers} layers of {self.model.name}", field="pp")
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

    @property
    def is_plain(self) -> bool:
        """No expert or attention data parallelism, no pipeline: the layout chipfleet always modelled."""
        return self.ep == 1 and not self.dp_attention and self.pp == 1


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
    engine: str = "default"
    chips_per_replica: int = 0  # tp × pp (0: not stated)


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


def padding_params_per_chip(model: ModelArch, tp: int, hw: Hardware | None = None, dp_attention: bool = False) -> float:
    """Parameters a chip holds beyond its ``1/t`` share because heads are padded or KV heads replicated.

    Per layer, a query head carries ``2·h·d`` weights (its Q rows and O columns) plus ``d`` Q bias, a KV head
    ``2·h·d`` (K and V) plus ``2·d`` biases: ``L·[(q_chip − a/t)·(2hd + d·bias) + (kv_chip − a_kv/t)·(2hd +
    2d·bias)]`` with the per-chip counts of :func:`head_layout`. Zero when the heads split evenly, and with
    ``dp_attention`` (heads are not split: each chip holds them all, counted in :func:`weight_bytes_per_chip`).
    """
    if dp_attention:
        return 0.0
    lay = head_layout(model, tp, hw)
    h, d = model.hidden_size, model.head_dim
    bias = 1 if model.attention_bias else 0
    q_extra = lay.q_heads_per_chip - model.n_heads / tp
    kv_extra = lay.kv_heads_per_chip - model.n_kv_heads / tp
    return model.n_layers * (q_extra * (2 * h * d + d * bias) + kv_extra * (2 * h * d + 2 * d * bias))


def routed_expert_params(model: ModelArch) -> float:
    """Weights of the routed experts of every MoE layer, ``E·P_expert·L`` (0 for a dense model): what expert
    parallelism shards; shared experts, dense layers, attention, embeddings and the head are not among them."""
    return float(model.n_experts * model.params_mlp_per_expert * model.n_moe_layers) if model.is_moe else 0.0


def attention_params(model: ModelArch) -> float:
    """Attention weights of every layer, ``L·P_attention``: what data-parallel attention replicates."""
    return float(model.params_attention_layers)  # linear-attention layers (MiniMax-M1) have their own weights


def weight_bytes_per_chip(
    model: ModelArch,
    tp: int,
    precision: Precision,
    hw: Hardware | None = None,
    *,
    ep: int = 1,
    dp_attention: bool = False,
    pp: int = 1,
) -> float:
    """All weights (every expert) ÷ ``tp`` plus the padded / replicated attention heads
    (:func:`padding_params_per_chip`), at ``precision.bytes`` per parameter.

    With expert parallelism, attention data parallelism or pipeline stages, per chip:
    ``[A_chip + ⌈E/ep⌉·P_e·L·ep/t + (P − A − E·P_e·L)/t] / pp`` where ``A_chip`` is the attention weights
    ``A`` whole (``dp_attention``) or ``A/t`` plus padding, and ``⌈E/ep⌉`` whole experts per expert rank are
    split over its ``t/ep`` chips (equal to ``E·P_e·L/t`` when ``ep`` divides ``E``). Stages hold ``1/pp`` of
    every kind of weight (layers, embedding and head spread evenly: an average stage).
    """
    if ep == 1 and not dp_attention and pp == 1:
        return (model.params_total / tp + padding_params_per_chip(model, tp, hw)) * precision.bytes
    experts = routed_expert_params(model)
    attention = attention_params(model)
    rest = model.params_total - experts - attention
    expert_chip = math.ceil(model.n_experts / ep) * (experts / model.n_experts) * ep / tp if experts else 0.0
    attention_chip = attention if dp_attention else attention / tp + padding_params_per_chip(model, tp, hw)
    return (attention_chip + expert_chip + rest / tp) / pp * precision.bytes


def kv_bytes_per_token_per_chip(
    model: ModelArch,
    tp: int,
    precision: Precision,
    hw: Hardware | None = None,
    *,
    dp_attention: bool = False,
    pp: int = 1,
) -> float:
    """``2·L·kv_chip·d·bytes``: the KV heads a chip stores (:func:`head_layout`): ``⌈a_kv/t⌉`` without
    padding (split over ``tp``, replicated when ``tp > a_kv``), more where Neuron replicates them.

    With ``dp_attention`` a chip keeps every head of its own ``1/t`` of the sequences: the whole cache per token
    (:meth:`ModelArch.kv_cache_bytes_per_token`) ÷ ``t``, the mean over the replica's tokens. Pipeline stages
    hold ``1/pp`` of the layers' cache.
    """
    if dp_attention:
        return model.kv_cache_bytes_per_token(precision.bytes) / tp / pp
    heads = head_layout(model, tp, hw).kv_heads_per_chip
    return model.kv_cache_elements_per_token(kv_heads=heads) * precision.bytes / pp  # MLA: the latent per chip


def attention_flops_share(model: ModelArch, tp: int, hw: Hardware | None = None, dp_attention: bool = False) -> float:
    """Share of a replica's attention score/mix FLOPs one chip runs: ``q_chip / a`` (``1/t`` unpadded, and with
    ``dp_attention``, where a chip runs every head of ``1/t`` of the sequences)."""
    if dp_attention:
        return 1.0 / tp
    return head_layout(model, tp, hw).q_heads_per_chip / model.n_heads


def decode_attention_flops_per_token(model: ModelArch, context: float) -> float:
    """Attention FLOPs of one decode (or verification) query token over ``context`` cached keys.

    :meth:`ModelArch.attention_flops_per_token_forward` (``causal=False``): ``2·a·(d_qk + d_v)`` per key and
    layer. MLA (``kv_lora_rank > 0``) decodes with the up-projections absorbed into the query and the output
    (the kernels attend the cached latent itself, one shared KV head of width ``r_kv + d_r``): per key and head
    ``2·(r_kv + d_r)`` for ``q·kᵀ`` and ``2·r_kv`` for ``p·v``, so the count is scaled by
    ``(2·r_kv + d_r) / (d_qk + d_v)``; DeepSeek-V3: (1,024 + 64) / (192 + 128) = 3.4. The absorbed
    projections themselves are the ``2·N`` weight term (``r_kv·a·(d_n + d_v)`` per layer), applied once per
    query. Prefill keeps the unabsorbed count (engines run MLA prefill as ordinary multi-head attention).
    Sources (read 2026-12-06): DeepSeek's FlashMLA decode kernel attends a ``d = 576`` key (latent + rotary) and
    a ``d_v = 512`` value per head, and its benchmark counts ``2·s_q·Σc·h_q·(d + d_v)`` FLOPs, the same
    shapes FlashInfer's MLA decode (512 + 64) takes, https://github.com/deepseek-ai/FlashMLA
    (``benchmark/bench_flash_mla.py``); SGLang's v0.4.1 release ("MLA prefill w/o weight absorption",
    https://github.com/sgl-project/sglang/releases/tag/v0.4.1) and DataCrunch's walk through SGLang's MLA
    (absorbed decode), https://datacrunch.io/blog/deepseek-sglang-multi-head-latent-attention.
    """
    flops = model.attention_flops_per_token_forward(int(context), causal=False)
    if model.is_mla:
        flops *= mla_absorbed_decode_ratio(model)
    return flops


def mla_absorbed_decode_ratio(model: ModelArch) -> float:
    """``(2·r_kv + d_r) / (d_qk + d_v)``: absorbed MLA decode's attention FLOPs per key over the unabsorbed
    count (:func:`decode_attention_flops_per_token`); 1 for other attention."""
    if not model.is_mla:
        return 1.0
    return (2.0 * model.kv_lora_rank + model.qk_rope_head_dim) / (model.head_dim + model.v_head_dim)


def workspace_bytes_per_chip(model: ModelArch, tp: int, batch: int, input_tokens: int) -> float:
    """Peak transient buffers during prefill: the widest activations ``b·s·(4h + 2f·k)`` in bf16 plus the
    last-token logits ``b·V·4``, split over ``tp``. An estimate of ours; runtimes differ."""
    k = model.experts_top_k
    acts = batch * input_tokens * (4 * model.hidden_size + 2 * model.ffn_size * k) * ACTIVATION_BYTES
    return (acts + batch * model.vocab_size * LOGIT_BYTES) / tp


def draft_weight_bytes_per_chip(model: ModelArch, cfg: ServingConfig, tp: int) -> float:
    """Weights of the speculative draft (MTP module or draft head): ``draft_layers`` layers of the target,
    ``draft_layers·P_layer / (t·pp)`` per chip; 0 without ``spec``."""
    if cfg.spec is None:
        return 0.0
    return cfg.spec.draft_layers * model.params_per_layer / (tp * cfg.pp) * cfg.weight_precision.bytes


def _weights(model: ModelArch, cfg: ServingConfig, hw: Hardware, tp: int) -> float:
    return weight_bytes_per_chip(
        model, tp, cfg.weight_precision, hw, ep=cfg.ep, dp_attention=cfg.dp_attention, pp=cfg.pp
    ) + draft_weight_bytes_per_chip(model, cfg, tp)


def _kv_per_token(model: ModelArch, cfg: ServingConfig, hw: Hardware, tp: int) -> float:
    return kv_bytes_per_token_per_chip(model, tp, cfg.kv_dtype, hw, dp_attention=cfg.dp_attention, pp=cfg.pp)


def inference_memory(model: ModelArch, cfg: ServingConfig, hw: Hardware, tp: int) -> InferenceMemory:
    return InferenceMemory(
        weights_bytes=_weights(model, cfg, hw, tp),
        kv_cache_bytes=cfg.batch * cfg.context_tokens * _kv_per_token(model, cfg, hw, tp),
        workspace_bytes=workspace_bytes_per_chip(model, tp, cfg.batch, cfg.input_tokens),
        available_bytes=hw.usable_memory_bytes,
    )


def max_batch(model: ModelArch, cfg: ServingConfig, hw: Hardware, tp: int) -> int:
    """The largest batch whose weights, KV cache (full context) and workspace fit; 0 if none does; at most
    :data:`MAX_SERVING_BATCH`, the largest batch a :class:`ServingConfig` takes (a two-token request on a big
    node would otherwise report a batch no configuration can be built with)."""
    free = hw.usable_memory_bytes - _weights(model, cfg, hw, tp)
    per_seq = cfg.context_tokens * _kv_per_token(model, cfg, hw, tp)
    per_seq += workspace_bytes_per_chip(model, tp, 1, cfg.input_tokens)
    return min(MAX_SERVING_BATCH, max(0, int(free // per_seq))) if free > 0 else 0


def valid_tp_degrees(model: ModelArch, hw: Hardware, cfg: ServingConfig | None = None) -> list[int]:
    """Chip counts a replica's stage may use: divisors of the instance's chips, which must also split the query
    heads evenly unless the runtime pads them (:func:`head_layout`) or attention is data-parallel, and be a
    multiple of ``ep``; with pipeline stages, ``tp·pp`` must divide the instance's chips or fill whole
    instances."""
    n = hw.chips_per_instance
    ep, pp, dp = (cfg.ep, cfg.pp, cfg.dp_attention) if cfg is not None else (1, 1, False)
    out = []
    for t in divisors(n):
        if not (hw.pads_attention_heads or dp or model.n_heads % t == 0) or t % ep:
            continue
        if pp > 1 and n % (t * pp) and (t * pp) % n:
            continue
        out.append(t)
    return out


def resolve_tp(model: ModelArch, cfg: ServingConfig, hw: Hardware) -> tuple[int, str | None]:
    """Chips per replica stage. ``cfg.tp`` may count NeuronCores (Neuron docs do): 24 on inf2.48xlarge = 12 chips.

    An expert-parallel group (``ep > 1`` or ``dp_attention``) may span whole instances (``tp`` a multiple of
    the instance's chips; its all-to-alls then cross the scale-out network), as may ``pp`` stages. With no
    ``tp`` given, the fewest chips whose memory holds the batch; raises :class:`DoesNotFitError` with what would
    fit when even the whole instance is too small.
    """
    n = hw.chips_per_instance
    if cfg.tp is not None:
        tp = cfg.tp
        note = None
        # a scale-up domain larger than an instance (GB200/GB300 NVL72 racks of 4-GPU instances, Trainium
        # UltraServers, TPU slices) joins its instances' chips with the same fabric: tensor parallelism spans them
        domain = hw.scale_up_chips is not None and n < tp <= hw.scale_up_chips
        spans = tp > n and tp % n == 0 and (cfg.ep > 1 or cfg.dp_attention or domain)
        if tp > n and not spans:
            cores = hw.cores_per_chip
            if cores > 1 and tp % cores == 0 and tp // cores <= n:
                note = f"tp={tp} read as NeuronCores: {tp // cores} chips × {cores} cores"
                tp //= cores
            else:
                raise ConfigError(
                    f"tp={tp} exceeds the {n} chips of {hw.instance}; serving runs one replica inside one "
                    f"instance or one scale-up domain, so use tp ≤ {max(n, hw.scale_up_chips or n)} (an "
                    "expert-parallel group, ep > 1, may span whole instances)",
                    field="tp",
                )
        if spans:
            if not cfg.dp_attention and model.n_heads % tp:
                raise ConfigError(f"tp={tp} does not divide the {model.n_heads} attention heads of {model.name}")
            if cfg.pp > 1:
                raise ConfigError("an expert group spanning instances takes pp=1", field="pp")
            what = "expert group" if cfg.ep > 1 or cfg.dp_attention else "tensor-parallel group"
            where = " of one scale-up domain" if domain else ""
            return tp, f"the tp={tp} {what} spans {tp // n} instances{where} of {n} chips"
        if n % tp:
            raise ConfigError(f"tp={tp} must divide the {n} chips of {hw.instance}")
        if tp not in valid_tp_degrees(model, hw, cfg):
            good = ", ".join(str(t) for t in valid_tp_degrees(model, hw, cfg))
            if cfg.ep > 1 and tp % cfg.ep:
                why = f"is not a multiple of ep={cfg.ep}"
            elif cfg.pp > 1 and n % (tp * cfg.pp) and (tp * cfg.pp) % n:
                why = f"× pp={cfg.pp} neither divides the {n} chips of {hw.instance} nor fills whole instances"
            else:
                why = (
                    f"does not divide the {model.n_heads} attention heads of {model.name}, and the runtime on "
                    f"{hw.instance} does not pad heads"
                )
            raise ConfigError(f"tp={tp} {why}; use tp in {{{good}}}", field="tp")
        return tp, note
    degrees = valid_tp_degrees(model, hw, cfg)
    if not degrees:
        raise ConfigError(
            f"no tp divides the {n} chips of {hw.instance} for ep={cfg.ep}, pp={cfg.pp}; give tp explicitly",
            field="tp",
        )
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
            gb = _weights(model, narrow, hw, tp) / 1e9
            return f"use weight_precision={p.value} (weights {gb:.1f} GB per chip) or a larger instance", (
                "weight_precision"
            )
    return "use an instance with more memory per chip, or more chips per instance", None


def group_link(hw: Hardware, ranks: int) -> Link:
    """The link a group of ``ranks`` chips crosses: the scale-up link (NVLink, xGMI, NeuronLink, ICI) inside the
    scale-up domain (the instance, or the larger domain the chip's catalog record states: NVL72, a Trn2
    UltraServer), the per-chip share of the scale-out network (EFA, InfiniBand) once the group leaves it."""
    span = ranks > max(hw.chips_per_instance, hw.scale_up_chips or 0)
    return Link(bytes_per_s=hw.link_bytes_per_s(ranks, span) * hw.eff.collective, latency_s=hw.latency_s(span))


def layer_comm_s(model: ModelArch, hw: Hardware, tp: int, cfg: ServingConfig, rows: float) -> float:
    """Communication of one forward pass of a stage (``L/pp`` layers) over ``rows`` token rows.

    Tensor-parallel attention: 2 all-reduces of ``rows·h`` bf16 per layer (expert parallelism without data-
    parallel attention costs the same: tokens are on every rank, experts combine by all-reduce). Data-parallel
    attention: no attention all-reduce; each layer dispatches a rank's ``rows/t`` tokens to their ``k`` experts
    and combines them back, two all-to-alls of ``(rows/t)·k·h`` bf16 per rank over ``ep = t`` ranks, or, with
    experts split over fewer ranks than chips, an all-gather and a reduce-scatter of ``rows·h``
    (:mod:`chipfleet.perf.collectives`; the link from :func:`group_link`).
    """
    layers = model.n_layers / cfg.pp
    link = group_link(hw, tp)
    act = rows * model.hidden_size * ACTIVATION_BYTES
    if not cfg.dp_attention:
        return 2 * layers * collective_time_s(Collective.ALL_REDUCE, tp, act, link)
    if cfg.ep == tp:
        per_rank = rows / tp * model.experts_top_k * model.hidden_size * ACTIVATION_BYTES
        return layers * 2 * collective_time_s(Collective.ALL_TO_ALL, tp, per_rank, link)
    gather = collective_time_s(Collective.ALL_GATHER, tp, act, link)
    return layers * (gather + collective_time_s(Collective.REDUCE_SCATTER, tp, act, link))


def prefill_time(
    model: ModelArch, hw: Hardware, tp: int, batch: int, input_tokens: int, cfg: ServingConfig, chunks: int = 1
) -> PhaseTime:
    """Prefill of ``batch`` prompts of ``input_tokens``: compute-bound at useful sizes.

    FLOPs per chip = ``b·s·(2·L·P_layer_active + 2·L·s·a·d) / t`` (causal attention) + ``2·b·V·h / t`` for
    the last-token logits; an MoE model's routed experts add ``(1/g − 1)·F_routed`` at the attainable dense rate
    (grouped GEMMs at ``g`` of the dense rate, :func:`chipfleet.perf.kernels.routed_extra_flops_per_token`).
    Bytes = weights ÷ t + the KV written + element-wise traffic ``34·b·s·h·L / t``.
    With padded heads (:func:`head_layout`) the attention term scales with the chip's query heads
    ``q_chip/a`` instead of ``1/t`` and each token also multiplies the padding weights (``2·P_pad``).
    Comm: 2 all-reduces of ``b·s·h`` bf16 per layer (:func:`layer_comm_s`). A pipeline stage does ``1/pp`` of
    the work. With ``chunks > 1`` (an engine's chunked prefill) the tokens run in that many iterations, each
    reading the weights again and paying its overheads; the FLOPs are the same.
    """
    tokens = batch * input_tokens
    dp = cfg.dp_attention
    attn = tokens * model.attention_flops_per_token_forward(input_tokens, causal=True)
    attn *= attention_flops_share(model, tp, hw, dp)
    flops = tokens * 2.0 * model.n_layers * model.params_per_layer_active
    # routed experts at their grouped-GEMM rate: extra FLOPs at η_max·peak (phase_time divides by η(rows))
    rows_chunk = tokens / max(chunks, 1)
    flops += tokens * routed_extra_flops_per_token(model) * hw.eff.gemm_fraction(rows_chunk) / hw.eff.compute
    flops += 2.0 * batch * model.vocab_size * model.hidden_size
    flops /= tp
    flops += tokens * 2.0 * padding_params_per_chip(model, tp, hw, dp)
    weights = _weights(model, cfg, hw, tp) if cfg.spec is None else weight_bytes_per_chip(
        model, tp, cfg.weight_precision, hw, ep=cfg.ep, dp_attention=dp, pp=cfg.pp
    )  # fmt: skip
    streamed = tokens * _kv_per_token(model, cfg, hw, tp)
    streamed += elementwise_bytes_per_token(model, cfg.weight_precision) * tokens * model.n_layers / tp / cfg.pp
    if cfg.pp > 1:
        flops, attn = flops / cfg.pp, attn / cfg.pp
    if chunks <= 1:
        act = tokens * model.hidden_size * ACTIVATION_BYTES
        return phase_time(model, hw, tp, cfg, flops, tokens, weights + streamed, act, attn)
    rows = tokens / chunks
    one = phase_time(model, hw, tp, cfg, flops / chunks, rows, weights + streamed / chunks,
                     rows * model.hidden_size * ACTIVATION_BYTES, attn / chunks)  # fmt: skip
    return scaled(one, chunks)


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
    FLOPs at the weights' compute precision plus attention FLOPs at bf16 (fp8/int weights), ÷ η(rows).
    With expert or attention data parallelism or pipeline stages, the stage's ``L/pp`` layers communicate as
    :func:`layer_comm_s` says."""
    eta = hw.eff.gemm_fraction(rows)
    attn_peak = hw.peak(attention_precision(cfg.weight_precision))
    compute_s = flops / (hw.peak(cfg.weight_precision) * eta) + attention_flops / (attn_peak * eta)
    memory_s = bytes_ / (hw.memory_bytes_per_s * hw.eff.memory)
    if cfg.is_plain:
        link = group_link(hw, tp)
        comm_s = 2 * model.n_layers * collective_time_s(Collective.ALL_REDUCE, tp, allreduce_bytes, link)
        overhead_s = model.n_layers * hw.eff.layer_overhead_s + hw.eff.step_overhead_s
    else:
        comm_s = layer_comm_s(model, hw, tp, cfg, rows)
        overhead_s = model.n_layers / cfg.pp * hw.eff.layer_overhead_s + hw.eff.step_overhead_s
    return PhaseTime(
        time_s=max(compute_s, memory_s) + comm_s + overhead_s,
        compute_s=compute_s,
        memory_s=memory_s,
        comm_s=comm_s,
        overhead_s=overhead_s,
    )


def scaled(phase: PhaseTime, factor: float, comm_s: float = 0.0, overhead_s: float = 0.0) -> PhaseTime:
    """``factor`` repetitions of ``phase`` plus ``comm_s`` of links and ``overhead_s`` of host time, term by term
    (``phase`` itself when there is nothing to add)."""
    if factor == 1 and comm_s == 0 and overhead_s == 0:
        return phase
    return PhaseTime(
        time_s=factor * phase.time_s + comm_s + overhead_s,
        compute_s=factor * phase.compute_s,
        memory_s=factor * phase.memory_s,
        comm_s=factor * phase.comm_s + comm_s,
        overhead_s=factor * phase.overhead_s + overhead_s,
    )


def combined(*phases: PhaseTime, divisor: float = 1.0) -> PhaseTime:
    """The sum of ``phases`` term by term, ÷ ``divisor`` (a speculative step's draft and verify passes per
    accepted token)."""
    return PhaseTime(
        time_s=sum(p.time_s for p in phases) / divisor,
        compute_s=sum(p.compute_s for p in phases) / divisor,
        memory_s=sum(p.memory_s for p in phases) / divisor,
        comm_s=sum(p.comm_s for p in phases) / divisor,
        overhead_s=sum(p.overhead_s for p in phases) / divisor,
    )


def expected_experts_touched(model: ModelArch, batch: int) -> float:
    """Distinct experts a batch of ``b`` tokens routes to per MoE layer, with uniform routing:
    ``E·(1 − (1 − k/E)^b)``; ``1`` for a dense model."""
    if not model.is_moe:
        return 1.0
    e, k = model.n_experts, model.experts_top_k
    return e * (1.0 - (1.0 - k / e) ** batch)


def decode_step_time(
    model: ModelArch, hw: Hardware, tp: int, batch: int, context: float, cfg: ServingConfig, queries: int = 1
) -> PhaseTime:
    """One decode iteration of ``batch`` sequences at ``context`` cached tokens: memory-bound when small.

    FLOPs per chip = ``b·(2·(L·P_layer_active + V·h) + 4·L·c·a·d) / t`` (and the routed experts' extra, as
    in :func:`prefill_time`; MLA's attention term absorbed, :func:`decode_attention_flops_per_token`).
    Bytes per chip = the weights read (dense part + the experts the batch touches) ÷ t + ``b·c`` cached tokens'
    KV. Comm: 2 all-reduces of
    ``b·h`` bf16 per layer (latency-bound). Padded heads (:func:`head_layout`) add their weights ``P_pad``
    to the bytes and ``2·b·P_pad`` FLOPs, and attention scales with ``q_chip/a`` instead of ``1/t``.
    ``queries`` tokens per sequence (a speculative verification pass: ``k + 1``) multiply the FLOPs, the
    element-wise traffic and the rows, not the cache read. A pipeline stage does ``1/pp`` of the work.
    """
    rows = batch * queries
    dp = cfg.dp_attention
    per_token = 2.0 * (model.n_layers * model.params_per_layer_active + model.vocab_size * model.hidden_size)
    padding = padding_params_per_chip(model, tp, hw, dp)
    flops = rows * (per_token / tp + 2.0 * padding)
    flops += rows * routed_extra_flops_per_token(model) / tp * hw.eff.gemm_fraction(rows) / hw.eff.compute
    attn = rows * decode_attention_flops_per_token(model, context)
    attn *= attention_flops_share(model, tp, hw, dp)
    if cfg.is_plain:
        expert = model.params_mlp_per_expert * model.n_moe_layers
        touched = model.params_total - (model.n_experts - expected_experts_touched(model, rows)) * expert
        bytes_ = (touched / tp + padding) * cfg.weight_precision.bytes
    else:
        weights = weight_bytes_per_chip(model, tp, cfg.weight_precision, hw, ep=cfg.ep, dp_attention=dp, pp=cfg.pp)
        experts = routed_expert_params(model)
        per_chip = math.ceil(model.n_experts / cfg.ep) * (experts / model.n_experts) * cfg.ep / tp / cfg.pp
        untouched = 1.0 - expected_experts_touched(model, rows) / model.n_experts if experts else 0.0
        bytes_ = weights - untouched * per_chip * cfg.weight_precision.bytes
    bytes_ += batch * context * _kv_per_token(model, cfg, hw, tp)
    bytes_ += elementwise_bytes_per_token(model, cfg.weight_precision) * rows * model.n_layers / tp / cfg.pp
    if cfg.pp > 1:
        flops, attn = flops / cfg.pp, attn / cfg.pp
    return phase_time(model, hw, tp, cfg, flops, rows, bytes_, rows * model.hidden_size * ACTIVATION_BYTES, attn)


def prefill_chunks(cfg: ServingConfig, tokens: int) -> int:
    """Iterations an engine with chunked prefill splits ``tokens`` prompt tokens into: ``⌈tokens / budget⌉``
    with its ``max_num_batched_tokens`` budget; 1 without chunked prefill or budget."""
    budget = cfg.engine.max_num_batched_tokens
    if not cfg.engine.chunked_prefill or budget is None:
        return 1
    return max(1, math.ceil(tokens / budget))


def stage_hop_s(model: ModelArch, hw: Hardware, tp: int, cfg: ServingConfig, rows: float) -> float:
    """Sending ``rows`` tokens' activations (``rows·h`` bf16) from one pipeline stage to the next, over the
    scale-out link once the ``tp·pp`` chips span instances; 0 without pipeline stages."""
    if cfg.pp == 1:
        return 0.0
    link = group_link(hw, tp * cfg.pp)
    return collective_time_s(Collective.P2P, 2, rows * model.hidden_size * ACTIVATION_BYTES, link)


def serving_phases(cfg: ServingConfig, hw: Hardware, tp: int) -> tuple[PhaseTime, PhaseTime]:
    """(TTFT phase, TPOT phase) of ``cfg`` on ``tp``-chip stages: the module docstring's composition.

    Prefill runs the batch as ``m = min(pp, b)`` micro-batches through ``pp`` stages: ``(m + pp − 1)`` stage
    passes plus a hop each, in ``chunks`` engine iterations. Decode: ``pp`` stage passes of a ``⌈b/pp⌉``
    micro-batch per token, plus the engine's overhead per iteration; with ``spec``, a step of ``k`` draft passes
    (each ``draft_layers/L`` of a decode pass) and one verification pass of ``k + 1`` tokens per sequence,
    ÷ ``τ``.
    """
    model, pp, b = cfg.model, cfg.pp, cfg.batch
    engine = cfg.engine
    m = min(pp, b)
    micro_p = math.ceil(b / m)
    chunks = prefill_chunks(cfg, micro_p * cfg.input_tokens)
    stage_p = prefill_time(model, hw, tp, micro_p, cfg.input_tokens, cfg, chunks)
    passes = m + pp - 1
    prefill = scaled(
        stage_p, passes, passes * stage_hop_s(model, hw, tp, cfg, micro_p * cfg.input_tokens),
        chunks * engine.overhead_s(b),
    )  # fmt: skip
    micro_d = math.ceil(b / pp)
    context = cfg.input_tokens + cfg.output_tokens / 2
    hop_d = pp * stage_hop_s(model, hw, tp, cfg, micro_d)
    one = scaled(decode_step_time(model, hw, tp, micro_d, context, cfg), pp, hop_d, engine.overhead_s(b))
    if cfg.spec is None:
        return prefill, one
    k = cfg.spec.draft_tokens
    verify_stage = decode_step_time(model, hw, tp, micro_d, context, cfg, queries=k + 1)
    verify = scaled(verify_stage, pp, pp * stage_hop_s(model, hw, tp, cfg, micro_d * (k + 1)), engine.overhead_s(b))
    share = cfg.spec.draft_layers / model.n_layers
    # A draft pass is a forward of its own: its layers' share of a decode pass, and a whole pass's fixed cost (the
    # step's host time and the engine's per-iteration overhead), which does not shrink with the draft's size.
    fixed = pp * hw.eff.step_overhead_s + engine.overhead_s(b)
    draft = scaled(one, k * share, 0.0, k * (1.0 - share) * fixed)
    return prefill, combined(draft, verify, divisor=cfg.spec.acceptance_length)


def _check_engine(cfg: ServingConfig, hw: Hardware) -> None:
    hw.resolve_precision(cfg.weight_precision)  # refuses FP4 weights the chip's stacks cannot read
    hw.check_kv_cache(cfg.kv_dtype)
    engine = cfg.engine
    engine.require_chip(hw.chip, hw.family)
    if engine.max_num_seqs is not None and cfg.batch > engine.max_num_seqs:
        raise ConfigError(
            f"batch {cfg.batch} exceeds {engine}'s default max_num_seqs of {engine.max_num_seqs} sequences: "
            f"use batch ≤ {engine.max_num_seqs}",
            field="batch",
        )


def estimate_inference(cfg: ServingConfig, hw: Hardware, check_memory: bool = True) -> InferenceResult:
    """TTFT, TPOT and throughput of a static batch (see module docstring).

    TTFT = prefill of the whole batch (the first token comes out of the prefill). TPOT = a decode
    iteration at the mean context ``input + output/2`` (:func:`serving_phases` with pipeline stages,
    speculative decoding and engine overheads). A batch takes ``TTFT + (output − 1)·TPOT``; the replica's
    throughput is ``batch·output`` over that, and the instance runs ``chips ÷ (tp·pp)`` replicas (a share of
    one when a replica spans instances). ``check_memory=False`` times a configuration known to run (a published
    measurement) even where the memory model thinks it does not fit.
    """
    model = cfg.model
    _check_engine(cfg, hw)
    tp, note = resolve_tp(model, cfg, hw) if check_memory or cfg.tp is None else (cfg.tp, None)
    mem = inference_memory(model, cfg, hw, tp)
    if check_memory and not mem.fits:
        larger = [t for t in valid_tp_degrees(model, hw, cfg) if t > tp and inference_memory(model, cfg, hw, t).fits]
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
    prefill, decode = serving_phases(cfg, hw, tp)
    batch_time = prefill.time_s + (cfg.output_tokens - 1) * decode.time_s
    per_replica = cfg.batch * cfg.output_tokens / batch_time
    chips = tp * cfg.pp
    replicas = hw.chips_per_instance // chips
    busy = (
        prefill.busy_fraction * prefill.time_s + decode.busy_fraction * decode.time_s * (cfg.output_tokens - 1)
    ) / batch_time
    assumptions = list(INFERENCE_ASSUMPTIONS)
    if note:
        assumptions.append(note)
    assumptions.extend(_layout_notes(cfg, tp))
    layout = head_layout(model, tp, hw)
    if layout.padded and not cfg.dp_attention:
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
        output_tokens_per_s=per_replica
        * (replicas if chips <= hw.chips_per_instance else hw.chips_per_instance / chips),
        max_batch=max_batch(model, cfg, hw, tp),
        memory=mem,
        prefill=prefill,
        decode=decode,
        busy_fraction=busy,
        compute_precision=compute,
        assumptions=tuple(assumptions),
        engine=str(cfg.engine),
        chips_per_replica=chips,
    )


def _layout_notes(cfg: ServingConfig, tp: int) -> list[str]:
    """The assumptions an engine, a parallel layout or speculative decoding adds (none for a plain config)."""
    notes = []
    if not cfg.engine.is_default:
        e = cfg.engine
        chunk = f"chunked prefill of {e.max_num_batched_tokens} tokens" if e.chunked_prefill else "whole prefill"
        notes.append(
            f"engine {e}: {chunk}, at most {e.max_num_seqs or 'KV-bound'} sequences, overhead "
            f"{e.iteration_overhead_s * 1e3:.2f} ms + {e.per_seq_overhead_s * 1e6:.1f} µs/sequence per iteration "
            f"({e.overheads})"
        )
    if cfg.ep > 1 or cfg.dp_attention:
        how = "data-parallel attention" if cfg.dp_attention else "tensor-parallel attention"
        notes.append(f"experts over ep={cfg.ep} of tp={tp} chips, {how}; uniform routing, no load imbalance")
    if cfg.pp > 1:
        notes.append(f"pp={cfg.pp} stages of {tp} chips, ⌈batch/pp⌉ micro-batches; layers split evenly")
    if cfg.spec is not None:
        s = cfg.spec
        notes.append(
            f"{s.method}: {s.draft_tokens} draft token(s) per step, acceptance length {s.acceptance_length:g} "
            f"tokens per verification; draft cost {s.draft_layers:g} layer(s) of the target"
        )
    return notes


INFERENCE_ASSUMPTIONS: tuple[str, ...] = (
    "static batch of identical requests; TTFT = prefill of the whole batch, no queueing",
    "TPOT = one decode iteration at the mean context (input + output/2)",
    "KV cache in bf16 (fp8 with fp8 weights), split over tp, replicated when tp > KV heads",
    "5 % of device memory reserved for the runtime; prefill workspace estimated from activation widths",
    "one replica per tp chips; all replicas of an instance serve in parallel",
)
