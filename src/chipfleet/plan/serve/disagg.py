"""The disaggregated program: integer counts of prefill and decode pools (per instance configuration and region)
and the share of each bucket sent through each linked (prefill, decode) pair, at the lowest cost or power; the
split it chooses, with both pools, the KV-transfer links and their utilisation.

Per bucket ``b`` and linked pair ``(p, d)`` (same cloud and region: :func:`chipfleet.perf.kv_transfer.kv_link`
refuses the rest, so such pairs are not candidates) a share ``x_bpd``: ``Σ_pd x_bpd = 1`` for every bucket,
``Σ_bd x_bpd·λ_b / P_bpd ≤ n_p`` (prefill capacity per instance ``P_bpd``, the TTFT SLO less the pair's KV
transfer of the bucket's p90 prompt and the decode join, :func:`chipfleet.plan.serve.pools.prefill_capacity`) and
``Σ_bp x_bpd·λ_b / D_bd ≤ n_d`` (decode capacity within the TPOT SLO). The ratio of prefill to decode workers per
bucket follows from the shares. One configuration per instance type and role is kept (the cheapest for the
whole workload alone), so a type's workers are interchangeable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from chipfleet.catalog import Catalog, Pricing
from chipfleet.exceptions import ConfigError
from chipfleet.perf.kv_transfer import KvLink, kv_link, kv_transfer_bytes
from chipfleet.plan.serve.buckets import Bucket
from chipfleet.plan.serve.milp import MIN_CAPACITY_RPS
from chipfleet.plan.serve.pools import DECODE, PREFILL, PoolCandidate, prefill_capacity
from chipfleet.plan.serve.spec import ServeObjective, ServeSLO
from chipfleet.workloads import ModelArch

FloatArray = NDArray[np.float64]
# The most of a link's bandwidth the plan fills with KV caches: a transfer's time is taken unloaded (latency + S/B),
# which holds while transfers rarely overlap; at 50 % busy a Poisson stream of transfers waits on average as long
# as it takes (M/D/1: ρ/(2(1 − ρ)) = 0.5 transfer times). Our choice, not fitted.
LINK_UTILISATION = 0.5


@dataclass(frozen=True)
class Pool:
    """A candidate priced in one region: what the program counts."""

    candidate: PoolCandidate
    region: str
    pricing: Pricing
    price_usd_per_h: float
    pue: float
    grid_gco2_per_kwh: float | None


@dataclass(frozen=True)
class PoolEntry:
    """How many instances of one pool the split uses, and what they carry."""

    role: str
    instance: str
    config: str
    region: str
    count: int
    tp: int
    replicas: int  # workers
    price_usd_per_h: float  # per instance
    load: float  # planned requests ÷ capacity
    busy_fraction: float
    validated: bool
    bucket_shares: tuple[float, ...]
    max_seqs: int = 0  # decode: the sequence limit per worker (prefill: 0)

    __json_properties__: ClassVar[tuple[str, ...]] = ("cost_usd_per_h",)

    @property
    def cost_usd_per_h(self) -> float:
        return self.count * self.price_usd_per_h


@dataclass(frozen=True)
class LinkUse:
    """The KV-transfer link between one prefill pool and one decode pool, and how busy it is."""

    prefill: str
    decode: str
    prefill_vendor: str
    decode_vendor: str
    kind: str
    bytes_per_s: float  # one transfer between one prefill and one decode worker
    latency_s: float
    description: str
    share: float  # of all requests
    transfer_p90_s: float  # the longest bucket p90 prompt's transfer among those routed here
    gb_per_s: float  # KV cache moved, at the planned (busy-window) rate
    utilisation: float  # ÷ (prefill workers on this pair × bandwidth)


@dataclass(frozen=True)
class DisaggMix:
    """A disaggregated fleet: prefill pools, decode pools, the links between them, what it costs."""

    prefill: tuple[PoolEntry, ...]
    decode: tuple[PoolEntry, ...]
    links: tuple[LinkUse, ...]
    cost_usd_per_h: float
    power_w: float
    output_tokens_per_s: float
    input_tokens_per_s: float
    co2_kg_per_h: float | None
    best_effort_share: float  # of requests in buckets no pair serves within the SLOs (served best effort)

    __json_properties__: ClassVar[tuple[str, ...]] = (
        "fleet",
        "heterogeneous",
        "cross_vendor",
        "prefill_to_decode_workers",
        "usd_per_million_output_tokens",
        "j_per_output_token",
    )

    @property
    def fleet(self) -> str:
        """'prefill 2 × trn2.48xlarge | decode 6 × inf2.48xlarge'."""
        p = " + ".join(f"{e.count} × {e.instance}" for e in self.prefill)
        d = " + ".join(f"{e.count} × {e.instance}" for e in self.decode)
        return f"prefill {p} | decode {d}"

    @property
    def heterogeneous(self) -> bool:
        """Some prefill pool is of another instance type than some decode pool."""
        return {e.instance for e in self.prefill} != {e.instance for e in self.decode}

    @property
    def cross_vendor(self) -> bool:
        """Some link joins a prefill pool and a decode pool whose chips come from two vendors."""
        return any(link.prefill_vendor != link.decode_vendor for link in self.links)

    @property
    def prefill_to_decode_workers(self) -> float:
        """Prefill workers per decode worker."""
        return sum(e.replicas for e in self.prefill) / max(1, sum(e.replicas for e in self.decode))

    @property
    def usd_per_million_output_tokens(self) -> float:
        return self.cost_usd_per_h / 3600.0 / self.output_tokens_per_s * 1e6

    @property
    def j_per_output_token(self) -> float:
        return self.power_w / self.output_tokens_per_s

    def describe(self) -> str:
        return self.fleet

    def objective_value(self, objective: ServeObjective) -> float:
        return self.cost_usd_per_h if objective is ServeObjective.COST else self.power_w


def price_pools(
    catalog: Catalog, candidates: Sequence[PoolCandidate], region: str | None, pricing: Pricing
) -> list[Pool]:
    """Each candidate in every region it has a ``pricing`` price in (only ``region`` when given): pools pair only
    within a region, so a pair of types is priced where both are."""
    out = []
    for c in candidates:
        inst = catalog.instance(c.instance)
        regions = [region] if region is not None else sorted({p.region for p in inst.prices if p.pricing is pricing})
        for r in regions:
            price = inst.price(r, pricing)
            if price is None:
                continue
            reg = catalog.region(price.region)
            out.append(Pool(c, reg.name, price.pricing, price.usd_per_h, reg.pue_ratio, reg.grid_gco2_per_kwh))
    return out


def keep_best_per_type(
    candidates: Sequence[PoolCandidate], buckets: Sequence[Bucket], slo: ServeSLO, objective: ServeObjective,
    price: dict[str, float],
) -> list[PoolCandidate]:  # fmt: skip
    """Per instance type, the configuration that would serve the most of the workload's requests alone, then at the
    lowest cost (or static power): the program keeps one configuration per type and role. A prefill candidate is
    judged with the transfer and decode join taken as nothing (the same for every configuration of a type)."""
    rates = np.array([b.rate_per_s for b in buckets])
    best: dict[str, tuple[tuple[float, float], PoolCandidate]] = {}
    for c in candidates:
        cap = _capacity(c, np.full(len(buckets), slo.ttft_p90_s - slo.tpot_p90_s)) * c.replicas_per_instance
        served = cap > MIN_CAPACITY_RPS
        unit = price[c.instance] if objective is ServeObjective.COST else c.static_power_w
        score = (-float(rates[served].sum()), float((rates[served] / cap[served]).sum()) * unit)
        if c.instance not in best or score < best[c.instance][0]:
            best[c.instance] = (score, c)
    return [c for _, c in best.values()]


def _capacity(c: PoolCandidate, budget: FloatArray) -> FloatArray:
    if c.role == PREFILL:
        return prefill_capacity(c, budget)[0]
    return np.array(c.capacity_per_replica)


@dataclass(frozen=True)
class Pair:
    """A linked (prefill pool, decode pool) and, per bucket, the prefill capacity per instance over that link."""

    prefill: int  # index into the prefill pools
    decode: int
    link: KvLink
    transfer_p90_s: tuple[float, ...]  # per bucket: the p90 prompt's KV transfer
    gb_per_request: tuple[float, ...]  # per bucket: the mean prompt's KV cache, GB
    prefill_cap: tuple[float, ...]  # per bucket, requests/s per instance
    prefill_busy: tuple[float, ...]
    prefill_cap_best_effort: tuple[float, ...]  # no TTFT bound
    prefill_busy_best_effort: tuple[float, ...]
    link_rps: tuple[float, ...]  # per bucket: requests/s one decode worker's end of the link receives


def link_pairs(
    model: ModelArch, catalog: Catalog, prefill: Sequence[Pool], decode: Sequence[Pool], buckets: Sequence[Bucket],
    slo: ServeSLO,
) -> tuple[list[Pair], int]:  # fmt: skip
    """Every (prefill, decode) pool pair with a link (same cloud and region), and how many pairs had none."""
    pairs = []
    refused = 0
    ends: dict[int, float] = {}
    for i, p in enumerate(prefill):
        for j, d in enumerate(decode):
            pc, dc = p.candidate, d.candidate
            try:
                link = kv_link(catalog, pc.instance, dc.instance, prefill_chips=pc.tp, decode_chips=dc.tp,
                               prefill_region=p.region, decode_region=d.region)  # fmt: skip
            except ConfigError:
                refused += 1
                continue
            p90 = [link.transfer_s(kv_transfer_bytes(model, math.ceil(b.input_p90), pc.kv_precision))
                   for b in buckets]  # fmt: skip
            mean_gb = [kv_transfer_bytes(model, round(b.input_mean), pc.kv_precision) / 1e9 for b in buckets]
            budget = np.array([slo.ttft_p90_s - t - slo.tpot_p90_s for t in p90])
            cap, busy = prefill_capacity(pc, budget)
            anyhow, busy_anyhow = prefill_capacity(pc, np.full(len(buckets), np.inf))
            # A prefill worker sends one cache at a time over the pair's link; a decode worker receives from many,
            # up to its own end's bandwidth (its share of its instance's fabric: the link of its pool with itself).
            # Each end carries at most LINK_UTILISATION of its bandwidth in KV caches.
            nbytes = np.maximum(np.array(mean_gb) * 1e9, 1.0)
            link_rps = LINK_UTILISATION * link.bytes_per_s / nbytes
            own = ends.get(j)
            if own is None:
                own = ends[j] = kv_link(catalog, dc.instance, dc.instance, prefill_chips=dc.tp, decode_chips=dc.tp,
                                        prefill_region=d.region, decode_region=d.region).bytes_per_s  # fmt: skip
            decode_rps = LINK_UTILISATION * own / nbytes
            per = pc.replicas_per_instance
            pairs.append(Pair(i, j, link, tuple(p90), tuple(mean_gb), _t(np.minimum(cap, link_rps) * per), _t(busy),
                              _t(np.minimum(anyhow, link_rps) * per), _t(busy_anyhow), _t(decode_rps)))  # fmt: skip
    return pairs, refused


def _t(a: FloatArray) -> tuple[float, ...]:
    return tuple(float(v) for v in a)


@dataclass(frozen=True)
class _Routes:
    """The program's routing columns: (bucket, pair, best effort) with their per-instance capacities."""

    cols: list[tuple[int, int]]  # (bucket, pair)
    prefill_cap: list[float]
    decode_cap: list[float]
    best_effort: tuple[bool, ...]  # per bucket


