"""Rich tables for catalog records and estimates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from chipfleet.catalog import Catalog, Chip, Instance, Precision, Pricing, Region, ScaleUp
from chipfleet.catalog.schema import EfficiencyFamily, Figure, iter_figures
from chipfleet.economics.estimate import ServingEstimate, TrainingEstimate
from chipfleet.report import units as u

if TYPE_CHECKING:
    from chipfleet.demo import MoeServingRow


def _fig(f: Figure | None, scale: float = 1.0, fmt: str = "{:,.0f}") -> str:
    if f is None:
        return "—"
    text = fmt.format(f.si / scale)
    return text + ("*" if f.basis.value != "stated" else "")


def chips_table(chips: Sequence[Chip]) -> Table:
    t = Table(title="Chips (dense peak; * = derived or estimated, see `catalog show`)")
    for col in (
        "name",
        "vendor",
        "family",
        "bf16 TFLOPS",
        "fp8 TFLOPS",
        "fp4 TFLOPS",
        "memory GB",
        "mem BW GB/s",
        "link GB/s",
        "scale-up",
        "TDP W",
    ):
        t.add_column(col, justify="right" if col not in ("name", "vendor", "family", "scale-up") else "left")
    for c in chips:
        t.add_row(
            c.name,
            c.vendor,
            c.family,
            _fig(c.peak_dense.get(Precision.BF16), 1e12),
            _fig(c.peak_dense.get(Precision.FP8), 1e12),
            _fig(_fp4_peak(c), 1e12),
            _fig(c.memory, 1e9),
            _fig(c.memory_bandwidth, 1e9),
            _fig(c.link_bandwidth, 1e9),
            f"{c.scale_up.domain_chips:,} {c.scale_up.fabric.split()[0]}" if c.scale_up else "—",
            _fig(c.tdp, 1.0),
        )
    return t


def _fp4_peak(c: Chip) -> Figure | None:
    """The chip's FP4 peak: NVFP4's where it has one, else MXFP4's (the two share one rate where both exist)."""
    return c.peak_dense.get(Precision.NVFP4) or c.peak_dense.get(Precision.MXFP4)


def _formats(value: tuple[Precision, ...]) -> str:
    return ", ".join(p.value for p in value)


def instances_table(instances: Sequence[Instance]) -> Table:
    t = Table(title="Instances (cheapest on-demand and spot price over the catalog's regions)")
    for col in (
        "name",
        "cloud",
        "chip",
        "chips",
        "vCPUs",
        "scale-out Gbps",
        "on-demand $/h",
        "spot $/h",
        "regions",
    ):
        t.add_column(col, justify="left" if col in ("name", "cloud", "chip", "regions") else "right")
    for i in instances:
        od = i.price(None, Pricing.ON_DEMAND)
        sp = i.price(None, Pricing.SPOT)
        so = i.scaleout_bytes_per_s
        t.add_row(
            i.name,
            i.cloud.value,
            i.chip,
            str(i.chips),
            str(i.vcpus or "—"),
            f"{so * 8 / 1e9:,.0f}" if so else "—",
            f"{od.usd_per_h:,.2f}" if od else "—",
            f"{sp.usd_per_h:,.2f}" if sp else "—",
            ", ".join(i.regions) or "—",
        )
    return t


def regions_table(regions: Sequence[Region]) -> Table:
    t = Table(title="Regions")
    for col in ("name", "cloud", "location", "PUE", "grid gCO2e/kWh", "grid zone"):
        t.add_column(col, justify="right" if col in ("PUE", "grid gCO2e/kWh") else "left")
    for r in regions:
        grid = r.grid_gco2_per_kwh
        t.add_row(
            r.name,
            r.cloud.value,
            r.location,
            f"{r.pue_ratio:.3g}",
            f"{grid:.0f}" if grid is not None else "—",
            r.grid_zone,
        )
    return t


