"""Disaggregated serving records: their pools read, mapped onto pools and a link, and predicted."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from chipfleet.catalog import Catalog
from chipfleet.perf.kv_transfer import LinkKind
from chipfleet.validate.serving import RecordSet, map_record, parse_records, shipped_inferencex
from chipfleet.validate.serving.disagg import (
    STREAM_SHARE,
    DisaggCase,
    cross_validate_disagg,
    disagg_metric_value,
    fit_stream_share,
    map_disagg_record,
    predict_disagg,
    validate_disagg,
)
from chipfleet.validate.serving.predict import RecordSkip, metric_value

RAW: dict[str, Any] = {
    "hw": "gb200",
    "conc": 64,
    "image": "nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.5.1",
    "model": "/mnt/lustre01/models/deepseek-r1-0528-fp4-v2",
    "framework": "dynamo-trt",
    "precision": "fp4",
    "spec_decoding": "mtp",
    "disagg": True,
    "isl": 8192,
    "osl": 1024,
    "is_multinode": True,
    "prefill_tp": 4,
    "prefill_ep": 4,
    "prefill_dp_attention": "true",
    "prefill_num_workers": 2,
    "decode_tp": 8,
    "decode_ep": 8,
    "decode_dp_attention": "true",
    "decode_num_workers": 1,
    "num_prefill_gpu": 8,
    "num_decode_gpu": 8,
    "mean_ttft": 0.5,
    "mean_tpot": 0.01,
    "tput_per_gpu": 1000.0,
}


@cache
def _shipped() -> RecordSet:
    return shipped_inferencex()


def _record(**changes: Any) -> Any:
    return parse_records([{**RAW, **changes}], "test").records[0]


def test_the_pools_are_read_from_the_prefill_and_decode_keys() -> None:
    rec = _record()
    assert rec.disagg and rec.multinode
    assert rec.prefill is not None and rec.decode is not None
    assert (rec.prefill.tp, rec.prefill.ep, rec.prefill.dp_attention, rec.prefill.workers) == (4, 4, True, 2)
    assert rec.prefill.chips == 8 and rec.prefill.chips_per_worker == 4
    assert (rec.decode.tp, rec.decode.workers, rec.decode.chips_per_worker) == (8, 1, 8)
    plain = parse_records([{k: v for k, v in RAW.items() if not k.startswith(("prefill", "decode", "num_"))}], "t")
    assert plain.records[0].prefill is None and plain.records[0].decode is None


def test_a_record_maps_onto_two_pools_over_nvlink_in_an_nvl72_rack(cat: Catalog) -> None:
    case = map_disagg_record(_record(), cat)
    assert isinstance(case, DisaggCase)
    dep = case.deployment
    assert (dep.prefill.workers, dep.prefill.iteration.tp, dep.decode.workers, dep.decode.iteration.tp) == (2, 4, 1, 8)
    assert case.chips == 16 and case.link.kind is LinkKind.SCALE_UP
    assert dep.prefill.iteration.spec is None and dep.decode.iteration.spec is not None  # MTP decodes only
    assert dep.transfer_s == pytest.approx(case.link.transfer_s(dep.transfer_bytes))
    res = predict_disagg(case)
    per_gpu = metric_value("tput_per_gpu", case, res)
    assert per_gpu == pytest.approx(res.throughput_rps * (case.load.input_tokens + case.load.output_tokens) / 16)
    assert metric_value("mean_ttft", case, res) == res.ttft_mean_s
    # InferenceX divides input tokens/s by the prefill GPUs and output tokens/s by the decode GPUs
    inp = disagg_metric_value("input_tput_per_gpu", case, res)
    out = disagg_metric_value("output_tput_per_gpu", case, res)
    assert inp is not None and out is not None and per_gpu is not None
    assert inp * case.prefill_chips + out * case.decode_chips == pytest.approx(per_gpu * case.chips)


def test_mi355x_pools_move_their_cache_over_rdma(cat: Catalog) -> None:
    rec = next(r for r in _shipped().records if r.disagg and r.hw.startswith("mi355x"))
    case = map_disagg_record(rec, cat)
    assert isinstance(case, DisaggCase)
    assert case.link.kind is LinkKind.RDMA


def test_a_worker_wider_than_its_tp_is_timed_as_its_gpus_and_says_so(cat: Catalog) -> None:
    case = map_disagg_record(_record(prefill_tp=1, prefill_ep=1), cat)
    assert isinstance(case, DisaggCase)
    assert case.prefill_tp == 4 and case.deployment.prefill.iteration.cfg.ep == 4
    assert any("prefill_tp 1 on a worker of 4 GPUs" in a for a in case.assumptions)


def test_records_it_cannot_express_are_skipped_with_a_reason(cat: Catalog) -> None:
    odd = map_disagg_record(_record(num_prefill_gpu=7), cat)
    assert isinstance(odd, RecordSkip) and "does not split" in odd.reason
    missing = map_disagg_record(_record(model="no-such-model"), cat)
    assert isinstance(missing, RecordSkip) and "zoo" in missing.reason
    aggregated = map_record(_record(), cat)
    assert isinstance(aggregated, RecordSkip) and "validate_disagg" in aggregated.reason


def test_the_shipped_disaggregated_runs_are_predicted(cat: Catalog) -> None:
    report = validate_disagg(_shipped(), cat)
    assert report.records == 429
    assert report.coverage >= 0.8  # issue 13's coverage target
    metrics = {m.metric: m for m in report.by_metric}
    assert {"mean_tpot", "mean_ttft", "tput_per_gpu"} <= set(metrics)
    assert all(r.predicted > 0 for r in report.results)


def test_the_first_token_waits_the_stream_share_of_a_chunk(cat: Catalog) -> None:
    rec = _record(mean_itl=0.2)  # 0.2 s chunks of 10 ms tokens: k = 20
    held = map_disagg_record(rec, cat)
    plain = map_disagg_record(rec, cat, stream_share=0.0)
    assert isinstance(held, DisaggCase) and isinstance(plain, DisaggCase)
    assert held.first_token_iterations == pytest.approx(STREAM_SHARE * 19)
    a, b = predict_disagg(held), predict_disagg(plain)
    assert a.ttft_steady_s - b.ttft_steady_s == pytest.approx(held.first_token_iterations * b.tpot_mean_s)
    assert a.e2e_mean_s == pytest.approx(b.e2e_mean_s)  # the last token is not delayed


def test_the_stream_share_fit_and_its_cross_validation(cat: Catalog) -> None:
    recs = _shipped().records
    cases = [c for c in (map_disagg_record(r, cat) for r in recs if r.disagg) if isinstance(c, DisaggCase)]
    token_by_token = [c for c in cases if c.record.hw.startswith("mi355x")]
    assert fit_stream_share(token_by_token) is None  # nothing streams in chunks: nothing to fit
    assert fit_stream_share(cases, grid=(0.0, STREAM_SHARE)) == STREAM_SHARE
    cv = cross_validate_disagg(_shipped(), cat)
    groups = {r.group for r in recs if r.disagg}
    assert {g for g, _ in cv.shares} == groups
    assert all(0.0 <= s <= 1.0 for _, s in cv.shares)
    assert cv.report.records_predicted == validate_disagg(_shipped(), cat).records_predicted
