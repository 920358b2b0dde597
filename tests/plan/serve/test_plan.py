"""The serving planner: buckets, the mixed-integer program against brute force, replay and tightening."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from chipfleet.catalog import Catalog, Precision, Pricing
from chipfleet.exceptions import ConfigError, InfeasibleServeError, UnknownNameError
from chipfleet.plan.serve import plan as sp
from chipfleet.traces import RequestTrace, poisson
from chipfleet.workloads import get_model

SLO = sp.ServeSLO(ttft_p90_s=1.0, tpot_p90_s=0.06)
LONG_8B = "llama-3.1-8b"
"""Llama-3-8B's architecture with a 128k context window: the 12k-token prompts of these traces are within it (Llama 3
8B's 8,192-token window leaves them out: test_requests_beyond_the_context_window_are_left_out)."""


def _trace(rate: float = 3.0, duration_s: float = 300.0, seed: int = 0, max_prompt: int = 12000) -> RequestTrace:
    return poisson(
        rate, duration_s=duration_s, input_dist=f"lognormal:mean=1200,sigma=1.0,max={max_prompt}",
        output_dist="lognormal:mean=150,sigma=0.8,max=1500", rng=np.random.default_rng(seed),
    )  # fmt: skip


def _deployment(name: str, price: float, caps: list[float], replicas: int = 1) -> sp.Deployment:
    n = len(caps)
    return sp.Deployment(
        instance=name, cloud="aws", chip="x", tp=1, precision=Precision.BF16, max_seqs=256,
        replicas_per_instance=replicas, kv_capacity_tokens=10**6, region="r", pricing=Pricing.ON_DEMAND,
        price_usd_per_h=price, pue=1.0, grid_gco2_per_kwh=None, static_power_w=100.0 * price,
        busy_power_w_per_chip=300.0, validated=True, capacity_per_replica=tuple(caps), busy_fraction=(0.5,) * n,
        ttft_p90_s=(0.1,) * n, tpot_p90_s=(0.01,) * n, best_ttft_p90_s=(0.05,) * n, best_tpot_p90_s=(0.01,) * n,
    )  # fmt: skip


def _buckets(rates: list[float]) -> list[sp.Bucket]:
    return [
        sp.Bucket(
            input_lo=256 * i,
            input_hi=256 * (i + 1),
            output_lo=0,
            output_hi=sp.OPEN_EDGE,
            requests=100,
            rate_per_s=r,
            input_mean=100.0 + 256 * i,
            input_sq_mean=(100.0 + 256 * i) ** 2,
            input_p90=120.0 + 256 * i,
            output_mean=100.0,
            output_p90=150.0,
        )
        for i, r in enumerate(rates)
    ]


def _brute_force(deps: list[sp.Deployment], buckets: list[sp.Bucket]) -> float:
    """Every integer count vector; the routing for each is a feasibility LP."""
    rates = np.array([b.rate_per_s for b in buckets])
    caps = np.array([[d.capacity_per_replica[b] * d.replicas_per_instance for d in deps] for b in range(len(buckets))])
    best = math.inf
    for counts in itertools.product(range(6), repeat=len(deps)):
        cost = sum(c * d.price_usd_per_h for c, d in zip(counts, deps, strict=True))
        if cost >= best:
            continue
        pairs = [(b, k) for b in range(len(buckets)) for k in range(len(deps)) if caps[b, k] > 0 and counts[k] > 0]
        if {b for b, _ in pairs} != set(range(len(buckets))):
            continue
        a_eq = np.zeros((len(buckets), len(pairs)))
        a_ub = np.zeros((len(deps), len(pairs)))
        for p, (b, k) in enumerate(pairs):
            a_eq[b, p] = 1.0
            a_ub[k, p] = rates[b] / caps[b, k]
        lp = linprog(np.zeros(len(pairs)), A_ub=a_ub, b_ub=np.array(counts, float), A_eq=a_eq,
                     b_eq=np.ones(len(buckets)), bounds=(0, 1))  # fmt: skip
        if lp.status == 0:
            best = cost
    return best


