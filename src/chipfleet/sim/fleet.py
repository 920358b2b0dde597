"""The fleet: a pool of instances that serving replicas and training jobs share, with its own accounting.

Both simulation levels allocate from one :class:`Pool`, so a mixed fleet runs both at once and the pool
reports cost and energy for everything it hosted. Serving takes whole instances (a node's replicas share
it). Training allocates chips (:class:`TypeChips`): a job that fits on one instance takes just its chips and
shares the node with other such jobs; a job larger than one instance takes whole instances. A node is held
(its ``owner`` set) while any of its chips are allocated, so the other simulator never takes it then.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from chipfleet.catalog import Catalog, Instance, Pricing
from chipfleet.economics.costing import PowerModel, instance_power_w
from chipfleet.economics.ledger import Charge, Ledger, NodeRate, node_charge
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
                raise ConfigError(
                    f"cannot read fleet entry {part.strip()!r}; write INSTANCE:COUNT, e.g. p5.48xlarge:4", field="fleet"
                )
            count = int(m.group(2))
            if count < 1:
                raise ConfigError(f"fleet entry {part.strip()!r}: the count must be at least 1", field="fleet")
            entries.append((m.group(1).lower(), count))
        if not entries:
            raise ConfigError("the fleet is empty; give at least one INSTANCE:COUNT", field="fleet")
        return cls(tuple(entries))

    def describe(self) -> str:
        return ",".join(f"{name}:{n}" for name, n in self.entries)


@dataclass
class Node:
    """One instance in the pool: its price and the region it comes from (with that region's PUE and grid
    intensity), so cost, energy and carbon of its time are known without looking anything up again. The time
    itself is in the pool's :class:`~chipfleet.economics.ledger.Ledger`."""

    id: int
    instance: Instance
    hw: Hardware
    power: PowerModel
    price_usd_per_h: float
    owner: str | None = None
    region: str | None = None  # of the price; None for a node built by hand
    pue: float = 1.0  # the region's, or an override; 1.0 when the catalog has no record of the region
    grid_gco2_per_kwh: float | None = None  # the region's annual average; None when unknown

    @property
    def chips(self) -> int:
        return self.instance.chips

    @property
    def rate(self) -> NodeRate:
        return NodeRate(self.price_usd_per_h, self.power, self.pue, self.grid_gco2_per_kwh)


@dataclass
class Pool:
    """All nodes of a fleet; allocation by owner tag; the ledger every simulator on it writes its node time to."""

    catalog: Catalog
    nodes: list[Node] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    pue_override: float | None = None  # the PUE every node was given instead of its region's

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        spec: FleetSpec,
        pricing: Pricing = Pricing.ON_DEMAND,
        region: str | None = None,
        pue: float | None = None,
    ) -> Pool:
        """Nodes for ``spec``, each priced in ``region`` (default: the type's cheapest region for ``pricing``)
        and carrying that region's PUE (or ``pue``, an override) and grid intensity."""
        if pue is not None and not pue >= 1.0:
            raise ConfigError(f"pue is facility ÷ IT energy and cannot be below 1, got {pue}", field="pue")
        pool = cls(catalog, pue_override=pue)
        for name, count in spec.entries:
            inst = catalog.instance(name)
            price = inst.price(region, pricing)
            if price is None:
                raise ConfigError(
                    f"no {pricing.value} price for {inst.name}{' in ' + region if region else ''}; "
                    "pick another pricing or region, or add a price to the catalog",
                    field="pricing",
                )
            place = catalog.regions.get(price.region)
            node_pue = pue if pue is not None else (place.pue_ratio if place is not None else 1.0)
            grid = place.grid_gco2_per_kwh if place is not None else None
            hw = hardware_for(catalog, inst)
            power = instance_power_w(catalog, inst)
            for _ in range(count):
                pool.nodes.append(
                    Node(len(pool.nodes), inst, hw, power, price.usd_per_h, None, price.region, node_pue, grid)
                )
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

    def charge(self, span_s: float, nodes: Iterable[Node] | None = None) -> Charge:
        """Every node (or ``nodes``) rented for the whole span (a static fleet): cost, and energy and carbon
        with the busy time the ledger holds up to ``span_s`` (idle chips at idle power)."""
        busy = self.ledger.busy_by_node(span_s)
        total = Charge()
        for n in self.nodes if nodes is None else nodes:
            total += node_charge(n.rate, span_s, busy.get(n.id, 0.0))
        return total


