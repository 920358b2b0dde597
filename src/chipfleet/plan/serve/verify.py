"""Checking a mix and tightening it: each type's bucket mixture against its modelled capacity (re-solving until it
fits), then replay rounds in the request-level simulator, scaling down the capacity of every type that missed an
SLO and solving again."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from chipfleet.catalog import Catalog
from chipfleet.perf.batching import ReplicaLimits, capacity_within_slo, operating_curve
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.iteration import IterationModel
from chipfleet.plan.serve.buckets import Bucket, mixture
from chipfleet.plan.serve.capacity import Deployment
from chipfleet.plan.serve.milp import Mix, MixEntry, best_single_type, solve_mix
from chipfleet.plan.serve.spec import FLEET_QUANTILE, ServeConstraints, ServeObjective, ServeSLO, planning_quantile
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.serving import ServeOptions, ServeResult, simulate_serving
from chipfleet.sim.serving.routers import SizeAware
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import ModelArch

TIGHTEN_STEP = 0.8  # capacity kept by an instance type whose replay missed an SLO, per round
SETTLE_ROUNDS = 8  # re-solves while a type's bucket mixture exceeds its modelled capacity


@dataclass(frozen=True)
class ReplayRound:
    """One solve-and-replay: the mix, what the simulator measured, and what was tightened for the next."""

    round: int
    fleet: str
    cost_usd_per_h: float
    ttft_s: dict[str, float]
    tpot_s: dict[str, float]
    slo_attainment: float | None
    meets_slo: bool
    missed_by: dict[str, str]  # instance type -> which p90 it missed
    factors: dict[str, float]  # capacity factors this round was solved with


def replay(
    model: ModelArch,
    trace: RequestTrace,
    mix: Mix,
    slo: ServeSLO,
    catalog: Catalog,
    constraints: ServeConstraints,
    *,
    seed: int = 0,
) -> ServeResult:
    """Replay ``trace`` on ``mix`` in the request-level simulator, routed by the mix's routing table."""
    entries = [e for e in mix.entries if e.count > 0]
    spec = FleetSpec(tuple((e.deployment.instance, e.count) for e in entries))
    by_type = {
        e.deployment.instance: e.deployment.options(slo, constraints.max_batch_tokens, e.max_seqs) for e in entries
    }
    base = ServeOptions(max_batch_tokens=constraints.max_batch_tokens, slo_ttft_s=slo.ttft_p90_s,
                        slo_tpot_s=slo.tpot_p90_s)  # fmt: skip
    router = SizeAware(table=mix.routing())
    return simulate_serving(
        model, trace, spec, catalog, router=router, options=base, options_by_type=by_type, seed=seed,
        pricing=constraints.pricing, region=constraints.region,
    )  # fmt: skip


@dataclass(frozen=True)
class PlanSolver:
    """Solves the program, checks each type's modelled capacity for the mix of buckets it was given, and
    replays; where the check or the replay fails, tightens that type's capacity and solves again."""

    model: ModelArch
    trace: RequestTrace
    buckets: tuple[Bucket, ...]
    slo: ServeSLO
    catalog: Catalog
    constraints: ServeConstraints
    objective: ServeObjective
    max_rounds: int
    seed: int
    design: float  # busy-window rate ÷ mean rate
    tail_share: float = 0.0  # requests that may be served best effort (see solve_mix)
    progress: Callable[[str], None] | None = None

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def solve(
        self, deps: Sequence[Deployment], factors: dict[str, float] | None = None, hour: float = 1.0
    ) -> tuple[Mix | None, dict[str, float]]:
        """The program's mix, re-solved until every type's bucket mixture is within its modelled capacity."""
        factors = dict(factors) if factors else {d.instance: 1.0 for d in deps}
        mix: Mix | None = None
        scale = self.design * hour
        types = sorted({d.instance for d in deps})
        label = f"{len(types)} instance types" if len(types) > 1 else f"{types[0]} alone"
        for attempt in range(SETTLE_ROUNDS):
            self.say(f"solving the mix over {label}, {len(deps)} configurations (pass {attempt + 1})")
            mix = solve_mix(
                deps, self.buckets, self.objective, factors=factors, rate_scale=scale, traffic_scale=hour,
                max_instances_per_type=self.constraints.max_instances_per_type, tail_share=self.tail_share,
            )  # fmt: skip
            if mix is None:
                break
            over: dict[str, float] = {}
            for e in mix.entries:
                headroom = mixture_headroom(
                    self.model, e, self.buckets, self.slo, self.catalog, scale, self.constraints.max_batch_tokens,
                    planning_quantile(self.tail_share),
                )  # fmt: skip
                if headroom < 1.0:
                    over[e.deployment.instance] = headroom
            if not over:
                break
            for name, headroom in over.items():
                factors[name] *= min(0.98, max(0.5, headroom))
        return mix, factors

    def best_single(self, deps: Sequence[Deployment]) -> tuple[Mix | None, dict[str, float]]:
        """The best fleet of one instance type, solved and checked the same way, with its capacity factors."""
        factors: dict[str, dict[str, float]] = {}

        def solve(ds: Sequence[Deployment]) -> Mix | None:
            mix, factors[ds[0].instance] = self.solve(ds)
            return mix

        best = best_single_type(deps, self.buckets, self.objective, solve=solve)
        return best, factors[best.entries[0].deployment.instance] if best is not None else {}

    def verify(
        self, deps: Sequence[Deployment], mix: Mix, factors: dict[str, float]
    ) -> tuple[Mix, tuple[ReplayRound, ...], ServeResult | None, dict[str, float]]:
        """Replay ``mix``; while it misses the SLO (up to ``max_rounds`` times), tighten and re-solve."""
        factors = dict(factors)
        rounds: list[ReplayRound] = []
        result: ServeResult | None = None
        slo = self.slo
        for r in range(self.max_rounds + 1 if self.max_rounds else 0):
            self.say(f"replay round {r + 1}: {mix.describe()} over {len(self.trace):,} requests")
            result = replay(self.model, self.trace, mix, slo, self.catalog, self.constraints, seed=self.seed)
            missed = _misses(result, slo)
            fleet_ok = result.ttft_s["p90"] <= slo.ttft_p90_s and result.tpot_s["p90"] <= slo.tpot_p90_s
            rounds.append(
                ReplayRound(
                    round=r + 1, fleet=mix.describe(), cost_usd_per_h=mix.cost_usd_per_h, ttft_s=result.ttft_s,
                    tpot_s=result.tpot_s, slo_attainment=result.slo_attainment,
                    meets_slo=fleet_ok and not result.rejected, missed_by=missed, factors=dict(factors),
                )
            )  # fmt: skip
            if rounds[-1].meets_slo or r == self.max_rounds:
                break
            for name in missed or mix.instances:
                factors[name] *= TIGHTEN_STEP
            tightened, factors = self.solve(deps, factors)
            if tightened is None:
                break
            mix = tightened
        return mix, tuple(rounds), result, factors


