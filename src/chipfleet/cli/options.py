"""Options shared by several commands, each declared once, and the parsers that read quantities with units."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from chipfleet.catalog import Catalog, Precision, Pricing, load_catalog
from chipfleet.economics.spot import MAX_INTERRUPTIONS_PER_MONTH
from chipfleet.exceptions import ConfigError
from chipfleet.perf.training import MAX_TRAINING_TOKENS
from chipfleet.units import option_parser, parse_count, parse_duration, parse_float, parse_tokens
from chipfleet.workloads import ModelArch, checkpoint_precision, get_model, load_hf_config

MAX_SEED = 2**32 - 1
MAX_INSTANCES = 20_000  # ~160k accelerators: past the largest published clusters; a bound keeps searches finite
_MAX_TOKENS = MAX_TRAINING_TOKENS  # the model's own ceiling (perf.training), so the CLI and API agree
MAX_REQUESTS = 100_000_000  # a synthetic workload larger than this would not fit in memory as a trace


def group(help_text: str, **options: Any) -> typer.Typer:
    """A command group whose help is in click's plain layout: rich's boxed help cuts option descriptions to "…"
    on an 80-column terminal, the plain one wraps them whole (as the tables do: nothing a reader needs is cut)."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None, **options)


class State:
    """Per-invocation options from the root callback; the catalog is loaded on first use."""

    overlays: tuple[Path, ...] = ()
    _catalog: Catalog | None = None
    # how the catalog is loaded: a long-lived process running many commands (the web server) may keep loaded ones
    loader: Callable[[tuple[Path, ...]], Catalog] = load_catalog

    @classmethod
    def reset(cls, overlays: tuple[Path, ...]) -> None:
        cls.overlays = overlays
        cls._catalog = None

    @classmethod
    def catalog(cls) -> Catalog:
        if cls._catalog is None:
            cls._catalog = cls.loader(cls.overlays)
        return cls._catalog


