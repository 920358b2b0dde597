"""Headline-claim checks for people: the sentences that explain each verdict, and rich tables of the checks and
their evidence (:mod:`chipfleet.validate.claims`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from chipfleet.catalog import Basis
from chipfleet.report import units as u
from chipfleet.serialize import to_jsonable
from chipfleet.validate.claims import AchievableRow, ClaimCheck, PeakRow, SweepRow, TrainingRow
from chipfleet.validate.claims.evidence import rows_of, spec, spec_ratio
from chipfleet.validate.claims.peaks import ABOUT_TOLERANCE, about

_VERDICT_STYLE = {
    "holds": "green",
    "holds only when": "yellow",
    "not supported by published specs": "red",
}

# Columns shown per evidence kind, as attribute paths (every attribute of a row is in the JSON output).
EVIDENCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "spec": ("quantity", "old_chip", "old", "old_basis", "new_chip", "new", "new_basis", "new_over_old"),
    "fit": (
        "model",
        "weight_precision",
        "inf1.weights_bytes",
        "inf1.min_chips_for_weights",
        "inf2.min_chips_for_weights",
    ),
    "sweep": (
        "pair",
        "model",
        "weight_precision",
        "input_tokens",
        "output_tokens",
        "batch",
        "inf1.output_tokens_per_s_per_chip",
        "inf2.output_tokens_per_s_per_chip",
        "throughput_ratio",
        "inf1.request_latency_s",
        "inf2.request_latency_s",
        "request_latency_ratio",
        "ttft_ratio",
        "tpot_ratio",
        "inf1.throughput_bound",
    ),
    "training": (
        "model",
        "chips",
        "precision",
        "trn1.tokens_per_s",
        "trn2.tokens_per_s",
        "speedup",
        "trn1.energy_kwh_per_million_tokens",
        "trn2.energy_kwh_per_million_tokens",
        "energy_efficiency_ratio",
        "energy_efficiency_ratio_tdp_unfavourable",
        "energy_efficiency_ratio_tdp_favourable",
        "trn1.parallelism",
        "trn2.parallelism",
    ),
    "peak": ("precision", "sparsity", "chips", "per_chip", "per_chip_basis", "total_e", "unit"),
    "achievable": ("precision", "sparsity", "chips", "per_chip", "per_chip_basis", "total_e", "unit"),
}

_RATIO_KEYS = ("ratio", "speedup", "new_over_old")


def _verdict(check: ClaimCheck) -> str:
    style = _VERDICT_STYLE.get(check.verdict, "")
    text = escape(check.verdict)
    if check.validated:
        mark = ""
    elif check.uncalibrated:
        mark = "\n[dim](uncalibrated family: see below)[/dim]"
    else:
        mark = "\n[dim](unvalidated: rests on estimates)[/dim]"
    return (f"[{style}]{text}[/{style}]" if style else text) + mark


def _figure(check: ClaimCheck) -> str:
    unit = check.unit
    claimed = f"{check.claim_value:g}{unit}" if unit == "x" else f"{check.claim_value:g} {unit}"
    if check.model_value is None:
        return f"— (claim {claimed})"
    ours = f"{check.model_value:.2f}{unit}" if unit == "x" else f"{check.model_value:.1f} {unit}"
    return f"{ours}\n[dim](claim {claimed})[/dim]"


def claims_table(checks: Sequence[ClaimCheck]) -> Table:
    """One row per claim: the claim, chipfleet's figure, where it holds, and the verdict."""
    t = Table(title="Headline claims against chipfleet's catalog and model", show_lines=True)
    t.add_column("claim", overflow="fold", ratio=2)
    t.add_column("chipfleet", justify="right", no_wrap=True)
    t.add_column("conditions", overflow="fold", ratio=4)
    t.add_column("verdict", overflow="fold", ratio=2)
    for c in checks:
        rows = ", ".join(c.row_ids)
        t.add_row(
            f"[bold]{escape(c.subject)}[/bold]\n{escape(c.claim)}\n[dim]{escape(rows)}[/dim]",
            _figure(c),
            escape(conditions(c)),
            _verdict(c) + "\n" + escape(verdict_detail(c)),
        )
    return t


def _get(row: object, path: str) -> Any:
    """``row``'s value at a dotted attribute path (``inf1.request_latency_s``); None where there is none."""
    value: Any = row
    for name in path.split("."):
        value = getattr(value, name, None)
    return value


