"""Typed evidence rows behind a claim's verdict: spec comparisons, grid cases and peak totals.

Each row is a frozen record whose ``kind`` names its table ("spec", "fit", "sweep", "training", "peak",
"achievable"); its JSON keys are its attribute names (:func:`chipfleet.serialize.to_jsonable`), ``kind`` among them.
Quantities carry their unit in the name (``request_latency_s``, ``weights_bytes``); a ratio is None where a side
does not fit or the catalog lacks a figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from chipfleet.catalog import Chip, Figure, Precision

_KIND: tuple[str, ...] = ("kind",)


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``, or None when either is missing, not finite, or ``b`` is not positive."""
    if a is None or b is None or b <= 0 or not math.isfinite(a) or not math.isfinite(b):
        return None
    return a / b


@dataclass(frozen=True)
class SpecRow:
    """One spec comparison of two chips: both figures as the source quotes them, in SI, and new ÷ old."""

    kind: ClassVar[str] = "spec"
    __json_properties__: ClassVar[tuple[str, ...]] = _KIND

    quantity: str
    old_chip: str
    old: str | None
    old_si: float | None
    old_basis: str | None
    new_chip: str
    new: str | None
    new_si: float | None
    new_basis: str | None
    new_over_old: float | None

    @classmethod
    def of(cls, quantity: str, old: Chip, new: Chip, old_fig: Figure | None, new_fig: Figure | None) -> SpecRow:
        return cls(
            quantity=quantity,
            old_chip=old.name,
            old=None if old_fig is None else old_fig.quoted(),
            old_si=None if old_fig is None else old_fig.si,
            old_basis=None if old_fig is None else old_fig.basis.value,
            new_chip=new.name,
            new=None if new_fig is None else new_fig.quoted(),
            new_si=None if new_fig is None else new_fig.si,
            new_basis=None if new_fig is None else new_fig.basis.value,
            new_over_old=ratio(None if new_fig is None else new_fig.si, None if old_fig is None else old_fig.si),
        )


def chip_spec_rows(old: Chip, new: Chip, precisions: Iterable[Precision]) -> list[SpecRow]:
    """Dense peak per precision, memory bandwidth, memory per chip, chip-to-chip link and TDP, old vs new."""
    rows = [
        SpecRow.of(f"{p.value} dense peak", old, new, old.peak_dense.get(p), new.peak_dense.get(p)) for p in precisions
    ]
    rows.append(SpecRow.of("memory bandwidth", old, new, old.memory_bandwidth, new.memory_bandwidth))
    rows.append(SpecRow.of("memory per chip", old, new, old.memory, new.memory))
    rows.append(SpecRow.of("chip-to-chip link", old, new, old.link_bandwidth, new.link_bandwidth))
    rows.append(SpecRow.of("TDP", old, new, old.tdp, new.tdp))
    return rows


def spec(rows: Iterable[object], quantity: str) -> SpecRow | None:
    """The spec row of ``quantity`` among ``rows`` (any evidence), or None."""
    return next((r for r in rows if isinstance(r, SpecRow) and r.quantity == quantity), None)


def spec_ratio(rows: Iterable[object], quantity: str) -> float | None:
    """new ÷ old of the spec row of ``quantity``, or None."""
    row = spec(rows, quantity)
    return None if row is None else row.new_over_old


# --------------------------------------------------------------------------------------------- serving


@dataclass(frozen=True)
class WeightsFit:
    """Chips one instance type needs just to hold a model's weights."""

    instance: str
    weights_bytes: float
    usable_bytes_per_chip: float
    min_chips_for_weights: int


@dataclass(frozen=True)
class FitRow:
    """A model's weights against each generation's memory per chip (Inf1's 8 GiB in action)."""

    kind: ClassVar[str] = "fit"
    __json_properties__: ClassVar[tuple[str, ...]] = _KIND

    model: str
    weight_precision: str
    inf1: WeightsFit
    inf2: WeightsFit


