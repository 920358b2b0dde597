"""Project Ceiba (GT0170/GT0171: 16,384 GH200, about 65 AI exaflops): which precision and sparsity give that
total, from the catalog's per-chip peaks."""

from __future__ import annotations

import re
from dataclasses import replace

from chipfleet.catalog import Basis, Catalog, Chip, Precision
from chipfleet.validate.claims.evidence import AchievableRow, PeakRow, rows_of
from chipfleet.validate.claims.published import claim
from chipfleet.validate.claims.verdict import ClaimCheck, Verdict

# "About 65" exaflops: a total within 5 % of the claim reproduces it (the next precision is 2x away).
ABOUT_TOLERANCE = 0.05
# NVIDIA datasheets quote Tensor Core peaks with 2:4 structured sparsity at twice the dense rate; the
# catalog stores dense peaks (chips.yaml header; the Hopper figure notes quote the sparse numbers).
NVIDIA_SPARSITY_FACTOR = 2.0
# Hopper formats that run on Tensor Cores and so have a 2:4-sparse mode (FP32 is the CUDA-core rate).
NVIDIA_SPARSE_PRECISIONS = frozenset({Precision.TF32, Precision.BF16, Precision.FP16, Precision.FP8, Precision.INT8})
_SPARSE_QUOTE = re.compile(r"quotes\s+([0-9][0-9,.]*)\s+with sparsity", re.IGNORECASE)


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


def ceiba_rows(catalog: Catalog, chip_name: str, count: int) -> list[PeakRow]:
    """Total peak of ``count`` chips for every precision of the chip: dense, and 2:4-sparse where NVIDIA
    Tensor Cores have it (sparse = ``NVIDIA_SPARSITY_FACTOR`` × dense); then dense bf16 at the family's
    achievable-GEMM fraction (an :class:`AchievableRow`)."""
    chip = catalog.chip(chip_name)
    fam = catalog.family_of(chip)
    rows: list[PeakRow] = []
    for precision, fig in chip.peak_dense.items():
        is_flops = precision not in (Precision.INT8, Precision.INT4)
        dense = PeakRow(
            chip=chip.name,
            chips=count,
            precision=precision.value,
            sparsity="dense",
            unit="EFLOPS" if is_flops else "EOPS",
            is_flops=is_flops,
            total_e=count * fig.si / 1e18,
            per_chip=fig.quoted(),
            per_chip_basis=fig.basis.value,
            per_chip_note=fig.note,
        )
        rows.append(dense)
        if chip.vendor == "nvidia" and precision in NVIDIA_SPARSE_PRECISIONS:
            quotes = _sparse_quotes(catalog, chip, precision)
            implied = [value / fig.value for _, value in quotes]
            rows.append(
                replace(
                    dense,
                    sparsity="2:4 structured",
                    total_e=count * fig.si * NVIDIA_SPARSITY_FACTOR / 1e18,
                    sparse_quoted_in_catalog="; ".join(f"{name}: {value:g}" for name, value in quotes) or None,
                    sparse_over_dense_quoted=implied[0] if implied else None,
                )
            )
    bf16 = chip.peak_dense.get(Precision.BF16)
    if bf16 is not None:
        eta = fam.compute_efficiency
        rows.append(
            AchievableRow(
                chip=chip.name,
                chips=count,
                precision=Precision.BF16.value,
                sparsity="dense",
                unit="EFLOPS",
                is_flops=True,
                total_e=count * bf16.si * eta.si / 1e18,
                per_chip=f"{bf16.quoted()} x {eta.si:.3g} ({fam.name} compute_efficiency, {eta.basis.value})",
                per_chip_basis=eta.basis.value,
                per_chip_note=eta.note,
            )
        )
    return rows


def about(row: PeakRow, target: float) -> bool:
    """Whether ``row``'s total is "about" ``target``: within :data:`ABOUT_TOLERANCE`."""
    return abs(row.total_e / target - 1) <= ABOUT_TOLERANCE


def check_ceiba(catalog: Catalog, chip_name: str = "gh200") -> ClaimCheck:
    """GT0170/GT0171: 16,384 GH200, about 65 AI exaflops: which precision and sparsity give that total.

    ``holds`` when a dense FLOPS peak gives it, ``holds only when`` only a sparse one does; ``model_value`` is
    the FLOPS total closest to the claim."""
    spec = claim("ceiba-exaflops")
    count = spec.accelerator_count or 0
    rows = ceiba_rows(catalog, chip_name, count)
    peaks = rows_of(rows, PeakRow)
    target = spec.value
    matches = [r for r in peaks if r.is_flops and about(r, target)]
    closest = min((r for r in peaks if r.is_flops), key=lambda r: abs(r.total_e - target), default=None)
    verdict: Verdict
    if not matches:
        verdict = "not supported by published specs"
    elif any(r.sparsity == "dense" for r in matches):
        verdict = "holds"
    else:
        verdict = "holds only when"
    chip = catalog.chip(chip_name)
    used = [chip.peak_dense[Precision(r.precision)] for r in matches or peaks]
    quote_rows = [r for r in peaks if r.sparse_over_dense_quoted is not None]
    assumptions = (
        f"{count:,} chips from the claim row GT0171; per-chip dense peaks from the {chip_name} catalog record",
        f"2:4 structured sparsity = {NVIDIA_SPARSITY_FACTOR:g} x dense on NVIDIA Tensor Cores (chips.yaml: "
        "'NVIDIA datasheets quote 2:4-sparse Tensor figures'; the "
        + chip_name
        + " figures are noted 'w/o sparsity'"
        + (
            "; sparse figures quoted in catalog notes of the same family: "
            + "; ".join(f"{r.precision} {r.sparse_quoted_in_catalog}" for r in quote_rows)
            if quote_rows
            else ""
        )
        + ")",
        f"'about {target:g}' = within {ABOUT_TOLERANCE:.0%}",
    )
    return ClaimCheck.of(
        spec,
        model_value=None if closest is None else closest.total_e,
        verdict=verdict,
        metric="total_e",
        evidence=rows,
        assumptions=assumptions,
        validated=all(f.basis in (Basis.STATED, Basis.DERIVED) for f in used),
    )
