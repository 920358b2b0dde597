"""Tables and charts of simulation results.

Charts with latency on an axis draw the SLO targets they were judged against, labelled: on a chart of
values (p90 per instance type, p90 per control interval) as horizontal lines, on a CDF as vertical ones.
Every file goes through :func:`chipfleet.serialize.atomic_write_bytes` (whole or not at all).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from chipfleet.report import units as u
from chipfleet.report.charts import subplots, to_png
from chipfleet.serialize import atomic_write_bytes
from chipfleet.sim.mixed import MixedResult
from chipfleet.sim.serving import ServeResult
from chipfleet.sim.training.results import ClusterResult


def _ms(x: float | None) -> str:
    return "—" if x is None or math.isnan(x) else u.duration(x)


def _pct(x: float | None) -> str:
    """A share, or "—" where it is undefined (no chip-time at all: a zero span, nothing busy)."""
    return "—" if x is None or not math.isfinite(x) else u.percent(x)


def serve_tables(r: ServeResult) -> list[Table]:
    head = Table(title=f"Serving {r.model} on {r.fleet}: {r.trace} ({r.requests:,} requests), router {r.router}")
    head.add_column("quantity")
    head.add_column("value", justify="right")
    rows = [
        ("completed / rejected (no KV room)", f"{r.completed:,} / {r.rejected:,}"),
        (
            f"longer than the context window ({r.context_window_tokens:,} tokens)",
            f"{r.beyond_context:,} refused ({_pct(r.beyond_context / r.requests if r.requests else math.nan)})",
        ),
        ("simulated span", u.duration(r.span_s)),
        ("TTFT p50 / p90 / p99", " / ".join(_ms(r.ttft_s[k]) for k in ("p50", "p90", "p99"))),
        ("TPOT p50 / p90 / p99", " / ".join(_ms(r.tpot_s[k]) for k in ("p50", "p90", "p99"))),
        ("end-to-end p50 / p90 / p99", " / ".join(_ms(r.e2e_s[k]) for k in ("p50", "p90", "p99"))),
        ("queue wait p50 / p90 / p99", " / ".join(_ms(r.queue_wait_s[k]) for k in ("p50", "p90", "p99"))),
        ("SLO attainment", _pct(r.slo_attainment)),
        ("throughput", f"{u.rate(r.output_tokens_per_s, 'tokens')}, {r.requests_per_s:.2f} req/s"),
        ("preemptions", f"{r.preemptions:,}"),
        ("prefix-cache hits", f"{r.prefix_hit_tokens:,} tokens"),
        ("cost", u.usd(r.cost_usd)),
        ("energy (facility)", f"{u.energy(r.energy_kwh)} (PUE {r.pue:.2f})"),
        ("events", f"{r.events:,}"),
    ]
    for k, v in rows:
        head.add_row(k, v)
    per = Table(title="Per instance type")
    for col in ("instance", "replicas × tp", "KV tokens", "done", "TTFT p90", "TPOT p90", "util", "SLO"):
        per.add_column(col, justify="left" if col == "instance" else "right")
    for t in r.by_type:
        per.add_row(
            t.instance,
            f"{t.replicas} × {t.tp}",
            f"{t.kv_capacity_tokens:,}",
            f"{t.completed:,}",
            _ms(t.ttft_s["p90"]),
            _ms(t.tpot_s["p90"]),
            _pct(t.utilization),
            _pct(t.slo_attainment),
        )
    return [head, per]


def _slo_label(metric: str, target_s: float) -> str:
    return f"{metric} SLO (p90) {u.duration(target_s)}"


def slo_targets(slo_ttft_s: float | None, slo_tpot_s: float | None) -> dict[str, float]:
    """The known p90 targets by metric name (``ttft``, ``tpot``), leaving out those not set or not finite."""
    out = {}
    for name, v in (("ttft", slo_ttft_s), ("tpot", slo_tpot_s)):
        if v is not None and math.isfinite(v) and v > 0:
            out[name] = float(v)
    return out


def latency_p90_figure(r: ServeResult, slo_ttft_s: float | None = None, slo_tpot_s: float | None = None) -> Any:
    """p90 TTFT and TPOT per instance type and over the fleet (bars), each panel with its SLO target as a
    labelled horizontal line where one is known."""
    targets = slo_targets(slo_ttft_s, slo_tpot_s)
    fig, axes = subplots(1, 2, figsize=(9, 4.2))
    names = [t.instance for t in r.by_type] + ["fleet"]
    for ax, metric in zip(axes, ("ttft", "tpot"), strict=True):
        values = [t.ttft_s["p90"] if metric == "ttft" else t.tpot_s["p90"] for t in r.by_type]
        values.append((r.ttft_s if metric == "ttft" else r.tpot_s)["p90"])
        heights = [v if v is not None and math.isfinite(v) else 0.0 for v in values]
        ax.bar(range(len(names)), heights, color=["C0"] * (len(names) - 1) + ["C7"])
        ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel("seconds")
        ax.set_title(f"p90 {metric.upper()}", fontsize=10)
        if metric in targets:
            ax.axhline(targets[metric], color="C3", ls="--", lw=1.2, label=_slo_label(metric.upper(), targets[metric]))
            ax.set_ylim(0, max(max(heights, default=0.0), targets[metric]) * 1.15)
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(f"p90 latency by instance type: {r.model} on {r.fleet}", fontsize=10)
    return fig


def latency_cdf_figure(r: ServeResult, slo_ttft_s: float | None = None, slo_tpot_s: float | None = None) -> Any:
    """Latency CDFs (log seconds), with each known SLO target as a labelled vertical line and the p90 level."""
    fig, ax = subplots(figsize=(7, 4.5))
    colours = {}
    for name, h in r.histograms.items():
        x, y = h.cdf()
        if len(x):
            (line,) = ax.step(x, y, where="post", label=name.upper())
            colours[name] = line.get_color()
    targets = slo_targets(slo_ttft_s, slo_tpot_s)
    for metric, target in targets.items():
        ax.axvline(target, color=colours.get(metric, "C3"), ls="--", lw=1.2, label=_slo_label(metric.upper(), target))
    if targets:
        ax.axhline(0.9, color="grey", ls=":", lw=1.0, label="p90")
    ax.set_xscale("log")
    ax.set_xlabel("seconds")
    ax.set_ylabel("fraction of requests")
    ax.set_title(f"Latency CDFs: {r.model} on {r.fleet}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def serve_plots(
    r: ServeResult, out: Path, *, slo_ttft_s: float | None = None, slo_tpot_s: float | None = None
) -> list[Path]:
    """Latency CDFs and p90 by instance type (with the SLO targets where known), utilization over time per
    instance type, queue length over time (PNG files)."""
    paths = []
    paths.append(atomic_write_bytes(out / "latency_cdf.png", to_png(latency_cdf_figure(r, slo_ttft_s, slo_tpot_s))))
    paths.append(atomic_write_bytes(out / "latency_p90.png", to_png(latency_p90_figure(r, slo_ttft_s, slo_tpot_s))))

    fig, ax = subplots(figsize=(7, 4.5))
    for name, series in r.utilization_series.items():
        t = np.arange(len(series)) * r.window_s / 60
        ax.plot(t, series, label=name)
    ax.set_xlabel("minutes")
    ax.set_ylabel("busy fraction of chips")
    ax.set_ylim(0, 1.05)
    ax.set_title("Utilization over time", fontsize=10)
    ax.legend()
    paths.append(atomic_write_bytes(out / "utilization.png", to_png(fig)))

    fig, ax = subplots(figsize=(7, 4.5))
    t = np.arange(len(r.queue_series)) * r.window_s / 60
    ax.plot(t, r.queue_series)
    ax.set_xlabel("minutes")
    ax.set_ylabel("requests waiting (max per window)")
    ax.set_title("Queue length", fontsize=10)
    paths.append(atomic_write_bytes(out / "queue.png", to_png(fig)))
    return paths


def _chip_hours(chip_s: float) -> str:
    """Chip-hours, whole above 100, else with a decimal (a short job's 0.1 h is not 0)."""
    h = chip_s / 3600
    return f"{h:,.0f}" if h >= 100 else f"{h:,.1f}" if h >= 0.1 or h == 0 else f"{h:.2g}"


def train_tables(r: ClusterResult) -> list[Table]:
    up = r.unplaceable
    unplaceable_note = f"Unplaceable: {up.note}. " if up.jobs else ""
    head = Table(
        title=f"Training cluster: {r.trace} ({r.jobs:,} jobs), policy {r.policy}",
        caption=unplaceable_note + "Jobs are charged for the chips they hold (allocated chip-hours × price per "
        "chip); idle capacity is not charged to them but shown apart, and the fleet's bill is every instance for "
        "the span.",
    )
    head.add_column("quantity")
    head.add_column("value", justify="right")
    stats = ("mean", "p50", "p90", "p99")
    rows = [
        ("completed / unplaceable / unfinished", f"{r.completed:,} / {up.jobs:,} / {r.unfinished:,}"),
        (
            "largest job / most chips one job can hold",
            f"{up.largest_request_chips:,} / {up.most_chips_per_job:,} chips ({up.most_chips_type})",
        ),
        ("makespan", _ms(r.makespan_s)),
        ("job completion time mean / p50 / p90 / p99", " / ".join(_ms(getattr(r.jct_s, k)) for k in stats)),
        ("queueing delay mean / p50 / p90 / p99", " / ".join(_ms(getattr(r.queueing_s, k)) for k in stats)),
        ("preemptions", f"{r.preemptions:,}"),
        ("chips busy / allocated", f"{_pct(r.utilization)} / {_pct(r.allocated_share)}"),
        ("busy / allocated chip-hours", " / ".join(_chip_hours(x) for x in (r.busy_chip_s, r.allocated_chip_s))),
        (
            "custom silicon share (chip-hours / work)",
            f"{_pct(r.custom_silicon_chip_share)} / {_pct(r.custom_silicon_work_share)}",
        ),
        ("cost of the chips jobs held", u.usd(r.cost_usd)),
        (
            "idle: free chips of held instances / unused instances",
            f"{u.usd(r.held_idle_cost_usd)} / {u.usd(r.unused_cost_usd)}",
        ),
        ("fleet bill (every instance, whole span)", u.usd(r.fleet_cost_usd)),
        ("energy (facility, every instance)", u.energy(r.energy_kwh)),
        ("events", f"{r.events:,}"),
    ]
    for k, v in rows:
        head.add_row(k, v)
    per = Table(title=f"Per instance type (speeds relative to {r.matrix.reference})")
    cols = ("instance", "instances", "speed", "busy", "allocated", "held", "jobs run", "jobs' cost", "fleet bill",
            "energy")  # fmt: skip
    for col in cols:
        per.add_column(col, justify="left" if col == "instance" else "right")
    for t in r.types:
        per.add_row(
            t.instance + (" (custom)" if t.custom_silicon else ""),
            f"{t.instances:,}",
            f"{t.relative_speed:.2f}×",
            _pct(t.utilization),
            _pct(t.allocated_share),
            _pct(t.held_share),
            f"{t.runs_started:,}",
            u.usd(t.cost_usd),
            u.usd(t.fleet_cost_usd),
            u.energy(t.energy_kwh),
        )
    per.caption = "busy and allocated: shares of the type's chip-time; held: of its instance-time (any chip allocated)"
    return [head, per]


def train_plots(r: ClusterResult, submit_s: np.ndarray, out: Path) -> list[Path]:
    """Job completion time CDF and utilization over time per instance type (PNG files)."""
    paths = []
    fig, ax = subplots(figsize=(7, 4.5))
    done = ~np.isnan(r.finish_s)
    jct = np.sort(r.finish_s[done] - submit_s[done])
    if len(jct):
        ax.step(np.maximum(jct, 1.0) / 3600, np.arange(1, len(jct) + 1) / len(jct), where="post")
    ax.set_xscale("log")
    ax.set_xlabel("job completion time (hours)")
    ax.set_ylabel("fraction of jobs")
    ax.set_title(f"JCT CDF: {r.trace}, {r.policy}", fontsize=10)
    ax.grid(alpha=0.3)
    paths.append(atomic_write_bytes(out / "jct_cdf.png", to_png(fig)))
    fig, ax = subplots(figsize=(7, 4.5))
    for t in r.types:
        series = t.utilization_over_time
        ax.plot(np.arange(len(series)) * r.window_s / 86400, series, label=t.instance)
    ax.set_xlabel("days")
    ax.set_ylabel("busy fraction of chips")
    ax.set_title("Utilization over time", fontsize=10)
    ax.legend(fontsize=8)
    paths.append(atomic_write_bytes(out / "utilization.png", to_png(fig)))
    return paths


def mixed_tables(r: MixedResult) -> list[Table]:
    """The fleet split first (who held which nodes, and what that cost), then each side's own tables."""
    head = Table(title=f"Mixed fleet {r.fleet}, sharing policy {r.sharing}, over {u.duration(r.span_s)}")
    head.add_column("quantity")
    head.add_column("value", justify="right")
    rows = [
        ("fleet cost (every node, whole span)", u.usd(r.fleet_cost_usd)),
        ("  serving nodes / training's chips", f"{u.usd(r.serving_cost_usd)} / {u.usd(r.training_cost_usd)}"),
        ("  free chips of training's nodes / nodes nobody held", " / ".join(
            u.usd(x) for x in (r.training_idle_chip_cost_usd, r.idle_cost_usd))),
        ("fleet energy (facility)", u.energy(r.fleet_energy_kwh)),
        ("serving resizes / training jobs evicted", f"{r.resizes:,} / {r.training_evictions:,}"),
        ("serving TTFT p50 / p90 / p99", " / ".join(_ms(r.serve.ttft_s[k]) for k in ("p50", "p90", "p99"))),
        ("serving p90 TTFT target", _ms(r.target_ttft_s)),
        ("training busy chip-hours", f"{r.train.chip_hours:,.{0 if r.train.chip_hours >= 100 else 1}f}"),
    ]  # fmt: skip
    for k, v in rows:
        head.add_row(k, v)
    split = Table(title="Node time by holder (training holds a node while any of its chips is allocated)")
    for col in ("instance", "nodes", "serving", "training", "idle", "training chips busy / allocated"):
        split.add_column(col, justify="left" if col == "instance" else "right")
    for s in r.shares:
        total = s.nodes * r.span_s / 3600.0
        split.add_row(
            s.instance,
            f"{s.nodes:,}",
            *(f"{u.duration(h * 3600)} ({_pct(h / total if total else math.nan)})" if h > 0 else "0"
              for h in (s.serving_node_h, s.training_node_h, s.idle_node_h)),
            f"{s.training_busy_chip_h:,.1f} / {s.training_allocated_chip_h:,.1f} h" if s.training_node_h > 0 else "—",
        )  # fmt: skip
    return [head, split, *serve_tables(r.serve), *train_tables(r.train)]


def serving_share_figure(r: MixedResult) -> Any:
    """Serving's nodes over time and, below, p90 TTFT per control interval against the target (a labelled
    horizontal line)."""
    fig, (ax, lat) = subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=(1, 1))
    t = [p[0] / 60 for p in r.serving_nodes_over_time] + [r.span_s / 60]
    n = [p[1] for p in r.serving_nodes_over_time]
    ax.step(t, n + n[-1:], where="post")
    ax.set_ylabel("nodes serving (open)")
    ax.set_ylim(0, None)
    ax.set_title(f"Serving's share of {r.fleet} under {r.sharing}", fontsize=10)
    ax.grid(alpha=0.3)
    times = [p[0] / 60 for p in r.ttft_p90_over_time]
    values = [p[1] for p in r.ttft_p90_over_time]
    lat.plot(times, values, marker=".", lw=1.0, label="p90 TTFT per interval")
    lat.axhline(r.target_ttft_s, color="C3", ls="--", lw=1.2, label=_slo_label("TTFT", r.target_ttft_s))
    finite = [v for v in values if math.isfinite(v)]
    lat.set_ylim(0, max([*finite, r.target_ttft_s]) * 1.15)
    lat.set_xlabel("minutes")
    lat.set_ylabel("seconds")
    lat.grid(alpha=0.3)
    lat.legend(fontsize=8)
    return fig


def mixed_plots(r: MixedResult, submit_s: np.ndarray, out: Path) -> list[Path]:
    """Serving nodes and p90 TTFT over time, then each side's charts in ``serve/`` (with the TTFT target)
    and ``train/``."""
    path = atomic_write_bytes(out / "serving_nodes.png", to_png(serving_share_figure(r)))
    return [
        path,
        *serve_plots(r.serve, out / "serve", slo_ttft_s=r.target_ttft_s),
        *train_plots(r.train, submit_s, out / "train"),
    ]
