"""Serving planner: the public :func:`serve` and its result, the cheapest (or least-energy) mix of instances that
serves a workload within p90 SLOs.

1. **Buckets** (:mod:`chipfleet.plan.serve.buckets`). The workload's requests are grouped by prompt and output
   length (powers of two for prompts, of four for outputs, by default); each bucket keeps its arrival rate and
   length moments. The fleet is sized for the trace's busy rate, :func:`peak_factor` times the mean (bursts
   longer than the TTFT SLO would otherwise push requests past it).
2. **Capacity** (:mod:`chipfleet.plan.serve.capacity`). For every allowed instance type and serving
   configuration (chips per replica, weight precision, sequence limit) the continuous-batching model of
   :mod:`chipfleet.perf.batching` gives, per bucket, the highest request rate one replica sustains with p90 TTFT
   and TPOT within the SLOs (0 where it cannot meet them at any load, or the requests do not fit its KV cache).
3. **Mix** (:mod:`chipfleet.plan.serve.milp`). A mixed-integer program (HiGHS through
   :func:`scipy.optimize.milp`), after Griggs et al. 2024 ("Mélange"), chooses integer instance counts ``n_k``
   and the share ``x_bk`` of each bucket routed to each configuration: ``min Σ price_k·n_k`` (or facility power)
   subject to ``Σ_k x_bk = 1`` for every bucket and ``Σ_b x_bk·λ_b / cap_bk ≤ replicas_k·n_k`` for every
   configuration, with at most one configuration per instance type (so a type's replicas are interchangeable
   and the routing table names types). The sum over buckets is optimistic when one replica serves long and
   short prompts together, so each type's share is checked against the capacity model of its actual bucket
   mixture (:func:`mixture_headroom`) and, where it exceeds it, that type's capacity is scaled down and the
   program solved again. Each replica's sequence limit (max batch) is set to what its KV cache holds at its
   traffic's full context (:func:`chipfleet.perf.batching.kv_safe_max_seqs`), so that a burst queues rather
   than preempts.
4. **Replay** (:mod:`chipfleet.plan.serve.verify`). The trace is replayed through the request-level simulator
   (:mod:`chipfleet.sim.serving`) with that mix and a size-aware router following the routing table. Where the
   replay's fleet p90 TTFT or TPOT misses an SLO, the capacity of each instance type that misses is scaled down
   by ``TIGHTEN_STEP`` and the program is solved again, up to ``max_rounds`` times; every round is reported.
   The best single instance type goes through the same steps; when its replayed fleet is cheaper (or alone
   meets the SLOs) it is the plan, so a plan never costs more than the best single type computed the same way.

Cost is the instances' hourly price; energy is instance power (chips idle to TDP with their busy share, plus
the host, as :class:`chipfleet.economics.costing.PowerModel`) times the region's PUE.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from chipfleet.catalog import Catalog, default_catalog
from chipfleet.exceptions import ConfigError, InfeasibleServeError
from chipfleet.plan.serve.buckets import (
    DEFAULT_INPUT_EDGES,
    DEFAULT_OUTPUT_EDGES,
    HOURS,
    LENGTH_CAP_ADVICE,
    Bucket,
    Excluded,
    bucketize,
    daily_curve,
    default_peak_window_s,
    peak_factor,
    without_requests,
)
from chipfleet.plan.serve.capacity import Deployment, check_every_bucket_served, deployments, no_deployment_reason
from chipfleet.plan.serve.milp import Mix
from chipfleet.plan.serve.spec import (
    FLEET_QUANTILE,
    TAIL_SHARE,
    DisaggMode,
    ServeConstraints,
    ServeObjective,
    ServeSLO,
    planning_quantile,
)
from chipfleet.plan.serve.split import DisaggOutcome, decide, plan_split
from chipfleet.plan.serve.verify import PlanSolver, ReplayRound, same_fleet
from chipfleet.sim.serving import ServeResult
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import ModelArch

__all__ = [
    "DEFAULT_STARTUP_S",
    "SERVE_PLAN_ASSUMPTIONS",
    "STARTUP_SOURCE",
    "Hour",
    "HourlyPlan",
    "ServePlan",
    "serve",
]

# Seconds from launching an instance to serving: 525 s end to end for Qwen3-8B on ml.g6.2xlarge with the
# container image pulled from ECR (333 s) and weights from S3 in parallel. Source: AWS Machine Learning Blog,
# "Introducing container caching in Amazon SageMaker AI for faster model scaling", 2026-06-17 (read at
# https://aihub.hkuspace.hku.hk/2026/06/17/introducing-container-caching-in-amazon-sagemaker-ai-for-faster-model-scaling/).
# Used as the billed warm-up of every instance an hourly plan adds; larger models load longer (an assumption).
DEFAULT_STARTUP_S = 525.0
STARTUP_SOURCE = (
    "525 s per instance started: SageMaker scale-out of Qwen3-8B on ml.g6.2xlarge without container caching "
    "(AWS Machine Learning Blog, 2026-06-17); taken for every model and instance type (an assumption)"
)


@dataclass(frozen=True)
class Hour:
    """One hour of an hourly plan, in brief: its load, its fleet and what it costs, and the instances started."""

    hour: int
    multiplier: float  # the hour's rate ÷ the workload's
    fleet: str
    cost_usd_per_h: float
    instances_started: dict[str, int]


@dataclass(frozen=True)
class HourlyPlan:
    """A mix per hour of a daily load curve, against one static fleet sized for the peak hour."""

    multipliers: tuple[float, ...]  # each hour's rate ÷ the workload's
    curve_source: str
    mixes: tuple[Mix, ...]
    static: Mix  # the peak hour's mix, kept all day
    startup_s: float = 0.0  # billed warm-up of every instance started (launch, image, weights)
    startup_source: str = ""

    # Each hour in brief (``hours``) rather than 24 full mixes with their routing.
    __json_omit__: ClassVar[tuple[str, ...]] = ("mixes",)
    __json_properties__: ClassVar[tuple[str, ...]] = (
        "hours",
        "instances_started_per_day",
        "instance_usd_per_day",
        "churn_usd_per_day",
        "autoscaled_usd_per_day",
        "static_usd_per_day",
        "savings",
    )

    def starts(self) -> tuple[dict[str, int], ...]:
        """Instances started at the top of each hour: ``max(0, n_h − n_{h−1})`` per type, the day repeating
        (hour 0 follows hour 23)."""
        out = []
        for h, mix in enumerate(self.mixes):
            before = self.mixes[h - 1].instances
            out.append({k: n - before.get(k, 0) for k, n in mix.instances.items() if n > before.get(k, 0)})
        return tuple(out)

    @property
    def hours(self) -> tuple[Hour, ...]:
        return tuple(
            Hour(h, m, mix.fleet, mix.cost_usd_per_h, started)
            for h, (m, mix, started) in enumerate(zip(self.multipliers, self.mixes, self.starts(), strict=True))
        )

    @property
    def instances_started_per_day(self) -> int:
        return sum(sum(h.values()) for h in self.starts())

    @property
    def instance_usd_per_day(self) -> float:
        return sum(m.cost_usd_per_h for m in self.mixes)

    @property
    def churn_usd_per_day(self) -> float:
        """Σ over hours and types of instances started × hourly price × ``startup_s`` (billed, not serving)."""
        prices = {e.deployment.instance: e.deployment.price_usd_per_h for m in self.mixes for e in m.entries}
        return sum(n * prices[k] for hour in self.starts() for k, n in hour.items()) * self.startup_s / 3600.0

    @property
    def autoscaled_usd_per_day(self) -> float:
        """Instance-hours of the hourly mixes plus the churn of starting instances."""
        return self.instance_usd_per_day + self.churn_usd_per_day

    @property
    def static_usd_per_day(self) -> float:
        return self.static.cost_usd_per_h * HOURS

    @property
    def savings(self) -> float:
        return 1.0 - self.autoscaled_usd_per_day / self.static_usd_per_day


@dataclass(frozen=True)
class ServePlan:
    """What :func:`serve` found: the mix, its routing, the single-type baseline, the replay rounds."""

    model: str
    workload: str
    requests: int
    span_s: float
    slo: ServeSLO
    objective: ServeObjective
    buckets: tuple[Bucket, ...]
    design_factor: float  # bucket rates were planned at this multiple of the mean (the busy-window rate)
    peak_window_s: float
    deployments: int  # configurations evaluated
    mix: Mix
    single: Mix | None  # the best one-instance-type fleet, solved and replayed the same way
    rounds: tuple[ReplayRound, ...]  # the mixed program's solve-and-replay rounds
    single_rounds: tuple[ReplayRound, ...]  # the single type's
    chose_single: bool  # the replayed single type came out cheaper (or alone met the SLO), so it is the mix
    replay: ServeResult | None  # the last round's simulation
    hourly: HourlyPlan | None
    solve_s: float  # capacities and the first program
    replay_s: float
    rejected: dict[str, int]
    assumptions: tuple[str, ...] = field(default=())
    excluded: Excluded | None = None  # requests left out: no allowed replica can hold them
    strict: bool = False  # every bucket within the SLOs at its own p90 (the per-bucket rule)
    tail_share: float = 0.0  # the share of requests the program could serve best effort
    planning_quantile: float = FLEET_QUANTILE  # the percentile buckets within the SLOs were planned at
    mixed_alternative: Mix | None = None  # the replayed mix of types set aside when the single type was chosen
    # With disagg auto or on: the disaggregated fleet, whether it is the plan (then ``mix`` is the aggregated
    # alternative), and why. None: disagg off (today's plan).
    disagg: DisaggOutcome | None = None

    __json_properties__: ClassVar[tuple[str, ...]] = ("one_type", "savings", "meets_slo", "tightened")

    @property
    def __json_omit__(self) -> tuple[str, ...]:
        """With disagg off the JSON is today's, key for key (no ``disagg: null``)."""
        return () if self.disagg is not None else ("disagg",)

    @property
    def one_type(self) -> bool:
        """The plan uses one instance type (the program chose it, or its replay beat the mix)."""
        return len({e.deployment.instance for e in self.mix.entries}) == 1

    @property
    def savings(self) -> float | None:
        """1 − mix ÷ best single type, on the objective (None when no single type can serve it)."""
        if self.single is None:
            return None
        return 1.0 - self.mix.objective_value(self.objective) / self.single.objective_value(self.objective)

    @property
    def meets_slo(self) -> bool | None:
        """Whether the chosen fleet's last replay met both SLOs (None: not replayed)."""
        rounds = self.single_rounds if self.chose_single else self.rounds
        return rounds[-1].meets_slo if rounds else None

    @property
    def tightened(self) -> bool:
        return len(self.rounds) > 1


