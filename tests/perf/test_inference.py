"""Inference: KV cache, roofline prefill/decode, memory fit and the NeuronCore tp mapping.

Formulas from MODELING.md "Inference" (Pope et al. 2022, "Efficiently Scaling Transformer Inference");
hardware is built by hand in ``_hardware.py``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.hardware import Hardware
from chipfleet.perf.inference import (
    MAX_SERVING_BATCH,
    ServingConfig,
    decode_step_time,
    estimate_inference,
    head_layout,
    inference_memory,
    kv_bytes_per_token_per_chip,
    max_batch,
    prefill_time,
    resolve_tp,
    valid_tp_degrees,
)
from chipfleet.workloads import get_model
from chipfleet.workloads.models import ModelArch

from ._hardware import H100_LIKE, scaled

LLAMA3_8B = get_model("llama-3-8b")
LLAMA3_70B = get_model("llama-3-70b")
LLAMA31_405B = get_model("llama-3.1-405b")
MIXTRAL = get_model("mixtral-8x7b")

EXACT = 1e-12


# ===================================================================== KV cache
@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (1, 327_680),  # 2·80·8·128·2: the whole cache (ModelArch.kv_cache_bytes_per_token docstring)
        (4, 81_920),  # 2 KV heads per chip
        (8, 40_960),  # 2·80·1·128·2: one KV head per chip
        (16, 40_960),  # 8 KV heads over 16 chips: each head replicated on 2 chips, ⌈8/16⌉ = 1 per chip
    ],
)
def test_kv_bytes_per_token_per_chip_llama3_70b(tp: int, expected: int) -> None:
    """KV bytes per token = ``2·L·a_kv·d·bytes`` (Pope et al. 2022; MODELING.md), KV heads split over tp and
    replicated once tp exceeds them (GQA). Llama-3-70B: L=80, a_kv=8, d=128, bf16."""
    assert kv_bytes_per_token_per_chip(LLAMA3_70B, tp, Precision.BF16) == expected


def test_kv_fp8_halves_bf16() -> None:
    assert kv_bytes_per_token_per_chip(LLAMA3_70B, 8, Precision.FP8) == 20_480


def test_kv_cache_in_memory_is_batch_times_context() -> None:
    cfg = ServingConfig(model=LLAMA3_70B, batch=4, input_tokens=2048, output_tokens=512, tp=8)
    mem = inference_memory(LLAMA3_70B, cfg, H100_LIKE, 8)
    assert mem.kv_cache_bytes == 4 * (2048 + 512) * 40_960
    assert mem.weights_bytes == pytest.approx(2 * LLAMA3_70B.params_total / 8, rel=EXACT)


# ===================================================================== roofline
def test_decode_is_memory_bound_at_batch_1() -> None:
    """Pope et al. 2022 §2: small-batch decode streams every weight once per token — memory-bound."""
    cfg = ServingConfig(model=LLAMA3_8B, batch=1, input_tokens=1024, output_tokens=128)
    r = estimate_inference(cfg, H100_LIKE)
    assert r.tp == 1
    assert r.decode.bound == "memory"
    assert r.decode.memory_s > r.decode.compute_s


def test_prefill_is_compute_bound_at_2048_tokens() -> None:
    # 2048 rows per GEMM: arithmetic intensity ~2048 FLOP/byte of weights, far above H100's ~300 ridge.
    cfg = ServingConfig(model=LLAMA3_8B, batch=1, input_tokens=2048, output_tokens=128)
    p = prefill_time(LLAMA3_8B, H100_LIKE, 1, 1, 2048, cfg)
    assert p.bound == "compute"
    assert p.compute_s > 2 * p.memory_s


def test_tpot_is_weights_over_bandwidth_plus_overheads() -> None:
    """TPOT ≈ weight bytes / (HBM bandwidth · η_mem) + L·layer_overhead + step_overhead (MODELING.md,
    "Inference": step time ≈ max(FLOPs/…, bytes/(bandwidth·η_memory)) + fixed overhead). Llama-3-8B bf16
    (8,030,261,248 params = 16.06 GB) on 3.35 TB/s × 0.85 = 5.64 ms + 0.32 ms + 1 ms ≈ 6.96 ms. The KV
    cache read (~1.1k tokens × 128 KiB = 0.15 GB) is the rest: within 10 %."""
    cfg = ServingConfig(model=LLAMA3_8B, batch=1, input_tokens=1024, output_tokens=128)
    r = estimate_inference(cfg, H100_LIKE)
    eff = H100_LIKE.eff
    expected = (
        LLAMA3_8B.params_total * 2 / (H100_LIKE.memory_bytes_per_s * eff.memory)
        + LLAMA3_8B.n_layers * eff.layer_overhead_s
        + eff.step_overhead_s
    )
    assert LLAMA3_8B.params_total == 8_030_261_248
    assert r.tpot_s == pytest.approx(expected, rel=0.10)
    assert r.tpot_s >= expected  # the KV read only adds


def test_prefill_flops_against_2n_plus_attention() -> None:
    """Prefill FLOPs ≈ ``2·N`` per prompt token + ``2·L·s²·h`` causal attention (MODELING.md). chipfleet
    runs the head only for the last token, so 2·N over-counts by the embedding and head, 2·2·V·h·s
    ≈ 3 % of Llama-3-70B's total: tolerance 4 %, and the exact decomposition at 1e-9."""
    m, s = LLAMA3_70B, 2048
    cfg = ServingConfig(model=m, batch=1, input_tokens=s, output_tokens=1, tp=8)
    p = prefill_time(m, H100_LIKE, 8, 1, s, cfg)
    peak = H100_LIKE.peak_flops_per_s[Precision.BF16]
    flops = p.compute_s * peak * H100_LIKE.eff.gemm_fraction(s) * 8  # all chips together
    h, L, V = m.hidden_size, m.n_layers, m.vocab_size
    exact = s * 2 * L * m.params_per_layer_active + 2 * L * s * s * h + 2 * V * h
    assert flops == pytest.approx(exact, rel=1e-9)
    assert flops == pytest.approx(2 * m.params_total * s + 2 * L * s * s * h, rel=0.04)


