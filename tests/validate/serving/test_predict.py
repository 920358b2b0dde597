"""A serving record mapped onto chipfleet and predicted: hardware names, skips, units of each result key."""

from __future__ import annotations

from typing import Any

import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ChipfleetError
from chipfleet.perf.engines import engine_profile
from chipfleet.validate.serving import RecordSkip, ServingCase, map_record, metric_value, parse_records, predict_case
from chipfleet.validate.serving.predict import hw_key, stream_interval

DENSE = {
    "hw": "h100",
    "conc": 16,
    "model": "meta-llama/Llama-3.1-8B-Instruct",
    "framework": "vllm",
    "precision": "bf16",
    "isl": 1024,
    "osl": 256,
    "tp": 1,
    "mean_ttft": 0.05,
    "median_ttft": 0.04,
    "p99_ttft": 0.3,
    "mean_tpot": 0.01,
    "mean_itl": 0.01,
    "mean_e2el": 2.6,
    "tput_per_gpu": 5000.0,
    "output_tput_per_gpu": 1000.0,
}


def _case(cat: Catalog, **change: Any) -> ServingCase | RecordSkip:
    (rec,) = parse_records([{**DENSE, **change}], "test").records
    return map_record(rec, cat)


@pytest.mark.parametrize(
    ("hw", "key"),
    [("h100", "h100"), ("b200-trt", "b200"), ("mi355x-amd_0", "mi355x"), ("tpu-v6e", "tpu-v6e"), ("TRN2", "trn2")],
)
def test_hardware_names_map_onto_catalog_chips(hw: str, key: str) -> None:
    assert hw_key(hw) == key
    assert hw_key("abacus-9000") is None


def test_a_dense_record_maps_onto_an_h100_replica(cat: Catalog) -> None:
    case = _case(cat)
    assert isinstance(case, ServingCase)
    assert (case.instance, case.tp, case.chips, case.model.name) == ("p5.48xlarge", 1, 1, "llama-3.1-8b")
    # A record without InferenceX's signature keeps isl/osl as its means, and its engine's batching defaults.
    assert (case.load.clients, case.load.input_tokens, case.load.output_tokens) == (16, 1024, 256)
    vllm = engine_profile("vllm")
    assert case.limits.max_seqs == (vllm.max_num_seqs or 256)
    assert case.limits.max_batch_tokens == (vllm.max_num_batched_tokens or 8192)
    assert case.iteration.engine is None or case.iteration.engine.name == "vllm"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"disagg": True}, "disaggregated"),
        ({"spec_decoding": "mtp"}, "speculative"),
        ({"model": "acme/unknown-model-7b"}, "zoo"),
        ({"hw": "abacus-9000"}, "not known"),
        ({"precision": "fp3"}, "precision"),
        ({"instance": "no-such.48xlarge", "hw": "abacus-9000"}, "not in the catalog"),
    ],
)
def test_records_it_cannot_express_are_skipped_with_a_reason(cat: Catalog, change: dict[str, Any], reason: str) -> None:
    case = _case(cat, **change)
    assert isinstance(case, RecordSkip) and reason in case.reason and case.metric is None


def test_each_result_key_in_its_own_unit(cat: Catalog) -> None:
    case = _case(cat, dp=2, conc=32, chips=2)
    assert isinstance(case, ServingCase)
    assert case.load.clients == 16  # two independent replicas share the clients
    res = predict_case(case)
    assert metric_value("mean_ttft", case, res) == res.ttft_mean_s
    assert metric_value("mean_ttft_ms", case, res) == pytest.approx(1000 * res.ttft_mean_s)
    assert metric_value("median_ttft", case, res) == res.ttft_steady_s
    n_out = case.load.output_tokens - 1
    assert metric_value("mean_e2el", case, res) == pytest.approx(res.ttft_mean_s + n_out * res.tpot_mean_s)
    # Per-accelerator throughputs: both replicas' requests over the record's chips.
    out = metric_value("output_tput_per_gpu", case, res)
    assert out == pytest.approx(2 * res.throughput_rps * case.load.output_tokens / 2)
    assert metric_value("output_throughput", case, res) == pytest.approx(2 * res.throughput_rps * 256)
    assert metric_value("mean_intvty", case, res) == pytest.approx(1 / res.tpot_mean_s)
    assert metric_value("median_itl", case, res) == res.decode_iteration_s < res.tpot_mean_s
    for tail in ("p99_ttft", "std_tpot"):
        assert metric_value(tail, case, res) is None


def test_itl_is_not_predicted_where_the_engine_streams_chunks(cat: Catalog) -> None:
    chunky = _case(cat, mean_itl=0.15)  # 15× the record's own TPOT: ITL measures chunks of tokens
    plain = _case(cat)
    assert isinstance(chunky, ServingCase) and isinstance(plain, ServingCase)
    assert metric_value("mean_itl", chunky, predict_case(chunky)) is None
    assert metric_value("mean_itl", plain, predict_case(plain)) is not None


