"""`chipfleet plan serve`: the cheapest instance mix, and its routing, that serves a workload within p90 SLOs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chipfleet.catalog import Precision, Pricing
from chipfleet.cli import output
from chipfleet.cli.options import (
    MAX_INSTANCES,
    MAX_REQUESTS,
    MAX_SEED,
    CloudsCsvOpt,
    EngineOpt,
    InstancesCsvOpt,
    JsonOpt,
    ModelConfigOpt,
    ModelOpt,
    PricingOpt,
    SkipBadRowsOpt,
    State,
    counts,
    csv,
    duration_opt,
    float_opt,
    model_arch,
    tokens_opt,
    weight_precision,
)
from chipfleet.cli.traces import (
    InputTokensDistOpt,
    MappingOpt,
    OutputTokensDistOpt,
    RateOpt,
    RateScaleOpt,
    WorkloadDurationOpt,
    WorkloadTraceOpt,
    workload,
)
from chipfleet.exceptions import ConfigError
from chipfleet.perf.engines import engine_profile
from chipfleet.plan import ServeConstraints, ServeObjective
from chipfleet.plan.serve.spec import DisaggMode
from chipfleet.serialize import check_output_path
from chipfleet.units import parse_duration, parse_float, parse_token_list


def _serve_constraints(
    instances: str | None, clouds: str | None, region: str | None, pricing: Pricing, precision: list[Precision] | None,
    tp: str | None, max_batch: str, max_batch_tokens: int, max_instances: int,
) -> ServeConstraints:  # fmt: skip
    """What the serving planner may choose from, out of the options as typed."""
    return ServeConstraints(
        instances=csv(instances),
        clouds=csv(clouds),
        region=region,
        pricing=pricing,
        precisions=tuple(precision or (Precision.BF16,)),
        tp=counts(tp, "--tp", 65536),
        max_seqs=counts(max_batch, "--max-batch", 1 << 20),
        max_batch_tokens=max_batch_tokens,
        max_instances_per_type=max_instances,
    )


def _edges(text: str | None, what: str, default: tuple[int, ...]) -> tuple[int, ...]:
    return parse_token_list(text, what) if text is not None else default


# the latency SLOs the mix meets
SloTtftP90Opt = Annotated[
    float,
    typer.Option(
        metavar="DURATION",
        parser=duration_opt("--slo-ttft-p90", max_s=3600.0),
        help="p90 time-to-first-token SLO with its unit: 1s, 800ms.",
    ),
]
SloTpotP90Opt = Annotated[
    float,
    typer.Option(
        metavar="DURATION",
        parser=duration_opt("--slo-tpot-p90", max_s=60.0),
        help="p90 time-per-output-token SLO with its unit: 50ms.",
    ),
]

# the workload beyond the shared trace options
RequestsOpt = Annotated[int | None, typer.Option(min=1, max=MAX_REQUESTS, help="Use only the first N requests.")]

# what the mix may be made of: _serve_constraints()
RegionOpt = Annotated[str | None, typer.Option(help="One region for every type (default: each type's cheapest).")]
PrecisionsOpt = Annotated[
    list[Precision] | None,
    typer.Option(
        help="Weight precisions to consider (default: the one a quantized checkpoint's repo id names, e.g. -FP8, "
        "else bf16)."
    ),
]
TpListOpt = Annotated[
    str | None, typer.Option(help="Chips per replica to consider, e.g. 1,2,8 (default: all that fit).")
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        help="Every length bucket within the SLOs at its own p90, and every request held, or fail "
        "(default: the SLOs are fleet p90s; up to 2 % of requests served best effort, requests "
        "no replica can hold left out and reported)."
    ),
]
MaxBatchListOpt = Annotated[
    str | None, typer.Option(help="Sequences per replica to consider, e.g. 64,256 (default: the engine's, else 256).")
]
MaxBatchTokensOpt = Annotated[
    int | None,
    typer.Option(
        metavar="TOKENS",
        parser=tokens_opt("--max-batch-tokens"),
        help="Token budget per batching iteration, 8k = 8192 (default: the engine's, else 8192).",
    ),
]
MaxInstancesOpt = Annotated[int, typer.Option(min=1, max=MAX_INSTANCES, help="Most instances of one type.")]

# how the mix is solved and checked
ObjectiveOpt = Annotated[ServeObjective, typer.Option(case_sensitive=False, help="What to minimise.")]
InputEdgesOpt = Annotated[
    str | None, typer.Option(help="Prompt-length bucket edges in tokens, e.g. 512,2k,8k (k = 1024).")
]
OutputEdgesOpt = Annotated[
    str | None, typer.Option(help="Output-length bucket edges in tokens, e.g. 128,512 (k = 1024).")
]
PeakWindowOpt = Annotated[
    str,
    typer.Option(
        help="Size for the busy rate over windows this long, with a unit: 30s, 5min; 0: the mean rate; auto: "
        "max(5 × the TTFT SLO, 100 requests' worth)."
    ),
]
DisaggOpt = Annotated[
    DisaggMode,
    typer.Option(
        case_sensitive=False,
        help="Split prefill and decode onto separate pools: auto plans both and picks the cheaper (or lower-energy) "
        "that meets the p90 SLOs in the replay, saying why; on: the split only; off: aggregated replicas only.",
    ),
]
MaxRoundsOpt = Annotated[int, typer.Option(min=0, max=100, help="Re-solves after a replay that misses (0: no replay).")]

# a mix per hour of a daily load curve
PerHourOpt = Annotated[bool, typer.Option(help="Also plan a mix per hour of a daily load curve.")]
LoadCurveOpt = Annotated[
    str | None, typer.Option(help="With --per-hour: 24 comma-separated multipliers of the workload's rate.")
]
PeakToTroughOpt = Annotated[
    float,
    typer.Option(
        metavar="NUMBER",
        parser=float_opt("--peak-to-trough", 1.0, 1000.0, low_open=False),
        help="With --per-hour and no --load-curve: peak/trough of the assumed daily sinusoid (1 to 1000).",
    ),
]
StartupTimeOpt = Annotated[
    float,
    typer.Option(
        metavar="DURATION",
        parser=duration_opt("--startup-time", max_s=86400.0, allow_zero=True),
        show_default="525s",
        help="With --per-hour: billed warm-up of each instance started (launch, image, weights; "
        "default 525 s, AWS's SageMaker scale-out of an 8B model); 0: free.",
    ),
]

# the rest
PlanSeedOpt = Annotated[
    int, typer.Option(min=0, max=MAX_SEED, help="Seed of the synthetic workload and the router's draws.")
]
HourlyPlotOpt = Annotated[Path | None, typer.Option(help="With --per-hour: write the hourly cost chart (PNG).")]
SplitPlotOpt = Annotated[
    Path | None,
    typer.Option(
        help="With --disagg auto|on: write the split's chart (PNG): both pools' instances and cost share, the KV "
        "link's use planned and replayed (no split found: the plan prints, then an error says why)."
    ),
]


def plan_serve(
    slo_ttft_p90: SloTtftP90Opt,
    slo_tpot_p90: SloTpotP90Opt,
    model: ModelOpt = None,
    model_config: ModelConfigOpt = None,
    trace: WorkloadTraceOpt = None,
    mapping: MappingOpt = None,
    rate: RateOpt = None,
    input_tokens: InputTokensDistOpt = None,
    output_tokens: OutputTokensDistOpt = None,
    duration: WorkloadDurationOpt = 1800.0,
    requests: RequestsOpt = None,
    rate_scale: RateScaleOpt = 1.0,
    instances: InstancesCsvOpt = None,
    clouds: CloudsCsvOpt = None,
    region: RegionOpt = None,
    pricing: PricingOpt = Pricing.ON_DEMAND,
    precision: PrecisionsOpt = None,
    tp: TpListOpt = None,
    strict: StrictOpt = False,
    engine: EngineOpt = None,
    max_batch: MaxBatchListOpt = None,
    max_batch_tokens: MaxBatchTokensOpt = None,
    max_instances: MaxInstancesOpt = 512,
    objective: ObjectiveOpt = ServeObjective.COST,
    input_edges: InputEdgesOpt = None,
    output_edges: OutputEdgesOpt = None,
    peak_window: PeakWindowOpt = "auto",
    max_rounds: MaxRoundsOpt = 4,
    disagg: DisaggOpt = DisaggMode.AUTO,
    per_hour: PerHourOpt = False,
    load_curve: LoadCurveOpt = None,
    peak_to_trough: PeakToTroughOpt = 3.0,
    startup_time: StartupTimeOpt = 525.0,
    seed: PlanSeedOpt = 0,
    skip_bad_rows: SkipBadRowsOpt = False,
    as_json: JsonOpt = False,
    plot: HourlyPlotOpt = None,
    plot_split: SplitPlotOpt = None,
) -> None:
    """The cheapest (or least-energy) mix of instances, and its routing, that serves a workload within p90 SLOs."""
    from chipfleet.plan.serve import DEFAULT_INPUT_EDGES, DEFAULT_OUTPUT_EDGES, ServeSLO, serve
    from chipfleet.report import serve_plan as rp

    if plot is not None and not per_hour:
        raise ConfigError("--plot draws the per-hour cost curve; add --per-hour")
    if load_curve is not None and not per_hour:
        raise ConfigError("--load-curve applies with --per-hour; add it")
    if plot is not None:
        check_output_path(plot, "--plot chart")
    if plot_split is not None:
        if disagg is DisaggMode.OFF:
            raise ConfigError("--plot-split draws the disaggregated fleet; use --disagg auto or on")
        check_output_path(plot_split, "--plot-split chart")
    arch = model_arch(model, model_config)
    slo = ServeSLO(slo_ttft_p90, slo_tpot_p90)
    in_edges = _edges(input_edges, "--input-edges", DEFAULT_INPUT_EDGES)
    out_edges = _edges(output_edges, "--output-edges", DEFAULT_OUTPUT_EDGES)
    peak_window_s = (
        None
        if peak_window.strip().lower() == "auto"
        else parse_duration(peak_window, "--peak-window", allow_zero=True, max_s=86400.0)
    )
    curve = None
    if load_curve is not None:
        curve = [parse_float(v, "--load-curve", low=0.0, high=1e6) for v in load_curve.split(",")]
    seqs, budget, _ = engine_profile(engine).batching(None, max_batch_tokens, None, (256, 8192))
    precisions = precision or [weight_precision(None, model)]
    constraints = _serve_constraints(
        instances, clouds, region, pricing, precisions, tp, max_batch or str(seqs), budget, max_instances
    )
    tr = workload(trace, rate, input_tokens, output_tokens, duration, requests, rate_scale, skip_bad_rows, mapping,
                  seed)  # fmt: skip
    with output.status(as_json) as progress:
        result = serve(
            arch, tr, slo, catalog=State.catalog(), constraints=constraints, objective=objective,
            input_edges=in_edges, output_edges=out_edges, replay_rounds=max_rounds, per_hour=per_hour,
            load_curve=curve, peak_to_trough=peak_to_trough, peak_window_s=peak_window_s, seed=seed,
            progress=progress, strict=strict, startup_s=startup_time, disagg=disagg,
        )  # fmt: skip
    if plot is not None:
        rp.write_plot(result, plot)
    output.record_result(result)
    if as_json:
        output.emit_json(result)
        if plot_split is not None:  # after the plan: with no split it raises, saying why
            rp.write_split_plot(result, plot_split)
        return
    output.show(rp.mix_table(f"Cheapest mix by {objective.value} for {result.model} on {result.workload}", result.mix))
    output.show(rp.routing_table(result.mix))
    if result.single is not None:
        output.show(rp.mix_table("Best single instance type, solved the same way", result.single))
    if result.rounds:
        output.show(rp.replay_table(result))
    if result.single_rounds:
        output.show(rp.replay_table(result, single=True))
    if result.hourly is not None:
        output.show(rp.hourly_table(result))
    if result.disagg is not None and result.disagg.mix is not None:
        for table in (rp.split_table(result.disagg), rp.link_table(result.disagg)):
            output.show(table)
        if result.disagg.rounds:
            output.show(rp.split_replay_table(result.disagg, slo.ttft_p90_s, slo.tpot_p90_s))
    if result.disagg is not None and result.disagg.cross_vendor:
        output.show(rp.cross_vendor_table(result.disagg))
    for line in rp.summary_lines(result) + rp.disagg_lines(result):
        output.show(line)
    if plot is not None:
        output.show(f"chart: {plot}")
    if plot_split is not None:
        output.console.print(f"split chart: {rp.write_split_plot(result, plot_split)}", soft_wrap=True, markup=False)
