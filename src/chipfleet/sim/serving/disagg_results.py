"""What a disaggregated serving simulation measured: frozen records (JSON: :func:`chipfleet.serialize.to_jsonable`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from chipfleet.sim.metrics import LogHistogram


@dataclass(frozen=True)
class PoolReport:
    """One pool: its layout, its workers' KV room, and how busy its chips were over the run."""

    role: str  # "prefill" or "decode"
    instance: str
    instances: int
    region: str | None
    workers: int
    tp: int
    ep: int
    dp_attention: bool
    max_seqs: int
    max_batch_tokens: int
    kv_capacity_tokens: int  # per worker
    requests: int  # prefilled (prefill pool) or decoded to the end (decode pool)
    utilization: float  # busy chip-seconds ÷ (chips × span)
    utilization_series: list[float]  # per window, the pool's mean
    # per window, the most requests waiting: prefill, in the workers' queues not yet admitted; decode, prefilled and
    # waiting for KV room on their decode worker
    queue_series: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class LinkReport:
    """The KV-cache link between the pools (:func:`chipfleet.perf.kv_transfer.kv_link`) and its traffic; each
    prefill worker's share of it is a FIFO server of ``bytes_per_s``."""

    kind: str
    description: str
    bytes_per_s: float
    latency_s: float
    transfers: int
    bytes_moved: float
    transfer_s: dict[str, float]  # from the decode worker's reservation to the cache landing: link queue + transfer
    utilization: float  # Σ transfer seconds ÷ (prefill workers × span)
    utilization_series: list[float] = field(default_factory=list)  # per window: transfer seconds ÷ (workers × window)


@dataclass(frozen=True)
class DisaggResult:
    """A disaggregated run: latency as aggregated serving measures it, both pools, the link, cost and energy."""

    __json_omit__: ClassVar[tuple[str, ...]] = ("histograms",)
    __json_properties__: ClassVar[tuple[str, ...]] = ("cost_usd_per_million_tokens",)

    model: str
    trace: str
    prefill: str  # the pool's spec text
    decode: str
    router: str
    seed: int
    requests: int
    completed: int
    rejected: int
    span_s: float
    ttft_s: dict[str, float]
    tpot_s: dict[str, float]
    e2e_s: dict[str, float]
    queue_wait_s: dict[str, float]  # joining a prefill worker's queue to first admission into its batch
    decode_wait_s: dict[str, float]  # prompt done to a decode worker's KV room reserved
    slo_attainment: float | None
    output_tokens_per_s: float
    requests_per_s: float
    pools: tuple[PoolReport, ...]
    link: LinkReport
    window_s: float
    cost_usd: float
    energy_kwh: float  # facility energy: each node's IT energy × its region's PUE
    pue: float
    events: int
    co2_kg: float | None = None
    beyond_context: int = 0
    context_window_tokens: int = 0
    notes: tuple[str, ...] = ()  # assumptions the run had to make (e.g. the pools' regions)
    histograms: dict[str, LogHistogram] = field(repr=False, compare=False, default_factory=dict)

    @property
    def cost_usd_per_million_tokens(self) -> float | None:
        """``cost_usd / (output tokens) × 10⁶`` (None when nothing was generated)."""
        return self.cost_usd / (self.output_tokens_per_s * self.span_s) * 1e6 if self.output_tokens_per_s else None
