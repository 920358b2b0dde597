"""Matplotlib charts (PNG) of chipfleet results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chipfleet.demo import DemoResult


def demo_chart(result: DemoResult, path: Path) -> Path:
    """Four panels: training time and cost, training energy and CO2, serving $/M tokens, serving latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    names = [e.instance for e in result.training]
    colors = [
        "#ff9900"
        if e.chip.startswith(("trainium", "inferentia"))
        else "#4285f4"
        if e.chip.startswith("tpu")
        else "#76b900"
        for e in result.training
    ]

    ax = axes[0][0]
    days = [e.time_s / 86400 for e in result.training]
    ax.barh(names, days, color=colors)
    for i, e in enumerate(result.training):
        spot = " (spot)" if e.footprint.price.pricing.value == "spot" else ""
        ax.text(days[i], i, f"  ${e.footprint.cost_usd / 1e6:.2f}M{spot}", va="center", fontsize=8)
    ax.set_xlim(right=max(days, default=1) * 1.3)
    ax.set_xlabel("days to train (label: cost)")
    ax.set_title(result.training_title, fontsize=10)
    ax.invert_yaxis()

    ax = axes[0][1]
    mwh = [e.footprint.energy_kwh / 1e3 for e in result.training]
    ax.barh(names, mwh, color=colors)
    for i, e in enumerate(result.training):
        co2 = e.footprint.co2_kg
        ax.text(mwh[i], i, f"  {co2 / 1e3:.0f} t CO2e" if co2 is not None else "  n/a", va="center", fontsize=8)
    ax.set_xlim(right=max(mwh, default=1) * 1.3)
    ax.set_xlabel("facility energy, MWh (label: carbon)")
    ax.set_title("Energy and carbon of the same runs", fontsize=10)
    ax.invert_yaxis()

    snames = [e.instance for e in result.serving]
    scolors = ["#ff9900" if e.chip.startswith("inferentia") else "#76b900" for e in result.serving]
    ax = axes[1][0]
    ax.barh(snames, [e.cost_usd_per_million_tokens for e in result.serving], color=scolors)
    ax.set_xlabel("$ per million output tokens")
    ax.set_title(result.serving_title, fontsize=10)
    ax.invert_yaxis()

    ax = axes[1][1]
    ttft = [e.result.ttft_s * 1e3 for e in result.serving]
    tpot = [e.result.tpot_s * 1e3 for e in result.serving]
    y = range(len(snames))
    ax.barh([i - 0.2 for i in y], ttft, height=0.4, label="TTFT (ms)", color="#888888")
    ax.barh([i + 0.2 for i in y], tpot, height=0.4, label="TPOT (ms)", color="#333333")
    ax.set_yticks(list(y), snames)
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log)")
    ax.legend(fontsize=8)
    ax.set_title("Latency of the same serving options", fontsize=10)
    ax.invert_yaxis()

    fig.suptitle("chipfleet: custom cloud silicon vs NVIDIA (model estimates; efficiency priors until calibrated)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
