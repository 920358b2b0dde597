"""The mixed-integer program (module docstring of :mod:`chipfleet.plan.serve.plan`, step 3): integer instance
counts per configuration and the share of each bucket routed to each, at the lowest cost or power; the mix it
chooses, and the best fleet of a single instance type solved the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from chipfleet.perf.batching import kv_safe_max_seqs
from chipfleet.plan.serve.buckets import Bucket, mixture
from chipfleet.plan.serve.capacity import Deployment
from chipfleet.plan.serve.spec import ServeObjective

if TYPE_CHECKING:
    from scipy.optimize import LinearConstraint

MIN_CAPACITY_RPS = 1e-6  # below this a configuration is taken not to serve a bucket (about 3 requests a month)
# A configuration whose capacity for a bucket is below this fraction of the best configuration's is taken not to
# serve it either. Such a pair would need 10^4 times the instances for the same load, so with catalog prices
# spanning less than 10^4 it never pays, except to ride a few requests on spare capacity, which is beneath any
# planning precision. Its coefficient λ/cap in the load rows, four orders of magnitude above the rest, made HiGHS's
# presolve declare a 15 % dearer mix optimal (hypothesis found it: caps 1 vs 1e-5 req/s).
MIN_RELATIVE_CAPACITY = 1e-4


@dataclass(frozen=True)
class MixEntry:
    """How many instances of one configuration, and what they carry."""

    deployment: Deployment
    count: int
    bucket_shares: tuple[float, ...]  # share of each bucket's requests routed here
    load: float  # planned requests ÷ capacity (the capacity as the program saw it)
    busy_fraction: float  # chips' modelled busy share at the planned load
    max_seqs: int  # sequence limit per replica: what its KV cache holds at its traffic's full context
    best_effort_shares: tuple[float, ...] = ()  # of bucket_shares, the part served best effort (counted as misses)

    __json_properties__: ClassVar[tuple[str, ...]] = ("replicas", "cost_usd_per_h")

    @property
    def replicas(self) -> int:
        return self.count * self.deployment.replicas_per_instance

    @property
    def cost_usd_per_h(self) -> float:
        return self.count * self.deployment.price_usd_per_h


@dataclass(frozen=True)
class Mix:
    """A fleet that serves every bucket: the instances, how requests are routed, and what it costs."""

    entries: tuple[MixEntry, ...]
    buckets: tuple[Bucket, ...]
    cost_usd_per_h: float
    power_w: float  # facility power at the planned load (× PUE)
    output_tokens_per_s: float
    input_tokens_per_s: float
    co2_kg_per_h: float | None

    # The buckets are the plan's (ServePlan.buckets); the routing names them by label.
    __json_omit__: ClassVar[tuple[str, ...]] = ("buckets",)
    __json_properties__: ClassVar[tuple[str, ...]] = (
        "fleet",
        "usd_per_million_output_tokens",
        "usd_per_million_tokens",
        "j_per_output_token",
        "routing_by_bucket",
        "best_effort_share",
        "best_effort_buckets",
    )

    @property
    def fleet(self) -> str:
        """The instances in words: '2 × g6e.xlarge + 1 × inf2.xlarge'."""
        return " + ".join(f"{e.count} × {e.deployment.instance}" for e in self.entries)

    @property
    def usd_per_million_output_tokens(self) -> float:
        return self.cost_usd_per_h / 3600.0 / self.output_tokens_per_s * 1e6

    @property
    def usd_per_million_tokens(self) -> float:
        """Per million tokens read or written (prompt plus output)."""
        return self.cost_usd_per_h / 3600.0 / (self.output_tokens_per_s + self.input_tokens_per_s) * 1e6

    @property
    def j_per_output_token(self) -> float:
        return self.power_w / self.output_tokens_per_s

    @property
    def instances(self) -> dict[str, int]:
        return {e.deployment.instance: e.count for e in self.entries}

    def describe(self) -> str:
        return self.fleet

    def objective_value(self, objective: ServeObjective) -> float:
        return self.cost_usd_per_h if objective is ServeObjective.COST else self.power_w

    def _shares(self, bucket: int) -> dict[str, float]:
        return {e.deployment.instance: e.bucket_shares[bucket] for e in self.entries if e.bucket_shares[bucket] > 1e-9}

    def best_effort_by_bucket(self) -> tuple[float, ...]:
        """Per bucket, the share of its requests served best effort (planned to miss the SLOs)."""
        return tuple(
            sum(e.best_effort_shares[b] for e in self.entries if e.best_effort_shares) for b in range(len(self.buckets))
        )

    @property
    def best_effort_share(self) -> float:
        """The share of all requests served best effort, by request count."""
        total = sum(b.requests for b in self.buckets)
        return sum(s * b.requests for s, b in zip(self.best_effort_by_bucket(), self.buckets, strict=True)) / total

    @property
    def best_effort_buckets(self) -> dict[str, float]:
        """Bucket label → the share of its requests served best effort, for the buckets that have some."""
        return {b.label: s for b, s in zip(self.buckets, self.best_effort_by_bucket(), strict=True) if s > 1e-9}

    def routing(self) -> dict[tuple[int, int], dict[str, float]]:
        """The size-aware router's table: (input edge, output edge) → {instance type: share}."""
        table: dict[tuple[int, int], dict[str, float]] = {}
        for b, bucket in enumerate(self.buckets):
            shares = self._shares(b)
            total = sum(shares.values())
            table[(bucket.input_hi, bucket.output_hi)] = {k: v / total for k, v in shares.items()}
        return table

    @property
    def routing_by_bucket(self) -> dict[str, dict[str, float]]:
        """Bucket label → {instance type: share of the bucket's requests routed there}."""
        return {bucket.label: self._shares(b) for b, bucket in enumerate(self.buckets)}


