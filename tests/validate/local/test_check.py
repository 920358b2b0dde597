"""`validate_local` with the real PyTorch on this machine's CPU (no mocks): three phases, each a prediction next
to a measurement; the report tables render them.

`make test` installs the `torch` extra, so these run there; without torch the module is skipped. The expensive work
(one quick measurement, one quick validation) happens once per session in conftest.py's fixtures. Nothing here
depends on the machine's speed or load (see benchmarks/local_validation.py for the timings).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the `torch` extra is not installed (pip install 'chipfleet[torch]')")

from rich.console import Console

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError
from chipfleet.report.local import measurement_tables, validation_breakdown_table, validation_table
from chipfleet.serialize import dumps
from chipfleet.validate.local import LocalMeasurement, LocalShapes, LocalValidation, validate_local

pytestmark = [pytest.mark.torch, pytest.mark.slow]


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


def test_validation_json_is_its_attributes(validation: LocalValidation) -> None:
    d = json.loads(dumps(validation))
    assert d["device"] == "cpu" and d["torch_version"] and d["model"]["name"] == validation.model.name
    assert d["mape"] == pytest.approx(validation.mape)
    assert [p["phase"] for p in d["phases"]] == ["training step", "prefill", "decode step"]
    for p, phase in zip(d["phases"], validation.phases, strict=True):
        assert p["ape"] == pytest.approx(phase.ape) and p["ratio"] == pytest.approx(phase.ratio)
        assert p["bound"] and len(p["samples_s"]) == validation.shapes.repeats
