"""Tables and charts of simulation results."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.table import Table

from chipfleet.report import units as u
from chipfleet.report.charts import pyplot, to_png
from chipfleet.sim.cluster import ClusterResult
from chipfleet.sim.mixed import MixedResult
from chipfleet.sim.serve import ServeResult


def _ms(x: float) -> str:
    return "—" if x is None or math.isnan(x) else u.duration(x)


def serve_tables(r: ServeResult) -> list[Table]:
    head = Table(title=f"Serving {r.model} on {r.fleet}: {r.trace} ({r.requests:,} requests), router {r.router}")
    head.add_column("quantity")
    head.add_column("value", justify="right")
    rows = [
        ("completed / rejected", f"{r.completed:,} / {r.rejected:,}"),
        ("simulated span", u.duration(r.span_s)),
        ("TTFT p50 / p90 / p99", " / ".join(_ms(r.ttft_s[k]) for k in ("p50", "p90", "p99"))),
        ("TPOT p50 / p90 / p99", " / ".join(_ms(r.tpot_s[k]) for k in ("p50", "p90", "p99"))),
        ("end-to-end p50 / p90 / p99", " / ".join(_ms(r.e2e_s[k]) for k in ("p50", "p90", "p99"))),
        ("queue wait p50 / p90 / p99", " / ".join(_ms(r.queue_wait_s[k]) for k in ("p50", "p90", "p99"))),
        ("SLO attainment", "—" if r.slo_attainment is None else u.percent(r.slo_attainment)),
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
            u.percent(t.utilization),
            "—" if t.slo_attainment is None else u.percent(t.slo_attainment),
        )
    return [head, per]


def serve_plots(r: ServeResult, out: Path) -> list[Path]:
    """Latency CDFs, utilisation over time per instance type, queue length over time (PNG files)."""
    plt = pyplot()
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, h in r.histograms.items():
        x, y = h.cdf()
        if len(x):
            ax.step(x, y, where="post", label=name.upper())
    ax.set_xscale("log")
    ax.set_xlabel("seconds")
    ax.set_ylabel("fraction of requests")
    ax.set_title(f"Latency CDFs: {r.model} on {r.fleet}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    paths.append(out / "latency_cdf.png")
    paths[-1].write_bytes(to_png(fig))

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, series in r.utilization_series.items():
        t = np.arange(len(series)) * r.window_s / 60
        ax.plot(t, series, label=name)
    ax.set_xlabel("minutes")
    ax.set_ylabel("busy fraction of chips")
    ax.set_ylim(0, 1.05)
    ax.set_title("Utilisation over time", fontsize=10)
    ax.legend()
    paths.append(out / "utilization.png")
    paths[-1].write_bytes(to_png(fig))

    fig, ax = plt.subplots(figsize=(7, 4.5))
    t = np.arange(len(r.queue_series)) * r.window_s / 60
    ax.plot(t, r.queue_series)
    ax.set_xlabel("minutes")
    ax.set_ylabel("requests waiting (max per window)")
    ax.set_title("Queue length", fontsize=10)
    paths.append(out / "queue.png")
    paths[-1].write_bytes(to_png(fig))
    return paths


def train_tables(r: ClusterResult) -> list[Table]:
    head = Table(title=f"Training cluster: {r.trace} ({r.jobs:,} jobs), policy {r.policy}")
    head.add_column("quantity")
    head.add_column("value", justify="right")
    stats = ("mean", "p50", "p90", "p99")
    rows = [
        ("completed / rejected / unfinished", f"{r.completed:,} / {r.rejected:,} / {r.unfinished:,}"),
        ("makespan", _ms(r.makespan_s)),
        ("job completion time mean / p50 / p90 / p99", " / ".join(_ms(getattr(r.jct, k)) for k in stats)),
        ("queueing delay mean / p50 / p90 / p99", " / ".join(_ms(getattr(r.queueing, k)) for k in stats)),
        ("preemptions", f"{r.preemptions:,}"),
        ("utilisation (busy chips)", u.percent(r.utilisation)),
        ("busy chip-hours", f"{r.chip_hours:,.0f}"),
        (
            "custom silicon share (chip-hours / work)",
            f"{u.percent(r.custom_silicon_chip_share)} / {u.percent(r.custom_silicon_work_share)}",
        ),
        ("cost", u.usd(r.cost_usd)),
        ("energy (facility)", u.energy(r.energy_kwh)),
        ("events", f"{r.events:,}"),
    ]
    for k, v in rows:
        head.add_row(k, v)
    per = Table(title=f"Per instance type (speeds relative to {r.matrix.reference})")
    for col in ("instance", "instances", "speed", "busy", "allocated", "jobs run", "cost", "energy"):
        per.add_column(col, justify="left" if col == "instance" else "right")
    for t in r.types:
        per.add_row(
            t.instance + (" (custom)" if t.custom_silicon else ""),
            f"{t.instances:,}",
            f"{t.relative_speed:.2f}×",
            u.percent(t.utilisation),
            u.percent(t.allocated_share),
            f"{t.runs_started:,}",
            u.usd(t.cost_usd),
            u.energy(t.energy_kwh),
        )
    return [head, per]


def train_plots(r: ClusterResult, submit_s: np.ndarray, out: Path) -> list[Path]:
    """Job completion time CDF and utilisation over time per instance type (PNG files)."""
    plt = pyplot()
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    done = ~np.isnan(r.finish_s)
    jct = np.sort(r.finish_s[done] - submit_s[done])
    if len(jct):
        ax.step(np.maximum(jct, 1.0) / 3600, np.arange(1, len(jct) + 1) / len(jct), where="post")
    ax.set_xscale("log")
    ax.set_xlabel("job completion time (hours)")
    ax.set_ylabel("fraction of jobs")
    ax.set_title(f"JCT CDF: {r.trace}, {r.policy}", fontsize=10)
    ax.grid(alpha=0.3)
    paths.append(out / "jct_cdf.png")
    paths[-1].write_bytes(to_png(fig))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for t in r.types:
        series = t.utilisation_over_time
        ax.plot(np.arange(len(series)) * r.window_s / 86400, series, label=t.instance)
    ax.set_xlabel("days")
    ax.set_ylabel("busy fraction of chips")
    ax.set_title("Utilisation over time", fontsize=10)
    ax.legend(fontsize=8)
    paths.append(out / "utilization.png")
    paths[-1].write_bytes(to_png(fig))
    return paths


def mixed_tables(r: MixedResult) -> list[Table]:
    """The fleet split first (who held which nodes, and what that cost), then each side's own tables."""
    head = Table(title=f"Mixed fleet {r.fleet}, sharing policy {r.sharing}, over {u.duration(r.span_s)}")
    head.add_column("quantity")
    head.add_column("value", justify="right")
    rows = [
        ("fleet cost (every node, whole span)", u.usd(r.fleet_cost_usd)),
        ("  held by serving / training / idle", " / ".join(
            u.usd(x) for x in (r.serving_cost_usd, r.training_cost_usd, r.idle_cost_usd))),
        ("fleet energy (facility)", u.energy(r.fleet_energy_kwh)),
        ("serving resizes / training jobs evicted", f"{r.resizes:,} / {r.training_evictions:,}"),
        ("serving TTFT p50 / p90 / p99", " / ".join(_ms(r.serve.ttft_s[k]) for k in ("p50", "p90", "p99"))),
        ("training busy chip-hours", f"{r.train.chip_hours:,.{0 if r.train.chip_hours >= 100 else 1}f}"),
    ]  # fmt: skip
    for k, v in rows:
        head.add_row(k, v)
    split = Table(title="Node time by holder (the training table's cost and energy count its types' whole nodes)")
    for col in ("instance", "nodes", "serving", "training", "idle"):
        split.add_column(col, justify="left" if col == "instance" else "right")
    for s in r.shares:
        total = s.nodes * r.span_s / 3600.0
        split.add_row(
            s.instance,
            f"{s.nodes:,}",
            *(f"{u.duration(h * 3600)} ({u.percent(h / total if total else math.nan)})" if h > 0 else "0"
              for h in (s.serving_node_h, s.training_node_h, s.idle_node_h)),
        )  # fmt: skip
    return [head, split, *serve_tables(r.serve), *train_tables(r.train)]


def mixed_plots(r: MixedResult, submit_s: np.ndarray, out: Path) -> list[Path]:
    """Serving nodes over time, then each side's charts in ``serve/`` and ``train/``."""
    plt = pyplot()
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    t = [p[0] / 60 for p in r.serving_nodes_over_time] + [r.span_s / 60]
    n = [p[1] for p in r.serving_nodes_over_time]
    ax.step(t, n + n[-1:], where="post")
    ax.set_xlabel("minutes")
    ax.set_ylabel("nodes serving (open)")
    ax.set_ylim(0, None)
    ax.set_title(f"Serving's share of {r.fleet} under {r.sharing}", fontsize=10)
    ax.grid(alpha=0.3)
    path = out / "serving_nodes.png"
    path.write_bytes(to_png(fig))
    return [path, *serve_plots(r.serve, out / "serve"), *train_plots(r.train, submit_s, out / "train")]
