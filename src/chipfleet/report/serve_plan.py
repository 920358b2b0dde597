"""Tables and a chart of a serving plan."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.table import Table

from chipfleet.exceptions import ConfigError
from chipfleet.plan.serve import DisaggOutcome, Mix, ServePlan
from chipfleet.report import units as u
from chipfleet.report.charts import subplots, to_png
from chipfleet.serialize import atomic_write_bytes


def _lat(x: float) -> str:
    return "—" if x is None or math.isnan(x) else u.duration(x)


def mix_table(title: str, mix: Mix) -> Table:
    t = Table(title=title)
    for col in ("instance", "config", "count", "replicas", "where", "$/h", "load", "busy"):
        t.add_column(col, justify="left" if col in ("instance", "config", "where") else "right")
    for e in mix.entries:
        d = e.deployment
        t.add_row(
            d.instance + ("" if d.validated else " †"),
            f"tp={d.tp} {d.precision.value} max-batch {e.max_seqs}",
            str(e.count),
            str(e.replicas),
            f"{d.region} {d.pricing.value}",
            f"{e.cost_usd_per_h:,.2f}",
            u.percent(e.load),
            u.percent(e.busy_fraction),
        )
    co2 = "" if mix.co2_kg_per_h is None else f", {mix.co2_kg_per_h:.2f} kg CO2e/h"
    t.caption = (
        f"${mix.cost_usd_per_h:,.2f}/h · ${mix.usd_per_million_output_tokens:.3f} per M output tokens "
        f"(${mix.usd_per_million_tokens:.3f} per M tokens in + out) · {mix.power_w / 1e3:.2f} kW, "
        f"{mix.j_per_output_token:.2f} J per output token{co2}. load = planned requests ÷ modelled capacity; "
        "† family not validated"
    )
    return t


def routing_table(mix: Mix) -> Table:
    names = [e.deployment.instance for e in mix.entries]
    t = Table(title="Routing: share of each bucket's requests per instance type")
    t.add_column("bucket (prompt, output tokens)")
    t.add_column("req/s", justify="right")
    for n in names:
        t.add_column(n, justify="right")
    for b, bucket in enumerate(mix.buckets):
        shares = [e.bucket_shares[b] for e in mix.entries]
        t.add_row(bucket.label, f"{bucket.rate_per_s:.3g}", *("" if s < 1e-9 else u.percent(s) for s in shares))
    return t


def replay_table(plan: ServePlan, single: bool = False) -> Table:
    slo = plan.slo
    t = Table(
        title=f"Replay of the {'single-type fleet' if single else 'mix'} in the request-level simulator "
        f"(SLO p90 TTFT ≤ {u.duration(slo.ttft_p90_s)}, p90 TPOT ≤ {u.duration(slo.tpot_p90_s)})"
    )
    for col in ("round", "fleet", "$/h", "TTFT p50 / p90 / p99", "TPOT p50 / p90 / p99", "SLO met", "verdict"):
        t.add_column(col, justify="left" if col in ("fleet", "verdict") else "right")
    for r in plan.single_rounds if single else plan.rounds:
        verdict = "meets the SLOs" if r.meets_slo else "misses: " + (
            "; ".join(f"{k} {v}" for k, v in r.missed_by.items()) or "fleet p90"
        )  # fmt: skip
        t.add_row(
            str(r.round),
            r.fleet,
            f"{r.cost_usd_per_h:,.2f}",
            " / ".join(_lat(r.ttft_s[k]) for k in ("p50", "p90", "p99")),
            " / ".join(_lat(r.tpot_s[k]) for k in ("p50", "p90", "p99")),
            "—" if r.slo_attainment is None else u.percent(r.slo_attainment),
            verdict,
        )
    return t


def hourly_table(plan: ServePlan) -> Table:
    h = plan.hourly
    assert h is not None
    t = Table(title=f"Per hour ({h.curve_source})")
    for col in ("hour", "load ×", "fleet", "started", "$/h"):
        t.add_column(col, justify="left" if col in ("fleet", "started") else "right")
    for hour, (m, mix, started) in enumerate(zip(h.multipliers, h.mixes, h.starts(), strict=True)):
        t.add_row(
            f"{hour:02d}:00",
            f"{m:.2f}",
            mix.describe(),
            ", ".join(f"{n} × {k}" for k, n in started.items()),
            f"{mix.cost_usd_per_h:,.2f}",
        )
    t.caption = (
        f"autoscaled ${h.autoscaled_usd_per_day:,.0f}/day (instances ${h.instance_usd_per_day:,.0f} + "
        f"start-up churn ${h.churn_usd_per_day:,.0f}: {u.duration(h.startup_s)} billed per instance started, "
        f"{h.startup_source}) vs static {h.static.describe()} ${h.static_usd_per_day:,.0f}/day: "
        f"autoscaling saves {u.percent(h.savings)}"
    )
    return t


def summary_lines(plan: ServePlan) -> list[str]:
    """What a reader needs under the tables: the saving, whether the replay held, what was tightened."""
    lines = [
        f"{plan.model} on {plan.workload}: {plan.requests:,} requests over {u.duration(plan.span_s)} in "
        f"{len(plan.buckets)} buckets; {plan.deployments} configurations evaluated, capacities and mix solved in "
        f"{plan.solve_s:.2f} s" + (f", replay {plan.replay_s:.2f} s" if plan.rounds else "") + "."
    ]
    if plan.design_factor > 1.0:
        lines.append(
            f"Sized for the busy rate: {plan.design_factor:.2f}× the mean (95 % of requests arrive in "
            f"{u.duration(plan.peak_window_s)} windows no busier; --peak-window 0 plans for the mean)."
        )
    if plan.excluded is not None:
        x = plan.excluded
        lines.append(
            f"[yellow]Left out of the plan: {x.requests:,} request{'' if x.requests == 1 else 's'} ({x.share:.2%}), "
            f"up to {x.longest_tokens:,} "
            f"tokens[/yellow]: {x.reason}."
        )
    if plan.strict:
        lines.append("--strict: every length bucket was planned within the SLOs at its own p90.")
    elif plan.mix.best_effort_share > 0:
        served = [
            f"{b.label} ({s:.0%} of {b.requests:,})"
            for b, s in zip(plan.mix.buckets, plan.mix.best_effort_by_bucket(), strict=True)
            if s > 1e-9
        ]
        lines.append(
            f"The SLOs are fleet-level p90s: {plan.mix.best_effort_share:.2%} of requests (at most "
            f"{plan.tail_share:.0%} allowed) are served best effort, counted as misses: " + "; ".join(served) + ". "
            f"The rest were planned at their p{plan.planning_quantile * 100:.3g} so the fleet's p90 holds; "
            "--strict plans every bucket within the SLOs."
        )
    obj = plan.objective.value
    if plan.single is None:
        lines.append("No single instance type can serve every bucket within the SLOs: a mix is required.")
    elif plan.chose_single and plan.mixed_alternative is not None:
        alt = plan.mixed_alternative
        lower = "came out cheaper" if obj == "cost" else f"came out lower on {obj}"
        why = "met the SLOs where the mix did not" if not plan.rounds[-1].meets_slo else lower
        lines.append(
            f"One instance type is the plan: {plan.mix.describe()} at ${plan.mix.cost_usd_per_h:,.2f}/h, "
            f"{plan.mix.power_w / 1e3:.2f} kW. Replayed, it {why}: the mixed alternative, {alt.describe()}, cost "
            f"${alt.cost_usd_per_h:,.2f}/h, {alt.power_w / 1e3:.2f} kW"
            + (" and missed the SLOs in its replay." if not plan.rounds[-1].meets_slo else ".")
        )
    elif plan.one_type:
        lines.append(
            f"One instance type is the plan: {plan.mix.describe()} at ${plan.mix.cost_usd_per_h:,.2f}/h, "
            f"{plan.mix.power_w / 1e3:.2f} kW; no mix of instance types came out lower on {obj}."
        )
    else:
        saving = plan.savings or 0.0
        lines.append(
            f"Best single type: {plan.single.describe()} at ${plan.single.cost_usd_per_h:,.2f}/h, "
            f"{plan.single.power_w / 1e3:.2f} kW; the mix saves {u.percent(saving)} on {obj}."
        )
    if plan.tightened:
        last = plan.rounds[-1]
        lines.append(
            f"The first replay missed the SLO, so the capacity model was tightened and the mix re-solved "
            f"{len(plan.rounds) - 1} time(s); capacity kept: "
            + ", ".join(f"{k} {v:.0%}" for k, v in last.factors.items() if v < 1.0)
            + "."
        )
    if plan.single is not None and plan.single_rounds and len(plan.single_rounds) > 1:
        lines.append(
            f"The single-type fleet was replayed and tightened the same way ({len(plan.single_rounds)} rounds)."
        )
    if plan.meets_slo is False:
        lines.append("[yellow]The last replay still misses the SLO[/yellow]: raise --max-rounds or relax the SLO.")
    if plan.replay is not None and plan.replay.rejected:
        lines.append(f"{plan.replay.rejected:,} requests did not fit the KV cache of the replica they were routed to.")
    return lines


def hourly_png(plan: ServePlan) -> bytes:
    """Cost per hour of the autoscaled mix against the static fleet, with the load curve."""
    h = plan.hourly
    assert h is not None
    fig, ax = subplots(figsize=(8, 4.5))
    hours = list(range(len(h.mixes)))
    ax.step(hours, [m.cost_usd_per_h for m in h.mixes], where="post", label="autoscaled mix")
    ax.axhline(h.static.cost_usd_per_h, color="black", ls="--", lw=1, label=f"static: {h.static.describe()}")
    ax.set_xlabel("hour of day")
    ax.set_ylabel("USD per hour")
    ax2 = ax.twinx()
    ax2.plot(hours, h.multipliers, color="grey", alpha=0.5, lw=1)
    ax2.set_ylabel("load (× the workload's rate)", color="grey")
    ax.set_title(f"{plan.model} on {plan.workload}: autoscaling saves {h.savings:.0%}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return to_png(fig)


def write_plot(plan: ServePlan, path: Path) -> Path:
    atomic_write_bytes(path, hourly_png(plan))
    return path


def split_table(outcome: DisaggOutcome) -> Table:
    """Both pools of the disaggregated fleet: instance, count, workers and their tp, region, cost, load, busy."""
    mix = outcome.mix
    assert mix is not None
    t = Table(title="Disaggregated fleet: prefill pool and decode pool")
    for col in ("pool", "instance", "config", "count", "workers", "where", "$/h", "load", "busy"):
        t.add_column(col, justify="left" if col in ("pool", "instance", "config", "where") else "right")
    for e in (*mix.prefill, *mix.decode):
        t.add_row(
            e.role, e.instance + ("" if e.validated else " †"), e.config, str(e.count), f"{e.replicas} × tp={e.tp}",
            e.region, f"{e.cost_usd_per_h:,.2f}", u.percent(e.load), u.percent(e.busy_fraction),
        )  # fmt: skip
    kinds = "cross-vendor " if mix.cross_vendor else "heterogeneous " if mix.heterogeneous else ""
    co2 = "" if mix.co2_kg_per_h is None else f", {mix.co2_kg_per_h:.2f} kg CO2e/h"
    t.caption = (
        f"{kinds}split, {mix.prefill_to_decode_workers:.2f} prefill workers per decode worker · "
        f"${mix.cost_usd_per_h:,.2f}/h · ${mix.usd_per_million_output_tokens:.3f} per M output tokens · "
        f"{mix.power_w / 1e3:.2f} kW, {mix.j_per_output_token:.2f} J per output token{co2}. † family not validated"
    )
    return t


def link_table(outcome: DisaggOutcome) -> Table:
    """The KV-transfer links the split uses: kind, bandwidth, traffic and utilisation (modelled and replayed)."""
    mix = outcome.mix
    assert mix is not None
    t = Table(title="KV-cache transfer between the pools")
    for col in ("prefill → decode", "link", "bandwidth", "p90 transfer", "KV moved", "utilisation"):
        t.add_column(col, justify="left" if col in ("prefill → decode", "link") else "right")
    replayed = outcome.rounds[-1].link_utilisation if outcome.rounds else None
    for link in mix.links:
        util = u.percent(link.utilisation) + ("" if replayed is None else f" (replay {u.percent(replayed)})")
        t.add_row(
            f"{link.prefill} → {link.decode}", link.kind, f"{link.bytes_per_s / 1e9:,.1f} GB/s",
            u.duration(link.transfer_p90_s), f"{link.gb_per_s:,.2f} GB/s", util,
        )  # fmt: skip
    t.caption = "; ".join(link.description for link in mix.links)
    return t


def split_replay_table(outcome: DisaggOutcome, slo_ttft_s: float, slo_tpot_s: float) -> Table:
    """The split's replay rounds in the disaggregated simulator."""
    t = Table(
        title=f"Replay of the split in the disaggregated simulator (SLO p90 TTFT ≤ {u.duration(slo_ttft_s)}, "
        f"p90 TPOT ≤ {u.duration(slo_tpot_s)})"
    )
    for col in ("round", "fleet", "$/h", "TTFT p50 / p90 / p99", "TPOT p50 / p90 / p99", "SLO met", "verdict"):
        t.add_column(col, justify="left" if col in ("fleet", "verdict") else "right")
    for r in outcome.rounds:
        t.add_row(
            str(r.round), r.fleet, f"{r.cost_usd_per_h:,.2f}",
            " / ".join(_lat(r.ttft_s.get(k, math.nan)) for k in ("p50", "p90", "p99")),
            " / ".join(_lat(r.tpot_s.get(k, math.nan)) for k in ("p50", "p90", "p99")),
            "—" if r.slo_attainment is None else u.percent(r.slo_attainment),
            "meets the SLOs" if r.meets_slo else f"misses: {r.missed or 'requests rejected'}",
        )  # fmt: skip
    return t


