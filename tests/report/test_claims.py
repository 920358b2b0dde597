"""The sentences that explain each claim's verdict, the JSON that carries them, and the tables."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from rich.console import Console

from chipfleet.catalog import Catalog, Precision, load_catalog
from chipfleet.report.claims import (
    claim_json,
    claims_table,
    conditions,
    evidence_table,
    evidence_tables,
    verdict_detail,
)
from chipfleet.serialize import dumps
from chipfleet.validate.claims import ClaimCheck, TrainingGrid, check_claims, check_trainium

SMALL_TRAINING = TrainingGrid(models=("llama-3-8b",), chips=(16,), precisions=(Precision.BF16,))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(use_env=False)


@pytest.fixture(scope="module")
def checks(catalog: Catalog) -> dict[str, ClaimCheck]:
    return {c.id: c for c in check_claims(catalog)}


def test_every_check_has_conditions_and_a_detail(checks: dict[str, ClaimCheck]) -> None:
    for c in checks.values():
        assert conditions(c) and verdict_detail(c)


def test_ceiba_conditions_name_the_sparse_fp8_peak(checks: dict[str, ClaimCheck]) -> None:
    text = conditions(checks["ceiba-exaflops"])
    assert "fp8" in text and "sparsity" in text


def test_the_energy_verdict_says_it_rests_on_tdp_estimates(checks: dict[str, ClaimCheck]) -> None:
    assert "estimate" in verdict_detail(checks["trn2-energy-efficiency"])


def test_a_verdict_on_a_family_without_measurements_says_so() -> None:
    """Trainium2's family with no rows of its own (here: its documented priors): the verdict sentence names it."""
    priors = load_catalog(use_env=False, calibrated=False)
    for c in check_trainium(priors, SMALL_TRAINING):
        detail = verdict_detail(c)
        assert detail.startswith("Uncalibrated: ")
        assert "aws-neuron-v3 (trainium2): no measurements of its own" in detail


def test_every_unvalidated_family_is_named_in_the_verdict(checks: dict[str, ClaimCheck], catalog: Catalog) -> None:
    used = {
        "inf2-throughput": ("inferentia1", "inferentia2"),
        "inf2-latency": ("inferentia1", "inferentia2"),
        "trn2-training-speed": ("trainium1", "trainium2"),
        "trn2-energy-efficiency": ("trainium1", "trainium2"),
    }
    for cid, chips in used.items():
        for chip in chips:
            fam = catalog.family_of(catalog.chip(chip))
            named = f"{fam.name} ({chip})" in verdict_detail(checks[cid])
            assert named is (not fam.validated), (cid, fam.name)


def test_the_verdict_uses_the_catalogs_wording_of_each_familys_status(catalog: Catalog) -> None:
    """The shipped Trainium2 family is fitted on a few rows, not validated: the verdict says so, not 'no
    measurements of its own' (the wording is Catalog.family_status's, one for every layer)."""
    fam = catalog.family("aws-neuron-v3")
    assert fam.calibration is not None
    for c in check_trainium(catalog, SMALL_TRAINING):
        detail = verdict_detail(c)
        assert f"aws-neuron-v3 (trainium2): fitted on only {fam.calibration.rows} rows" in detail
        assert "aws-neuron-v3 (trainium2): no measurements" not in detail


def test_a_verdict_on_validated_families_has_no_uncalibrated_sentence(catalog: Catalog) -> None:
    families = dict(catalog.families)
    for name in ("trainium1", "trainium2"):
        fam = families[catalog.chip(name).family]
        families[fam.name] = fam.model_copy(update={"validated": True})
    for c in check_trainium(replace(catalog, families=families), SMALL_TRAINING):
        assert "Uncalibrated" not in verdict_detail(c)


def test_claim_json_carries_the_sentences(checks: dict[str, ClaimCheck]) -> None:
    back = json.loads(dumps([claim_json(c) for c in checks.values()]))
    for d, c in zip(back, checks.values(), strict=True):
        assert d["conditions"] == conditions(c) and d["verdict_detail"] == verdict_detail(c)
        assert d["metric"] == c.metric and d["evidence"]


def test_tables_render(checks: dict[str, ClaimCheck]) -> None:
    console = Console(record=True, width=200)
    console.print(claims_table(list(checks.values())))
    for c in checks.values():
        tables = evidence_tables(c)
        assert tables
        for t in tables:
            console.print(t)
    text = console.export_text()
    assert "holds only when" in text and "GT0170" in text
    sweep = evidence_table(checks["inf2-throughput"], "sweep")
    assert sweep is not None  # nested sides are columns by attribute path
    assert "inf1.request latency s" in [str(col.header) for col in sweep.columns]