def serve(
    model: ModelArch,
    trace: RequestTrace,
    slo: ServeSLO,
    *,
    catalog: Catalog | None = None,
    constraints: ServeConstraints | None = None,
    objective: ServeObjective = ServeObjective.COST,
    input_edges: Sequence[int] = DEFAULT_INPUT_EDGES,
    output_edges: Sequence[int] = DEFAULT_OUTPUT_EDGES,
    replay_rounds: int = 4,
    per_hour: bool = False,
    load_curve: Sequence[float] | None = None,
    peak_to_trough: float = 3.0,
    peak_window_s: float | None = None,
    seed: int = 0,
    strict: bool = False,
    tail_share: float = TAIL_SHARE,
    startup_s: float = DEFAULT_STARTUP_S,
    progress: Callable[[str], None] | None = None,
    disagg: DisaggMode = DisaggMode.OFF,
) -> ServePlan:
    """Plan the cheapest (or least-energy) fleet that serves ``trace`` within ``slo`` (module docstring).

    Bucket rates are planned at the trace's busy rate (:func:`peak_factor` over ``peak_window_s``, default
    :func:`default_peak_window_s`; 0: the mean rate).
    ``replay_rounds`` = 0 skips the simulator; otherwise up to that many re-solves follow a replay that misses.
    The best single instance type goes through the same replay, and is the answer when it turns out cheaper.

    The SLOs are fleet-level p90s, as the replay judges them: up to ``tail_share`` of the requests may be
    served best effort (counted as misses) on the cheapest replica that holds them, and the rest are planned
    at :func:`planning_quantile` so that the fleet's p90 holds. Requests no allowed replica's KV cache can hold
    are left out and reported (:class:`Excluded`). ``strict`` keeps the per-bucket rule instead: every bucket
    within the SLOs at its p90, every request held, or :class:`InfeasibleServeError`.
    ``startup_s``: the billed warm-up of each instance an hourly plan starts (``per_hour``).
    ``progress`` is called with a short line at each stage (bucketing, capacities, each solve, each replay).
    ``disagg`` (default ``off``: the aggregated plan alone, as before): ``auto`` also plans one prefill pool and one
    decode pool (:mod:`chipfleet.plan.serve.disagg`), replays it in the disaggregated simulator and makes it the
    plan when it meets the p90 SLOs for less (``ServePlan.disagg`` says which and why); ``on`` makes the split
    the plan whenever there is one (the aggregated plan is then solved without replay, for comparison).
    """
    cat = catalog or default_catalog()
    c = constraints or ServeConstraints()
    _check_arguments(model, replay_rounds, startup_s)
    tail = 0.0 if strict else tail_share
    quantile = planning_quantile(tail)
    say = _sayer(progress)
    t0 = time.perf_counter()
    work = _capacities(model, trace, slo, cat, c, quantile, (input_edges, output_edges), strict, say)
    planned, buckets, deps = work.trace, work.buckets, work.deps
    window = default_peak_window_s(planned, slo) if peak_window_s is None else peak_window_s
    design = peak_factor(planned, window)
    check_every_bucket_served(deps, buckets, slo, tail)
    solver = PlanSolver(model, planned, buckets, slo, cat, c, objective, replay_rounds, seed, design, tail, progress)
    mix, factors = solver.solve(deps)
    if mix is None:
        raise InfeasibleServeError(
            f"no mix within max_instances_per_type {c.max_instances_per_type} per type serves the workload; raise it",
            [],
            field="max_instances_per_type",
        )
    say("the best single instance type, solved the same way")
    single, single_factors = solver.best_single(deps)
    solve_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    if disagg is DisaggMode.ON:
        solver = PlanSolver(model, planned, buckets, slo, cat, c, objective, 0, seed, design, tail, progress)
    chosen = _verify_and_choose(solver, deps, mix, factors, single, single_factors)
    replay_s = time.perf_counter() - t1
    outcome = None
    if disagg is not DisaggMode.OFF:
        outcome = _disaggregated(model, planned, buckets, slo, cat, c, objective, disagg, chosen, (design, tail,
                                 quantile), replay_rounds, seed, say)  # fmt: skip
    hourly = None
    if per_hour:
        hourly = _hourly(solver, deps, chosen.factors, load_curve, peak_to_trough, startup_s, say)
    return ServePlan(
        model=model.name,
        workload=planned.name,
        requests=len(trace),
        span_s=planned.duration_s,
        slo=slo,
        objective=objective,
        buckets=buckets,
        design_factor=design,
        peak_window_s=window,
        deployments=len(deps),
        mix=chosen.mix,
        single=chosen.single,
        rounds=chosen.rounds,
        single_rounds=chosen.single_rounds,
        chose_single=chosen.chose_single,
        mixed_alternative=chosen.mixed_alternative,
        replay=chosen.result,
        hourly=hourly,
        solve_s=solve_s,
        replay_s=replay_s,
        rejected=dict(work.rejected),
        assumptions=SERVE_PLAN_ASSUMPTIONS,
        excluded=work.excluded,
        strict=strict,
        tail_share=tail,
        planning_quantile=quantile,
        disagg=outcome,
    )