def _routes(pairs: Sequence[Pair], decode: Sequence[Pool], n_buckets: int) -> _Routes:
    """Per bucket, the pairs that serve it within the SLOs; a bucket no pair serves within them goes best effort
    (no TTFT bound on prefill, the decode worker's highest stable rate)."""
    cols, pcap, dcap, be = [], [], [], []
    for b in range(n_buckets):
        within = [
            (k, pr.prefill_cap[b], decode[pr.decode].candidate.capacity_per_replica[b]) for k, pr in enumerate(pairs)
        ]
        within = [(k, p, d) for k, p, d in within if p > MIN_CAPACITY_RPS and d > MIN_CAPACITY_RPS]
        anyhow = not within
        if anyhow:
            within = [
                (k, pr.prefill_cap_best_effort[b], decode[pr.decode].candidate.best_effort_capacity[b])
                for k, pr in enumerate(pairs)
            ]
            within = [(k, p, d) for k, p, d in within if p > MIN_CAPACITY_RPS and d > MIN_CAPACITY_RPS]
        be.append(anyhow)
        for k, p, d in within:
            per = decode[pairs[k].decode].candidate.replicas_per_instance
            cols.append((b, k))
            pcap.append(p)
            dcap.append(min(d, pairs[k].link_rps[b]) * per)
    return _Routes(cols, pcap, dcap, tuple(be))


