"""The disaggregated plan's chart: both pools' instances and cost shares, the link planned and replayed; a plan
without a split is a clean error saying why."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError
from chipfleet.plan.serve.plan import ServePlan, serve
from chipfleet.plan.serve.spec import DisaggMode, ServeConstraints, ServeSLO
from chipfleet.report.serve_plan import split_png, write_split_plot
from chipfleet.traces import poisson
from chipfleet.workloads import get_model

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def plan(cat: Catalog) -> ServePlan:
    """8k-token prompts, 64-token outputs, a 12 ms TPOT on one-GPU instances: a split the replay accepts."""
    trace = poisson(10.0, duration_s=120, input_dist="fixed:8192", output_dist="fixed:64", rng=np.random.default_rng(0))
    return serve(
        get_model("llama-3.1-8b"), trace, ServeSLO(2.0, 0.012), catalog=cat,
        constraints=ServeConstraints(instances=("p5.4xlarge",)), disagg=DisaggMode.ON, replay_rounds=1,
    )  # fmt: skip


def _figure(plan: ServePlan, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The figure split_png draws (to_png captured)."""
    import chipfleet.report.serve_plan as sp

    seen: list[Any] = []
    monkeypatch.setattr(sp, "to_png", lambda fig: seen.append(fig) or PNG)
    split_png(plan)
    return seen[0]


def test_the_chart_shows_both_pools_their_cost_shares_and_the_link(
    plan: ServePlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    o = plan.disagg
    assert o is not None and o.mix is not None and o.rounds
    mix = o.mix
    fig = _figure(plan, monkeypatch)
    count_ax, cost_ax, link_ax = fig.axes
    pools = (*mix.prefill, *mix.decode)
    counts = sorted(p.get_width() for p in count_ax.patches)
    assert counts == sorted(float(e.count) for e in pools)
    shares = [p.get_width() for p in cost_ax.patches]
    assert sum(shares) == pytest.approx(1.0)
    assert sorted(shares) == pytest.approx(sorted(e.cost_usd_per_h / mix.cost_usd_per_h for e in pools))
    heights = [p.get_height() for p in link_ax.patches]
    assert heights == pytest.approx([*(link.utilisation for link in mix.links), o.rounds[-1].link_utilisation])
    (cap,) = [ln for ln in link_ax.get_lines() if ln.get_label().startswith("planner's cap")]
    assert cap.get_ydata()[0] == 0.5 and link_ax.get_ylim()[1] > 0.5


def test_a_split_is_written_as_png(plan: ServePlan, tmp_path: Path) -> None:
    path = write_split_plot(plan, tmp_path / "a" / "split.png")
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000


def test_no_split_is_a_clean_error_saying_why(plan: ServePlan, tmp_path: Path) -> None:
    assert plan.disagg is not None
    none_found = dataclasses.replace(plan, disagg=dataclasses.replace(plan.disagg, mix=None, reason="no pair fits"))
    with pytest.raises(ConfigError, match="no disaggregated fleet to draw: no pair fits"):
        write_split_plot(none_found, tmp_path / "split.png")
    with pytest.raises(ConfigError, match="disagg off"):
        write_split_plot(dataclasses.replace(plan, disagg=None), tmp_path / "split.png")
    assert not (tmp_path / "split.png").exists()
