"""The iteration roofline over arrays is the scalar one, element by element."""

from __future__ import annotations

import numpy as np
import pytest

from chipfleet.catalog import Catalog, Precision
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.iteration import IterationModel
from chipfleet.perf.kernels import OVERLAP_EXPONENT, HostDispatch, overlapped_s
from chipfleet.workloads import get_model


@pytest.mark.parametrize(
    ("model_name", "instance", "tp", "precision"),
    [
        ("llama-3-8b", "g6e.xlarge", 1, Precision.BF16),
        ("llama-3-70b", "p5.48xlarge", 4, Precision.FP8),
        ("mixtral-8x7b", "p4de.24xlarge", 8, Precision.BF16),
    ],
)
def test_times_matches_time(cat: Catalog, model_name: str, instance: str, tp: int, precision: Precision) -> None:
    it = IterationModel(get_model(model_name), hardware_for(cat, instance), tp, precision)
    rng = np.random.default_rng(1)
    decode = rng.integers(0, 200, 50).astype(float)
    prefill = rng.integers(0, 6000, 50).astype(float)
    prefill[:5] = 0.0  # decode-only iterations
    ctx = decode * rng.integers(10, 4000, 50).astype(float)
    keys = prefill * rng.integers(1, 3000, 50).astype(float)
    finishing = rng.integers(0, 4, 50).astype(float)
    t, busy = it.times(decode, ctx, prefill, keys, finishing)
    for i in range(50):
        ts, bs = it.time(int(decode[i]), ctx[i], int(prefill[i]), keys[i], 0.0, int(finishing[i]))
        assert t[i] == pytest.approx(ts, rel=1e-12) and busy[i] == pytest.approx(bs, rel=1e-12)


def test_tensor_parallel_without_link_bandwidth_is_a_clear_error(cat: Catalog) -> None:
    hw = hardware_for(cat, "tpu-v4-8")
    assert hw.intra_link_bytes_per_s == 0  # the catalog has no ICI figure for this type
    with pytest.raises(ConfigError, match="no chip-to-chip bandwidth"):
        IterationModel(get_model("llama-3-8b"), hw, 2, Precision.BF16)
    IterationModel(get_model("llama-3-8b"), hw, 1, Precision.BF16)  # one chip needs no link


EAGER = HostDispatch(layer_s=400e-6, sequence_s=300e-6, prefill_s=20e-3)


def test_no_host_dispatch_is_the_roofline(cat: Catalog) -> None:
    hw = hardware_for(cat, "p4de.24xlarge")
    model = get_model("llama-2-70b")
    bare = IterationModel(model, hw, 8, Precision.FP16)
    none = IterationModel(model, hw, 8, Precision.FP16, host=None)
    assert bare.time(16, 16 * 600.0, 512, 512 * 256.0, 0.0, 1) == none.time(16, 16 * 600.0, 512, 512 * 256.0, 0.0, 1)


@pytest.mark.parametrize(("decode", "prefill", "finishing"), [(1, 0, 0), (32, 0, 0), (0, 4096, 1), (8, 512, 1)])
def test_host_dispatch_overlaps_the_device_work(cat: Catalog, decode: int, prefill: int, finishing: int) -> None:
    hw = hardware_for(cat, "p4de.24xlarge")
    model = get_model("llama-2-70b")
    bare = IterationModel(model, hw, 8, Precision.FP16)
    eager = IterationModel(model, hw, 8, Precision.FP16, host=EAGER)
    args = (decode, decode * 700.0, prefill, prefill * prefill / 2.0, 0.0, finishing)
    (t0, busy0), (t1, busy1) = bare.time(*args), eager.time(*args)
    assert busy1 == busy0  # the device's work is the same
    host = EAGER.time_s(model.n_layers, decode + finishing, prefill > 0)
    rest = t0 - busy0  # comm and overhead add as before
    assert max(busy0, host) + rest < t1 < busy0 + host + rest
    assert t1 - rest == pytest.approx(overlapped_s(busy0, host))


def test_times_and_decode_block_match_time_with_host_dispatch(cat: Catalog) -> None:
    it = IterationModel(get_model("llama-2-70b"), hardware_for(cat, "p5.48xlarge"), 4, Precision.FP16, host=EAGER)
    rng = np.random.default_rng(2)
    decode = rng.integers(0, 64, 40).astype(float)
    prefill = rng.integers(0, 4000, 40).astype(float)
    prefill[:5] = 0.0
    decode[5:8] = 0.0
    ctx = decode * rng.integers(10, 2000, 40).astype(float)
    keys = prefill * rng.integers(1, 2000, 40).astype(float)
    finishing = rng.integers(0, 3, 40).astype(float)
    t, busy = it.times(decode, ctx, prefill, keys, finishing)
    for i in range(40):
        ts, bs = it.time(int(decode[i]), ctx[i], int(prefill[i]), keys[i], 0.0, int(finishing[i]))
        assert t[i] == pytest.approx(ts, rel=1e-12) and busy[i] == pytest.approx(bs, rel=1e-12)
    block, block_busy = it.decode_block(16, 16 * 300.0, 5)
    for k in range(5):
        ts, bs = it.time(16, 16 * 300.0 + 16.0 * k, 0, 0.0, 0.0, 0)  # the cache grows by n a step
        assert block[k] == pytest.approx(ts, rel=1e-12) and block_busy[k] == pytest.approx(bs, rel=1e-12)