def solve_split(
    prefill: Sequence[Pool],
    decode: Sequence[Pool],
    pairs: Sequence[Pair],
    buckets: Sequence[Bucket],
    objective: ServeObjective = ServeObjective.COST,
    *,
    rate_scale: float = 1.0,
    traffic_scale: float | None = None,
    tail_share: float = 0.0,
    max_instances_per_type: int = 512,
    time_limit_s: float = 60.0,
    one_pair: bool = True,
    factors: tuple[float, float] = (1.0, 1.0),
) -> tuple[DisaggMix | None, str]:
    """The optimal split (module docstring) and, when there is none, why. The pools are sized for every bucket's
    rate × ``rate_scale`` (the busy-window rate) and carry its rate × ``traffic_scale`` (default ``rate_scale``)
    on average, which sets tokens, busy energy and carbon. Buckets no pair serves within the SLOs are served best
    effort, up to ``tail_share`` of the requests.

    ``one_pair``: one prefill pool and one decode pool (a binary ``w_k`` per pair, ``x_bk ≤ w_k``, ``Σ w_k ≤ 1``),
    the deployment the simulator replays; otherwise any number of pools and pairs. ``factors`` scales the
    prefill and the decode capacities (the replay's tightening)."""
    if not pairs:
        return None, "no prefill and decode pools with a link between them (same cloud and region)"
    rates = np.array([b.rate_per_s for b in buckets]) * rate_scale
    routes = _routes(pairs, decode, len(buckets))
    routes = _Routes(routes.cols, [c * factors[0] for c in routes.prefill_cap],
                     [c * factors[1] for c in routes.decode_cap], routes.best_effort)  # fmt: skip
    served = {b for b, _ in routes.cols}
    total = sum(b.requests for b in buckets)
    be_share = sum(b.requests for b, be in zip(buckets, routes.best_effort, strict=True) if be) / total
    if len(served) < len(buckets):
        missing = [buckets[b].label for b in range(len(buckets)) if b not in served]
        return None, f"no linked pair of pools holds the requests of {', '.join(missing)}"
    if be_share > tail_share + 1e-12:
        late = [b.label for b, be in zip(buckets, routes.best_effort, strict=True) if be]
        return None, (
            f"no linked pair of pools meets the SLOs for {', '.join(late)} ({be_share:.1%} of the requests; at most "
            f"{tail_share:.1%} may be served best effort)"
        )
    n_p, n_d, n_x = len(prefill), len(decode), len(routes.cols)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    r = 0
    for b in range(len(buckets)):
        for x, (xb, _) in enumerate(routes.cols):
            if xb == b:
                rows.append(r)
                cols.append(n_p + n_d + x)
                vals.append(1.0)
        lo.append(1.0)
        hi.append(1.0)
        r += 1
    for pool_count, side in ((n_p, "prefill"), (n_d, "decode")):
        for i in range(pool_count):
            offset = 0 if side == "prefill" else n_p
            for x, (b, k) in enumerate(routes.cols):
                owner = pairs[k].prefill if side == "prefill" else pairs[k].decode
                if owner == i:
                    cap = routes.prefill_cap[x] if side == "prefill" else routes.decode_cap[x]
                    rows.append(r)
                    cols.append(n_p + n_d + x)
                    vals.append(rates[b] / cap)
            rows.append(r)
            cols.append(offset + i)
            vals.append(-1.0)
            lo.append(-np.inf)
            hi.append(0.0)
            r += 1
    n_w = len(pairs) if one_pair else 0
    w0 = n_p + n_d + n_x
    for x, (_, k) in enumerate(routes.cols[:n_x] if one_pair else ()):
        rows.extend((r, r))
        cols.extend((n_p + n_d + x, w0 + k))
        vals.extend((1.0, -1.0))
        lo.append(-np.inf)
        hi.append(0.0)
        r += 1
    if one_pair:
        rows.extend([r] * n_w)
        cols.extend(range(w0, w0 + n_w))
        vals.extend([1.0] * n_w)
        lo.append(-np.inf)
        hi.append(1.0)
        r += 1
    cost = np.concatenate([_split_costs(prefill, decode, pairs, routes, rates, objective), np.zeros(n_w)])
    from scipy.optimize import LinearConstraint, milp
    from scipy.sparse import coo_array

    a = coo_array((vals, (rows, cols)), shape=(r, w0 + n_w)).tocsr()
    ub = np.concatenate([np.full(n_p + n_d, float(max_instances_per_type)), np.ones(n_x + n_w)])
    res = milp(
        cost,
        integrality=np.concatenate([np.ones(n_p + n_d), np.zeros(n_x), np.ones(n_w)]),
        bounds=(np.zeros(w0 + n_w), ub),
        constraints=LinearConstraint(a, np.array(lo), np.array(hi)),
        options={"time_limit": time_limit_s, "mip_rel_gap": 1e-6},
    )
    if res.x is None:
        return None, f"no split within max_instances_per_type {max_instances_per_type} serves the workload"
    traffic = rates / rate_scale * (rate_scale if traffic_scale is None else traffic_scale)
    shares = np.maximum(res.x[n_p + n_d : w0], 0.0)
    counts = np.rint(res.x[: n_p + n_d]).astype(int)
    return _split_mix(prefill, decode, pairs, routes, buckets, counts, shares, rates, traffic, be_share), ""


