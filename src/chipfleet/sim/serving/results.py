"""What a serving simulation measured: frozen result records (their JSON is :func:`chipfleet.serialize.to_jsonable`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from chipfleet.sim.metrics import LogHistogram


# ----------------------------------------------------------------------------- the run
@dataclass(frozen=True)
class TypeReport:
    instance: str
    replicas: int
    tp: int
    kv_capacity_tokens: int
    completed: int
    ttft_s: dict[str, float]
    tpot_s: dict[str, float]
    e2e_s: dict[str, float]
    utilization: float
    slo_attainment: float | None
    preemptions: int


@dataclass(frozen=True)
class ServeResult:
    """What a serving simulation measured; the histograms stay available for plots (not in the JSON)."""

    __json_omit__: ClassVar[tuple[str, ...]] = ("histograms",)
    __json_properties__: ClassVar[tuple[str, ...]] = ("cost_usd_per_million_tokens",)

    model: str
    trace: str
    fleet: str
    router: str
    seed: int
    requests: int
    completed: int
    rejected: int
    span_s: float
    ttft_s: dict[str, float]
    tpot_s: dict[str, float]
    e2e_s: dict[str, float]
    queue_wait_s: dict[str, float]  # arrival to first admission into a batch
    slo_attainment: float | None
    output_tokens_per_s: float
    requests_per_s: float
    preemptions: int
    prefix_hit_tokens: int
    by_type: tuple[TypeReport, ...]
    utilization_series: dict[str, list[float]]
    queue_series: list[float]
    # per window: mean TTFT of the requests whose first token came in it, mean TPOT of those that finished in it
    # (None: no such request)
    ttft_series: list[float | None]
    tpot_series: list[float | None]
    window_s: float
    cost_usd: float
    energy_kwh: float  # facility energy: each node's IT energy × its region's PUE
    pue: float  # facility ÷ IT energy over the fleet (the region's PUE when every node is in one)
    events: int
    histograms: dict[str, LogHistogram] = field(repr=False, compare=False, default_factory=dict)
    beyond_context: int = 0  # refused on arrival: prompt + output longer than the model's context window
    context_window_tokens: int = 0  # the model's context window (max_position_embeddings)
    co2_kg: float | None = None  # of energy_kwh at each node's region's grid intensity; None when one is unknown

    @property
    def cost_usd_per_million_tokens(self) -> float | None:
        """``cost_usd / (output tokens) × 10⁶`` (None when nothing was generated)."""
        return self.cost_usd / (self.output_tokens_per_s * self.span_s) * 1e6 if self.output_tokens_per_s else None
