"""The fleet: a pool of instances that serving replicas and training jobs share, with its own accounting.

Both simulation levels allocate whole instances from one :class:`Pool` (a serving replica of tp chips
takes one instance; a training job takes as many instances as its chips need), so a mixed fleet runs
both at once and the pool reports cost and energy for everything it hosted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chipfleet.catalog import Catalog, Instance, Pricing
from chipfleet.economics.costing import PowerModel, instance_power_w
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import Hardware, hardware_for

_ENTRY = re.compile(r"^\s*([a-z0-9._-]+)\s*:\s*(\d+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class FleetSpec:
    """Instance types and counts, e.g. ``inf2.48xlarge:4,g6e.12xlarge:2``."""

    entries: tuple[tuple[str, int], ...]

    @classmethod
    def parse(cls, text: str) -> FleetSpec:
        entries = []
        for part in text.split(","):
            if not part.strip():
                continue
            m = _ENTRY.match(part)
            if not m:
                raise ConfigError(f"cannot read fleet entry {part.strip()!r}; write INSTANCE:COUNT, e.g. p5.48xlarge:4")
            count = int(m.group(2))
            if count < 1:
                raise ConfigError(f"fleet entry {part.strip()!r}: the count must be at least 1")
            entries.append((m.group(1).lower(), count))
        if not entries:
            raise ConfigError("the fleet is empty; give at least one INSTANCE:COUNT")
        return cls(tuple(entries))

    def describe(self) -> str:
        return ",".join(f"{name}:{n}" for name, n in self.entries)


@dataclass
class Node:
    """One instance in the pool, with the time-integrals its cost and energy come from."""

    id: int
    instance: Instance
    hw: Hardware
    power: PowerModel
    price_usd_per_h: float
    owner: str | None = None
    busy_chip_s: float = 0.0  # Σ chips × seconds the chips computed or streamed memory

    @property
    def chips(self) -> int:
        return self.instance.chips


@dataclass
class Pool:
    """All nodes of a fleet; allocation by owner tag; cost and energy over a simulated span."""

    catalog: Catalog
    nodes: list[Node] = field(default_factory=list)

    @classmethod
    def build(
        cls, catalog: Catalog, spec: FleetSpec, pricing: Pricing = Pricing.ON_DEMAND, region: str | None = None
    ) -> Pool:
        pool = cls(catalog)
        for name, count in spec.entries:
            inst = catalog.instance(name)
            price = inst.price(region, pricing)
            if price is None:
                raise ConfigError(
                    f"no {pricing.value} price for {inst.name}{' in ' + region if region else ''}; "
                    "pick another --pricing/--region or add a price with --catalog overlay.yaml"
                )
            hw = hardware_for(catalog, inst)
            power = instance_power_w(catalog, inst)
            for _ in range(count):
                pool.nodes.append(Node(len(pool.nodes), inst, hw, power, price.usd_per_h))
        return pool

    def free(self, instance: str | None = None) -> list[Node]:
        return [n for n in self.nodes if n.owner is None and (instance is None or n.instance.name == instance)]

    def allocate(self, nodes: list[Node], owner: str) -> None:
        for n in nodes:
            if n.owner is not None:
                raise RuntimeError(f"node {n.id} is already held by {n.owner}")
            n.owner = owner

    def release(self, owner: str) -> list[Node]:
        freed = [n for n in self.nodes if n.owner == owner]
        for n in freed:
            n.owner = None
        return freed

    def instance_types(self) -> list[str]:
        seen: dict[str, None] = {}
        for n in self.nodes:
            seen.setdefault(n.instance.name, None)
        return list(seen)

    def cost_usd(self, span_s: float) -> float:
        """Every instance is rented for the whole span (a static fleet)."""
        return sum(n.price_usd_per_h for n in self.nodes) * span_s / 3600.0

    def energy_kwh(self, span_s: float, pue: float = 1.0) -> float:
        """Σ nodes: chips idle the whole span plus (TDP − idle) while busy, plus the host, × PUE."""
        return sum(n.power.energy_j(span_s, n.busy_chip_s) for n in self.nodes) * pue / 3.6e6
