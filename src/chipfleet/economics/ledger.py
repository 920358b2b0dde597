"""The one ledger of node time: who held each node when, how many chip-seconds it was busy, and what that costs.

A simulation writes into a :class:`Ledger` as it runs (nodes held and released by a holder, busy chip-seconds
added when they are done or opened as a segment still running); every result reads it, and reading changes
nothing, so results can be taken in any order. What node time costs in money, energy and carbon comes from
the pure functions below, with the power model of :mod:`chipfleet.economics.costing`:

* cost of holding a node ``held_s`` seconds: ``price_usd_per_h × held_s / 3600``; of chips held
  ``chip_s`` chip-seconds: ``chip_s × price_usd_per_h / chips / 3600``;
* energy over ``span_s`` with ``busy`` chip-seconds busy: the power model's ``E`` (idle chips and host the
  whole span, ``TDP − P_idle`` while busy) × PUE;
* carbon: energy × the region's grid intensity (location-based annual average; None when unknown).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from chipfleet.economics.costing import J_PER_KWH, PowerModel


@dataclass(frozen=True)
class NodeRate:
    """What one node's time costs: its hourly price, power model, and its region's PUE and grid intensity."""

    price_usd_per_h: float
    power: PowerModel
    pue: float = 1.0
    grid_gco2_per_kwh: float | None = None

    @property
    def price_usd_per_chip_s(self) -> float:
        """``price_usd_per_h / chips / 3600``."""
        return self.price_usd_per_h / self.power.chips / 3600.0


@dataclass(frozen=True)
class Charge:
    """Money, facility energy and carbon of some node time; charges add up (carbon is None if any part's is)."""

    cost_usd: float = 0.0
    energy_kwh: float = 0.0
    co2_kg: float | None = 0.0

    def __add__(self, other: Charge) -> Charge:
        co2 = None if self.co2_kg is None or other.co2_kg is None else self.co2_kg + other.co2_kg
        return Charge(self.cost_usd + other.cost_usd, self.energy_kwh + other.energy_kwh, co2)


def held_cost_usd(rate: NodeRate, held_s: float) -> float:
    """``price_usd_per_h × held_s / 3600``: a node rented for ``held_s`` seconds."""
    return rate.price_usd_per_h * held_s / 3600.0


def chip_cost_usd(rate: NodeRate, chip_s: float) -> float:
    """``chip_s × price_usd_per_h / chips / 3600``: a share of a node's price by the chip-seconds held."""
    return chip_s * rate.price_usd_per_chip_s


def energy_kwh(rate: NodeRate, span_s: float, busy_chip_s: float) -> float:
    """Facility energy of one node over ``span_s`` with ``busy_chip_s`` busy: ``E(span, busy) × PUE / 3.6e6``,
    ``E`` from :meth:`PowerModel.energy_j` (idle chips and host throughout, ``TDP − P_idle`` while busy)."""
    return rate.power.energy_j(span_s, busy_chip_s) * rate.pue / J_PER_KWH


def co2_kg(rate: NodeRate, energy: float) -> float | None:
    """``energy_kwh × grid_gco2_per_kwh / 1000``; None when the region's grid intensity is unknown."""
    return None if rate.grid_gco2_per_kwh is None else energy * rate.grid_gco2_per_kwh / 1000.0


def node_charge(rate: NodeRate, held_s: float, busy_chip_s: float) -> Charge:
    """A node held ``held_s`` seconds, ``busy_chip_s`` of them busy: its cost, energy and carbon."""
    e = energy_kwh(rate, held_s, busy_chip_s)
    return Charge(held_cost_usd(rate, held_s), e, co2_kg(rate, e))


def effective_pue(rates: Iterable[tuple[NodeRate, float, float]]) -> float:
    """Facility ÷ IT energy over ``(rate, span_s, busy_chip_s)`` triples (1.0 when there is no energy): one
    number for a fleet whose nodes may sit in regions of different PUE."""
    it = facility = 0.0
    for rate, span_s, busy in rates:
        e = rate.power.energy_j(span_s, busy)
        it += e
        facility += e * rate.pue
    return facility / it if it > 0 else 1.0


class Ledger:
    """Node time by node id: held intervals per holder, and busy chip-seconds per holder, closed or open.

    ``hold``/``release`` bracket a holder's tenure of a node; ``add_busy`` records chip-seconds already done;
    ``open_busy``/``close_busy`` bracket a segment still running (``chips`` busy on a node from ``since_s``),
    so a reader at ``until_s`` counts ``chips × max(0, until_s − since_s)`` of it without anyone closing it.
    """

    def __init__(self) -> None:
        self._held_since: dict[tuple[int, str], float] = {}
        self._held_s: dict[tuple[int, str], float] = {}
        self._busy: dict[int, dict[str, float]] = {}  # node -> holder -> chip-seconds done
        self._open: dict[Hashable, tuple[str, float, tuple[tuple[int, int], ...]]] = {}

    # --- writing ---------------------------------------------------------------------------------------

    def hold(self, node: int, holder: str, now_s: float) -> None:
        key = (node, holder)
        if key in self._held_since:
            raise RuntimeError(f"node {node} is already held by {holder}")
        self._held_since[key] = now_s

    def release(self, node: int, holder: str, now_s: float) -> None:
        key = (node, holder)
        since = self._held_since.pop(key)
        self._held_s[key] = self._held_s.get(key, 0.0) + now_s - since

    def add_busy(self, node: int, holder: str, chip_s: float) -> None:
        by_holder = self._busy.setdefault(node, {})
        by_holder[holder] = by_holder.get(holder, 0.0) + chip_s

    def open_busy(self, key: Hashable, holder: str, since_s: float, chips_on: Iterable[tuple[int, int]]) -> None:
        """``chips`` of each ``(node, chips)`` busy from ``since_s`` until :meth:`close_busy` (``key`` names it)."""
        self._open[key] = (holder, since_s, tuple(chips_on))

    def close_busy(self, key: Hashable, until_s: float) -> None:
        holder, since, spans = self._open.pop(key)
        dt = max(0.0, until_s - since)
        if dt > 0:
            for node, chips in spans:
                self.add_busy(node, holder, chips * dt)

    # --- reading ---------------------------------------------------------------------------------------

    @property
    def empty(self) -> bool:
        """Nothing recorded yet: no tenure, no busy time."""
        return not (self._held_since or self._held_s or self._busy or self._open)

    def held_s(self, node: int, holder: str, until_s: float) -> float:
        """Seconds ``holder`` held ``node`` up to ``until_s`` (a tenure still open counts up to then)."""
        key = (node, holder)
        since = self._held_since.get(key)
        return self._held_s.get(key, 0.0) + (max(0.0, until_s - since) if since is not None else 0.0)

    def busy_chip_s(self, node: int, until_s: float, holder: str | None = None) -> float:
        """Busy chip-seconds of ``node`` (of one holder, or all): everything added or closed, plus the open
        segments up to ``until_s``."""
        by_holder = self._busy.get(node, {})
        done = sum(by_holder.values()) if holder is None else by_holder.get(holder, 0.0)
        for who, since, spans in self._open.values():
            if holder is None or who == holder:
                dt = max(0.0, until_s - since)
                done += dt * sum(chips for n, chips in spans if n == node)
        return done

    def busy_by_node(self, until_s: float, holder: str | None = None) -> dict[int, float]:
        """:meth:`busy_chip_s` of every node with any busy time, in one pass (for results over many nodes)."""
        out = {
            node: sum(by_holder.values()) if holder is None else by_holder.get(holder, 0.0)
            for node, by_holder in self._busy.items()
        }
        for who, since, spans in self._open.values():
            if holder is None or who == holder:
                dt = max(0.0, until_s - since)
                for node, chips in spans:
                    out[node] = out.get(node, 0.0) + dt * chips
        return out
