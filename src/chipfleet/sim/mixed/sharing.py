"""Sharing policies: how many replicas serving should hold, and which instance types it takes first.

A policy sees a :class:`SharingState` every control interval and answers a :class:`SharingDecision`; the
registry (``register_sharing`` / ``get_sharing`` / ``list_sharing``) names them. The rule the built-in
policies share is :func:`latency_target`.

Policies:

``partition``
    fixed split: serving keeps the nodes it starts with (``serve_fleet``), training has the rest.
``serving-first``
    serving scales to hold its latency target and preempts training whenever it needs more; training fills
    whatever serving leaves, preemptibly. Serving grows onto the type that serves the most tokens per dollar.
``cost-aware``
    the same rule, but training is evicted only when requests back up (more waiting than open replicas: the
    latency SLO is at risk, not merely tight), and each type goes to the side with the comparative
    advantage: serving takes the types whose serving throughput per unit of training speed is highest, and
    gives back the others first.

The rule (:func:`latency_target`) works on the p90 time to first token of the requests that got their
first token in the last interval, ``T90``, against ``target_ttft_s``. Above it, and with the p90 of the
delay load added (each request's TTFT minus its TTFT alone on its replica: queueing and batching
interference) at least ``load_share`` of the target, serving wants ``R + ⌈R/4⌉`` replicas (``R`` open
now): more replicas cut that delay, not a type's own prefill time, so a TTFT floor set by slow hardware
does not make serving swallow the fleet. Backlogged, it wants ``R + ⌈R/2⌉``; below
``shrink_below × target_ttft_s`` (or with no traffic) it gives back one node; in between it holds (the band
is the hysteresis). Serving grows by whole nodes until it has the replicas it wants and shrinks one node per
interval, never below ``min_serving_nodes``. Latency, not the busy share, drives it: decode streams the
weights every iteration, so a replica with any request at all is memory-busy nearly all the time
(``SharingState.utilization`` reports that share anyway).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from chipfleet.registry import Registry


@dataclass(frozen=True)
class TypeValue:
    """What one node of a type is worth to each side: serving output tokens/s (replicas × decode rate at a
    batch of 32 mid-length requests), training reference-seconds of work per second (chips × relative speed),
    and its price."""

    name: str
    serve_tokens_per_s: float
    train_speed: float
    price_usd_per_h: float


@dataclass(frozen=True)
class SharingState:
    """What a sharing policy sees at a control tick."""

    now_s: float
    serving_nodes: int  # open (routed to)
    serving_replicas: int  # on the open nodes
    ttft_p90_s: float  # of first tokens in the last interval; NaN when there were none
    excess_p90_s: float  # TTFT minus TTFT alone, same requests; NaN when none
    utilization: float  # busy (compute or memory) share of the open replicas over the last interval
    waiting_requests: int
    waiting_jobs: int
    free_nodes: int
    target_ttft_s: float
    shrink_below: float
    load_share: float


@dataclass(frozen=True)
class SharingDecision:
    target_serving_replicas: int
    may_evict_training: bool


class SharingPolicy(Protocol):
    name: str

    def type_order(self, values: list[TypeValue]) -> list[str]:
        """Instance types in the order serving should take them (it gives them back in reverse)."""
        ...

    def decide(self, state: SharingState) -> SharingDecision | None:
        """Serving's node target now; None: never resize (a fixed partition)."""
        ...


SharingFactory = Callable[[], SharingPolicy]
S = TypeVar("S", bound=SharingFactory)

SHARING: Registry[SharingFactory] = Registry("sharing policy")
"""Every sharing policy by name; ``get_sharing`` builds one, ``register_sharing`` adds one."""


def register_sharing(name: str, *, description: str | None = None) -> Callable[[S], S]:
    """Register a sharing policy under ``name`` (lower case, no spaces: names are looked up
    case-insensitively; the description defaults to the docstring's first paragraph); a second registration
    is refused."""
    add = SHARING.register(name, description=description)

    def deco(factory: S) -> S:
        add(factory)
        return factory

    return deco


def get_sharing(name: str) -> SharingPolicy:
    """The sharing policy registered as ``name``; case-insensitive, surrounding spaces ignored, and a miss
    says which registered names are close."""
    return SHARING.get(name)()


def list_sharing() -> list[str]:
    """Every sharing policy name, sorted (``SHARING.entries()`` gives their descriptions too)."""
    return SHARING.names()


def backlogged(state: SharingState) -> bool:
    """More requests queued than there are open replicas. A request that arrives mid-iteration waits for
    the next one under continuous batching, so a few waiting requests are normal at any load."""
    return state.waiting_requests > state.serving_replicas


def latency_target(state: SharingState) -> int:
    """Replicas wanted (see the module docstring): ``R + ⌈R/2⌉`` backlogged, ``R + ⌈R/4⌉`` over the TTFT
    target because of load, ``R − 1`` (one node back) under ``shrink_below`` of it or idle, else ``R``."""
    r = state.serving_replicas
    if backlogged(state):
        return r + max(1, math.ceil(r / 2))
    p90 = state.ttft_p90_s
    if math.isnan(p90):
        return r - 1 if state.waiting_requests == 0 else r
    if p90 > state.target_ttft_s:
        loaded = state.excess_p90_s >= state.load_share * state.target_ttft_s
        return r + max(1, math.ceil(r / 4)) if loaded else r
    if p90 < state.shrink_below * state.target_ttft_s:
        return r - 1
    return r


@register_sharing(
    "partition",
    description="Fixed split: serving keeps the nodes it starts with, training has the rest.",
)
class Partition:
    name = "partition"

    def type_order(self, values: list[TypeValue]) -> list[str]:
        return [v.name for v in values]

    def decide(self, state: SharingState) -> SharingDecision | None:
        return None


@register_sharing(
    "serving-first",
    description="Serving scales to hold its latency target, preempting training whenever it needs more; "
    "it grows onto the type that serves the most tokens per dollar.",
)
class ServingFirst:
    name = "serving-first"

    def type_order(self, values: list[TypeValue]) -> list[str]:
        return [v.name for v in sorted(values, key=lambda v: (-v.serve_tokens_per_s / v.price_usd_per_h, v.name))]

    def decide(self, state: SharingState) -> SharingDecision | None:
        return SharingDecision(latency_target(state), may_evict_training=True)


@register_sharing(
    "cost-aware",
    description="Serving scales to hold its latency target but evicts training only when requests back up; "
    "each type goes to the side with the comparative advantage.",
)
class CostAware:
    name = "cost-aware"

    def type_order(self, values: list[TypeValue]) -> list[str]:
        # A type training cannot use (train_speed 0) has an infinite serving advantage: it goes first.
        def advantage(v: TypeValue) -> float:
            return v.serve_tokens_per_s / v.train_speed if v.train_speed > 0 else math.inf

        return [v.name for v in sorted(values, key=lambda v: (-advantage(v), v.name))]

    def decide(self, state: SharingState) -> SharingDecision | None:
        return SharingDecision(latency_target(state), may_evict_training=backlogged(state))