def record_table(name: str, record: Chip | Instance | Region | EfficiencyFamily, catalog: Catalog) -> Table:
    """Every figure of a record with its value, basis, date and source."""
    t = Table(title=f"{type(record).__name__} {name}")
    for col in ("field", "value", "basis", "as of", "source", "note"):
        t.add_column(col, overflow="fold")
    for field_name in type(record).model_fields:
        value = getattr(record, field_name)
        figs = iter_figures(value)
        if not figs:
            if value and isinstance(value, tuple) and all(isinstance(v, Precision) for v in value):
                t.add_row(field_name, _formats(value), "", "", "", "")
            elif value not in (None, (), ""):
                t.add_row(field_name, escape(str(value)), "", "", "", "")
            continue
        for f in figs:
            label = field_name
            if isinstance(value, dict):
                label += "." + next(str(k) for k, v in value.items() if v is f)
            elif isinstance(value, ScaleUp):
                label += f" ({escape(', '.join(x for x in (value.fabric, value.topology) if x))})"
            elif isinstance(value, tuple):
                region = getattr(f, "region", "")
                pricing = getattr(f, "pricing", "")
                label += f" ({region}, {getattr(pricing, 'value', pricing)})"
            t.add_row(label, f.quoted(), f.basis.value, f.as_of, escape(f.source_ref), escape(f.note))
    if isinstance(record, Chip):
        for label, formats in (
            ("weights in", record.weight_precisions),
            ("activations in", record.activation_precisions),
            ("KV cache in", record.kv_cache_precisions),
        ):
            how = "from peak_dense, weight_only and kv_cache (int8/int4 weights are weight-only)"
            t.add_row(label, _formats(formats), "derived", "", "", how)
    return t


def _ranged(fmt: Callable[[float], str], value: float, rng: list[float] | None) -> str:
    """``value`` with its 10-90 % range, e.g. ``75.1 (61.2–96.0) days`` when the unit is shared."""
    if rng is None:
        return fmt(value)
    texts = [fmt(value), fmt(rng[0]), fmt(rng[1])]
    units = {t.rpartition(" ")[2] for t in texts if " " in t}
    if len(units) == 1 and all(" " in t for t in texts):
        unit = units.pop()
        nums = [t.rpartition(" ")[0] for t in texts]
        return f"{nums[0]} ({nums[1]}–{nums[2]}) {unit}"
    return f"{texts[0]} ({texts[1]}–{texts[2]})"


def _validated_mark(validated: bool) -> str:
    return "" if validated else " (family not validated on its own measurements)"


