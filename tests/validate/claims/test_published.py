"""The claim records against the `claim` rows of the shipped calibration.csv they cite."""

from __future__ import annotations

import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.validate.claims import CLAIMS, claim
from chipfleet.validate.dataset import shipped_measurements


def test_claim_values_are_the_calibration_rows() -> None:
    rows = {m.id: m for m in shipped_measurements().rows if m.kind == "claim"}
    for c in CLAIMS:
        cited = [rows[rid] for rid in c.row_ids]
        (headline,) = [m for m in cited if m.metric != "accelerator_count"]
        assert c.value == headline.value, c.id
        counts = [m.value for m in cited if m.metric == "accelerator_count"]
        assert c.accelerator_count == (int(counts[0]) if counts else None), c.id
    assert {rid for c in CLAIMS for rid in c.row_ids} == set(rows)  # every claim row of the CSV is checked


def test_unknown_claim_says_which_exist() -> None:
    with pytest.raises(ConfigError, match="inf2-throughput") as info:
        claim("inf3-throughput")
    assert info.value.field == "claim_id"
