"""`chipfleet simulate mixed`: serving and training sharing one fleet under a sharing policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console

from chipfleet.catalog import Pricing
from chipfleet.cli import output
from chipfleet.cli.options import (
    MAX_INSTANCES,
    JsonOpt,
    ModelConfigOpt,
    ModelOpt,
    PricingOpt,
    SeedOpt,
    SkipBadRowsOpt,
    State,
    duration_opt,
    float_opt,
    model_arch,
)
from chipfleet.cli.traces import RateScaleOpt, request_trace
from chipfleet.exceptions import ConfigError
from chipfleet.serialize import check_output_dir

# how the fleet is shared
ServeFleetOpt = Annotated[
    str | None, typer.Option(help="Nodes serving starts with (partition: keeps), e.g. inf2.48xlarge:2.")
]
IntervalOpt = Annotated[
    float,
    typer.Option(
        metavar="DURATION",
        parser=duration_opt("--interval", max_s=86400.0),
        show_default="60s",
        help="Sharing controller interval with its unit, e.g. 60s, 5min.",
    ),
]
TargetTtftOpt = Annotated[
    float,
    typer.Option(
        "--slo-ttft-p90",
        "--target-ttft",
        metavar="DURATION",
        parser=duration_opt("--slo-ttft-p90", max_s=3600.0),
        show_default="1s",
        help="p90 TTFT the controller scales serving to hold, e.g. 1s, 800ms.",
    ),
]
MinServingNodesOpt = Annotated[int, typer.Option(min=0, max=MAX_INSTANCES, help="Serving never holds fewer nodes.")]

# how long, and which part of the traces
DurationOpt = Annotated[
    float | None,
    typer.Option(
        metavar="DURATION",
        parser=duration_opt("--duration", max_s=366 * 86400.0),
        help="Simulated time with its unit, e.g. 6h, 90min, at most a year (default: the request trace's span).",
    ),
]
HoursOpt = Annotated[
    float | None,
    typer.Option(
        hidden=True,
        metavar="NUMBER",
        parser=float_opt("--hours", 0.0, 24 * 366.0),
        help="Old spelling of --duration in hours.",
    ),
]
JobRateScaleOpt = Annotated[
    float,
    typer.Option(metavar="NUMBER", parser=float_opt("--job-rate-scale"), help="Multiply the job submission rate."),
]
SkipJobsOpt = Annotated[
    int,
    typer.Option(min=0, help="Start at job N of the job trace (Philly's first 1,300 jobs trickle in over 3 weeks)."),
]
PlotOpt = Annotated[
    Path | None,
    typer.Option(help="Folder for the serving-share (p90 TTFT against its target), serving and training charts."),
]


def simulate_mixed_cmd(
    fleet: Annotated[str, typer.Option(help="One pool for both: inf2.48xlarge:4,p4d.24xlarge:16.")],
    trace: Annotated[str, typer.Option(help="Request trace for serving (azure-conv, mooncake-conv, or a file).")],
    jobs: Annotated[str, typer.Option(help="Job trace for training (philly, or a file).")] = "philly",
    model: ModelOpt = None,
    model_config: ModelConfigOpt = None,
    sharing: Annotated[str, typer.Option(help="partition, serving-first or cost-aware.")] = "serving-first",
    serve_fleet: ServeFleetOpt = None,
    policy: Annotated[str, typer.Option(help="Training scheduling policy (simulate policies).")] = "fifo",
    router: Annotated[str, typer.Option(help="Request router (simulate routers).")] = "least-outstanding",
    interval: IntervalOpt = 60.0,
    slo_ttft_p90: TargetTtftOpt = 1.0,
    min_serving_nodes: MinServingNodesOpt = 1,
    duration: DurationOpt = None,
    hours: HoursOpt = None,
    rate_scale: RateScaleOpt = 1.0,
    job_rate_scale: JobRateScaleOpt = 1.0,
    skip_jobs: SkipJobsOpt = 0,
    seed: SeedOpt = 0,
    pricing: PricingOpt = Pricing.ON_DEMAND,
    skip_bad_rows: SkipBadRowsOpt = False,
    as_json: JsonOpt = False,
    plot: PlotOpt = None,
) -> None:
    """Serving and training in one fleet: a request trace and a job queue share one pool under a policy."""
    from rich.progress import Progress

    from chipfleet.report.sim import mixed_plots, mixed_tables
    from chipfleet.sim.fleet import FleetSpec
    from chipfleet.sim.mixed import MixedOptions, simulate_mixed
    from chipfleet.traces import JobTrace, load_trace

    if plot is not None:
        check_output_dir(plot, "--plot folder")
    arch = model_arch(model, model_config)
    requests_tr = request_trace(trace, None, rate_scale, skip_bad_rows)
    job_tr = load_trace(jobs, skip_bad_rows=skip_bad_rows, kind="jobs")
    if not isinstance(job_tr, JobTrace):
        raise ConfigError(f"{jobs} is a request trace; --jobs needs a job trace (philly)")
    if not 0 <= skip_jobs < len(job_tr):
        raise ConfigError(f"--skip-jobs must be in [0, {len(job_tr)}) for {jobs}, got {skip_jobs}")
    if skip_jobs:
        job_tr = job_tr.slice(skip_jobs, len(job_tr))
    if job_rate_scale != 1.0:
        job_tr = job_tr.scale_rate(job_rate_scale)
    opts = MixedOptions(
        control_interval_s=interval,
        target_ttft_s=slo_ttft_p90,
        min_serving_nodes=min_serving_nodes,
        serve_fleet=FleetSpec.parse(serve_fleet) if serve_fleet else None,
    )
    if hours is not None and duration is not None:
        raise ConfigError("give --duration (e.g. 6h) or its old spelling --hours, not both")
    until_s = hours * 3600.0 if hours is not None else duration
    span = until_s or (float(requests_tr.arrival_s[-1]) if len(requests_tr) else 1.0)
    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as bar:
        task = bar.add_task(f"simulating {len(requests_tr):,} requests and {len(job_tr):,} jobs", total=span)
        result = simulate_mixed(
            arch, requests_tr, job_tr, FleetSpec.parse(fleet), State.catalog(), sharing=sharing,
            training_policy=policy, router=router, options=opts, until_s=until_s, seed=seed,
            pricing=pricing, progress=lambda now: bar.update(task, completed=min(now, span)),
            require_placeable=True,
        )  # fmt: skip
    submit = np.asarray(job_tr.submit_s)
    output.show_simulation(result, mixed_tables, as_json, plot, lambda out: mixed_plots(result, submit, out))