# ----------------------------------------------------------------------------- parsers of quantities
def in_base_units(parse: Callable[..., Any], what: str, **bounds: Any) -> Callable[[Any], Any]:
    """A typer ``parser`` for an option: text goes through :mod:`chipfleet.units`; a default written in code is
    already in base units (seconds, tokens, per second) and passes as it is."""
    from_text = option_parser(parse, what, **bounds)

    def _parse(value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        return from_text(value)

    return _parse


def duration_opt(what: str, *, allow_zero: bool = False, max_s: float = 10 * 365 * 86400.0) -> Callable[[Any], Any]:
    return in_base_units(parse_duration, what, allow_zero=allow_zero, max_s=max_s)


def tokens_opt(what: str, max_tokens: int = 1 << 24) -> Callable[[Any], Any]:
    return in_base_units(parse_tokens, what, max_tokens=max_tokens)


def float_opt(what: str, low: float = 0.0, high: float = 1e6, *, low_open: bool = True) -> Callable[[Any], Any]:
    """A finite number in (low, high] (or [low, high]); typer alone would read 'nan' and 'inf' as floats."""
    return in_base_units(parse_float, what, low=low, high=high, low_open=low_open)


def _interruptions_opt(value: Any) -> Any:
    """--interruptions-per-month: ≥ 0 and below SpotModel's ceiling (one per instance-hour), named as the option."""
    rate = float_opt("--interruptions-per-month", 0.0, MAX_INTERRUPTIONS_PER_MONTH, low_open=False)(value)
    if rate >= MAX_INTERRUPTIONS_PER_MONTH:
        raise ConfigError(
            f"--interruptions-per-month must be below {MAX_INTERRUPTIONS_PER_MONTH:g} (one per instance-hour, the "
            f"spot model's ceiling), got {value!r}; typical spot rates are 0.05-0.2"
        )
    return rate


def csv(text: str | None) -> tuple[str, ...]:
    """'a, B,c' → ('a', 'b', 'c'): a comma-separated list of names, lower case."""
    return tuple(x.strip().lower() for x in (text or "").split(",") if x.strip())


def counts(text: str | None, what: str, most: int) -> tuple[int, ...]:
    """'1,2,8' → (1, 2, 8): comma-separated whole numbers from 1 to ``most`` (chips, sequences: not tokens)."""
    return tuple(int(parse_count(part, what, integer=True, max_value=most)) for part in csv(text))


def model_arch(model: str | None, model_config: Path | None) -> ModelArch:
    """The architecture named by --model or imported from --model-config (exactly one of them)."""
    if model_config is not None:
        if model is not None:
            raise ConfigError("give either --model or --model-config, not both")
        return load_hf_config(model_config)
    if model is None:
        raise ConfigError("give --model NAME (see `chipfleet models list`) or --model-config config.json")
    return get_model(model)


def weight_precision(given: Precision | None, model: str | None) -> Precision:
    """--precision as typed, else the precision a quantized checkpoint's repo id names
    (``--model nvidia/DeepSeek-R1-NVFP4`` → nvfp4, ``Qwen/Qwen3-235B-A22B-FP8`` → fp8), else bf16."""
    if given is not None:
        return given
    named = checkpoint_precision(model) if model else None
    try:
        return Precision(named) if named else Precision.BF16
    except ValueError:  # a suffix the catalog has no precision for (none today): the plain default
        return Precision.BF16


def training_tokens(help_text: str) -> Any:
    """--tokens of a training run: a decimal amount up to the model's ceiling."""
    return typer.Option(
        metavar="AMOUNT", parser=in_base_units(parse_count, "--tokens", max_value=_MAX_TOKENS), help=help_text
    )


# ----------------------------------------------------------------------------- the shared options
WeightPrecisionOpt = Annotated[
    Precision | None,
    typer.Option(
        case_sensitive=False,
        help="Weight precision: bf16, fp8, int8, int4, nvfp4, mxfp4 (default: the one a quantized checkpoint's "
        "repo id names, e.g. -FP8 or -NVFP4, else bf16).",
    ),
]
CatalogOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--catalog",
        help="Catalog overlay YAML adding or overriding chips, instances, prices (repeatable). "
        "Also read from $CHIPFLEET_CATALOG (path-separated).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table (errors too).")]
SeedOpt = Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Random seed (0 to 2³²−1).")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Zoo model name, e.g. llama-3-70b.")]
ModelConfigOpt = Annotated[
    Path | None,
    typer.Option("--model-config", help="A Hugging Face config.json to import instead of --model."),
]
PricingOpt = Annotated[Pricing, typer.Option(case_sensitive=False, help="Pricing model.")]
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
CheapestRegionOpt = Annotated[str | None, typer.Option(help="Region (default: cheapest with a price).")]
SeqLenOpt = Annotated[
    int,
    typer.Option(metavar="TOKENS", parser=tokens_opt("--seq-len"), help="Sequence length in tokens (4k = 4096)."),
]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        metavar="NAME[@VERSION]",
        help="Serving engine: vllm, sglang, trtllm, nxdi, jetstream (InferenceX's trt, dynamo-*, atom too), "
        "optionally with its version, e.g. vllm@0.11.2: its batching defaults and overheads. Default: "
        "engine-neutral (chipfleet's own batching, no engine overheads).",
    ),
]
InstancesCsvOpt = Annotated[str | None, typer.Option(help="Comma-separated instance types (default: all).")]
CloudsCsvOpt = Annotated[str | None, typer.Option(help="Comma-separated clouds: aws,gcp,azure.")]
SkipBadRowsOpt = Annotated[bool, typer.Option(help="Skip and count malformed trace rows.")]


WindowOpt = Annotated[
    float,
    typer.Option(
        metavar="DURATION",
        parser=duration_opt("--window", max_s=86400.0),
        help="Width of the time series' windows (utilization, queue, latency over time), e.g. 10s.",
    ),
]
