"""Charts of a disaggregated serving simulation: latency against the SLOs, each pool over time, the KV-cache link.

Each figure reads without hovering: titles say what is drawn, SLO targets and the p90 level are labelled lines,
the two pools keep one colour each (prefill C0, decode C1) across figures. Files go through
:func:`chipfleet.serialize.atomic_write_bytes` (whole or not at all).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from chipfleet.report import units as u
from chipfleet.report.charts import subplots, to_png
from chipfleet.report.sim import slo_targets
from chipfleet.serialize import atomic_write_bytes
from chipfleet.sim.serving import DisaggResult

POOL_COLOURS = {"prefill": "C0", "decode": "C1"}
LATENCY_PANELS = (("ttft", "TTFT (arrival to the cache landing)"), ("tpot", "TPOT"), ("e2e", "end-to-end"))
FILES = ("latency_cdf.png", "pools_over_time.png", "kv_link.png")


def _minutes(n: int, window_s: float) -> Any:
    """The start of each of ``n`` windows, in minutes."""
    return np.arange(n) * window_s / 60


def _windows(ax: Any, values: list[float], window_s: float, **kwargs: Any) -> None:
    """``values`` per window as steps, each window's level drawn across it (the last one to its end too)."""
    if values:
        ax.step(_minutes(len(values) + 1, window_s), [*values, values[-1]], where="post", **kwargs)


def tick_label(seconds: float) -> str:
    """A short duration for a tick at 1, 2 or 5 of a decade: '50 ms', '2 s', '200 µs'."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def _duration_axis(ax: Any, low: float, high: float) -> None:
    """A log time axis over [``low``, ``high``] seconds labelled in durations: ticks at 1, 2 and 5 of each decade
    over up to two decades, at each power of ten beyond (labels must not run into each other)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    decades = math.log10(high / low) if low > 0 and high > low else 0.0
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 2.0 else (1.0,)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: tick_label(x)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _percent_axis(ax: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0))


def _cdf(ax: Any, r: DisaggResult, name: str, colour: str, what: str = "requests") -> bool:
    """Step plot of histogram ``name``'s CDF on ``ax`` with its p90 marked; False when it holds no sample."""
    h = r.histograms.get(name)
    if h is None or h.total == 0:
        ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes, color="grey")
        return False
    x, y = h.cdf()
    ax.step(x, y, where="post", color=colour, label=f"{h.total:,} {what}")
    p90 = h.percentile(90)
    ax.plot([p90], [0.9], "o", color=colour, ms=5, label=f"p90 {u.duration(p90)}")
    _duration_axis(ax, float(x[0]), float(x[-1]))
    return True


def latency_figure(r: DisaggResult, slo_ttft_s: float | None = None, slo_tpot_s: float | None = None) -> Any:
    """TTFT, TPOT and end-to-end latency CDFs side by side (log seconds), each with its p90 marked and, where one
    is known, its p90 SLO target as a labelled vertical line."""
    targets = slo_targets(slo_ttft_s, slo_tpot_s)
    fig, axes = subplots(1, 3, figsize=(12, 4.2), sharey=True)
    for ax, (name, title) in zip(axes, LATENCY_PANELS, strict=True):
        if _cdf(ax, r, name, "C2"):
            ax.axhline(0.9, color="grey", ls=":", lw=1.0)
            if name in targets:
                ax.axvline(targets[name], color="C3", ls="--", lw=1.2,
                           label=f"{name.upper()} SLO (p90) {u.duration(targets[name])}")  # fmt: skip
            ax.legend(fontsize=8, loc="lower right")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("latency (log scale)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of requests")
    axes[0].set_ylim(0, 1.02)
    att = "" if r.slo_attainment is None else f", SLO attainment {u.percent(r.slo_attainment)}"
    fig.suptitle(f"{r.model}: prefill {r.prefill} → decode {r.decode}{att}", fontsize=10)
    return fig


def pools_figure(r: DisaggResult) -> Any:
    """Each pool's busy fraction of chips (top) and its waiting requests (bottom) per window, over the run."""
    fig, (util, queue) = subplots(2, 1, figsize=(8, 6), sharex=True)
    for p in r.pools:
        colour = POOL_COLOURS.get(p.role, "C7")
        label = f"{p.role}: {p.instances} × {p.instance} (mean {u.percent(p.utilization)})"
        _windows(util, p.utilization_series, r.window_s, color=colour, label=label)
        _windows(
            queue,
            p.queue_series,
            r.window_s,
            color=colour,
            label="prefill: waiting to be admitted" if p.role == "prefill" else "decode: waiting for KV room",
        )
    util.set_ylabel("chips busy")
    util.set_ylim(0, 1.05)
    _percent_axis(util)
    util.set_title(f"Pools over time ({r.window_s:g} s windows)", fontsize=10)
    util.legend(fontsize=8, loc="upper right")
    util.grid(alpha=0.3)
    queue.set_ylabel("requests waiting (most per window)")
    queue.set_xlabel("minutes")
    queue.set_ylim(0, None)
    queue.legend(fontsize=8, loc="upper right")
    queue.grid(alpha=0.3)
    return fig


def link_figure(r: DisaggResult) -> Any:
    """The KV-cache link's utilisation per window (left) and the transfer-time CDF, link queueing included
    (right)."""
    k = r.link
    fig, (ax, cdf) = subplots(1, 2, figsize=(11, 4.2))
    series = k.utilization_series
    _windows(ax, series, r.window_s, color="C4", label=f"per window (mean {u.percent(k.utilization)})")
    ax.set_xlabel("minutes")
    ax.set_ylabel("busy share of the prefill workers' link")
    # scaled to the traffic (a link a few per cent busy is the usual case); at least 0–5 %
    ax.set_ylim(0, max(0.05, max(series, default=0.0) * 1.25))
    _percent_axis(ax)
    ax.set_title(f"KV link utilisation: {k.kind}, {k.bytes_per_s / 1e9:,.1f} GB/s per prefill worker", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    if _cdf(cdf, r, "transfer", "C4", "transfers"):
        cdf.axhline(0.9, color="grey", ls=":", lw=1.0)
        cdf.legend(fontsize=8, loc="lower right")
    cdf.set_xlabel("link queue + latency + bytes ÷ bandwidth (log scale)")
    cdf.set_ylabel("fraction of transfers")
    cdf.set_ylim(0, 1.02)
    moved = f"{k.transfers:,} transfers, {u.gigabytes(k.bytes_moved)}"
    cdf.set_title(f"KV transfer time ({moved})", fontsize=10)
    cdf.grid(alpha=0.3)
    return fig


def disagg_plots(
    r: DisaggResult, out: Path, *, slo_ttft_s: float | None = None, slo_tpot_s: float | None = None
) -> list[Path]:
    """Write :data:`FILES` into ``out``: latency CDFs with the SLOs, pools over time, the KV link (PNG)."""
    figures = (latency_figure(r, slo_ttft_s, slo_tpot_s), pools_figure(r), link_figure(r))
    return [atomic_write_bytes(out / name, to_png(fig)) for name, fig in zip(FILES, figures, strict=True)]