def test_inferencex_records_run_as_benchmarked(cat: Catalog) -> None:
    case = _case(cat, image="vllm/vllm-openai:v0.11.2", conc=64)
    assert isinstance(case, ServingCase)
    assert case.limits.max_seqs == 64  # --max-num-seqs $CONC
    assert case.load.requests_per_client == 10  # --num-prompts $((CONC * 10))
    assert case.load.input_tokens == pytest.approx(0.9 * 1024)
    given = _case(cat, max_num_seqs=8, num_prompts=160)
    assert isinstance(given, ServingCase)
    assert given.limits.max_seqs == 8 and given.load.requests_per_client == 10


def test_instances_named_loosely_fall_back_to_the_hardware(cat: Catalog) -> None:
    tpu = _case(cat, hw="tpu-v6e", instance="v6e-8 (TPU VM, topology 2x4)", tp=8)
    assert isinstance(tpu, ServingCase) and tpu.instance == "tpu-v6e-8"
    gpu = _case(cat, instance="2 x H100 80G (a benchmark system)")
    assert isinstance(gpu, ServingCase) and gpu.instance == "p5.48xlarge"
    assert any("not in the catalog" in a for a in gpu.assumptions)


def test_open_loop_records_are_predicted_at_their_rate_and_refused_past_capacity(cat: Catalog) -> None:
    from chipfleet.validate.serving import OpenLoopResult

    case = _case(cat, conc=None, request_rate=4.0, dp=2, chips=2)
    assert isinstance(case, ServingCase)
    res = predict_case(case)
    assert isinstance(res, OpenLoopResult) and res.throughput_rps == 2.0  # each of 2 replicas gets half
    assert metric_value("output_throughput", case, res) == pytest.approx(4.0 * 256)
    over = _case(cat, conc=None, request_rate=1e5)
    assert isinstance(over, ServingCase)
    with pytest.raises(ChipfleetError, match="beyond the replica's capacity"):
        predict_case(over)


def test_the_engine_and_its_version_come_from_the_record(cat: Catalog) -> None:
    case = _case(cat, framework="trt", image="nvcr.io/nvidia/tensorrt-llm/release:1.1.0rc2")
    assert isinstance(case, ServingCase)
    assert case.record.engine_version == "1.1.0rc2"
    assert case.iteration.engine is None or case.iteration.engine.name == "trtllm"
    odd = _case(cat, framework="my-own-server")
    assert isinstance(odd, ServingCase) and any("no profile" in a for a in odd.assumptions)


def test_engine_overheads_can_be_replaced_for_a_refit(cat: Catalog) -> None:
    (rec,) = parse_records([{**DENSE, "framework": "sglang"}], "test").records
    shipped = map_record(rec, cat)
    slow = map_record(rec, cat, {"sglang": (0.005, 0.0)})
    none = map_record(rec, cat, {"sglang": (0.0, 0.0)})
    assert isinstance(shipped, ServingCase) and isinstance(slow, ServingCase) and isinstance(none, ServingCase)
    assert none.iteration.engine is None  # no overhead: the roofline alone
    # 5 ms more per iteration: TPOT grows by about that much at this light load
    grown = predict_case(slow).tpot_mean_s - predict_case(none).tpot_mean_s
    assert grown == pytest.approx(0.005, rel=0.25)


def test_a_streamed_first_token_is_late_by_its_share_of_the_interval_and_the_end_is_not(cat: Catalog) -> None:
    # TensorRT-LLM streaming 20 tokens per chunk (mean ITL 20x the record's TPOT) holds the first token back
    # share x 19 iterations; the last token, so the end-to-end latency, does not move.
    chunky = _case(cat, framework="trt", mean_itl=0.2)
    plain = _case(cat, framework="trt")
    assert isinstance(chunky, ServingCase) and isinstance(plain, ServingCase)
    assert stream_interval(chunky.record) == 20 and stream_interval(plain.record) == 1
    share = engine_profile("trtllm").first_token_stream_share
    assert chunky.first_token_iterations == pytest.approx(share * 19) and plain.first_token_iterations == 0.0
    late, base = predict_case(chunky), predict_case(plain)
    assert late.ttft_mean_s - base.ttft_mean_s == pytest.approx(share * 19 * base.tpot_mean_s, rel=1e-9)
    assert late.e2e_mean_s == pytest.approx(base.e2e_mean_s)
    e2el = metric_value("mean_e2el", chunky, late)
    assert e2el == pytest.approx(metric_value("mean_e2el", plain, base))
    assert late.tpot_mean_s < base.tpot_mean_s  # (E2E - TTFT)/(O - 1), as the benchmark computes it
    # SGLang also streams in chunks, but sends the first token as soon as it exists.
    sglang = _case(cat, framework="sglang", mean_itl=0.1)
    assert isinstance(sglang, ServingCase) and sglang.first_token_iterations == 0.0


