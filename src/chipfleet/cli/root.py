"""The `chipfleet` command: a thin shell that parses options, calls the Python API and renders results."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from chipfleet.catalog import Catalog, Precision, Pricing, load_catalog
from chipfleet.economics.spot import MAX_INTERRUPTIONS_PER_MONTH
from chipfleet.exceptions import ChipfleetError, ConfigError, DoesNotFitError, UnknownNameError
from chipfleet.perf.inference import ServingConfig
from chipfleet.perf.training import MAX_CHIPS, MAX_TRAINING_TOKENS, Recompute, TrainingSetup
from chipfleet.report import tables
from chipfleet.serialize import atomic_write_text, check_output_dir, check_output_path, dumps
from chipfleet.units import (
    option_parser,
    parse_count,
    parse_duration,
    parse_float,
    parse_rate,
    parse_token_list,
    parse_tokens,
    parse_usd,
)
from chipfleet.workloads import ModelArch, get_model, list_models, load_hf_config


def _typer(help_text: str, **options: Any) -> typer.Typer:
    """A command group whose help is in click's plain layout: rich's boxed help cuts option descriptions to "…"
    on an 80-column terminal, the plain one wraps them whole (as the tables do: nothing a reader needs is cut)."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None, **options)


app = _typer(
    "Where to train and serve generative AI, and what it costs in time, money, energy and carbon.\n\n"
    "Quantities: durations need a unit (500ms, 30s, 5min, 12h, 30d, 2w); token lengths read k = 1024 (2k = 2048); "
    "amounts and dollars are decimal (15k, 2.5M, 300B, 1T); rates have a unit (2/s, 120/min). "
    "Names (instances, regions, routers, policies, choices) are case-insensitive.",
    pretty_exceptions_enable=False,
    add_completion=False,
)
catalog_app = _typer("Chips, instances, regions and efficiency families, with sources.")
models_app = _typer("The model zoo (architectures and parameter counts).")
estimate_app = _typer("Estimate one training run or one serving configuration.")
simulate_app = _typer("Simulate a fleet under a trace: serving (request level) or training (job level).")
traces_app = _typer("Workload traces: the shipped public traces and synthetic generators.")
plan_app = _typer("Search for the best placement: a training run, or the instance mix that serves a workload.")
app.add_typer(catalog_app, name="catalog")
app.add_typer(models_app, name="models")
app.add_typer(estimate_app, name="estimate")
app.add_typer(plan_app, name="plan")
app.add_typer(simulate_app, name="simulate")
app.add_typer(traces_app, name="traces")


class _Console(Console):
    """A console that never cuts a table's cells to "…" (a truncated "tpu-v…" is ambiguous, a folded number
    misreads). Rich squeezes the widest columns of a table too wide for the terminal without regard to their
    longest word; here each column gets at least its longest word and the spare width in proportion to what it
    would use beyond that, and a table whose longest words alone do not fit prints as one block of lines per row.
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(_fit(self, obj) for obj in objects), **kwargs)


def _fit(console: Console, obj: Any) -> Any:
    """``obj``, with a table's column widths set so no cell is cut, or as records when nothing can fit."""
    if not isinstance(obj, Table) or not obj.columns:
        return obj
    wide = console.options.update_width(1 << 16)
    ranges = [obj._measure_column(console, wide, col) for col in obj.columns]
    room = console.width - obj._extra_width
    if sum(r.maximum for r in ranges) <= room:
        return obj
    least = sum(r.minimum for r in ranges)
    if least > room:
        return _records(obj)
    extra = _share(room - least, [r.maximum - r.minimum for r in ranges])
    for col, r, more in zip(obj.columns, ranges, extra, strict=True):
        col.width = r.minimum + more - obj._get_padding_width(col._index)
    return obj


def _share(spare: int, wants: list[int]) -> list[int]:
    """``spare`` columns shared out: the smallest wants are met whole while they fit (short cells such as
    "108.9 days" stay on one line; long prose wraps), what is left in proportion to the rest."""
    out = [0] * len(wants)
    open_ = sorted(range(len(wants)), key=lambda i: wants[i])
    while open_ and wants[open_[0]] <= spare:
        i = open_.pop(0)
        out[i] = wants[i]
        spare -= wants[i]
    total = sum(wants[i] for i in open_)
    for i in open_:
        out[i] = spare * wants[i] // max(1, total)
    return out


def _records(obj: Table) -> Group:
    """A table as its title, then per row the row's name and a ``column: value`` line for each other column."""
    headers = [str(c.header).replace("\n", " ") for c in obj.columns]
    lines: list[Any] = [Text(str(obj.title), style="bold")] if obj.title else []
    for r in range(obj.row_count):
        cells = [c._cells[r] if r < len(c._cells) else "" for c in obj.columns]
        lines.append(Text(_plain(cells[0]), style="bold"))
        lines.extend(Text(f"  {h}: {_plain(v)}") for h, v in zip(headers[1:], cells[1:], strict=True))
    if obj.caption:
        lines.append(Text(str(obj.caption), style="dim"))
    return Group(*lines)


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain


console: Console = _Console()  # sized to the terminal (or $COLUMNS); main() makes a fresh one per invocation

_MAX_SEED = 2**32 - 1
_MAX_INSTANCES = 20_000  # ~160k accelerators: past the largest published clusters; a bound keeps searches finite
_MAX_TOKENS = MAX_TRAINING_TOKENS  # the model's own ceiling (perf.training), so the CLI and API agree
_MAX_REQUESTS = 100_000_000  # a synthetic workload larger than this would not fit in memory as a trace
_RATE_SCALE_HELP = "Multiply the arrival rate (2 = twice the load; more than 0, at most 10⁶)."