def _busy_j(c: PoolCandidate, busy: float, cap_per_instance: float) -> float:
    """Energy above idle per request at the modelled operating point (busy share × chips × busy power ÷ rate)."""
    per_replica = cap_per_instance / c.replicas_per_instance
    return busy * c.tp * c.busy_power_w_per_chip / per_replica if per_replica > 0 else 0.0


def _route_busy_j(
    prefill: Sequence[Pool], decode: Sequence[Pool], pairs: Sequence[Pair], routes: _Routes, x: int
) -> tuple[float, float]:
    """(prefill, decode) busy joules per request of routing column ``x``."""
    b, k = routes.cols[x]
    pr = pairs[k]
    pc, dc = prefill[pr.prefill].candidate, decode[pr.decode].candidate
    be = routes.best_effort[b]
    p_busy = (pr.prefill_busy_best_effort if be else pr.prefill_busy)[b]
    d_busy = 1.0 if be else dc.busy_fraction[b]
    return _busy_j(pc, p_busy, routes.prefill_cap[x]), _busy_j(dc, d_busy, routes.decode_cap[x])


def _split_costs(
    prefill: Sequence[Pool], decode: Sequence[Pool], pairs: Sequence[Pair], routes: _Routes, rates: FloatArray,
    objective: ServeObjective,
) -> FloatArray:  # fmt: skip
    """Price (or static facility power) per instance, and for energy the busy power of each routed share; a
    whisper of the other objective breaks ties."""
    pools = [*prefill, *decode]
    cost = np.zeros(len(pools) + len(routes.cols))
    for i, p in enumerate(pools):
        static = p.candidate.static_power_w * p.pue
        cost[i] = (p.price_usd_per_h + 1e-6 * static) if objective is ServeObjective.COST else (
            static + 1e-6 * p.price_usd_per_h)  # fmt: skip
    if objective is ServeObjective.ENERGY:
        for x, (b, k) in enumerate(routes.cols):
            pj, dj = _route_busy_j(prefill, decode, pairs, routes, x)
            cost[len(pools) + x] = rates[b] * (pj * prefill[pairs[k].prefill].pue + dj * decode[pairs[k].decode].pue)
    return cost