def test_milp_matches_brute_force() -> None:
    # Three types with different strengths: cheap and good at short prompts, dear and good at long ones,
    # and one in between; the cheapest fleet mixes them.
    deps = [
        _deployment("small", 1.0, [4.0, 1.0, 0.0]),
        _deployment("mid", 2.5, [6.0, 4.0, 1.0]),
        _deployment("big", 6.0, [12.0, 10.0, 5.0], replicas=2),
    ]
    buckets = _buckets([7.0, 3.0, 2.5])
    mix = sp.solve_mix(deps, buckets)
    assert mix is not None
    assert mix.cost_usd_per_h == pytest.approx(_brute_force(deps, buckets))
    for b in range(len(buckets)):  # every bucket routed in full, only to types that can serve it
        assert sum(e.bucket_shares[b] for e in mix.entries) == pytest.approx(1.0, abs=1e-6)
    for e in mix.entries:
        assert e.load <= 1.0 + 1e-6
        assert all(s == 0 or e.deployment.capacity_per_replica[b] > 0 for b, s in enumerate(e.bucket_shares))


def test_one_configuration_per_instance_type() -> None:
    # Two configurations of one type; the program may buy only one of them.
    deps = [_deployment("t", 1.0, [5.0, 0.0]), replace(_deployment("t", 1.0, [0.0, 5.0]), tp=2)]
    assert sp.solve_mix(deps, _buckets([1.0, 1.0])) is None
    assert sp.solve_mix([*deps, _deployment("u", 3.0, [1.0, 1.0])], _buckets([1.0, 1.0])) is not None


@settings(max_examples=25, deadline=None)
@given(
    caps=st.lists(st.lists(st.floats(0.0, 10.0), min_size=3, max_size=3), min_size=2, max_size=4),
    prices=st.lists(st.floats(0.5, 10.0), min_size=4, max_size=4),
    rates=st.lists(st.floats(0.1, 8.0), min_size=3, max_size=3),
)
def test_a_mix_never_costs_more_than_the_best_single_type(
    caps: list[list[float]], prices: list[float], rates: list[float]
) -> None:
    deps = [_deployment(f"t{k}", prices[k], c) for k, c in enumerate(caps)]
    buckets = _buckets(rates)
    mix = sp.solve_mix(deps, buckets)
    single = sp.best_single_type(deps, buckets, sp.ServeObjective.COST)
    if single is not None:
        assert mix is not None and mix.cost_usd_per_h <= single.cost_usd_per_h + 1e-6
    if mix is None:
        assert single is None


def test_energy_objective_uses_no_more_power() -> None:
    deps = [_deployment("a", 1.0, [4.0, 2.0]), replace(_deployment("b", 1.2, [4.0, 2.0]), static_power_w=20.0)]
    buckets = _buckets([6.0, 3.0])
    by_cost = sp.solve_mix(deps, buckets, sp.ServeObjective.COST)
    by_energy = sp.solve_mix(deps, buckets, sp.ServeObjective.ENERGY)
    assert by_cost is not None and by_energy is not None
    assert by_energy.power_w <= by_cost.power_w and by_energy.cost_usd_per_h >= by_cost.cost_usd_per_h
    assert by_energy.instances == {"b": by_energy.instances["b"]}


def test_bucketize_counts_and_rates() -> None:
    trace = _trace()
    buckets = sp.bucketize(trace)
    assert sum(b.requests for b in buckets) == len(trace)
    span = trace.duration_s * len(trace) / (len(trace) - 1)
    assert sum(b.rate_per_s for b in buckets) == pytest.approx(len(trace) / span)
    for b in buckets:
        assert b.input_lo < b.input_mean <= b.input_hi and b.output_lo < b.output_mean <= b.output_hi
        assert b.input_sq_mean >= b.input_mean**2
    with pytest.raises(ConfigError, match="increasing"):
        sp.bucketize(trace, input_edges=(1024, 512))


