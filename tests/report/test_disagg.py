"""Charts of a disaggregated run: latency CDFs with the SLOs as labelled lines, each pool's utilisation and queue and
the KV link's utilisation per window (the windows add up to the run's totals), files written whole as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.report.disagg import FILES, disagg_plots, latency_figure, link_figure, pools_figure, tick_label
from chipfleet.sim.serving import DisaggOptions, DisaggResult, PoolSpec, simulate_disaggregated
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import get_model

PNG = b"\x89PNG\r\n\x1a\n"
SLO_TTFT_S, SLO_TPOT_S = 1.5, 0.03


def _trace(arrival: np.ndarray, inp: np.ndarray, out: np.ndarray) -> RequestTrace:
    return RequestTrace(
        name="test", arrival_s=arrival - arrival[0], input_tokens=inp.astype(np.int64),
        output_tokens=out.astype(np.int64), source="generated in the test", license="n/a", skipped_rows=0,
    )  # fmt: skip


def _run(cat: Catalog, tr: RequestTrace, prefill: str, decode: str) -> DisaggResult:
    return simulate_disaggregated(
        get_model("llama-3-8b"), tr, PoolSpec.parse(prefill, "prefill"), PoolSpec.parse(decode, "decode"), cat,
        DisaggOptions(slo_ttft_s=SLO_TTFT_S, slo_tpot_s=SLO_TPOT_S, window_s=10.0),
    )  # fmt: skip


@pytest.fixture(scope="module")
def busy(cat: Catalog) -> DisaggResult:
    """Three minutes of Poisson load on one prefill worker and one decode worker that admits 3 sequences: prompts
    queue for prefill and prefilled requests for decode room."""
    rng = np.random.default_rng(0)
    n = 900
    arrival = np.cumsum(rng.exponential(1 / 5.0, n))
    tr = _trace(arrival, rng.integers(256, 4096, n), rng.integers(16, 256, n))
    return _run(cat, tr, "p5.48xlarge:1:tp=8", "p5en.48xlarge:1:tp=8:max-seqs=3")


def _vlines(ax: Any) -> dict[str, float]:
    """Label → x of every vertical line on ``ax`` (axvline draws x = (v, v) over y = (0, 1) in axes units)."""
    out = {}
    for line in ax.get_lines():
        x = line.get_xdata()
        if len(x) == 2 and x[0] == x[1] and tuple(line.get_ydata()) == (0, 1):
            out[line.get_label()] = float(x[0])
    return out


def test_latency_cdfs_mark_each_slo_and_p90(busy: DisaggResult) -> None:
    fig = latency_figure(busy, SLO_TTFT_S, SLO_TPOT_S)
    ttft, tpot, e2e = fig.axes
    assert _vlines(ttft) == {"TTFT SLO (p90) 1.50 s": SLO_TTFT_S}
    assert _vlines(tpot) == {"TPOT SLO (p90) 30.0 ms": SLO_TPOT_S}
    assert _vlines(e2e) == {}  # no end-to-end SLO
    for ax, name in ((ttft, "ttft"), (tpot, "tpot"), (e2e, "e2e")):
        h = busy.histograms[name]
        (marker,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("p90 ")]
        assert marker.get_xdata()[0] == h.percentile(90) and marker.get_ydata()[0] == 0.9
        step = next(ln for ln in ax.get_lines() if ln.get_label().endswith(" requests"))
        assert step.get_label() == f"{h.total:,} requests" and step.get_ydata()[-1] == pytest.approx(1.0)
        assert ax.get_xscale() == "log"
    fig = latency_figure(busy)  # no SLOs known: no lines
    assert all(_vlines(ax) == {} for ax in fig.axes)


def test_the_windows_add_up_to_the_runs_utilisation(busy: DisaggResult) -> None:
    """Busy seconds per window over the run are the run's busy seconds: Σ series × window = utilisation × span."""
    w = busy.window_s
    link = busy.link
    assert link.utilization > 0 and len(link.utilization_series) >= busy.span_s // w
    assert sum(link.utilization_series) * w == pytest.approx(link.utilization * busy.span_s, rel=1e-9)
    for pool in busy.pools:
        assert sum(pool.utilization_series) * w == pytest.approx(pool.utilization * busy.span_s, rel=1e-9)
        assert all(v >= 0 and v == int(v) for v in pool.queue_series)
    prefill, decode = busy.pools
    assert max(prefill.queue_series) > 0  # prompts queued for the one prefill worker
    assert max(decode.queue_series) > 0  # prefilled requests waited for room (3 sequences at a time)


def test_pools_chart_draws_each_pools_series_per_window(busy: DisaggResult) -> None:
    fig = pools_figure(busy)
    util, queue = fig.axes
    for ax, attr in ((util, "utilization_series"), (queue, "queue_series")):
        lines = ax.get_lines()
        assert len(lines) == 2
        for line, pool in zip(lines, busy.pools, strict=True):
            series = getattr(pool, attr)
            assert list(line.get_ydata()) == [*series, series[-1]]  # the last window drawn across to its end
            assert line.get_xdata()[-1] == pytest.approx(len(series) * busy.window_s / 60)
        assert lines[0].get_label().startswith("prefill") and lines[1].get_label().startswith("decode")


def test_link_chart_scales_to_the_traffic_and_shows_the_transfers(busy: DisaggResult) -> None:
    fig = link_figure(busy)
    series_ax, cdf_ax = fig.axes
    top = series_ax.get_ylim()[1]
    assert max(busy.link.utilization_series) < top <= max(0.05, max(busy.link.utilization_series) * 1.25) + 1e-12
    step = next(ln for ln in cdf_ax.get_lines() if ln.get_label().endswith(" transfers"))
    assert step.get_label() == f"{busy.link.transfers:,} transfers"
    assert busy.link.kind in series_ax.get_title()


def test_tick_labels_are_short_durations() -> None:
    assert [tick_label(x) for x in (2e-4, 0.05, 0.2, 1.0, 20.0)] == ["200 µs", "50 ms", "200 ms", "1 s", "20 s"]


def test_plots_are_png_files_written_into_a_new_folder(busy: DisaggResult, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "charts"
    paths = disagg_plots(busy, out, slo_ttft_s=SLO_TTFT_S, slo_tpot_s=SLO_TPOT_S)
    assert [p.name for p in paths] == list(FILES) and all(p.parent == out for p in paths)
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000


def test_a_run_without_tpot_samples_still_draws(cat: Catalog, tmp_path: Path) -> None:
    """One-token outputs have no TPOT: its panel says so instead of failing."""
    tr = _trace(np.array([0.0, 0.5, 1.0]), np.array([512, 512, 512]), np.array([1, 1, 1]))
    r = _run(cat, tr, "p5.48xlarge:1", "p5.48xlarge:1")
    assert r.histograms["tpot"].total == 0
    fig = latency_figure(r, SLO_TTFT_S, SLO_TPOT_S)
    assert any(t.get_text() == "no samples" for t in fig.axes[1].texts)
    assert all(p.read_bytes().startswith(PNG) for p in disagg_plots(r, tmp_path))