def _split_mix(
    prefill: Sequence[Pool], decode: Sequence[Pool], pairs: Sequence[Pair], routes: _Routes, buckets: Sequence[Bucket],
    counts: NDArray[np.int_], shares: FloatArray, rates: FloatArray, traffic: FloatArray, be_share: float,
) -> DisaggMix:  # fmt: skip
    """The split the program chose: pool entries with their load and busy share, the links used."""
    n_p = len(prefill)
    used = np.zeros(n_p + len(decode))
    busy_w = np.zeros(n_p + len(decode))
    bucket_shares = np.zeros((n_p + len(decode), len(buckets)))
    for x, (b, k) in enumerate(routes.cols):
        s = shares[x]
        if s <= 1e-12:
            continue
        pr = pairs[k]
        pj, dj = _route_busy_j(prefill, decode, pairs, routes, x)
        used[pr.prefill] += s * rates[b] / routes.prefill_cap[x]
        used[n_p + pr.decode] += s * rates[b] / routes.decode_cap[x]
        busy_w[pr.prefill] += s * traffic[b] * pj
        busy_w[n_p + pr.decode] += s * traffic[b] * dj
        bucket_shares[pr.prefill, b] += s
        bucket_shares[n_p + pr.decode, b] += s
    entries: list[PoolEntry] = []
    power = cost = co2 = 0.0
    has_co2 = True
    for i, pool in enumerate([*prefill, *decode]):
        n = int(counts[i])
        if n <= 0:
            continue
        c = pool.candidate
        watts = (n * c.static_power_w + busy_w[i]) * pool.pue
        power += watts
        cost += n * pool.price_usd_per_h
        if pool.grid_gco2_per_kwh is None:
            has_co2 = False
        else:
            co2 += watts / 1e6 * pool.grid_gco2_per_kwh
        chips = n * c.replicas_per_instance * c.tp
        entries.append(
            PoolEntry(
                role=c.role, instance=c.instance, config=c.label if c.role == DECODE else f"{c.instance} tp={c.tp} "
                f"{c.precision.value}", region=pool.region, count=n, tp=c.tp, replicas=n * c.replicas_per_instance,
                price_usd_per_h=pool.price_usd_per_h, load=float(used[i] / n),
                busy_fraction=min(1.0, float(busy_w[i]) / (chips * c.busy_power_w_per_chip)), validated=c.validated,
                bucket_shares=_t(bucket_shares[i]), max_seqs=c.max_seqs,
            )
        )  # fmt: skip
    links = _links(prefill, decode, pairs, routes, counts, shares, rates, used)
    out_tps = float(sum(b.output_mean * r for b, r in zip(buckets, traffic, strict=True)))
    in_tps = float(sum(b.input_mean * r for b, r in zip(buckets, traffic, strict=True)))
    return DisaggMix(
        prefill=tuple(e for e in entries if e.role == PREFILL),
        decode=tuple(e for e in entries if e.role == DECODE),
        links=links,
        cost_usd_per_h=cost,
        power_w=power,
        output_tokens_per_s=out_tps,
        input_tokens_per_s=in_tps,
        co2_kg_per_h=co2 if has_co2 else None,
        best_effort_share=be_share,
    )


