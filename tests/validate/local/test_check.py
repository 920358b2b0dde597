"""`calibrate --local` and `validate --local` with the real PyTorch on this machine's CPU (no mocks).

`make test` installs the `torch` extra, so these run in CI; without torch the module is skipped (collection must
still work). The expensive work (one quick measurement, one quick validation) happens once per module in
fixtures; the rest is cheap.

Nothing here depends on the machine's speed or load: the tests check structure, signs, finiteness and
consistency, never wall time, overheads or how close a timing prediction lands. Those are measurements, and
live in benchmarks/local_validation.py (times against the 20 s / 60 s budgets, the training-step APE).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the `torch` extra is not installed (pip install 'chipfleet[torch]')")

from rich.console import Console  # noqa: E402

from chipfleet.catalog import Basis, Precision, load_catalog  # noqa: E402
from chipfleet.catalog.schema import iter_figures  # noqa: E402
from chipfleet.exceptions import ConfigError  # noqa: E402
from chipfleet.perf.hardware import hardware_for  # noqa: E402
from chipfleet.report.local import measurement_tables, validation_breakdown_table, validation_table  # noqa: E402
from chipfleet.validate.local.check import (  # noqa: E402
    INSTANCE,
    LocalMeasurement,
    LocalShapes,
    LocalValidation,
    default_local_model,
    fit_half_rows,
    local_overlay,
    measure_local,
    validate_local,
    write_local_overlay,
)
from chipfleet.validate.local.model import Decoder, KVCache, count_parameters  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def measurement() -> LocalMeasurement:
    return measure_local("cpu", quick=True)


@pytest.fixture(scope="module")
def overlay_path(measurement: LocalMeasurement, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_local_overlay(measurement, tmp_path_factory.mktemp("local") / "local.yaml")


@pytest.fixture(scope="module")
def validation(measurement: LocalMeasurement) -> LocalValidation:
    return validate_local(measurement, quick=True)


# ----------------------------------------------------------------- measurement
def test_quick_measurement_is_positive_and_consistent(measurement: LocalMeasurement) -> None:
    assert measurement.device == "cpu"
    assert measurement.threads >= 1
    assert Precision.FP32 in measurement.precisions and Precision.BF16 in measurement.precisions
    for g in measurement.gemm:
        assert g.time_s > 0 and math.isfinite(g.flops_per_s) and g.flops_per_s > 0
    for p, peak in measurement.peak_flops_per_s.items():
        assert peak == max(g.flops_per_s for g in measurement.gemm if g.precision is p)
    assert measurement.best_precision in measurement.peak_flops_per_s
    assert all(b.bytes_per_s > 0 for b in measurement.bandwidth)
    assert measurement.memory_bytes_per_s > 0
    assert all(a.flops_per_s > 0 for a in measurement.attention)
    assert math.isfinite(measurement.layer_overhead_s) and measurement.layer_overhead_s > 0
    assert math.isfinite(measurement.step_overhead_s) and measurement.step_overhead_s >= 0
    curve = measurement.gemm_fraction_curve()
    assert len(curve) >= 4 and all(0 < eta <= 1 for _, eta in curve)
    assert math.isfinite(measurement.compute_half_rows) and measurement.compute_half_rows >= 0
    assert measurement.host_memory_bytes > 2**30
    assert math.isfinite(measurement.wall_s) and measurement.wall_s > 0


def test_fit_half_rows_recovers_a_known_curve() -> None:
    curve = [(m, m / (m + 48.0)) for m in (1, 4, 16, 64, 256, 1024, 4096)]
    half, rms = fit_half_rows(curve)
    assert half == pytest.approx(48.0, rel=1e-3)
    assert rms < 1e-6
    assert fit_half_rows([(m, 1.0) for m in (1, 64, 1024)])[0] == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(ConfigError):
        fit_half_rows([])


# ----------------------------------------------------------------- overlay
def test_overlay_loads_and_gives_local_hardware(measurement: LocalMeasurement, overlay_path: Path) -> None:
    cat = load_catalog([overlay_path], use_env=False)
    hw = hardware_for(cat, INSTANCE)
    chip = cat.chip_of(INSTANCE)
    assert chip.name == "local-cpu" == hw.chip
    assert chip.kind == "cpu"
    assert hw.chips_per_instance == 1
    for p, peak in measurement.peak_flops_per_s.items():
        assert hw.peak_flops_per_s[p] == pytest.approx(peak, rel=1e-3)  # 4 significant digits in the file
    assert hw.memory_bytes_per_s == pytest.approx(measurement.memory_bytes_per_s, rel=1e-3)
    assert hw.memory_bytes == pytest.approx(measurement.host_memory_bytes, rel=1e-3)
    assert hw.eff.compute == 1.0 and hw.eff.memory == 1.0
    assert hw.eff.compute_half_rows == pytest.approx(measurement.compute_half_rows, rel=1e-2, abs=1e-3)
    assert hw.eff.layer_overhead_s == pytest.approx(measurement.layer_overhead_s, rel=1e-2)
    assert not cat.instance(INSTANCE).prices
    # Every figure is measured or a documented estimate (the schema makes non-stated figures carry a note).
    for record in (chip, cat.family_of(chip), cat.instance(INSTANCE)):
        for f in iter_figures(record):
            assert f.basis in (Basis.MEASURED, Basis.ESTIMATE) and f.note
            assert f.source_ref == "measured on this machine by chipfleet calibrate --local"
    # The shipped catalog is untouched: the overlay only adds records.
    assert set(load_catalog(use_env=False).chips) | {"local-cpu"} == set(cat.chips)


def test_overlay_dict_round_trips_through_yaml(measurement: LocalMeasurement, overlay_path: Path) -> None:
    import yaml

    assert yaml.safe_load(overlay_path.read_text()) == local_overlay(measurement)


def test_overlay_is_written_atomically(
    measurement: LocalMeasurement, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "local.yaml"
    target.write_text("previous overlay\n")

    def failing_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", failing_replace)
    with pytest.raises(ConfigError, match="No space left on device"):
        write_local_overlay(measurement, target)
    monkeypatch.undo()
    assert target.read_text() == "previous overlay\n"  # untouched, and no temp file left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["local.yaml"]
    with pytest.raises(ConfigError, match="cannot write"):
        write_local_overlay(measurement, target / "inside-a-file.yaml")
    write_local_overlay(measurement, tmp_path / "new" / "local.yaml")  # missing folders are created
    assert (tmp_path / "new" / "local.yaml").read_text().startswith("# chipfleet catalog overlay")


# ----------------------------------------------------------------- the torch model
def test_torch_model_has_exactly_the_arch_parameters() -> None:
    base = default_local_model()
    variants = [
        base,
        base.model_copy(update={"tied_embeddings": True}),
        base.model_copy(
            update={
                "norm": "layernorm",
                "gated_mlp": False,
                "attention_bias": True,
                "attention_out_bias": True,
                "mlp_bias": True,
                "n_kv_heads": 8,
                "learned_position_embeddings": True,
                "position_embedding_offset": 2,
            }
        ),
    ]
    for arch in variants:
        small = arch.model_copy(update={"n_layers": 1, "vocab_size": 256, "max_position_embeddings": 64})
        assert count_parameters(Decoder(small)) == small.params_total, small


def test_kv_cache_decode_matches_a_full_forward() -> None:
    arch = default_local_model().model_copy(update={"n_layers": 2, "hidden_size": 64, "head_dim": 8, "vocab_size": 97})
    torch.manual_seed(0)
    net = Decoder(arch, max_len=32).eval()
    tokens = torch.randint(0, arch.vocab_size, (2, 12))
    with torch.inference_mode():
        full = net(tokens)
        cache = KVCache.empty(arch, 2, 32, torch.float32, torch.device("cpu"))
        steps = [net(tokens[:, :8], cache, last_only=True)]
        steps += [net(tokens[:, i : i + 1], cache) for i in range(8, 12)]
    incremental = torch.cat(steps, dim=1)
    torch.testing.assert_close(incremental, full[:, 7:], rtol=1e-4, atol=1e-4)


def test_unsupported_architectures_are_refused() -> None:
    moe = default_local_model().model_copy(update={"n_experts": 8, "experts_top_k": 2})
    with pytest.raises(ConfigError, match="mixture-of-experts"):
        Decoder(moe)


# ----------------------------------------------------------------- validation
def test_quick_validation_compares_three_phases(validation: LocalValidation) -> None:
    assert [p.phase for p in validation.phases] == ["training step", "prefill", "decode step"]
    assert validation.params == validation.model.params_total
    assert validation.precision is Precision.BF16 or validation.precision is Precision.FP32
    for p in validation.phases:
        for x in (p.predicted_s, p.measured_s, p.ape):
            assert math.isfinite(x)
        assert p.predicted_s > 0 and p.measured_s > 0
        assert min(p.samples_s) <= p.measured_s <= max(p.samples_s)
        assert p.ape == pytest.approx(abs(p.predicted_s - p.measured_s) / p.measured_s, rel=1e-9)
    # How close the predictions land (the training-step APE sanity bound) depends on the machine's load while it
    # measures, so it is reported by benchmarks/local_validation.py, not asserted here.
    assert math.isfinite(validation.wall_s) and validation.wall_s > 0


def test_validation_from_an_overlay_file(overlay_path: Path) -> None:
    tiny = LocalShapes(train_batch=1, seq_len=32, serve_batch=1, input_tokens=32, output_tokens=4, repeats=1, warmup=1)
    val = validate_local(overlay_path, shapes=tiny, precision=Precision.FP32)
    assert val.precision is Precision.FP32 and val.chip == "local-cpu"
    assert all(p.predicted_s > 0 and p.measured_s > 0 for p in val.phases)
    with pytest.raises(ConfigError, match="fp8"):
        validate_local(overlay_path, shapes=tiny, precision=Precision.FP8)


def test_report_tables_render(measurement: LocalMeasurement, validation: LocalValidation) -> None:
    console = Console(record=True, width=200)
    for table in [
        *measurement_tables(measurement),
        validation_table(validation),
        validation_breakdown_table(validation),
    ]:
        console.print(table)
    text = console.export_text()
    for needle in ("peak bf16", "memory bandwidth", "GEMMs", "training step", "prefill", "decode step", "APE"):
        assert needle in text