class TypeChips:
    """The free chips of one instance type's nodes as one training simulator's books see them.

    Nodes sit in buckets by their number of free chips (``0 … chips_per_node``); :meth:`take` allocates a job
    of ``g`` chips:

    * ``g ≤ chips_per_node``: ``g`` chips of one node, best fit (the node with the fewest free chips that
      still hold the job, the lowest node id among those), so small jobs pack together and whole nodes stay
      free for large ones;
    * ``g > chips_per_node``: ``⌈g / chips_per_node⌉`` wholly free nodes (every chip of them allocated), the
      lowest ids first.

    A node is *held* (``node.owner = owner``) from the moment one of its chips is allocated until all are
    free again; the tenure goes into ``ledger`` under the holder ``owner``, and :meth:`held_node_s` sums it.
    A wholly free node may be taken by another simulator sharing the pool behind these books' back:
    :meth:`take` notices (its owner is set), drops it from the books and counts it in :attr:`stale_dropped`.

    Each bucket is a heap of node ids with lazy deletion (an entry is live while the node's free count is
    the bucket's), compacted when it holds many dead entries: O(log n) per allocation.
    """

    def __init__(self, chips_per_node: int, nodes: Iterable[Node], owner: str, ledger: Ledger) -> None:
        if chips_per_node < 1:
            raise ConfigError(f"an instance needs at least one chip, got {chips_per_node}")
        self.chips_per_node = chips_per_node
        self.owner = owner
        self.ledger = ledger
        self._heaps: list[list[int]] = [[] for _ in range(chips_per_node + 1)]
        self._count = [0] * (chips_per_node + 1)
        self._free: dict[int, int] = {}  # node id -> free chips, for the nodes in these books
        self._nodes: dict[int, Node] = {}
        self._ever: dict[int, None] = {}  # every node that was in these books: its tenure counts
        self._largest = 0  # the most free chips on one node
        self.free_chips = 0
        self.stale_dropped = 0
        for node in nodes:
            self.add(node)

    # --- queries ---------------------------------------------------------------------------------------

    @property
    def whole_free(self) -> int:
        """Nodes with every chip free."""
        return self._count[self.chips_per_node]

    def largest_free(self) -> int:
        """The most free chips on one node (0 when none has any)."""
        return self._largest

    def _rescan_largest(self) -> None:
        count = self._count
        k = self._largest
        while k > 0 and not count[k]:
            k -= 1
        self._largest = k

    def held_chips(self, chips: int) -> int:
        """Chips a job of ``chips`` holds: its own on one node, or every chip of the whole nodes it needs."""
        c = self.chips_per_node
        return chips if chips <= c else -(-chips // c) * c

    def fits(self, chips: int) -> bool:
        """Whether :meth:`take` would find room for a job of ``chips`` now (by these books)."""
        c = self.chips_per_node
        if chips <= c:
            return self._largest >= chips
        return self._count[c] >= -(-chips // c)

    def fits_after(self, chips: int, freed: dict[int, int]) -> bool:
        """Whether a job of ``chips`` would fit once ``freed`` (node id → chips) were given back."""
        if self.fits(chips):
            return True
        c = self.chips_per_node
        free = self._free
        if chips <= c:
            return any(free.get(nid, 0) + k >= chips for nid, k in freed.items())
        whole = self._count[c] + sum(1 for nid, k in freed.items() if free.get(nid, 0) < c <= free.get(nid, 0) + k)
        return whole >= -(-chips // c)

    def free_on(self, node: Node) -> int | None:
        """Free chips of ``node`` by these books (None: the node is not in them)."""
        return self._free.get(node.id)

    def __contains__(self, node: object) -> bool:
        return isinstance(node, Node) and node.id in self._free

    def held_node_s(self, now_s: float) -> float:
        """Node-seconds during which at least one chip was allocated, up to ``now_s`` (nodes held now count)."""
        return sum(self.ledger.held_s(nid, self.owner, now_s) for nid in self._ever)

    # --- changes ---------------------------------------------------------------------------------------

    def take(self, chips: int, now_s: float) -> list[tuple[Node, int]] | None:
        """Allocate a job of ``chips`` (see the class docstring): ``[(node, chips held on it), …]``, or None
        when there is no room (nothing is changed then, except stale nodes dropped)."""
        c = self.chips_per_node
        if chips <= c:
            for k in range(max(chips, 1), c + 1):
                while self._count[k]:
                    node = self._top(k)
                    if k == c and not self._usable(node):
                        continue
                    self._hold(node, chips, now_s)
                    return [(node, chips)]
            return None
        need = -(-chips // c)
        chosen: list[Node] = []
        heap = self._heaps[c]
        seen: set[int] = set()
        while len(chosen) < need and heap:
            nid = heapq.heappop(heap)
            if self._free.get(nid) != c or nid in seen:
                continue  # a dead entry, or a second live one of a node already taken off
            seen.add(nid)
            node = self._nodes[nid]
            if self._usable(node):
                chosen.append(node)
        if len(chosen) < need:
            for node in chosen:
                heapq.heappush(heap, node.id)
            return None
        for node in chosen:
            self._hold(node, c, now_s)
        return [(node, c) for node in chosen]

    def give(self, alloc: Iterable[tuple[Node, int]], now_s: float) -> None:
        """Give back what :meth:`take` returned."""
        c = self.chips_per_node
        for node, k in alloc:
            before = self._free[node.id]
            after = before + k
            if after > c:
                raise RuntimeError(f"node {node.id} would have {after} free chips of {c}")
            self._move(node, before, after)
            if after == c:
                if node.owner != self.owner:
                    raise RuntimeError(f"node {node.id} is held by {node.owner}, not {self.owner}")
                node.owner = None
                self.ledger.release(node.id, self.owner, now_s)

    def add(self, node: Node) -> None:
        """A wholly free node joins the books (ignored if it is in them already)."""
        if node.id in self._free:
            return
        c = self.chips_per_node
        if node.chips != c:
            raise RuntimeError(f"node {node.id} has {node.chips} chips, these books {c}")
        self._free[node.id] = c
        self._nodes[node.id] = node
        self._ever[node.id] = None
        self._count[c] += 1
        heapq.heappush(self._heaps[c], node.id)
        self.free_chips += c
        self._largest = c

    def remove(self, node: Node) -> None:
        """A wholly free node leaves the books (another simulator takes it); ignored if it is not in them."""
        k = self._free.get(node.id)
        if k is None:
            return
        if k != self.chips_per_node:
            raise RuntimeError(f"node {node.id} has chips allocated; only a wholly free node can leave the books")
        del self._free[node.id]
        del self._nodes[node.id]
        self._count[k] -= 1
        self.free_chips -= k
        self._rescan_largest()

    def _top(self, k: int) -> Node:
        """The lowest-id node with ``k`` free chips (the bucket must not be empty); dead entries are dropped."""
        heap = self._heaps[k]
        free = self._free
        while free.get(heap[0]) != k:
            heapq.heappop(heap)
        return self._nodes[heap[0]]

    def _usable(self, node: Node) -> bool:
        if node.owner is None:
            return True
        self.remove(node)  # another simulator took it
        self.stale_dropped += 1
        return False

    def _hold(self, node: Node, chips: int, now_s: float) -> None:
        before = self._free[node.id]
        if before == self.chips_per_node:
            if node.owner is not None:
                raise RuntimeError(f"node {node.id} is already held by {node.owner}")
            node.owner = self.owner
            self.ledger.hold(node.id, self.owner, now_s)
        self._move(node, before, before - chips)

    def _move(self, node: Node, before: int, after: int) -> None:
        self._free[node.id] = after
        self._count[before] -= 1
        self._count[after] += 1
        heap = self._heaps[after]
        heapq.heappush(heap, node.id)
        if len(heap) > 4 * self._count[after] + 64:  # mostly dead entries: rebuild
            live = {nid for nid in heap if self._free.get(nid) == after}
            heap[:] = sorted(live)
        self.free_chips += after - before
        if after > self._largest:
            self._largest = after
        elif before == self._largest and not self._count[before]:
            self._rescan_largest()
