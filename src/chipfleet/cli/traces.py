"""`chipfleet traces`, and how every command reads a workload: a trace by name or file, or a synthetic one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from rich.table import Table

from chipfleet.cli import output
from chipfleet.cli.options import MAX_REQUESTS, JsonOpt, duration_opt, float_opt, group, in_base_units
from chipfleet.exceptions import ConfigError
from chipfleet.units import parse_rate

if TYPE_CHECKING:
    from chipfleet.traces import RequestTrace

traces_app = group("Workload traces: the shipped public traces and synthetic generators.")

RATE_SCALE_HELP = "Multiply the arrival rate (2 = twice the load; more than 0, at most 10⁶)."
MappingOpt = Annotated[
    str | None,
    typer.Option(help="Columns of a trace file: arrival=ts,input=prompt,output=completion,time_unit=ms."),
]
RateScaleOpt = Annotated[float, typer.Option(metavar="NUMBER", parser=float_opt("--rate-scale"), help=RATE_SCALE_HELP)]
# a workload to plan for: a trace, or a synthetic one at a rate with length distributions (see workload())
WorkloadTraceOpt = Annotated[
    str | None, typer.Option(help="Built-in trace (azure-code, azure-conv, mooncake-conv) or a CSV/JSONL file.")
]
RateOpt = Annotated[
    float | None,
    typer.Option(
        metavar="RATE",
        parser=in_base_units(parse_rate, "--rate", max_per_s=1e6),
        help="Instead of a trace: Poisson arrivals with a unit: 2/s, 120/min.",
    ),
]
InputTokensDistOpt = Annotated[
    str | None,
    typer.Option(
        help="With --rate: prompt lengths (k = 1024), e.g. 1k, uniform:128,2k, lognormal:mean=1500,sigma=1; "
        "cap the longest with max=, e.g. lognormal:mean=1500,sigma=1,max=8k."
    ),
]
OutputTokensDistOpt = Annotated[
    str | None, typer.Option(help="With --rate: output lengths, same forms (max= caps them, e.g. max=2k).")
]
WorkloadDurationOpt = Annotated[
    float,
    typer.Option(
        metavar="DURATION",
        parser=duration_opt("--duration", max_s=366 * 86400.0),
        show_default="30min",
        help="With --rate: how long a workload to generate: 30min, 1h.",
    ),
]


@traces_app.command("list")
def traces_list(as_json: JsonOpt = False) -> None:
    """The built-in traces with their size, span and licence."""
    from chipfleet.report.units import duration
    from chipfleet.traces import list_traces, load_trace

    traces = [load_trace(name) for name in list_traces()]
    rows = [tr.describe() | {"license": tr.license} for tr in traces]
    if as_json:
        output.emit_json(rows)
        return
    t = Table(title="Built-in traces (shipped with the package)")
    for col in ("name", "kind", "count", "span", "rate /s", "license"):
        t.add_column(col, justify="right" if col in ("count", "rate /s") else "left")
    for r in rows:
        t.add_row(str(r["name"]), str(r["kind"]), f"{int(r['count']):,}", duration(float(r["span_s"])),
                  f"{float(r['rate_per_s']):.2f}", str(r["license"]))  # fmt: skip
    output.show(t)


def column_mapping(text: str | None) -> dict[str, str] | None:
    """'arrival=ts,input=prompt,output=completion,time_unit=ms' → a column mapping."""
    if text is None:
        return None
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(
                f"cannot read mapping entry {part.strip()!r}; write KEY=COLUMN pairs, e.g. "
                "arrival=ts,input=prompt_tokens,output=completion_tokens,time_unit=ms"
            )
        out[key.strip()] = value.strip()
    return out


def request_trace(
    trace: str, requests: int | None, rate_scale: float, skip_bad_rows: bool, mapping: str | None = None
) -> RequestTrace:
    """A request trace by name or file, cut to its first ``requests`` and its arrivals sped up ``rate_scale``×."""
    from chipfleet.traces import RequestTrace, load_trace

    tr = load_trace(trace, skip_bad_rows=skip_bad_rows, kind="requests", mapping=column_mapping(mapping))
    if not isinstance(tr, RequestTrace):
        raise ConfigError(f"{trace} is a job trace; `simulate serve` needs requests (azure-conv, mooncake-conv, ...)")
    if requests is not None:
        tr = tr.head(requests)
    if rate_scale != 1.0:
        tr = tr.scale_rate(rate_scale)
    return tr


def workload(
    trace: str | None, rate: float | None, input_tokens: str | None, output_tokens: str | None, duration: float,
    requests: int | None, rate_scale: float, skip_bad_rows: bool, mapping: str | None, seed: int,
) -> RequestTrace:  # fmt: skip
    """A trace by name or file, or a Poisson workload at ``rate`` with the given length distributions."""
    from chipfleet.traces import poisson

    if (trace is None) == (rate is None):
        raise ConfigError(
            "give either --trace (a built-in trace or a file) or --rate with --input-tokens/--output-tokens"
        )
    if trace is not None:
        if input_tokens or output_tokens:
            raise ConfigError("--input-tokens/--output-tokens describe a --rate workload; a --trace has its own")
        return request_trace(trace, requests, rate_scale, skip_bad_rows, mapping)
    assert rate is not None
    if not input_tokens or not output_tokens:
        raise ConfigError("--rate needs --input-tokens and --output-tokens, e.g. lognormal:mean=1500,sigma=1 and 200")
    if rate * rate_scale * duration > MAX_REQUESTS:
        raise ConfigError(
            f"--rate × --rate-scale × --duration asks for {rate * rate_scale * duration:.3g} requests, more than "
            f"{MAX_REQUESTS:,}; lower the rate or the duration"
        )
    tr = poisson(
        rate * rate_scale, duration_s=duration, input_dist=input_tokens, output_dist=output_tokens,
        rng=np.random.default_rng(seed),
    )  # fmt: skip
    return tr.head(requests) if requests is not None else tr
