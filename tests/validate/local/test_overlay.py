"""This machine as a catalog overlay: typed records, loaded in memory or from the YAML file written for them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chipfleet.catalog import Basis, Precision, load_catalog
from chipfleet.catalog.schema import CatalogFile, iter_figures
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import hardware_for
from chipfleet.validate.local import (
    INSTANCE,
    LocalMeasurement,
    catalog_with_local,
    local_overlay,
    overlay_document,
    write_local_overlay,
)
from chipfleet.validate.local.overlay import MEASURED_BY
from chipfleet.validate.local.probe import AttentionPoint, BandwidthPoint, GemmPoint


@pytest.fixture
def synthetic() -> LocalMeasurement:
    """A made-up CPU measurement (no torch): 1 TFLOP/s fp32 at the largest GEMM, M½ = 32, 20 GB/s."""
    w = 1024
    peak = 1e12
    gemm = [GemmPoint(Precision.FP32, 2048, 2048, 2048, "square", 2.0 * 2048**3 / peak)]
    gemm += [GemmPoint(Precision.FP32, m, w, w, "skinny", 2.0 * m * w * w / (peak * m / (m + 32))) for m in (1, 8, 64)]
    gemm += [GemmPoint(Precision.BF16, 1024, 1024, 1024, "square", 2.0 * 1024**3 / (peak / 4))]
    return LocalMeasurement(
        device="cpu",
        device_name="Test CPU",
        torch_version="0.0",
        threads=4,
        cpu_count=8,
        device_memory_bytes=None,
        host_memory_bytes=16 * 2**30,
        gemm=tuple(gemm),
        bandwidth=(BandwidthPoint("copy", 2**29, 2 * 2**29 / 20e9),),
        attention=(AttentionPoint(Precision.FP32, 1, 8, 256, 64, True, 1e-3),),
        layer_overhead_s=20e-6,
        step_overhead_s=0.5e-3,
        train_step_overhead_s=1e-3,
        power_limit_w=None,
        cpu_vendor="AuthenticAMD",
        measured_on="2026-12-01",
        quick=True,
        wall_s=1.0,
    )


def test_the_overlay_is_typed_records(synthetic: LocalMeasurement) -> None:
    overlay = local_overlay(synthetic)
    assert isinstance(overlay, CatalogFile)
    (chip,), (family,), (instance,) = overlay.chips, overlay.families, overlay.instances
    assert chip.name == family.name == instance.chip == "local-cpu" and instance.name == INSTANCE
    assert chip.peak_flops_per_s(Precision.FP32) == pytest.approx(1e12)
    assert chip.memory_bytes_per_s == pytest.approx(20e9)
    assert family.compute_half_rows.si == pytest.approx(32, rel=1e-2)
    assert family.layer_overhead.si == pytest.approx(20e-6)
    assert not instance.prices


def test_catalog_with_local_builds_in_memory_without_a_file(synthetic: LocalMeasurement) -> None:
    cat = catalog_with_local(synthetic)
    assert cat.files[-1] == "<in-memory overlay 1>"  # no temp file was written and re-read
    hw = hardware_for(cat, INSTANCE)
    assert hw.chip == "local-cpu" and hw.peak_flops_per_s[Precision.FP32] == pytest.approx(1e12)
    for record in (cat.chip("local-cpu"), cat.family("local-cpu"), cat.instance(INSTANCE)):
        for f in iter_figures(record):
            assert f.basis in (Basis.MEASURED, Basis.ESTIMATE) and f.note
            assert f.source_ref == MEASURED_BY and f.as_of == "2026-12-01"
    assert set(load_catalog(use_env=False).chips) | {"local-cpu"} == set(cat.chips)


def test_the_file_and_the_in_memory_overlay_give_the_same_catalog(synthetic: LocalMeasurement, tmp_path: Path) -> None:
    path = write_local_overlay(synthetic, tmp_path / "local.yaml")
    assert yaml.safe_load(path.read_text()) == overlay_document(local_overlay(synthetic))
    from_file = load_catalog([path], use_env=False)
    in_memory = catalog_with_local(synthetic)
    for kind in ("chips", "families", "instances"):
        assert (
            getattr(from_file, kind)["local-cpu" if kind != "instances" else INSTANCE]
            == getattr(in_memory, kind)["local-cpu" if kind != "instances" else INSTANCE]
        )


def test_overlay_is_written_atomically(
    synthetic: LocalMeasurement, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "local.yaml"
    target.write_text("previous overlay\n")

    def failing_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", failing_replace)
    with pytest.raises(ConfigError, match="No space left on device"):
        write_local_overlay(synthetic, target)
    monkeypatch.undo()
    assert target.read_text() == "previous overlay\n"  # untouched, and no temp file left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["local.yaml"]
    with pytest.raises(ConfigError, match="cannot write"):
        write_local_overlay(synthetic, target / "inside-a-file.yaml")
    write_local_overlay(synthetic, tmp_path / "new" / "local.yaml")  # missing folders are created
    assert (tmp_path / "new" / "local.yaml").read_text().startswith("# chipfleet catalog overlay")


@pytest.mark.torch
@pytest.mark.slow
def test_a_real_overlay_loads_and_gives_local_hardware(measurement: LocalMeasurement, overlay_path: Path) -> None:
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
