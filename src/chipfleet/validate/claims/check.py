"""Headline vendor claims checked against the catalog and the performance model.

Each claim (its text, source and ``calibration.csv`` row ids, kept as data in :data:`CLAIMS`) gets a
:class:`ClaimCheck`: the figure chipfleet computes, the conditions under which the claim holds in the
model, a verdict, and the evidence rows behind it. Spec figures come from catalog records, model figures
from :mod:`chipfleet.perf` and :mod:`chipfleet.economics` calls; nothing here hard-codes an expected output
and nothing prints.

Verdicts for "up to N×" claims over a grid of comparable cases:

- ``holds``: every case reaches N×;
- ``holds only when``: some cases reach N× (``conditions`` says which);
- ``not supported by published specs``: no case reaches N× with the catalog's published figures.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from chipfleet.catalog import Basis, Catalog, Chip, EfficiencyFamily, Figure, Precision, Pricing
from chipfleet.economics import TrainingEstimate, estimate_training
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf import ServingConfig, TrainingSetup, estimate_inference, hardware_for
from chipfleet.perf.hardware import Hardware
from chipfleet.perf.inference import InferenceResult, valid_tp_degrees, weight_bytes_per_chip
from chipfleet.workloads import ModelArch, get_model

Verdict = Literal["holds", "holds only when", "not supported by published specs"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)

Row = dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """A headline claim as published: ``value`` in ``unit`` (``x`` for ratios), with its source."""

    id: str
    row_ids: tuple[str, ...]  # ids of the `claim` rows in shared/data/reference/calibration.csv
    subject: str
    text: str
    source: str
    value: float
    unit: str
    accelerator_count: int | None = None


_INF2_BLOG = (
    "https://aws.amazon.com/blogs/machine-learning/aws-inferentia2-builds-on-aws-inferentia1-by-delivering-"
    "4x-higher-throughput-and-10x-lower-latency/"
)
_TRN2_NOTE = (
    "NAND Research note (secondary) https://nand-research.com/research-note-awss-new-trainium2, repeating the "
    "re:Invent 2023 announcement; the AWS press release was not found"
)
_CEIBA_SOURCE = (
    "NVIDIA/AWS announcement of Nov 2023 via news articles; secondary: "
    "https://www.nextplatform.com/2023/11/28/aws-adopts-nvidia-nvswitch-for-beefy-ai-gpu-nodes/ "
    "(the official press release text was not found; Ceiba later moved to Blackwell)"
)

CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="inf2-throughput",
        row_ids=("GT0166",),
        subject="AWS Inferentia2 vs Inferentia1",
        text="up to 4x higher throughput",
        source=_INF2_BLOG,
        value=4.0,
        unit="x",
    ),
    Claim(
        id="inf2-latency",
        row_ids=("GT0167",),
        subject="AWS Inferentia2 vs Inferentia1",
        text="up to 10x lower latency",
        source=_INF2_BLOG,
        value=10.0,
        unit="x",
    ),
    Claim(
        id="trn2-training-speed",
        row_ids=("GT0168",),
        subject="AWS Trainium2 vs Trainium1",
        text="up to 4x faster training",
        source=_TRN2_NOTE,
        value=4.0,
        unit="x",
    ),
    Claim(
        id="trn2-energy-efficiency",
        row_ids=("GT0169",),
        subject="AWS Trainium2 vs Trainium1",
        text="up to 2x better energy efficiency",
        source=_TRN2_NOTE,
        value=2.0,
        unit="x",
    ),
    Claim(
        id="ceiba-exaflops",
        row_ids=("GT0170", "GT0171"),
        subject="Project Ceiba (NVIDIA GH200 on AWS)",
        text="16,384 GH200 Superchips, about 65 AI exaflops",
        source=_CEIBA_SOURCE,
        value=65.0,
        unit="EFLOPS",
        accelerator_count=16384,
    ),
)


def claim(claim_id: str) -> Claim:
    """The claim record with ``claim_id``."""
    for c in CLAIMS:
        if c.id == claim_id:
            return c
    known = ", ".join(c.id for c in CLAIMS)
    raise ConfigError(f"unknown claim {claim_id!r}; known claims: {known}")


@dataclass(frozen=True)
class ClaimCheck:
    """One claim against chipfleet: the figure we compute, where the claim holds, and the evidence.

    ``validated`` is True only when every figure the verdict rests on is stated or derived by a source (no
    estimate such as an unpublished TDP) and every efficiency family it uses is fitted on measurements.
    """

    id: str
    row_ids: tuple[str, ...]
    subject: str
    claim: str
    source: str
    claim_value: float
    model_value: float | None
    unit: str
    conditions: str
    verdict: Verdict
    verdict_detail: str
    evidence: tuple[Row, ...] = field(default=())
    assumptions: tuple[str, ...] = field(default=())
    validated: bool = False
    # Efficiency families the verdict rests on that are not validated, each with what it rests on instead
    # (:meth:`Catalog.family_status`); the verdict's sentence names them too.
    uncalibrated: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: plain str/float/int/bool/None, lists and dicts."""
        return {
            "id": self.id,
            "row_ids": list(self.row_ids),
            "subject": self.subject,
            "claim": self.claim,
            "source": self.source,
            "claim_value": self.claim_value,
            "model_value": self.model_value,
            "unit": self.unit,
            "conditions": self.conditions,
            "verdict": self.verdict,
            "verdict_detail": self.verdict_detail,
            "validated": self.validated,
            "uncalibrated": list(self.uncalibrated),
            "assumptions": list(self.assumptions),
            "evidence": [dict(r) for r in self.evidence],
        }