# ===================================================================== monotonicity
@given(
    batch=st.integers(min_value=1, max_value=256),
    context=st.integers(min_value=1, max_value=8192),
    tp=st.sampled_from([1, 2, 4, 8]),
    factor=st.floats(min_value=1.0, max_value=10.0),
    moe=st.booleans(),
)
@settings(max_examples=50, deadline=None)
def test_more_memory_bandwidth_never_slows_decode(batch: int, context: int, tp: int, factor: float, moe: bool) -> None:
    m = MIXTRAL if moe else LLAMA3_70B
    cfg = ServingConfig(model=m, batch=batch, tp=tp)
    base = decode_step_time(m, H100_LIKE, tp, batch, context, cfg).time_s
    faster = decode_step_time(m, scaled(H100_LIKE, memory_bw=factor), tp, batch, context, cfg).time_s
    assert faster <= base * (1 + 1e-12)


@given(
    batch=st.integers(min_value=1, max_value=255),
    context=st.integers(min_value=1, max_value=8192),
    tp=st.sampled_from([1, 2, 4, 8]),
    moe=st.booleans(),
)
@settings(max_examples=50, deadline=None)
def test_tpot_non_decreasing_in_batch(batch: int, context: int, tp: int, moe: bool) -> None:
    """More sequences per decode step means more FLOPs, more KV read and larger all-reduces: never faster."""
    m = MIXTRAL if moe else LLAMA3_70B
    cfg = ServingConfig(model=m, batch=batch, tp=tp)
    t1 = decode_step_time(m, H100_LIKE, tp, batch, context, cfg).time_s
    t2 = decode_step_time(m, H100_LIKE, tp, batch + 1, context, cfg).time_s
    assert t2 >= t1 * (1 - 1e-12)


@given(
    batch=st.integers(min_value=1, max_value=63),
    input_tokens=st.sampled_from([128, 512, 2048]),
    output_tokens=st.sampled_from([16, 128, 512]),
    moe=st.booleans(),
)
@settings(max_examples=50, deadline=None)
def test_throughput_per_replica_non_decreasing_in_batch(
    batch: int, input_tokens: int, output_tokens: int, moe: bool
) -> None:
    """Static batching at fixed tp: every phase time is a max/sum of affine functions of the batch with
    non-negative intercepts, so time ÷ batch never rises and tokens/s per replica never falls."""
    m = MIXTRAL if moe else LLAMA3_8B
    tp = 8 if moe else 1

    def tput(b: int) -> float:
        cfg = ServingConfig(model=m, batch=b, input_tokens=input_tokens, output_tokens=output_tokens, tp=tp)
        return estimate_inference(cfg, H100_LIKE).output_tokens_per_s_per_replica

    assert tput(batch + 1) >= tput(batch) * (1 - 1e-12)