def _disaggregated(
    model: ModelArch, trace: RequestTrace, buckets: tuple[Bucket, ...], slo: ServeSLO, catalog: Catalog,
    c: ServeConstraints, objective: ServeObjective, mode: DisaggMode, chosen: _Chosen,
    planning: tuple[float, float, float], replay_rounds: int, seed: int, say: Callable[[str], None],
) -> DisaggOutcome:  # fmt: skip
    """Plan the split next to the aggregated plan ``chosen`` and decide (:func:`chipfleet.plan.serve.split.decide`);
    ``planning``: the design factor, the best-effort share and the planning quantile."""
    design, tail, quantile = planning
    run = plan_split(
        model, trace, buckets, slo, catalog, c, objective, design=design, tail_share=tail, quantile=quantile,
        replay_rounds=replay_rounds, seed=seed, say=say,
    )  # fmt: skip
    agg_rounds = chosen.single_rounds if chosen.chose_single else chosen.rounds
    agg_meets = agg_rounds[-1].meets_slo if agg_rounds else None
    picked, reason, status, saving = decide(
        mode, objective, chosen.mix.objective_value(objective), agg_meets, run.mix, run.why, run.rounds
    )
    return DisaggOutcome(
        mode=mode, chosen=picked, reason=reason, status=status, mix=run.mix, saving=saving, rounds=run.rounds,
        prefill_configs=run.prefill_configs, decode_configs=run.decode_configs, pairs=run.pairs,
        pairs_without_link=run.pairs_without_link, cross_vendor=run.cross_vendor, solve_s=run.solve_s,
        replay_s=run.replay_s,
    )  # fmt: skip