def _cell(path: str, value: Any) -> str:
    key = path.rsplit(".", 1)[-1]
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if any(key.endswith(k) for k in _RATIO_KEYS) or "_ratio_" in key:
            return f"{value:.2f}x"
        if key.endswith("_bytes") or key.endswith("_bytes_per_chip"):
            return u.gigabytes(value)
        if "_per_s" in key:
            return f"{value:,.0f}"
        if key.endswith("_s"):
            return u.duration(value)
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return escape(str(value))


def evidence_table(check: ClaimCheck, kind: str, columns: Sequence[str] | None = None) -> Table | None:
    """The evidence rows of one ``kind`` ('spec', 'sweep', 'training', 'peak', ...), or None if none.
    ``columns`` are attribute paths (``inf1.request_latency_s``); the default is :data:`EVIDENCE_COLUMNS`."""
    rows = [r for r in check.evidence if r.kind == kind]
    if not rows:
        return None
    if columns is None:
        columns = EVIDENCE_COLUMNS[kind]
    t = Table(title=f"{check.id}: {kind} evidence ({len(rows)} rows)")
    for col in columns:
        t.add_column(col.replace("_", " "), overflow="fold")
    for r in rows:
        t.add_row(*(_cell(col, _get(r, col)) for col in columns))
    return t


def evidence_tables(check: ClaimCheck) -> list[Table]:
    """One table per kind of evidence row in ``check``, in the order the kinds first appear."""
    kinds = list(dict.fromkeys(r.kind for r in check.evidence))
    tables = [evidence_table(check, k) for k in kinds]
    return [t for t in tables if t is not None]


# --------------------------------------------------------------------------------------------- verdict prose
# The sentences that say where a claim holds and why, built from a check's structured verdict and evidence.


def _x(value: float | None, digits: int = 2) -> str:
    """A ratio as text: '3.51x', or 'n/a' where the catalog lacks a figure."""
    return "n/a" if value is None else f"{value:.{digits}f}x"


