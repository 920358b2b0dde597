"""The split program: pairs only where a link exists, capacity for the load on both pools, one pair by default."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from chipfleet.catalog import Catalog, Pricing
from chipfleet.plan.serve.buckets import Bucket, bucketize
from chipfleet.plan.serve.disagg import Pair, Pool, keep_best_per_type, link_pairs, price_pools, solve_split
from chipfleet.plan.serve.pools import pool_candidates
from chipfleet.plan.serve.spec import ServeConstraints, ServeObjective, ServeSLO
from chipfleet.traces import poisson
from chipfleet.workloads import get_model

from .fleets import LONG_8B

SLO = ServeSLO(2.0, 0.05)


@dataclass(frozen=True)
class Split:
    buckets: tuple[Bucket, ...]
    prefill: list[Pool]
    decode: list[Pool]
    pairs: list[Pair]
    refused: int


def _split(cat: Catalog, prefill_types: tuple[str, ...], decode_types: tuple[str, ...], rate: float = 8.0) -> Split:
    model = get_model(LONG_8B)
    trace = poisson(rate, duration_s=120, input_dist="lognormal:mean=4000,sigma=0.5,max=12000",
                    output_dist="lognormal:mean=200,sigma=0.5,max=1000", rng=np.random.default_rng(3))  # fmt: skip
    buckets = bucketize(trace)
    pc, _ = pool_candidates(model, buckets, SLO, cat, ServeConstraints(instances=prefill_types), Counter())
    _, dc = pool_candidates(model, buckets, SLO, cat, ServeConstraints(instances=decode_types), Counter())
    price = {n: p.usd_per_h for n, i in cat.instances.items() if (p := i.price(None, Pricing.ON_DEMAND)) is not None}
    pc = keep_best_per_type(pc, buckets, SLO, ServeObjective.COST, price)
    dc = keep_best_per_type(dc, buckets, SLO, ServeObjective.COST, price)
    prefill = price_pools(cat, pc, None, Pricing.ON_DEMAND)
    decode = price_pools(cat, dc, None, Pricing.ON_DEMAND)
    pairs, refused = link_pairs(model, cat, prefill, decode, buckets, SLO)
    return Split(buckets, prefill, decode, pairs, refused)


def test_pools_in_two_clouds_are_never_paired(cat: Catalog) -> None:
    s = _split(cat, ("p5.4xlarge",), ("a3-highgpu-8g",))
    assert not s.pairs and s.refused == len(s.prefill) * len(s.decode) > 0
    mix, why = solve_split(s.prefill, s.decode, s.pairs, s.buckets)
    assert mix is None and "link" in why


def test_a_chosen_pair_sits_in_one_region(cat: Catalog) -> None:
    # trn2.48xlarge is priced in more regions than inf2.48xlarge: only the shared ones may pair
    s = _split(cat, ("trn2.48xlarge", "p5.4xlarge"), ("inf2.48xlarge", "p5en.48xlarge"))
    for pr in s.pairs:
        assert s.prefill[pr.prefill].region == s.decode[pr.decode].region
    assert s.refused > 0
    for one_pair in (True, False):
        mix, _ = solve_split(s.prefill, s.decode, s.pairs, s.buckets, one_pair=one_pair)
        assert mix is not None
        assert {e.region for e in (*mix.prefill, *mix.decode)} == {mix.prefill[0].region}


def test_both_pools_carry_their_load(cat: Catalog) -> None:
    s = _split(cat, ("p5.4xlarge", "p5.48xlarge"), ("p5.4xlarge", "p4de.24xlarge"), rate=20.0)
    mix, _ = solve_split(s.prefill, s.decode, s.pairs, s.buckets)
    assert mix is not None and len(mix.prefill) == 1 and len(mix.decode) == 1
    for e in (*mix.prefill, *mix.decode):
        assert 0 < e.load <= 1.0 + 1e-6
        assert all(abs(share - 1.0) < 1e-6 for share in e.bucket_shares)
    assert mix.cost_usd_per_h == sum(e.count * e.price_usd_per_h for e in (*mix.prefill, *mix.decode))
    (link,) = mix.links
    assert link.share == 1.0 and 0 < link.utilisation <= 0.5 + 1e-9
    # twice the rate needs at least as many of each pool, and no more than the program's bound
    double, _ = solve_split(s.prefill, s.decode, s.pairs, s.buckets, rate_scale=2.0)
    assert double is not None and double.cost_usd_per_h >= mix.cost_usd_per_h


def test_more_pools_never_cost_more_than_one_pair(cat: Catalog) -> None:
    s = _split(cat, ("p5.4xlarge", "p5.48xlarge", "g6e.xlarge"), ("p5.4xlarge", "p4de.24xlarge", "g6e.xlarge"), 20.0)
    one, _ = solve_split(s.prefill, s.decode, s.pairs, s.buckets)
    many, _ = solve_split(s.prefill, s.decode, s.pairs, s.buckets, one_pair=False)
    assert one is not None and many is not None
    assert many.cost_usd_per_h <= one.cost_usd_per_h + 1e-6
