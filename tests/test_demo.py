"""The demo compares like with like: every row on the pricing model asked for, the rest left out with why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chipfleet.catalog import Catalog, Pricing
from chipfleet.demo import (
    MOE_CONCURRENCY,
    MOE_FALLBACK_PRECISION,
    MOE_INSTANCES,
    MOE_PRECISION,
    SERVE_INSTANCES,
    TRAIN_INSTANCES,
    DemoResult,
    moe_serving_estimates,
    run_demo,
    serving_estimates,
    training_estimates,
)
from chipfleet.exceptions import ConfigError
from chipfleet.perf.engines import engine_profile
from chipfleet.perf.hardware import hardware_for
from chipfleet.report import tables
from chipfleet.serialize import to_jsonable


def test_an_instance_without_the_pricing_is_left_out_with_a_reason(cat: Catalog) -> None:
    """p5e.48xlarge has spot prices only: it used to be priced on spot next to on-demand rows."""
    assert cat.instance("p5e.48xlarge").price(None, Pricing.ON_DEMAND) is None
    rows, skipped = training_estimates(cat, ("p5e.48xlarge", "p5.48xlarge"), Pricing.ON_DEMAND)
    assert [e.instance for e in rows] == ["p5.48xlarge"]
    assert all(e.footprint.price.pricing is Pricing.ON_DEMAND for e in rows)
    assert len(skipped) == 1 and skipped[0].startswith("p5e.48xlarge: no on-demand price")
    assert "--pricing spot" in skipped[0]


def test_spot_only_when_chosen(cat: Catalog) -> None:
    rows, skipped = training_estimates(cat, ("p5e.48xlarge", "p4d.24xlarge"), Pricing.SPOT)
    assert [e.instance for e in rows] == ["p5e.48xlarge"]
    assert rows[0].footprint.price.pricing is Pricing.SPOT
    assert skipped and skipped[0].startswith("p4d.24xlarge: no spot price")
    spot = DemoResult(rows, [], skipped, pricing=Pricing.SPOT)
    assert spot.caveats == list(rows[0].caveats) and to_jsonable(spot)["caveats"] == spot.caveats
    assert any("stops whenever any" in c for c in spot.caveats)  # the rows include interruptions and say so
    on_demand, _ = training_estimates(cat, ("p4d.24xlarge",), Pricing.ON_DEMAND)
    assert DemoResult(on_demand, []).caveats == []


def test_comparison_tables_mark_pricing_only_when_rows_differ(cat: Catalog) -> None:
    od, _ = training_estimates(cat, ("p5.48xlarge",), Pricing.ON_DEMAND)
    sp, _ = training_estimates(cat, ("p5.48xlarge",), Pricing.SPOT)
    same = tables.training_comparison_table("t", od)
    assert "pricing" not in [c.header for c in same.columns] and "prices: all on-demand" in str(same.caption)
    mixed = tables.training_comparison_table("t", od + sp)
    col = next(c for c in mixed.columns if c.header == "pricing")
    assert list(col.cells) == ["on-demand", "spot"]
    assert "not like for like" in str(mixed.caption)
    sod, _ = serving_estimates(cat, ("g6e.xlarge",), Pricing.ON_DEMAND)
    s_same = tables.serving_comparison_table("s", sod)
    assert "pricing" not in [c.header for c in s_same.columns] and "prices: all on-demand" in str(s_same.caption)


# The demo at a small scale: the serving plan on the trace's first 1,000 requests (the whole demo runs in
# test_demo_command_writes_its_files_and_checks_the_folder_first, a slow test).
SMALL = 1000


@pytest.fixture(scope="module")
def demo(cat: Catalog) -> DemoResult:
    return run_demo(cat, plan_requests=SMALL)


def test_the_small_scale_is_a_prefix_of_the_trace(cat: Catalog) -> None:
    with pytest.raises(ConfigError, match="plan_requests must be at least 1") as err:
        run_demo(cat, plan_requests=0)
    assert err.value.field == "plan_requests"


def test_demo_rows_are_all_on_demand(demo: DemoResult, cat: Catalog) -> None:
    assert demo.pricing is Pricing.ON_DEMAND
    assert all(e.footprint.price.pricing is Pricing.ON_DEMAND for e in demo.training)
    assert all(e.footprint.price.pricing is Pricing.ON_DEMAND for e in demo.serving)
    listed = {e.instance for e in demo.training} | {s.split(":")[0] for s in demo.training_skipped}
    assert listed == set(TRAIN_INSTANCES)
    assert {e.instance for e in demo.serving} | {s.split(":")[0] for s in demo.serving_skipped} == set(SERVE_INSTANCES)
    if demo.serving_plan is not None:
        assert all(e.deployment.pricing is Pricing.ON_DEMAND for e in demo.serving_plan.mix.entries)
    assert to_jsonable(demo)["pricing"] == "on-demand"


@pytest.mark.slow
def test_demo_command_writes_its_files_and_checks_the_folder_first(tmp_path: Path) -> None:
    from chipfleet.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    assert main(["demo", "--out", str(blocker)]) == 2  # a file where the folder should be: refused before work
    assert blocker.read_text() == "keep me"
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), "--json"]) == 0
    data = json.loads((out / "chipfleet-demo.json").read_text())
    assert data["pricing"] == "on-demand"
    assert (out / "chipfleet-demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temp files


def test_chart_draws_the_cheapest_fleet(demo: DemoResult) -> None:
    from chipfleet.report.plots import demo_figure

    plan = demo.serving_plan
    assert plan is not None, demo.serving_plan_skipped
    ax = demo_figure(demo).axes[4]
    assert ax.get_title() == demo.serving_plan_title
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    for e in plan.mix.entries:
        assert any(t.startswith(f"{e.count} × {e.deployment.instance}") for t in ticks), ticks
    assert f"fleet ${plan.mix.cost_usd_per_h:,.2f}/h" in ax.get_xlabel()


def test_moe_comparison_lists_every_instance(demo: DemoResult) -> None:
    """Every MoE instance is a row or left out with its reason; rows are all on the demo's pricing."""
    rows = {r.estimate.instance for r in demo.moe_serving}
    left_out = {s.split(":")[0] for s in demo.moe_skipped}
    assert rows | left_out == set(MOE_INSTANCES) and not rows & left_out
    assert all(r.estimate.footprint.price.pricing is Pricing.ON_DEMAND for r in demo.moe_serving)
    assert all(r.estimate.config.batch == MOE_CONCURRENCY for r in demo.moe_serving)
    data = to_jsonable(demo)
    assert [r["engine"] for r in data["moe_serving"]] == [r.engine for r in demo.moe_serving]
    assert all(r["output_tokens_per_s_per_chip"] > 0 for r in data["moe_serving"])


