"""What a serving plan is asked for: the latency SLOs, the constraints on instances, and the objective."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from chipfleet.catalog import Precision, Pricing
from chipfleet.exceptions import ConfigError

FLEET_QUANTILE = 0.9  # the SLOs are fleet-level p90s: the replay judges the p90 over all requests
TAIL_SHARE = 0.02  # share of requests the plan may serve best effort (each counted as missing the SLOs)


class DisaggMode(StrEnum):
    """Whether a plan splits prefill and decode onto separate pools: ``off`` aggregated replicas only, ``on``
    disaggregated only, ``auto`` both, the cheaper (or lower-energy) that meets the p90 SLOs in the replay."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


class ServeObjective(StrEnum):
    COST = "cost"
    ENERGY = "energy"


@dataclass(frozen=True)
class ServeSLO:
    """p90 time to first token and p90 time per output token, in seconds."""

    ttft_p90_s: float
    tpot_p90_s: float

    def __post_init__(self) -> None:
        for name, v in (("ttft_p90_s", self.ttft_p90_s), ("tpot_p90_s", self.tpot_p90_s)):
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(
                    f"{name} must be a positive duration in seconds, e.g. 1 or 0.05; got {v!r}", field=name
                )


@dataclass(frozen=True)
class ServeConstraints:
    """What the planner may use. Empty tuples mean: everything that fits."""

    instances: tuple[str, ...] = ()
    clouds: tuple[str, ...] = ()
    region: str | None = None  # None: each instance type at its cheapest region for ``pricing``
    pricing: Pricing = Pricing.ON_DEMAND
    precisions: tuple[Precision, ...] = (Precision.BF16,)
    tp: tuple[int, ...] = ()  # chips per replica; empty: every degree that holds the model
    max_seqs: tuple[int, ...] = (256,)  # sequence limits per replica to consider (vLLM's default is 256)
    max_batch_tokens: int = 8192
    max_instances_per_type: int = 512

    def __post_init__(self) -> None:
        if not self.precisions:
            raise ConfigError("precisions must name at least one precision", field="precisions")
        if not self.max_seqs or any(m < 1 for m in self.max_seqs):
            raise ConfigError("max_seqs values must be positive integers, e.g. (64, 256)", field="max_seqs")
        if any(t < 1 for t in self.tp):
            raise ConfigError("tp values must be positive integers", field="tp")
        if self.max_batch_tokens < 16:
            raise ConfigError("max_batch_tokens must be at least 16", field="max_batch_tokens")
        if self.max_instances_per_type < 1:
            raise ConfigError("max_instances_per_type must be at least 1", field="max_instances_per_type")


def planning_quantile(tail_share: float) -> float:
    """The latency percentile each bucket served within the SLOs is planned at, ``1 − (0.1 − s)/(1 − s)``.

    The replay judges the fleet's p90: at most 10 % of all requests may exceed an SLO. When a share ``s`` of
    the requests is served best effort (each counted as a miss), the other ``1 − s`` may miss at most
    ``0.1 − s`` of all requests, i.e. a ``(0.1 − s)/(1 − s)`` share of their own: with ``s`` = 2 % they are
    planned at their p91.8. ``s`` = 0 gives the p90.
    """
    miss = 1.0 - FLEET_QUANTILE
    if not (math.isfinite(tail_share) and 0.0 <= tail_share < miss):
        raise ConfigError(
            f"tail_share, the best-effort share, must be in [0, {miss:g}), got {tail_share!r}", field="tail_share"
        )
    return 1.0 - (miss - tail_share) / (1.0 - tail_share)