def test_expert_and_attention_data_parallel_records_are_laid_out_as_run(cat: Catalog) -> None:
    moe = {"model": "deepseek-ai/DeepSeek-R1-0528", "hw": "h200", "tp": 8, "precision": "fp8", "conc": 16}
    tp = _case(cat, **moe)
    ep = _case(cat, **moe, ep=8, dp_attention=True)
    assert isinstance(tp, ServingCase) and isinstance(ep, ServingCase)
    assert (ep.iteration.cfg.ep, ep.iteration.cfg.dp_attention) == (8, True)
    assert not any("timed as tensor parallelism" in a for a in ep.assumptions)
    # Attention data-parallelism keeps whole attention weights on every chip, so less room is left for KV...
    assert ep.iteration.weight_bytes > tp.iteration.weight_bytes
    # ...but MLA's latent is no longer replicated on every chip: each holds its own sequences' cache.
    assert ep.limits.kv_capacity_tokens > tp.limits.kv_capacity_tokens


def test_speculative_records_are_timed_with_their_acceptance_length(cat: Catalog) -> None:
    """An EAGLE3 record with its published acceptance length runs the iteration model's speculative step: each
    iteration verifies k + 1 tokens per sequence and yields τ, so TPOT falls below the plain run's; a record without
    an acceptance length, or whose τ exceeds k + 1, is skipped saying so."""
    plain = _case(cat, conc=1)
    eagle = _case(cat, conc=1, spec_decoding="eagle3", acceptance_length=3.22, num_speculative_tokens=3)
    assert isinstance(plain, ServingCase) and isinstance(eagle, ServingCase)
    spec = eagle.iteration.spec
    assert spec is not None and (spec.draft_tokens, spec.acceptance_length, spec.draft_layers) == (3, 3.22, 1.0)
    assert any("acceptance length 3.22" in note for note in eagle.assumptions)
    p, e = predict_case(plain), predict_case(eagle)
    iteration = e.decode_iteration_s
    assert iteration > p.decode_iteration_s  # 4 query tokens and 3 draft passes cost more than one token's step
    assert e.tpot_mean_s < p.tpot_mean_s
    assert e.tpot_mean_s == pytest.approx(iteration / 3.22, rel=0.05)  # one client: mostly decode iterations
    for change, reason in (
        ({"spec_decoding": "eagle3", "num_speculative_tokens": 3}, "no acceptance_length"),
        ({"spec_decoding": "eagle3", "acceptance_length": 2.0}, "no num_speculative_tokens"),
        ({"spec_decoding": "eagle3", "acceptance_length": 3.0, "num_speculative_tokens": 1}, "acceptance_length"),
        ({"spec_decoding": "draft", "acceptance_length": 2.0, "num_speculative_tokens": 4}, "no draft_model"),
        ({"spec_decoding": "medusa", "acceptance_length": 2.0, "num_speculative_tokens": 4}, "not known"),
    ):
        skip = _case(cat, **change)
        assert isinstance(skip, RecordSkip) and reason in skip.reason and "speculative" in skip.reason


def test_a_draft_model_costs_its_share_of_the_target_and_mtp_falls_back_to_the_published_setting(
    cat: Catalog,
) -> None:
    from chipfleet.workloads import get_model

    target, draft = get_model("meta-llama/Llama-3.3-70B-Instruct"), get_model("llama-3.1-8b")
    case = _case(
        cat, model="meta-llama/Llama-3.3-70B-Instruct", tp=4, spec_decoding="draft", acceptance_length=2.5,
        num_speculative_tokens=4, draft_model="meta-llama/Llama-3.1-8B-Instruct",
    )  # fmt: skip
    assert isinstance(case, ServingCase) and case.iteration.spec is not None
    assert case.iteration.spec.draft_layers == pytest.approx(target.n_layers * draft.params_total / target.params_total)
    unknown = _case(cat, spec_decoding="draft", acceptance_length=2.0, num_speculative_tokens=4, draft_model="x/y")
    assert isinstance(unknown, RecordSkip) and "no zoo record" in unknown.reason
    mtp = _case(cat, model="deepseek-ai/DeepSeek-R1-0528", hw="h200", tp=8, precision="fp8", spec_decoding="mtp")
    assert isinstance(mtp, ServingCase) and mtp.iteration.spec is not None
    assert (mtp.iteration.spec.acceptance_length, mtp.iteration.spec.draft_tokens) == (1.875, 1)
    assert any("published acceptance length 1.875" in note for note in mtp.assumptions)
