"""Planning a disaggregated fleet next to the aggregated one: pool candidates, the split program, its replay in the
disaggregated simulator with tightening rounds, the cross-vendor alternatives, and the choice ``auto`` makes."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from chipfleet.catalog import Catalog
from chipfleet.plan.serve.buckets import Bucket
from chipfleet.plan.serve.disagg import (
    DisaggMix,
    Pair,
    Pool,
    keep_best_per_type,
    link_pairs,
    price_pools,
    solve_split,
)
from chipfleet.plan.serve.pools import pool_candidates
from chipfleet.plan.serve.spec import DisaggMode, ServeConstraints, ServeObjective, ServeSLO
from chipfleet.plan.serve.verify import TIGHTEN_STEP
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import ModelArch

NOT_REPLAYED = "modelled, not replayed"
CROSS_VENDOR_SHOWN = 3  # unlike-chip pairs listed among the candidates


@dataclass(frozen=True)
class SplitRound:
    """One solve-and-replay of the split: the fleet, what the disaggregated simulator measured, what was tightened."""

    round: int
    fleet: str
    cost_usd_per_h: float
    ttft_s: dict[str, float]
    tpot_s: dict[str, float]
    slo_attainment: float | None
    meets_slo: bool
    missed: str  # which p90 missed ("" when met)
    factors: tuple[float, float]  # prefill and decode capacity factors this round was solved with
    link_utilisation: float | None = None  # the simulator's


@dataclass(frozen=True)
class PairOption:
    """One (prefill type, decode type) pair alone, sized by the capacity model: what it would cost."""

    prefill: str
    decode: str
    prefill_tp: int
    decode_tp: int
    prefill_count: int
    decode_count: int
    link: str
    link_gb_per_s: float
    cost_usd_per_h: float
    power_w: float
    cross_vendor: bool  # the chips come from two vendors (else one vendor's two chips)


@dataclass(frozen=True)
class DisaggOutcome:
    """The disaggregated plan next to the aggregated one, and which one is the plan and why."""

    mode: DisaggMode
    chosen: bool  # the plan is the disaggregated fleet
    reason: str  # the saving, or why splitting does not pay
    status: str  # replayed and met / missed, or NOT_REPLAYED with why
    mix: DisaggMix | None
    saving: float | None  # 1 − split ÷ aggregated, on the objective (None: one of them missing)
    rounds: tuple[SplitRound, ...]
    prefill_configs: int
    decode_configs: int
    pairs: int  # linked (prefill pool, decode pool) pairs the program had
    pairs_without_link: int  # pairs in different clouds or regions: not candidates
    cross_vendor: tuple[PairOption, ...]  # the cheapest unlike-chip pairs among the candidates, cross-vendor first
    solve_s: float
    replay_s: float

    @property
    def replayed(self) -> bool:
        return bool(self.rounds)


@dataclass(frozen=True)
class SplitRun:
    """What :func:`plan_split` found: the split (None: none, ``why``), its replay rounds, what was searched."""

    mix: DisaggMix | None
    why: str
    rounds: tuple[SplitRound, ...]
    prefill_configs: int
    decode_configs: int
    pairs: int
    pairs_without_link: int
    cross_vendor: tuple[PairOption, ...]
    solve_s: float
    replay_s: float


@dataclass(frozen=True)
class _Inputs:
    model: ModelArch
    trace: RequestTrace
    buckets: tuple[Bucket, ...]
    slo: ServeSLO
    catalog: Catalog
    constraints: ServeConstraints
    objective: ServeObjective
    design: float
    tail_share: float
    quantile: float
    seed: int


def plan_split(
    model: ModelArch,
    trace: RequestTrace,
    buckets: tuple[Bucket, ...],
    slo: ServeSLO,
    catalog: Catalog,
    constraints: ServeConstraints,
    objective: ServeObjective,
    *,
    design: float,
    tail_share: float,
    quantile: float,
    replay_rounds: int,
    seed: int,
    say: Callable[[str], None],
) -> SplitRun:
    """The cheapest (or least-energy) split of one prefill pool and one decode pool, replayed and tightened up to
    ``replay_rounds`` times."""
    t0 = time.perf_counter()
    inputs = _Inputs(model, trace, buckets, slo, catalog, constraints, objective, design, tail_share, quantile, seed)
    say(f"prefill and decode capacities of every allowed configuration for {len(buckets)} buckets")
    prefill_c, decode_c = pool_candidates(model, buckets, slo, catalog, constraints, Counter(), quantile)
    price = {
        i.name: p.usd_per_h
        for i in catalog.instances.values()
        if (p := i.price(constraints.region, constraints.pricing)) is not None
    }
    prefill_c = keep_best_per_type(prefill_c, buckets, slo, objective, price)
    decode_c = keep_best_per_type(decode_c, buckets, slo, objective, price)
    prefill = price_pools(catalog, prefill_c, constraints.region, constraints.pricing)
    decode = price_pools(catalog, decode_c, constraints.region, constraints.pricing)
    pairs, refused = link_pairs(model, catalog, prefill, decode, buckets, slo)
    say(f"solving the split over {len(pairs)} linked prefill/decode pairs ({refused} without a link)")
    factors = (1.0, 1.0)
    mix, why = _solve(inputs, prefill, decode, pairs, factors)
    cross = cheapest_cross_vendor(inputs, prefill, decode, pairs)
    solve_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    rounds: list[SplitRound] = []
    for r in range(replay_rounds + 1 if replay_rounds and mix is not None else 0):
        assert mix is not None
        say(f"disaggregated replay round {r + 1}: {mix.fleet} over {len(trace):,} requests")
        measured = replay_split(inputs, mix)
        if measured is None:
            break
        rounds.append(_round(r + 1, mix, measured, slo, factors))
        if rounds[-1].meets_slo or r == replay_rounds:
            break
        missed = rounds[-1].missed
        factors = (
            factors[0] * (TIGHTEN_STEP if "TTFT" in missed or not missed else 1.0),
            factors[1] * (TIGHTEN_STEP if "TPOT" in missed or not missed else 1.0),
        )
        tightened, _ = _solve(inputs, prefill, decode, pairs, factors)
        if tightened is None:
            break
        mix = tightened
    return SplitRun(
        mix,
        why,
        tuple(rounds),
        len(prefill_c),
        len(decode_c),
        len(pairs),
        refused,
        cross,
        solve_s,
        time.perf_counter() - t1,
    )


def _solve(
    inputs: _Inputs, prefill: Sequence[Pool], decode: Sequence[Pool], pairs: Sequence[Pair],
    factors: tuple[float, float],
) -> tuple[DisaggMix | None, str]:  # fmt: skip
    return solve_split(
        prefill, decode, pairs, inputs.buckets, inputs.objective, rate_scale=inputs.design, traffic_scale=1.0,
        tail_share=inputs.tail_share, max_instances_per_type=inputs.constraints.max_instances_per_type,
        factors=factors,
    )  # fmt: skip


def cheapest_cross_vendor(
    inputs: _Inputs, prefill: Sequence[Pool], decode: Sequence[Pool], pairs: Sequence[Pair]
) -> tuple[PairOption, ...]:
    """The cheapest (on the objective) pairs of unlike chips, cross-vendor ones first (Trainium2 with Inferentia2
    is one vendor, two chips), each type pair once (at its cheapest region), each sized alone by the capacity
    model: ``n_p = ⌈Σ_b λ_b / P_b⌉``, ``n_d = ⌈Σ_b λ_b / D_b⌉`` (every bucket to the pair; pairs that cannot meet
    the SLOs for some bucket are left out)."""
    rates = np.array([b.rate_per_s for b in inputs.buckets]) * inputs.design
    out = []
    for pr in pairs:
        p, d = prefill[pr.prefill], decode[pr.decode]
        if p.candidate.chip == d.candidate.chip:
            continue
        pcap = np.array(pr.prefill_cap)
        dcap = np.minimum(np.array(d.candidate.capacity_per_replica), np.array(pr.link_rps))
        dcap = dcap * d.candidate.replicas_per_instance
        if np.any(pcap <= 0) or np.any(dcap <= 0):
            continue
        n_p = math.ceil(float((rates / pcap).sum()) - 1e-9)
        n_d = math.ceil(float((rates / dcap).sum()) - 1e-9)
        cost = n_p * p.price_usd_per_h + n_d * d.price_usd_per_h
        power = (n_p * p.candidate.static_power_w * p.pue) + (n_d * d.candidate.static_power_w * d.pue)
        gb = float((rates * np.array(pr.gb_per_request)).sum())
        out.append(
            PairOption(
                prefill=p.candidate.instance, decode=d.candidate.instance, prefill_tp=p.candidate.tp,
                decode_tp=d.candidate.tp, prefill_count=n_p, decode_count=n_d,
                link=f"{pr.link.kind.value}, {pr.link.bytes_per_s / 1e9:,.1f} GB/s", link_gb_per_s=gb,
                cost_usd_per_h=cost, power_w=power, cross_vendor=p.candidate.vendor != d.candidate.vendor,
            )
        )  # fmt: skip

    def key(o: PairOption) -> tuple[bool, float]:
        return not o.cross_vendor, o.cost_usd_per_h if inputs.objective is ServeObjective.COST else o.power_w

    best: dict[tuple[str, str], PairOption] = {}
    for o in sorted(out, key=key):
        best.setdefault((o.prefill, o.decode), o)
    return tuple(list(best.values())[:CROSS_VENDOR_SHOWN])


@dataclass(frozen=True)
class _Measured:
    ttft_s: dict[str, float]
    tpot_s: dict[str, float]
    slo_attainment: float | None
    rejected: int
    link_utilisation: float | None


def replay_split(inputs: _Inputs, mix: DisaggMix) -> _Measured | None:
    """Replay the trace on the split's one prefill pool and one decode pool in the disaggregated simulator
    (:func:`chipfleet.sim.serving.simulate_disaggregated`); None when the split has several pools of a role (the
    simulator takes one of each)."""
    if len(mix.prefill) != 1 or len(mix.decode) != 1:
        return None
    from chipfleet.sim.serving import DisaggOptions, PoolSpec, simulate_disaggregated

    p, d = mix.prefill[0], mix.decode[0]
    c = inputs.constraints
    opts = DisaggOptions(
        max_batch_tokens=c.max_batch_tokens, max_seqs=max(c.max_seqs), precision=c.precisions[0],
        slo_ttft_s=inputs.slo.ttft_p90_s, slo_tpot_s=inputs.slo.tpot_p90_s,
    )  # fmt: skip
    result = simulate_disaggregated(
        inputs.model, inputs.trace, PoolSpec(p.instance, p.count, tp=p.tp, region=p.region),
        PoolSpec(d.instance, d.count, tp=d.tp, max_seqs=d.max_seqs, region=d.region), inputs.catalog, opts,
        seed=inputs.seed, pricing=c.pricing,
    )  # fmt: skip
    return _Measured(result.ttft_s, result.tpot_s, result.slo_attainment, result.rejected, result.link.utilization)


def _round(r: int, mix: DisaggMix, m: _Measured, slo: ServeSLO, factors: tuple[float, float]) -> SplitRound:
    missed = []
    if m.ttft_s.get("p90", math.inf) > slo.ttft_p90_s:
        missed.append(f"p90 TTFT {m.ttft_s.get('p90', math.inf):.3g} s")
    if m.tpot_s.get("p90", math.inf) > slo.tpot_p90_s:
        missed.append(f"p90 TPOT {m.tpot_s.get('p90', math.inf) * 1e3:.3g} ms")
    return SplitRound(
        round=r, fleet=mix.fleet, cost_usd_per_h=mix.cost_usd_per_h, ttft_s=m.ttft_s, tpot_s=m.tpot_s,
        slo_attainment=m.slo_attainment, meets_slo=not missed and not m.rejected, missed=", ".join(missed),
        factors=factors, link_utilisation=m.link_utilisation,
    )  # fmt: skip


def decide(
    mode: DisaggMode,
    objective: ServeObjective,
    aggregated_value: float | None,
    aggregated_meets: bool | None,
    mix: DisaggMix | None,
    why_none: str,
    rounds: tuple[SplitRound, ...],
) -> tuple[bool, str, str, float | None]:
    """(the split is the plan, why, the split's replay status, its saving on the objective).

    ``on``: the split whenever there is one. ``auto``: the split when its replay meets the p90 SLOs (or, not
    replayed, its model does) and it beats the aggregated plan on the objective, or the aggregated plan's replay
    misses them while the split's meets them."""
    unit = "$/h" if objective is ServeObjective.COST else "kW"
    scale = 1.0 if objective is ServeObjective.COST else 1e-3
    if mix is None:
        return False, f"no disaggregated fleet: {why_none}", NOT_REPLAYED + ": nothing to replay", None
    value = mix.objective_value(objective)
    if rounds:
        last = rounds[-1]
        status = "replayed: meets the p90 SLOs" if last.meets_slo else f"replayed: misses ({last.missed})"
        split_ok = last.meets_slo
    else:
        several = len(mix.prefill) > 1 or len(mix.decode) > 1
        status = NOT_REPLAYED + (": several pools of a role" if several else ": replay off (max rounds 0)")
        split_ok = True
    saving = None if aggregated_value is None else 1.0 - value / aggregated_value
    figures = f"{value * scale:,.2f} {unit} split against {aggregated_value * scale:,.2f} {unit} aggregated" if (
        aggregated_value is not None) else f"{value * scale:,.2f} {unit}"  # fmt: skip
    if mode is DisaggMode.ON:
        return True, f"disaggregation asked for (--disagg on): {figures}", status, saving
    if not split_ok:
        return False, f"the split misses the p90 SLOs in its replay ({rounds[-1].missed}); {figures}", status, saving
    if aggregated_meets is False:
        return True, f"the aggregated plan misses the p90 SLOs in its replay and the split meets them: {figures}", (
            status), saving  # fmt: skip
    assert saving is not None
    if saving > 1e-9:
        return True, f"splitting saves {saving:.1%}: {figures}", status, saving
    if saving > -1e-9:
        return False, f"splitting does not pay: the same {unit} ({figures}), without a KV transfer", status, saving
    return False, f"splitting does not pay: {figures} ({-saving:.1%} more)", status, saving
