"""`catalog chips`: the notes on chips with no public instance wrap to a narrow terminal; --json carries formats."""

from __future__ import annotations

import json

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


def test_catalog_chips_json_gives_each_chips_formats_and_scale_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "chips", "--vendor", "nvidia", "--json"]) == 0
    chips = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    gb200 = chips["gb200"]
    assert "nvfp4" in gb200["formats"]["activations"] and "nvfp4" in gb200["formats"]["kv_cache"]
    assert gb200["scale_up"]["domain"]["value"] == 72
    h100 = chips["h100-sxm"]
    assert "mxfp4" in h100["formats"]["weights"] and "mxfp4" not in h100["formats"]["activations"]