def _check_arguments(model: ModelArch, replay_rounds: int, startup_s: float) -> None:
    if model.kind != "decoder":
        raise ConfigError(f"{model.name} is an encoder; the serving planner covers decoder LMs")
    if replay_rounds < 0:
        raise ConfigError("replay_rounds must be 0 (no replay) or more", field="replay_rounds")
    if not (math.isfinite(startup_s) and startup_s >= 0):
        raise ConfigError(
            f"startup_s must be a duration >= 0 in seconds, e.g. 525 or 600; got {startup_s!r}", field="startup_s"
        )


def _sayer(progress: Callable[[str], None] | None) -> Callable[[str], None]:
    def say(message: str) -> None:
        if progress is not None:
            progress(message)

    return say


@dataclass(frozen=True)
class _Capacities:
    """The requests planned (those no server or replica refuses), their buckets, and every allowed
    configuration's capacities for them."""

    trace: RequestTrace
    buckets: tuple[Bucket, ...]
    deps: list[Deployment]
    rejected: Counter[str]  # configurations set aside, by reason
    excluded: Excluded | None  # what was left out of the workload, and why


def _capacities(
    model: ModelArch,
    trace: RequestTrace,
    slo: ServeSLO,
    catalog: Catalog,
    c: ServeConstraints,
    quantile: float,
    edges: tuple[Sequence[int], Sequence[int]],
    strict: bool,
    say: Callable[[str], None],
) -> _Capacities:
    """Buckets and configurations for ``trace`` less the requests beyond the model's context window and, unless
    ``strict``, beyond every allowed replica's KV cache (bucketed again without them)."""
    within, n_beyond = _leave_out_beyond_context(model, trace, strict, say)
    say(f"bucketing {len(within):,} requests by prompt and output length")
    buckets = bucketize(within, *edges)
    rejected: Counter[str] = Counter()
    say(f"capacities of every allowed configuration for {len(buckets)} buckets")
    deps = deployments(model, buckets, slo, catalog, c, rejected, quantile)
    if not deps:
        raise InfeasibleServeError(no_deployment_reason(model, catalog, c, rejected), [])
    planned, n_kv = _leave_out_beyond_kv(within, deps, strict)
    excluded = _excluded(model, trace, n_beyond, n_kv, deps)
    if n_kv:
        say(f"left out {n_kv:,} requests no replica can hold; bucketing the other {len(planned):,}")
        buckets = bucketize(planned, *edges)
        rejected = Counter()
        deps = deployments(model, buckets, slo, catalog, c, rejected, quantile)
    return _Capacities(planned, buckets, deps, rejected, excluded)