def test_overlap_is_a_smooth_maximum() -> None:
    assert overlapped_s(3.0, 4.0, 2.0) == pytest.approx(5.0)
    assert overlapped_s(1.0, 1.0) == pytest.approx(2.0 ** (1.0 / OVERLAP_EXPONENT))
    assert overlapped_s(0.0, 0.7) == pytest.approx(0.7) and overlapped_s(0.7, 0.0) == pytest.approx(0.7)
    assert overlapped_s(1.0, 0.5, 60.0) == pytest.approx(1.0, rel=1e-9)  # large exponent: the larger term
    arr = overlapped_s(np.array([1.0, 2.0]), 2.0)
    assert arr.shape == (2,) and arr[1] == pytest.approx(2.0 * 2.0 ** (1.0 / OVERLAP_EXPONENT))


def test_engine_overhead_adds_to_every_form_of_the_iteration(cat: Catalog) -> None:
    """An engine's ``iteration_overhead_s + per_seq_overhead_s·sequences`` adds to the iteration time (scalar,
    arrays and decode blocks alike) and not to the busy time; an engine without overheads changes nothing."""
    from dataclasses import replace

    from chipfleet.perf.engines import engine_profile

    model, hw = get_model("llama-3-8b"), hardware_for(cat, "g6e.xlarge")
    engine = replace(engine_profile("vllm"), iteration_overhead_s=1e-3, per_seq_overhead_s=2e-5)
    plain = IterationModel(model, hw, 1, Precision.BF16)
    eng = IterationModel(model, hw, 1, Precision.BF16, engine=engine)
    t0, b0 = plain.time(16, 16 * 500.0, 256, 256 * 128.0, 0.0, 1)
    t1, b1 = eng.time(16, 16 * 500.0, 256, 256 * 128.0, 0.0, 1)
    assert t1 - t0 == pytest.approx(1e-3 + 17 * 2e-5, rel=1e-9) and b1 == b0
    d, c = np.array([4.0, 8.0]), np.array([2000.0, 4000.0])
    z = np.zeros(2)
    arr0, _ = plain.times(d, c, z, z, z)
    arr1, _ = eng.times(d, c, z, z, z)
    assert arr1 - arr0 == pytest.approx([1e-3 + 4 * 2e-5, 1e-3 + 8 * 2e-5], rel=1e-9)
    blk0, _ = plain.decode_block(8, 500.0, 3)
    blk1, _ = eng.decode_block(8, 500.0, 3)
    assert blk1 - blk0 == pytest.approx(np.full(3, 1e-3 + 8 * 2e-5), rel=1e-9)
    assert IterationModel(model, hw, 1, Precision.BF16, engine=engine_profile("vllm")).time(
        16, 8000.0, 0, 0.0, 0.0, 0
    ) == plain.time(16, 8000.0, 0, 0.0, 0.0, 0)


@pytest.mark.parametrize(("ep", "dp_attention"), [(8, False), (8, True), (2, True), (4, False)])
def test_expert_and_attention_parallel_decode_matches_the_performance_model(
    cat: Catalog, ep: int, dp_attention: bool
) -> None:
    """With ep / dp_attention the folded iteration is still the performance model's decode step, term for term
    (weights per chip with experts sharded, KV split by sequence, all-to-all or gather/scatter comm)."""
    from chipfleet.perf.inference import ServingConfig, decode_step_time

    model, hw = get_model("mixtral-8x7b"), hardware_for(cat, "p5.48xlarge")
    it = IterationModel(model, hw, 8, Precision.BF16, ep=ep, dp_attention=dp_attention)
    cfg = ServingConfig(model=model, batch=64, tp=8, ep=ep, dp_attention=dp_attention)
    for batch, ctx in ((1, 100.0), (64, 2000.0), (512, 8000.0)):
        ref = decode_step_time(model, hw, 8, batch, ctx, cfg)
        t, busy = it.time(batch, batch * ctx, 0, 0.0, 0.0, 0)
        assert t == pytest.approx(ref.time_s, rel=1e-9)
        assert busy == pytest.approx(max(ref.compute_s, ref.memory_s), rel=1e-9)


