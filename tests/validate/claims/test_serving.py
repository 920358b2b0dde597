"""Inferentia2 vs Inferentia1: spec rows from the catalog, weights that do not fit Inf1, ratios of the rows."""

from __future__ import annotations

import pytest

from chipfleet.catalog import Catalog, Precision
from chipfleet.validate.claims import ClaimCheck, FitRow, ServingGrid, SpecRow, SweepRow, check_inferentia
from chipfleet.validate.claims.evidence import rows_of, spec

SMALL_SERVING = ServingGrid(models=("llama-2-7b",), precisions=(Precision.BF16,), shapes=((128, 128),), batches=(1, 8))


def test_inferentia_spec_rows_come_from_the_catalog(checks: dict[str, ClaimCheck], catalog: Catalog) -> None:
    inf1, inf2 = catalog.chip("inferentia1"), catalog.chip("inferentia2")
    evidence = checks["inf2-throughput"].evidence
    bandwidth, memory = spec(evidence, "memory bandwidth"), spec(evidence, "memory per chip")
    assert isinstance(bandwidth, SpecRow) and isinstance(memory, SpecRow)
    assert bandwidth.new_over_old == pytest.approx(inf2.memory_bytes_per_s / inf1.memory_bytes_per_s)
    assert memory.old_si == inf1.memory_bytes


def test_a_7b_model_in_bf16_does_not_fit_one_inferentia1_chip(checks: dict[str, ClaimCheck]) -> None:
    # 6.7 B parameters x 2 bytes = 13.5 GB > Inferentia1's 8 GiB (catalog) of device memory.
    evidence = checks["inf2-throughput"].evidence
    fit = next(r for r in rows_of(evidence, FitRow) if r.model == "llama-2-7b" and r.weight_precision == "bf16")
    assert fit.inf1.min_chips_for_weights == 2
    assert fit.inf2.min_chips_for_weights == 1
    one_chip = [
        r
        for r in rows_of(evidence, SweepRow)
        if r.model == "llama-2-7b" and r.weight_precision == "bf16" and r.inf1.instance == "inf1.xlarge"
    ]
    assert one_chip and not any(r.inf1.fits for r in one_chip)
    assert all(r.throughput_ratio is None and r.inf1.request_latency_s is None for r in one_chip)


def test_inferentia_ratios_are_the_ratios_of_the_rows(catalog: Catalog) -> None:
    throughput, latency = check_inferentia(catalog, SMALL_SERVING)
    for r in rows_of(throughput.evidence, SweepRow):
        if r.throughput_ratio is None:
            continue
        assert r.inf1.output_tokens_per_s_per_chip is not None and r.inf2.output_tokens_per_s_per_chip is not None
        assert r.throughput_ratio == pytest.approx(
            r.inf2.output_tokens_per_s_per_chip / r.inf1.output_tokens_per_s_per_chip
        )
        assert r.inf1.request_latency_s is not None and r.inf2.request_latency_s is not None
        assert r.request_latency_ratio == pytest.approx(r.inf1.request_latency_s / r.inf2.request_latency_s)
    assert latency.evidence == throughput.evidence