def _in_base_units(parse: Callable[..., Any], what: str, **bounds: Any) -> Callable[[Any], Any]:
    """A typer ``parser`` for an option: text goes through :mod:`chipfleet.units`; a default written in code is
    already in base units (seconds, tokens, per second) and passes as it is."""
    from_text = option_parser(parse, what, **bounds)

    def _parse(value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        return from_text(value)

    return _parse


def _duration_opt(what: str, *, allow_zero: bool = False, max_s: float = 10 * 365 * 86400.0) -> Callable[[Any], Any]:
    return _in_base_units(parse_duration, what, allow_zero=allow_zero, max_s=max_s)


def _tokens_opt(what: str, max_tokens: int = 1 << 24) -> Callable[[Any], Any]:
    return _in_base_units(parse_tokens, what, max_tokens=max_tokens)


def _float_opt(what: str, low: float = 0.0, high: float = 1e6, *, low_open: bool = True) -> Callable[[Any], Any]:
    """A finite number in (low, high] (or [low, high]); typer alone would read 'nan' and 'inf' as floats."""
    return _in_base_units(parse_float, what, low=low, high=high, low_open=low_open)


class PricingOpt(StrEnum):
    on_demand = "on-demand"
    spot = "spot"
    reserved = "reserved"


PricingOption = Annotated[PricingOpt, typer.Option(case_sensitive=False, help="Pricing model.")]


def _interruptions_opt(value: Any) -> Any:
    """--interruptions-per-month: ≥ 0 and below SpotModel's ceiling (one per instance-hour), named as the option."""
    rate = _float_opt("--interruptions-per-month", 0.0, MAX_INTERRUPTIONS_PER_MONTH, low_open=False)(value)
    if rate >= MAX_INTERRUPTIONS_PER_MONTH:
        raise ConfigError(
            f"--interruptions-per-month must be below {MAX_INTERRUPTIONS_PER_MONTH:g} (one per instance-hour, the "
            f"spot model's ceiling), got {value!r}; typical spot rates are 0.05-0.2"
        )
    return rate


InterruptionsOpt = Annotated[
    float,
    typer.Option(
        metavar="NUMBER",
        parser=_interruptions_opt,
        help=f"Spot: expected interruptions of one instance per month, from 0 to below "
        f"{MAX_INTERRUPTIONS_PER_MONTH:g} (one per instance-hour: the model's ceiling; AWS's worst advisor "
        "bucket is >20 %, i.e. 0.2).",
    ),
]


class _State:
    """Per-invocation options from the root callback; the catalog is loaded on first use."""

    overlays: tuple[Path, ...] = ()
    _catalog: Catalog | None = None

    @classmethod
    def catalog(cls) -> Catalog:
        if cls._catalog is None:
            cls._catalog = load_catalog(cls.overlays)
        return cls._catalog


@app.callback()
def _root(
    catalog: Annotated[
        list[Path] | None,
        typer.Option(
            "--catalog",
            help="Catalog overlay YAML adding or overriding chips, instances, prices (repeatable). "
            "Also read from $CHIPFLEET_CATALOG (path-separated).",
        ),
    ] = None,
) -> None:
    _State.overlays = tuple(catalog or ())
    _State._catalog = None


def _emit_json(data: Any) -> None:
    """Strict JSON on stdout: a non-finite number becomes null with its reason (chipfleet.serialize)."""
    sys.stdout.write(dumps(data) + "\n")


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table (errors too).")]
SeedOpt = Annotated[int, typer.Option(min=0, max=_MAX_SEED, help="Random seed (0 to 2³²−1).")]


# ----------------------------------------------------------------------------- catalog
@catalog_app.command("chips")
def catalog_chips(
    as_json: JsonOpt = False,
    vendor: Annotated[str | None, typer.Option(help="Only this vendor (aws, nvidia, google, ...).")] = None,
) -> None:
    """List chips with their dense peak, memory, bandwidth and power, and the instances that carry each."""
    cat = _State.catalog()
    chips = [c for c in cat.chips.values() if vendor is None or c.vendor == vendor.lower()]
    if as_json:
        _emit_json([{**c.model_dump(mode="json"), "instances": [i.name for i in cat.instances_of(c)]} for c in chips])
    else:
        console.print(tables.chips_table(chips))
        from rich.text import Text

        for c in chips:  # wrapped at the terminal's width (soft_wrap ran notes far past 80 columns)
            if not cat.instances_of(c):
                console.print(Text(f"{c.name}: no public instance. {c.availability}".rstrip()))


@catalog_app.command("instances")
def catalog_instances(
    as_json: JsonOpt = False,
    cloud: Annotated[str | None, typer.Option(help="Only this cloud (aws, gcp, azure).")] = None,
    chip: Annotated[str | None, typer.Option(help="Only instances with this chip.")] = None,
) -> None:
    """List instance types with their chips and prices."""
    cat = _State.catalog()
    if chip is not None:
        cat.chip(chip)  # a miss says "did you mean"
    insts = [
        i
        for i in cat.instances.values()
        if (cloud is None or i.cloud.value == cloud.lower()) and (chip is None or i.chip == chip.lower())
    ]
    if as_json:
        _emit_json([i.model_dump(mode="json") for i in insts])
    else:
        console.print(tables.instances_table(insts))


@catalog_app.command("regions")
def catalog_regions(
    as_json: JsonOpt = False,
    cloud: Annotated[str | None, typer.Option(help="Only this cloud.")] = None,
) -> None:
    """List regions with PUE and grid carbon intensity."""
    regs = [r for r in _State.catalog().regions.values() if cloud is None or r.cloud.value == cloud.lower()]
    if as_json:
        _emit_json([r.model_dump(mode="json") for r in regs])
    else:
        console.print(tables.regions_table(regs))


@catalog_app.command("families")
def catalog_families(as_json: JsonOpt = False) -> None:
    """List efficiency families (achievable fractions of peak, overheads)."""
    fams = list(_State.catalog().families.values())
    if as_json:
        _emit_json([f.model_dump(mode="json") for f in fams])
    else:
        for f in fams:
            console.print(tables.record_table(f.name, f, _State.catalog()))


@catalog_app.command("show")
def catalog_show(
    name: Annotated[str, typer.Argument(help="A chip, instance, region or family name.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one record with every figure's source, date and basis."""
    cat = _State.catalog()
    rec = cat.find(name.strip().lower())
    if as_json:
        _emit_json(rec.model_dump(mode="json"))
    else:
        console.print(tables.record_table(name, rec, cat))


# ----------------------------------------------------------------------------- models
def _model(model: str | None, model_config: Path | None) -> ModelArch:
    if model_config is not None:
        if model is not None:
            raise ConfigError("give either --model or --model-config, not both")
        return load_hf_config(model_config)
    if model is None:
        raise ConfigError("give --model NAME (see `chipfleet models list`) or --model-config config.json")
    return get_model(model)


ModelOpt = Annotated[str | None, typer.Option("--model", help="Zoo model name, e.g. llama-3-70b.")]
ModelConfigOpt = Annotated[
    Path | None,
    typer.Option("--model-config", help="A Hugging Face config.json to import instead of --model."),
]


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """List the zoo with computed and published parameter counts."""
    ms = list_models()
    if as_json:
        _emit_json(
            [
                {
                    **m.model_dump(mode="json"),
                    "params_total": m.params_total,
                    "params_active": m.params_active,
                }
                for m in ms
            ]
        )
        return
    from rich.table import Table

    t = Table(title="Model zoo")
    for col in ("name", "layers", "hidden", "heads/kv", "ffn", "vocab", "experts", "params", "published"):
        t.add_column(col, justify="left" if col == "name" else "right")
    for m in ms:
        t.add_row(
            m.name,
            str(m.n_layers),
            str(m.hidden_size),
            f"{m.n_heads}/{m.n_kv_heads}",
            str(m.ffn_size),
            str(m.vocab_size),
            f"{m.experts_top_k}/{m.n_experts}" if m.is_moe else "—",
            f"{m.params_total / 1e9:.2f}B",
            f"{m.published_params / 1e9:.2f}B" if m.published_params else "—",
        )
    console.print(t)


@models_app.command("show")
def models_show(
    name: Annotated[str | None, typer.Argument(help="Zoo model name.")] = None,
    model_config: ModelConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one architecture (zoo name or imported config.json) and its parameter counts."""
    m = _model(name, model_config)
    data = {**m.model_dump(mode="json"), "params_total": m.params_total, "params_active": m.params_active}
    if as_json:
        _emit_json(data)
    else:
        for k, v in data.items():
            console.print(f"[bold]{k}[/bold]: {v}")


# ----------------------------------------------------------------------------- estimate
def _fixed(**kw: object) -> dict[str, object]:
    return {k: v for k, v in kw.items() if v is not None}


@estimate_app.command("train")
def estimate_train(
    instance: Annotated[str, typer.Option(help="Instance type, e.g. p5.48xlarge or trn1.32xlarge.")],
    instances: Annotated[int, typer.Option(min=1, max=_MAX_INSTANCES, help="Number of instances.")],
    tokens: Annotated[
        float,
        typer.Option(
            metavar="AMOUNT",
            parser=_in_base_units(parse_count, "--tokens", max_value=_MAX_TOKENS),
            help="Training tokens, decimal: 1T = 10¹², 300B.",
        ),
    ],
    model: ModelOpt = None,
    model_config: ModelConfigOpt = None,
    tp: Annotated[int | None, typer.Option(min=1, max=65536, help="Tensor-parallel degree (chips).")] = None,
    pp: Annotated[int | None, typer.Option(min=1, max=65536, help="Pipeline-parallel degree.")] = None,
    dp: Annotated[int | None, typer.Option(min=1, max=1 << 20, help="Data-parallel degree.")] = None,
    cp: Annotated[int | None, typer.Option(min=1, max=65536, help="Context-parallel degree.")] = None,
    ep: Annotated[int | None, typer.Option(min=1, max=65536, help="Expert-parallel degree (MoE).")] = None,
    zero: Annotated[int | None, typer.Option(min=0, max=3, help="ZeRO stage 0-3.")] = None,
    micro_batch: Annotated[int | None, typer.Option(min=1, max=1 << 20, help="Micro-batch (sequences).")] = None,
    recompute: Annotated[Recompute | None, typer.Option(case_sensitive=False, help="Activation recomputation.")] = None,
    global_batch: Annotated[int, typer.Option(min=1, max=1 << 24, help="Global batch (sequences per step).")] = 1024,
    seq_len: Annotated[
        int,
        typer.Option(metavar="TOKENS", parser=_tokens_opt("--seq-len"), help="Sequence length in tokens (4k = 4096)."),
    ] = 4096,
    precision: Annotated[
        Precision, typer.Option(case_sensitive=False, help="Compute precision (bf16, fp8, ...).")
    ] = Precision.BF16,
    region: Annotated[str | None, typer.Option(help="Region (default: cheapest with a price).")] = None,
    pricing: PricingOption = PricingOpt.on_demand,
    interruptions_per_month: InterruptionsOpt = 0.20,
    as_json: JsonOpt = False,
) -> None:
    """Time, cost, energy and CO2 of one training run; parallelism is chosen where not given. On spot the time
    and cost include the job's interruptions (the planner's model)."""
    from chipfleet.economics import SpotModel, estimate_training

    arch = _model(model, model_config)
    setup = TrainingSetup(model=arch, seq_len=seq_len, global_batch=global_batch, precision=precision)
    fixed = _fixed(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, zero=zero, micro_batch=micro_batch, recompute=recompute)
    est = estimate_training(
        _State.catalog(),
        setup,
        instance,
        instances,
        tokens,
        fixed=fixed,
        region=region,
        pricing=Pricing(pricing.value),
        spot=SpotModel(interruptions_per_month=interruptions_per_month),
    )
    if as_json:
        _emit_json(est.as_dict())
    else:
        console.print(tables.training_table(est))
        for caveat in est.caveats:
            console.print(f"[yellow]caveat[/yellow] {caveat}")


@estimate_app.command("serve")
def estimate_serve(
    instance: Annotated[str, typer.Option(help="Instance type, e.g. inf2.48xlarge.")],
    model: ModelOpt = None,
    model_config: ModelConfigOpt = None,
    batch: Annotated[int, typer.Option(min=1, max=1 << 20, help="Concurrent sequences per replica.")] = 1,
    input_tokens: Annotated[
        int,
        typer.Option(
            metavar="TOKENS", parser=_tokens_opt("--input-tokens"), help="Prompt length in tokens (2k = 2048)."
        ),
    ] = 1024,
    output_tokens: Annotated[
        int, typer.Option(metavar="TOKENS", parser=_tokens_opt("--output-tokens"), help="Generated tokens (1k = 1024).")
    ] = 256,
    tp: Annotated[
        int | None, typer.Option(min=1, max=65536, help="Chips per replica (NeuronCores accepted on Neuron).")
    ] = None,
    precision: Annotated[
        Precision, typer.Option(case_sensitive=False, help="Weight precision: bf16, fp8, int8, int4.")
    ] = Precision.BF16,
    kv_precision: Annotated[Precision | None, typer.Option(case_sensitive=False, help="KV-cache precision.")] = None,
    region: Annotated[str | None, typer.Option(help="Region (default: cheapest with a price).")] = None,
    pricing: PricingOption = PricingOpt.on_demand,
    as_json: JsonOpt = False,
) -> None:
    """Latency, throughput, $ per million tokens and energy of serving a model on one instance."""
    from chipfleet.economics import estimate_serving

    arch = _model(model, model_config)
    cfg = ServingConfig(
        model=arch,
        batch=batch,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        tp=tp,
        weight_precision=precision,
        kv_precision=kv_precision,
    )
    est = estimate_serving(_State.catalog(), cfg, instance, region=region, pricing=Pricing(pricing.value))
    if as_json:
        _emit_json(est.as_dict())
    else:
        console.print(tables.serving_table(est))


# ----------------------------------------------------------------------------- plan
class ObjectiveOpt(StrEnum):
    cost = "cost"
    time = "time"
    energy = "energy"
    co2 = "co2"


class PlanPricingOpt(StrEnum):
    on_demand = "on-demand"
    spot = "spot"
    reserved = "reserved"
    any = "any"


def _csv(text: str | None) -> tuple[str, ...]:
    return tuple(x.strip().lower() for x in (text or "").split(",") if x.strip())


@plan_app.command("train")
def plan_train(
    tokens: Annotated[
        float,
        typer.Option(
            metavar="AMOUNT",
            parser=_in_base_units(parse_count, "--tokens", max_value=_MAX_TOKENS),
            help="Training tokens, decimal: 2T = 2×10¹².",
        ),
    ],
    model: ModelOpt = None,
    model_config: ModelConfigOpt = None,
    deadline: Annotated[
        float | None,
        typer.Option(
            metavar="DURATION", parser=_duration_opt("--deadline"), help="Finish within this long: 30d, 12h, 2w."
        ),
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(
            metavar="USD",
            parser=_in_base_units(parse_usd, "--budget", max_usd=1e12),
            help="Spend at most this many USD: 2M, $500k.",
        ),
    ] = None,
    max_chips: Annotated[int, typer.Option(min=1, max=MAX_CHIPS, help="Largest cluster to consider (chips).")] = 4096,
    clouds: Annotated[str | None, typer.Option(help="Comma-separated clouds: aws,gcp,azure.")] = None,
    regions: Annotated[str | None, typer.Option(help="Comma-separated regions.")] = None,
    instances: Annotated[str | None, typer.Option(help="Comma-separated instance types (default: all).")] = None,
    pricing: Annotated[
        PlanPricingOpt,
        typer.Option(
            case_sensitive=False,
            help="Pricing model; reserved: only instances with a reserved price (each row says its term); any: "
            "on-demand, spot and reserved, each row saying which.",
        ),
    ] = PlanPricingOpt.on_demand,
    objective: Annotated[
        ObjectiveOpt, typer.Option(case_sensitive=False, help="What to minimise.")
    ] = ObjectiveOpt.cost,
    top: Annotated[int, typer.Option(min=1, max=1000, help="Options to list.")] = 10,
    seq_len: Annotated[
        int,
        typer.Option(metavar="TOKENS", parser=_tokens_opt("--seq-len"), help="Sequence length in tokens (4k = 4096)."),
    ] = 4096,
    global_batch: Annotated[
        int | None, typer.Option(min=1, max=1 << 24, help="Sequences per step (default ≈4M tokens).")
    ] = None,
    precision: Annotated[
        list[Precision] | None, typer.Option(case_sensitive=False, help="Allowed precisions (default bf16, fp8).")
    ] = None,
    interruptions_per_month: InterruptionsOpt = 0.20,
    restart: Annotated[
        float,
        typer.Option(
            metavar="DURATION",
            parser=_duration_opt("--restart", allow_zero=True, max_s=7 * 86400.0),
            show_default="10min",
            help="Spot: time to recover from an interruption, with its unit: 10min, 30s (at most a week).",
        ),
    ] = 600.0,
    restart_min: Annotated[
        float | None,
        typer.Option(
            hidden=True,
            metavar="NUMBER",
            parser=_float_opt("--restart-min", 0.0, 7 * 24 * 60.0, low_open=False),
            help="Old spelling of --restart in minutes.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    plot: Annotated[Path | None, typer.Option(help="Write the Pareto chart: out/pareto.png or .html.")] = None,
) -> None:
    """The cheapest, fastest or greenest way to train a model, with the Pareto front over time and cost."""
    from chipfleet import plan as planner
    from chipfleet.report import plan as pr

    if plot is not None:
        check_output_path(plot, "--plot chart")
    arch = _model(model, model_config)
    constraints = planner.TrainConstraints(
        deadline_s=deadline,
        budget_usd=budget,
        max_chips=max_chips,
        clouds=_csv(clouds),
        regions=_csv(regions),
        instances=_csv(instances),
        pricing=planner.PricingChoice(pricing.value),
        precisions=tuple(precision or ()),
    )
    restart_s = restart_min * 60.0 if restart_min is not None else restart
    spot = planner.SpotModel(interruptions_per_month=interruptions_per_month, restart_s=restart_s)
    result = planner.train(
        arch,
        tokens,
        catalog=_State.catalog(),
        seq_len=seq_len,
        global_batch=global_batch,
        constraints=constraints,
        objective=planner.Objective(objective.value),
        top=top,
        spot=spot,
    )
    if plot is not None:
        pr.write_plot(result, plot)
    if as_json:
        _emit_json(result.as_dict())
        return
    console.print(pr.options_table(f"Best options by {objective.value} (one per instance type first)", result.options))
    console.print(pr.options_table("Pareto front: time × cost", result.pareto))
    console.print(result.explanation)
    for caveat in result.caveats:
        console.print(f"[yellow]caveat[/yellow] {caveat}")
    console.print(pr.rejected_table(result))
    if plot is not None:
        console.print(f"chart: {plot}")


class ServeObjectiveOpt(StrEnum):
    cost = "cost"
    energy = "energy"


def _counts(text: str | None, what: str, most: int) -> tuple[int, ...]:
    """'1,2,8' → (1, 2, 8): comma-separated whole numbers from 1 to ``most`` (chips, sequences: not tokens)."""
    return tuple(int(parse_count(part, what, integer=True, max_value=most)) for part in _csv(text))


def _workload(
    trace: str | None, rate: float | None, input_tokens: str | None, output_tokens: str | None, duration: float,
    requests: int | None, rate_scale: float, skip_bad_rows: bool, mapping: str | None, seed: int,
) -> Any:  # fmt: skip
    """A trace by name or file, or a Poisson workload at ``rate`` with the given length distributions."""
    from chipfleet.traces import poisson

    if (trace is None) == (rate is None):
        raise ConfigError(
            "give either --trace (a built-in trace or a file) or --rate with --input-tokens/--output-tokens"
        )
    if trace is not None:
        if input_tokens or output_tokens:
            raise ConfigError("--input-tokens/--output-tokens describe a --rate workload; a --trace has its own")
        return _request_trace(trace, requests, rate_scale, skip_bad_rows, mapping)
    assert rate is not None
    if not input_tokens or not output_tokens:
        raise ConfigError("--rate needs --input-tokens and --output-tokens, e.g. lognormal:mean=1500,sigma=1 and 200")
    if rate * rate_scale * duration > _MAX_REQUESTS:
        raise ConfigError(
            f"--rate × --rate-scale × --duration asks for {rate * rate_scale * duration:.3g} requests, more than "
            f"{_MAX_REQUESTS:,}; lower the rate or the duration"
        )
    tr = poisson(
        rate * rate_scale, duration_s=duration, input_dist=input_tokens, output_dist=output_tokens,
        rng=np.random.default_rng(seed),
    )  # fmt: skip
    return tr.head(requests) if requests is not None else tr


@plan_app.command("serve")
def plan_serve(
    slo_ttft_p90: Annotated[
        float,
        typer.Option(
            metavar="DURATION",
            parser=_duration_opt("--slo-ttft-p90", max_s=3600.0),
            help="p90 time-to-first-token SLO with its unit: 1s, 800ms.",
        ),
    ],
    slo_tpot_p90: Annotated[
        float,
        typer.Option(
            metavar="DURATION",
            parser=_duration_opt("--slo-tpot-p90", max_s=60.0),
            help="p90 time-per-output-token SLO with its unit: 50ms.",
        ),
    ],
    model: ModelOpt = None,
    model_config: ModelConfigOpt = None,
    trace: Annotated[
        str | None, typer.Option(help="Built-in trace (azure-code, azure-conv, mooncake-conv) or a CSV/JSONL file.")
    ] = None,
    mapping: Annotated[
        str | None,
        typer.Option(help="Columns of a trace file: arrival=ts,input=prompt,output=completion,time_unit=ms."),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            metavar="RATE",
            parser=_in_base_units(parse_rate, "--rate", max_per_s=1e6),
            help="Instead of a trace: Poisson arrivals with a unit: 2/s, 120/min.",
        ),
    ] = None,
    input_tokens: Annotated[
        str | None,
        typer.Option(
            help="With --rate: prompt lengths (k = 1024), e.g. 1k, uniform:128,2k, lognormal:mean=1500,sigma=1; "
            "cap the longest with max=, e.g. lognormal:mean=1500,sigma=1,max=8k."
        ),
    ] = None,
    output_tokens: Annotated[
        str | None, typer.Option(help="With --rate: output lengths, same forms (max= caps them, e.g. max=2k).")
    ] = None,
    duration: Annotated[
        float,
        typer.Option(
            metavar="DURATION",
            parser=_duration_opt("--duration", max_s=366 * 86400.0),
            show_default="30min",
            help="With --rate: how long a workload to generate: 30min, 1h.",
        ),
    ] = 1800.0,
    requests: Annotated[
        int | None, typer.Option(min=1, max=_MAX_REQUESTS, help="Use only the first N requests.")
    ] = None,
    rate_scale: Annotated[
        float, typer.Option(metavar="NUMBER", parser=_float_opt("--rate-scale"), help=_RATE_SCALE_HELP)
    ] = 1.0,
    instances: Annotated[str | None, typer.Option(help="Comma-separated instance types (default: all).")] = None,
    clouds: Annotated[str | None, typer.Option(help="Comma-separated clouds: aws,gcp,azure.")] = None,
    region: Annotated[
        str | None, typer.Option(help="One region for every type (default: each type's cheapest).")
    ] = None,
    pricing: PricingOption = PricingOpt.on_demand,
    precision: Annotated[
        list[Precision] | None, typer.Option(help="Weight precisions to consider (default bf16).")
    ] = None,
    tp: Annotated[
        str | None, typer.Option(help="Chips per replica to consider, e.g. 1,2,8 (default: all that fit).")
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            help="Every length bucket within the SLOs at its own p90, and every request held, or fail "
            "(default: the SLOs are fleet p90s; up to 2 % of requests served best effort, requests "
            "no replica can hold left out and reported)."
        ),
    ] = False,
    max_batch: Annotated[str, typer.Option(help="Sequences per replica to consider, e.g. 64,256.")] = "256",
    max_batch_tokens: Annotated[
        int,
        typer.Option(
            metavar="TOKENS",
            parser=_tokens_opt("--max-batch-tokens"),
            help="Token budget per batching iteration (8k = 8192).",
        ),
    ] = 8192,
    max_instances: Annotated[int, typer.Option(min=1, max=_MAX_INSTANCES, help="Most instances of one type.")] = 512,
    objective: Annotated[
        ServeObjectiveOpt, typer.Option(case_sensitive=False, help="What to minimise.")
    ] = ServeObjectiveOpt.cost,
    input_edges: Annotated[
        str | None, typer.Option(help="Prompt-length bucket edges in tokens, e.g. 512,2k,8k (k = 1024).")
    ] = None,
    output_edges: Annotated[
        str | None, typer.Option(help="Output-length bucket edges in tokens, e.g. 128,512 (k = 1024).")
    ] = None,
    peak_window: Annotated[
        str,
        typer.Option(
            help="Size for the busy rate over windows this long, with a unit: 30s, 5min; 0: the mean rate; auto: "
            "max(5 × the TTFT SLO, 100 requests' worth)."
        ),
    ] = "auto",
    max_rounds: Annotated[
        int, typer.Option(min=0, max=100, help="Re-solves after a replay that misses (0: no replay).")
    ] = 4,
    per_hour: Annotated[bool, typer.Option(help="Also plan a mix per hour of a daily load curve.")] = False,
    load_curve: Annotated[
        str | None, typer.Option(help="With --per-hour: 24 comma-separated multipliers of the workload's rate.")
    ] = None,
    peak_to_trough: Annotated[
        float,
        typer.Option(
            metavar="NUMBER",
            parser=_float_opt("--peak-to-trough", 1.0, 1000.0, low_open=False),
            help="With --per-hour and no --load-curve: peak/trough of the assumed daily sinusoid (1 to 1000).",
        ),
    ] = 3.0,
    startup_time: Annotated[
        float,
        typer.Option(
            metavar="DURATION",
            parser=_duration_opt("--startup-time", max_s=86400.0, allow_zero=True),
            show_default="525s",
            help="With --per-hour: billed warm-up of each instance started (launch, image, weights; "
            "default 525 s, AWS's SageMaker scale-out of an 8B model); 0: free.",
        ),
    ] = 525.0,
    seed: Annotated[
        int, typer.Option(min=0, max=_MAX_SEED, help="Seed of the synthetic workload and the router's draws.")
    ] = 0,
    skip_bad_rows: Annotated[bool, typer.Option(help="Skip and count malformed trace rows.")] = False,
    as_json: JsonOpt = False,
    plot: Annotated[Path | None, typer.Option(help="With --per-hour: write the hourly cost chart (PNG).")] = None,
) -> None:
    """The cheapest (or least-energy) mix of instances, and its routing, that serves a workload within p90 SLOs."""
    from chipfleet.plan.serve import plan as sp
    from chipfleet.report import serve_plan as rp

    if plot is not None and not per_hour:
        raise ConfigError("--plot draws the per-hour cost curve; add --per-hour")
    if load_curve is not None and not per_hour:
        raise ConfigError("--load-curve applies with --per-hour; add it")
    if plot is not None:
        check_output_path(plot, "--plot chart")
    arch = _model(model, model_config)
    slo = sp.ServeSLO(slo_ttft_p90, slo_tpot_p90)
    in_edges = parse_token_list(input_edges, "--input-edges") if input_edges is not None else sp.DEFAULT_INPUT_EDGES
    out_edges = (
        parse_token_list(output_edges, "--output-edges") if output_edges is not None else sp.DEFAULT_OUTPUT_EDGES
    )
    peak_window_s = (
        None
        if peak_window.strip().lower() == "auto"
        else parse_duration(peak_window, "--peak-window", allow_zero=True, max_s=86400.0)
    )
    curve = None
    if load_curve is not None:
        curve = [parse_float(v, "--load-curve", low=0.0, high=1e6) for v in load_curve.split(",")]
    constraints = sp.ServeConstraints(
        instances=_csv(instances),
        clouds=_csv(clouds),
        region=region,
        pricing=Pricing(pricing.value),
        precisions=tuple(precision or (Precision.BF16,)),
        tp=_counts(tp, "--tp", 65536),
        max_seqs=_counts(max_batch, "--max-batch", 1 << 20),
        max_batch_tokens=max_batch_tokens,
        max_instances_per_type=max_instances,
    )
    tr = _workload(trace, rate, input_tokens, output_tokens, duration, requests, rate_scale, skip_bad_rows, mapping,
                   seed)  # fmt: skip
    with _status(as_json) as progress:
        result = sp.serve(
            arch, tr, slo, catalog=_State.catalog(), constraints=constraints,
            objective=sp.ServeObjective(objective.value), input_edges=in_edges, output_edges=out_edges,
            replay_rounds=max_rounds, per_hour=per_hour, load_curve=curve, peak_to_trough=peak_to_trough,
            peak_window_s=peak_window_s, seed=seed, progress=progress, strict=strict, startup_s=startup_time,
        )  # fmt: skip
    if plot is not None:
        rp.write_plot(result, plot)
    if as_json:
        _emit_json(result.as_dict())
        return
    console.print(
        rp.mix_table(f"Cheapest mix by {objective.value} for {result.model} on {result.workload}", result.mix)
    )
    console.print(rp.routing_table(result.mix))
    if result.single is not None:
        console.print(rp.mix_table("Best single instance type, solved the same way", result.single))
    if result.rounds:
        console.print(rp.replay_table(result))
    if result.single_rounds:
        console.print(rp.replay_table(result, single=True))
    if result.hourly is not None:
        console.print(rp.hourly_table(result))
    for line in rp.summary_lines(result):
        console.print(line)
    if plot is not None:
        console.print(f"chart: {plot}")


# ----------------------------------------------------------------------------- traces and simulation
@traces_app.command("list")
def traces_list(as_json: JsonOpt = False) -> None:
    """The built-in traces with their size, span and licence."""
    from rich.table import Table

    from chipfleet.traces import list_traces, load_trace

    traces = [load_trace(name) for name in list_traces()]
    rows = [tr.describe() | {"license": tr.license} for tr in traces]
    if as_json:
        _emit_json(rows)
        return
    t = Table(title="Built-in traces (shipped with the package)")
    for col in ("name", "kind", "count", "span", "rate /s", "license"):
        t.add_column(col, justify="right" if col in ("count", "rate /s") else "left")
    from chipfleet.report.units import duration

    for r in rows:
        t.add_row(str(r["name"]), str(r["kind"]), f"{int(r['count']):,}", duration(float(r["span_s"])),
                  f"{float(r['rate_per_s']):.2f}", str(r["license"]))  # fmt: skip
    console.print(t)


def _mapping(text: str | None) -> dict[str, str] | None:
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


def _request_trace(
    trace: str, requests: int | None, rate_scale: float, skip_bad_rows: bool, mapping: str | None = None
) -> Any:
    from chipfleet.traces import RequestTrace, load_trace

    tr = load_trace(trace, skip_bad_rows=skip_bad_rows, kind="requests", mapping=_mapping(mapping))
    if not isinstance(tr, RequestTrace):
        raise ConfigError(f"{trace} is a job trace; `simulate serve` needs requests (azure-conv, mooncake-conv, ...)")
    if requests is not None:
        tr = tr.head(requests)
    if rate_scale != 1.0:
        tr = tr.scale_rate(rate_scale)
    return tr


@simulate_app.command("serve")
def simulate_serve(
    fleet: Annotated[str, typer.Option(help="Instances and counts: inf2.48xlarge:4,g6e.12xlarge:2.")],
    trace: Annotated[str, typer.Option(help="Built-in trace (azure-conv, azure-code, mooncake-conv) or a file.")],
    model: ModelOpt = None,
    model_config: ModelConfigOpt = None,
    mapping: Annotated[
        str | None,
        typer.Option(help="Columns of a trace file: arrival=ts,input=prompt,output=completion,time_unit=ms."),
    ] = None,
    router: Annotated[
        str, typer.Option(help="round-robin, least-outstanding, power-of-two, size-aware.")
    ] = "least-outstanding",
    seed: Annotated[
        int, typer.Option(min=0, max=_MAX_SEED, help="Random seed (routers that draw, synthetic traces).")
    ] = 0,
    requests: Annotated[
        int | None, typer.Option(min=1, max=_MAX_REQUESTS, help="Replay only the first N requests.")
    ] = None,
    rate_scale: Annotated[
        float, typer.Option(metavar="NUMBER", parser=_float_opt("--rate-scale"), help=_RATE_SCALE_HELP)
    ] = 1.0,
    tp: Annotated[
        int | None, typer.Option(min=1, max=65536, help="Chips per replica (default: the fewest that fit).")
    ] = None,
    precision: Annotated[Precision, typer.Option(case_sensitive=False, help="Weight precision.")] = Precision.BF16,
    max_batch_tokens: Annotated[
        int,
        typer.Option(
            metavar="TOKENS", parser=_tokens_opt("--max-batch-tokens"), help="Token budget per iteration (8k = 8192)."
        ),
    ] = 8192,
    max_seqs: Annotated[int, typer.Option(min=1, max=1 << 20, help="Sequences per replica.")] = 256,
    chunked_prefill: Annotated[bool, typer.Option(help="Mix prefill chunks into decode iterations.")] = True,
    prefix_cache: Annotated[bool, typer.Option(help="Reuse cached prompt blocks (traces with hash ids).")] = True,
    slo_ttft_p90: Annotated[
        float | None,
        typer.Option(
            "--slo-ttft-p90",
            "--slo-ttft",
            metavar="DURATION",
            parser=_duration_opt("--slo-ttft-p90", max_s=3600.0),
            help="TTFT SLO with its unit, e.g. 1s, 500ms: the tables give the share of requests within "
            "the SLOs beside the p90.",
        ),
    ] = None,
    slo_tpot_p90: Annotated[
        float | None,
        typer.Option(
            "--slo-tpot-p90",
            "--slo-tpot",
            metavar="DURATION",
            parser=_duration_opt("--slo-tpot-p90", max_s=60.0),
            help="TPOT SLO with its unit, e.g. 50ms, as --slo-ttft-p90.",
        ),
    ] = None,
    pricing: PricingOption = PricingOpt.on_demand,
    region: Annotated[str | None, typer.Option(help="Region for prices, PUE and carbon.")] = None,
    skip_bad_rows: Annotated[bool, typer.Option(help="Skip and count malformed trace rows.")] = False,
    as_json: JsonOpt = False,
    plot: Annotated[
        Path | None, typer.Option(help="Folder for latency CDF and p90 charts (SLO targets drawn), utilization, queue.")
    ] = None,
) -> None:
    """Replay a request trace against a fleet of replicas: latency percentiles, SLOs, utilization, cost."""
    from rich.progress import Progress

    from chipfleet.report.sim import serve_plots, serve_tables
    from chipfleet.sim.fleet import FleetSpec
    from chipfleet.sim.serving.simulate import ServeOptions, simulate_serving

    if plot is not None:
        check_output_dir(plot, "--plot folder")
    arch = _model(model, model_config)
    opts = ServeOptions(
        max_batch_tokens=max_batch_tokens,
        max_seqs=max_seqs,
        chunked_prefill=chunked_prefill,
        prefix_cache=prefix_cache,
        tp=tp,
        precision=precision,
        slo_ttft_s=slo_ttft_p90,
        slo_tpot_s=slo_tpot_p90,
    )
    tr = _request_trace(trace, requests, rate_scale, skip_bad_rows, mapping)
    spec = FleetSpec.parse(fleet)
    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as bar:
        task = bar.add_task(f"simulating {len(tr):,} requests", total=len(tr))
        result = simulate_serving(
            arch, tr, spec, _State.catalog(), router=router, options=opts, seed=seed, pricing=Pricing(pricing.value),
            region=region, progress=lambda done, total: bar.update(task, completed=done),
        )  # fmt: skip
    _show_simulation(
        result, serve_tables, as_json, plot,
        lambda out: serve_plots(result, out, slo_ttft_s=opts.slo_ttft_s, slo_tpot_s=opts.slo_tpot_s),
    )  # fmt: skip


def _show_simulation(
    result: Any, tables: Callable[[Any], list[Any]], as_json: bool, plot: Path | None, draw: Callable[[Path], object]
) -> None:
    """Charts first (so --json output stays the last thing printed), then JSON or the tables."""
    if plot is not None:
        draw(plot)
    if as_json:
        _emit_json(result.as_dict())
        return
    for table in tables(result):
        console.print(table)
    if plot is not None:
        console.print(f"charts: {plot}/")


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
    jobs: Annotated[int | None, typer.Option(min=1, max=_MAX_REQUESTS, help="Replay only the first N jobs.")] = None,
    rate_scale: Annotated[
        float,
        typer.Option(
            metavar="NUMBER",
            parser=_float_opt("--rate-scale"),
            help="Multiply the submission rate (2 = twice the load).",
        ),
    ] = 1.0,
    reference: Annotated[
        str | None, typer.Option(help="Instance type the trace's durations were measured on (default: slowest).")
    ] = None,
    pricing: PricingOption = PricingOpt.on_demand,
    skip_bad_rows: Annotated[bool, typer.Option(help="Skip and count malformed trace rows.")] = False,
    as_json: JsonOpt = False,
    plot: Annotated[Path | None, typer.Option(help="Folder for the JCT CDF and utilization charts.")] = None,
) -> None:
    """Replay a job trace on a mixed training cluster under a scheduling policy."""
    from rich.progress import Progress

    from chipfleet.report.sim import train_plots, train_tables
    from chipfleet.sim.fleet import FleetSpec, Pool
    from chipfleet.sim.training.cluster import simulate_training
    from chipfleet.sim.training.throughput import throughput_matrix
    from chipfleet.traces import JobTrace, load_trace

    if plot is not None:
        check_output_dir(plot, "--plot folder")
    tr = load_trace(trace, skip_bad_rows=skip_bad_rows, kind="jobs", mapping=_mapping(mapping))
    if not isinstance(tr, JobTrace):
        raise ConfigError(f"{trace} is a request trace; `simulate train` needs jobs (philly)")
    if jobs is not None:
        tr = tr.head(jobs)
    if rate_scale != 1.0:
        tr = tr.scale_rate(rate_scale)
    spec = FleetSpec.parse(fleet)
    cat = _State.catalog()
    pool = Pool.build(cat, spec, Pricing(pricing.value))
    matrix = throughput_matrix(cat, [name for name, _ in spec.entries], reference=reference)
    span = float(tr.submit_s[-1]) if len(tr) else 0.0
    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as bar:
        task = bar.add_task(f"simulating {len(tr):,} jobs", total=max(span, 1.0))
        result = simulate_training(
            tr, pool, policy, matrix, seed=seed, progress=lambda now: bar.update(task, completed=min(now, span)),
            require_placeable=True,
        )  # fmt: skip
    submit = np.asarray(tr.submit_s)
    _show_simulation(result, train_tables, as_json, plot, lambda out: train_plots(result, submit, out))


@simulate_app.command("mixed")
def simulate_mixed_cmd(
    fleet: Annotated[str, typer.Option(help="One pool for both: inf2.48xlarge:4,p4d.24xlarge:16.")],
    trace: Annotated[str, typer.Option(help="Request trace for serving (azure-conv, mooncake-conv, or a file).")],
    jobs: Annotated[str, typer.Option(help="Job trace for training (philly, or a file).")] = "philly",
    model: ModelOpt = None,
    model_config: ModelConfigOpt = None,
    sharing: Annotated[str, typer.Option(help="partition, serving-first or cost-aware.")] = "serving-first",
    serve_fleet: Annotated[
        str | None, typer.Option(help="Nodes serving starts with (partition: keeps), e.g. inf2.48xlarge:2.")
    ] = None,
    policy: Annotated[str, typer.Option(help="Training scheduling policy (simulate policies).")] = "fifo",
    router: Annotated[str, typer.Option(help="Request router (simulate routers).")] = "least-outstanding",
    interval: Annotated[
        float,
        typer.Option(
            metavar="DURATION",
            parser=_duration_opt("--interval", max_s=86400.0),
            show_default="60s",
            help="Sharing controller interval with its unit, e.g. 60s, 5min.",
        ),
    ] = 60.0,
    slo_ttft_p90: Annotated[
        float,
        typer.Option(
            "--slo-ttft-p90",
            "--target-ttft",
            metavar="DURATION",
            parser=_duration_opt("--slo-ttft-p90", max_s=3600.0),
            show_default="1s",
            help="p90 TTFT the controller scales serving to hold, e.g. 1s, 800ms.",
        ),
    ] = 1.0,
    min_serving_nodes: Annotated[
        int, typer.Option(min=0, max=_MAX_INSTANCES, help="Serving never holds fewer nodes.")
    ] = 1,
    duration: Annotated[
        float | None,
        typer.Option(
            metavar="DURATION",
            parser=_duration_opt("--duration", max_s=366 * 86400.0),
            help="Simulated time with its unit, e.g. 6h, 90min, at most a year (default: the request trace's span).",
        ),
    ] = None,
    hours: Annotated[
        float | None,
        typer.Option(
            hidden=True,
            metavar="NUMBER",
            parser=_float_opt("--hours", 0.0, 24 * 366.0),
            help="Old spelling of --duration in hours.",
        ),
    ] = None,
    rate_scale: Annotated[
        float, typer.Option(metavar="NUMBER", parser=_float_opt("--rate-scale"), help=_RATE_SCALE_HELP)
    ] = 1.0,
    job_rate_scale: Annotated[
        float,
        typer.Option(metavar="NUMBER", parser=_float_opt("--job-rate-scale"), help="Multiply the job submission rate."),
    ] = 1.0,
    skip_jobs: Annotated[
        int,
        typer.Option(
            min=0, help="Start at job N of the job trace (Philly's first 1,300 jobs trickle in over 3 weeks)."
        ),
    ] = 0,
    seed: SeedOpt = 0,
    pricing: PricingOption = PricingOpt.on_demand,
    skip_bad_rows: Annotated[bool, typer.Option(help="Skip and count malformed trace rows.")] = False,
    as_json: JsonOpt = False,
    plot: Annotated[
        Path | None,
        typer.Option(help="Folder for the serving-share (p90 TTFT against its target), serving and training charts."),
    ] = None,
) -> None:
    """Serving and training in one fleet: a request trace and a job queue share one pool under a policy."""
    from rich.progress import Progress

    from chipfleet.report.sim import mixed_plots, mixed_tables
    from chipfleet.sim.fleet import FleetSpec
    from chipfleet.sim.mixed.simulate import MixedOptions, simulate_mixed
    from chipfleet.traces import JobTrace, load_trace

    if plot is not None:
        check_output_dir(plot, "--plot folder")
    arch = _model(model, model_config)
    requests_tr = _request_trace(trace, None, rate_scale, skip_bad_rows)
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
            arch, requests_tr, job_tr, FleetSpec.parse(fleet), _State.catalog(), sharing=sharing,
            training_policy=policy, router=router, options=opts, until_s=until_s, seed=seed,
            pricing=Pricing(pricing.value), progress=lambda now: bar.update(task, completed=min(now, span)),
            require_placeable=True,
        )  # fmt: skip
    submit = np.asarray(job_tr.submit_s)
    _show_simulation(result, mixed_tables, as_json, plot, lambda out: mixed_plots(result, submit, out))


@simulate_app.command("sharing")
def simulate_sharing() -> None:
    """List the policies for sharing one fleet between serving and training."""
    from chipfleet.sim.mixed.simulate import list_sharing

    for name in list_sharing():
        console.print(name)


@simulate_app.command("policies")
def simulate_policies() -> None:
    """List the training-cluster scheduling policies."""
    from chipfleet.sim.training.policies import list_policies

    for name in list_policies():
        console.print(name)


@simulate_app.command("routers")
def simulate_routers() -> None:
    """List the request routers."""
    from chipfleet.sim.serving.routers import list_routers

    for name in list_routers():
        console.print(name)


# ----------------------------------------------------------------------------- accuracy
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Measurements CSV in calibration.csv's schema (default: the shipped copy)."),
]


def _measurements(data: Path | None) -> Any:
    from chipfleet.validate.dataset import load_measurements, shipped_measurements

    return load_measurements(data) if data is not None else shipped_measurements()


def _progress(msg: str) -> None:
    Console(stderr=True).print(f"[dim]{msg}[/dim]", highlight=False)


@contextmanager
def _status(as_json: bool) -> Iterator[Callable[[str], None] | None]:
    """A progress callback for a long command: a live status line on a terminal's stderr, plain lines on a
    stderr that is not a terminal, nothing with --json (stdout then holds only the JSON)."""
    if as_json:
        yield None
        return
    err = Console(stderr=True)
    if not err.is_terminal:
        yield lambda msg: err.print(f"[dim]{msg}[/dim]", highlight=False, soft_wrap=True)
        return
    with err.status("starting") as live:
        yield lambda msg: live.update(msg)


@app.command("validate")
def validate_cmd(
    data: DataOpt = None,
    as_json: JsonOpt = False,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write an HTML report with a scatter plot.")] = None,
    cross_validate: Annotated[
        bool,
        typer.Option(
            "--cross-validate", help="Refit the priors leaving each source out and predict it (out-of-sample)."
        ),
    ] = False,
    local: Annotated[
        bool, typer.Option("--local", help="Time a small transformer on this machine and compare (needs torch).")
    ] = False,
    quick: Annotated[bool, typer.Option(help="With --local: fewer shapes and steps.")] = False,
) -> None:
    """Predict published measurements and report the error per family (median and p90 APE, coverage)."""
    if html_out is not None:
        check_output_path(html_out, "--html report")
    if local:
        _validate_local(as_json, quick)
        return
    from chipfleet.report import validation as vr
    from chipfleet.validate.runner import validate

    ms = _measurements(data)
    catalog = load_catalog(_State.overlays, calibrated=False) if cross_validate else _State.catalog()
    report = validate(ms, catalog, cross_validate=cross_validate, progress=None if as_json else _progress)
    if html_out is not None:
        vr.write_html(report, html_out)
    if as_json:
        _emit_json(report.as_dict())
        return
    console.print(vr.rows_table(report))
    console.print(vr.skipped_table(report))
    console.print(vr.summary_table(report))
    if html_out is not None:
        console.print(f"report: {html_out}")


@app.command("calibrate")
def calibrate_cmd(
    data: DataOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the fitted families as a catalog overlay.")] = None,
    local: Annotated[
        bool, typer.Option("--local", help="Measure this machine with PyTorch and write a local chip record.")
    ] = False,
    quick: Annotated[bool, typer.Option(help="With --local: fewer shapes.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fit per-family efficiency parameters on measurements (log-error least squares), with
    leave-one-source-out cross-validation and error bands; --out writes them as a catalog overlay."""
    if out is not None:
        check_output_path(out, "--out overlay")
    if local:
        _calibrate_local(out, quick, as_json)
        return
    from chipfleet.report import validation as vr
    from chipfleet.validate.calibrate import calibrate, overlay, write_overlay

    ms = _measurements(data)
    priors = load_catalog(_State.overlays, calibrated=False)
    cal = calibrate(ms, priors, cross_validate=True, progress=None if as_json else _progress)
    label = data.name if data is not None else "calibration.csv"
    if out is not None:
        write_overlay(cal, priors, out, label)
    if as_json:
        _emit_json(overlay(cal, priors, label))
        return
    console.print(vr.calibration_table(cal))
    if out is not None:
        console.print(f"overlay: {out} (use it with --catalog {out})")


def _local_validation_dict(val: Any) -> dict[str, Any]:
    return {
        "device": val.device,
        "device_name": val.device_name,
        "chip": val.chip,
        "model": val.model.name,
        "precision": val.precision.value,
        "torch": val.torch_version,
        "threads": val.threads,
        "phases": [
            {
                "phase": p.phase,
                "shape": p.shape,
                "predicted_s": p.predicted_s,
                "measured_s": p.measured_s,
                "ape": p.ape,
                "bound": p.bound,
            }
            for p in val.phases
        ],
        "mape": val.mape,
    }


def _validate_local(as_json: bool, quick: bool) -> None:
    """Measure this machine, then time a small transformer on it against the model's prediction."""
    from chipfleet.report.local import validation_breakdown_table, validation_table
    from chipfleet.validate.local.check import measure_local, validate_local

    meas = measure_local(quick=quick)
    val = validate_local(meas, quick=quick)
    if as_json:
        _emit_json(_local_validation_dict(val))
        return
    console.print(validation_table(val))
    console.print(validation_breakdown_table(val))


def _calibrate_local(out: Path | None, quick: bool, as_json: bool) -> None:
    """Measure GEMM FLOP/s, memory bandwidth and attention with PyTorch; write a local chip record."""
    from chipfleet.report.local import measurement_tables
    from chipfleet.validate.local.check import local_overlay, measure_local, write_local_overlay

    meas = measure_local(quick=quick)
    if out is not None:
        write_local_overlay(meas, out)
    if as_json:
        _emit_json(local_overlay(meas))
        return
    for table in measurement_tables(meas):
        console.print(table)
    if out is not None:
        console.print(f"overlay: {out} (use it with --catalog {out}; instance `local`, chip `{meas.chip_name}`)")


@app.command("claims")
def claims_cmd(
    as_json: JsonOpt = False,
    evidence: Annotated[bool, typer.Option(help="Also print the evidence tables behind each verdict.")] = False,
) -> None:
    """Check the vendors' headline claims (Inferentia2, Trainium2, Project Ceiba) with the catalog and model."""
    from chipfleet.report.claims import claims_table, evidence_tables
    from chipfleet.validate.claims.check import check_claims

    checks = check_claims(_State.catalog())
    if as_json:
        _emit_json([c.as_dict() for c in checks])
        return
    console.print(claims_table(checks))
    if evidence:
        for c in checks:
            for table in evidence_tables(c):
                console.print(table)


# ----------------------------------------------------------------------------- demo
@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the chart and the JSON results.")] = Path("out"),
    pricing: Annotated[
        PricingOpt,
        typer.Option(case_sensitive=False, help="Pricing model of every row; instances without it are left out."),
    ] = PricingOpt.on_demand,
    as_json: JsonOpt = False,
) -> None:
    """Llama-3-70B pre-training and Llama-3-8B serving across Trainium, Inferentia, TPU and NVIDIA, and the
    cheapest AWS fleet that serves Azure's conversation trace within p90 SLOs (about half a minute)."""
    from chipfleet.demo import run_demo
    from chipfleet.report.plots import demo_chart

    check_output_dir(out, "--out folder")
    result = run_demo(_State.catalog(), Pricing(pricing.value))
    out.mkdir(parents=True, exist_ok=True)
    chart = demo_chart(result, out / "chipfleet-demo.png")
    atomic_write_text(out / "chipfleet-demo.json", dumps(result.as_dict()) + "\n")
    if as_json:
        _emit_json(result.as_dict())
        return
    console.print(tables.training_comparison_table(result.training_title, result.training))
    for skip in result.training_skipped:
        console.print(f"[yellow]skipped[/yellow] {skip}")
    for caveat in result.caveats:
        console.print(f"[yellow]caveat[/yellow] {caveat}")
    console.print(tables.serving_comparison_table(result.serving_title, result.serving))
    for skip in result.serving_skipped:
        console.print(f"[yellow]skipped[/yellow] {skip}")
    plan = result.serving_plan
    if plan is not None:
        from chipfleet.report import serve_plan as rp

        console.print(rp.mix_table(result.serving_plan_title, plan.mix))
        for line in rp.summary_lines(plan)[1:]:
            console.print(line)
    elif result.serving_plan_skipped:
        console.print(f"[yellow]serving plan skipped[/yellow] {result.serving_plan_skipped}")
    console.print(f"chart: {chart}\nresults: {out / 'chipfleet-demo.json'}")


def _usage_message(e: Any) -> str:
    """A click usage error as one line: what was wrong and where the help is."""
    text = " ".join(e.format_message().split()).replace("Value error, ", "")
    for said, meant in (
        ("Input should be greater than or equal to", "must be at least"),
        ("Input should be less than or equal to", "must be at most"),
        ("Input should be greater than", "must be more than"),
        ("Input should be less than", "must be less than"),
    ):
        text = text.replace(said, meant)
    prefix, sep, rest = text.partition("': ")
    if sep and prefix.startswith("Invalid value for '") and prefix.removeprefix("Invalid value for '") in rest:
        text = rest  # the units parser's message already names the option
    ctx = getattr(e, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    return f"{text}{where}"


def _fail(error_type: str, message: str, as_json: bool, label: str = "error", **details: Any) -> int:
    """Report an error: one line on stderr, or with --json ``{"error": {"type", "message", ...}}`` on stdout (with
    the error's figures where it has them: suggestions, bytes needed and available); exit 2."""
    if as_json:
        sys.stdout.write(dumps({"error": {"type": error_type, "message": message, **details}}) + "\n")
    else:
        Console(stderr=True).print(f"[red]{label}:[/red] {message}", highlight=False, soft_wrap=True, markup=True)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; chipfleet errors and usage errors print one clear line (JSON with --json) and exit 2."""
    global console
    console = _Console()  # the terminal's width now ($COLUMNS when not a terminal), not at import
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer vendors click

    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="chipfleet", standalone_mode=False)
    except NoArgsIsHelpError as e:
        if e.ctx is not None:
            help_text = e.ctx.get_help()  # the rich formatter prints the help itself and returns ""
            if help_text:
                Console(stderr=True).print(help_text, highlight=False)
        return 2
    except ClickException as e:
        return _fail("UsageError", _usage_message(e), as_json)
    except typer.Abort:
        return _fail("Aborted", "aborted", as_json)
    except DoesNotFitError as e:
        return _fail(
            type(e).__name__, str(e), as_json, label="does not fit", needed_bytes=e.needed_bytes,
            available_bytes=e.available_bytes, suggestion=e.suggestion,
        )  # fmt: skip
    except UnknownNameError as e:
        return _fail(type(e).__name__, str(e), as_json, kind=e.kind, name=e.name, suggestions=e.suggestions)
    except ChipfleetError as e:
        return _fail(type(e).__name__, str(e), as_json)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
