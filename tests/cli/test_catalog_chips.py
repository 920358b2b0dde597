"""`catalog chips` at a narrow terminal: the notes on chips with no public instance wrap to its width."""

from __future__ import annotations

import pytest

from chipfleet.catalog import default_catalog
from chipfleet.cli import main


def test_catalog_chips_notes_fit_an_80_column_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["catalog", "chips"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    too_wide = [line for line in lines if len(line) > 80]
    assert not too_wide, too_wide
    cat = default_catalog()
    unsold = [c for c in cat.chips.values() if not cat.instances_of(c)]
    assert unsold, "the catalog names chips with no public instance (Maia 100)"
    flowing = " ".join(out.split())
    for chip in unsold:  # each note is there in full, only wrapped
        assert " ".join(f"{chip.name}: no public instance. {chip.availability}".split()) in flowing
