"""`chipfleet simulate serve --prefill ... --decode ...`: a disaggregated deployment (prefill and decode pools) under a
request trace, and its tables."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from chipfleet.catalog import Pricing
from chipfleet.cli import output
from chipfleet.cli.options import State
from chipfleet.exceptions import ConfigError
from chipfleet.report import units as u
from chipfleet.sim.metrics import LogHistogram
from chipfleet.sim.serving import DisaggOptions, DisaggResult, PoolSpec, ServeOptions, simulate_disaggregated
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import ModelArch

_POOL_HELP = (
    "INSTANCE:COUNT[:KEY=VALUE...] with keys tp (chips per worker), ep, dp-attention=on|off, max-seqs, "
    "max-batch-tokens, region"
)
PrefillOpt = Annotated[
    str | None,
    typer.Option(
        metavar="POOL",
        help=f"Disaggregated serving: the prefill pool, {_POOL_HELP}; e.g. trn2.48xlarge:2 or "
        "p6-b200.48xlarge:1:tp=4. Needs --decode, replaces --fleet.",
    ),
]
DecodeOpt = Annotated[
    str | None,
    typer.Option(
        metavar="POOL",
        help="Disaggregated serving: the decode pool, as --prefill; e.g. inf2.48xlarge:6.",
    ),
]
DEFAULT_ROUTER = "kv-aware"


def _ms(x: float) -> str:
    """A duration; a wait at the latency histograms' floor (1 µs, where waits of zero are counted) shows as 0."""
    if math.isnan(x):
        return "—"
    return "0" if x <= LogHistogram.low * 1.01 else u.duration(x)