def cross_vendor_table(outcome: DisaggOutcome) -> Table:
    """The cheapest cross-vendor pairs among the candidates, each sized alone by the capacity model."""
    t = Table(title="Splits across unlike chips among the candidates (each pair alone, modelled; * cross-vendor)")
    for col in ("prefill", "decode", "link", "KV moved", "$/h", "kW"):
        t.add_column(col, justify="left" if col in ("prefill", "decode", "link") else "right")
    for o in outcome.cross_vendor:
        t.add_row(
            f"{o.prefill_count} × {o.prefill} tp={o.prefill_tp}{' *' if o.cross_vendor else ''}",
            f"{o.decode_count} × {o.decode} tp={o.decode_tp}",
            o.link, f"{o.link_gb_per_s:,.2f} GB/s", f"{o.cost_usd_per_h:,.2f}", f"{o.power_w / 1e3:.2f}",
        )  # fmt: skip
    return t


def disagg_lines(plan: ServePlan) -> list[str]:
    """The decision in words: which fleet is the plan, why, and whether the split was replayed."""
    o = plan.disagg
    if o is None:
        return []
    which = "the disaggregated fleet" if o.chosen else "the aggregated mix above"
    lines = [
        f"--disagg {o.mode.value}: the plan is {which}. {o.reason}.",
        f"Split search: {o.prefill_configs} prefill and {o.decode_configs} decode configurations (one per type), "
        f"{o.pairs} linked pairs ({o.pairs_without_link} in different clouds or regions, not candidates); "
        f"solved in {o.solve_s:.2f} s" + (f", replay {o.replay_s:.2f} s" if o.rounds else "") + f"; {o.status}.",
    ]
    if not o.rounds and o.mix is not None:
        lines.append("[yellow]The split is modelled, not replayed[/yellow]: its latencies are the capacity model's.")
    return lines


