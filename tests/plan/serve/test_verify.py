"""Checking a mix and tightening it: the mixture check re-solves before any replay; a replay that misses
tightens the types that missed and solves again."""

from __future__ import annotations

from dataclasses import replace

from chipfleet.catalog import Catalog
from chipfleet.plan.serve.buckets import bucketize
from chipfleet.plan.serve.capacity import Deployment, deployments
from chipfleet.plan.serve.milp import solve_mix
from chipfleet.plan.serve.spec import ServeConstraints, ServeObjective
from chipfleet.plan.serve.verify import PlanSolver, mixture_headroom
from chipfleet.serialize import to_jsonable
from chipfleet.workloads import get_model

from .fleets import SLO, poisson_trace


def _optimistic(cat: Catalog, rate: float, rounds: int) -> tuple[list[Deployment], PlanSolver]:
    """g6e.xlarge configurations whose capacities are four times what the model says, and a solver."""
    model, trace = get_model("llama-3-8b"), poisson_trace(rate=rate, max_prompt=5000)
    c = ServeConstraints(instances=("g6e.xlarge",))
    buckets = bucketize(trace)
    deps = deployments(model, buckets, SLO, cat, c)
    inflated = [replace(d, capacity_per_replica=tuple(4 * x for x in d.capacity_per_replica)) for d in deps]
    return inflated, PlanSolver(model, trace, buckets, SLO, cat, c, ServeObjective.COST, rounds, 0, 1.0)


def test_replay_misses_then_tightens(cat: Catalog) -> None:
    """A capacity model four times too optimistic: the replay misses, the planner scales the capacity of the
    types that missed down and re-solves, and says so."""
    inflated, solver = _optimistic(cat, 6.0, rounds=6)
    # The first mix comes from the bare program (no mixture check), so it is the replay that must catch it.
    first = solve_mix(inflated, solver.buckets)
    assert first is not None
    mix, rounds, result, factors = solver.verify(inflated, first, {d.instance: 1.0 for d in inflated})
    assert not rounds[0].meets_slo and rounds[0].missed_by
    assert len(rounds) > 1 and factors["g6e.xlarge"] < 1.0
    assert mix.instances["g6e.xlarge"] > first.instances["g6e.xlarge"]
    assert rounds[-1].meets_slo and result is not None and result.ttft_s["p90"] <= SLO.ttft_p90_s
    d = to_jsonable(rounds[0])  # a round in JSON is its fields
    assert d["round"] == 1 and d["meets_slo"] is False and d["missed_by"] and d["factors"] == {"g6e.xlarge": 1.0}


def test_mixture_check_tightens_before_any_replay(cat: Catalog) -> None:
    inflated, solver = _optimistic(cat, 14.0, rounds=0)
    naive = solve_mix(inflated, solver.buckets)
    settled, factors = solver.solve(inflated)
    assert naive is not None and settled is not None
    assert factors["g6e.xlarge"] < 1.0 and settled.instances["g6e.xlarge"] > naive.instances["g6e.xlarge"]
    for e in settled.entries:
        headroom = mixture_headroom(solver.model, e, solver.buckets, SLO, cat, 1.0, solver.constraints.max_batch_tokens)
        assert headroom >= 1.0
