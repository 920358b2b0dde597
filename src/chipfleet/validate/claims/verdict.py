"""A claim's structured verdict: the figure chipfleet computes, the verdict, the evidence rows, what it rests on.

Verdicts for "up to N×" claims over a grid of comparable cases (:func:`ratio_verdict`):

- ``holds``: every case reaches N×;
- ``holds only when``: some cases reach N× (the evidence rows say which);
- ``not supported by published specs``: no case reaches N× with the catalog's published figures.

The sentences that explain a verdict are the report's (:mod:`chipfleet.report.claims`), built from these records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from chipfleet.catalog import Catalog, Chip, EfficiencyFamily
from chipfleet.validate.claims.evidence import EvidenceRow
from chipfleet.validate.claims.published import Claim

Verdict = Literal["holds", "holds only when", "not supported by published specs"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)


@dataclass(frozen=True)
class FamilyStatus:
    """An efficiency family a verdict rests on that is not validated: the chips that use it and what it rests on
    instead (:meth:`Catalog.family_status`, e.g. "fitted on only 3 rows from 1 source, not cross-validated")."""

    family: str
    chips: tuple[str, ...]
    status: str


@dataclass(frozen=True)
class ClaimCheck:
    """One claim against chipfleet: the figure we compute, the verdict, and the evidence behind it.

    ``metric`` names the evidence attribute the verdict compares with ``claim_value`` (``throughput_ratio``,
    ``speedup``, ``total_e``, ...); ``model_value`` is its best value. ``validated`` is True only when every
    figure the verdict rests on is stated or derived by a source (no estimate such as an unpublished TDP) and
    every efficiency family it uses is fitted on measurements.
    """

    id: str
    row_ids: tuple[str, ...]
    subject: str
    claim: str
    source: str
    claim_value: float
    model_value: float | None
    unit: str
    verdict: Verdict
    metric: str
    evidence: tuple[EvidenceRow, ...] = field(default=())
    assumptions: tuple[str, ...] = field(default=())
    validated: bool = False
    uncalibrated: tuple[FamilyStatus, ...] = field(default=())

    @classmethod
    def of(
        cls,
        claim: Claim,
        *,
        model_value: float | None,
        verdict: Verdict,
        metric: str,
        evidence: Sequence[EvidenceRow],
        assumptions: tuple[str, ...],
        validated: bool,
    ) -> ClaimCheck:
        """The check of ``claim``: its published fields, then what chipfleet found."""
        return cls(
            id=claim.id,
            row_ids=claim.row_ids,
            subject=claim.subject,
            claim=claim.text,
            source=claim.source,
            claim_value=claim.value,
            model_value=model_value,
            unit=claim.unit,
            verdict=verdict,
            metric=metric,
            evidence=tuple(evidence),
            assumptions=assumptions,
            validated=validated,
        )


def ratio_verdict(ratios: Sequence[float], target: float) -> Verdict:
    """``holds`` when every ratio reaches ``target``, ``holds only when`` some do, else not supported."""
    reached = [r for r in ratios if r >= target]
    if not reached:
        return "not supported by published specs"
    if len(reached) == len(ratios):
        return "holds"
    return "holds only when"


def family_basis(family: EfficiencyFamily) -> str:
    """``family`` and what it rests on: "aws-neuron-v2 (validated)" or "aws-neuron-v3 (fitted on only 3 rows
    …)"; the wording is the catalog's (:meth:`EfficiencyFamily.calibration_status`)."""
    return f"{family.name} ({family.calibration_status() or 'validated'})"


def with_family_status(checks: Sequence[ClaimCheck], chips: Sequence[Chip], catalog: Catalog) -> list[ClaimCheck]:
    """``checks`` with every unvalidated efficiency family of ``chips`` in ``uncalibrated``."""
    names: dict[str, list[str]] = {}
    for chip in chips:
        names.setdefault(chip.family, []).append(chip.name)
    weak = tuple(
        FamilyStatus(family=name, chips=tuple(chip_names), status=status)
        for name, chip_names in names.items()
        if (status := catalog.family_status(name)) is not None
    )
    return [replace(c, uncalibrated=weak) for c in checks]
