"""Matplotlib charts (PNG) of chipfleet results."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chipfleet.report.charts import figure, to_png
from chipfleet.serialize import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from chipfleet.demo import DemoResult
    from chipfleet.plan.serve import ServePlan

# Who makes the chip: the demo's question is custom cloud silicon against NVIDIA, so colour says which is which.
MAKERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("AWS silicon (Trainium, Inferentia)", ("trainium", "inferentia"), "#ff9900"),
    ("Google TPU", ("tpu",), "#4285f4"),
    ("AMD Instinct", ("mi",), "#ed1c24"),
    ("Microsoft Maia", ("maia",), "#7f3fbf"),
    ("NVIDIA GPU", ("",), "#76b900"),  # the rest of the catalog's accelerators
)
BAND_LABEL = "10–90 % range (cross-validated error)"
UNVALIDATED = "†"


def maker(chip: str) -> tuple[str, str]:
    """(label, colour) of the chip's maker, by the catalog's chip-name prefixes."""
    for label, prefixes, colour in MAKERS:
        if any(chip.startswith(p) for p in prefixes):
            return label, colour
    raise AssertionError("the last maker matches every chip")  # pragma: no cover


def _xerr(values: Sequence[float], ranges: Sequence[list[float] | None]) -> Any:
    """Asymmetric error bars (2 × n) from each value's [low, high] range; zero where a value has none."""
    low = [v - r[0] if r is not None else 0.0 for v, r in zip(values, ranges, strict=True)]
    high = [r[1] - v if r is not None else 0.0 for v, r in zip(values, ranges, strict=True)]
    return [low, high]


def _label(name: str, validated: bool) -> str:
    return name if validated else f"{name} {UNVALIDATED}"


def _bars(ax: Any, names: list[str], values: list[float], ranges: list[list[float] | None], colours: list[str]) -> None:
    ax.barh(names, values, color=colours, xerr=_xerr(values, ranges), ecolor="#333333", capsize=3,
            error_kw={"lw": 1}, label="_bars")  # fmt: skip
    ax.invert_yaxis()


def _pricing_suffix(pricings: Sequence[str]) -> tuple[bool, str]:
    kinds = sorted(set(pricings))
    return len(kinds) > 1, ", ".join(kinds)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plan_panel(ax: Any, plan: ServePlan | None, skipped: str, title: str) -> None:
    """The cheapest serving fleet: one bar per instance type in the mix ($/h), the best single type beside it."""
    if plan is None:
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"serving plan skipped: {skipped or 'not run'}", ha="center", va="center", wrap=True,
                fontsize=9, transform=ax.transAxes)  # fmt: skip
        ax.set_title(title, fontsize=10)
        return
    mix = plan.mix
    names, costs, colours, notes = [], [], [], []
    for e in mix.entries:
        d = e.deployment
        names.append(_label(f"{e.count} × {d.instance}", d.validated))
        costs.append(e.cost_usd_per_h)
        colours.append(maker(d.chip)[1])
        notes.append(f"  ${e.cost_usd_per_h:,.2f}/h · tp={d.tp} · {e.busy_fraction:.0%} busy · {d.pricing.value}")
    ax.barh(names, costs, color=colours, edgecolor="black", lw=0.5, height=0.6)
    # The alternative the planner weighed: the best single type, or (when a single type won) the mixed fleet.
    other: tuple[str, str, float] | None = None
    if plan.chose_single and plan.rounds:
        other = ("best mixed fleet", _short(plan.rounds[-1].fleet), plan.rounds[-1].cost_usd_per_h)
    elif not plan.chose_single and plan.single is not None and plan.single.entries:
        s = plan.single.entries[0]
        other = ("best single type", f"{s.count} × {s.deployment.instance}", plan.single.cost_usd_per_h)
    if other is not None:
        label, fleet, cost = other
        names.append(label)
        ax.barh([label], [cost], color="#dddddd", edgecolor="black", lw=0.5, hatch="//", height=0.6)
        costs.append(cost)
        notes.append(f"  ${cost:,.2f}/h: {fleet}, for the same SLOs")
    for i, note in enumerate(notes):
        ax.text(costs[i], i, note, va="center", fontsize=8)
    ax.set_xlim(right=max(costs, default=1.0) * 1.6)
    ax.set_ylim(max(len(names), 2) - 0.5, -0.5)  # top to bottom; at least two rows, so one bar is not a slab
    replay = ""
    rounds = plan.single_rounds if plan.chose_single else plan.rounds
    if rounds:
        last = rounds[-1]
        p90_ttft, p90_tpot = last.ttft_s.get("p90", math.nan), last.tpot_s.get("p90", math.nan)
        if math.isfinite(p90_ttft) and math.isfinite(p90_tpot):
            verdict = "meets" if last.meets_slo else "misses"
            replay = f"; replayed: p90 TTFT {p90_ttft:.2f} s, TPOT {p90_tpot * 1e3:.0f} ms ({verdict} the SLOs)"
    if plan.chose_single:
        saving = "; one instance type came out cheapest"
    elif plan.savings is not None:
        saving = f", {plan.savings:.0%} below the best single type"
    else:
        saving = ""
    ax.set_xlabel(
        f"$ per hour (fleet ${mix.cost_usd_per_h:,.2f}/h, ${mix.usd_per_million_output_tokens:.3f} per M output "
        f"tokens{saving}){replay}",
        fontsize=9,
    )
    ax.set_title(title, fontsize=10)