def _leave_out_beyond_context(
    model: ModelArch, trace: RequestTrace, strict: bool, say: Callable[[str], None]
) -> tuple[RequestTrace, int]:
    """``trace`` without the requests longer than the model's context window (no server admits them), and how
    many those were; an error when ``strict`` (every request planned) or fewer than two would be left."""
    window_tokens = model.max_position_embeddings
    context = trace.input_tokens + trace.output_tokens
    beyond = context > window_tokens
    n_beyond = int(beyond.sum())
    if n_beyond and (strict or len(trace) - n_beyond < 2):
        longest = int(context.max())
        raise InfeasibleServeError(
            f"{n_beyond:,} of {len(trace):,} requests are longer than {model.name}'s context window "
            f"({window_tokens:,} tokens of prompt and output; the longest has {longest:,}), and "
            + ("strict plans every request" if strict else "fewer than 2 would be left to plan")
            + "; use a model with a longer context window, "
            + LENGTH_CAP_ADVICE,
            [],
            field="strict" if strict else None,
        )
    if not n_beyond:
        return trace, 0
    say(f"left out {n_beyond:,} requests longer than {model.name}'s context window ({window_tokens:,} tokens)")
    return without_requests(trace, beyond), n_beyond


def _leave_out_beyond_kv(trace: RequestTrace, deps: Sequence[Deployment], strict: bool) -> tuple[RequestTrace, int]:
    """``trace`` without the requests longer than the largest KV cache of any allowed replica, and how many
    those were (none when ``strict``: the bucket check then names them); an error when fewer than two would
    be left."""
    if strict:
        return trace, 0
    limit = max(d.kv_capacity_tokens for d in deps)
    too_long = trace.input_tokens + trace.output_tokens > limit
    n = int(too_long.sum())
    if not n:
        return trace, 0
    if len(trace) - n < 2:
        raise InfeasibleServeError(
            f"{n:,} of {len(trace):,} requests are longer than every allowed replica's KV cache ({limit:,} "
            "tokens); allow larger instances or tp, " + LENGTH_CAP_ADVICE,
            [],
        )
    return without_requests(trace, too_long), n


