"""MLPerf Server-scenario latency rows replayed in the request-level simulator."""

from __future__ import annotations

import pytest

from chipfleet.catalog import Catalog
from chipfleet.perf.inference import estimate_inference
from chipfleet.validate.dataset import Measurement
from chipfleet.validate.mapping import InferCase, map_row
from chipfleet.validate.predict import Prepared, predict, prepare


def prepared(cat: Catalog, metric: str, rate: float) -> Prepared:
    r = Measurement(
        id="S1", kind="infer", source="mlcommons/inference_results_v4.1:run_1",
        model="Llama-2-70B-Chat (MLPerf llama2-70b-99)", params_b=70.0, accelerator="NVIDIA H100 SXM 80GB",
        accel_count=8, instance_or_system="DGX H100", precision="FP8", framework="", parallelism="tp=2",
        seq_len=None, batch="", input_len="300", output_len="290", metric=metric, value=100.0,
        notes=f"samples/s {rate}", line=2,
    )  # fmt: skip
    case = map_row(r, cat)
    assert isinstance(case, InferCase) and case.server_rate_per_s == rate
    prep = prepare(case, cat)
    assert isinstance(prep, Prepared) and prep.replayed
    return prep


def test_light_load_reproduces_the_closed_form(cat: Catalog) -> None:
    # At a trickle every request runs alone: the replay's p50 TTFT and TPOT are the model's.
    ttft = prepared(cat, "ttft_ms_p50_server", 0.05)
    alone = estimate_inference(ttft.case.config(batch=1, tp=ttft.tp), ttft.hardware, check_memory=False)  # type: ignore[union-attr]
    assert predict(ttft) == pytest.approx(alone.ttft_s * 1e3, rel=0.01)
    tpot = prepared(cat, "tpot_ms_p50_server", 0.05)
    assert predict(tpot) == pytest.approx(alone.tpot_s * 1e3, rel=0.01)


def test_latency_grows_with_load_and_replays_are_deterministic(cat: Catalog) -> None:
    light = predict(prepared(cat, "tpot_ms_p50_server", 1.0))
    heavy = predict(prepared(cat, "tpot_ms_p50_server", 60.0))
    assert heavy > light
    assert predict(prepared(cat, "tpot_ms_p50_server", 60.0)) == heavy