def split_png(plan: ServePlan) -> bytes:
    """The disaggregated fleet in one figure: instances per pool, each pool's share of the fleet's cost (against
    the aggregated plan's), and each KV link's utilisation as planned (at the busy-window rate, with the planner's
    cap) next to the last replay's (the simulator's transfer seconds ÷ prefill workers × span)."""
    from chipfleet.plan.serve.disagg import LINK_UTILISATION

    o = plan.disagg
    assert o is not None and o.mix is not None
    mix = o.mix
    pools = (*mix.prefill, *mix.decode)
    fig, (count_ax, cost_ax, link_ax) = subplots(1, 3, figsize=(13, 4.4), width_ratios=(1, 1, 1.1))
    names = [f"{e.role}\n{e.instance} tp={e.tp}" for e in pools]
    colours = ["C0" if e.role == "prefill" else "C1" for e in pools]
    ys = list(range(len(pools)))[::-1]  # prefill on top
    count_ax.barh(ys, [e.count for e in pools], color=colours)
    count_ax.set_yticks(ys, names, fontsize=8)
    for y, e in zip(ys, pools, strict=True):
        count_ax.text(e.count, y, f" {e.count} ({e.replicas} workers)", va="center", fontsize=8)
    count_ax.set_xlim(0, max(e.count for e in pools) * 1.45)
    count_ax.set_xlabel("instances")
    count_ax.set_title("Instances per pool", fontsize=10)
    total = mix.cost_usd_per_h
    shares = [e.cost_usd_per_h / total if total else 0.0 for e in pools]
    cost_ax.barh(ys, shares, color=colours)
    cost_ax.set_yticks(ys, [""] * len(ys))
    for y, e, s in zip(ys, pools, shares, strict=True):
        cost_ax.text(s, y, f" {_usd_h(e.cost_usd_per_h)} ({s:.0%})", va="center", fontsize=8)
    cost_ax.set_xlim(0, 1.45)
    cost_ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    cost_ax.xaxis.set_major_formatter(_percent_formatter())
    cost_ax.set_xlabel("share of the split's cost")
    against = f" (aggregated plan {_usd_h(plan.mix.cost_usd_per_h)})" if plan.mix.entries else ""
    cost_ax.set_title(f"Cost: {_usd_h(total)}{against}", fontsize=10)
    labels, values, bar_colours = [], [], []
    for link in mix.links:
        labels.append(f"planned (busy rate)\n{link.prefill} →\n{link.decode}")
        values.append(link.utilisation)
        bar_colours.append("C4")
    last = o.rounds[-1] if o.rounds else None
    if last is not None and last.link_utilisation is not None:
        labels.append(f"replayed\n(round {last.round})")
        values.append(last.link_utilisation)
        bar_colours.append("C2")
    xs = list(range(len(values)))
    link_ax.bar(xs, values, color=bar_colours)
    link_ax.set_xticks(xs, labels, fontsize=8)
    for x, v in zip(xs, values, strict=True):
        link_ax.text(x, v, f"{v:.1%}", ha="center", va="bottom", fontsize=8)
    link_ax.axhline(LINK_UTILISATION, color="C3", ls="--", lw=1.2, label=f"planner's cap {LINK_UTILISATION:.0%}")
    link_ax.set_ylim(0, max([LINK_UTILISATION, *values]) * 1.2)
    link_ax.yaxis.set_major_formatter(_percent_formatter())
    link_ax.set_ylabel("busy share of the link")
    kinds = ", ".join(sorted({link.kind for link in mix.links}))
    link_ax.set_title(f"KV link ({kinds})" + ("" if last is not None else ": not replayed"), fontsize=10)
    link_ax.legend(fontsize=8, loc="upper right")
    for ax in (count_ax, cost_ax, link_ax):
        ax.grid(alpha=0.3, axis="y" if ax is link_ax else "x")
    which = "the plan" if o.chosen else "not the plan (the aggregated mix is)"
    fig.suptitle(f"{plan.model} on {plan.workload}, --disagg {o.mode.value}: {mix.fleet}, {which}", fontsize=10)
    return to_png(fig)


def _usd_h(x: float) -> str:
    """Dollars per hour for a chart: the dollar sign escaped (two of them would open matplotlib's math mode)."""
    return rf"\${x:,.2f}/h"


def _percent_formatter() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


def write_split_plot(plan: ServePlan, path: Path) -> Path:
    """Write :func:`split_png` to ``path``; a plan without a disaggregated fleet is a :class:`ConfigError` saying
    why there is none."""
    o = plan.disagg
    if o is None:
        raise ConfigError("no disaggregated fleet to draw: the plan was made with disagg off")
    if o.mix is None:
        raise ConfigError(f"no disaggregated fleet to draw: {o.reason}")
    atomic_write_bytes(path, split_png(plan))
    return path
