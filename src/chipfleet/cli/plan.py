"""`chipfleet plan` and `plan train`: the cheapest, fastest or greenest placement of a training run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chipfleet.catalog import Precision
from chipfleet.cli import output
from chipfleet.cli.options import (
    CloudsCsvOpt,
    InstancesCsvOpt,
    InterruptionsOpt,
    JsonOpt,
    ModelConfigOpt,
    ModelOpt,
    SeqLenOpt,
    State,
    csv,
    duration_opt,
    float_opt,
    group,
    in_base_units,
    model_arch,
    training_tokens,
)
from chipfleet.cli.plan_serve import plan_serve
from chipfleet.perf.training import MAX_CHIPS
from chipfleet.plan import Objective, PricingChoice
from chipfleet.serialize import check_output_path
from chipfleet.units import parse_usd

plan_app = group("Search for the best placement: a training run, or the instance mix that serves a workload.")


# what the run must meet
DeadlineOpt = Annotated[
    float | None,
    typer.Option(metavar="DURATION", parser=duration_opt("--deadline"), help="Finish within this long: 30d, 12h, 2w."),
]
BudgetOpt = Annotated[
    float | None,
    typer.Option(
        metavar="USD",
        parser=in_base_units(parse_usd, "--budget", max_usd=1e12),
        help="Spend at most this many USD: 2M, $500k.",
    ),
]

# what it may run on
PricingChoiceOpt = Annotated[
    PricingChoice,
    typer.Option(
        case_sensitive=False,
        help="Pricing model; reserved: only instances with a reserved price (each row says its term); any: "
        "on-demand, spot and reserved, each row saying which.",
    ),
]
GlobalBatchOpt = Annotated[
    int | None, typer.Option(min=1, max=1 << 24, help="Sequences per step (default ≈4M tokens).")
]
PrecisionsOpt = Annotated[
    list[Precision] | None, typer.Option(case_sensitive=False, help="Allowed precisions (default bf16, fp8).")
]

# spot: how an interrupted run recovers
RestartOpt = Annotated[
    float,
    typer.Option(
        metavar="DURATION",
        parser=duration_opt("--restart", allow_zero=True, max_s=7 * 86400.0),
        show_default="10min",
        help="Spot: time to recover from an interruption, with its unit: 10min, 30s (at most a week).",
    ),
]
RestartMinOpt = Annotated[
    float | None,
    typer.Option(
        hidden=True,
        metavar="NUMBER",
        parser=float_opt("--restart-min", 0.0, 7 * 24 * 60.0, low_open=False),
        help="Old spelling of --restart in minutes.",
    ),
]
ParetoPlotOpt = Annotated[Path | None, typer.Option(help="Write the Pareto chart: out/pareto.png or .html.")]


@plan_app.command("train")
def plan_train(
    tokens: Annotated[float, training_tokens("Training tokens, decimal: 2T = 2×10¹².")],
    model: ModelOpt = None,
    model_config: ModelConfigOpt = None,
    deadline: DeadlineOpt = None,
    budget: BudgetOpt = None,
    max_chips: Annotated[int, typer.Option(min=1, max=MAX_CHIPS, help="Largest cluster to consider (chips).")] = 4096,
    clouds: CloudsCsvOpt = None,
    regions: Annotated[str | None, typer.Option(help="Comma-separated regions.")] = None,
    instances: InstancesCsvOpt = None,
    pricing: PricingChoiceOpt = PricingChoice.ON_DEMAND,
    objective: Annotated[Objective, typer.Option(case_sensitive=False, help="What to minimise.")] = Objective.COST,
    top: Annotated[int, typer.Option(min=1, max=1000, help="Options to list.")] = 10,
    seq_len: SeqLenOpt = 4096,
    global_batch: GlobalBatchOpt = None,
    precision: PrecisionsOpt = None,
    interruptions_per_month: InterruptionsOpt = 0.20,
    restart: RestartOpt = 600.0,
    restart_min: RestartMinOpt = None,
    as_json: JsonOpt = False,
    plot: ParetoPlotOpt = None,
) -> None:
    """The cheapest, fastest or greenest way to train a model, with the Pareto front over time and cost."""
    from chipfleet import plan as planner
    from chipfleet.report import plan as pr

    if plot is not None:
        check_output_path(plot, "--plot chart")
    arch = model_arch(model, model_config)
    constraints = planner.TrainConstraints(
        deadline_s=deadline,
        budget_usd=budget,
        max_chips=max_chips,
        clouds=csv(clouds),
        regions=csv(regions),
        instances=csv(instances),
        pricing=pricing,
        precisions=tuple(precision or ()),
    )
    restart_s = restart_min * 60.0 if restart_min is not None else restart
    spot = planner.SpotModel(interruptions_per_month=interruptions_per_month, restart_s=restart_s)
    result = planner.train(
        arch, tokens, catalog=State.catalog(), seq_len=seq_len, global_batch=global_batch, constraints=constraints,
        objective=objective, top=top, spot=spot,
    )  # fmt: skip
    if plot is not None:
        pr.write_plot(result, plot)
    output.record_result(result)
    if as_json:
        output.emit_json(result)
        return
    output.show(pr.options_table(f"Best options by {objective.value} (one per instance type first)", result.options))
    output.show(pr.options_table("Pareto front: time × cost", result.pareto))
    output.show(result.explanation)
    for caveat in result.caveats:
        output.show(f"[yellow]caveat[/yellow] {caveat}")
    output.show(pr.rejected_table(result))
    if plot is not None:
        output.show(f"chart: {plot}")


plan_app.command("serve")(plan_serve)