@given(
    model=st.sampled_from([LLAMA3_8B, LLAMA3_70B, MIXTRAL]),
    tp=st.sampled_from([1, 2, 4, 8]),
    input_tokens=st.integers(min_value=1, max_value=8192),
    output_tokens=st.integers(min_value=1, max_value=4096),
    precision=st.sampled_from([Precision.BF16, Precision.FP8]),
)
@settings(max_examples=50, deadline=None)
def test_max_batch_fits_and_one_more_does_not(
    model: ModelArch, tp: int, input_tokens: int, output_tokens: int, precision: Precision
) -> None:
    """max_batch (weights + full-context KV + prefill workspace per sequence) is exact: it fits, +1 does not."""
    cfg = ServingConfig(
        model=model,
        batch=1,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        tp=tp,
        weight_precision=precision,
    )
    mb = max_batch(cfg.model, cfg, H100_LIKE, tp)
    if mb >= 1:
        assert inference_memory(cfg.model, replace(cfg, batch=mb), H100_LIKE, tp).fits
    if mb < MAX_SERVING_BATCH:
        assert not inference_memory(cfg.model, replace(cfg, batch=mb + 1), H100_LIKE, tp).fits


def test_max_batch_stops_at_the_largest_batch_a_config_takes() -> None:
    """Mixtral fp8 at tp=8 with 1-token prompts and answers fits 1.38M sequences: the report stops at the cap."""
    cfg = ServingConfig(model=MIXTRAL, batch=1, input_tokens=1, output_tokens=1, tp=8, weight_precision=Precision.FP8)
    mb = max_batch(cfg.model, cfg, H100_LIKE, 8)
    assert mb == MAX_SERVING_BATCH
    assert inference_memory(cfg.model, replace(cfg, batch=mb), H100_LIKE, 8).fits


def test_max_batch_reported_by_estimate() -> None:
    cfg = ServingConfig(model=LLAMA3_70B, batch=8, input_tokens=2048, output_tokens=512, tp=8)
    r = estimate_inference(cfg, H100_LIKE)
    assert r.max_batch == max_batch(LLAMA3_70B, cfg, H100_LIKE, 8)
    assert r.max_batch >= 8
    assert r.replicas_per_instance == 1
    assert r.output_tokens_per_s == pytest.approx(r.output_tokens_per_s_per_replica, rel=EXACT)


def test_replicas_multiply_throughput() -> None:
    cfg = ServingConfig(model=LLAMA3_8B, batch=4, input_tokens=512, output_tokens=128, tp=2)
    r = estimate_inference(cfg, H100_LIKE)
    assert r.replicas_per_instance == 4
    assert r.output_tokens_per_s == pytest.approx(4 * r.output_tokens_per_s_per_replica, rel=EXACT)
    # batch·output over TTFT + (output − 1)·TPOT (estimate_inference docstring)
    assert r.output_tokens_per_s_per_replica == pytest.approx(4 * 128 / (r.ttft_s + 127 * r.tpot_s), rel=EXACT)


# ===================================================================== fit errors and tp mapping
def test_405b_bf16_does_not_fit_one_8x80gb_instance() -> None:
    """Llama-3.1-405B bf16 weights = 2 × 405.85e9 = 811.7 GB > 8 × 76 GB usable: no tp fits. The
    suggestion names a precision (fp8 halves the weights to 50.7 GB/chip) or a larger instance."""
    cfg = ServingConfig(model=LLAMA31_405B, batch=1, input_tokens=1024, output_tokens=256)
    with pytest.raises(DoesNotFitError) as err:
        estimate_inference(cfg, H100_LIKE)
    e = err.value
    assert e.needed_bytes > e.available_bytes
    assert e.needed_bytes == pytest.approx(2 * LLAMA31_405B.params_total / 8, rel=0.01)
    assert "precision" in e.suggestion or "instance" in e.suggestion
    assert "use weight_precision=fp8" in e.suggestion and e.field == "weight_precision"
    assert "llama-3.1-405b" in str(e)
    # following the advice works
    r = estimate_inference(replace(cfg, weight_precision=Precision.FP8), H100_LIKE)
    assert r.tp == 8 and r.memory.fits


def test_explicit_tp_that_does_not_fit_names_a_fix() -> None:
    cfg = ServingConfig(model=LLAMA3_70B, batch=1, tp=1)
    with pytest.raises(DoesNotFitError) as err:
        estimate_inference(cfg, H100_LIKE)
    assert "tp=2" in err.value.suggestion and err.value.field == "tp"  # 141 GB / 2 = 70.5 GB ≤ 76 GB