def _family_basis(family: EfficiencyFamily) -> str:
    """``family`` and what it rests on: "aws-neuron-v2 (validated)" or "aws-neuron-v3 (fitted on only 3 rows
    …)"; the wording is the catalog's (:meth:`EfficiencyFamily.calibration_status`)."""
    return f"{family.name} ({family.calibration_status() or 'validated'})"


def _with_family_basis(checks: Sequence[ClaimCheck], chips: Sequence[Chip], catalog: Catalog) -> list[ClaimCheck]:
    """``checks`` whose verdict sentence starts by naming every unvalidated family it rests on, e.g.
    "Uncalibrated: aws-neuron-v3 (trainium2): fitted on only 3 rows from 1 source, not cross-validated."."""
    names: dict[str, list[str]] = {}
    for chip in chips:
        names.setdefault(chip.family, []).append(chip.name)
    weak = [
        f"{name} ({', '.join(chip_names)}): {status}"
        for name, chip_names in names.items()
        if (status := catalog.family_status(name)) is not None
    ]
    if not weak:
        return list(checks)
    sentence = "Uncalibrated: " + "; ".join(weak) + ". "
    return [replace(c, verdict_detail=sentence + c.verdict_detail, uncalibrated=tuple(weak)) for c in checks]


# --------------------------------------------------------------------------------------------- grids


@dataclass(frozen=True)
class ServingGrid:
    """The Inferentia sweep: every model × weight precision × (input, output) shape × batch × pair.

    Pairs are (Inf1 instance, Inf2 instance); throughput is compared per chip so unequal chip counts
    (16 on inf1.24xlarge, 12 on inf2.48xlarge) are comparable. Each side uses its best tensor-parallel degree:
    the most tokens/s per chip for throughput, the shortest request for latency.
    """

    models: tuple[str, ...] = ("gpt-j-6b", "llama-2-7b", "llama-2-13b")
    precisions: tuple[Precision, ...] = (Precision.BF16, Precision.INT8)
    # (input, output) tokens: decode-heavy, prefill-heavy, and prefill only (the closest decoder analogue
    # of the encoder/classification work Inf1 was built for).
    shapes: tuple[tuple[int, int], ...] = ((128, 128), (1024, 32), (512, 1))
    batches: tuple[int, ...] = (1, 8, 32, 128)
    pairs: tuple[tuple[str, str], ...] = (("inf1.xlarge", "inf2.xlarge"), ("inf1.24xlarge", "inf2.48xlarge"))


@dataclass(frozen=True)
class TrainingGrid:
    """The Trainium sweep: models × chip counts × precisions, old instance vs new, the split chosen by
    chipfleet for each. ``steps`` optimizer steps of ``global_batch × seq_len`` tokens."""

    models: tuple[str, ...] = ("llama-3-8b", "llama-3-70b", "llama-3.1-405b")
    chips: tuple[int, ...] = (16, 512)
    precisions: tuple[Precision, ...] = (Precision.BF16, Precision.FP8)
    old_instance: str = "trn1.32xlarge"
    new_instance: str = "trn2.48xlarge"
    seq_len: int = 4096
    global_batch: int = 1024
    steps: int = 100


SERVING_GRID = ServingGrid()
TRAINING_GRID = TrainingGrid()

# "About 65" exaflops: a total within 5 % of the claim reproduces it (the next precision is 2x away).
ABOUT_TOLERANCE = 0.05
# NVIDIA datasheets quote Tensor Core peaks with 2:4 structured sparsity at twice the dense rate; the
# catalog stores dense peaks (chips.yaml header; the Hopper figure notes quote the sparse numbers).
NVIDIA_SPARSITY_FACTOR = 2.0
# Hopper formats that run on Tensor Cores and so have a 2:4-sparse mode (FP32 is the CUDA-core rate).
NVIDIA_SPARSE_PRECISIONS = frozenset({Precision.TF32, Precision.BF16, Precision.FP16, Precision.FP8, Precision.INT8})
_SPARSE_QUOTE = re.compile(r"quotes\s+([0-9][0-9,.]*)\s+with sparsity", re.IGNORECASE)


def check_claims(catalog: Catalog) -> list[ClaimCheck]:
    """Every headline claim in :data:`CLAIMS`, checked against ``catalog`` and the model."""
    return [*check_inferentia(catalog), *check_trainium(catalog), check_ceiba(catalog)]


# --------------------------------------------------------------------------------------------- helpers


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0 or not math.isfinite(a) or not math.isfinite(b):
        return None
    return a / b


def _ratio_verdict(ratios: Sequence[float], target: float) -> Verdict:
    reached = [r for r in ratios if r >= target]
    if not reached:
        return "not supported by published specs"
    if len(reached) == len(ratios):
        return "holds"
    return "holds only when"


def _spec_row(quantity: str, old: Chip, new: Chip, old_fig: Figure | None, new_fig: Figure | None) -> Row:
    """One spec comparison: both figures as the source quotes them, in SI, and new ÷ old."""
    return {
        "kind": "spec",
        "quantity": quantity,
        "old_chip": old.name,
        "old": None if old_fig is None else old_fig.quoted(),
        "old_si": None if old_fig is None else old_fig.si,
        "old_basis": None if old_fig is None else old_fig.basis.value,
        "new_chip": new.name,
        "new": None if new_fig is None else new_fig.quoted(),
        "new_si": None if new_fig is None else new_fig.si,
        "new_basis": None if new_fig is None else new_fig.basis.value,
        "new_over_old": _ratio(
            None if new_fig is None else new_fig.si,
            None if old_fig is None else old_fig.si,
        ),
    }


