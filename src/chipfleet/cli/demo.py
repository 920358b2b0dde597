"""`chipfleet demo`: training and serving across Trainium, Inferentia, TPU, AMD and NVIDIA, with a chart."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chipfleet.catalog import Pricing
from chipfleet.cli import output
from chipfleet.cli.options import JsonOpt, State
from chipfleet.report import tables
from chipfleet.serialize import atomic_write_text, check_output_dir, dumps


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the chart and the JSON results.")] = Path("out"),
    pricing: Annotated[
        Pricing,
        typer.Option(case_sensitive=False, help="Pricing model of every row; instances without it are left out."),
    ] = Pricing.ON_DEMAND,
    as_json: JsonOpt = False,
) -> None:
    """Llama-3-70B pre-training and Llama-3-8B serving across Trainium, Inferentia, TPU and NVIDIA, gpt-oss-120b
    (MoE) served on Trainium2, H200, B200, MI300X, MI355X and TPU v6e, and the cheapest AWS fleet that serves
    Azure's conversation trace within p90 SLOs (about half a minute)."""
    from chipfleet.demo import run_demo
    from chipfleet.report.plots import demo_chart

    check_output_dir(out, "--out folder")
    result = run_demo(State.catalog(), pricing)
    out.mkdir(parents=True, exist_ok=True)
    chart = demo_chart(result, out / "chipfleet-demo.png")
    atomic_write_text(out / "chipfleet-demo.json", dumps(result) + "\n")
    if as_json:
        output.emit_json(result)
        return
    output.show(tables.training_comparison_table(result.training_title, result.training))
    for skip in result.training_skipped:
        output.show(f"[yellow]skipped[/yellow] {skip}")
    for caveat in result.caveats:
        output.show(f"[yellow]caveat[/yellow] {caveat}")
    output.show(tables.serving_comparison_table(result.serving_title, result.serving))
    for skip in result.serving_skipped:
        output.show(f"[yellow]skipped[/yellow] {skip}")
    output.show(tables.moe_serving_table(result.moe_title, result.moe_serving))
    for row in result.moe_serving:
        if row.precision_note:
            output.show(f"[yellow]*[/yellow] {row.estimate.instance}: {row.precision_note}")
    for skip in result.moe_skipped:
        output.show(f"[yellow]skipped[/yellow] {skip}")
    plan = result.serving_plan
    if plan is not None:
        from chipfleet.report import serve_plan as rp

        output.show(rp.mix_table(result.serving_plan_title, plan.mix))
        for line in rp.summary_lines(plan)[1:]:
            output.show(line)
    elif result.serving_plan_skipped:
        output.show(f"[yellow]serving plan skipped[/yellow] {result.serving_plan_skipped}")
    output.show(f"chart: {chart}\nresults: {out / 'chipfleet-demo.json'}")
