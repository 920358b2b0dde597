"""The sweep report: break-even by interpolation (exact on straight lines), Pareto fronts, sensitivity, exports."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from chipfleet.store import open_store
from chipfleet.sweep import engine, report
from chipfleet.sweep.backends import LocalBackend
from chipfleet.sweep.engine import Context
from chipfleet.sweep.spec import BreakEven, Pareto, parse_spec

AXES = ["family", "prices.x"]


def rows_of(curves: dict[str, list[tuple[float, float]]]) -> list[dict[str, Any]]:
    return [{"family": f, "prices.x": x, "cost": y} for f, pts in curves.items() for x, y in pts]


def test_break_even_is_where_two_straight_lines_cross() -> None:
    # custom: 100·m; nvidia: 70 flat → they cross at m = 0.7, between the swept 0.5 and 1.0
    rows = rows_of({"custom": [(m, 100 * m) for m in (0.5, 1.0, 1.5)], "nvidia": [(m, 70.0) for m in (0.5, 1.0, 1.5)]})
    [c] = report.break_even(rows, AXES, BreakEven(output="cost", across="prices.x", between="family"))
    assert c.at == pytest.approx(0.7) and (c.low_side, c.high_side) == ("custom", "nvidia")
    assert "break even at prices.x = 0.7" in c.statement() and "below it custom is lower" in c.statement()


def test_no_crossing_in_range_is_said_as_such_and_equal_curves_give_none() -> None:
    rows = rows_of({"a": [(1.0, 1.0), (2.0, 2.0)], "b": [(1.0, 5.0), (2.0, 6.0)]})
    [c] = report.break_even(rows, AXES, BreakEven(output="cost", across="prices.x", between="family"))
    assert c.at is None and c.low_side == "a" and "no break-even in range" in c.statement()
    same = rows_of({"a": [(1.0, 1.0), (2.0, 2.0)], "b": [(1.0, 1.0), (2.0, 2.0)]})
    assert report.break_even(same, AXES, BreakEven(output="cost", across="prices.x", between="family")) == []


def test_higher_is_better_flips_which_side_wins() -> None:
    rows = rows_of({"a": [(0.0, 0.0), (2.0, 2.0)], "b": [(0.0, 1.0), (2.0, 1.0)]})
    [c] = report.break_even(
        rows, AXES, BreakEven(output="cost", across="prices.x", between="family", lower_is_better=False)
    )
    assert c.at == pytest.approx(1.0) and (c.low_side, c.high_side) == ("b", "a")


def test_the_pareto_front_keeps_only_points_nothing_beats_on_both() -> None:
    pts = [(1, 9), (2, 5), (3, 6), (4, 2), (5, 2), (6, 1), (2, 9)]
    rows = [{"family": str(i), "cost": x, "time": y} for i, (x, y) in enumerate(pts)]
    front = report.pareto(rows, ["family"], Pareto(x="cost", y="time"))
    assert [(p["cost"], p["time"]) for p in front.points] == [(1, 9), (2, 5), (4, 2), (6, 1)]
    up = report.pareto(rows, ["family"], Pareto(x="cost", y="time", minimize_y=False))
    assert [(p["cost"], p["time"]) for p in up.points] == [(1, 9)]


def test_a_where_compares_numbers_as_numbers_and_says_when_it_selects_nothing() -> None:
    rows = [{"batch": b, "family": f, "cost": c} for b, f, c in ((1024, "a", 1.0), (512, "a", 2.0), (1024, "b", 3.0))]
    front = report.pareto(rows, ["batch", "family"], Pareto(x="cost", y="cost", where={"batch": "1024.0"}))
    assert sorted(p["cost"] for p in front.points) == [1.0]  # 1024.0 names the points of batch 1024
    assert report.unmatched(rows, {"batch": 1024.0, "family": "A"}, "report.pareto[0]") is None  # any case
    note = report.unmatched(rows, {"batch": 2048}, "report.break_even[0]")
    assert note == "report.break_even[0]: no point has batch=2048 (the sweep's values: 1024, 512); it is left out"


def test_outputs_of_different_commands_are_not_compared_with_each_other() -> None:
    # "cost" is a whole training run's for one command, an hour of serving's for the other
    rows = [
        {report.COMMAND: cmd, "workload": wl, "chip": chip, "cost": base * k}
        for cmd, wl, base in (("estimate train", "training", 1e6), ("estimate serve", "serving", 50.0))
        for chip, k in (("trn2", 1.0), ("h100", 1.5))
    ]
    ranked = report.sensitivity(rows, ["workload", "chip"], ["cost"])
    assert {(s.command, s.axis) for s in ranked} == {("estimate train", "chip"), ("estimate serve", "chip")}
    assert all(s.spread == pytest.approx(0.4) for s in ranked)  # 1.5 - 1.0 over their mean 1.25, in each command
    assert {s.label for s in ranked} == {"cost (estimate train points)", "cost (estimate serve points)"}
    single = [{k: v for k, v in r.items() if k != report.COMMAND} for r in rows if r["workload"] == "training"]
    assert [s.label for s in report.sensitivity(single, ["chip"], ["cost"])] == ["cost"]


def test_sensitivity_ranks_the_axes_that_move_an_output_most() -> None:
    rows = [{"a": a, "b": b, "y": 10 * a + b} for a in (1, 2) for b in (0, 1)]
    ranked = report.sensitivity(rows, ["a", "b"], ["y"])
    assert [s.axis for s in ranked] == ["a", "b"] and ranked[0].means == {"1": 10.5, "2": 20.5}


def test_a_real_sweep_reports_its_break_even_and_exports_csv_and_parquet(tmp_path: Path, ctx: Context) -> None:
    spec = parse_spec(
        {
            "name": "be",
            "command": "estimate train",
            "fixed": {"model": "llama-3-8b", "tokens": "10B", "instances": 2},
            "axes": {"instance": ["trn1.32xlarge", "p5.48xlarge"]},
            "prices": {"custom": {"instances": "trn*", "values": [0.25, 0.5, 1.0, 2.0]}},
            "outputs": {"cost_usd": "footprint.cost_usd", "time_s": "footprint.time_s"},
        }
    )
    store = open_store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    sid = engine.run(spec, ctx, store, LocalBackend(1)).sweep_id
    rep = report.build(store, sid[:10])
    [c] = [c for c in rep.crossings if c.output == "cost_usd"]
    trn = dict(c.curves["trn1.32xlarge"])
    nvidia = dict(c.curves["p5.48xlarge"])[1.0]
    assert c.at == pytest.approx(nvidia / trn[1.0], rel=1e-9)  # cost is linear in the multiplier: exact
    files = report.write_files(
        rep, store, out=tmp_path / "out", csv_path=tmp_path / "p.csv", parquet_path=tmp_path / "p.parquet"
    )
    with (tmp_path / "p.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 8 and set(table[0]) >= {"point_id", "instance", "prices.custom", "cost_usd", "time_s"}
    parquet = pq.read_table(tmp_path / "p.parquet").to_pylist()
    assert sorted(r["cost_usd"] for r in parquet) == pytest.approx(sorted(float(r["cost_usd"]) for r in table))
    names = {p.name for p in files}
    assert {"points.csv", "sensitivity_cost_usd.png", "pareto_cost_usd_time_s.png"} <= names
    assert any(n.startswith("break_even_cost_usd") for n in names)
    assert all(p.stat().st_size > 0 for p in files)
    data = rep.to_json()
    assert data["done"] == 8 and data["break_even"][0]["statement"]
    [summary, *_] = report.tables(rep, 0)  # both ends of each output, none called "best"
    assert [c.header for c in summary.columns][-2:] == ["lowest at", "highest at"]
    cells = {c.header: list(c.cells) for c in summary.columns}
    i = cells["output"].index("cost_usd")
    assert "prices.custom=0.25" in cells["lowest at"][i] and "prices.custom=2.0" in cells["highest at"][i]


def test_a_report_of_a_run_that_is_not_a_sweep_says_so(tmp_path: Path) -> None:
    from chipfleet.exceptions import ConfigError

    store = open_store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    rid = store.save("estimate train", {"model": "m"}, {"x": 1}, catalog_hash="h", overlays=[])
    with pytest.raises(ConfigError, match="is a 'estimate train' run, not a sweep"):
        report.build(store, rid)
