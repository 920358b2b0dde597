"""Inference: KV cache, roofline prefill/decode, memory fit and the NeuronCore tp mapping.

Formulas from MODELING.md "Inference" (Pope et al. 2022, "Efficiently Scaling Transformer Inference");
hardware is built by hand in ``_hardware.py``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chipfleet.catalog import Catalog, Precision
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.engines import SpecDecode, engine_profile
from chipfleet.perf.hardware import Hardware
from chipfleet.perf.inference import (
    MAX_SERVING_BATCH,
    ServingConfig,
    decode_attention_flops_per_token,
    decode_step_time,
    estimate_inference,
    group_link,
    head_layout,
    inference_memory,
    kv_bytes_per_token_per_chip,
    layer_comm_s,
    max_batch,
    prefill_chunks,
    prefill_time,
    resolve_tp,
    serving_phases,
    stage_hop_s,
    valid_tp_degrees,
    weight_bytes_per_chip,
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


# ===================================================================== serving parallelism: EP, DP attention, PP
def test_expert_parallelism_over_every_chip_moves_no_bytes() -> None:
    """Mixtral's 8 experts over ep = tp = 8 chips: one whole expert per chip holds the same bytes as 1/8 of
    each expert (tensor-parallel experts)."""
    plain = weight_bytes_per_chip(MIXTRAL, 8, Precision.BF16)
    assert weight_bytes_per_chip(MIXTRAL, 8, Precision.BF16, ep=8) == pytest.approx(plain, rel=EXACT)
    assert weight_bytes_per_chip(MIXTRAL, 8, Precision.BF16, ep=2) == pytest.approx(plain, rel=EXACT)


def test_experts_that_do_not_split_evenly_round_up_per_rank() -> None:
    """6 experts over ep=4 ranks: the busiest rank holds ⌈6/4⌉ = 2 whole experts, split over tp/ep chips."""
    six = MIXTRAL.model_copy(update={"n_experts": 6})
    pe = six.params_mlp_per_expert * six.n_layers
    rest = six.params_total - 6 * pe
    expected = (rest / 8 + 2 * pe * 4 / 8) * Precision.BF16.bytes
    assert weight_bytes_per_chip(six, 8, Precision.BF16, ep=4) == pytest.approx(expected, rel=EXACT)


def test_dp_attention_replicates_attention_and_splits_the_kv_cache_by_sequence() -> None:
    """With data-parallel attention a chip holds all attention weights (A, not A/t) and every KV head of its
    1/t of the sequences (the whole per-token cache ÷ t)."""
    t = 8
    attention = MIXTRAL.n_layers * MIXTRAL.params_attention_per_layer
    dp = weight_bytes_per_chip(MIXTRAL, t, Precision.BF16, ep=t, dp_attention=True)
    tp_only = weight_bytes_per_chip(MIXTRAL, t, Precision.BF16, ep=t)
    assert dp - tp_only == pytest.approx((attention - attention / t) * Precision.BF16.bytes, rel=1e-9)
    whole = MIXTRAL.kv_cache_bytes_per_token(Precision.BF16.bytes)
    kv = kv_bytes_per_token_per_chip(MIXTRAL, t, Precision.BF16, dp_attention=True)
    assert kv == pytest.approx(whole / t, rel=EXACT)
    # Mixtral has 8 KV heads: tensor-parallel attention also keeps one head per chip, the same bytes per token.
    assert kv == pytest.approx(kv_bytes_per_token_per_chip(MIXTRAL, t, Precision.BF16), rel=EXACT)


def test_mla_decode_attends_the_latent_with_the_projections_absorbed() -> None:
    """A decoding MLA query attends each cached latent over all ``a`` heads: ``2·(r_kv + d_r)`` FLOPs for the
    score and ``2·r_kv`` for the latent-weighted sum per key, head and layer (DeepSeek-V3: 2·576 + 2·512), not
    the unabsorbed ``2·(d_qk + d_v)``; other attention keeps ``4·a·d`` per key and layer."""
    ds = get_model("deepseek-v3")
    c = 4096
    per_key_head = 2 * (ds.kv_lora_rank + ds.qk_rope_head_dim) + 2 * ds.kv_lora_rank
    assert per_key_head == 2 * 576 + 2 * 512
    expected = ds.n_layers * ds.n_heads * per_key_head * c
    assert decode_attention_flops_per_token(ds, c) == pytest.approx(expected, rel=EXACT)
    assert decode_attention_flops_per_token(ds, c) > 3 * ds.attention_flops_per_token_forward(c, causal=False)
    llama = LLAMA3_70B
    assert decode_attention_flops_per_token(llama, c) == pytest.approx(
        4 * llama.n_layers * llama.n_heads * llama.head_dim * c, rel=EXACT
    )


def test_mla_decode_step_counts_the_absorbed_attention() -> None:
    """At long contexts and large batches a DeepSeek decode step's compute holds the absorbed attention term:
    the step's compute less the same step at no context is the batch's absorbed attention FLOPs at bf16."""
    ds = get_model("deepseek-v3")
    t, batch, c = 8, 256, 8000.0
    cfg = ServingConfig(model=ds, batch=batch, tp=t, ep=t, dp_attention=True, weight_precision=Precision.FP8)
    long = decode_step_time(ds, H100_LIKE, t, batch, c, cfg)
    short = decode_step_time(ds, H100_LIKE, t, batch, 0.0, cfg)
    eta = H100_LIKE.eff.gemm_fraction(batch)
    attn_s = batch * decode_attention_flops_per_token(ds, c) / t / (H100_LIKE.peak(Precision.BF16) * eta)
    assert long.compute_s - short.compute_s == pytest.approx(attn_s, rel=1e-9)


def test_pipeline_stages_hold_a_share_of_the_weights_and_cache() -> None:
    w1 = weight_bytes_per_chip(LLAMA3_70B, 4, Precision.BF16)
    assert weight_bytes_per_chip(LLAMA3_70B, 4, Precision.BF16, pp=2) == pytest.approx(w1 / 2, rel=1e-9)
    kv1 = kv_bytes_per_token_per_chip(LLAMA3_70B, 4, Precision.BF16)
    assert kv_bytes_per_token_per_chip(LLAMA3_70B, 4, Precision.BF16, pp=2) == kv1 / 2


def test_dp_attention_all_to_all_is_the_alpha_beta_formula() -> None:
    """Each MoE layer dispatches and combines a rank's rows/t tokens × k experts × h bf16: two all-to-alls of
    ``(t−1)/t·S/B + (t−1)·α`` (nccl-tests' definition) over the scale-up link."""
    t, rows = 8, 64
    cfg = ServingConfig(model=MIXTRAL, batch=rows, tp=t, ep=t, dp_attention=True)
    s = rows / t * MIXTRAL.experts_top_k * MIXTRAL.hidden_size * 2.0
    bw = H100_LIKE.intra_link_bytes_per_s * H100_LIKE.eff.collective
    per = (t - 1) / t * s / bw + (t - 1) * H100_LIKE.eff.intra_latency_s
    assert layer_comm_s(MIXTRAL, H100_LIKE, t, cfg, rows) == pytest.approx(MIXTRAL.n_layers * 2 * per, rel=EXACT)


def test_a_group_that_spans_instances_uses_the_scale_out_link() -> None:
    inside, across = group_link(H100_LIKE, 8), group_link(H100_LIKE, 16)
    assert inside.bytes_per_s == H100_LIKE.intra_link_bytes_per_s * H100_LIKE.eff.collective
    assert across.bytes_per_s == H100_LIKE.scaleout_bytes_per_s_per_chip * H100_LIKE.eff.collective
    assert across.latency_s == H100_LIKE.eff.inter_latency_s
    many = MIXTRAL.model_copy(update={"n_experts": 64})  # enough experts for 16 ranks
    cfg = ServingConfig(model=many, batch=64, tp=16, ep=16, dp_attention=True)
    tp, note = resolve_tp(many, cfg, H100_LIKE)
    assert tp == 16 and note is not None and "2 instances" in note
    one = replace(cfg, tp=8, ep=8)
    assert layer_comm_s(many, H100_LIKE, 16, cfg, 64) > layer_comm_s(many, H100_LIKE, 8, one, 64)


def test_expert_and_attention_parallelism_are_for_moe_models() -> None:
    with pytest.raises(ConfigError) as err:
        ServingConfig(model=LLAMA3_70B, ep=2)
    assert err.value.field == "ep"
    with pytest.raises(ConfigError) as err:
        ServingConfig(model=LLAMA3_70B, dp_attention=True)
    assert err.value.field == "dp_attention"
    with pytest.raises(ConfigError) as err:
        ServingConfig(model=MIXTRAL, tp=4, ep=8)
    assert err.value.field == "ep"
    with pytest.raises(ConfigError):  # a dense model's tp group stays inside the instance
        resolve_tp(LLAMA3_70B, ServingConfig(model=LLAMA3_70B, tp=16), H100_LIKE)


@pytest.mark.parametrize("batch", [1, 64])
def test_dp_attention_cuts_communication_at_high_batch(batch: int) -> None:
    """All-to-all of k/t of the tokens per rank instead of two all-reduces of every token per layer: less
    link time (Mixtral, tp = ep = 8), and never slower at the bandwidth term."""
    tp_cfg = ServingConfig(model=MIXTRAL, batch=batch, tp=8, ep=8)
    dp_cfg = replace(tp_cfg, dp_attention=True)
    rows = 1024.0
    assert layer_comm_s(MIXTRAL, H100_LIKE, 8, dp_cfg, rows) < layer_comm_s(MIXTRAL, H100_LIKE, 8, tp_cfg, rows)
    r_tp, r_dp = estimate_inference(tp_cfg, H100_LIKE), estimate_inference(dp_cfg, H100_LIKE)
    assert r_dp.decode.comm_s < r_tp.decode.comm_s
    assert r_dp.memory.weights_bytes > r_tp.memory.weights_bytes  # attention replicated


def test_pipeline_does_not_shorten_one_sequence_and_crossing_instances_costs_a_hop() -> None:
    """A single sequence passes every stage in turn: pp stages of L/pp layers take at least one L-layer pass
    (each stage pays its step overhead); stages on two instances add a scale-out send per hop."""
    base = ServingConfig(model=LLAMA3_70B, batch=1, input_tokens=512, output_tokens=128, tp=4)
    r1 = estimate_inference(base, H100_LIKE)
    r2 = estimate_inference(replace(base, pp=2), H100_LIKE)
    assert r2.tpot_s >= r1.tpot_s
    assert r2.chips_per_replica == 8 and r2.replicas_per_instance == 1
    across = estimate_inference(replace(base, tp=8, pp=2), H100_LIKE)
    inside = estimate_inference(replace(base, tp=4, pp=2), H100_LIKE)
    assert across.replicas_per_instance == 0 and across.chips_per_replica == 16
    hop = stage_hop_s(LLAMA3_70B, H100_LIKE, 8, replace(base, tp=8, pp=2), 1)
    assert hop > stage_hop_s(LLAMA3_70B, H100_LIKE, 4, replace(base, pp=2), 1) > 0
    # the instance's throughput is its share of a replica spread over two instances
    assert across.output_tokens_per_s == pytest.approx(across.output_tokens_per_s_per_replica / 2, rel=EXACT)
    assert inside.output_tokens_per_s == pytest.approx(inside.output_tokens_per_s_per_replica, rel=EXACT)


def test_pipeline_decode_is_pp_passes_of_a_micro_batch_plus_hops() -> None:
    cfg = ServingConfig(model=LLAMA3_70B, batch=64, input_tokens=1024, output_tokens=256, tp=4, pp=2)
    _, decode = serving_phases(cfg, H100_LIKE, 4)
    stage = decode_step_time(LLAMA3_70B, H100_LIKE, 4, 32, 1024 + 128, cfg)
    hop = stage_hop_s(LLAMA3_70B, H100_LIKE, 4, cfg, 32)
    assert decode.time_s == pytest.approx(2 * (stage.time_s + hop), rel=EXACT)


# ===================================================================== speculative decoding / MTP
def test_speculative_tpot_is_draft_plus_verify_per_accepted_token() -> None:
    """TPOT = (k·((draft_layers/L)·T(b) + (1 − draft_layers/L)·T_step) + T_verify(b, k+1 queries)) / τ: each draft
    pass is a forward of its own, paying a whole step's fixed cost ``T_step``."""
    spec = SpecDecode(acceptance_length=2.5, draft_tokens=2)
    cfg = ServingConfig(model=LLAMA3_8B, batch=8, input_tokens=1024, output_tokens=256, tp=1, spec=spec)
    _, decode = serving_phases(cfg, H100_LIKE, 1)
    ctx = 1024 + 128
    one = decode_step_time(LLAMA3_8B, H100_LIKE, 1, 8, ctx, cfg).time_s
    verify = decode_step_time(LLAMA3_8B, H100_LIKE, 1, 8, ctx, cfg, queries=3).time_s
    share = 1 / LLAMA3_8B.n_layers
    draft = one * share + H100_LIKE.eff.step_overhead_s * (1 - share)
    assert decode.time_s == pytest.approx((2 * draft + verify) / 2.5, rel=EXACT)
    assert draft > H100_LIKE.eff.step_overhead_s  # a one-layer draft pass costs at least a step's fixed time


def test_acceptance_speeds_decode_and_a_rejected_draft_slows_it() -> None:
    base = ServingConfig(model=LLAMA3_8B, batch=4, input_tokens=1024, output_tokens=256, tp=1)
    plain = estimate_inference(base, H100_LIKE).tpot_s
    tpots = [
        estimate_inference(replace(base, spec=SpecDecode(acceptance_length=tau)), H100_LIKE).tpot_s
        for tau in (1.0, 1.5, 1.875, 2.0)
    ]
    assert tpots == sorted(tpots, reverse=True)  # more accepted tokens, shorter TPOT
    assert tpots[0] > plain  # nothing accepted: the draft and the wider verify are pure cost
    # memory-bound small batch: verifying 2 tokens costs about one step T, so TPOT falls by close to τ less the
    # draft pass (a step's fixed time T_step at least): plain / TPOT ≈ τ·T / (T + T_step)
    step = H100_LIKE.eff.step_overhead_s
    assert plain / tpots[2] == pytest.approx(1.875 * plain / (plain + step), rel=0.1)
    assert 1.0 < plain / tpots[2] < 1.875


def test_spec_adds_the_draft_layers_to_memory() -> None:
    base = ServingConfig(model=LLAMA3_8B, batch=1, tp=1)
    spec = replace(base, spec=SpecDecode(acceptance_length=1.8, draft_layers=1.0))
    extra = inference_memory(LLAMA3_8B, spec, H100_LIKE, 1).weights_bytes
    extra -= inference_memory(LLAMA3_8B, base, H100_LIKE, 1).weights_bytes
    assert extra == pytest.approx(LLAMA3_8B.params_per_layer * 2.0, rel=EXACT)


# ===================================================================== engines
def test_default_engine_and_layout_is_the_plain_model() -> None:
    cfg = ServingConfig(model=LLAMA3_70B, batch=8, tp=8)
    assert cfg.is_plain and cfg.engine.is_default and cfg.spec is None
    r = estimate_inference(cfg, H100_LIKE)
    assert r.engine == "default" and r.chips_per_replica == 8
    # engine-neutral names change nothing in the result
    assert estimate_inference(replace(cfg, engine=engine_profile("default")), H100_LIKE) == r


def test_engine_overhead_adds_exactly_per_iteration() -> None:
    """An engine's overhead is ``iteration_overhead_s + per_seq_overhead_s·b`` per decode iteration."""
    zero = replace(engine_profile("vllm"), iteration_overhead_s=0.0, per_seq_overhead_s=0.0)
    some = replace(zero, iteration_overhead_s=1e-3, per_seq_overhead_s=1e-5)
    cfg = ServingConfig(model=LLAMA3_8B, batch=32, input_tokens=512, output_tokens=128, tp=1, engine=zero)
    r0 = estimate_inference(cfg, H100_LIKE)
    r1 = estimate_inference(replace(cfg, engine=some), H100_LIKE)
    assert r1.tpot_s - r0.tpot_s == pytest.approx(1e-3 + 32 * 1e-5, rel=1e-9)
    assert r1.decode.overhead_s - r0.decode.overhead_s == pytest.approx(1e-3 + 32 * 1e-5, rel=1e-9)
    assert r1.output_tokens_per_s < r0.output_tokens_per_s


def test_chunked_prefill_splits_the_prompts_by_the_token_budget() -> None:
    """vLLM's 8,192-token budget: 8 × 2,048 prompt tokens run in 2 iterations, each reading the weights again;
    the same FLOPs at fewer rows per GEMM, so TTFT does not fall."""
    vllm = engine_profile("vllm")
    cfg = ServingConfig(model=LLAMA3_8B, batch=8, input_tokens=2048, output_tokens=64, tp=1, engine=vllm)
    assert prefill_chunks(cfg, 8 * 2048) == 2 and prefill_chunks(cfg, 8192) == 1
    assert prefill_chunks(replace(cfg, engine=engine_profile("vllm@0.7.0")), 8 * 2048) == 1
    whole = estimate_inference(replace(cfg, engine=engine_profile("default")), H100_LIKE)
    chunked = estimate_inference(cfg, H100_LIKE)
    assert chunked.ttft_s >= whole.ttft_s
    assert chunked.prefill.memory_s > whole.prefill.memory_s
    assert chunked.tpot_s == whole.tpot_s  # decode is untouched by prefill chunking (vLLM's overheads are 0)


def test_an_engine_refuses_chips_it_does_not_run_on_and_batches_above_its_cap(inf2: Hardware) -> None:
    cfg = ServingConfig(model=LLAMA3_8B, batch=8, tp=1, engine=engine_profile("trtllm"))
    with pytest.raises(ConfigError) as err:
        estimate_inference(cfg, inf2)
    assert err.value.field == "engine" and "nvidia-" in str(err.value)
    assert estimate_inference(replace(cfg, engine=engine_profile("nxdi")), inf2).engine == "nxdi"
    cap = engine_profile("trtllm").max_num_seqs
    assert cap is not None
    with pytest.raises(ConfigError) as err:
        estimate_inference(replace(cfg, batch=cap + 1, input_tokens=16, output_tokens=16), H100_LIKE)
    assert err.value.field == "batch"


def test_a_scale_up_domain_larger_than_the_instance_keeps_the_group_on_its_link() -> None:
    """NVL72-like: 4-chip trays in a 72-chip NVLink domain; a 16-rank group stays on NVLink, 128 ranks leave it."""
    tray = replace(H100_LIKE, chips_per_instance=4, scale_up_chips=72)
    assert group_link(tray, 16).bytes_per_s == tray.intra_link_bytes_per_s * tray.eff.collective
    assert group_link(tray, 128).bytes_per_s == tray.scaleout_bytes_per_s_per_chip * tray.eff.collective


def test_tensor_parallelism_spans_the_instances_of_one_scale_up_domain(cat: Catalog) -> None:
    """Two 4-GPU GB200 instances of one NVL72 rack share NVLink: a tp=8 replica spans them; an 8-GPU H100 box
    (NVL8, the instance itself) caps tp at its 8 chips."""
    from chipfleet.perf.hardware import hardware_for
    from chipfleet.perf.inference import resolve_tp

    model = get_model("llama-3.1-70b")
    gb200 = hardware_for(cat, "p6e-gb200.36xlarge")
    cfg = ServingConfig(model=model, batch=8, tp=8, weight_precision=Precision.FP8)
    tp, note = resolve_tp(model, cfg, gb200)
    assert tp == 8 and note is not None and "scale-up domain" in note
    res = estimate_inference(cfg, gb200)
    assert res.replicas_per_instance == 0  # a share of one replica per instance
    assert res.output_tokens_per_s == pytest.approx(res.output_tokens_per_s_per_replica / 2)
    with pytest.raises(ConfigError, match="one scale-up domain"):
        resolve_tp(model, replace(cfg, tp=16), hardware_for(cat, "p5.48xlarge"))
