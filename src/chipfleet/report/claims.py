"""Rich tables for headline-claim checks (:mod:`chipfleet.validate.claims.check`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from chipfleet.report import units as u
from chipfleet.validate.claims.check import ClaimCheck, Row

_VERDICT_STYLE = {
    "holds": "green",
    "holds only when": "yellow",
    "not supported by published specs": "red",
}

# Columns shown per evidence kind (all keys of the row are in the JSON output).
EVIDENCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "spec": ("quantity", "old_chip", "old", "old_basis", "new_chip", "new", "new_basis", "new_over_old"),
    "fit": (
        "model",
        "weight_precision",
        "inf1_weights_bytes",
        "inf1_min_chips_for_weights",
        "inf2_min_chips_for_weights",
    ),
    "sweep": (
        "pair",
        "model",
        "weight_precision",
        "input_tokens",
        "output_tokens",
        "batch",
        "inf1_output_tokens_per_s_per_chip",
        "inf2_output_tokens_per_s_per_chip",
        "throughput_ratio",
        "inf1_request_latency_s",
        "inf2_request_latency_s",
        "request_latency_ratio",
        "ttft_ratio",
        "tpot_ratio",
        "inf1_throughput_bound",
    ),
    "training": (
        "model",
        "chips",
        "precision",
        "trn1_tokens_per_s",
        "trn2_tokens_per_s",
        "speedup",
        "trn1_energy_kwh_per_million_tokens",
        "trn2_energy_kwh_per_million_tokens",
        "energy_efficiency_ratio",
        "energy_efficiency_ratio_tdp_unfavourable",
        "energy_efficiency_ratio_tdp_favourable",
        "trn1_parallelism",
        "trn2_parallelism",
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
            escape(c.conditions),
            _verdict(c) + "\n" + escape(c.verdict_detail),
        )
    return t


def _cell(key: str, value: Any) -> str:
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
    """The evidence rows of one ``kind`` ('spec', 'sweep', 'training', 'peak', ...), or None if none."""
    rows: list[Row] = [r for r in check.evidence if r.get("kind") == kind]
    if not rows:
        return None
    if columns is None:
        columns = EVIDENCE_COLUMNS.get(kind) or tuple(k for k in rows[0] if k != "kind")
    t = Table(title=f"{check.id}: {kind} evidence ({len(rows)} rows)")
    for col in columns:
        t.add_column(col.replace("_", " "), overflow="fold")
    for r in rows:
        t.add_row(*(_cell(col, r.get(col)) for col in columns))
    return t


def evidence_tables(check: ClaimCheck) -> list[Table]:
    """One table per kind of evidence row in ``check``, in the order the kinds first appear."""
    kinds = list(dict.fromkeys(str(r.get("kind")) for r in check.evidence))
    tables = [evidence_table(check, k) for k in kinds]
    return [t for t in tables if t is not None]