@pytest.mark.parametrize(("ep", "dp_attention"), [(8, True), (8, False)])
def test_mla_decode_matches_the_performance_model(cat: Catalog, ep: int, dp_attention: bool) -> None:
    """DeepSeek (MLA, absorbed decode attention) with experts over every chip: the folded iteration, the array
    form and the decode block are the performance model's decode step at long contexts and large batches."""
    from chipfleet.perf.inference import ServingConfig, decode_step_time

    model, hw = get_model("deepseek-v3"), hardware_for(cat, "p6-b200.48xlarge")
    it = IterationModel(model, hw, 8, Precision.FP8, ep=ep, dp_attention=dp_attention)
    cfg = ServingConfig(model=model, batch=64, tp=8, ep=ep, dp_attention=dp_attention, weight_precision=Precision.FP8)
    for batch, ctx in ((1, 100.0), (256, 2000.0), (2048, 8000.0)):
        ref = decode_step_time(model, hw, 8, batch, ctx, cfg)
        t, busy = it.time(batch, batch * ctx, 0, 0.0, 0.0, 0)
        assert t == pytest.approx(ref.time_s, rel=1e-9)
        assert busy == pytest.approx(max(ref.compute_s, ref.memory_s), rel=1e-9)
        arr, _ = it.times(*(np.array([v]) for v in (float(batch), batch * ctx, 0.0, 0.0, 0.0)))
        assert arr[0] == pytest.approx(t, rel=1e-12)
        blk, _ = it.decode_block(batch, batch * ctx, 1)
        assert blk[0] == pytest.approx(t, rel=1e-12)


@pytest.mark.parametrize(
    ("model_name", "instance", "tp", "batch", "k", "tau", "draft_layers"),
    [
        ("llama-3-8b", "p5.48xlarge", 1, 1, 3, 3.22, 1.0),
        ("llama-3-70b", "p5.48xlarge", 4, 32, 1, 1.875, 1.0),
        ("mixtral-8x7b", "p5.48xlarge", 8, 64, 4, 2.5, 2.0),
    ],
)
def test_speculative_iteration_is_the_performance_models_step(
    cat: Catalog, model_name: str, instance: str, tp: int, batch: int, k: int, tau: float, draft_layers: float
) -> None:
    """With ``spec`` a decode-only iteration divided by ``τ`` is perf.inference's speculative TPOT: k draft passes
    of ``draft_layers/L`` of a decode step and one verification pass of ``k + 1`` tokens per sequence."""
    from chipfleet.perf.engines import SpecDecode
    from chipfleet.perf.inference import ServingConfig, serving_phases

    model, hw = get_model(model_name), hardware_for(cat, instance)
    spec = SpecDecode(acceptance_length=tau, draft_tokens=k, draft_layers=draft_layers, method="eagle3")
    inp, out = 1000, 200
    cfg = ServingConfig(model=model, batch=batch, input_tokens=inp, output_tokens=out, tp=tp, spec=spec)
    ref = serving_phases(cfg, hw, tp)[1]
    it = IterationModel(model, hw, tp, cfg.weight_precision, spec=spec)
    assert it.tokens_per_step == tau and it.queries_per_sequence == k + 1
    context = inp + out / 2
    t, busy = it.time(batch, batch * context, 0, 0.0, 0.0, 0)
    assert t / it.tokens_per_step == pytest.approx(ref.time_s, rel=1e-9)
    plain = serving_phases(ServingConfig(model=model, batch=batch, input_tokens=inp, output_tokens=out, tp=tp), hw, tp)
    plain_it = IterationModel(model, hw, tp, cfg.weight_precision)
    assert plain_it.time(batch, batch * context, 0, 0.0, 0.0, 0)[0] == pytest.approx(plain[1].time_s, rel=1e-9)
    assert t > plain[1].time_s  # an iteration costs more than a plain one: k + 1 query tokens and k draft passes
    # arrays and decode blocks agree with the scalar form
    arr, arr_busy = it.times(np.array([float(batch), 0.0]), np.array([batch * context, 0.0]), np.array([0.0, 512.0]),
                             np.array([0.0, 512.0 * 256.0]), np.array([0.0, 1.0]))  # fmt: skip
    assert arr[0] == pytest.approx(t, rel=1e-12) and arr_busy[0] == pytest.approx(busy, rel=1e-12)
    assert arr[1] == pytest.approx(it.time(0, 0.0, 512, 512 * 256.0, 0.0, 1)[0], rel=1e-12)
    block, block_busy = it.decode_block(batch, batch * context, 3)
    for j in range(3):  # the cache grows by n·τ an iteration
        ts, bs = it.time(batch, batch * (context + j * tau), 0, 0.0, 0.0, 0)
        assert block[j] == pytest.approx(ts, rel=1e-12) and block_busy[j] == pytest.approx(bs, rel=1e-12)


