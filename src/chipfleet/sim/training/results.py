"""What a training-cluster simulation measured: frozen result records, whose JSON is
:func:`chipfleet.serialize.to_jsonable`'s; the books behind them are :mod:`chipfleet.sim.training.accounting`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from chipfleet.serialize import to_jsonable
from chipfleet.sim.training.throughput import ThroughputMatrix

COST_NOTE = (
    "cost_usd counts what jobs hold: allocated chip-hours × the instance's price ÷ its chips (restart "
    "penalties and the unused chips of a multi-instance job's last instance included); idle capacity is not "
    "charged to jobs but reported apart: held_idle_cost_usd (free chips of instances jobs held) and "
    "unused_cost_usd (instances no job held); fleet_cost_usd = all three = every instance for the whole span. "
    "Energy counts every instance (idle chips at idle power)."
)


@dataclass(frozen=True)
class Distribution:
    """Summary of a sample of seconds (NaN when empty)."""

    count: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: NDArray[np.float64]) -> Distribution:
        if values.size == 0:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan)
        p50, p90, p99 = np.percentile(values, [50, 90, 99])
        return cls(int(values.size), float(values.mean()), float(p50), float(p90), float(p99), float(values.max()))


@dataclass(frozen=True)
class TypeUsage:
    """One instance type over the span."""

    instance: str
    instances: int
    chips: int
    custom_silicon: bool
    relative_speed: float
    busy_chip_s: float  # chips computing
    allocated_chip_s: float  # chips held by jobs (incl. restarts and a multi-instance job's surplus chips)
    held_instance_s: float  # instances with at least one chip allocated
    held_idle_chip_s: float  # chips of held instances that no job held: held × chips per instance − allocated
    utilization: float  # busy chip-seconds / (chips × span)
    allocated_share: float  # allocated chip-seconds / (chips × span)
    held_share: float  # held instance-seconds / (instances × span)
    work_ref_chip_s: float  # busy chip-seconds × relative speed
    runs_started: int
    pue: float
    energy_kwh: float  # every instance of the type over the span
    cost_usd: float  # allocated chip-hours × price per chip-hour: what the jobs are charged
    held_idle_cost_usd: float  # idle chips of held instances
    unused_cost_usd: float  # instances no job held
    fleet_cost_usd: float  # every instance over the span = cost + held idle + unused
    utilization_over_time: tuple[float, ...]
    co2_kg: float | None = None  # every instance over the span, at its region's grid intensity


@dataclass(frozen=True)
class Unplaceable:
    """Jobs refused at submission because no instance type of the fleet has as many chips as they ask for.

    A job runs on one instance type: on one node when it fits on one, else on whole nodes of that type, so the
    most chips one job can hold is the largest type's total (``most_chips_per_job``, on ``most_chips_type``).
    A job asking for more can never start, however long it waits; it is counted here, never run.
    """

    jobs: int  # refused at submission
    total_jobs: int  # jobs in the trace
    largest_request_chips: int  # the trace's largest request (0 for an empty trace)
    largest_node_chips: int  # chips of the fleet's largest instance
    largest_node_type: str  # its type
    most_chips_per_job: int  # the largest type's total chips
    most_chips_type: str  # that type

    __json_properties__: ClassVar[tuple[str, ...]] = ("note",)

    @property
    def every_job(self) -> bool:
        """True when the trace has jobs and none of them can be placed."""
        return self.total_jobs > 0 and self.jobs == self.total_jobs

    def _what(self) -> str:
        if self.every_job:
            who = "the trace's one job asks" if self.jobs == 1 else f"all {self.jobs:,} jobs ask"
        else:
            who = f"{self.jobs:,} of the {self.total_jobs:,} jobs {'asks' if self.jobs == 1 else 'ask'}"
        return f"{who} for more chips than the fleet can give one job"

    def _why(self) -> str:
        return (
            f"the largest asks for {self.largest_request_chips:,} chips, and a job runs on one instance type, of "
            f"which the most chips are {self.most_chips_per_job:,} (on {self.most_chips_type}; the largest "
            f"instance, {self.largest_node_type}, has {self.largest_node_chips:,})"
        )

    @property
    def note(self) -> str:
        """One sentence on the refused jobs ('' when there are none)."""
        if self.jobs == 0:
            return ""
        refused = "it was" if self.jobs == 1 else "they were"
        return f"{self._what()}, so {refused} refused at submission and never run: {self._why()}"

    def error(self) -> str:
        """The message when no job can be placed: what, why and how to fix."""
        return f"nothing to simulate: {self._what()}: {self._why()}; {self.advice()}"

    def advice(self) -> str:
        """How to place them: enough instances of a type, or leave the large jobs out."""
        need = -(-self.largest_request_chips // max(self.largest_node_chips, 1))
        return (
            f"give one instance type at least {self.largest_request_chips:,} chips (e.g. "
            f"{self.largest_node_type}:{need} in the fleet) or leave the large jobs out of the trace"
        )


@dataclass(frozen=True)
class ClusterResult:
    """What one training-cluster simulation measured. Per-job arrays are indexed like the trace; its JSON
    (:func:`chipfleet.serialize.to_jsonable`) leaves them out, :func:`per_job_json` keeps them."""

    __json_omit__: ClassVar[tuple[str, ...]] = ("first_start_s", "finish_s", "last_type")
    __json_properties__: ClassVar[tuple[str, ...]] = ("rejected",)

    trace: str
    policy: str
    seed: int
    jobs: int
    completed: int
    unplaceable: Unplaceable  # jobs refused at submission: more chips than any type of the fleet has
    unfinished: int
    preemptions: int
    span_s: float
    makespan_s: float  # last completion (NaN when none completed)
    jct_s: Distribution  # completion − submission, completed jobs
    queueing_s: Distribution  # first start − submission, started jobs
    window_s: float
    types: tuple[TypeUsage, ...]
    utilization: float  # all types, busy chip-seconds / chip-seconds
    busy_chip_s: float  # all types
    allocated_chip_s: float  # all types
    allocated_share: float  # all types, allocated chip-seconds / chip-seconds
    cost_usd: float  # allocated chips only (see ``cost_note``)
    held_idle_cost_usd: float
    unused_cost_usd: float
    fleet_cost_usd: float  # every instance for the whole span
    cost_note: str
    energy_kwh: float
    pue_note: str
    chip_hours: float  # busy chip-hours, all types
    custom_silicon_chip_share: float  # share of busy chip-hours on aws/google/microsoft chips
    custom_silicon_work_share: float  # share of reference-normalised work on them
    work_ref_chip_h: float
    events: int
    matrix: ThroughputMatrix
    first_start_s: NDArray[np.float64] = field(repr=False)
    finish_s: NDArray[np.float64] = field(repr=False)
    last_type: NDArray[np.int64] = field(repr=False)  # index into ``types``; -1 never started
    co2_kg: float | None = None  # the fleet's, at each node's region's grid intensity; None when one is unknown

    @property
    def rejected(self) -> int:
        """Jobs refused at submission (every refused job is unplaceable: see :class:`Unplaceable`)."""
        return self.unplaceable.jobs


def per_job_json(result: ClusterResult) -> dict[str, Any]:
    """The result's JSON-safe data with the per-job arrays (first start, finish, last type; null when a job
    never started or finished)."""
    out: dict[str, Any] = to_jsonable(result)
    out.update(
        to_jsonable({"first_start_s": result.first_start_s, "finish_s": result.finish_s, "last_type": result.last_type})
    )
    return out