def training_table(e: TrainingEstimate) -> Table:
    s = e.step
    where = f"{e.instances} × {e.instance} ({s.parallelism.chips} {e.chip})"
    t = Table(title=f"Training {e.model} on {where}{_validated_mark(e.validated)}")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    rows = [
        ("parallelism" + (" (chosen)" if e.parallelism_chosen else ""), s.parallelism.describe()),
        ("step time", u.duration(s.step_time_s)),
        ("throughput", u.rate(s.tokens_per_s, "tokens")),
        ("MFU / HFU", f"{u.percent(s.mfu)} / {u.percent(s.hfu)}"),
        ("bound by", s.bound.removesuffix("_s")),
        (
            "memory per chip",
            f"{u.gigabytes(s.memory.total_bytes)} of {u.gigabytes(s.memory.available_bytes)}",
        ),
        ("time to train", u.duration(e.time_s)),
        ("cost", u.usd(e.footprint.cost_usd)),
        ("energy (facility)", u.energy(e.footprint.energy_kwh)),
        ("carbon", u.co2(e.footprint.co2_kg)),
        ("region / pricing", f"{e.footprint.region.name} / {e.footprint.price.pricing.value}"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    t.add_section()
    total = s.step_time_s
    for term, secs in s.breakdown.items():
        if secs > 0:
            t.add_row(f"  {term.removesuffix('_s')}", f"{u.duration(secs)} ({100 * secs / total:.0f} %)")
    return t


def serving_table(e: ServingEstimate) -> Table:
    r = e.result
    c = e.config
    if r.replicas_per_instance:
        where = f"{e.instance} ({r.replicas_per_instance} replica(s) × tp={r.tp})"
    else:  # an expert group or a scale-up domain's tensor-parallel group spanning instances
        where = f"{e.instance} (one replica of tp={r.tp} spanning instances)"
    t = Table(title=f"Serving {e.model} on {where}{_validated_mark(e.validated)}")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    rows = [
        ("batch × (input + output)", f"{c.batch} × ({c.input_tokens} + {c.output_tokens})"),
        ("precision (weights / compute)", f"{c.weight_precision.value} / {r.compute_precision.value}"),
        ("time to first token", f"{u.duration(r.ttft_s)} ({r.prefill.bound}-bound)"),
        ("time per output token", f"{u.duration(r.tpot_s)} ({r.decode.bound}-bound)"),
        ("throughput per instance", u.rate(r.output_tokens_per_s, "tokens")),
        ("largest batch that fits", str(r.max_batch)),
        (
            "memory per chip",
            f"{u.gigabytes(r.memory.total_bytes)} of {u.gigabytes(r.memory.available_bytes)}",
        ),
        ("$ per million output tokens", f"${e.cost_usd_per_million_tokens:.3f}"),
        ("energy per output token", f"{e.energy_j_per_token:.2f} J"),
        ("region / pricing", f"{e.footprint.region.name} / {e.footprint.price.pricing.value}"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    return t


def _pricing_note(pricings: Sequence[Pricing]) -> tuple[bool, str]:
    """Whether a comparison needs a per-row pricing column (rows on different models), and the caption's words.

    Rows on one pricing model compare like with like and the caption says which; rows on several get a column,
    so a spot row is never read as an on-demand one.
    """
    kinds = sorted({p.value for p in pricings})
    if len(kinds) > 1:
        return True, f"prices: {' and '.join(kinds)} (see the pricing column; not like for like)"
    return False, f"prices: all {kinds[0]}" if kinds else ""


def training_comparison_table(title: str, estimates: Sequence[TrainingEstimate]) -> Table:
    t = Table(title=title)
    mixed, prices = _pricing_note([e.footprint.price.pricing for e in estimates])
    cols = ["instance", "chips", "parallelism", "MFU", "time", "cost", *(["pricing"] if mixed else [])]
    for col in (*cols, "energy", "CO2", "bound"):
        t.add_column(col, justify="left" if col in ("instance", "parallelism", "bound", "pricing") else "right")
    for e in estimates:
        s = e.step
        t.add_row(
            f"{e.instances} × {e.instance}" + ("" if e.validated else " †"),
            str(s.parallelism.chips),
            s.parallelism.describe(),
            u.percent(s.mfu),
            _ranged(u.duration, e.time_s, e.ranges["time_s"]),
            u.usd(e.footprint.cost_usd),
            *([e.footprint.price.pricing.value] if mixed else []),
            u.energy(e.footprint.energy_kwh),
            u.co2(e.footprint.co2_kg),
            s.bound.removesuffix("_s"),
        )
    t.caption = (
        f"time: estimate (10–90 % range from cross-validated error); † family not validated on its own data; {prices}"
    )
    return t


def serving_comparison_table(title: str, estimates: Sequence[ServingEstimate]) -> Table:
    t = Table(title=title)
    for col in (
        "instance",
        "tp × replicas",
        "TTFT",
        "TPOT",
        "tokens/s",
        "$/M tokens",
        "J/token",
        "max batch",
    ):
        t.add_column(col, justify="left" if col == "instance" else "right")
    mixed, prices = _pricing_note([e.footprint.price.pricing for e in estimates])
    if mixed:
        t.add_column("pricing")
    for e in estimates:
        r = e.result
        t.add_row(
            e.instance + ("" if e.validated else " †"),
            f"{r.tp} × {r.replicas_per_instance}",
            _ranged(u.duration, r.ttft_s, e.ranges["ttft_s"]),
            _ranged(u.duration, r.tpot_s, e.ranges["tpot_s"]),
            f"{r.output_tokens_per_s:,.0f}",
            f"${e.cost_usd_per_million_tokens:.3f}",
            f"{e.energy_j_per_token:.2f}",
            str(r.max_batch),
            *([e.footprint.price.pricing.value] if mixed else []),
        )
    t.caption = (
        "latencies: estimate (10–90 % range from cross-validated error); † family not validated on its own data; "
        + prices
    )
    return t


def moe_serving_table(title: str, rows: Sequence[MoeServingRow]) -> Table:
    """The demo's MoE comparison: per instance its engine, weight format, layout, latencies, tokens/s per chip,
    $ per million output tokens and J per token, with the 10–90 % ranges where the estimate carries them."""
    t = Table(title=title)
    for col in ("instance", "engine", "weights", "tp × replicas", "TTFT", "TPOT", "tokens/s/chip", "$/M tokens",
                "J/token"):  # fmt: skip
        t.add_column(col, justify="left" if col in ("instance", "engine", "weights") else "right")
    for row in rows:
        e = row.estimate
        r = e.result
        t.add_row(
            e.instance + ("" if e.validated else " †"),
            row.engine,
            e.config.weight_precision.value + (" *" if row.precision_note else ""),
            f"{r.tp} × {r.replicas_per_instance}",
            _ranged(u.duration, r.ttft_s, e.ranges["ttft_s"]),
            _ranged(u.duration, r.tpot_s, e.ranges["tpot_s"]),
            _ranged(lambda x: f"{x:,.0f}", row.output_tokens_per_s_per_chip, row.per_chip_range),
            _ranged(lambda x: f"${x:.3f}", e.cost_usd_per_million_tokens, e.ranges["cost_usd_per_million_tokens"]),
            _ranged(lambda x: f"{x:.2f}", e.energy_j_per_token, e.ranges["energy_j_per_token"]),
        )
    _, prices = _pricing_note([row.estimate.footprint.price.pricing for row in rows])
    t.caption = (
        "estimates with 10–90 % ranges from cross-validated error; † family not validated on its own data; "
        "* the chip cannot read the released weight format (see the notes below); " + prices
    )
    return t