Pair = tuple[int, int, bool]
"""(bucket, configuration, best effort): one routing variable of the program."""


def solve_mix(
    deps: Sequence[Deployment],
    buckets: Sequence[Bucket],
    objective: ServeObjective = ServeObjective.COST,
    *,
    factors: dict[str, float] | None = None,
    rate_scale: float = 1.0,
    traffic_scale: float | None = None,
    max_instances_per_type: int = 512,
    time_limit_s: float = 60.0,
    tail_share: float = 0.0,
) -> Mix | None:
    """The optimal mix, or None when the configurations cannot serve every bucket.

    Variables: integer instance counts ``n_k``, binaries ``z_k`` (configuration ``k`` is used), and the shares
    ``x_bk`` of bucket ``b`` routed to configuration ``k``. Minimise ``Σ_k price_k·n_k`` (or facility power)
    subject to ``Σ_k x_bk = 1`` for every bucket, ``Σ_b x_bk·λ_b / cap_bk ≤ n_k`` for every configuration
    (``cap_bk`` per instance), ``n_k ≤ upper_k·z_k``, and ``Σ_{k of a type} z_k ≤ 1`` (one configuration per
    instance type).

    ``factors`` scales each instance type's capacity (the replay's tightening); the fleet is sized for every
    bucket's rate × ``rate_scale`` (a busy-window rate, an hour of a daily curve) and carries, on average, its
    rate × ``traffic_scale`` (default ``rate_scale``), which sets tokens served and busy energy.

    With ``tail_share`` > 0 a share ``y_bk`` of a bucket may be served best effort on a configuration that
    holds it, at that configuration's best-effort capacity, subject to ``Σ_bk y_bk·λ_b/Σλ ≤ tail_share``: the
    request-weighted share planned to miss the SLOs (:func:`chipfleet.plan.serve.spec.planning_quantile` plans
    the rest to leave room).
    """
    factors = factors or {}
    rates = np.array([b.rate_per_s for b in buckets]) * rate_scale
    caps = _capacities(deps, len(buckets), factors)
    kinds = (False, True) if tail_share > 0 else (False,)
    best = np.max(np.stack([caps[be] for be in kinds]), axis=(0, 2)) if deps else np.zeros(len(buckets))
    pairs: list[Pair] = [
        (b, k, be)
        for be in kinds
        for b in range(len(buckets))
        for k in range(len(deps))
        if caps[be][b, k] >= max(MIN_CAPACITY_RPS, MIN_RELATIVE_CAPACITY * best[b])
    ]
    served = {b for b, _, _ in pairs}
    if len(served) < len(buckets) or rates.sum() <= 0:
        return None
    upper = _count_bounds(len(deps), pairs, rates, caps, max_instances_per_type)
    program = _Program(len(deps), pairs)
    program.every_bucket_routed(len(buckets))
    program.load_within_counts(rates, caps)
    program.counts_only_if_chosen(upper)
    program.one_configuration_per_type(deps)
    if tail_share > 0:
        program.best_effort_within(rates, tail_share)
    k_n, n_pairs = len(deps), len(pairs)
    integrality = np.concatenate([np.ones(2 * k_n), np.zeros(n_pairs)])
    ub = np.concatenate([upper, np.ones(k_n), np.ones(n_pairs)])
    # HiGHS may print notes straight to descriptor 1; a front end that needs a clean stdout guards it (the CLI's
    # --json does): the library leaves the process's streams alone.
    # scipy.optimize is imported here, not at module level: it takes ~0.2 s, and the CLI imports this package at
    # start-up (for its enums) on every command, most of which never solve a program.
    from scipy.optimize import milp

    res = milp(
        _costs(deps, pairs, rates, objective),
        integrality=integrality,
        bounds=(np.zeros(program.n_vars), ub),
        constraints=program.constraint(),
        options={"time_limit": time_limit_s, "mip_rel_gap": 1e-6},
    )
    if res.x is None:
        return None
    counts = np.rint(res.x[:k_n]).astype(int)
    shares = {be: np.zeros((len(buckets), k_n)) for be in (False, True)}
    for p, (b, k, be) in enumerate(pairs):
        shares[be][b, k] += max(0.0, float(res.x[2 * k_n + p]))
    traffic = rates / rate_scale * (rate_scale if traffic_scale is None else traffic_scale)
    return _mix(deps, buckets, counts, shares, rates, traffic, caps)