def demo_figure(result: DemoResult) -> Figure:
    """The demo's chart as a matplotlib Figure (built in memory; :func:`demo_chart` writes it).

    Seven panels: training time (label: cost) and energy (label: CO2) at the same chip budget, serving $ per
    million tokens and latency of one instance, the cheapest serving fleet the planner found, and the MoE
    comparison's $ per million tokens (label: engine, weights) and output tokens/s per chip (label: J/token).
    Bars are the
    estimates with 10–90 % error bars from the cross-validated error; † marks a family not validated on its own
    measurements; colours say who makes the chip (legend). Every price is on one pricing model, which the title
    names; if rows differ, each label says its pricing.
    """
    fig = figure((14, 17))
    grid = fig.add_gridspec(4, 2, height_ratios=(1.0, 1.0, 0.6, 1.0))
    tr = result.training
    sv = result.serving
    t_names = [_label(e.instance, e.validated) for e in tr]
    t_colours = [maker(e.chip)[1] for e in tr]
    t_mixed, _ = _pricing_suffix([e.footprint.price.pricing.value for e in tr])

    ax = fig.add_subplot(grid[0, 0])
    days = [e.time_s / 86400 for e in tr]
    day_ranges = [None if r is None else [x / 86400 for x in r] for r in (e.ranges["time_s"] for e in tr)]
    _bars(ax, t_names, days, day_ranges, t_colours)
    for i, e in enumerate(tr):
        pricing = f" ({e.footprint.price.pricing.value})" if t_mixed else ""
        r = day_ranges[i]
        top = r[1] if r is not None else days[i]
        ax.text(top, i, f"  ${e.footprint.cost_usd / 1e6:.2f}M{pricing}", va="center", fontsize=8)
    ax.set_xlim(right=max((r[1] if r else d for d, r in zip(days, day_ranges, strict=True)), default=1) * 1.3)
    ax.set_xlabel("days to train (label: cost)")
    ax.set_title(result.training_title, fontsize=10)

    ax = fig.add_subplot(grid[0, 1])
    mwh = [e.footprint.energy_kwh / 1e3 for e in tr]
    mwh_ranges = [None if r is None else [x / 1e3 for x in r] for r in (e.ranges["energy_kwh"] for e in tr)]
    _bars(ax, t_names, mwh, mwh_ranges, t_colours)
    for i, e in enumerate(tr):
        co2 = e.footprint.co2_kg
        r = mwh_ranges[i]
        top = r[1] if r is not None else mwh[i]
        ax.text(top, i, f"  {co2 / 1e3:.0f} t CO2e" if co2 is not None else "  CO2 n/a", va="center", fontsize=8)
    ax.set_xlim(right=max((r[1] if r else m for m, r in zip(mwh, mwh_ranges, strict=True)), default=1) * 1.3)
    ax.set_xlabel("facility energy, MWh (label: carbon)")
    ax.set_title("Energy and carbon of the same runs", fontsize=10)

    s_mixed, _ = _pricing_suffix([e.footprint.price.pricing.value for e in sv])
    s_names = [
        _label(e.instance, e.validated) + (f" ({e.footprint.price.pricing.value})" if s_mixed else "") for e in sv
    ]
    s_colours = [maker(e.chip)[1] for e in sv]
    ax = fig.add_subplot(grid[1, 0])
    usd = [e.cost_usd_per_million_tokens for e in sv]
    _bars(ax, s_names, usd, [e.ranges["cost_usd_per_million_tokens"] for e in sv], s_colours)
    ax.set_xlabel("$ per million output tokens")
    ax.set_title(result.serving_title, fontsize=10)

    ax = fig.add_subplot(grid[1, 1])
    ttft = [e.result.ttft_s * 1e3 for e in sv]
    tpot = [e.result.tpot_s * 1e3 for e in sv]
    ms = [[x * 1e3 for x in r] if r is not None else None for r in (e.ranges["ttft_s"] for e in sv)]
    ms_tpot = [[x * 1e3 for x in r] if r is not None else None for r in (e.ranges["tpot_s"] for e in sv)]
    y = list(range(len(sv)))
    ax.barh([i - 0.2 for i in y], ttft, height=0.4, label="TTFT (ms)", color="#888888", xerr=_xerr(ttft, ms),
            ecolor="#333333", capsize=3, error_kw={"lw": 1})  # fmt: skip
    ax.barh([i + 0.2 for i in y], tpot, height=0.4, label="TPOT (ms)", color="#333333", xerr=_xerr(tpot, ms_tpot),
            ecolor="#999999", capsize=3, error_kw={"lw": 1})  # fmt: skip
    ax.set_yticks(y, s_names)
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Latency of the same serving options", fontsize=10)
    ax.invert_yaxis()

    ax = fig.add_subplot(grid[2, :])
    _plan_panel(ax, result.serving_plan, result.serving_plan_skipped, result.serving_plan_title)

    moe = result.moe_serving
    m_names = [_label(row.estimate.instance, row.estimate.validated) for row in moe]
    m_colours = [maker(row.estimate.chip)[1] for row in moe]
    ax = fig.add_subplot(grid[3, 0])
    m_usd = [row.estimate.cost_usd_per_million_tokens for row in moe]
    m_usd_ranges = [row.estimate.ranges["cost_usd_per_million_tokens"] for row in moe]
    _bars(ax, m_names, m_usd, m_usd_ranges, m_colours)
    for i, row in enumerate(moe):
        rng = m_usd_ranges[i]
        top = rng[1] if rng is not None else m_usd[i]
        weights = row.estimate.config.weight_precision.value
        ax.text(top, i, f"  {row.engine}, {weights}", va="center", fontsize=8)
    ax.set_xlim(right=max((g[1] if g else v for v, g in zip(m_usd, m_usd_ranges, strict=True)), default=1) * 1.4)
    ax.set_xlabel("$ per million output tokens (label: engine, weights)")
    ax.set_title(textwrap.fill(result.moe_title, 75), fontsize=10)

    ax = fig.add_subplot(grid[3, 1])
    per_chip = [row.output_tokens_per_s_per_chip for row in moe]
    per_chip_ranges = [row.per_chip_range for row in moe]
    _bars(ax, m_names, per_chip, per_chip_ranges, m_colours)
    for i, row in enumerate(moe):
        rng = per_chip_ranges[i]
        top = rng[1] if rng is not None else per_chip[i]
        ax.text(top, i, f"  {row.estimate.energy_j_per_token:.2f} J/token", va="center", fontsize=8)
    ax.set_xlim(right=max((g[1] if g else v for v, g in zip(per_chip, per_chip_ranges, strict=True)), default=1) * 1.3)
    ax.set_xlabel("output tokens/s per chip (label: facility J per token)")
    ax.set_title("Throughput per chip of the same MoE serving options", fontsize=10)

    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    chips = [e.chip for e in tr] + [e.chip for e in sv] + [row.estimate.chip for row in moe]
    if result.serving_plan is not None:
        chips += [e.deployment.chip for e in result.serving_plan.mix.entries]
    seen = {maker(c) for c in chips}
    handles: list[Any] = [Patch(color=colour, label=label) for label, _, colour in MAKERS if (label, colour) in seen]
    handles.append(Line2D([], [], color="#333333", marker="|", markersize=10, lw=1, label=f"error bar: {BAND_LABEL}"))
    labels = [h.get_label() for h in handles]
    plan_entries = result.serving_plan.mix.entries if result.serving_plan is not None else ()
    validated = [e.validated for e in tr] + [e.validated for e in sv] + [e.deployment.validated for e in plan_entries]
    validated += [row.estimate.validated for row in moe]
    if not all(validated):
        handles.append(Patch(color="none", label=f"{UNVALIDATED} family not validated on its own measurements"))
        labels.append(handles[-1].get_label())
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.suptitle(
        f"chipfleet: custom cloud silicon vs NVIDIA, AMD and TPU — model estimates, {result.pricing.value} prices",
        fontsize=13,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return fig


def demo_chart(result: DemoResult, path: Path) -> Path:
    """Write :func:`demo_figure` to ``path`` as PNG, atomically (a failure leaves no partial file)."""
    return atomic_write_bytes(path, to_png(demo_figure(result), tight=False))
