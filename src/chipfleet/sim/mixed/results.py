"""What a mixed-fleet simulation measured: both sides' results and the split of the fleet between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from chipfleet.sim.serving.results import ServeResult
from chipfleet.sim.training.results import ClusterResult

MIXED_COST_NOTE = (
    "fleet_cost_usd is every node for the whole span, split four ways: serving_cost_usd (nodes serving held), "
    "training_cost_usd (chips training jobs held: allocated chip-hours × the instance's price ÷ its chips), "
    "training_idle_chip_cost_usd (free chips of nodes training held) and idle_cost_usd (nodes nobody held)."
)


@dataclass(frozen=True)
class ShareReport:
    """Node-hours of one instance type by holder over the run, and training's chip-hours on its nodes."""

    instance: str
    nodes: int
    serving_node_h: float
    training_node_h: float  # nodes with at least one chip allocated to a training job
    idle_node_h: float  # nodes nobody held
    training_allocated_chip_h: float  # chips training jobs held (≤ training_node_h × chips per node)
    training_busy_chip_h: float  # of those, computing


@dataclass(frozen=True)
class MixedResult:
    """Both sides' metrics, the split of the fleet between them, and the fleet's cost and energy."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("cost_note",)

    sharing: str
    fleet: str
    span_s: float
    serve: ServeResult
    train: ClusterResult
    shares: tuple[ShareReport, ...]
    serving_cost_usd: float  # nodes serving held
    training_cost_usd: float  # chips training jobs held (allocated chip-hours × price per chip-hour)
    training_idle_chip_cost_usd: float  # free chips of the nodes training held
    idle_cost_usd: float  # nodes nobody held
    fleet_cost_usd: float  # every node, whole span: the four above
    fleet_energy_kwh: float
    resizes: int
    training_evictions: int  # jobs evicted to free nodes for serving
    target_ttft_s: float  # the p90 TTFT the controller holds serving to
    serving_nodes_over_time: tuple[tuple[float, int], ...] = field(repr=False)
    ttft_p90_over_time: tuple[tuple[float, float], ...] = field(repr=False, default=())  # per control interval
    fleet_co2_kg: float | None = None  # every node, whole span, at its region's grid intensity; None if unknown

    @property
    def cost_note(self) -> str:
        return MIXED_COST_NOTE