def test_speculative_mixed_iteration_adds_the_drafts_to_one_verifying_pass(cat: Catalog) -> None:
    """A mixed iteration verifies k + 1 tokens per decoding sequence alongside the prompt chunk in one pass (the
    weights read once), plus k draft passes over the decoding sequences; prompt-only iterations are unchanged."""
    from chipfleet.perf.engines import SpecDecode

    model, hw = get_model("llama-3-8b"), hardware_for(cat, "p5.48xlarge")
    spec = SpecDecode(acceptance_length=2.0, draft_tokens=2, draft_layers=1.0)
    plain = IterationModel(model, hw, 1, Precision.BF16)
    it = IterationModel(model, hw, 1, Precision.BF16, spec=spec)
    assert it.time(0, 0.0, 2048, 2048 * 1024.0, 0.0, 1) == plain.time(0, 0.0, 2048, 2048 * 1024.0, 0.0, 1)
    d, ctx = 8, 8 * 1500.0
    mixed, _ = it.time(d, ctx, 512, 512 * 256.0, 0.0, 1)
    draft, _ = plain.time(d, ctx, 0, 0.0, 0.0, 0)
    verify_alone, _ = it.time(d, ctx, 0, 0.0, 0.0, 0)
    assert mixed > verify_alone  # the prompt chunk rides in the verification pass
    share = 1.0 / model.n_layers  # each draft pass: its layer's share of a decode pass and a whole step's fixed time
    fixed = hw.eff.step_overhead_s * (1.0 - share)
    assert mixed == pytest.approx(
        it._pass(3, d, ctx, 512, 512 * 256.0, 0.0, 1)[0] + 2 * (share * draft + fixed), rel=1e-12
    )
    # tau = 1 with one draft token: a pure overhead over the plain step, still one token per iteration
    none = IterationModel(model, hw, 1, Precision.BF16, spec=SpecDecode(acceptance_length=1.0, draft_tokens=1))
    assert none.tokens_per_step == 1.0 and none.time(d, ctx, 0, 0.0, 0.0, 0)[0] > draft
    assert plain.tokens_per_step == 1.0 and plain.queries_per_sequence == 1


def test_kv_room_is_memory_less_weights_draft_and_workspace(cat: Catalog) -> None:
    """One count of the KV cache's room, used by the simulator, the closed-loop model and the disaggregated pools."""
    from chipfleet.exceptions import DoesNotFitError
    from chipfleet.perf.engines import SpecDecode
    from chipfleet.perf.inference import workspace_bytes_per_chip

    model, hw = get_model("llama-3.1-8b"), hardware_for(cat, "p5.48xlarge")
    it = IterationModel(model, hw, 1, Precision.BF16)
    free = hw.usable_memory_bytes - it.weight_bytes - workspace_bytes_per_chip(model, 1, 1, 8192)
    assert it.kv_room_tokens(8192) == int(free // it.kv_bytes)
    mtp = IterationModel(model, hw, 1, Precision.BF16, spec=SpecDecode(acceptance_length=1.8, draft_layers=1.0))
    draft_tokens = model.params_per_layer * Precision.BF16.bytes / it.kv_bytes
    assert it.kv_room_tokens(8192) - mtp.kv_room_tokens(8192) == pytest.approx(draft_tokens, abs=1)
    with pytest.raises(DoesNotFitError, match="no KV-cache room"):
        IterationModel(get_model("llama-3.1-70b"), hw, 1, Precision.BF16).kv_room_tokens(8192)


def test_mla_prefill_attention_is_counted_as_the_workload_model_counts_it(cat: Catalog) -> None:
    """An MLA prompt is prefilled unabsorbed, 2·a·(d_qk + d_v) per key and layer (192 + 128 for DeepSeek-V3),
    as ModelArch.attention_flops_per_token_forward and prefill_time count it; its decode attends the latent."""
    model, hw = get_model("deepseek-v3"), hardware_for(cat, "p5en.48xlarge")
    it = IterationModel(model, hw, 8, Precision.FP8)
    c = 4096
    assert it.attn_coeff * (c * c / 2.0) == pytest.approx(c * model.attention_flops_per_token_forward(c) / 8, rel=1e-9)
    assert it.decode_attn_coeff > it.attn_coeff  # the absorbed latent: 2·r_kv + d_r = 1,088 against 320 per head
    llama = IterationModel(get_model("llama-3.1-8b"), hw, 1, Precision.BF16)
    assert llama.attn_coeff == llama.decode_attn_coeff == 4.0 * 32 * 32 * 128  # 4·L·a·d as before
