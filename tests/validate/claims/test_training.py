"""Trainium2 vs Trainium1: spec ratios from the catalog, the speed-up as a tokens/s ratio, TDP estimates that keep
the energy verdict unvalidated."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chipfleet.catalog import Basis, Catalog, Precision, load_catalog
from chipfleet.validate.claims import ClaimCheck, TrainingGrid, TrainingRow, check_trainium
from chipfleet.validate.claims.evidence import rows_of, spec_ratio

SMALL_TRAINING = TrainingGrid(models=("llama-3-8b",), chips=(16,), precisions=(Precision.BF16,))


def test_trainium_bf16_spec_ratio_is_the_catalog_ratio(checks: dict[str, ClaimCheck], catalog: Catalog) -> None:
    trn1 = catalog.chip("trainium1").peak_flops_per_s(Precision.BF16)
    trn2 = catalog.chip("trainium2").peak_flops_per_s(Precision.BF16)
    assert trn1 is not None and trn2 is not None
    for claim_id in ("trn2-training-speed", "trn2-energy-efficiency"):
        assert spec_ratio(checks[claim_id].evidence, "bf16 dense peak") == pytest.approx(trn2 / trn1)  # 667/190


def test_trainium_speedup_is_the_tokens_per_s_ratio(catalog: Catalog) -> None:
    speed, _ = check_trainium(catalog, SMALL_TRAINING)
    (row,) = rows_of(speed.evidence, TrainingRow)
    assert row.trn1.fits and row.trn2.fits
    assert row.trn1.tokens_per_s is not None and row.trn2.tokens_per_s is not None
    assert row.speedup == pytest.approx(row.trn2.tokens_per_s / row.trn1.tokens_per_s)
    assert row.region is not None  # both generations priced in one region, so PUE cancels


def test_energy_efficiency_is_not_validated_while_tdps_are_estimates(
    checks: dict[str, ClaimCheck], catalog: Catalog
) -> None:
    assert catalog.chip("trainium1").tdp.basis is Basis.ESTIMATE
    assert catalog.chip("trainium2").tdp.basis is Basis.ESTIMATE
    c = checks["trn2-energy-efficiency"]
    assert c.validated is False
    assert any("trainium2 TDP" in a and "estimate" in a for a in c.assumptions)
    spread = [r for r in rows_of(c.evidence, TrainingRow) if r.energy_efficiency_ratio_tdp_favourable is not None]
    assert spread
    for r in spread:
        lo, mid, hi = (
            r.energy_efficiency_ratio_tdp_unfavourable,
            r.energy_efficiency_ratio,
            r.energy_efficiency_ratio_tdp_favourable,
        )
        assert lo is not None and mid is not None and hi is not None
        assert lo < mid < hi


def test_validated_only_with_stated_tdps_and_validated_families(catalog: Catalog) -> None:
    chips = dict(catalog.chips)
    families = dict(catalog.families)
    for name in ("trainium1", "trainium2"):
        chip = chips[name]
        chips[name] = chip.model_copy(update={"tdp": chip.tdp.model_copy(update={"basis": Basis.STATED})})
        fam = families[chip.family]
        families[fam.name] = fam.model_copy(update={"validated": True})
    speed, energy = check_trainium(replace(catalog, chips=chips), SMALL_TRAINING)
    assert speed.validated is False and energy.validated is False  # families still unvalidated
    speed, energy = check_trainium(replace(catalog, chips=chips, families=families), SMALL_TRAINING)
    assert speed.validated is True and energy.validated is True


def test_a_family_without_measurements_is_listed_as_uncalibrated() -> None:
    """Trainium2's family with no rows of its own (here: its documented priors) is in ``uncalibrated``."""
    priors = load_catalog(use_env=False, calibrated=False)
    assert priors.family("aws-neuron-v3").calibration is None
    for c in check_trainium(priors, SMALL_TRAINING):
        (status,) = [u for u in c.uncalibrated if u.family == "aws-neuron-v3"]
        assert status.chips == ("trainium2",) and status.status.startswith("no measurements of its own")
        assert c.validated is False


def test_the_uncalibrated_status_is_the_catalogs_wording(catalog: Catalog) -> None:
    fam = catalog.family("aws-neuron-v3")
    assert not fam.validated and fam.calibration is not None and fam.calibration.rows > 0
    for c in check_trainium(catalog, SMALL_TRAINING):
        (status,) = [u for u in c.uncalibrated if u.family == "aws-neuron-v3"]
        assert status.status == catalog.family_status(fam)
        assert f"aws-neuron-v3 ({catalog.family_status(fam)})" in " ".join(c.assumptions)


def test_validated_families_are_not_listed(catalog: Catalog) -> None:
    families = dict(catalog.families)
    for name in ("trainium1", "trainium2"):
        fam = families[catalog.chip(name).family]
        families[fam.name] = fam.model_copy(update={"validated": True})
    for c in check_trainium(replace(catalog, families=families), SMALL_TRAINING):
        assert not c.uncalibrated