def mixture_headroom(
    model: ModelArch,
    entry: MixEntry,
    buckets: Sequence[Bucket],
    slo: ServeSLO,
    catalog: Catalog,
    rate_scale: float,
    max_batch_tokens: int,
    quantile: float = FLEET_QUANTILE,
) -> float:
    """Modelled capacity of one replica of ``entry`` for the mixture of buckets routed to it, ÷ the rate each
    replica is planned to take (≥ 1: the mixture fits).

    The program adds up per-bucket capacities; a replica that serves long and short prompts together queues
    the short behind the long, which the mixture's moments (E[I²] over all its prompts) show and the sum does
    not. The mixture's p90 prompt is taken as the rate-weighted 90th percentile of its buckets' p90s.

    Requests served best effort are not in the mixture (their latency is not held to the SLOs, and a rare
    very long prompt would dominate its E[I²]); the share of the replicas' capacity they take, by the
    program's additive rule, is taken off the mixture's capacity.
    """
    d = entry.deployment
    best_effort = entry.best_effort_shares or (0.0,) * len(buckets)
    w = np.array(
        [(entry.bucket_shares[b] - best_effort[b]) * buckets[b].rate_per_s * rate_scale for b in range(len(buckets))]
    )
    w = np.maximum(w, 0.0)
    if w.sum() <= 1e-12:
        return math.inf
    replicas = entry.count * d.replicas_per_instance
    taken = (
        sum(
            best_effort[b] * buckets[b].rate_per_s * rate_scale / d.capacity(b, best_effort=True)
            for b in range(len(buckets))
            if best_effort[b] > 0 and d.capacity(b, best_effort=True) > 0
        )
        / replicas
    )
    per_replica = float(w.sum()) / replicas
    it = IterationModel(model, hardware_for(catalog, d.instance), d.tp, d.precision)
    limits = ReplicaLimits(max_batch_tokens, entry.max_seqs, d.kv_capacity_tokens)
    curve = operating_curve(it, limits, mixture(buckets, w), quantile)
    cap = float(capacity_within_slo(curve, slo.ttft_p90_s, slo.tpot_p90_s).rate_per_s[0])
    return cap * max(0.0, 1.0 - taken) / per_replica


def same_fleet(single: Mix, first_replayed: str | None, final: Mix) -> bool:
    """The single-type fleet is the one the mix's first round replayed, and the mix never changed from it."""
    return first_replayed == single.describe() == final.describe() and all(
        a.deployment == b.deployment for a, b in zip(single.entries, final.entries, strict=True)
    )


def _misses(result: ServeResult, slo: ServeSLO) -> dict[str, str]:
    out = {}
    for t in result.by_type:
        what = []
        if t.ttft_s.get("p90", 0.0) > slo.ttft_p90_s:
            what.append(f"p90 TTFT {t.ttft_s['p90']:.3g} s")
        if t.tpot_s.get("p90", 0.0) > slo.tpot_p90_s:
            what.append(f"p90 TPOT {t.tpot_s['p90'] * 1e3:.3g} ms")
        if what:
            out[t.instance] = ", ".join(what)
    return out