@dataclass(frozen=True)
class ServingSide:
    """One instance's best configuration for a grid case: by output tokens/s per chip (throughput) and by request
    latency ``TTFT + (output − 1)·TPOT``; all None when the model does not fit."""

    instance: str
    chips: int
    fits: bool
    tp_for_throughput: int | None = None
    output_tokens_per_s_per_chip: float | None = None
    output_tokens_per_s_per_instance: float | None = None
    throughput_bound: str | None = None
    tp_for_latency: int | None = None
    ttft_s: float | None = None
    tpot_s: float | None = None
    request_latency_s: float | None = None
    latency_bound: str | None = None


@dataclass(frozen=True)
class SweepRow:
    """One case of the Inferentia grid: each side's best configuration and the Inf2 ÷ Inf1 ratios (throughput per
    chip; latency ratios are Inf1 time ÷ Inf2 time)."""

    kind: ClassVar[str] = "sweep"
    __json_properties__: ClassVar[tuple[str, ...]] = _KIND

    pair: str
    model: str
    weight_precision: str
    input_tokens: int
    output_tokens: int
    batch: int
    inf1: ServingSide
    inf2: ServingSide
    throughput_ratio: float | None
    ttft_ratio: float | None
    tpot_ratio: float | None
    request_latency_ratio: float | None


# --------------------------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainingSide:
    """One generation's training estimate for a grid case, per million tokens; ``why_not`` when it does not fit."""

    instance: str
    fits: bool
    why_not: str | None = None
    instances: int | None = None
    parallelism: str | None = None
    tokens_per_s: float | None = None
    mfu: float | None = None
    bound: str | None = None
    s_per_million_tokens: float | None = None
    energy_kwh_per_million_tokens: float | None = None
    avg_power_w_per_instance: float | None = None


@dataclass(frozen=True)
class TrainingRow:
    """One model × chips × precision case of the Trainium grid: the speed-up (tokens/s, new ÷ old) and the
    energy-efficiency ratio (energy per token, old ÷ new) at the catalog TDPs and at the ends of their spreads."""

    kind: ClassVar[str] = "training"
    __json_properties__: ClassVar[tuple[str, ...]] = _KIND

    model: str
    chips: int
    precision: str
    seq_len: int
    global_batch: int
    region: str | None
    trn1: TrainingSide
    trn2: TrainingSide
    speedup: float | None
    energy_efficiency_ratio: float | None
    energy_efficiency_ratio_tdp_favourable: float | None
    energy_efficiency_ratio_tdp_unfavourable: float | None


# --------------------------------------------------------------------------------------------- peaks


@dataclass(frozen=True)
class PeakRow:
    """Total peak of ``chips`` chips in one precision and sparsity, in exa-units (``total_e``, EFLOPS or EOPS)."""

    kind: ClassVar[str] = "peak"
    __json_properties__: ClassVar[tuple[str, ...]] = _KIND

    chip: str
    chips: int
    precision: str
    sparsity: str  # "dense" or "2:4 structured"
    unit: str  # "EFLOPS" or "EOPS" (integer formats)
    is_flops: bool
    total_e: float
    per_chip: str
    per_chip_basis: str
    per_chip_note: str
    sparse_quoted_in_catalog: str | None = None
    sparse_over_dense_quoted: float | None = None

    @property
    def label(self) -> str:
        return f"{self.precision} {self.sparsity}"


@dataclass(frozen=True)
class AchievableRow(PeakRow):
    """Dense total at the family's achievable-GEMM fraction (compute_efficiency): a sustained, not a peak, rate."""

    kind: ClassVar[str] = "achievable"


EvidenceRow = SpecRow | FitRow | SweepRow | TrainingRow | PeakRow
"""Any evidence row (AchievableRow is a PeakRow)."""


R = TypeVar("R")


def rows_of(rows: Sequence[object], kind: type[R]) -> list[R]:
    """The rows of exactly type ``kind`` (an AchievableRow is not taken for a PeakRow)."""
    return [r for r in rows if isinstance(r, kind) and type(r) is kind]