def test_tp_in_neuroncores_maps_to_chips(inf2: Hardware) -> None:
    """Neuron docs count tp in NeuronCores: tp=24 on a 12-chip, 2-core instance (inf2.48xlarge) = 12 chips."""
    cfg = ServingConfig(model=LLAMA3_70B, batch=1, input_tokens=1024, output_tokens=128, tp=24)
    r = estimate_inference(cfg, inf2)
    assert r.tp == 12
    assert r.replicas_per_instance == 1
    assert any("NeuronCores" in a and "12 chips" in a for a in r.assumptions)
    # 24 NeuronCore ranks: 64 query heads padded to 72 (3 per rank), 8 KV heads replicated to 24 (1 per rank);
    # per chip 6 q + 2 kv heads instead of 64/12 + 8/12, each head 2·h·d = 2·8192·128 weights in 80 layers:
    padding = 80 * 2 * 8192 * 128 * ((6 - 64 / 12) + (2 - 8 / 12))
    assert padding == pytest.approx(335_544_320, rel=EXACT)
    assert r.memory.weights_bytes == pytest.approx(2 * (LLAMA3_70B.params_total / 12 + padding), rel=EXACT)


def test_tp_beyond_chips_and_cores_is_rejected(inf2: Hardware) -> None:
    with pytest.raises(ConfigError, match="exceeds the 12 chips"):
        estimate_inference(ServingConfig(model=LLAMA3_8B, tp=25), inf2)
    with pytest.raises(ConfigError, match="exceeds the 8 chips"):
        estimate_inference(ServingConfig(model=LLAMA3_8B, tp=16), H100_LIKE)  # one core per GPU


def test_tp_must_divide_instance_chips(inf2: Hardware) -> None:
    # tp=16 cores → 8 chips, which does not divide 12
    with pytest.raises(ConfigError, match="must divide the 12 chips"):
        estimate_inference(ServingConfig(model=LLAMA3_8B, tp=16), inf2)


# ===================================================================== head padding (NxD Inference GQA sharding)
@pytest.mark.parametrize(
    ("model", "tp_chips", "q_rank", "kv_rank"),
    [
        # NxD Inference gqa.py: q heads padded to a multiple of the ranks (NeuronCores, 2 per chip)
        (LLAMA3_70B, 12, 3, 1),  # 24 ranks: 64 → 72 q; 24 % 8 == 0 → KV replicated to 24 (REPLICATE_TO_TP_DEGREE)
        (LLAMA3_70B, 6, 6, 6),  # 12 ranks: 64 → 72 q; 12 % 8 != 0 → CONVERT_TO_MHA, KV = padded q = 72
        (LLAMA3_70B, 4, 8, 1),  # 8 ranks divide everything: no padding, 8 KV heads split one per rank
        (MIXTRAL, 6, 3, 3),  # 12 ranks: 32 → 36 q, CONVERT_TO_MHA
        (LLAMA3_8B, 1, 16, 4),  # 2 ranks on one chip: even split
    ],
)
def test_neuron_head_layout_follows_nxd_inference(
    inf2: Hardware, model: ModelArch, tp_chips: int, q_rank: int, kv_rank: int
) -> None:
    lay = head_layout(model, tp_chips, inf2)
    assert lay.ranks == 2 * tp_chips
    assert (lay.q_heads_per_rank, lay.kv_heads_per_rank) == (q_rank, kv_rank)
    assert lay.q_heads_per_rank * lay.ranks >= model.n_heads
    assert lay.kv_heads_per_rank * lay.ranks >= model.n_kv_heads


def test_gpu_head_layout_is_unchanged() -> None:
    """Without padding (vLLM / TRT-LLM) a rank is a chip and KV heads replicate only past a_kv."""
    lay = head_layout(LLAMA3_70B, 8, H100_LIKE)
    assert (lay.ranks, lay.q_heads_per_rank, lay.kv_heads_per_rank, lay.padded) == (8, 8, 1, False)
    assert valid_tp_degrees(LLAMA3_70B, H100_LIKE) == [1, 2, 4, 8]
    with pytest.raises(ConfigError, match="does not divide the 40 attention heads"):
        resolve_tp(
            get_model("llama-2-13b"),
            ServingConfig(model=get_model("llama-2-13b"), tp=3),
            replace(H100_LIKE, chips_per_instance=6),
        )