def _links(
    prefill: Sequence[Pool], decode: Sequence[Pool], pairs: Sequence[Pair], routes: _Routes, counts: NDArray[np.int_],
    shares: FloatArray, rates: FloatArray, used: FloatArray,
) -> tuple[LinkUse, ...]:  # fmt: skip
    """Each pair carrying requests: its share, its KV traffic, and that traffic ÷ the bandwidth of the prefill
    workers it keeps busy (the pool's workers in proportion to the load this pair puts on them)."""
    out = []
    for k, pr in enumerate(pairs):
        xs = [(x, b) for x, (b, kk) in enumerate(routes.cols) if kk == k and shares[x] > 1e-12]
        if not xs:
            continue
        pc, dc = prefill[pr.prefill].candidate, decode[pr.decode].candidate
        gb_s = sum(shares[x] * rates[b] * pr.gb_per_request[b] for x, b in xs)
        load = sum(shares[x] * rates[b] / routes.prefill_cap[x] for x, b in xs)
        workers = counts[pr.prefill] * pc.replicas_per_instance * (load / used[pr.prefill] if used[pr.prefill] else 0)
        out.append(
            LinkUse(
                prefill=pc.instance, decode=dc.instance, prefill_vendor=pc.vendor, decode_vendor=dc.vendor,
                kind=pr.link.kind.value, bytes_per_s=pr.link.bytes_per_s, latency_s=pr.link.latency_s,
                description=pr.link.description, share=float(sum(shares[x] * rates[b] for x, b in xs) / rates.sum()),
                transfer_p90_s=max(pr.transfer_p90_s[b] for _, b in xs), gb_per_s=float(gb_s),
                utilisation=float(gb_s * 1e9 / (workers * pr.link.bytes_per_s)) if workers > 0 else 0.0,
            )
        )  # fmt: skip
    return tuple(out)