def _capacities(
    deps: Sequence[Deployment], n_buckets: int, factors: dict[str, float]
) -> dict[bool, NDArray[np.float64]]:
    """(buckets, configurations) requests/s per instance: within the SLOs (False) and best effort (True), each
    scaled by its type's capacity factor."""
    return {
        be: np.array([[d.capacity(b, be) * d.replicas_per_instance * factors.get(d.instance, 1.0) for d in deps]
                      for b in range(n_buckets)])
        for be in (False, True)
    }  # fmt: skip


def _count_bounds(
    k_n: int, pairs: Sequence[Pair], rates: NDArray[np.float64], caps: dict[bool, NDArray[np.float64]], cap_n: int
) -> NDArray[np.float64]:
    """Per configuration, the instances that would carry every bucket it can take alone (at most ``cap_n``)."""
    upper = np.zeros(k_n)
    for b, k, be in pairs:
        upper[k] += rates[b] / caps[be][b, k]
    return np.minimum(np.ceil(upper + 1e-9), cap_n)


def _costs(
    deps: Sequence[Deployment], pairs: Sequence[Pair], rates: NDArray[np.float64], objective: ServeObjective
) -> NDArray[np.float64]:
    """The objective's coefficients: price (or static facility power) per instance, and, for energy, the busy
    power of each routed share."""
    k_n = len(deps)
    cost = np.zeros(2 * k_n + len(pairs))
    for k, d in enumerate(deps):
        cost[k] = d.price_usd_per_h if objective is ServeObjective.COST else d.static_power_w * d.pue
    if objective is ServeObjective.ENERGY:
        for p, (b, k, be) in enumerate(pairs):
            cost[2 * k_n + p] = rates[b] * deps[k].busy_j_per_request(b, be) * deps[k].pue
    # A whisper of the other objective breaks ties between equally good mixes.
    for k, d in enumerate(deps):
        cost[k] += 1e-6 * (d.static_power_w if objective is ServeObjective.COST else d.price_usd_per_h)
    return cost


