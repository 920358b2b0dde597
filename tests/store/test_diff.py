"""Comparing two runs' JSON: leaves by path, records matched by name, moves ranked headline first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chipfleet.store.diff import changes, diff_runs, flatten, is_headline, moves, overlay_changes
from chipfleet.store.records import RunRecord


def test_lists_of_named_records_flatten_by_name_and_other_lists_by_position() -> None:
    doc = {"mix": [{"instance": "p5.48xlarge", "region": "us-east-1", "count": 2}], "p": [1.0, 2.0], "e": {}}
    assert dict(flatten(doc)) == {"mix[p5.48xlarge/us-east-1].count": 2, "mix[p5.48xlarge/us-east-1].instance":
                                  "p5.48xlarge", "mix[p5.48xlarge/us-east-1].region": "us-east-1", "p[0]": 1.0,
                                  "p[1]": 2.0, "e": {}}  # fmt: skip


def test_reordered_records_are_not_changes_and_added_ones_are() -> None:
    a = {"chips": [{"name": "a", "tflops": 1}, {"name": "b", "tflops": 2}]}
    b = {"chips": [{"name": "b", "tflops": 2}, {"name": "a", "tflops": 1}, {"name": "c", "tflops": 3}]}
    assert [(c.path, c.old, c.new) for c in changes(a, b)] == [
        ("chips[c].name", None, "c"), ("chips[c].tflops", None, 3)
    ]  # fmt: skip


def test_headline_moves_come_first_then_the_largest_relative_moves() -> None:
    old = {"cost_usd": 100.0, "detail": {"a": 1.0, "b": 1.0, "zero": 0.0}, "label": "x", "flag": True}
    new = {"cost_usd": 101.0, "detail": {"a": 3.0, "b": 0.5, "zero": 2.0}, "label": "y", "flag": False}
    moved, other = moves(old, new)
    assert [m.path for m in moved] == ["cost_usd", "detail.zero", "detail.a", "detail.b"]
    assert moved[0].headline and moved[0].percent == 1.0 and moved[0].delta == 1.0
    assert moved[1].percent is None  # from zero: no percentage, listed as the largest move
    assert [c.path for c in other] == ["label", "flag"]  # booleans and text are changes, not moves
    assert is_headline("result.ttft_s") and not is_headline("result.memory.kv_cache_bytes")


def test_overlay_changes_name_the_records_whose_prices_changed() -> None:
    def overlay(usd: int, sha: str) -> dict[str, Any]:
        price = f"{{region: us-east-1, pricing: spot, value: {usd}}}"
        text = f"instances:\n  - name: p5.48xlarge\n    prices:\n      - {price}\n"
        return {"path": "/a/deal.yaml", "sha256": sha, "text": text}

    [c] = overlay_changes([overlay(40, "1")], [overlay(30, "2")])
    assert (c.name, c.status, c.old_sha256, c.new_sha256) == ("deal.yaml", "changed", "1", "2")
    assert [(r.path, r.old, r.new) for r in c.records] == [
        ("instances[p5.48xlarge].prices[us-east-1/spot].value", 40, 30)
    ]
    assert overlay_changes([overlay(40, "1")], [overlay(40, "1")]) == []
    [gone] = overlay_changes([overlay(40, "1")], [])
    assert gone.status == "removed" and gone.records[0].new is None


def _run(rid: str, version: str, outputs: Any, inputs: dict[str, Any]) -> RunRecord:
    now = datetime.now(UTC)
    return RunRecord(
        id=rid, kind="estimate train", status="done", inputs=inputs, outputs=outputs, error=None, progress=1.0,
        progress_message="", catalog_hash="h", overlays=[], version=version, source="cli", owner="", created_at=now,
        finished_at=now, timings={},
    )  # fmt: skip


def test_a_diff_of_two_runs_reports_inputs_version_and_moves() -> None:
    d = diff_runs(_run("a", "0.1.0", {"time_s": 10.0}, {"tp": 8}), _run("b", "0.2.0", {"time_s": 8.0}, {"tp": 16}))
    assert [(c.path, c.old, c.new) for c in d.inputs] == [("tp", 8, 16)]
    assert d.version == ("0.1.0", "0.2.0") and d.catalog_hash is None and d.status is None
    assert [(m.path, m.percent) for m in d.moves] == [("time_s", -20.0)] and not d.same_answer
    assert diff_runs(_run("a", "1", {"x": 1}, {}), _run("b", "1", {"x": 1}, {})).same_answer