def _excluded(
    model: ModelArch, trace: RequestTrace, n_beyond: int, n_kv: int, deps: Sequence[Deployment]
) -> Excluded | None:
    """What was left out of ``trace`` (the whole workload): ``n_beyond`` requests beyond the context window,
    then ``n_kv`` beyond every replica's KV cache."""
    if not (n_beyond or n_kv):
        return None
    window_tokens = model.max_position_embeddings
    context = trace.input_tokens + trace.output_tokens
    biggest = max(deps, key=lambda d: d.kv_capacity_tokens)
    limit = biggest.kv_capacity_tokens
    reasons = []
    if n_beyond:
        reasons.append(
            f"{n_beyond:,} longer than the model's context window ({model.name} takes at most {window_tokens:,} "
            "tokens of prompt and output; a server refuses longer requests)"
        )
    if n_kv:
        reasons.append(
            f"{n_kv:,} with prompt + output longer than the largest KV cache of any allowed replica ({limit:,} "
            f"tokens on {biggest.label}); allow larger instances or tp, or plan with strict to refuse to plan "
            "without them"
        )
    return Excluded(
        requests=n_kv + n_beyond,
        share=(n_kv + n_beyond) / len(trace),
        longest_tokens=int(context.max()) if context.size else 0,
        kv_limit_tokens=limit,
        reason="; ".join(reasons),
        context_window_tokens=window_tokens,
        beyond_context=n_beyond,
    )


@dataclass(frozen=True)
class _Chosen:
    """The replayed mix and the replayed best single type, and which of them is the plan (``mix``)."""

    mix: Mix
    rounds: tuple[ReplayRound, ...]
    result: ServeResult | None  # the plan's last replay
    factors: dict[str, float]  # the mixed program's capacity factors after its rounds
    single: Mix | None
    single_rounds: tuple[ReplayRound, ...]
    chose_single: bool
    mixed_alternative: Mix | None  # the replayed mix of types, when the single type is the plan