def test_peak_factor() -> None:
    steady = _trace(rate=20.0, duration_s=600.0)
    assert 1.0 <= sp.peak_factor(steady, 30.0) < 1.15  # Poisson: only noise
    assert sp.peak_factor(steady, 0.0) == 1.0
    # A trace whose second half arrives at four times the rate of its first.
    calm, busy = _trace(rate=5.0, duration_s=300.0), _trace(rate=20.0, duration_s=300.0, seed=1)
    arrivals = np.concatenate([calm.arrival_s, 300.0 + busy.arrival_s])
    bursty = RequestTrace("bursty", arrivals, np.full(arrivals.size, 100), np.full(arrivals.size, 10))
    assert sp.peak_factor(bursty, 30.0) > 1.4


def test_daily_curve() -> None:
    values, source = sp.daily_curve(_trace(), peak_to_trough=3.0)
    assert len(values) == 24 and max(values) / min(values) == pytest.approx(3.0, rel=0.02)
    assert np.mean(values) == pytest.approx(1.0, rel=0.01) and "assumed" in source
    given_curve = [1.0] * 23 + [2.0]
    assert sp.daily_curve(_trace(), given_curve)[0][-1] == 2.0
    with pytest.raises(ConfigError, match="24"):
        sp.daily_curve(_trace(), [1.0] * 23)


INSTANCES = ("g6e.xlarge", "inf2.xlarge", "p4de.24xlarge")


def test_plan_end_to_end(cat: Catalog) -> None:
    trace = _trace()
    said: list[str] = []
    plan = sp.serve(
        get_model(LONG_8B), trace, SLO, catalog=cat, constraints=sp.ServeConstraints(instances=INSTANCES),
        per_hour=True, progress=said.append,
    )  # fmt: skip
    for stage in ("bucketing", "capacities", "solving the mix", "replay round 1", "single instance type", "hour 23"):
        assert any(stage in line for line in said), stage
    assert plan.mix.entries and set(plan.mix.instances) <= set(INSTANCES)
    assert plan.rounds and plan.meets_slo
    assert plan.replay is not None and plan.replay.completed == len(trace)
    assert plan.replay.ttft_s["p90"] <= SLO.ttft_p90_s and plan.replay.tpot_s["p90"] <= SLO.tpot_p90_s
    assert plan.single is not None and plan.savings is not None and plan.savings >= -1e-9
    for shares in plan.mix.routing().values():
        assert sum(shares.values()) == pytest.approx(1.0)
    assert plan.mix.usd_per_million_output_tokens > 0 and plan.mix.j_per_output_token > 0
    hourly = plan.hourly
    assert hourly is not None and len(hourly.mixes) == 24
    assert all(m.cost_usd_per_h <= hourly.static.cost_usd_per_h + 1e-9 for m in hourly.mixes)
    assert hourly.autoscaled_usd_per_day <= hourly.static_usd_per_day and 0 <= hourly.savings < 1
    assert hourly.startup_s == sp.DEFAULT_STARTUP_S and "AWS" in hourly.startup_source
    assert hourly.churn_usd_per_day >= 0  # the unit test below has churn; this small fleet may not
    assert hourly.as_dict()["churn_usd_per_day"] == pytest.approx(hourly.churn_usd_per_day)
    json.dumps(plan.as_dict(), default=str)


def _optimistic(cat: Catalog, rate: float, rounds: int) -> tuple[list[sp.Deployment], sp._Planner]:
    """g6e.xlarge configurations whose capacities are four times what the model says, and a planner."""
    model, trace = get_model("llama-3-8b"), _trace(rate=rate, max_prompt=5000)
    c = sp.ServeConstraints(instances=("g6e.xlarge",))
    buckets = sp.bucketize(trace)
    deps = sp.deployments(model, buckets, SLO, cat, c)
    inflated = [replace(d, capacity_per_replica=tuple(4 * x for x in d.capacity_per_replica)) for d in deps]
    return inflated, sp._Planner(model, trace, buckets, SLO, cat, c, sp.ServeObjective.COST, rounds, 0, 1.0)


