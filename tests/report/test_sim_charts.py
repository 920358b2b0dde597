"""Simulation charts, built in memory: SLO targets drawn as labelled lines; files written whole; training tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.report.sim import (
    latency_cdf_figure,
    latency_p90_figure,
    mixed_plots,
    mixed_tables,
    serving_share_figure,
    slo_targets,
)
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.mixed import MixedOptions, MixedResult, simulate_mixed
from chipfleet.traces.schema import JobTrace, RequestTrace
from chipfleet.workloads import get_model


@pytest.fixture(scope="module")
def mixed(cat: Catalog) -> MixedResult:
    rng = np.random.default_rng(0)
    arr = np.cumsum(rng.exponential(1 / 4.0, 2400))
    arr = arr[arr < 600.0] - arr[0]
    n = arr.size
    req = RequestTrace(
        name="poisson", arrival_s=arr, input_tokens=np.full(n, 1024, dtype=np.int64),
        output_tokens=np.full(n, 128, dtype=np.int64), source="generated in the test", license="n/a", skipped_rows=0,
    )  # fmt: skip
    jobs = JobTrace(name="long", submit_s=np.zeros(8), chips=np.array([1, 1, 2, 4, 8, 8, 16, 1]),
                    duration_s=np.full(8, 3600.0))  # fmt: skip
    return simulate_mixed(get_model("llama-3-8b"), req, jobs, FleetSpec.parse("inf2.48xlarge:1,p4d.24xlarge:4"), cat,
                          options=MixedOptions(target_ttft_s=0.7), until_s=600.0)  # fmt: skip


def _hlines(ax: Any) -> dict[str, float]:
    """Label → y of every horizontal line on ``ax``."""
    out = {}
    for line in ax.get_lines():
        y = line.get_ydata()
        if len(y) == 2 and y[0] == y[1] and tuple(line.get_xdata()) == (0, 1):
            out[line.get_label()] = float(y[0])
    return out


def _vlines(ax: Any) -> dict[str, float]:
    out = {}
    for line in ax.get_lines():
        x = line.get_xdata()
        if len(x) == 2 and x[0] == x[1] and tuple(line.get_ydata()) == (0, 1):
            out[line.get_label()] = float(x[0])
    return out


def _close(fig: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_slo_targets_keep_only_known_ones() -> None:
    assert slo_targets(1.0, None) == {"ttft": 1.0}
    assert slo_targets(None, None) == {}
    assert slo_targets(float("nan"), 0.05) == {"tpot": 0.05}


def test_p90_chart_draws_each_known_slo_as_a_labelled_horizontal_line(mixed: MixedResult) -> None:
    fig = latency_p90_figure(mixed.serve, slo_ttft_s=0.5, slo_tpot_s=0.04)
    ttft_ax, tpot_ax = fig.axes
    assert _hlines(ttft_ax) == {"TTFT SLO (p90) 500.0 ms": 0.5}
    assert _hlines(tpot_ax) == {"TPOT SLO (p90) 40.0 ms": 0.04}
    assert ttft_ax.get_ylim()[1] >= 0.5  # the line is inside the plot
    _close(fig)
    fig = latency_p90_figure(mixed.serve, slo_ttft_s=0.5)  # no TPOT target: no line there
    assert _hlines(fig.axes[1]) == {}
    _close(fig)


def test_cdf_marks_the_slo_targets(mixed: MixedResult) -> None:
    fig = latency_cdf_figure(mixed.serve, slo_ttft_s=0.5)
    (ax,) = fig.axes
    assert _vlines(ax) == {"TTFT SLO (p90) 500.0 ms": 0.5}
    assert _hlines(ax) == {"p90": 0.9}
    _close(fig)


def test_mixed_chart_draws_the_ttft_target(mixed: MixedResult) -> None:
    assert mixed.target_ttft_s == 0.7
    assert len(mixed.ttft_p90_over_time) == 10  # one per 60 s control interval over 600 s
    fig = serving_share_figure(mixed)
    _, lat = fig.axes
    assert _hlines(lat) == {"TTFT SLO (p90) 700.0 ms": 0.7}
    _close(fig)


def test_mixed_plots_write_every_file(mixed: MixedResult, tmp_path: Path) -> None:
    paths = mixed_plots(mixed, np.zeros(8), tmp_path / "charts")
    names = {str(p.relative_to(tmp_path / "charts")) for p in paths}
    assert {"serving_nodes.png", "serve/latency_cdf.png", "serve/latency_p90.png", "train/jct_cdf.png"} <= names
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.rglob("*.tmp*"))  # no temp file left behind


def test_tables_show_allocated_and_idle_cost(mixed: MixedResult) -> None:
    from rich.console import Console

    console = Console(width=200, record=True)
    for table in mixed_tables(mixed):
        console.print(table)
    text = console.export_text()
    assert "cost of the chips jobs held" in text and "fleet bill (every instance, whole span)" in text
    assert "free chips of training's nodes" in text and "TTFT target" in text


@pytest.mark.parametrize(("chips", "duration"), [(8, 0.0), (4096, 10.0)])
def test_training_tables_print_no_nan_when_there_is_no_chip_time(cat: Catalog, chips: int, duration: float) -> None:
    """One zero-length job, or one job larger than the fleet (rejected): the span is 0, every share undefined."""
    from rich.console import Console

    from chipfleet.report.sim import train_tables
    from chipfleet.sim.training import ThroughputMatrix, simulate_training

    trace = JobTrace(name="one", submit_s=np.zeros(1), chips=np.array([chips]), duration_s=np.array([duration]))
    res = simulate_training(trace, FleetSpec.parse("p5.48xlarge:1"), cat,
                            matrix=ThroughputMatrix.from_relative({"p5.48xlarge": 1.0}))  # fmt: skip
    assert res.span_s == 0
    console = Console(width=200, record=True)
    for table in train_tables(res):
        console.print(table)
    text = console.export_text().lower()
    assert "nan" not in text and "inf" not in text.replace("info", "")
    assert "—" in text