def _verify_and_choose(
    solver: PlanSolver,
    deps: Sequence[Deployment],
    mix: Mix,
    factors: dict[str, float],
    single: Mix | None,
    single_factors: dict[str, float],
) -> _Chosen:
    """Replay (and tighten) the mix and the best single type; the single type is the plan when its replay
    meets the SLOs and it is cheaper on the objective, or the mix's replay does not meet them."""
    mix, rounds, result, factors = solver.verify(deps, mix, factors)
    if single is None:
        return _Chosen(mix, rounds, result, factors, None, (), False, None)
    if same_fleet(single, rounds[0].fleet if rounds else None, mix):
        # the program already chose one type: nothing more to replay
        return _Chosen(mix, rounds, result, factors, mix, rounds, False, None)
    name = single.entries[0].deployment.instance
    one = [d for d in deps if d.instance == name]
    single, single_rounds, single_result, _ = solver.verify(one, single, single_factors)
    # The single-type fleet is a mix too: when the replay shows it cheaper and sound, it is the answer.
    objective = solver.objective
    chose_single = bool(
        single_rounds
        and single_rounds[-1].meets_slo
        and (
            not rounds[-1].meets_slo
            or single.objective_value(objective) < mix.objective_value(objective) * (1.0 - 1e-9)
        )
    )
    if chose_single:
        return _Chosen(single, rounds, single_result, factors, single, single_rounds, True, mix)
    return _Chosen(mix, rounds, result, factors, single, single_rounds, False, None)


def _hourly(
    solver: PlanSolver,
    deps: Sequence[Deployment],
    factors: dict[str, float],
    load_curve: Sequence[float] | None,
    peak_to_trough: float,
    startup_s: float,
    say: Callable[[str], None],
) -> HourlyPlan:
    """A mix per hour of the daily curve (:func:`daily_curve`), with the mixed program's capacity factors."""
    multipliers, source = daily_curve(solver.trace, load_curve, peak_to_trough)
    mixes = []
    for h, m in enumerate(multipliers):
        say(f"hour {h:02d} of the daily curve ({m:.2f}× the rate)")
        hour_mix, _ = solver.solve(deps, factors, hour=max(m, 1e-9))
        if hour_mix is None:
            raise InfeasibleServeError(
                "an hour of the daily curve cannot be served within max_instances_per_type",
                [],
                field="max_instances_per_type",
            )
        mixes.append(hour_mix)
    peak = int(np.argmax(multipliers))
    startup_source = STARTUP_SOURCE if startup_s == DEFAULT_STARTUP_S else "given (startup_s)"
    return HourlyPlan(tuple(multipliers), source, tuple(mixes), mixes[peak], startup_s, startup_source)


SERVE_PLAN_ASSUMPTIONS: tuple[str, ...] = (
    "requests grouped by prompt and output length; each bucket's capacity on a replica from a steady-state "
    "continuous-batching model (chipfleet.perf.batching) on the simulator's iteration roofline",
    "an SLO is met by a bucket on a configuration when its modelled p90 TTFT and p90 TPOT are within it; the "
    "replay checks the fleet's p90 over all requests",
    "capacity adds across buckets on one replica (Mélange's assumption), then each type's bucket mixture is "
    "checked against the model for that mixture; the replay shows what sharing costs",
    "sized for the busy rate: the rate 95 % of requests arrive under, over windows of max(5 × TTFT SLO, 100 "
    "requests' worth) unless peak_window_s is given",
    "each replica's max batch is what its KV cache holds at its traffic's full context (no preemption storms)",
    "one configuration per instance type; requests of a bucket split across types by the routing table",
    "price: each instance type's cheapest region for the pricing unless a region is given; energy = instance "
    "power (chips idle→TDP by busy share, plus host) × PUE",
)