@pytest.mark.parametrize("model", [LLAMA3_70B, MIXTRAL], ids=["llama-3-70b", "mixtral-8x7b"])
@pytest.mark.parametrize("chips", [12, 6], ids=["inf2.48xlarge-like", "inf2.24xlarge-like"])
def test_70b_and_moe_are_served_on_inferentia_with_auto_tp(inf2: Hardware, model: ModelArch, chips: int) -> None:
    """Issue 10: tp had to divide the heads, so 12- and 6-chip Inferentia2 instances were never tried for
    Llama-3-70B (64 heads) or Mixtral on inf2.24xlarge, and the error contradicted itself. Every divisor of
    the chips is a candidate on Neuron now, and the padding is paid for."""
    hw = replace(inf2, chips_per_instance=chips)
    assert valid_tp_degrees(model, hw) == [t for t in range(1, chips + 1) if chips % t == 0]
    r = estimate_inference(ServingConfig(model=model, batch=1, input_tokens=1024, output_tokens=256), hw)
    assert r.memory.fits and r.output_tokens_per_s > 0
    lay = head_layout(model, r.tp, hw)
    # the padding is costed: weights above an even split when heads are padded or replicated
    even = 2 * model.params_total / r.tp
    assert r.memory.weights_bytes >= even
    if lay.padded:
        assert r.memory.weights_bytes > even
        assert any("padded" in a for a in r.assumptions)


def test_padding_costs_kv_flops_and_time(inf2: Hardware) -> None:
    """Padded heads cost KV cache, attention FLOPs and decode bytes versus a hypothetical even split."""
    cfg = ServingConfig(model=LLAMA3_70B, batch=8, input_tokens=2048, output_tokens=128, tp=6)
    even_hw = replace(inf2, pads_attention_heads=False, chips_per_instance=6)
    padded_hw = replace(inf2, chips_per_instance=6)
    # an even split would store ⌈8/6⌉ = 2 KV heads per chip; CONVERT_TO_MHA stores 72/6 = 12
    assert kv_bytes_per_token_per_chip(LLAMA3_70B, 6, Precision.BF16, padded_hw) == 2 * 80 * 12 * 128 * 2
    assert kv_bytes_per_token_per_chip(LLAMA3_70B, 6, Precision.BF16, padded_hw) > kv_bytes_per_token_per_chip(
        LLAMA3_70B, 6, Precision.BF16, even_hw
    )
    padded = decode_step_time(LLAMA3_70B, padded_hw, 6, 8, 2048.0, cfg)
    even = decode_step_time(LLAMA3_70B, even_hw, 6, 8, 2048.0, cfg)
    assert padded.memory_s > even.memory_s and padded.compute_s > even.compute_s
    pre_p = prefill_time(LLAMA3_70B, padded_hw, 6, 8, 2048, cfg)
    pre_e = prefill_time(LLAMA3_70B, even_hw, 6, 8, 2048, cfg)
    assert pre_p.compute_s > pre_e.compute_s


@pytest.mark.parametrize("chips", [12, 6, 8])
@pytest.mark.parametrize("batch", [1, 64, 4096])
def test_does_not_fit_advice_is_checked_to_fit(inf2: Hardware, chips: int, batch: int) -> None:
    """The suggestion names a batch and tp that fit (it said "batch ≤ 216 fits with tp=12" for a tp that
    was never allowed) or a precision whose weights fit; never a number the memory model rejects."""
    hw = replace(inf2, chips_per_instance=chips)
    for model in (LLAMA3_70B, LLAMA31_405B, MIXTRAL):
        cfg = ServingConfig(model=model, batch=batch, input_tokens=8192, output_tokens=1024)
        try:
            estimate_inference(cfg, hw)
        except DoesNotFitError as e:
            hint = e.suggestion
            assert "tp=" in str(e)
            if hint.startswith("batch ≤ "):
                n = int(hint.split("≤ ")[1].split()[0])
                tp = int(hint.split("tp=")[1])
                assert inference_memory(model, replace(cfg, batch=n), hw, tp).fits
                assert tp in valid_tp_degrees(model, hw)
                assert e.field == "batch"
            elif "weight_precision=" in hint:
                p = Precision(hint.split("weight_precision=")[1].split()[0])
                assert inference_memory(model, replace(cfg, batch=1, weight_precision=p), hw, chips).fits
                assert e.field == "weight_precision"
            else:
                assert hint.startswith("use an instance with more memory") and e.field is None
            assert "--" not in str(e)  # the library names ServingConfig fields, not CLI flags