def test_replay_misses_then_tightens(cat: Catalog) -> None:
    """A capacity model four times too optimistic: the replay misses, the planner scales the capacity of the
    types that missed down and re-solves, and says so."""
    inflated, planner = _optimistic(cat, 6.0, rounds=6)
    # The first mix comes from the bare program (no mixture check), so it is the replay that must catch it.
    first = sp.solve_mix(inflated, planner.buckets)
    assert first is not None
    mix, rounds, result, factors = planner.verify(inflated, first, {d.instance: 1.0 for d in inflated})
    assert not rounds[0].meets_slo and rounds[0].missed_by
    assert len(rounds) > 1 and factors["g6e.xlarge"] < 1.0
    assert mix.instances["g6e.xlarge"] > first.instances["g6e.xlarge"]
    assert rounds[-1].meets_slo and result is not None and result.ttft_s["p90"] <= SLO.ttft_p90_s


def test_mixture_check_tightens_before_any_replay(cat: Catalog) -> None:
    inflated, planner = _optimistic(cat, 14.0, rounds=0)
    naive = sp.solve_mix(inflated, planner.buckets)
    settled, factors = planner.solve(inflated)
    assert naive is not None and settled is not None
    assert factors["g6e.xlarge"] < 1.0 and settled.instances["g6e.xlarge"] > naive.instances["g6e.xlarge"]
    for e in settled.entries:
        headroom = sp.mixture_headroom(
            planner.model, e, planner.buckets, SLO, cat, 1.0, planner.constraints.max_batch_tokens
        )
        assert headroom >= 1.0


def test_infeasible_slo_names_the_bucket(cat: Catalog) -> None:
    with pytest.raises(InfeasibleServeError) as err:
        sp.serve(
            get_model(LONG_8B), _trace(), sp.ServeSLO(0.01, 0.06), catalog=cat,
            constraints=sp.ServeConstraints(instances=INSTANCES), replay_rounds=0,
        )  # fmt: skip
    text = str(err.value)
    assert "bucket in " in text and "best p90 TTFT is" in text and "against 0.01 s" in text
    assert "max=" in text and "best effort" in text  # the length cap and the fleet's allowance are named
    assert err.value.buckets and all(label.startswith("in ") for label in err.value.buckets)


def test_a_tp_no_instance_can_run_names_the_chip_counts(cat: Catalog) -> None:
    """--tp 30: no instance has 30 chips (or a multiple); the error says so, with the chip counts and the degrees
    that work, instead of 'rejected: none matched'."""
    c = sp.ServeConstraints(instances=("p5.48xlarge", "inf2.48xlarge"), tp=(30,))
    with pytest.raises(InfeasibleServeError) as err:
        sp.serve(get_model("llama-3-8b"), _trace(duration_s=30.0), SLO, catalog=cat, constraints=c, replay_rounds=0)
    text = str(err.value)
    assert "none matched" not in text and "at --tp 30" in text
    assert "the allowed instances have 8, 12 chips" in text and "32 query heads" in text
    assert "8 (p5.48xlarge)" in text and "12 (inf2.48xlarge)" in text and "3 (inf2.48xlarge)" in text
    assert "drop --tp" in text
    # 3 divides inf2.48xlarge's 12 chips (Neuron pads the heads), so it is planned there and not refused
    plan = sp.serve(get_model("llama-3-8b"), _trace(duration_s=30.0, max_prompt=4000), SLO, catalog=cat,
                    constraints=replace(c, tp=(3,)), replay_rounds=0)  # fmt: skip
    assert {(e.deployment.instance, e.deployment.tp) for e in plan.mix.entries} == {("inf2.48xlarge", 3)}


def test_nothing_allowed_is_a_clear_error(cat: Catalog) -> None:
    with pytest.raises(InfeasibleServeError, match="no allowed instance type can hold llama-3-70b"):
        sp.serve(get_model("llama-3-70b"), _trace(), SLO, catalog=cat,
                 constraints=sp.ServeConstraints(instances=("inf2.xlarge",)), replay_rounds=0)  # fmt: skip
    with pytest.raises(InfeasibleServeError, match=r"model does not fit at that tp: \d+"):
        sp.serve(get_model("llama-3-70b"), _trace(), SLO, catalog=cat,
                 constraints=sp.ServeConstraints(instances=("inf2.xlarge",)), replay_rounds=0)  # fmt: skip
    with pytest.raises(UnknownNameError, match=r"Did you mean g6e\.xlarge"):
        sp.serve(get_model("llama-3-8b"), _trace(), SLO, catalog=cat,
                 constraints=sp.ServeConstraints(instances=("g6e.xlarg",)))  # fmt: skip
    with pytest.raises(ConfigError, match="slo-ttft-p90"):
        sp.ServeSLO(0.0, 0.05)


