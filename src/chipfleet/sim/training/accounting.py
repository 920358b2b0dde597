"""The books of a training cluster: busy, allocated and held time per instance type, and what it costs.

Accounting, per instance type, over the span (the makespan, or ``until``):

* *busy* chip-seconds: a running job's ``g`` chips while it computes (not during a restart penalty); the
  pool's :class:`~chipfleet.economics.ledger.Ledger` has them by node, and energy charges TDP over idle
  power for them;
* *allocated* chip-seconds: the chips jobs hold, from start to stop (restart penalties and the surplus
  chips of a multi-instance job's last instance included), so allocated ≥ busy;
* *held* instance-seconds: instances with at least one chip allocated; the chips of a held instance that
  no job holds are its *idle held* chip-seconds (``held × c − allocated``).

Cost (``cost_usd``) counts only what is allocated: allocated chip-hours × the instance's price ÷ its chips.
Idle capacity is counted apart, never charged to jobs: idle chips of held instances
(``held_idle_cost_usd``) and instances no job held (``unused_cost_usd``; in a mixed fleet that includes
the time serving held them, which :class:`~chipfleet.sim.mixed.results.MixedResult` splits out); the fleet's bill
(``fleet_cost_usd``: every instance rented for the whole span) is their sum. Energy and carbon are the
whole fleet's (idle chips draw idle power whoever pays; a node's busy time from every simulator on the pool
counts), each node with the PUE and grid intensity of the region its price comes from
(:meth:`chipfleet.sim.fleet.Pool.build`; a PUE override applies to all). Custom silicon means chips whose
vendor is aws, google or microsoft; the rest (nvidia, amd) are merchant GPUs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from chipfleet.economics.ledger import Charge, chip_cost_usd, node_charge
from chipfleet.sim.fleet import Node
from chipfleet.sim.training.policies import TypeInfo
from chipfleet.sim.training.results import TypeUsage


class RunBooks:
    """A cluster's own books per instance type: busy and allocated chip-seconds, runs started, and the busy
    segments (type, chips, start, end) that utilization over time integrates. A run adds to them when it
    stops; :meth:`with_running` gives the books as they would be with the runs still going stopped at some
    time, without changing these."""

    def __init__(self, types: int) -> None:
        self.busy_chip_s = [0.0] * types
        self.allocated_chip_s = [0.0] * types
        self.runs_started = [0] * types
        self._seg_type: list[int] = []
        self._seg_chips: list[int] = []
        self._seg_t0: list[float] = []
        self._seg_t1: list[float] = []

    def add(self, t: int, chips: int, held_chips: int, alloc_s: float, compute_s: float, end_s: float) -> None:
        """A run of ``chips`` on type ``t`` that held ``held_chips`` from ``alloc_s`` and computed from
        ``compute_s`` (after any restart penalty), stopped at ``end_s``."""
        busy_s = max(0.0, end_s - compute_s)
        if busy_s > 0:
            self.busy_chip_s[t] += chips * busy_s
            self._seg_type.append(t)
            self._seg_chips.append(chips)
            self._seg_t0.append(compute_s)
            self._seg_t1.append(end_s)
        self.allocated_chip_s[t] += held_chips * max(0.0, end_s - alloc_s)

    def with_running(self, runs: Iterable[tuple[int, int, int, float, float]], end_s: float) -> RunBooks:
        """A copy with each ``(type, chips, held chips, alloc start, compute start)`` run stopped at ``end_s``."""
        out = RunBooks(0)
        out.busy_chip_s = list(self.busy_chip_s)
        out.allocated_chip_s = list(self.allocated_chip_s)
        out.runs_started = list(self.runs_started)
        out._seg_type = list(self._seg_type)
        out._seg_chips = list(self._seg_chips)
        out._seg_t0 = list(self._seg_t0)
        out._seg_t1 = list(self._seg_t1)
        for t, chips, held, alloc_s, compute_s in runs:
            out.add(t, chips, held, alloc_s, compute_s, end_s)
        return out

    def utilization_windows(
        self, types: Sequence[TypeInfo], span: float, window_s: float, windows: int
    ) -> list[NDArray[np.float64]]:
        """Per type, busy chip-seconds ÷ chip-seconds in each window ``[k·w, (k+1)·w)`` of the span."""
        edges = np.minimum(np.arange(windows + 1, dtype=np.float64) * window_s, span)
        seg_t = np.array(self._seg_type, dtype=np.int64)
        g = np.array(self._seg_chips, dtype=np.float64)
        t0 = np.array(self._seg_t0, dtype=np.float64)
        t1 = np.array(self._seg_t1, dtype=np.float64)
        out = []
        for info in types:
            sel = seg_t == info.index
            chips = info.total_instances * info.chips_per_instance
            width = np.diff(edges)
            if not sel.any() or span <= 0:
                out.append(np.zeros(windows))
                continue
            times = np.concatenate([t0[sel], t1[sel]])
            delta = np.concatenate([g[sel], -g[sel]])
            order = np.argsort(times, kind="stable")
            times, delta = times[order], delta[order]
            level = np.cumsum(delta)  # busy chips from times[i] to times[i+1]
            integral = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(times))])
            at_edges = np.interp(edges, times, integral, left=0.0, right=float(integral[-1]))
            busy = np.diff(at_edges)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(np.where(width > 0, busy / (chips * width), 0.0))
        return out


@dataclass(frozen=True)
class FleetTotals:
    """Sums over a cluster's instance types (see :func:`fleet_totals`)."""

    busy_chip_s: float
    allocated_chip_s: float
    chip_s: float  # chips × span: what the types could have computed
    work_ref_chip_s: float
    custom_busy_chip_s: float  # on aws/google/microsoft chips
    custom_work_ref_chip_s: float
    cost_usd: float
    held_idle_cost_usd: float
    unused_cost_usd: float
    fleet_cost_usd: float
    energy_kwh: float
    co2_kg: float | None


def type_usage(
    info: TypeInfo,
    nodes: Sequence[Node],
    busy_by_node: Mapping[int, float],
    span_s: float,
    *,
    busy_chip_s: float,
    allocated_chip_s: float,
    held_instance_s: float,
    runs_started: int,
    utilization_over_time: tuple[float, ...],
) -> TypeUsage:
    """One type's books over ``span_s`` (module docstring): jobs pay ``allocated × price per chip-second``,
    ``held_idle = held × chips per instance − allocated`` and ``unused = fleet − jobs − held idle`` are apart;
    the fleet's charge (every node for the whole span, energy from ``busy_by_node``, the pool ledger's busy
    chip-seconds of every holder) comes from the ledger's functions."""
    fleet = Charge()
    for node in nodes:
        fleet += node_charge(node.rate, span_s, busy_by_node.get(node.id, 0.0))
    rate = nodes[0].rate
    held_idle = max(0.0, held_instance_s * info.chips_per_instance - allocated_chip_s)
    chips = info.total_instances * info.chips_per_instance
    avail = chips * span_s
    cost = chip_cost_usd(rate, allocated_chip_s)
    idle_cost = chip_cost_usd(rate, held_idle)
    return TypeUsage(
        instance=info.name,
        instances=info.total_instances,
        chips=chips,
        custom_silicon=info.custom_silicon,
        relative_speed=info.relative_speed,
        busy_chip_s=busy_chip_s,
        allocated_chip_s=allocated_chip_s,
        held_instance_s=held_instance_s,
        held_idle_chip_s=held_idle,
        utilization=busy_chip_s / avail if avail > 0 else math.nan,
        allocated_share=allocated_chip_s / avail if avail > 0 else math.nan,
        held_share=held_instance_s / (info.total_instances * span_s) if span_s > 0 else math.nan,
        work_ref_chip_s=busy_chip_s * info.relative_speed,
        runs_started=runs_started,
        pue=rate.pue,
        energy_kwh=fleet.energy_kwh,
        cost_usd=cost,
        held_idle_cost_usd=idle_cost,
        unused_cost_usd=max(0.0, fleet.cost_usd - cost - idle_cost),
        fleet_cost_usd=fleet.cost_usd,
        utilization_over_time=utilization_over_time,
        co2_kg=fleet.co2_kg,
    )


def fleet_totals(usages: Sequence[TypeUsage], span_s: float) -> FleetTotals:
    """Σ over the types of each quantity (carbon None when any type's is unknown)."""
    co2: float | None = 0.0
    for u in usages:
        co2 = None if co2 is None or u.co2_kg is None else co2 + u.co2_kg
    return FleetTotals(
        busy_chip_s=sum(u.busy_chip_s for u in usages),
        allocated_chip_s=sum(u.allocated_chip_s for u in usages),
        chip_s=sum(u.chips * span_s for u in usages),
        work_ref_chip_s=sum(u.work_ref_chip_s for u in usages),
        custom_busy_chip_s=sum(u.busy_chip_s for u in usages if u.custom_silicon),
        custom_work_ref_chip_s=sum(u.work_ref_chip_s for u in usages if u.custom_silicon),
        cost_usd=sum(u.cost_usd for u in usages),
        held_idle_cost_usd=sum(u.held_idle_cost_usd for u in usages),
        unused_cost_usd=sum(u.unused_cost_usd for u in usages),
        fleet_cost_usd=sum(u.fleet_cost_usd for u in usages),
        energy_kwh=sum(u.energy_kwh for u in usages),
        co2_kg=co2,
    )


def pue_note(nodes_by_type: Sequence[Sequence[Node]], override: float | None) -> str:
    """Where each type's PUE comes from: the override, else the region of its nodes' price (1.0 when the
    catalog has no record of it)."""
    if override is not None:
        return f"PUE {override:g} given"
    notes = []
    for nodes in nodes_by_type:
        node = nodes[0]
        where = node.region if node.region is not None else "no region recorded"
        notes.append(f"{node.instance.name}: {node.pue:g} ({where})")
    return "PUE of the region each type's price comes from: " + "; ".join(notes)
