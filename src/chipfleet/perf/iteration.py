"""One continuous-batching iteration's time on a replica, as the simulator and the serving planner use it."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.engines import EngineProfile, SpecDecode
from chipfleet.perf.hardware import Hardware
from chipfleet.perf.inference import (
    ACTIVATION_BYTES,
    ServingConfig,
    attention_flops_share,
    expected_experts_touched,
    kv_bytes_per_token_per_chip,
    padding_params_per_chip,
    weight_bytes_per_chip,
    workspace_bytes_per_chip,
)
from chipfleet.perf.kernels import (
    GROUPED_GEMM_FRACTION,
    HostDispatch,
    attention_precision,
    elementwise_bytes_per_token,
    overlapped_s,
    routed_extra_flops_per_token,
)
from chipfleet.workloads import ModelArch


class IterationModel:
    """Time of one batching iteration on a replica: the performance model's roofline
    (:func:`chipfleet.perf.inference.phase_time`) with its constants folded once, because the simulator
    evaluates it hundreds of thousands of times and the serving planner over whole grids of operating points.
    ``tests/sim/test_serve.py`` checks it against ``phase_time`` itself.

    ``host`` (default ``None``: a graph-captured engine, the roofline alone) is an eager engine's host
    dispatch: the device work ``max(compute, memory)`` then overlaps the host's time to issue the iteration
    (:class:`chipfleet.perf.kernels.HostDispatch`, :func:`chipfleet.perf.kernels.overlapped_s`); comm and
    overhead add as before, and the busy time stays the device's.

    ``engine`` (default ``None``: no engine overhead) adds the engine's own time per iteration,
    ``iteration_overhead_s + per_seq_overhead_s·(decoding + finishing sequences)``
    (:meth:`chipfleet.perf.engines.EngineProfile.overhead_s`), to the iteration, not to the busy time.

    ``ep`` and ``dp_attention`` lay an MoE model out as :class:`chipfleet.perf.inference.ServingConfig` does:
    experts sharded over ``ep`` ranks, attention data-parallel (whole attention weights per chip, the KV cache
    split by sequence) with tokens dispatched to their experts and combined by all-to-all
    (:func:`chipfleet.perf.inference.layer_comm_s`); defaults: tensor parallelism as before.

    ``grouped_gemm_fraction`` (default :data:`chipfleet.perf.kernels.GROUPED_GEMM_FRACTION`) is the routed
    experts' attainable fraction of a dense GEMM's rate once compute-bound; a calibration
    (:mod:`chipfleet.validate.serving.moe_fit`) passes other values. Their extra FLOPs run at the attainable
    dense rate ``η_max·peak`` (:func:`chipfleet.perf.kernels.routed_extra_flops_per_token`).

    ``spec`` (default ``None``: one token per sequence and iteration) is speculative decoding or MTP
    (:class:`chipfleet.perf.engines.SpecDecode`: ``k`` draft tokens, acceptance length ``τ``, a draft of
    ``draft_layers`` target layers), timed as :func:`chipfleet.perf.inference.serving_phases` times it: an
    iteration with ``d`` decoding sequences runs ``k`` draft passes, each ``draft_layers/L`` of a decode-only
    iteration of the ``d`` sequences plus the rest of a whole pass's fixed cost (the step's host time and the
    engine's per-iteration overhead: a draft pass is a forward of its own), and one verification pass in which
    each sequence carries ``k + 1`` query tokens over its cache (weights read once, the KV cache read once per
    sequence, linear, logit and attention FLOPs × ``(k + 1)``), together with the iteration's prompt tokens.
    Every method returns the time of such an iteration; a decoding sequence gains :attr:`tokens_per_step`
    ``= τ`` tokens in it on average, so callers divide: ``TPOT = iteration time / τ`` (Little's law on the
    decoders, ``d = X·(O − 1)·TPOT``, is unchanged). The draft passes' time covers the decoding sequences only
    (a draft head's own prompt pass is left out: one layer against the target's ``L``).
    """

    def __init__(
        self,
        model: ModelArch,
        hw: Hardware,
        tp: int,
        precision: Precision,
        host: HostDispatch | None = None,
        engine: EngineProfile | None = None,
        ep: int = 1,
        dp_attention: bool = False,
        grouped_gemm_fraction: float = GROUPED_GEMM_FRACTION,
        spec: SpecDecode | None = None,
    ) -> None:
        self.model, self.hw, self.tp, self.host, self.spec = model, hw, tp, host, spec
        # per decoding sequence: query tokens of a verification pass, and the draft passes' share of a decode pass
        self.queries_per_sequence = spec.draft_tokens + 1 if spec is not None else 1
        self._draft_share = spec.draft_tokens * spec.draft_layers / model.n_layers if spec is not None else 0.0
        # the draft passes' fixed cost beyond their layers' share: k·(1 − draft_layers/L) whole passes' worth
        self._draft_rest = spec.draft_tokens - self._draft_share if spec is not None else 0.0
        hw.resolve_precision(precision)  # refuses FP4 weights the chip's stacks cannot read
        self.engine = engine if engine is not None and engine.overhead_s(1.0) > 0 else None
        self.cfg = ServingConfig(
            model=model, batch=1, input_tokens=1, output_tokens=1, tp=tp, weight_precision=precision, ep=ep,
            dp_attention=dp_attention,
        )  # fmt: skip
        dp = dp_attention
        L = model.n_layers
        padding = padding_params_per_chip(model, tp, hw, dp)  # padded / replicated heads (Neuron), else 0
        if not 0.0 < grouped_gemm_fraction <= 1.0:
            raise ConfigError(
                f"grouped_gemm_fraction must be in (0, 1], got {grouped_gemm_fraction!r}", field="grouped_gemm_fraction"
            )
        self.grouped_gemm_fraction = grouped_gemm_fraction
        self.linear_flops_per_token = 2.0 * L * model.params_per_layer_active / tp + 2.0 * padding
        self.routed_extra_flops_per_token = routed_extra_flops_per_token(model, grouped_gemm_fraction) / tp
        self.logit_flops = 2.0 * model.vocab_size * model.hidden_size / tp
        # FLOPs per (query token × key): 2·L·a·(d_qk + d_v) × the chip's share of the (padded) query heads, as
        # ModelArch.attention_flops_per_token_forward counts them (4·L·a·d but for MLA, prefilled unabsorbed)
        d_v = model.v_head_dim if model.is_mla else model.head_dim
        share = attention_flops_share(model, tp, hw, dp)
        self.attn_coeff = 2.0 * L * model.n_heads * (model.head_dim + d_v) * share
        # a decoding query's: MLA attends its latent with the up-projections absorbed, 2·a·(2·r_kv + d_r) per key
        # and layer (chipfleet.perf.inference.decode_attention_flops_per_token)
        self.decode_attn_coeff = self.attn_coeff
        if model.is_mla:
            width = 2.0 * model.kv_lora_rank + model.qk_rope_head_dim
            self.decode_attn_coeff = 2.0 * L * model.n_heads * width * share
        self.kv_bytes = kv_bytes_per_token_per_chip(model, tp, self.cfg.kv_dtype, hw, dp_attention=dp)
        self.ew_bytes = elementwise_bytes_per_token(model, precision) * L / tp
        self.expert_bytes = model.params_mlp_per_expert * model.n_moe_layers * precision.bytes / tp
        if ep > 1:  # a rank holds ⌈E/ep⌉ whole experts over its tp/ep chips
            self.expert_bytes *= math.ceil(model.n_experts / ep) * ep / model.n_experts
        self.weight_bytes = weight_bytes_per_chip(model, tp, precision, hw, ep=ep, dp_attention=dp)
        self.ar_bytes = model.hidden_size * ACTIVATION_BYTES
        eff = hw.eff
        self._peak = hw.peak(precision) * eff.compute
        self._attn_peak = hw.peak(attention_precision(precision)) * eff.compute
        self._half = eff.compute_half_rows
        self._bw = hw.memory_bytes_per_s * eff.memory
        self._overhead = L * eff.layer_overhead_s + eff.step_overhead_s
        link_bw = hw.link_bytes_per_s(tp, span_instances=False) * eff.collective
        if tp > 1 and not link_bw > 0:
            raise ConfigError(
                f"{hw.instance} has no chip-to-chip bandwidth in the catalog, so tp={tp} cannot be timed; "
                "use tp=1 or add the figure in a catalog overlay file",
                field="tp",
            )
        lat = hw.latency_s(span_instances=False)
        # 2 all-reduces per layer: 2·(t−1)/t·S/B + 2·(t−1)·α each (chipfleet.perf.collectives)
        self._comm_per_byte = 2 * L * 2 * (tp - 1) / tp / link_bw if tp > 1 else 0.0
        self._comm_fixed = 2 * L * 2 * (tp - 1) * lat if tp > 1 else 0.0
        if dp and tp > 1:
            # per layer: two all-to-alls of a rank's tokens × k experts (ep = tp), or an all-gather and a
            # reduce-scatter of every token (ep < tp): (t−1)/t·S/B + (t−1)·α each
            if ep == tp:
                self.ar_bytes = model.experts_top_k * model.hidden_size * ACTIVATION_BYTES / tp
            self._comm_per_byte = L * 2 * (tp - 1) / tp / link_bw
            self._comm_fixed = L * 2 * (tp - 1) * lat
        self._decode: dict[tuple[int, int], tuple[float, float, float, float, float]] = {}

    @property
    def tokens_per_step(self) -> float:
        """Tokens a decoding sequence gains per iteration on average: the acceptance length ``τ`` with ``spec``,
        else 1. ``TPOT = iteration time / tokens_per_step``."""
        return self.spec.acceptance_length if self.spec is not None else 1.0

    def _weights(self, tokens: int) -> float:
        m = self.model
        if not m.is_moe:
            return self.weight_bytes
        return self.weight_bytes - (m.n_experts - expected_experts_touched(m, tokens)) * self.expert_bytes

    def _comm(self, tokens: int) -> float:
        return self._comm_per_byte * tokens * self.ar_bytes + self._comm_fixed if tokens else 0.0

    def time(
        self, decode: int, decode_ctx: float, prefill: int, prefill_keys: float, prefix_read: float, finishing: int
    ) -> tuple[float, float]:
        """(iteration seconds, busy seconds).

        ``decode`` requests generate one token each over ``decode_ctx`` cached tokens in all; ``prefill``
        prompt tokens run, attending ``prefill_keys`` (query, key) pairs in all (a chunk of c tokens after a
        cached prefix of p attends c·p + c²/2) and reading ``prefix_read`` cached prefix tokens' KV;
        ``finishing`` prompts complete and compute first-token logits. Bytes and FLOPs as in
        :func:`chipfleet.perf.inference.prefill_time` and :func:`decode_step_time`. With ``spec`` the decoding
        requests verify ``k + 1`` tokens each after ``k`` draft passes (the class docstring) and gain
        :attr:`tokens_per_step` tokens on average.
        """
        q = self.queries_per_sequence
        t, busy = self._pass(q, decode, decode_ctx, prefill, prefill_keys, prefix_read, finishing)
        if self.spec is None or decode == 0:
            return t, busy
        draft_t, draft_busy = self._pass(1, decode, decode_ctx, 0, 0.0, 0.0, 0)
        fixed = self._draft_rest * (self.hw.eff.step_overhead_s + self._engine_s(decode))
        return t + self._draft_share * draft_t + fixed, busy + self._draft_share * draft_busy

    def _engine_s(self, seqs: float) -> float:
        return self.engine.overhead_s(seqs) if self.engine is not None else 0.0

    def _pass(
        self, q: int, decode: int, decode_ctx: float, prefill: int, prefill_keys: float, prefix_read: float,
        finishing: int,
    ) -> tuple[float, float]:  # fmt: skip
        """One forward pass in which each of the ``decode`` sequences carries ``q`` query tokens."""
        tokens = decode * q + prefill
        eta = tokens / (tokens + self._half)
        flops = tokens * self.linear_flops_per_token + (decode * q + finishing) * self.logit_flops
        attn = self.decode_attn_coeff * decode_ctx * q + self.attn_coeff * prefill_keys
        compute = flops / (self._peak * eta) + attn / (self._attn_peak * eta)
        compute = compute + tokens * self.routed_extra_flops_per_token / self._peak
        bytes_ = self._weights(tokens) + self.kv_bytes * (decode_ctx + prefix_read + prefill) + self.ew_bytes * tokens
        busy = max(compute, bytes_ / self._bw)
        device = busy
        if self.host is not None and tokens:
            host = self.host.time_s(self.model.n_layers, decode + finishing, prefill > 0)
            device = overlapped_s(busy, host, self.host.overlap_exponent)
        if self.engine is not None and tokens:
            device += self.engine.overhead_s(decode + finishing)
        return device + self._comm(tokens) + self._overhead, busy

    def times(
        self,
        decode: NDArray[np.float64],
        decode_ctx: NDArray[np.float64],
        prefill: NDArray[np.float64],
        prefill_keys: NDArray[np.float64],
        finishing: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """:meth:`time` over arrays (no cached prefix read): the same formula, element by element, for the
        planner's operating-point grids. Counts may be fractional (mean batch compositions)."""
        t, busy = self._passes(float(self.queries_per_sequence), decode, decode_ctx, prefill, prefill_keys, finishing)
        if self.spec is None:
            return t, busy
        zero = np.zeros_like(np.asarray(decode, dtype=np.float64))
        drafting = decode > 0  # no draft pass without decoding sequences (timed as one, then dropped)
        draft_t, draft_busy = self._passes(1.0, np.where(drafting, decode, 1.0), decode_ctx, zero, zero, zero)
        share = self._draft_share
        e = self.engine
        fixed = self.hw.eff.step_overhead_s + (
            e.iteration_overhead_s + e.per_seq_overhead_s * decode if e is not None else 0.0
        )
        t_spec = t + share * draft_t + self._draft_rest * fixed
        return np.where(drafting, t_spec, t), np.where(drafting, busy + share * draft_busy, busy)

    def _passes(
        self,
        q: float,
        decode: NDArray[np.float64],
        decode_ctx: NDArray[np.float64],
        prefill: NDArray[np.float64],
        prefill_keys: NDArray[np.float64],
        finishing: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """:meth:`_pass` over arrays."""
        tokens = decode * q + prefill
        eta = tokens / (tokens + self._half)
        flops = tokens * self.linear_flops_per_token + (decode * q + finishing) * self.logit_flops
        attn = self.decode_attn_coeff * decode_ctx * q + self.attn_coeff * prefill_keys
        compute = flops / (self._peak * eta) + attn / (self._attn_peak * eta)
        compute = compute + tokens * self.routed_extra_flops_per_token / self._peak
        m = self.model
        weights: float | NDArray[np.float64] = self.weight_bytes
        if m.is_moe:
            touched = m.n_experts * (1.0 - (1.0 - m.experts_top_k / m.n_experts) ** tokens)
            weights = self.weight_bytes - (m.n_experts - touched) * self.expert_bytes
        bytes_ = weights + self.kv_bytes * (decode_ctx + prefill) + self.ew_bytes * tokens
        busy = np.maximum(compute, bytes_ / self._bw)
        comm = np.where(tokens > 0, self._comm_per_byte * tokens * self.ar_bytes + self._comm_fixed, 0.0)
        device = busy
        if self.host is not None:
            h = self.host
            host = self.model.n_layers * h.layer_s + (decode + finishing) * h.sequence_s
            host = host + np.where(prefill > 0, h.prefill_s, 0.0)
            device = np.where(tokens > 0, overlapped_s(busy, host, h.overlap_exponent), busy)
        if self.engine is not None:
            e = self.engine
            device = device + np.where(
                tokens > 0, e.iteration_overhead_s + e.per_seq_overhead_s * (decode + finishing), 0.0
            )
        return device + comm + self._overhead, busy

    def kv_room_tokens(self, max_batch_tokens: int) -> int:
        """KV-cache tokens the replica holds: each chip's usable memory less its weights (the speculative draft's
        ``draft_layers`` target layers included) and the workspace of one ``max_batch_tokens`` budget, ÷ the KV
        bytes a token takes per chip (:attr:`kv_bytes`: the layout's mean). A :class:`DoesNotFitError` (field
        ``tp``) when nothing is left."""
        model, hw = self.model, self.hw
        weights = self.weight_bytes
        if self.spec is not None:
            weights += self.spec.draft_layers * model.params_per_layer / self.tp * self.cfg.weight_precision.bytes
        free = hw.usable_memory_bytes - weights - workspace_bytes_per_chip(model, self.tp, 1, max_batch_tokens)
        cap = int(free // self.kv_bytes)
        if cap < 1:
            raise DoesNotFitError(
                f"{model.name} with tp={self.tp} leaves no KV-cache room on {hw.instance}.",
                needed_bytes=weights,
                available_bytes=hw.usable_memory_bytes,
                suggestion="use more chips per replica (tp), a lower precision, or a smaller max_batch_tokens",
                field="tp",
            )
        return cap

    def alone_ttft_s(self, prompt_tokens: int) -> float:
        """TTFT of a prompt on an idle replica: one prefill iteration of the whole prompt."""
        return self.time(0, 0.0, prompt_tokens, prompt_tokens * prompt_tokens / 2.0, 0.0, 1)[0]

    def decode_block(self, n: int, ctx0: float, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Times and busy times of ``k`` decode iterations of ``n`` requests whose cached keys start at
        ``ctx0`` and grow by ``n·τ`` per iteration (``τ`` = :attr:`tokens_per_step`, 1 without ``spec``): each
        is max(compute, memory) + comm + overhead, both terms linear in the cached keys (with ``host``,
        max(compute, memory) overlaps the host dispatch as in :meth:`time`; with ``spec``, the draft passes and
        the verification pass add as in :meth:`time`)."""
        ctx = ctx0 + n * self.tokens_per_step * np.arange(k, dtype=np.float64)
        times, busy = self._decode_passes(n, self.queries_per_sequence, ctx)
        if self.spec is None or n == 0:
            return times, busy
        draft_t, draft_busy = self._decode_passes(n, 1, ctx)
        fixed = self._draft_rest * (self.hw.eff.step_overhead_s + self._engine_s(n))
        return times + self._draft_share * draft_t + fixed, busy + self._draft_share * draft_busy

    def _decode_passes(self, n: int, q: int, ctx: NDArray[np.float64]) -> tuple[np.ndarray, np.ndarray]:
        """Decode-only passes of ``n`` sequences carrying ``q`` query tokens each, at cached keys ``ctx``."""
        coeffs = self._decode.get((n, q))
        if coeffs is None:
            rows = n * q
            eta = rows / (rows + self._half)
            c0 = rows * (self.linear_flops_per_token + self.logit_flops) / (self._peak * eta)
            c0 += rows * self.routed_extra_flops_per_token / self._peak
            c1 = q * self.decode_attn_coeff / (self._attn_peak * eta)
            m0 = (self._weights(rows) + self.ew_bytes * rows) / self._bw
            m1 = self.kv_bytes / self._bw
            engine = self.engine.overhead_s(n) if self.engine is not None else 0.0
            coeffs = (c0, c1, m0, m1, self._comm(rows) + self._overhead + engine)
            self._decode[(n, q)] = coeffs
        c0, c1, m0, m1, fixed = coeffs
        busy = np.maximum(c0 + c1 * ctx, m0 + m1 * ctx)
        if self.host is None or n == 0:
            return busy + fixed, busy
        host = self.host.time_s(self.model.n_layers, n, False)
        return overlapped_s(busy, host, self.host.overlap_exponent) + fixed, busy
