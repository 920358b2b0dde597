"""The routed experts' grouped-GEMM fraction recovered from serving runs, each hardware × engine group held out."""

from __future__ import annotations

import math
from typing import Any

import pytest

from chipfleet.catalog import Catalog
from chipfleet.validate.serving import map_record, parse_records, predict_case
from chipfleet.validate.serving.moe_fit import _with_fraction, fit_grouped_gemm_fraction
from chipfleet.validate.serving.predict import ServingCase

TRUE_FRACTION = 0.25
GRID = (1.0, 0.5, TRUE_FRACTION, 0.125)
MOE = {"model": "openai/gpt-oss-120b", "framework": "vllm", "precision": "fp4", "osl": 1024, "tp": 2}


def _records(cat: Catalog) -> list[dict[str, Any]]:
    """gpt-oss-120b runs at 1k and 8k prompts whose "measured" TTFT and TPOT are the model's at the true fraction."""
    docs = []
    for hw in ("h100", "h200"):
        for conc in (1, 4, 8):
            for isl in (1024, 8192):
                raw = {**MOE, "hw": hw, "conc": conc, "isl": isl, "id": f"{hw}-{conc}-{isl}"}
                (rec,) = parse_records([{**raw, "mean_ttft": 1.0, "mean_tpot": 1.0}], "test").records
                case = map_record(rec, cat)
                assert isinstance(case, ServingCase)
                res = predict_case(_with_fraction(case, TRUE_FRACTION))
                docs.append({**raw, "mean_ttft": res.ttft_mean_s, "mean_tpot": res.tpot_mean_s})
    return docs


def test_fit_recovers_the_fraction_and_each_fold_holds_its_group_out(cat: Catalog) -> None:
    fit = fit_grouped_gemm_fraction(parse_records(_records(cat), "test"), cat, GRID)
    assert fit.fraction == TRUE_FRACTION
    slope, ttft, tpot = fit.by_fraction[TRUE_FRACTION]
    assert tpot == pytest.approx(0.0, abs=1e-9)
    assert slope == pytest.approx(0.0, abs=1e-9) and ttft == pytest.approx(0.0, abs=1e-9)
    # the dense rate predicts the longer prompt's extra prefill too fast: a real error
    assert fit.by_fraction[1.0][0] > 0.2
    assert {f.group for f in fit.folds} == {"h100×vllm", "h200×vllm"}
    for fold in fit.folds:  # the other hardware alone teaches the fraction
        assert fold.fraction == TRUE_FRACTION and fold.rows == 6
        assert fold.ttft_ape < fold.ttft_ape_dense_rate
    assert fit.ttft_ape_cv == pytest.approx(0.0, abs=1e-9)


def test_dense_records_are_left_out(cat: Catalog) -> None:
    from .test_predict import DENSE

    fit = fit_grouped_gemm_fraction(parse_records([{**DENSE, "id": "dense"}], "test"), cat, GRID)
    assert fit.folds == ()
    assert all(slope == math.inf and math.isnan(ttft) for slope, ttft, _ in fit.by_fraction.values())
