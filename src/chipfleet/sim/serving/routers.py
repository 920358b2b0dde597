"""Request routers (a registry): which replica serves an arriving request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from chipfleet.exceptions import ConfigError
from chipfleet.registry import Registry


@dataclass
class FleetView:
    """What a router may read: per replica, its instance type, load and KV-cache size (kept current by the
    simulator, as arrays so a router costs microseconds however many replicas there are)."""

    instance: list[str]
    outstanding: NDArray[np.int64]  # requests queued or running; + CLOSED while a replica takes none
    kv_capacity_tokens: NDArray[np.int64]

    # A replica closed to new requests (draining, or its node lent to training) carries this offset on its
    # count, so routers that pick the least loaded never pick it while an open one exists.
    CLOSED: ClassVar[int] = 1 << 40

    def is_open(self, i: int) -> bool:
        return bool(self.outstanding[i] < self.CLOSED)

    def __len__(self) -> int:
        return len(self.instance)


class Router(Protocol):
    def choose(self, input_tokens: int, output_tokens: int, view: FleetView, rng: np.random.Generator) -> int:
        """Index of the replica to send the request to."""
        ...


RouterFactory = Callable[..., Router]
R = TypeVar("R", bound=RouterFactory)

ROUTERS: Registry[RouterFactory] = Registry("router")
"""Every request router by name; ``make_router`` builds one, ``register_router`` adds one."""


def register_router(name: str, *, description: str | None = None) -> Callable[[R], R]:
    """Class decorator: register a router factory under ``name`` (lower case: names are looked up
    case-insensitively; the description defaults to the docstring's first paragraph); a taken name is refused."""
    add = ROUTERS.register(name, description=description)

    def deco(factory: R) -> R:
        add(factory)
        return factory

    return deco


def make_router(name: str, **options: object) -> Router:
    """A new router registered as ``name``; names are case-insensitive and surrounding spaces are ignored."""
    return ROUTERS.get(name)(**options)


def list_routers() -> list[str]:
    """Every router name, sorted (``ROUTERS.entries()`` gives their descriptions too)."""
    return ROUTERS.names()


@register_router("round-robin")
@dataclass
class RoundRobin:
    """Each replica in turn, whatever its load."""

    _next: int = 0

    def choose(self, input_tokens: int, output_tokens: int, view: FleetView, rng: np.random.Generator) -> int:
        n = len(view)
        for _ in range(n):
            i = self._next % n
            self._next += 1
            if view.is_open(i):
                return i
        return int(np.argmin(view.outstanding))


@register_router("least-outstanding")
@dataclass
class LeastOutstanding:
    """The replica with the fewest requests queued or running (ties: lowest index)."""

    def choose(self, input_tokens: int, output_tokens: int, view: FleetView, rng: np.random.Generator) -> int:
        return int(np.argmin(view.outstanding))


@register_router("power-of-two")
@dataclass
class PowerOfTwo:
    """Two replicas at random, the less loaded of them (Mitzenmacher 2001)."""

    def choose(self, input_tokens: int, output_tokens: int, view: FleetView, rng: np.random.Generator) -> int:
        n = len(view)
        if n == 1:
            return 0
        a = int(rng.integers(n))
        b = int(rng.integers(n - 1))
        b += b >= a
        pick = a if view.outstanding[a] <= view.outstanding[b] else b
        return pick if view.is_open(pick) else int(np.argmin(view.outstanding))


@register_router("size-aware")
@dataclass
class SizeAware:
    """Route by request size across instance types, as the serving planner's routing table says.

    ``table`` maps a bucket (input upper edge, output upper edge) to {instance type: share}; a request goes to
    its bucket's types in proportion to the shares (drawn with the run's RNG), then to the least loaded
    replica of that type. Without a table, prompts up to ``split_input_tokens`` go to the instance type with
    the smallest KV cache per replica and longer ones to the largest.
    """

    table: dict[tuple[int, int], dict[str, float]] = field(default_factory=dict)
    split_input_tokens: int = 2048
    _masks: dict[str, NDArray[np.bool_]] = field(default_factory=dict, repr=False)

    def _mask(self, view: FleetView, name: str) -> NDArray[np.bool_]:
        if name not in self._masks:
            self._masks[name] = np.array([t == name for t in view.instance])
        return self._masks[name]

    def choose(self, input_tokens: int, output_tokens: int, view: FleetView, rng: np.random.Generator) -> int:
        wanted: str | None = None
        if self.table:
            types = set(view.instance)
            for (in_edge, out_edge), shares in sorted(self.table.items()):
                if input_tokens <= in_edge and output_tokens <= out_edge:
                    names = [t for t in shares if t in types and shares[t] > 0]
                    if names:
                        p = np.array([shares[t] for t in names], dtype=float)
                        wanted = names[int(rng.choice(len(names), p=p / p.sum()))]
                    else:
                        raise ConfigError(
                            f"size-aware routing table sends requests to {list(shares)}, which the fleet lacks"
                        )
                    break
        else:
            capacity: dict[str, int] = {}
            for name, cap in zip(view.instance, view.kv_capacity_tokens, strict=True):
                capacity[name] = max(capacity.get(name, 0), int(cap))
            if len(capacity) > 1:
                order = sorted(capacity, key=lambda t: (capacity[t], t))
                wanted = order[0] if input_tokens <= self.split_input_tokens else order[-1]
        if wanted is None:
            return int(np.argmin(view.outstanding))
        load = np.where(self._mask(view, wanted), view.outstanding, np.iinfo(np.int64).max)
        pick = int(np.argmin(load))
        return pick if view.is_open(pick) else int(np.argmin(view.outstanding))