def _fmt_range(values: Sequence[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.2f}x" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}x"


def _value(row: object, metric: str) -> float | None:
    value = getattr(row, metric, None)
    return None if value is None else float(value)


# Inferentia: per judged ratio, the Inf1 bound that explains it and what the ratio measures.
_SERVING_TERMS: dict[str, tuple[str, str]] = {
    "throughput_ratio": ("throughput_bound", "output tokens/s per chip"),
    "request_latency_ratio": ("latency_bound", "shorter request latency"),
}

_SHARED_AXES: tuple[tuple[str, str], ...] = (
    ("pair", "{}"),
    ("model", "{}"),
    ("weight_precision", "{} weights"),
    ("input_tokens", "{} tokens in"),
    ("output_tokens", "{} out"),
    ("batch", "batch {}"),
)


def _case(r: SweepRow) -> str:
    return (
        f"{r.model} {r.weight_precision} {r.input_tokens}/{r.output_tokens} tokens batch {r.batch}, "
        f"{r.inf1.instance} vs {r.inf2.instance}"
    )


def _group_text(rows: Sequence[SweepRow], bound: str) -> str:
    """What every row of ``rows`` has in common among the grid's axes, and the Inf1 bounds among them."""
    parts = []
    for key, fmt in _SHARED_AXES:
        values = {getattr(r, key) for r in rows}
        if len(values) == 1:
            parts.append(fmt.format(values.pop()))
    shared = ", ".join(parts)
    counts = Counter(str(getattr(r.inf1, bound)) for r in rows)
    bounds = ", ".join(f"{name} {n}" for name, n in counts.most_common())
    return (f"all with {shared}; " if shared else "") + f"Inf1 bound by {bounds}"


def _serving_prose(check: ClaimCheck) -> tuple[str, str]:
    sweep = rows_of(check.evidence, SweepRow)
    bound, what = _SERVING_TERMS[check.metric]
    comparable = [r for r in sweep if _value(r, check.metric) is not None]
    if not comparable:
        return "no case of the grid fits on both generations", "nothing to compare"
    target = check.claim_value
    ratios = [_value(r, check.metric) or 0.0 for r in comparable]
    best = max(comparable, key=lambda r: _value(r, check.metric) or 0.0)
    reached = [r for r, x in zip(comparable, ratios, strict=True) if x >= target]
    short = [r for r, x in zip(comparable, ratios, strict=True) if x < target]
    no_fit = [r for r in sweep if not r.inf1.fits]
    parts = [f"≥{target:g}x in {len(reached)} of {len(comparable)} cases that fit both generations"]
    if reached:
        parts[0] += f" ({_group_text(reached, bound)})"
    if short:
        parts.append(
            f"below {target:g}x ({_fmt_range([x for x in ratios if x < target])}) in {len(short)} cases "
            f"({_group_text(short, bound)})"
        )
    if no_fit:
        parts.append(f"{len(no_fit)} cases do not fit Inf1's 8 GiB per chip at all (no ratio)")
    detail = (
        f"best {max(ratios):.1f}x {what} ({_case(best)}); worst {min(ratios):.1f}x. "
        f"Spec ratios bound this: bf16 peak {_x(spec_ratio(check.evidence, 'bf16 dense peak'))} where "
        f"compute-bound, memory bandwidth {_x(spec_ratio(check.evidence, 'memory bandwidth'), 1)} where "
        f"memory-bound (Inf1: 8 GiB DRAM at 50 GiB/s per chip, so a 7B model needs several chips and each decode "
        f"step streams the weights from slow DRAM)."
    )
    ttft = [r.ttft_ratio for r in sweep if r.ttft_ratio is not None]
    tpot = [r.tpot_ratio for r in sweep if r.tpot_ratio is not None]
    if check.metric == "request_latency_ratio" and ttft and tpot:
        detail += f" By phase: TTFT {_fmt_range(ttft)} shorter, TPOT {_fmt_range(tpot)} shorter."
    return "; ".join(parts), detail


def _precision_summary(rows: Sequence[TrainingRow], metric: str, target: float) -> list[str]:
    """Per precision: the ratio range, and which cases reach ``target``."""
    out: list[str] = []
    for precision in dict.fromkeys(r.precision for r in rows):
        mine = [(r, x) for r in rows if r.precision == precision and (x := _value(r, metric)) is not None]
        if not mine:
            continue
        hits = [(r, x) for r, x in mine if x >= target]
        if len(hits) == len(mine):
            where = "in every case"
        elif hits:
            where = "only for " + ", ".join(f"{r.model} on {r.chips} chips ({x:.2f}x)" for r, x in hits)
        else:
            where = "in no case"
        out.append(f"{precision} on both: {_fmt_range([x for _, x in mine])}, ≥{target:g}x {where}")
    return out


def _training_prose(check: ClaimCheck) -> tuple[str, str]:
    sweep = rows_of(check.evidence, TrainingRow)
    cases = [(r, x) for r in sweep if (x := _value(r, check.metric)) is not None]
    if not cases:
        return "no case of the grid fits both generations", "nothing to compare"
    target = check.claim_value
    not_fitting = sum(1 for r in sweep if r.speedup is None)
    skipped = f"; {not_fitting} cases do not fit one generation (no ratio)" if not_fitting else ""
    best, best_x = max(cases, key=lambda c: c[1])
    bf16 = spec_ratio(check.evidence, "bf16 dense peak")
    conditions = "; ".join(_precision_summary([r for r, _ in cases], check.metric, target))
    if check.metric == "speedup":
        detail = (
            f"best {best_x:.2f}x ({best.model}, {best.chips} chips, {best.precision}). Spec: dense bf16 peak "
            f"{_x(bf16)}, fp8 {_x(spec_ratio(check.evidence, 'fp8 dense peak'))} (Trn2 fp8 vs Trn1 cFP8), memory "
            f"bandwidth {_x(spec_ratio(check.evidence, 'memory bandwidth'))}, memory per chip "
            f"{_x(spec_ratio(check.evidence, 'memory per chip'), 1)}."
        )
        bf16_hits = [(r, x) for r, x in cases if r.precision == "bf16" and x >= target]
        if bf16_hits:
            detail += f" Bf16 cases reaching {target:g}x, with the splits chosen: " + "; ".join(
                f"{r.model} on {r.chips} chips {x:.2f}x (Trn1 {r.trn1.parallelism}, Trn2 {r.trn2.parallelism})"
                for r, x in bf16_hits
            )
        return conditions + skipped, detail
    spread = [
        x
        for r, _ in cases
        for x in (r.energy_efficiency_ratio_tdp_favourable, r.energy_efficiency_ratio_tdp_unfavourable)
        if x is not None
    ]
    spread_text = f"; over the TDP estimates' spreads every case lies in {_fmt_range(spread)}" if spread else ""
    tdp = spec(check.evidence, "TDP")
    tdp_ratio = None if tdp is None else tdp.new_over_old
    peak_per_w = None if bf16 is None or tdp_ratio is None else bf16 / tdp_ratio
    estimated = []
    if tdp is not None:
        estimated = [
            f"{chip} {quoted}"
            for chip, quoted, basis in ((tdp.old_chip, tdp.old, tdp.old_basis), (tdp.new_chip, tdp.new, tdp.new_basis))
            if basis == Basis.ESTIMATE.value
        ]
    detail = (
        f"best {best_x:.2f}x ({best.model}, {best.chips} chips, {best.precision}) at the catalog TDPs; spec bf16 "
        f"peak per TDP watt {_x(peak_per_w)}. "
        + (
            f"AWS publishes no chip power: the TDPs ({', '.join(estimated)}) are chipfleet estimates, so this "
            "verdict rests on estimates."
            if estimated
            else "Both TDPs are published figures."
        )
    )
    return conditions + spread_text + skipped, detail


def _peak_prose(check: ClaimCheck) -> tuple[str, str]:
    rows = check.evidence
    peaks = rows_of(rows, PeakRow)
    target = check.claim_value
    chip = peaks[0].chip if peaks else "the chip"
    matches = [r for r in peaks if r.is_flops and about(r, target)]
    if not matches:
        conditions = f"no precision of {chip} gives {target:g} EFLOPS within {ABOUT_TOLERANCE:.0%}"
    elif any(r.sparsity == "dense" for r in matches):
        conditions = "dense " + ", ".join(r.label for r in matches)
    else:
        conditions = (
            "counting "
            + " or ".join(r.label for r in matches)
            + " sparsity peak FLOP/s (2:4 structured sparsity doubles the Tensor Core rate; a peak, not a "
            "sustained rate)"
        )
    closest = min((r for r in peaks if r.is_flops), key=lambda r: abs(r.total_e - target), default=None)
    dense_bf16 = next((r for r in peaks if r.precision == "bf16" and r.sparsity == "dense"), None)
    achievable = next(iter(rows_of(rows, AchievableRow)), None)
    parts = []
    if closest is not None:
        parts.append(f"{closest.chips:,} x {closest.per_chip} {closest.label} = {closest.total_e:.1f} {closest.unit}")
    if dense_bf16 is not None:
        parts.append(f"dense bf16 gives {dense_bf16.total_e:.1f} EFLOPS")
    if achievable is not None:
        parts.append(
            f"dense bf16 at the family's achievable-GEMM fraction ({achievable.per_chip_basis}) about "
            f"{achievable.total_e:.1f} EFLOPS sustained"
        )
    if any(not r.is_flops and about(r, target) for r in peaks):
        parts.append("int8 sparse gives the same count in integer ops (EOPS), which are not FLOPS")
    return conditions, "; ".join(parts)


_PROSE: dict[str, Callable[[ClaimCheck], tuple[str, str]]] = {
    "throughput_ratio": _serving_prose,
    "request_latency_ratio": _serving_prose,
    "speedup": _training_prose,
    "energy_efficiency_ratio": _training_prose,
    "total_e": _peak_prose,
}
"""The prose of a check, by the metric its verdict compares."""


def conditions(check: ClaimCheck) -> str:
    """Where the claim holds in the model: which cases reach the claimed figure, per grid axis or precision."""
    return _PROSE[check.metric](check)[0]


def uncalibrated_sentence(check: ClaimCheck) -> str:
    """ "Uncalibrated: aws-neuron-v3 (trainium2): fitted on only 3 rows from 1 source, not cross-validated. ", or ""
    when every family the verdict rests on is validated."""
    if not check.uncalibrated:
        return ""
    weak = "; ".join(f"{u.family} ({', '.join(u.chips)}): {u.status}" for u in check.uncalibrated)
    return f"Uncalibrated: {weak}. "


def verdict_detail(check: ClaimCheck) -> str:
    """Why the verdict: the best case, the spec ratios that bound it, and first the unvalidated families it rests
    on (:func:`uncalibrated_sentence`)."""
    return uncalibrated_sentence(check) + _PROSE[check.metric](check)[1]


def claim_json(check: ClaimCheck) -> dict[str, Any]:
    """``check`` as JSON-ready data (:func:`chipfleet.serialize.to_jsonable`) with its ``conditions`` and
    ``verdict_detail`` sentences."""
    data: dict[str, Any] = to_jsonable(check)
    data["conditions"] = conditions(check)
    data["verdict_detail"] = verdict_detail(check)
    return data
