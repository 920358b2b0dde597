"""Catalog.family_status: one wording, read from the family's calibration record, for every layer."""

from __future__ import annotations

from typing import Any

import pytest

from chipfleet.catalog import Catalog, EfficiencyFamily, load_catalog
from chipfleet.catalog.schema import CalibrationInfo
from chipfleet.exceptions import UnknownNameError


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(use_env=False)


def _with(family: EfficiencyFamily, *, validated: bool, **calibration: Any) -> EfficiencyFamily:
    base = {
        "data": "calibration.csv",
        "data_sha256": "0" * 64,
        "date": "2026-11-25",
        "rows": 0,
        "sources": 0,
        "method": "test",
    }
    cal = CalibrationInfo.model_validate({**base, **calibration}) if calibration else None
    return family.model_copy(update={"validated": validated, "calibration": cal})


def test_a_validated_family_has_no_status(catalog: Catalog) -> None:
    validated = [name for name, fam in catalog.families.items() if fam.validated]
    assert validated, "the shipped calibration validates some families"
    for name in validated:
        assert catalog.family_status(name) is None


def test_every_unvalidated_shipped_family_says_what_it_rests_on(catalog: Catalog) -> None:
    for name, fam in catalog.families.items():
        if fam.validated:
            continue
        status = catalog.family_status(name)
        assert status is not None
        assert fam.calibration is not None, f"{name}: the shipped overlay writes a calibration record"
        if fam.calibration.rows:
            assert status.startswith(f"fitted on only {fam.calibration.rows} row"), (name, status)
            assert "no measurements" not in status
        else:
            assert status.startswith("no measurements of its own (efficiencies: "), (name, status)


def test_fitted_rows_are_counted_from_the_record(catalog: Catalog) -> None:
    fam = catalog.family("aws-neuron-v3")
    one = _with(fam, validated=False, rows=1, sources=1)
    three = _with(fam, validated=False, rows=3, sources=2)
    assert one.calibration_status() == "fitted on only 1 row from 1 source, not cross-validated"
    assert catalog.family_status(three) == "fitted on only 3 rows from 2 sources, not cross-validated"


def test_a_family_without_rows_names_its_fallback(catalog: Catalog) -> None:
    fam = catalog.family("aws-neuron-v3")
    borrowed = _with(fam, validated=False, fallback="no measurements; geometric mean of aws's fitted families (x)")
    assert borrowed.calibration_status() == (
        "no measurements of its own (efficiencies: geometric mean of aws's fitted families (x))"
    )
    kept = _with(fam, validated=False, fallback="no measurements and no fitted family of the same vendor: kept")
    assert kept.calibration_status() == (
        "no measurements of its own (efficiencies: no fitted family of the same vendor: kept)"
    )
    bare = _with(fam, validated=False)  # no calibration record: an overlay's own or the documented priors
    assert (
        bare.calibration_status()
        == "no measurements of its own (efficiencies: as written in the catalog files, not fitted)"
    )


def test_the_validated_flag_wins_over_the_record(catalog: Catalog) -> None:
    fam = _with(catalog.family("aws-neuron-v3"), validated=True, rows=2, sources=1)
    assert fam.calibration_status() is None


def test_priors_have_no_measurements_of_their_own() -> None:
    priors = load_catalog(use_env=False, calibrated=False)
    status = priors.family_status("aws-neuron-v3")
    assert status is not None and status.startswith("no measurements of its own")


def test_unknown_family_is_a_lookup_error(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError, match=r"(?i)did you mean aws-neuron-v3"):
        catalog.family_status("aws-neuron-v4")