@dataclass
class _Program:
    """The program's constraint rows, added one family at a time. Columns: ``n_k`` (0 … k_n−1), ``z_k``
    (k_n … 2k_n−1), then one share per pair."""

    k_n: int
    pairs: Sequence[Pair]
    rows: list[int] = field(default_factory=list)
    cols: list[int] = field(default_factory=list)
    vals: list[float] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)

    @property
    def n_vars(self) -> int:
        return 2 * self.k_n + len(self.pairs)

    def _row(self, terms: Sequence[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(self.lo)
        for col, val in terms:
            self.rows.append(r)
            self.cols.append(col)
            self.vals.append(val)
        self.lo.append(lo)
        self.hi.append(hi)

    def _share(self, p: int) -> int:
        return 2 * self.k_n + p

    def every_bucket_routed(self, n_buckets: int) -> None:
        """``Σ_k x_bk = 1`` for every bucket."""
        for b in range(n_buckets):
            self._row([(self._share(p), 1.0) for p, (pb, _, _) in enumerate(self.pairs) if pb == b], 1.0, 1.0)

    def load_within_counts(self, rates: NDArray[np.float64], caps: dict[bool, NDArray[np.float64]]) -> None:
        """``Σ_b x_bk·λ_b / cap_bk − n_k ≤ 0``: the load within the instances bought."""
        for k in range(self.k_n):
            terms = [(self._share(p), rates[b] / caps[be][b, k]) for p, (b, pk, be) in enumerate(self.pairs) if pk == k]
            self._row([*terms, (k, -1.0)], -np.inf, 0.0)

    def counts_only_if_chosen(self, upper: NDArray[np.float64]) -> None:
        """``n_k − upper_k·z_k ≤ 0``: instances of a configuration only if it is chosen."""
        for k in range(self.k_n):
            self._row([(k, 1.0), (self.k_n + k, -float(upper[k]))], -np.inf, 0.0)

    def one_configuration_per_type(self, deps: Sequence[Deployment]) -> None:
        """``Σ_{k of a type} z_k ≤ 1``, so a type's replicas are interchangeable and the routing names types."""
        by_type: dict[str, list[int]] = {}
        for k, d in enumerate(deps):
            by_type.setdefault(d.instance, []).append(k)
        for ks in by_type.values():
            if len(ks) > 1:
                self._row([(self.k_n + k, 1.0) for k in ks], -np.inf, 1.0)

    def best_effort_within(self, rates: NDArray[np.float64], tail_share: float) -> None:
        """``Σ_bk y_bk·λ_b/Σλ ≤ tail_share``: the requests served best effort stay within the fleet's allowance."""
        total = rates.sum()
        self._row([(self._share(p), rates[b] / total) for p, (b, _, be) in enumerate(self.pairs) if be], -np.inf,
                  tail_share)  # fmt: skip

    def constraint(self) -> LinearConstraint:
        from scipy.optimize import LinearConstraint
        from scipy.sparse import coo_array

        a = coo_array((self.vals, (self.rows, self.cols)), shape=(len(self.lo), self.n_vars)).tocsr()
        return LinearConstraint(a, np.array(self.lo), np.array(self.hi))


def _mix(
    deps: Sequence[Deployment],
    buckets: Sequence[Bucket],
    counts: NDArray[np.int_],
    by_kind: dict[bool, NDArray[np.float64]],
    rates: NDArray[np.float64],
    traffic: NDArray[np.float64],
    caps: dict[bool, NDArray[np.float64]],
) -> Mix:
    """The mix the program chose: load against the ``rates`` it was sized for; tokens, busy energy and carbon
    from the ``traffic`` it carries on average. ``by_kind`` and ``caps``: shares and capacities within the
    SLOs (False) and best effort (True)."""
    entries = []
    power = cost = co2 = 0.0
    has_co2 = True
    shares = by_kind[False] + by_kind[True]
    for k, d in enumerate(deps):
        n = int(counts[k])
        if n <= 0:
            continue
        used = 0.0
        busy_j_per_s = 0.0
        for be, part in by_kind.items():
            with np.errstate(divide="ignore", invalid="ignore"):
                used += float(np.where(caps[be][:, k] > 0, part[:, k] * rates / caps[be][:, k], 0.0).sum())
            busy_j_per_s += sum(
                part[b, k] * traffic[b] * d.busy_j_per_request(b, be) for b in range(len(buckets)) if part[b, k] > 0
            )
        load = used / n
        watts = (n * d.static_power_w + busy_j_per_s) * d.pue
        power += watts
        cost += n * d.price_usd_per_h
        if d.grid_gco2_per_kwh is None:
            has_co2 = False
        else:
            co2 += watts / 1000.0 * d.grid_gco2_per_kwh / 1000.0
        chips = n * d.replicas_per_instance * d.tp
        blend = mixture(buckets, shares[:, k] * traffic)
        seqs = kv_safe_max_seqs(d.max_seqs, d.kv_capacity_tokens, blend)
        entries.append(
            MixEntry(
                deployment=d,
                count=n,
                bucket_shares=tuple(float(s) for s in shares[:, k]),
                load=load,
                busy_fraction=min(1.0, busy_j_per_s / (chips * d.busy_power_w_per_chip)) if chips else 0.0,
                max_seqs=int(seqs[0]),
                best_effort_shares=tuple(float(s) for s in by_kind[True][:, k]),
            )
        )
    out_tps = float(sum(b.output_mean * r for b, r in zip(buckets, traffic, strict=True)))
    in_tps = float(sum(b.input_mean * r for b, r in zip(buckets, traffic, strict=True)))
    entries.sort(key=lambda e: -e.cost_usd_per_h)
    return Mix(tuple(entries), tuple(buckets), cost, power, out_tps, in_tps, co2 if has_co2 else None)


def best_single_type(
    deps: Sequence[Deployment],
    buckets: Sequence[Bucket],
    objective: ServeObjective,
    solve: Callable[[Sequence[Deployment]], Mix | None] | None = None,
    **kw: Any,
) -> Mix | None:
    """The best fleet of one instance type, solved the same way as the mix (``solve``; default
    :func:`solve_mix` with ``kw``); None when no one type serves every bucket."""
    solver = solve or (lambda ds: solve_mix(ds, buckets, objective, **kw))
    best: Mix | None = None
    for name in dict.fromkeys(d.instance for d in deps):
        mix = solver([d for d in deps if d.instance == name])
        if mix is not None and (best is None or mix.objective_value(objective) < best.objective_value(objective)):
            best = mix
    return best
