"""Routers of a disaggregated deployment (a registry): which prefill worker prefills a request, and which decode
worker decodes it once its prompt is done."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from chipfleet.registry import Registry


@dataclass
class PoolView:
    """What a disaggregated router may read of one pool, per worker (kept current by the simulator, as arrays so
    a choice costs microseconds however many workers there are)."""

    outstanding: NDArray[np.int64]  # requests routed to the worker and not yet gone from it
    outstanding_tokens: NDArray[np.int64]  # their tokens still to run: prompt tokens (prefill), output (decode)
    kv_capacity_tokens: NDArray[np.int64]
    kv_free_tokens: NDArray[np.int64]  # capacity less what its requests hold or have reserved

    def __len__(self) -> int:
        return len(self.outstanding)


class DisaggRouter(Protocol):
    def prefill(self, input_tokens: int, output_tokens: int, view: PoolView, rng: np.random.Generator) -> int:
        """Index of the prefill worker to send an arriving request to."""
        ...

    def decode(self, input_tokens: int, output_tokens: int, view: PoolView, rng: np.random.Generator) -> int:
        """Index of the decode worker to send a prefilled request to."""
        ...


DisaggRouterFactory = Callable[..., DisaggRouter]
R = TypeVar("R", bound=DisaggRouterFactory)

DISAGG_ROUTERS: Registry[DisaggRouterFactory] = Registry("disaggregated router")
"""Every router of prefill and decode workers by name (``simulate serve --prefill ... --router``)."""


def register_disagg_router(name: str, *, description: str | None = None) -> Callable[[R], R]:
    """Class decorator: register a disaggregated router under ``name`` (the description defaults to the
    docstring's first paragraph); a taken name is refused."""
    add = DISAGG_ROUTERS.register(name, description=description)

    def deco(factory: R) -> R:
        add(factory)
        return factory

    return deco


def make_disagg_router(name: str, **options: object) -> DisaggRouter:
    """A new disaggregated router registered as ``name`` (case-insensitive)."""
    return DISAGG_ROUTERS.get(name)(**options)


def _least(values: NDArray[np.int64]) -> int:
    return int(np.argmin(values))


@register_disagg_router("round-robin")
@dataclass
class DisaggRoundRobin:
    """Each prefill worker in turn, and each decode worker in turn, whatever their load."""

    _prefill: int = 0
    _decode: int = 0

    def prefill(self, input_tokens: int, output_tokens: int, view: PoolView, rng: np.random.Generator) -> int:
        self._prefill += 1
        return (self._prefill - 1) % len(view)

    def decode(self, input_tokens: int, output_tokens: int, view: PoolView, rng: np.random.Generator) -> int:
        self._decode += 1
        return (self._decode - 1) % len(view)


@register_disagg_router("load-aware")
@dataclass
class LoadAware:
    """The prefill worker with the fewest prompt tokens still to prefill, the decode worker with the fewest
    requests (ties: lowest index), as Dynamo's and llm-d's load scorers do."""

    def prefill(self, input_tokens: int, output_tokens: int, view: PoolView, rng: np.random.Generator) -> int:
        return _least(view.outstanding_tokens)

    def decode(self, input_tokens: int, output_tokens: int, view: PoolView, rng: np.random.Generator) -> int:
        return _least(view.outstanding)


@register_disagg_router("kv-aware")
@dataclass
class KvAware:
    """The prefill worker with the fewest prompt tokens still to prefill, the decode worker with the most free KV
    cache (ties: fewer requests, then lowest index), so a long request lands where it fits soonest."""

    def prefill(self, input_tokens: int, output_tokens: int, view: PoolView, rng: np.random.Generator) -> int:
        return _least(view.outstanding_tokens)

    def decode(self, input_tokens: int, output_tokens: int, view: PoolView, rng: np.random.Generator) -> int:
        best = view.kv_free_tokens.max()
        return _least(np.where(view.kv_free_tokens == best, view.outstanding, np.iinfo(np.int64).max))