def test_moe_rows_run_the_released_format_or_say_why_not(demo: DemoResult, cat: Catalog) -> None:
    for row in demo.moe_serving:
        weights = row.estimate.config.weight_precision
        if row.precision_note:
            assert weights is MOE_FALLBACK_PRECISION
            assert f"cannot hold {MOE_PRECISION.value} weights" in row.precision_note
            with pytest.raises(ConfigError) as err:
                hardware_for(cat, row.estimate.instance).resolve_precision(MOE_PRECISION)
            assert err.value.field == "weight_precision"
        else:
            assert weights is MOE_PRECISION
    by_chip = {r.estimate.chip: r for r in demo.moe_serving}
    # Blackwell and CDNA4 read MXFP4 (vendor formats); Trainium2 and MI300X do not.
    assert not by_chip["b200"].precision_note and not by_chip["mi355x"].precision_note
    assert by_chip["trainium2"].precision_note and by_chip["mi300x"].precision_note


def test_moe_engines_are_the_chips_own(demo: DemoResult, cat: Catalog) -> None:
    for row in demo.moe_serving:
        family = hardware_for(cat, row.estimate.instance).family
        assert engine_profile(row.engine).runs_on(family)
        assert row.estimate.result.engine == row.engine
    engines = {r.estimate.chip: r.engine for r in demo.moe_serving}
    assert engines["trainium2"] == "nxdi" and engines["tpu-v6e"] == "jetstream" and engines["h200"] == "vllm"


def test_moe_per_chip_throughput_and_its_range(demo: DemoResult) -> None:
    for row in demo.moe_serving:
        r = row.estimate.result
        assert row.output_tokens_per_s_per_chip * r.tp * r.replicas_per_instance == pytest.approx(r.output_tokens_per_s)
        rng = row.per_chip_range
        assert rng is not None and rng[0] <= row.output_tokens_per_s_per_chip <= rng[1]


def test_moe_left_out_with_reasons(cat: Catalog) -> None:
    """No on-demand price, or a model that does not fit: no row, and the reason."""
    rows, skipped = moe_serving_estimates(cat, ("p6e-gb200.36xlarge", "g6.xlarge"), Pricing.ON_DEMAND)
    assert rows == []
    assert skipped[0].startswith("p6e-gb200.36xlarge: no on-demand price")
    assert skipped[1].startswith("g6.xlarge: ") and "GB" in skipped[1]


def test_moe_table_and_chart_show_every_row(demo: DemoResult) -> None:
    from chipfleet.report.plots import demo_figure

    table = tables.moe_serving_table(demo.moe_title, demo.moe_serving)
    assert list(table.columns[0].cells) == [
        r.estimate.instance + ("" if r.estimate.validated else " †") for r in demo.moe_serving
    ]
    fig = demo_figure(demo)
    for ax in fig.axes[5:7]:
        ticks = [t.get_text() for t in ax.get_yticklabels()]
        assert [t.rstrip(" †") for t in ticks] == [r.estimate.instance for r in demo.moe_serving]