def _chip_spec_rows(old: Chip, new: Chip, precisions: Iterable[Precision]) -> list[Row]:
    rows = [
        _spec_row(f"{p.value} dense peak", old, new, old.peak_dense.get(p), new.peak_dense.get(p)) for p in precisions
    ]
    rows.append(_spec_row("memory bandwidth", old, new, old.memory_bandwidth, new.memory_bandwidth))
    rows.append(_spec_row("memory per chip", old, new, old.memory, new.memory))
    rows.append(_spec_row("chip-to-chip link", old, new, old.link_bandwidth, new.link_bandwidth))
    rows.append(_spec_row("TDP", old, new, old.tdp, new.tdp))
    return rows


def _spec(rows: Sequence[Row], quantity: str) -> float | None:
    for r in rows:
        if r["quantity"] == quantity:
            value = r["new_over_old"]
            return None if value is None else float(value)
    return None


def _x(value: float | None, digits: int = 2) -> str:
    """A ratio as text: '3.51x', or 'n/a' where the catalog lacks a figure."""
    return "n/a" if value is None else f"{value:.{digits}f}x"


def _fmt_range(values: Sequence[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.2f}x" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}x"


# --------------------------------------------------------------------------------------------- Inferentia


@dataclass(frozen=True)
class _Side:
    """One instance's best configuration for a workload: by throughput per chip and by request latency."""

    fits: bool
    best_throughput: InferenceResult | None = None
    best_latency: InferenceResult | None = None
    why_not: str = ""


def _request_latency_s(r: InferenceResult, output_tokens: int) -> float:
    return r.ttft_s + (output_tokens - 1) * r.tpot_s


def _dominant_bound(r: InferenceResult, output_tokens: int) -> str:
    """The bound of the phase that takes most of a request: prefill or the decode iterations."""
    decode_s = (output_tokens - 1) * r.tpot_s
    phase = r.prefill if r.prefill.time_s >= decode_s else r.decode
    name = "prefill" if phase is r.prefill else "decode"
    return f"{name} {phase.bound}"


def _best_side(model: ModelArch, hw: Hardware, precision: Precision, shape: tuple[int, int], batch: int) -> _Side:
    results: list[InferenceResult] = []
    why = ""
    for tp in valid_tp_degrees(model, hw):
        cfg = ServingConfig(
            model=model,
            batch=batch,
            input_tokens=shape[0],
            output_tokens=shape[1],
            tp=tp,
            weight_precision=precision,
        )
        try:
            results.append(estimate_inference(cfg, hw))
        except DoesNotFitError as exc:
            why = str(exc)
    if not results:
        return _Side(fits=False, why_not=why)
    per_chip = max(results, key=lambda r: r.output_tokens_per_s_per_replica / r.tp)
    fastest = min(results, key=lambda r: _request_latency_s(r, shape[1]))
    return _Side(fits=True, best_throughput=per_chip, best_latency=fastest)


def _side_fields(prefix: str, side: _Side, output_tokens: int) -> Row:
    thr, lat = side.best_throughput, side.best_latency
    if thr is None or lat is None:
        return {f"{prefix}_fits": False}
    return {
        f"{prefix}_fits": True,
        f"{prefix}_tp_for_throughput": thr.tp,
        f"{prefix}_output_tokens_per_s_per_chip": thr.output_tokens_per_s_per_replica / thr.tp,
        f"{prefix}_output_tokens_per_s_per_instance": thr.output_tokens_per_s,
        f"{prefix}_throughput_bound": _dominant_bound(thr, output_tokens),
        f"{prefix}_tp_for_latency": lat.tp,
        f"{prefix}_ttft_s": lat.ttft_s,
        f"{prefix}_tpot_s": lat.tpot_s,
        f"{prefix}_request_latency_s": _request_latency_s(lat, output_tokens),
        f"{prefix}_latency_bound": _dominant_bound(lat, output_tokens),
    }


def inferentia_sweep(catalog: Catalog, grid: ServingGrid = SERVING_GRID) -> list[Row]:
    """One row per grid case: each side's best configuration and the Inf2 ÷ Inf1 ratios (None when a side
    does not fit). Throughput ratio = tokens/s per chip; latency ratios = Inf1 time ÷ Inf2 time."""
    rows: list[Row] = []
    for old_name, new_name in grid.pairs:
        old_hw, new_hw = hardware_for(catalog, old_name), hardware_for(catalog, new_name)
        for model_name in grid.models:
            model = get_model(model_name)
            for precision in grid.precisions:
                for shape in grid.shapes:
                    for batch in grid.batches:
                        old = _best_side(model, old_hw, precision, shape, batch)
                        new = _best_side(model, new_hw, precision, shape, batch)
                        row: Row = {
                            "kind": "sweep",
                            "pair": f"{old_name} vs {new_name}",
                            "model": model_name,
                            "weight_precision": precision.value,
                            "input_tokens": shape[0],
                            "output_tokens": shape[1],
                            "batch": batch,
                            "inf1_instance": old_name,
                            "inf1_chips": old_hw.chips_per_instance,
                            "inf2_instance": new_name,
                            "inf2_chips": new_hw.chips_per_instance,
                        }
                        row.update(_side_fields("inf1", old, shape[1]))
                        row.update(_side_fields("inf2", new, shape[1]))
                        both = old.fits and new.fits
                        row["throughput_ratio"] = (
                            _ratio(row["inf2_output_tokens_per_s_per_chip"], row["inf1_output_tokens_per_s_per_chip"])
                            if both
                            else None
                        )
                        for metric in ("ttft", "tpot", "request_latency"):
                            row[f"{metric}_ratio"] = (
                                _ratio(row[f"inf1_{metric}_s"], row[f"inf2_{metric}_s"]) if both else None
                            )
                        rows.append(row)
    return rows


def _fit_rows(catalog: Catalog, grid: ServingGrid) -> list[Row]:
    """Chips needed just to hold each model's weights, per generation: Inf1's 8 GiB per chip in action."""
    old_name, new_name = grid.pairs[-1]
    rows: list[Row] = []
    for model_name in grid.models:
        model = get_model(model_name)
        for precision in grid.precisions:
            row: Row = {"kind": "fit", "model": model_name, "weight_precision": precision.value}
            for prefix, name in (("inf1", old_name), ("inf2", new_name)):
                hw = hardware_for(catalog, name)
                weights = weight_bytes_per_chip(model, 1, precision)
                row[f"{prefix}_weights_bytes"] = weights
                row[f"{prefix}_usable_bytes_per_chip"] = hw.usable_memory_bytes
                row[f"{prefix}_min_chips_for_weights"] = math.ceil(weights / hw.usable_memory_bytes)
            rows.append(row)
    return rows


def _case(r: Row) -> str:
    return (
        f"{r['model']} {r['weight_precision']} {r['input_tokens']}/{r['output_tokens']} tokens batch {r['batch']}, "
        f"{r['inf1_instance']} vs {r['inf2_instance']}"
    )


def _bounds_text(rows: Sequence[Row], key: str) -> str:
    counts = Counter(str(r[key]) for r in rows)
    return ", ".join(f"{name} {n}" for name, n in counts.most_common())


_SHARED_KEYS: tuple[tuple[str, str], ...] = (
    ("pair", "{}"),
    ("model", "{}"),
    ("weight_precision", "{} weights"),
    ("input_tokens", "{} tokens in"),
    ("output_tokens", "{} out"),
    ("batch", "batch {}"),
)


def _shared(rows: Sequence[Row]) -> str:
    """What every row of ``rows`` has in common among the grid's axes, as text ('' when nothing)."""
    parts = []
    for key, fmt in _SHARED_KEYS:
        values = {r[key] for r in rows}
        if len(values) == 1:
            parts.append(fmt.format(values.pop()))
    return ", ".join(parts)


def _group_text(rows: Sequence[Row], bound_key: str) -> str:
    shared = _shared(rows)
    text = f"all with {shared}; " if shared else ""
    return text + f"Inf1 bound by {_bounds_text(rows, bound_key)}"


def _inferentia_check(
    spec: Claim,
    sweep: Sequence[Row],
    ratio_key: str,
    bound_key: str,
    what: str,
    spec_rows: Sequence[Row],
    fit_rows: Sequence[Row],
    assumptions: tuple[str, ...],
    validated: bool,
) -> ClaimCheck:
    comparable = [r for r in sweep if r[ratio_key] is not None]
    no_fit = [r for r in sweep if not r["inf1_fits"]]
    ratios = [float(r[ratio_key]) for r in comparable]
    if not ratios:
        return ClaimCheck(
            id=spec.id,
            row_ids=spec.row_ids,
            subject=spec.subject,
            claim=spec.text,
            source=spec.source,
            claim_value=spec.value,
            model_value=None,
            unit=spec.unit,
            conditions="no case of the grid fits on both generations",
            verdict="not supported by published specs",
            verdict_detail="nothing to compare",
            evidence=(*spec_rows, *fit_rows, *sweep),
            assumptions=assumptions,
            validated=validated,
        )
    best = max(comparable, key=lambda r: float(r[ratio_key]))
    reached = [r for r in comparable if float(r[ratio_key]) >= spec.value]
    short = [r for r in comparable if float(r[ratio_key]) < spec.value]
    verdict = _ratio_verdict(ratios, spec.value)
    parts = [f"≥{spec.value:g}x in {len(reached)} of {len(comparable)} cases that fit both generations"]
    if reached:
        parts[0] += f" ({_group_text(reached, f'inf1_{bound_key}')})"
    if short:
        parts.append(
            f"below {spec.value:g}x ({_fmt_range([float(r[ratio_key]) for r in short])}) in {len(short)} cases "
            f"({_group_text(short, f'inf1_{bound_key}')})"
        )
    if no_fit:
        parts.append(f"{len(no_fit)} cases do not fit Inf1's 8 GiB per chip at all (no ratio)")
    bw = _spec(spec_rows, "memory bandwidth")
    flops = _spec(spec_rows, "bf16 dense peak")
    detail = (
        f"best {float(best[ratio_key]):.1f}x {what} ({_case(best)}); worst {min(ratios):.1f}x. "
        f"Spec ratios bound this: bf16 peak {_x(flops)} where compute-bound, memory bandwidth {_x(bw, 1)} where "
        f"memory-bound (Inf1: 8 GiB DRAM at 50 GiB/s per chip, so a 7B model needs several chips and each decode "
        f"step streams the weights from slow DRAM)."
    )
    return ClaimCheck(
        id=spec.id,
        row_ids=spec.row_ids,
        subject=spec.subject,
        claim=spec.text,
        source=spec.source,
        claim_value=spec.value,
        model_value=float(best[ratio_key]),
        unit=spec.unit,
        conditions="; ".join(parts),
        verdict=verdict,
        verdict_detail=detail,
        evidence=(*spec_rows, *fit_rows, *sweep),
        assumptions=assumptions,
        validated=validated,
    )


def check_inferentia(catalog: Catalog, grid: ServingGrid = SERVING_GRID) -> list[ClaimCheck]:
    """GT0166 (up to 4x throughput) and GT0167 (up to 10x lower latency), Inferentia2 vs Inferentia1."""
    old_chip = catalog.chip_of(grid.pairs[0][0])
    new_chip = catalog.chip_of(grid.pairs[0][1])
    spec_rows = _chip_spec_rows(old_chip, new_chip, (Precision.BF16, Precision.INT8))
    fit_rows = _fit_rows(catalog, grid)
    sweep = inferentia_sweep(catalog, grid)
    families = {f.name: f for f in (catalog.family_of(old_chip), catalog.family_of(new_chip))}.values()
    validated = all(f.validated for f in families)
    base = (
        "each side at its best tensor-parallel degree within one instance (a replica per tp chips); "
        "throughput compared per chip, latency per request (TTFT + (output − 1)·TPOT)",
        "int8 means int8-stored weights dequantized to bf16 matmuls (chipfleet's serving model)",
        "efficiency families " + ", ".join(sorted(_family_basis(f) for f in families)),
        "the blog states no workload; the grid spans decode-heavy and prefill-heavy LLM shapes only "
        "(no CNN/BERT encoders, which chipfleet's serving model does not cover)",
    )
    throughput = _inferentia_check(
        claim("inf2-throughput"),
        sweep,
        "throughput_ratio",
        "throughput_bound",
        "output tokens/s per chip",
        spec_rows,
        fit_rows,
        base,
        validated,
    )
    latency = _inferentia_check(
        claim("inf2-latency"),
        sweep,
        "request_latency_ratio",
        "latency_bound",
        "shorter request latency",
        spec_rows,
        fit_rows,
        base,
        validated,
    )
    ttft = [float(r["ttft_ratio"]) for r in sweep if r["ttft_ratio"] is not None]
    tpot = [float(r["tpot_ratio"]) for r in sweep if r["tpot_ratio"] is not None]
    if ttft and tpot:
        latency = replace(
            latency,
            verdict_detail=latency.verdict_detail
            + f" By phase: TTFT {_fmt_range(ttft)} shorter, TPOT {_fmt_range(tpot)} shorter.",
        )
    return _with_family_basis([throughput, latency], (old_chip, new_chip), catalog)


# --------------------------------------------------------------------------------------------- Trainium


def _with_tdp(catalog: Catalog, chip_name: str, watts_in_figure_unit: float) -> Catalog:
    """``catalog`` with one chip's TDP value replaced (same unit as the figure): for sensitivity only."""
    chip = catalog.chip(chip_name)
    tdp = chip.tdp.model_copy(update={"value": watts_in_figure_unit})
    chips = {**catalog.chips, chip.name: chip.model_copy(update={"tdp": tdp})}
    return replace(catalog, chips=chips)


def _common_region(catalog: Catalog, *instances: str) -> str | None:
    """A region where every instance has an on-demand price (same PUE and grid for a fair energy ratio)."""
    sets = [{p.region for p in catalog.instance(i).prices if p.pricing is Pricing.ON_DEMAND} for i in instances]
    common = sorted(set.intersection(*sets)) if sets else []
    return common[0] if common else None


def _train(
    catalog: Catalog, setup: TrainingSetup, instance: str, chips: int, tokens: float, region: str | None
) -> TrainingEstimate | str:
    per_instance = catalog.instance(instance).chips
    if chips % per_instance:
        return f"{chips} chips is not a whole number of {instance} ({per_instance} chips each)"
    try:
        return estimate_training(catalog, setup, instance, chips // per_instance, tokens, region=region)
    except (DoesNotFitError, ConfigError) as exc:  # ConfigError: e.g. no on-demand price to cost it with
        return str(exc)


def _train_fields(prefix: str, est: TrainingEstimate | str, tokens: float) -> Row:
    if isinstance(est, str):
        return {f"{prefix}_fits": False, f"{prefix}_why_not": est}
    s = est.step
    return {
        f"{prefix}_fits": True,
        f"{prefix}_instances": est.instances,
        f"{prefix}_parallelism": s.parallelism.describe(),
        f"{prefix}_tokens_per_s": s.tokens_per_s,
        f"{prefix}_mfu": s.mfu,
        f"{prefix}_bound": s.bound,
        f"{prefix}_s_per_million_tokens": est.time_s / tokens * 1e6,
        f"{prefix}_energy_kwh_per_million_tokens": est.footprint.energy_kwh / tokens * 1e6,
        f"{prefix}_avg_power_w_per_instance": est.footprint.avg_power_w,
    }


def _energy_per_token(est: TrainingEstimate | str, tokens: float) -> float | None:
    return None if isinstance(est, str) else est.footprint.energy_kwh / tokens


def trainium_sweep(catalog: Catalog, grid: TrainingGrid = TRAINING_GRID) -> list[Row]:
    """One row per model × chips × precision: both generations' estimates, the speed-up (tokens/s ratio) and
    the energy-efficiency ratio (energy per token, old ÷ new) at the catalog TDPs and at the ends of their
    spreads (the most and least favourable to the new chip)."""
    old_chip = catalog.chip_of(grid.old_instance)
    new_chip = catalog.chip_of(grid.new_instance)
    region = _common_region(catalog, grid.old_instance, grid.new_instance)
    favourable = unfavourable = None
    if old_chip.tdp.spread is not None and new_chip.tdp.spread is not None:
        (old_lo, old_hi), (new_lo, new_hi) = old_chip.tdp.spread, new_chip.tdp.spread
        favourable = _with_tdp(_with_tdp(catalog, old_chip.name, old_hi), new_chip.name, new_lo)
        unfavourable = _with_tdp(_with_tdp(catalog, old_chip.name, old_lo), new_chip.name, new_hi)
    rows: list[Row] = []
    for model_name in grid.models:
        model = get_model(model_name)
        for chips in grid.chips:
            for precision in grid.precisions:
                setup = TrainingSetup(model, seq_len=grid.seq_len, global_batch=grid.global_batch, precision=precision)
                tokens = float(grid.steps * grid.global_batch * grid.seq_len)
                old = _train(catalog, setup, grid.old_instance, chips, tokens, region)
                new = _train(catalog, setup, grid.new_instance, chips, tokens, region)
                row: Row = {
                    "kind": "training",
                    "model": model_name,
                    "chips": chips,
                    "precision": precision.value,
                    "seq_len": grid.seq_len,
                    "global_batch": grid.global_batch,
                    "region": region,
                    "trn1_instance": grid.old_instance,
                    "trn2_instance": grid.new_instance,
                }
                row.update(_train_fields("trn1", old, tokens))
                row.update(_train_fields("trn2", new, tokens))
                both = not isinstance(old, str) and not isinstance(new, str)
                row["speedup"] = _ratio(row.get("trn2_tokens_per_s"), row.get("trn1_tokens_per_s")) if both else None
                row["energy_efficiency_ratio"] = (
                    _ratio(_energy_per_token(old, tokens), _energy_per_token(new, tokens)) if both else None
                )
                for label, variant in (("tdp_favourable", favourable), ("tdp_unfavourable", unfavourable)):
                    value = None
                    if both and variant is not None:
                        old_v = _train(variant, setup, grid.old_instance, chips, tokens, region)
                        new_v = _train(variant, setup, grid.new_instance, chips, tokens, region)
                        value = _ratio(_energy_per_token(old_v, tokens), _energy_per_token(new_v, tokens))
                    row[f"energy_efficiency_ratio_{label}"] = value
                rows.append(row)
    return rows


def _precision_summary(rows: Sequence[Row], key: str, target: float) -> list[str]:
    """Per precision: the ratio range, and which cases reach ``target``."""
    out: list[str] = []
    for precision in dict.fromkeys(str(r["precision"]) for r in rows):
        mine = [r for r in rows if r["precision"] == precision and r[key] is not None]
        if not mine:
            continue
        values = [float(r[key]) for r in mine]
        hits = [r for r in mine if float(r[key]) >= target]
        if len(hits) == len(mine):
            where = "in every case"
        elif hits:
            where = "only for " + ", ".join(f"{r['model']} on {r['chips']} chips ({float(r[key]):.2f}x)" for r in hits)
        else:
            where = "in no case"
        out.append(f"{precision} on both: {_fmt_range(values)}, ≥{target:g}x {where}")
    return out


def check_trainium(catalog: Catalog, grid: TrainingGrid = TRAINING_GRID) -> list[ClaimCheck]:
    """GT0168 (up to 4x faster training) and GT0169 (up to 2x energy efficiency), Trainium2 vs Trainium1."""
    old_chip = catalog.chip_of(grid.old_instance)
    new_chip = catalog.chip_of(grid.new_instance)
    precisions = tuple(dict.fromkeys((Precision.BF16, Precision.FP8, *grid.precisions)))
    spec_rows = _chip_spec_rows(old_chip, new_chip, precisions)
    sweep = trainium_sweep(catalog, grid)
    families = {f.name: f for f in (catalog.family_of(old_chip), catalog.family_of(new_chip))}.values()
    families_validated = all(f.validated for f in families)
    tdp_estimated = [c for c in (old_chip, new_chip) if c.tdp.basis is Basis.ESTIMATE]
    not_fitting = [r for r in sweep if r["speedup"] is None]
    assumptions = (
        f"each case uses the fastest split chipfleet finds that fits ({grid.seq_len}-token sequences, "
        f"global batch {grid.global_batch}); fp8 training uses each chip's dense fp8 peak"
        + (
            f" ({old_chip.name} lists cFP8 at {old_chip.peak_dense[Precision.FP8].quoted()}, its bf16 rate)"
            if Precision.FP8 in old_chip.peak_dense
            else ""
        ),
        "energy per token = facility energy of the estimate's footprint (power model × time × PUE) ÷ tokens, "
        "both generations in the same region so PUE cancels",
        "efficiency families " + ", ".join(sorted(_family_basis(f) for f in families)),
        *(
            f"{c.name} TDP {c.tdp.quoted()} is an estimate (basis {c.tdp.basis.value}): {c.tdp.note}"
            for c in tdp_estimated
        ),
    )
    skipped = f"; {len(not_fitting)} cases do not fit one generation (no ratio)" if not_fitting else ""

    # --- speed
    speed_claim = claim("trn2-training-speed")
    speeds = [r for r in sweep if r["speedup"] is not None]
    spec_bf16 = _spec(spec_rows, "bf16 dense peak")
    spec_fp8 = _spec(spec_rows, "fp8 dense peak")
    if speeds:
        best = max(speeds, key=lambda r: float(r["speedup"]))
        speed_verdict = _ratio_verdict([float(r["speedup"]) for r in speeds], speed_claim.value)
        speed_value: float | None = float(best["speedup"])
        speed_conditions = "; ".join(_precision_summary(speeds, "speedup", speed_claim.value)) + skipped
        speed_detail = (
            f"best {speed_value:.2f}x ({best['model']}, {best['chips']} chips, {best['precision']}). Spec: dense "
            f"bf16 peak {_x(spec_bf16)}, fp8 {_x(spec_fp8)} (Trn2 fp8 vs Trn1 cFP8), memory bandwidth "
            f"{_x(_spec(spec_rows, 'memory bandwidth'))}, memory per chip {_x(_spec(spec_rows, 'memory per chip'), 1)}."
        )
        bf16_hits = [r for r in speeds if r["precision"] == "bf16" and float(r["speedup"]) >= speed_claim.value]
        if bf16_hits:
            speed_detail += f" Bf16 cases reaching {speed_claim.value:g}x, with the splits chosen: " + "; ".join(
                f"{r['model']} on {r['chips']} chips {float(r['speedup']):.2f}x (Trn1 {r['trn1_parallelism']}, "
                f"Trn2 {r['trn2_parallelism']})"
                for r in bf16_hits
            )
    else:
        speed_verdict, speed_value = "not supported by published specs", None
        speed_conditions, speed_detail = "no case of the grid fits both generations", "nothing to compare"
    speed = ClaimCheck(
        id=speed_claim.id,
        row_ids=speed_claim.row_ids,
        subject=speed_claim.subject,
        claim=speed_claim.text,
        source=speed_claim.source,
        claim_value=speed_claim.value,
        model_value=speed_value,
        unit=speed_claim.unit,
        conditions=speed_conditions,
        verdict=speed_verdict,
        verdict_detail=speed_detail,
        evidence=(*spec_rows, *sweep),
        assumptions=assumptions,
        validated=families_validated,
    )

    # --- energy efficiency
    energy_claim = claim("trn2-energy-efficiency")
    energies = [r for r in sweep if r["energy_efficiency_ratio"] is not None]
    tdp_ratio = _spec(spec_rows, "TDP")
    if energies:
        best_e = max(energies, key=lambda r: float(r["energy_efficiency_ratio"]))
        energy_verdict = _ratio_verdict([float(r["energy_efficiency_ratio"]) for r in energies], energy_claim.value)
        energy_value: float | None = float(best_e["energy_efficiency_ratio"])
        spread = [
            float(r[k])
            for r in energies
            for k in ("energy_efficiency_ratio_tdp_favourable", "energy_efficiency_ratio_tdp_unfavourable")
            if r[k] is not None
        ]
        spread_text = f"; over the TDP estimates' spreads every case lies in {_fmt_range(spread)}" if spread else ""
        energy_conditions = (
            "; ".join(_precision_summary(energies, "energy_efficiency_ratio", energy_claim.value))
            + spread_text
            + skipped
        )
        peak_per_w = None if spec_bf16 is None or tdp_ratio is None else spec_bf16 / tdp_ratio
        estimated = ", ".join(f"{c.name} {c.tdp.quoted()}" for c in tdp_estimated)
        energy_detail = (
            f"best {energy_value:.2f}x ({best_e['model']}, {best_e['chips']} chips, {best_e['precision']}) at the "
            f"catalog TDPs; spec bf16 peak per TDP watt {_x(peak_per_w)}. "
            + (
                f"AWS publishes no chip power: the TDPs ({estimated}) are chipfleet estimates, so this verdict "
                "rests on estimates."
                if tdp_estimated
                else "Both TDPs are published figures."
            )
        )
    else:
        energy_verdict, energy_value = "not supported by published specs", None
        energy_conditions, energy_detail = "no case of the grid fits both generations", "nothing to compare"
    energy = ClaimCheck(
        id=energy_claim.id,
        row_ids=energy_claim.row_ids,
        subject=energy_claim.subject,
        claim=energy_claim.text,
        source=energy_claim.source,
        claim_value=energy_claim.value,
        model_value=energy_value,
        unit=energy_claim.unit,
        conditions=energy_conditions,
        verdict=energy_verdict,
        verdict_detail=energy_detail,
        evidence=(*spec_rows, *sweep),
        assumptions=assumptions,
        validated=families_validated and not tdp_estimated,
    )
    return _with_family_basis([speed, energy], (old_chip, new_chip), catalog)


# --------------------------------------------------------------------------------------------- Ceiba


def _sparse_quotes(catalog: Catalog, chip: Chip, precision: Precision) -> list[tuple[str, float]]:
    """Sparse peaks quoted in the notes of ``chip``'s figure or of same-family chips with the same dense
    figure, as (chip name, value in the figure's unit)."""
    dense = chip.peak_dense.get(precision)
    if dense is None:
        return []
    found: list[tuple[str, float]] = []
    for other in catalog.chips.values():
        fig = other.peak_dense.get(precision)
        if other.family != chip.family or fig is None or fig.si != dense.si:
            continue
        m = _SPARSE_QUOTE.search(fig.note)
        if m:
            found.append((other.name, float(m.group(1).replace(",", ""))))
    return found


def ceiba_rows(catalog: Catalog, chip_name: str, count: int) -> list[Row]:
    """Total peak of ``count`` chips for every precision of the chip: dense, and 2:4-sparse where NVIDIA
    Tensor Cores have it (sparse = ``NVIDIA_SPARSITY_FACTOR`` × dense)."""
    chip = catalog.chip(chip_name)
    fam = catalog.family_of(chip)
    rows: list[Row] = []
    for precision, fig in chip.peak_dense.items():
        is_flops = precision not in (Precision.INT8, Precision.INT4)
        unit = "EFLOPS" if is_flops else "EOPS"
        quotes = _sparse_quotes(catalog, chip, precision)
        base: Row = {
            "kind": "peak",
            "chip": chip.name,
            "chips": count,
            "precision": precision.value,
            "per_chip": fig.quoted(),
            "per_chip_basis": fig.basis.value,
            "per_chip_note": fig.note,
            "unit": unit,
            "is_flops": is_flops,
        }
        rows.append({**base, "sparsity": "dense", "total_e": count * fig.si / 1e18})
        if chip.vendor == "nvidia" and precision in NVIDIA_SPARSE_PRECISIONS:
            implied = [value / fig.value for _, value in quotes]
            rows.append(
                {
                    **base,
                    "sparsity": "2:4 structured",
                    "total_e": count * fig.si * NVIDIA_SPARSITY_FACTOR / 1e18,
                    "sparse_quoted_in_catalog": "; ".join(f"{name}: {value:g}" for name, value in quotes) or None,
                    "sparse_over_dense_quoted": implied[0] if implied else None,
                }
            )
    bf16 = chip.peak_dense.get(Precision.BF16)
    if bf16 is not None:
        eta = fam.compute_efficiency
        rows.append(
            {
                "kind": "achievable",
                "chip": chip.name,
                "chips": count,
                "precision": Precision.BF16.value,
                "sparsity": "dense",
                "unit": "EFLOPS",
                "is_flops": True,
                "total_e": count * bf16.si * eta.si / 1e18,
                "per_chip": f"{bf16.quoted()} x {eta.si:.3g} ({fam.name} compute_efficiency, {eta.basis.value})",
                "per_chip_basis": eta.basis.value,
                "per_chip_note": eta.note,
            }
        )
    return rows


def check_ceiba(catalog: Catalog, chip_name: str = "gh200") -> ClaimCheck:
    """GT0170/GT0171: 16,384 GH200, about 65 AI exaflops: which precision and sparsity give that total."""
    spec = claim("ceiba-exaflops")
    count = spec.accelerator_count or 0
    rows = ceiba_rows(catalog, chip_name, count)
    peaks = [r for r in rows if r["kind"] == "peak"]
    target = spec.value
    matches = [r for r in peaks if r["is_flops"] and abs(float(r["total_e"]) / target - 1) <= ABOUT_TOLERANCE]
    closest = min((r for r in peaks if r["is_flops"]), key=lambda r: abs(float(r["total_e"]) - target), default=None)
    ops_matches = [r for r in peaks if not r["is_flops"] and abs(float(r["total_e"]) / target - 1) <= ABOUT_TOLERANCE]

    def label(r: Row) -> str:
        return f"{r['precision']} {r['sparsity']}"

    if not matches:
        verdict: Verdict = "not supported by published specs"
        conditions = f"no precision of {chip_name} gives {target:g} EFLOPS within {ABOUT_TOLERANCE:.0%}"
    elif any(r["sparsity"] == "dense" for r in matches):
        verdict = "holds"
        conditions = "dense " + ", ".join(label(r) for r in matches)
    else:
        verdict = "holds only when"
        conditions = (
            "counting "
            + " or ".join(label(r) for r in matches)
            + " sparsity peak FLOP/s (2:4 structured sparsity doubles the Tensor Core rate; a peak, not a "
            "sustained rate)"
        )
    dense_bf16 = next((r for r in peaks if r["precision"] == "bf16" and r["sparsity"] == "dense"), None)
    achievable = next((r for r in rows if r["kind"] == "achievable"), None)
    detail_parts = []
    if closest is not None:
        detail_parts.append(
            f"{count:,} x {closest['per_chip']} {label(closest)} = {float(closest['total_e']):.1f} {closest['unit']}"
        )
    if dense_bf16 is not None:
        detail_parts.append(f"dense bf16 gives {float(dense_bf16['total_e']):.1f} EFLOPS")
    if achievable is not None:
        detail_parts.append(
            f"dense bf16 at the family's achievable-GEMM fraction ({achievable['per_chip_basis']}) about "
            f"{float(achievable['total_e']):.1f} EFLOPS sustained"
        )
    if ops_matches:
        detail_parts.append("int8 sparse gives the same count in integer ops (EOPS), which are not FLOPS")
    chip = catalog.chip(chip_name)
    used = [chip.peak_dense[Precision(str(r["precision"]))] for r in matches or peaks]
    quote_rows = [r for r in peaks if r.get("sparse_over_dense_quoted") is not None]
    assumptions = (
        f"{count:,} chips from the claim row GT0171; per-chip dense peaks from the {chip_name} catalog record",
        f"2:4 structured sparsity = {NVIDIA_SPARSITY_FACTOR:g} x dense on NVIDIA Tensor Cores (chips.yaml: "
        "'NVIDIA datasheets quote 2:4-sparse Tensor figures'; the "
        + chip_name
        + " figures are noted 'w/o sparsity'"
        + (
            "; sparse figures quoted in catalog notes of the same family: "
            + "; ".join(f"{r['precision']} {r['sparse_quoted_in_catalog']}" for r in quote_rows)
            if quote_rows
            else ""
        )
        + ")",
        f"'about {target:g}' = within {ABOUT_TOLERANCE:.0%}",
    )
    return ClaimCheck(
        id=spec.id,
        row_ids=spec.row_ids,
        subject=spec.subject,
        claim=spec.text,
        source=spec.source,
        claim_value=target,
        model_value=None if closest is None else float(closest["total_e"]),
        unit=spec.unit,
        conditions=conditions,
        verdict=verdict,
        verdict_detail="; ".join(detail_parts),
        evidence=tuple(rows),
        assumptions=assumptions,
        validated=all(f.basis in (Basis.STATED, Basis.DERIVED) for f in used),
    )