def _pct(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else u.percent(x)


def _three(d: dict[str, float]) -> str:
    return " / ".join(_ms(d[k]) for k in ("p50", "p90", "p99"))


def disagg_tables(r: DisaggResult) -> list[Table]:
    """The run (latency, SLOs, throughput, cost), each pool, and the KV link."""
    head = Table(title=f"Serving {r.model} disaggregated: prefill {r.prefill}, decode {r.decode}: {r.trace} "
                 f"({r.requests:,} requests), router {r.router}")  # fmt: skip
    head.add_column("quantity")
    head.add_column("value", justify="right")
    share = r.beyond_context / r.requests if r.requests else math.nan
    rows = [
        ("completed", f"{r.completed:,}"),
        (f"longer than the context window ({r.context_window_tokens:,} tokens)", f"{r.beyond_context:,} refused "
         f"({_pct(share)})"),
        ("simulated span", u.duration(r.span_s)),
        ("TTFT p50 / p90 / p99 (to the cache landing)", _three(r.ttft_s)),
        ("TPOT p50 / p90 / p99", _three(r.tpot_s)),
        ("end-to-end p50 / p90 / p99", _three(r.e2e_s)),
        ("prefill queue wait p50 / p90 / p99", _three(r.queue_wait_s)),
        ("wait for decode KV room p50 / p90 / p99", _three(r.decode_wait_s)),
        ("SLO attainment", _pct(r.slo_attainment)),
        ("throughput", f"{u.rate(r.output_tokens_per_s, 'tokens')}, {r.requests_per_s:.2f} req/s"),
        ("cost", u.usd(r.cost_usd)),
        ("energy (facility)", f"{u.energy(r.energy_kwh)} (PUE {r.pue:.2f})"),
        ("events", f"{r.events:,}"),
    ]  # fmt: skip
    for name, value in rows:
        head.add_row(name, value)
    pools = Table(title="Pools")
    for col in ("pool", "instance", "instances", "workers × tp", "KV tokens/worker", "requests", "util"):
        pools.add_column(col, justify="left" if col in ("pool", "instance") else "right")
    for p in r.pools:
        layout = f"{p.workers} × {p.tp}" + (f" ep {p.ep}" if p.ep > 1 else "") + (" dp-attn" if p.dp_attention else "")
        region = f" ({p.region})" if p.region else ""
        pools.add_row(p.role, p.instance + region, f"{p.instances}", layout, f"{p.kv_capacity_tokens:,}",
                      f"{p.requests:,}", _pct(p.utilization))  # fmt: skip
    k = r.link
    link = Table(title=f"KV-cache link: {k.kind}", caption=k.description)
    link.add_column("quantity")
    link.add_column("value", justify="right")
    for name, value in (
        ("bandwidth per prefill worker, latency", f"{k.bytes_per_s / 1e9:,.2f} GB/s, {_ms(k.latency_s)}"),
        ("transfers, bytes moved", f"{k.transfers:,}, {u.gigabytes(k.bytes_moved)}"),
        ("transfer mean / p90 (with link queueing)", f"{_ms(k.transfer_s['mean'])} / {_ms(k.transfer_s['p90'])}"),
        ("link utilization", _pct(k.utilization)),
    ):
        link.add_row(name, value)
    tables = [head, pools, link]
    if r.notes:
        notes = Table(title="Notes")
        notes.add_column("note")
        for note in r.notes:
            notes.add_row(note)
        tables.append(notes)
    return tables


def simulate_disagg_cmd(
    arch: ModelArch,
    tr: RequestTrace,
    prefill: str | None,
    decode: str | None,
    serve: ServeOptions,
    *,
    router: str | None,
    seed: int,
    pricing: Pricing,
    region: str | None,
    as_json: bool,
    aggregated_only: dict[str, bool],
    plot: Path | None = None,
) -> None:
    """Replay ``tr`` against the prefill and decode pools and show the tables (or JSON). ``serve`` carries the
    options both deployments share (batch limits, precision, engine, SLOs); ``aggregated_only`` says which options
    of aggregated replicas were given (refused here: a pool's spec carries its layout). ``plot``: a folder (checked
    by the caller) for the charts of :func:`chipfleet.report.disagg.disagg_plots`, each path printed after the
    tables (with ``--json``, on stderr: stdout holds only the JSON)."""
    from rich.progress import Progress

    for flag, given in aggregated_only.items():
        if given:
            raise ConfigError(
                f"{flag} is for aggregated replicas; with --prefill/--decode leave it out (a pool's layout goes in "
                "its spec, e.g. trn2.48xlarge:2:tp=4)"
            )
    if prefill is None or decode is None:
        missing = "--decode" if decode is None else "--prefill"
        raise ConfigError(
            f"a disaggregated deployment needs both pools: {missing} is missing (e.g. --prefill trn2.48xlarge:2 "
            "--decode inf2.48xlarge:6)",
            field="decode" if decode is None else "prefill",
        )
    pools = [PoolSpec.parse(prefill, "prefill"), PoolSpec.parse(decode, "decode")]
    if region is not None:
        pools = [p if p.region else dataclasses.replace(p, region=region.lower()) for p in pools]
    cat = State.catalog()
    for pool in pools:  # the engine must run on both pools' chips
        chip = cat.chip(cat.instance(pool.instance).chip)
        if serve.engine is not None:
            serve.engine.require_chip(chip.name, chip.family)
    opts = DisaggOptions(
        max_batch_tokens=serve.max_batch_tokens, max_seqs=serve.max_seqs, precision=serve.precision,
        router=router or DEFAULT_ROUTER, slo_ttft_s=serve.slo_ttft_s, slo_tpot_s=serve.slo_tpot_s, engine=serve.engine,
    )  # fmt: skip
    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as bar:
        task = bar.add_task(f"simulating {len(tr):,} requests", total=len(tr))
        result = simulate_disaggregated(
            arch, tr, pools[0], pools[1], cat, opts, seed=seed, pricing=pricing,
            progress=lambda done, total: bar.update(task, completed=done),
        )  # fmt: skip
    paths: list[Path] = []
    if plot is not None:
        from chipfleet.report.disagg import disagg_plots

        paths = disagg_plots(result, plot, slo_ttft_s=serve.slo_ttft_s, slo_tpot_s=serve.slo_tpot_s)
    output.show_simulation(result, disagg_tables, as_json, None, lambda out: None)
    for path in paths:  # whole on one line (a path cut at the terminal's width cannot be pasted), as typed
        console = Console(stderr=True) if as_json else output.console
        console.print(f"chart: {path}", soft_wrap=True, markup=False, highlight=False)