# ----------------------------------------------------------------------------- fleet-level p90 (issue 10)
def test_planning_quantile_leaves_the_fleet_its_p90() -> None:
    assert sp.planning_quantile(0.0) == pytest.approx(0.9)
    for s in (0.005, 0.02, 0.05):
        q = sp.planning_quantile(s)
        assert q > 0.9
        assert s + (1.0 - s) * (1.0 - q) == pytest.approx(0.1)  # best effort + the others' tail = 10 %
    with pytest.raises(ConfigError, match="best-effort share"):
        sp.planning_quantile(0.1)


def _with_best_effort(d: sp.Deployment, caps: list[float]) -> sp.Deployment:
    return replace(d, best_effort_capacity=tuple(caps), best_effort_busy_fraction=(0.9,) * len(caps))


def test_a_rare_bucket_is_served_best_effort_within_the_allowance() -> None:
    # Bucket 1 meets the SLOs only on the dear type; the cheap one holds it (best effort).
    cheap = _with_best_effort(_deployment("cheap", 1.0, [4.0, 0.0]), [6.0, 2.0])
    dear = _with_best_effort(_deployment("dear", 20.0, [8.0, 4.0]), [10.0, 6.0])
    rare = _buckets([3.0, 0.03])  # bucket 1: 1 % of the rate
    rare = [rare[0], replace(rare[1], requests=1)]
    per_bucket = sp.solve_mix([cheap, dear], rare)  # the old rule: every bucket within the SLOs
    assert per_bucket is not None and per_bucket.instances.get("dear", 0) == 1
    assert per_bucket.best_effort_share == 0.0
    fleet = sp.solve_mix([cheap, dear], rare, tail_share=0.02)
    assert fleet is not None and fleet.instances == {"cheap": 1}
    assert fleet.best_effort_by_bucket()[1] == pytest.approx(1.0) and fleet.best_effort_by_bucket()[0] == 0.0
    assert fleet.cost_usd_per_h < per_bucket.cost_usd_per_h
    # A bucket of 5 % of the traffic: only 2 % may miss, so most of it still goes where it meets the SLOs.
    common = _buckets([3.0, 3.0 * 0.05 / 0.95])
    mixed = sp.solve_mix([cheap, dear], common, tail_share=0.02)
    assert mixed is not None and mixed.instances.get("dear", 0) >= 1
    rates = np.array([b.rate_per_s for b in common])
    planned_miss = float(np.array(mixed.best_effort_by_bucket()) @ rates / rates.sum())
    assert planned_miss <= 0.02 + 1e-9 and mixed.best_effort_by_bucket()[1] <= 0.4 + 1e-9


