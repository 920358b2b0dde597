"""Tables and charts of a training plan."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from chipfleet.plan.train import TrainOption, TrainPlan
from chipfleet.report import units as u
from chipfleet.report.charts import colormap, subplots, to_png
from chipfleet.serialize import atomic_write_bytes, atomic_write_text


def options_table(title: str, options: Sequence[TrainOption]) -> Table:
    t = Table(title=title)
    for col in ("#", "instance", "chips", "split", "where", "time", "cost", "energy", "CO2", "MFU", "bound"):
        t.add_column(col, justify="left" if col in ("instance", "split", "where", "bound") else "right")
    for i, o in enumerate(options, start=1):
        rng = o.ranges["time_s"]
        time_text = u.duration(o.time_s) if rng is None else f"{u.duration(o.time_s)} (≤{u.duration(rng[1])})"
        t.add_row(
            str(i),
            f"{o.instances} × {o.instance}" + ("" if o.validated else " †"),
            str(o.chips),
            f"{o.precision.value} {o.parallelism.short()}",
            f"{o.region} {o.pricing_label}",
            time_text,
            u.usd(o.cost_usd),
            u.energy(o.energy_kwh),
            u.co2(o.co2_kg),
            u.percent(o.mfu),
            o.bound,
        )
    t.caption = "time: estimate (≤ the 90th-percentile time from cross-validated error); † family not validated"
    return t


def rejected_table(plan: TrainPlan) -> Table:
    t = Table(title=f"{plan.evaluated:,} configurations evaluated; set aside")
    t.add_column("reason")
    t.add_column("count", justify="right")
    for reason, n in sorted(plan.rejected.items(), key=lambda kv: -kv[1]):
        t.add_row(reason, f"{n:,}")
    return t


def pareto_png(plan: TrainPlan) -> bytes:
    """Time vs cost of every option on the front (and the ranked options), log axes."""
    fig, ax = subplots(figsize=(8, 5.5))
    chips = sorted({o.chip for o in plan.options} | {o.chip for o in plan.pareto})
    cmap = colormap("tab10")
    for i, chip in enumerate(chips):
        pts = [o for o in plan.options if o.chip == chip]
        if pts:
            ax.scatter([o.time_s / 86400 for o in pts], [o.cost_usd for o in pts], color=cmap(i % 10), alpha=0.5, s=25)
    front = sorted(plan.pareto, key=lambda o: o.time_s)
    ax.plot([o.time_s / 86400 for o in front], [o.cost_usd for o in front], color="black", lw=1, zorder=1)
    for i, chip in enumerate(chips):
        pts = [o for o in front if o.chip == chip]
        if pts:
            ax.scatter([o.time_s / 86400 for o in pts], [o.cost_usd for o in pts], color=cmap(i % 10), s=55,
                       edgecolor="black", label=chip, zorder=2)  # fmt: skip
    for o in front:
        ax.annotate(f"{o.instances}×{o.instance}", (o.time_s / 86400, o.cost_usd), fontsize=7, xytext=(4, 3),
                    textcoords="offset points")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time to train (days)")
    ax.set_ylabel("cost (USD)")
    ax.set_title(f"{plan.model}, {plan.tokens / 1e12:g}T tokens: time × cost Pareto front (black)", fontsize=10)
    ax.legend(fontsize=8)
    return to_png(fig)


def write_plot(plan: TrainPlan, path: Path) -> Path:
    """PNG, or a self-contained HTML page (chart + Pareto table) when the path ends in .html; written atomically."""
    png = pareto_png(plan)
    if path.suffix.lower() != ".html":
        return atomic_write_bytes(path, png)
    esc = html.escape
    rows = "".join(
        f"<tr><td>{o.instances} × {esc(o.instance)}</td><td>{o.chips}</td><td>{esc(o.parallelism.describe())}</td>"
        f"<td>{esc(o.region)} {esc(o.pricing_label)}</td><td>{u.duration(o.time_s)}</td><td>{u.usd(o.cost_usd)}</td>"
        f"<td>{u.energy(o.energy_kwh)}</td><td>{u.co2(o.co2_kg)}</td></tr>"
        for o in plan.pareto
    )
    caveats = "".join(f"<p><b>caveat</b> {esc(c)}</p>" for c in plan.caveats)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>chipfleet plan</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px}}</style></head><body>
<h1>{esc(plan.model)}: {plan.tokens / 1e12:g}T tokens</h1><p>{esc(plan.explanation)}</p>{caveats}
<img alt="Pareto chart" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">
<h2>Pareto front (time × cost)</h2><table><tr><th>instances</th><th>chips</th><th>split</th><th>where</th>
<th>time</th><th>cost</th><th>energy</th><th>CO2</th></tr>{rows}</table></body></html>
"""
    return atomic_write_text(path, page)
