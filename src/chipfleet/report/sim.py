"""Tables and charts of simulation results."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.table import Table

from chipfleet.report import units as u
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    paths.append(out / "latency_cdf.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, series in r.utilization_series.items():
        t = np.arange(len(series)) * r.window_s / 60
        ax.plot(t, series, label=name)
    ax.set_xlabel("minutes")
    ax.set_ylabel("busy fraction of chips")
    ax.set_ylim(0, 1.05)
    ax.set_title("Utilisation over time", fontsize=10)
    ax.legend()
    fig.tight_layout()
    paths.append(out / "utilization.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    t = np.arange(len(r.queue_series)) * r.window_s / 60
    ax.plot(t, r.queue_series)
    ax.set_xlabel("minutes")
    ax.set_ylabel("requests waiting (max per window)")
    ax.set_title("Queue length", fontsize=10)
    fig.tight_layout()
    paths.append(out / "queue.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths
