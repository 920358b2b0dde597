"""The books of a mixed fleet: every node-second split between serving, training and nobody, and the money
split the same way (serving pays the nodes it held, training the chips its jobs held)."""

from __future__ import annotations

from dataclasses import dataclass

from chipfleet.economics.ledger import Charge, chip_cost_usd, held_cost_usd
from chipfleet.sim.fleet import Pool
from chipfleet.sim.mixed.results import ShareReport
from chipfleet.sim.serving.replica import HOLDER as SERVE_HOLDER
from chipfleet.sim.training.results import ClusterResult


@dataclass(frozen=True)
class FleetBooks:
    """Every node-second of a mixed run by holder, and the money split the same way (see :func:`fleet_books`)."""

    shares: tuple[ShareReport, ...]
    serving_cost_usd: float
    training_cost_usd: float
    training_idle_chip_cost_usd: float
    idle_cost_usd: float
    fleet: Charge  # every node for the whole span: cost, energy, carbon


def fleet_books(pool: Pool, train: ClusterResult, span_s: float) -> FleetBooks:
    """Split each type's node-seconds between serving (its tenures in the pool's ledger), training (nodes with
    a chip allocated) and nobody; serving pays the nodes it held, training the chips its jobs held
    (allocated chip-seconds × price per chip-second), the free chips of training's nodes and the nodes nobody
    held are the rest of the fleet's bill (every node for the whole span)."""
    usage_of = {u.instance: u for u in train.types}
    shares = []
    serving_cost = training_cost = training_idle = 0.0
    for name in pool.instance_types():
        nodes = [nd for nd in pool.nodes if nd.instance.name == name]
        rate = nodes[0].rate
        serve_s = sum(pool.ledger.held_s(nd.id, SERVE_HOLDER, span_s) for nd in nodes)
        u = usage_of.get(name)
        train_s = u.held_instance_s if u is not None else 0.0
        alloc_s = u.allocated_chip_s if u is not None else 0.0
        busy_s = u.busy_chip_s if u is not None else 0.0
        idle_s = max(0.0, len(nodes) * span_s - serve_s - train_s)
        shares.append(
            ShareReport(name, len(nodes), serve_s / 3600, train_s / 3600, idle_s / 3600, alloc_s / 3600, busy_s / 3600)
        )
        serving_cost += held_cost_usd(rate, serve_s)
        training_cost += chip_cost_usd(rate, alloc_s)
        training_idle += chip_cost_usd(rate, max(0.0, train_s * nodes[0].chips - alloc_s))
    fleet = pool.charge(span_s)
    return FleetBooks(
        shares=tuple(shares),
        serving_cost_usd=serving_cost,
        training_cost_usd=training_cost,
        training_idle_chip_cost_usd=training_idle,
        idle_cost_usd=max(0.0, fleet.cost_usd - serving_cost - training_cost - training_idle),
        fleet=fleet,
    )
