"""Every headline claim (calibration.csv rows GT0166-GT0171) checked: structured verdicts that follow the evidence.

The numbers asserted here are catalog facts (published peaks) and invariants of the check, not outputs of the
performance model, which is still being calibrated.
"""

from __future__ import annotations

import json
import math

import pytest

from chipfleet.serialize import dumps
from chipfleet.validate.claims import CLAIMS, VERDICTS, ClaimCheck


def test_every_headline_claim_is_checked(checks: dict[str, ClaimCheck]) -> None:
    assert set(checks) == {c.id for c in CLAIMS}
    assert set(checks) == {
        "inf2-throughput",
        "inf2-latency",
        "trn2-training-speed",
        "trn2-energy-efficiency",
        "ceiba-exaflops",
    }
    row_ids = {rid for c in checks.values() for rid in c.row_ids}
    assert row_ids == {f"GT{n:04d}" for n in range(166, 172)}


def test_verdicts_are_from_the_allowed_set(checks: dict[str, ClaimCheck]) -> None:
    assert set(VERDICTS) == {"holds", "holds only when", "not supported by published specs"}
    for c in checks.values():
        assert c.verdict in VERDICTS
        assert c.evidence and c.assumptions


@pytest.mark.parametrize(
    ("claim_id", "metric", "kind"),
    [
        ("inf2-throughput", "throughput_ratio", "sweep"),
        ("inf2-latency", "request_latency_ratio", "sweep"),
        ("trn2-training-speed", "speedup", "training"),
        ("trn2-energy-efficiency", "energy_efficiency_ratio", "training"),
    ],
)
def test_ratio_verdicts_follow_the_evidence(
    checks: dict[str, ClaimCheck], claim_id: str, metric: str, kind: str
) -> None:
    c = checks[claim_id]
    assert c.metric == metric
    ratios = [x for r in c.evidence if r.kind == kind and (x := getattr(r, metric)) is not None]
    assert ratios, "the default grid must have cases that fit both generations"
    assert c.model_value == pytest.approx(max(ratios))
    reached = [x for x in ratios if x >= c.claim_value]
    expected = (
        "holds" if len(reached) == len(ratios) else "holds only when" if reached else "not supported by published specs"
    )
    assert c.verdict == expected


def test_checks_serialize_to_strict_json_keyed_by_attribute(checks: dict[str, ClaimCheck]) -> None:
    back = json.loads(dumps(list(checks.values())))
    assert {d["id"] for d in back} == set(checks)
    for d in back:
        assert d["verdict"] in VERDICTS
        assert isinstance(d["evidence"], list) and d["evidence"]
        assert all("kind" in row for row in d["evidence"])
        assert d["model_value"] is None or math.isfinite(d["model_value"])
    sweep = next(r for r in back[0]["evidence"] if r["kind"] == "sweep")
    assert {"instance", "fits", "request_latency_s"} <= set(sweep["inf1"])  # each side is its own object
