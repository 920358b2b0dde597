"""Project Ceiba: 16,384 GH200 at about 65 exaflops is the fp8 2:4-sparse peak, from the catalog's dense figures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chipfleet.catalog import Catalog, Precision
from chipfleet.validate.claims import AchievableRow, ClaimCheck, PeakRow, check_ceiba
from chipfleet.validate.claims.evidence import rows_of


def _peak(check: ClaimCheck, precision: str, sparsity: str) -> PeakRow:
    return next(r for r in rows_of(check.evidence, PeakRow) if r.precision == precision and r.sparsity == sparsity)


def test_ceiba_fp8_sparse_total_is_16384_times_twice_the_dense_fp8_peak(
    checks: dict[str, ClaimCheck], catalog: Catalog
) -> None:
    c = checks["ceiba-exaflops"]
    dense_fp8 = catalog.chip("gh200").peak_flops_per_s(Precision.FP8)
    assert dense_fp8 is not None
    expected_e = 16384 * 2 * dense_fp8 / 1e18  # 16,384 x 3,958 TFLOPS = 64.8 EF
    assert _peak(c, "fp8", "2:4 structured").total_e == pytest.approx(expected_e, rel=0.01)
    assert c.model_value == pytest.approx(expected_e, rel=0.01)
    assert c.model_value == pytest.approx(c.claim_value, rel=0.05)  # "about 65"
    assert c.verdict == "holds only when" and c.metric == "total_e"


def test_ceiba_dense_bf16_is_a_quarter_of_the_claim(checks: dict[str, ClaimCheck], catalog: Catalog) -> None:
    c = checks["ceiba-exaflops"]
    bf16 = catalog.chip("gh200").peak_flops_per_s(Precision.BF16)
    assert bf16 is not None
    row = _peak(c, "bf16", "dense")
    assert row.total_e == pytest.approx(16384 * bf16 / 1e18)
    assert row.total_e < c.claim_value / 3
    for r in rows_of(c.evidence, PeakRow):  # no dense FLOPS figure reproduces the claim
        if r.sparsity == "dense" and r.is_flops:
            assert abs(r.total_e / c.claim_value - 1) > 0.05
    (achievable,) = rows_of(c.evidence, AchievableRow)
    assert achievable.kind == "achievable" and achievable.total_e < row.total_e


def test_ceiba_sparse_factor_agrees_with_the_sparse_figure_quoted_in_the_catalog(
    checks: dict[str, ClaimCheck],
) -> None:
    # h200's fp8 note: "NVIDIA quotes 3958 with sparsity" for the same 1979 TFLOPS dense Hopper figure.
    row = _peak(checks["ceiba-exaflops"], "fp8", "2:4 structured")
    assert row.sparse_over_dense_quoted == pytest.approx(2.0, rel=0.01)


def test_ceiba_check_is_pure_in_the_catalog(catalog: Catalog) -> None:
    gh200 = catalog.chip("gh200")
    fp8 = gh200.peak_dense[Precision.FP8]
    halved = gh200.model_copy(
        update={"peak_dense": {**gh200.peak_dense, Precision.FP8: fp8.model_copy(update={"value": fp8.value / 2})}}
    )
    c = check_ceiba(replace(catalog, chips={**catalog.chips, "gh200": halved}))
    assert c.verdict == "not supported by published specs"
