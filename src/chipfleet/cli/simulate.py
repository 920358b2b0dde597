"""`chipfleet simulate`: a fleet under a trace, serving (request level), training (job level) or both."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console

from chipfleet.catalog import Pricing
from chipfleet.cli import output
from chipfleet.cli.options import (
    MAX_REQUESTS,
    MAX_SEED,
    EngineOpt,
    JsonOpt,
    ModelConfigOpt,
    ModelOpt,
    PricingOpt,
    SeedOpt,
    SkipBadRowsOpt,
    State,
    WeightPrecisionOpt,
    WindowOpt,
    duration_opt,
    float_opt,
    group,
    model_arch,
    tokens_opt,
    weight_precision,
)
from chipfleet.cli.simulate_disagg import DecodeOpt, PrefillOpt, simulate_disagg_cmd
from chipfleet.cli.simulate_mixed import simulate_mixed_cmd
from chipfleet.cli.traces import MappingOpt, RateScaleOpt, column_mapping, request_trace
from chipfleet.exceptions import ConfigError
from chipfleet.perf.engines import engine_profile
from chipfleet.serialize import check_output_dir

simulate_app = group("Simulate a fleet under a trace: serving (request level) or training (job level).")


# simulate serve: the replicas and how requests reach them
RouterOpt = Annotated[
    str | None,
    typer.Option(
        help="round-robin, least-outstanding (default), power-of-two, size-aware; with --prefill/--decode: kv-aware "
        "(default), load-aware, round-robin (simulate routers --disaggregated)."
    ),
]
ServeSeedOpt = Annotated[
    int, typer.Option(min=0, max=MAX_SEED, help="Random seed (routers that draw, synthetic traces).")
]
ReplayRequestsOpt = Annotated[
    int | None, typer.Option(min=1, max=MAX_REQUESTS, help="Replay only the first N requests.")
]
ReplicaTpOpt = Annotated[
    int | None, typer.Option(min=1, max=65536, help="Chips per replica (default: the fewest that fit).")
]
IterationTokensOpt = Annotated[
    int | None,
    typer.Option(
        metavar="TOKENS",
        parser=tokens_opt("--max-batch-tokens"),
        help="Token budget per iteration, 8k = 8192 (default: the engine's, else 8192).",
    ),
]

# simulate serve: the SLOs the tables measure against
SloTtftOpt = Annotated[
    float | None,
    typer.Option(
        "--slo-ttft-p90",
        "--slo-ttft",
        metavar="DURATION",
        parser=duration_opt("--slo-ttft-p90", max_s=3600.0),
        help="TTFT SLO with its unit, e.g. 1s, 500ms: the tables give the share of requests within "
        "the SLOs beside the p90.",
    ),
]
SloTpotOpt = Annotated[
    float | None,
    typer.Option(
        "--slo-tpot-p90",
        "--slo-tpot",
        metavar="DURATION",
        parser=duration_opt("--slo-tpot-p90", max_s=60.0),
        help="TPOT SLO with its unit, e.g. 50ms, as --slo-ttft-p90.",
    ),
]
ConcurrencyOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=1 << 20,
        help="Closed loop: N clients, each sending the trace's next request when its last completes (the trace "
        "gives the requests' sizes in order; its arrival times are unused); --max-seqs makes the rest queue.",
    ),
]
ThinkTimeOpt = Annotated[
    float,
    typer.Option(
        metavar="DURATION",
        parser=duration_opt("--think-time", allow_zero=True, max_s=86400.0),
        help="With --concurrency: a client's pause between a completion and its next request, e.g. 2s.",
    ),
]
ServePlotOpt = Annotated[
    Path | None,
    typer.Option(
        help="Folder for latency CDF and p90 charts (SLO targets drawn), utilization, queue; with --prefill/--decode: "
        "latency CDFs, each pool's utilization and queue, the KV link's utilization and transfer times."
    ),
]


@simulate_app.command("serve")
def simulate_serve(
    trace: Annotated[str, typer.Option(help="Built-in trace (azure-conv, azure-code, mooncake-conv) or a file.")],
    fleet: Annotated[
        str | None, typer.Option(help="Instances and counts: inf2.48xlarge:4,g6e.12xlarge:2 (or --prefill/--decode).")
    ] = None,
    prefill: PrefillOpt = None,
    decode: DecodeOpt = None,
    model: ModelOpt = None,
    model_config: ModelConfigOpt = None,
    mapping: MappingOpt = None,
    router: RouterOpt = None,
    seed: ServeSeedOpt = 0,
    requests: ReplayRequestsOpt = None,
    rate_scale: RateScaleOpt = 1.0,
    concurrency: ConcurrencyOpt = None,
    think_time: ThinkTimeOpt = 0.0,
    tp: ReplicaTpOpt = None,
    precision: WeightPrecisionOpt = None,
    engine: EngineOpt = None,
    max_batch_tokens: IterationTokensOpt = None,
    max_seqs: Annotated[
        int | None, typer.Option(min=1, max=1 << 20, help="Sequences per replica (default: the engine's, else 256).")
    ] = None,
    chunked_prefill: Annotated[
        bool | None, typer.Option(help="Mix prefill chunks into decode iterations (default: the engine's, else on).")
    ] = None,
    prefix_cache: Annotated[bool, typer.Option(help="Reuse cached prompt blocks (traces with hash ids).")] = True,
    slo_ttft_p90: SloTtftOpt = None,
    slo_tpot_p90: SloTpotOpt = None,
    pricing: PricingOpt = Pricing.ON_DEMAND,
    region: Annotated[str | None, typer.Option(help="Region for prices, PUE and carbon.")] = None,
    skip_bad_rows: SkipBadRowsOpt = False,
    as_json: JsonOpt = False,
    plot: ServePlotOpt = None,
    window: WindowOpt = 60.0,
) -> None:
    """Replay a request trace against a fleet of replicas, or prefill and decode pools (--prefill/--decode): latency
    percentiles, SLOs, utilization, cost."""
    from rich.progress import Progress

    from chipfleet.report.sim import serve_plots, serve_tables
    from chipfleet.sim.fleet import FleetSpec
    from chipfleet.sim.serving import ServeOptions, simulate_serving

    if plot is not None:
        check_output_dir(plot, "--plot folder")
    arch = model_arch(model, model_config)
    eng = engine_profile(engine)
    seqs, budget, chunked = eng.batching(max_seqs, max_batch_tokens, chunked_prefill, (256, 8192))
    opts = ServeOptions(
        max_batch_tokens=budget,
        max_seqs=seqs,
        chunked_prefill=chunked,
        prefix_cache=prefix_cache,
        tp=tp,
        precision=weight_precision(precision, model),
        slo_ttft_s=slo_ttft_p90,
        slo_tpot_s=slo_tpot_p90,
        engine=eng,
        window_s=window,
    )
    tr = request_trace(trace, requests, rate_scale, skip_bad_rows, mapping)
    if prefill is not None or decode is not None:
        aggregated_only = {
            "--fleet": fleet is not None,
            "--concurrency": concurrency is not None,
            "--think-time": think_time > 0,
            "--tp": tp is not None,
        }
        return simulate_disagg_cmd(arch, tr, prefill, decode, opts, router=router, seed=seed, pricing=pricing,
                                   region=region, as_json=as_json, aggregated_only=aggregated_only,
                                   plot=plot)  # fmt: skip
    if fleet is None:
        raise ConfigError("give the fleet (--fleet inf2.48xlarge:4) or the pools (--prefill, --decode)", field="fleet")
    spec = FleetSpec.parse(fleet)
    for name, _ in spec.entries:  # the engine must run on every chip of the fleet
        chip = State.catalog().chip(State.catalog().instance(name).chip)
        eng.require_chip(chip.name, chip.family)
    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as bar:
        task = bar.add_task(f"simulating {len(tr):,} requests", total=len(tr))
        result = simulate_serving(
            arch, tr, spec, State.catalog(), router=router or "least-outstanding", options=opts, seed=seed,
            pricing=pricing, region=region, progress=lambda done, total: bar.update(task, completed=done),
            concurrency=concurrency, think_time_s=think_time,
        )  # fmt: skip
    output.show_simulation(
        result, serve_tables, as_json, plot,
        lambda out: serve_plots(result, out, slo_ttft_s=opts.slo_ttft_s, slo_tpot_s=opts.slo_tpot_s),
    )  # fmt: skip


@simulate_app.command("train")
def simulate_train(
    fleet: Annotated[str, typer.Option(help="Instances and counts: trn1.32xlarge:64,p5.48xlarge:16.")],
    trace: Annotated[str, typer.Option(help="Built-in job trace (philly) or a file with a column mapping.")] = "philly",
    mapping: Annotated[
        str | None,
        typer.Option(
            help="Columns of a job trace file: submit=ts,chips=gpus,duration=runtime,time_unit=s,duration_unit=min."
        ),
    ] = None,
    policy: Annotated[str, typer.Option(help="fifo, sjf, gavel-max-throughput, cost-min, energy-aware, ...")] = "fifo",
    seed: SeedOpt = 0,
    jobs: Annotated[int | None, typer.Option(min=1, max=MAX_REQUESTS, help="Replay only the first N jobs.")] = None,
    rate_scale: Annotated[
        float,
        typer.Option(
            metavar="NUMBER",
            parser=float_opt("--rate-scale"),
            help="Multiply the submission rate (2 = twice the load).",
        ),
    ] = 1.0,
    reference: Annotated[
        str | None, typer.Option(help="Instance type the trace's durations were measured on (default: slowest).")
    ] = None,
    pricing: PricingOpt = Pricing.ON_DEMAND,
    skip_bad_rows: SkipBadRowsOpt = False,
    as_json: JsonOpt = False,
    plot: Annotated[Path | None, typer.Option(help="Folder for the JCT CDF and utilization charts.")] = None,
) -> None:
    """Replay a job trace on a mixed training cluster under a scheduling policy."""
    from rich.progress import Progress

    from chipfleet.report.sim import train_plots, train_tables
    from chipfleet.sim.fleet import FleetSpec
    from chipfleet.sim.training import TrainingOptions, simulate_training
    from chipfleet.traces import JobTrace, load_trace

    if plot is not None:
        check_output_dir(plot, "--plot folder")
    tr = load_trace(trace, skip_bad_rows=skip_bad_rows, kind="jobs", mapping=column_mapping(mapping))
    if not isinstance(tr, JobTrace):
        raise ConfigError(f"{trace} is a request trace; `simulate train` needs jobs (philly)")
    if jobs is not None:
        tr = tr.head(jobs)
    if rate_scale != 1.0:
        tr = tr.scale_rate(rate_scale)
    spec = FleetSpec.parse(fleet)
    cat = State.catalog()
    span = float(tr.submit_s[-1]) if len(tr) else 0.0
    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as bar:
        task = bar.add_task(f"simulating {len(tr):,} jobs", total=max(span, 1.0))
        result = simulate_training(
            tr, spec, cat, policy=policy, options=TrainingOptions(require_placeable=True, reference=reference),
            seed=seed, pricing=pricing, progress=lambda now: bar.update(task, completed=min(now, span)),
        )  # fmt: skip
    submit = np.asarray(tr.submit_s)
    output.show_simulation(result, train_tables, as_json, plot, lambda out: train_plots(result, submit, out))


simulate_app.command("mixed")(simulate_mixed_cmd)


@simulate_app.command("sharing")
def simulate_sharing(as_json: JsonOpt = False) -> None:
    """List the policies for sharing one fleet between serving and training."""
    from chipfleet.sim.mixed import SHARING

    output.show_plugins(SHARING, "Sharing policies (simulate mixed --sharing)", as_json)


@simulate_app.command("policies")
def simulate_policies(as_json: JsonOpt = False) -> None:
    """List the training-cluster scheduling policies."""
    from chipfleet.sim.training import POLICIES

    output.show_plugins(POLICIES, "Training scheduling policies (simulate train --policy)", as_json)


@simulate_app.command("routers")
def simulate_routers(
    as_json: JsonOpt = False,
    disaggregated: Annotated[bool, typer.Option(help="The routers of prefill and decode workers instead.")] = False,
) -> None:
    """List the request routers (of replicas, or with --disaggregated of prefill and decode workers)."""
    from chipfleet.sim.serving import DISAGG_ROUTERS, ROUTERS

    if disaggregated:
        title = "Disaggregated routers (simulate serve --prefill/--decode --router)"
        output.show_plugins(DISAGG_ROUTERS, title, as_json)
    else:
        output.show_plugins(ROUTERS, "Request routers (simulate serve --router)", as_json)