def _tail_trace(long_prompt: int, count: int = 1) -> RequestTrace:
    base = _trace(max_prompt=4000)
    inp = np.array(base.input_tokens)
    inp[len(inp) // 2 : len(inp) // 2 + count] = long_prompt
    return RequestTrace("tail", base.arrival_s, inp, base.output_tokens)


def test_one_long_prompt_does_not_set_the_fleet(cat: Catalog) -> None:
    """Issue 10: one 8k–16k prompt among ~900 turned a cheap plan into one large instance, because every
    bucket had to meet the p90 SLOs on its own; the replay judges the fleet's p90, and so does the plan."""
    model, c = get_model(LONG_8B), sp.ServeConstraints(instances=INSTANCES)
    base = sp.serve(model, _trace(max_prompt=4000), SLO, catalog=cat, constraints=c, replay_rounds=2)
    tail = sp.serve(model, _tail_trace(12000), SLO, catalog=cat, constraints=c, replay_rounds=2)
    strict = sp.serve(model, _tail_trace(12000), SLO, catalog=cat, constraints=c, replay_rounds=2, strict=True)
    assert strict.mix.cost_usd_per_h > 1.5 * base.mix.cost_usd_per_h  # the per-bucket rule: the tail sets it
    assert tail.mix.cost_usd_per_h <= base.mix.cost_usd_per_h * 1.25
    assert 0.0 < tail.mix.best_effort_share <= sp.TAIL_SHARE + 1e-6 and not strict.mix.best_effort_share
    assert tail.meets_slo and tail.replay is not None  # judged as before: the fleet's p90 over all requests
    assert tail.replay.ttft_s["p90"] <= SLO.ttft_p90_s and tail.replay.tpot_s["p90"] <= SLO.tpot_p90_s
    assert tail.replay.completed == len(_tail_trace(12000))
    assert json.loads(json.dumps(tail.as_dict(), default=str))["mix"]["best_effort"]


def test_requests_no_replica_holds_are_left_out_and_reported(cat: Catalog) -> None:
    model, c = get_model(LONG_8B), sp.ServeConstraints(instances=("g5.xlarge", "inf2.xlarge"))
    trace = _tail_trace(125_000, count=3)  # within the 128k context window, longer than these KV caches (≤ 121k)
    plan = sp.serve(model, trace, SLO, catalog=cat, constraints=c, replay_rounds=1)
    x = plan.excluded
    assert x is not None and x.requests == 3 and x.share == pytest.approx(3 / len(trace))
    assert x.longest_tokens > x.kv_limit_tokens and "KV cache" in x.reason
    assert x.beyond_context == 0 and "context window" not in x.reason
    assert plan.requests == len(trace) and plan.replay is not None and plan.replay.completed == len(trace) - 3
    assert plan.replay.rejected == 0
    assert plan.as_dict()["excluded"]["requests"] == 3
    with pytest.raises(InfeasibleServeError, match="fits no replica's KV cache"):
        sp.serve(model, trace, SLO, catalog=cat, constraints=c, replay_rounds=0, strict=True)


def test_requests_beyond_the_context_window_are_left_out(cat: Catalog) -> None:
    """Llama 3 8B reads at most 8,192 tokens of prompt and output: longer requests are reported and left out
    (no server admits them), whatever the KV cache could hold; --strict refuses to plan without them."""
    model, c = get_model("llama-3-8b"), sp.ServeConstraints(instances=INSTANCES)
    assert model.max_position_embeddings == 8192
    trace = _tail_trace(12_000, count=3)
    plan = sp.serve(model, trace, SLO, catalog=cat, constraints=c, replay_rounds=1)
    x = plan.excluded
    assert x is not None and x.requests == x.beyond_context == 3 and x.context_window_tokens == 8192
    assert x.longest_tokens > 12_000 and "3 longer than the model's context window" in x.reason
    assert x.kv_limit_tokens > 12_000  # a KV cache holds them: the window, not memory, leaves them out
    assert plan.replay is not None and plan.replay.requests == len(trace) - 3 and plan.replay.rejected == 0
    assert plan.requests == len(trace) and plan.as_dict()["excluded"]["beyond_context"] == 3
    from chipfleet.report.serve_plan import summary_lines

    assert any("Left out of the plan: 3 requests" in line and "context window" in line for line in summary_lines(plan))
    with pytest.raises(InfeasibleServeError, match=r"3 of \d+ requests are longer than llama-3-8b's context window"):
        sp.serve(model, trace, SLO, catalog=cat, constraints=c, replay_rounds=0, strict=True)
    every = RequestTrace("long", trace.arrival_s[:5], np.full(5, 9000), trace.output_tokens[:5])
    with pytest.raises(InfeasibleServeError, match="fewer than 2 would be left"):
        sp.serve(model, every, SLO, catalog=cat, constraints=c, replay_rounds=0)


def test_length_caps_are_in_the_advice_and_the_help() -> None:
    from typer.testing import CliRunner

    from chipfleet.cli import app

    out = CliRunner().invoke(app, ["plan", "serve", "--help"], env={"COLUMNS": "240", "TERM": "dumb"}).output
    assert "max=" in out and "--strict" in out and "--startup-time" in out
    assert "max=8k" in out and "uniform:128,2k" in out  # the token forms read k = 1024 (chipfleet.units)
    assert "max=8k" in sp.LENGTH_CAP_ADVICE
    # the advice's example is a form the option accepts, and means 8,192 tokens
    from chipfleet.traces import LognormalLength, parse_length_dist

    example = sp.LENGTH_CAP_ADVICE.split("--input-tokens ")[1].split(",")
    dist = parse_length_dist(",".join(example[:3]).split(" ")[0])
    assert isinstance(dist, LognormalLength) and dist.max_tokens == 8192


def test_hourly_autoscaling_counts_the_churn_of_starting_instances() -> None:
    deps = [_deployment("a", 2.0, [4.0]), _deployment("b", 5.0, [12.0])]
    buckets = _buckets([10.0])
    multipliers = (0.2, 1.0, 0.5)
    mixes = []
    for m in multipliers:
        mix = sp.solve_mix(deps, buckets, rate_scale=m)
        assert mix is not None
        mixes.append(mix)
    free = sp.HourlyPlan(multipliers, "given", tuple(mixes), mixes[1])
    billed = sp.HourlyPlan(multipliers, "given", tuple(mixes), mixes[1], startup_s=1800.0)
    assert free.churn_usd_per_day == 0.0
    expected = 0.0
    for h, mix in enumerate(mixes):  # the day repeats: hour 0 follows the last hour
        before = mixes[h - 1].instances
        for e in mix.entries:
            grown = e.count - before.get(e.deployment.instance, 0)
            expected += max(0, grown) * e.deployment.price_usd_per_h * 0.5
    assert expected > 0 and billed.churn_usd_per_day == pytest.approx(expected)
    assert billed.autoscaled_usd_per_day == pytest.approx(billed.instance_usd_per_day + expected)
    assert billed.savings < free.savings
    d = billed.as_dict()
    assert d["churn_usd_per_day"] == pytest.approx(expected) and d["instance_startup_s"] == 1800.0
    assert sum(sum(h["instances_started"].values()) for h in d["hours"]) == d["instances_started_per_day"] > 0


def test_summary_says_one_type_is_the_plan_instead_of_a_zero_saving(cat: Catalog) -> None:
    """When one instance type is the plan, the summary says so (and what the mixed alternative cost), never
    'the mix saves 0.0 %'."""
    from chipfleet.report.serve_plan import summary_lines

    model = get_model("llama-3-8b")
    c = sp.ServeConstraints(instances=("inf2.48xlarge",))
    alone = sp.serve(model, _trace(duration_s=60.0, max_prompt=4000), SLO, catalog=cat, constraints=c, replay_rounds=1)
    text = " ".join(summary_lines(alone))
    assert alone.one_type and "saves" not in text
    assert f"One instance type is the plan: {alone.mix.describe()}" in text and "no mix of instance types" in text

    mixed = sp.serve(get_model(LONG_8B), _trace(rate=5.0, duration_s=120.0), SLO, catalog=cat,
                     constraints=sp.ServeConstraints(instances=INSTANCES), replay_rounds=1)  # fmt: skip
    assert mixed.single is not None and mixed.rounds[-1].meets_slo and not mixed.one_type
    assert not mixed.chose_single and mixed.mixed_alternative is None
    assert "the mix saves" in " ".join(summary_lines(mixed))  # a mix of types: its saving is the sentence
    # the replayed single type beat the mix: it is the plan, and the set-aside mix's cost is given
    chosen = replace(mixed, mix=mixed.single, chose_single=True, mixed_alternative=mixed.mix)
    text = " ".join(summary_lines(chosen))
    assert "saves" not in text and "One instance type is the plan" in text and "came out cheaper" in text
    assert f"the mixed alternative, {mixed.mix.describe()}, cost ${mixed.mix.cost_usd_per_h:,.2f}/h" in text
    assert json.loads(json.dumps(chosen.as_dict()))["mixed_alternative"]["cost_usd_per_h"] == pytest.approx(
        mixed.mix.cost_usd_per_h
    )
