"""SplitwiseSim's profiles: the reader, the error table, and the fitted host dispatch and load power curve."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from chipfleet.catalog import Catalog, load_catalog
from chipfleet.economics.costing import SPLITWISE_A100_LOAD_POWER, LoadPowerCurve
from chipfleet.exceptions import ConfigError
from chipfleet.perf.kernels import SPLITWISE_HOST_DISPATCH, HostDispatch
from chipfleet.validate.splitwise import (
    COLUMNS,
    PowerPoint,
    Predicted,
    ProfileRun,
    Setup,
    expressed,
    fit_host_dispatch,
    fit_per_hardware,
    fit_power_curve,
    iteration_errors,
    leave_one_tp_out,
    median_ape_by,
    power_points,
    predict,
    read_profiles,
    setup,
)

HEADER = ",".join(COLUMNS)


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog(use_env=False)


@pytest.fixture(scope="module")
def llama(cat: Catalog) -> list[tuple[ProfileRun, Setup]]:
    return [r for r in expressed(read_profiles(), cat) if r[0].model == "llama2-70b"]


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "perf_model.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_reader_takes_the_median_of_repeats_in_seconds(tmp_path: Path) -> None:
    # model,hardware,prompt,batch,tokens,peak,average,prompt ms,token ms,e2e ms,tp
    path = write(
        tmp_path,
        [
            "llama2-70b,a100-80gb,512,2,128,0.9,0.4,100,40,5200,8",
            "llama2-70b,a100-80gb,512,2,128,0.8,0.5,300,44,5300,8",
            "llama2-70b,a100-80gb,512,2,128,1.0,0.6,200,42,5434,8",
            "llama2-70b,a100-80gb,512,1,128,0,0,90,40,1000,8",
        ],
    )
    runs = read_profiles(path)
    assert [r.batch for r in runs] == [1, 2]  # sorted by configuration
    one, two = runs
    assert two.repeats == 3 and one.repeats == 1
    assert two.prefill_s == pytest.approx(0.2) and two.decode_s == pytest.approx(0.042)
    assert two.e2e_s == pytest.approx(5.3) and two.average_power_fraction == pytest.approx(0.5)
    assert two.peak_power_fraction == pytest.approx(0.9)
    assert one.average_power_fraction is None and one.peak_power_fraction is None  # 0 = not measured
    # the prefill emits the first token, every decode iteration one more
    assert two.output_tokens == pytest.approx(1 + (5.3 - 0.2) / 0.042)
    assert two.mean_context_tokens == pytest.approx(512 + two.output_tokens / 2)


def test_reader_names_a_missing_column_and_a_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("model,hardware\nx,y\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="missing columns prompt_size"):
        read_profiles(bad)
    with pytest.raises(ConfigError, match="line 2"):
        read_profiles(write(tmp_path, ["llama2-70b,a100-80gb,512,one,128,0,0,1,1,1,8"]))


def test_the_shipped_table() -> None:
    runs = read_profiles()
    # 12 (model, server, TP) groups of 19 configurations; 1,260 rows, the 512-token single prompt thrice
    assert len(runs) == 12 * 19 and sum(r.repeats for r in runs) == 1260
    assert {r.repeats for r in runs} == {5, 15}
    assert {r.hardware for r in runs} == {"a100-80gb", "h100-80gb", "h100-80gb-pcap"}
    assert {r.tp for r in runs if r.model == "llama2-70b"} == {2, 4, 8}


def run(batch: int = 1, prefill_s: float = 0.1, decode_s: float = 0.04) -> ProfileRun:
    return ProfileRun(
        model="llama2-70b", hardware="a100-80gb", tp=8, prompt_tokens=512, batch=batch, max_output_tokens=128,
        prefill_s=prefill_s, decode_s=decode_s, e2e_s=prefill_s + 127 * decode_s, average_power_fraction=None,
        peak_power_fraction=None, repeats=1,
    )  # fmt: skip


def test_error_table_on_a_tiny_table() -> None:
    runs = [run(1, 0.100, 0.040), run(2, 0.200, 0.050), run(4, 0.400, 0.080)]
    preds = {1: Predicted(0.080, 0.0, 0.050, 0.0), 2: Predicted(0.300, 0.0, 0.050, 0.0)}
    errors = iteration_errors(runs, lambda r: preds.get(r.batch))  # batch 4: not expressed
    assert [(e.run.batch, e.phase) for e in errors] == [(1, "prefill"), (1, "decode"), (2, "prefill"), (2, "decode")]
    assert [round(e.error, 12) for e in errors] == [-0.2, 0.25, 0.5, 0.0]
    assert [round(e.ape, 12) for e in errors] == [0.2, 0.25, 0.5, 0.0]
    table = median_ape_by(errors, lambda e: (e.phase,))
    assert table[("prefill",)] == pytest.approx((0.35, 0.15, 2))
    assert table[("decode",)] == pytest.approx((0.125, 0.125, 2))


def test_setup_leaves_out_what_chipfleet_does_not_express(cat: Catalog) -> None:
    by_key = {(r.hardware, r.tp, r.prompt_tokens, r.batch, r.max_output_tokens): r for r in read_profiles()}
    assert setup(by_key[("h100-80gb-pcap", 8, 512, 1, 128)], cat) is None  # power-capped clocks
    # 64 × (512 + generated) tokens of KV do not fit beside 69 GB of weights per A100 at TP 2
    assert setup(by_key[("a100-80gb", 2, 512, 64, 128)], cat) is None
    where = setup(by_key[("a100-80gb", 8, 512, 64, 128)], cat)
    assert where is not None and where.hw.instance == "p4de.24xlarge" and where.model.name == "llama-2-70b"


def test_host_dispatch_slows_a_host_bound_decode_only(llama: list[tuple[ProfileRun, Setup]]) -> None:
    r, where = next(x for x in llama if x[0].tp == 8 and x[0].batch == 1 and x[0].prompt_tokens == 512)
    host = HostDispatch(layer_s=500e-6, sequence_s=0.0, prefill_s=0.0)
    bare, eager = predict(r, where), predict(r, where, host)
    assert eager.decode_busy_s == bare.decode_busy_s  # the device does the same work
    floor = where.model.n_layers * host.layer_s
    assert max(floor, bare.decode_s) < eager.decode_s < floor + bare.decode_s


def test_fit_recovers_a_known_host_dispatch(llama: list[tuple[ProfileRun, Setup]]) -> None:
    """Runs timed by the model itself with a known dispatch give that dispatch back."""
    truth = HostDispatch(layer_s=400e-6, sequence_s=250e-6, prefill_s=30e-3)
    synthetic = []
    for r, where in llama:
        if r.hardware != "a100-80gb":
            continue
        p = predict(r, where, truth)
        n = r.output_tokens
        synthetic.append((replace(r, prefill_s=p.prefill_s, decode_s=p.decode_s, e2e_s=p.run_s(n)), where))
    fitted = fit_host_dispatch(synthetic)
    assert fitted.layer_s == pytest.approx(truth.layer_s, rel=0.02)
    assert fitted.sequence_s == pytest.approx(truth.sequence_s, rel=0.05)
    assert fitted.prefill_s == pytest.approx(truth.prefill_s, rel=0.1)


def test_fitted_host_dispatch_is_physical_and_shipped(llama: list[tuple[ProfileRun, Setup]]) -> None:
    fitted = fit_per_hardware(llama)
    assert set(fitted) == set(SPLITWISE_HOST_DISPATCH) == {"a100-80gb", "h100-80gb"}
    for hw, h in fitted.items():
        # an eager layer issues ~15-30 kernels at 5-50 us each; a sequence's scheduling and sampling take
        # tens of us to a few ms of Python; a prompt's set-up less than a decode iteration of 80 layers
        assert 50e-6 < h.layer_s < 2e-3
        assert 10e-6 < h.sequence_s < 3e-3
        assert 0.0 <= h.prefill_s < 80 * h.layer_s
        shipped = SPLITWISE_HOST_DISPATCH[hw]
        assert (h.layer_s, h.sequence_s, h.prefill_s) == pytest.approx(
            (shipped.layer_s, shipped.sequence_s, shipped.prefill_s), rel=0.01
        )


def test_leave_one_tp_out_fits_without_the_held_degree(llama: list[tuple[ProfileRun, Setup]]) -> None:
    held = leave_one_tp_out(llama)
    assert [h.tp for h in held] == [2, 4, 8]
    for h in held:
        assert {e.run.tp for e in h.errors} == {h.tp}
        assert len(h.errors) == 2 * sum(1 for r, _ in llama if r.tp == h.tp)
        assert all(math.isfinite(e.error) for e in h.errors)
        # fitted on other runs than the full fit: not the same numbers
        assert h.fitted["a100-80gb"] != fit_per_hardware(llama)["a100-80gb"]


def test_power_curve_fit_recovers_a_line() -> None:
    pts = [
        PowerPoint(run(), busy_fraction=u, measured_fraction=0.3 + 0.5 * u, predicted_fraction=0.0,
                   measured_j_per_token=1.0, predicted_j_per_token=1.0)
        for u in (0.1, 0.3, 0.5, 0.9)
    ]  # fmt: skip
    curve = fit_power_curve(pts)
    assert curve.floor_fraction == pytest.approx(0.3, abs=1e-6) and curve.slope == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(ConfigError, match="at least two"):
        fit_power_curve(pts[:1])


def test_fitted_power_curve_is_physical_and_shipped(cat: Catalog, llama: list[tuple[ProfileRun, Setup]]) -> None:
    points = power_points(llama, cat, SPLITWISE_HOST_DISPATCH, LoadPowerCurve(0.0, 1.0))
    assert points and all(p.run.hardware == "a100-80gb" for p in points)  # only the A100 rows carry power
    assert all(p.run.prompt_tokens <= 4096 for p in points)  # beyond Llama-2's context: left out
    curve = fit_power_curve(points)
    idle = cat.family("nvidia-ampere").idle_power_fraction.si
    # a loaded, waiting GPU draws more than a parked one; a busy one at most its TDP
    assert idle < curve.floor_fraction < 0.6 and curve.slope > 0.0 and curve.floor_fraction + curve.slope <= 1.0
    assert (curve.floor_fraction, curve.slope) == pytest.approx(
        (SPLITWISE_A100_LOAD_POWER.floor_fraction, SPLITWISE_A100_LOAD_POWER.slope), abs=2e-3
    )


def test_energy_per_token_is_power_times_time_over_tokens(cat: Catalog, llama: list[tuple[ProfileRun, Setup]]) -> None:
    curve = LoadPowerCurve(0.3, 0.5)
    p = power_points(llama, cat, SPLITWISE_HOST_DISPATCH, curve)[0]
    r = p.run
    tokens = r.batch * r.output_tokens
    assert r.average_power_fraction is not None
    assert p.measured_j_per_token == pytest.approx(r.average_power_fraction * 400 * r.tp * r.e2e_s / tokens)
    assert p.predicted_fraction == pytest.approx(curve.fraction(p.busy_fraction))
