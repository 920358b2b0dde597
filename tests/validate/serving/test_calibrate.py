"""Engine overheads fitted on serving records and cross-validated leaving one hardware × engine group out."""

from __future__ import annotations

from typing import Any

import pytest

from chipfleet.catalog import Catalog
from chipfleet.validate.serving import calibrate_serving, map_record, parse_records, predict_case
from chipfleet.validate.serving.predict import ServingCase

from .test_predict import DENSE

EXTRA_S = 0.003  # what the "measurements" carry beyond the model: 3 ms per iteration


def _records(cat: Catalog) -> list[dict[str, Any]]:
    """Runs on two hardware types whose measured TPOT is the model's own (no engine overheads) + 3 ms."""
    docs = []
    for hw in ("h100", "h200"):
        for conc in (1, 4, 16, 64):
            raw = {**DENSE, "hw": hw, "conc": conc, "framework": "sglang", "id": f"{hw}-{conc}"}
            (rec,) = parse_records([raw], "test").records
            case = map_record(rec, cat, {"sglang": (0.0, 0.0)})
            assert isinstance(case, ServingCase)
            raw["mean_tpot"] = predict_case(case).tpot_mean_s + EXTRA_S
            docs.append(raw)
    return docs


def test_fit_recovers_a_known_overhead_and_cross_validation_holds_each_group_out(cat: Catalog) -> None:
    cal = calibrate_serving(parse_records(_records(cat), "test"), cat)
    (fit,) = cal.fits
    assert fit.engine == "sglang" and fit.runs == 8
    assert fit.iteration_overhead_s == pytest.approx(EXTRA_S, rel=0.2)
    before = {g.group: g.mdape("mean_tpot") for g in cal.without.by_hardware_engine}
    after = {g.group: g.mdape("mean_tpot") for g in cal.cross_validated.by_hardware_engine}
    assert set(before) == set(after) == {"h100×sglang", "h200×sglang"}
    for group in before:  # the other hardware's runs teach the overhead: the held-out group gets better
        assert after[group] < before[group] / 3
