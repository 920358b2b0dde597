"""Speed of the job-level training-cluster simulation: the whole Philly trace on a 2,000-node mixed fleet.

    .venv/bin/python benchmarks/sim_train.py                      # gavel-max-throughput, Philly as recorded
    .venv/bin/python benchmarks/sim_train.py --rate 40 --fleet p5.48xlarge:50,trn1.32xlarge:50

Prints the wall time (throughput matrix, trace load, simulation), events per second and the headline
metrics. ``--rate`` replays the submissions that many times faster, to load the cluster and grow the queue.
"""

from __future__ import annotations

import argparse
import time

from chipfleet.catalog import default_catalog
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.training import get_policy, list_policies, simulate_training, throughput_matrix
from chipfleet.traces import load_trace

FLEET = "p5.48xlarge:500,p4d.24xlarge:500,trn1.32xlarge:500,g6e.48xlarge:500"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fleet", default=FLEET)
    ap.add_argument("--policy", default="gavel-max-throughput", choices=list_policies())
    ap.add_argument("--trace", default="philly")
    ap.add_argument("--rate", type=float, default=1.0, help="submission-rate factor (default 1: as recorded)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t0 = time.perf_counter()
    catalog = default_catalog()
    spec = FleetSpec.parse(args.fleet)
    matrix = throughput_matrix(catalog, [name for name, _ in spec.entries])
    t1 = time.perf_counter()
    trace = load_trace(args.trace)
    if args.rate != 1.0:
        trace = trace.scale_rate(args.rate)
    t2 = time.perf_counter()
    res = simulate_training(trace, spec, catalog, policy=get_policy(args.policy), matrix=matrix, seed=args.seed)
    t3 = time.perf_counter()

    print(f"trace      {trace.name}: {len(trace):,} jobs over {trace.span_s / 86400:.1f} days (rate ×{args.rate:g})")
    print(f"fleet      {spec.describe()} ({sum(n for _, n in spec.entries):,} nodes)  policy {res.policy}")
    print(f"matrix     reference {matrix.reference}, workload {matrix.workload.describe() if matrix.workload else '-'}")
    for s in matrix.speeds:
        print(f"             {s.instance:<16} ×{s.relative_speed:5.2f}  {s.tokens_per_s_per_chip or 0:8.0f} tok/s/chip")
    print(f"wall       matrix {t1 - t0:.2f} s, trace {t2 - t1:.2f} s, simulation {t3 - t2:.2f} s")
    print(f"events     {res.events:,} in {t3 - t2:.2f} s = {res.events / (t3 - t2):,.0f} events/s")
    print(
        f"jobs       {res.completed:,} completed, {res.rejected} rejected, {res.unfinished} unfinished, "
        f"{res.preemptions} preemptions"
    )
    h = 3600.0
    print(
        f"JCT        mean {res.jct_s.mean / h:.2f} h, p50 {res.jct_s.p50 / h:.2f} h, p90 {res.jct_s.p90 / h:.2f} h, "
        f"p99 {res.jct_s.p99 / h:.1f} h"
    )
    q = res.queueing_s
    print(f"queueing   mean {q.mean:.0f} s, p50 {q.p50:.0f} s, p90 {q.p90:.0f} s, p99 {q.p99:.0f} s, max {q.max:.0f} s")
    print(f"makespan   {res.makespan_s / 86400:.1f} days")
    for t in res.types:
        print(
            f"use        {t.instance:<16} busy {t.utilization:6.1%}  allocated {t.allocated_share:6.1%}  "
            f"held {t.held_share:6.1%}  runs {t.runs_started:6,}  {t.busy_chip_s / h:10,.0f} busy / "
            f"{t.allocated_chip_s / h:10,.0f} allocated chip-h"
        )
    print(
        f"work       {res.chip_hours:,.0f} busy chip-h ({res.work_ref_chip_h:,.0f} reference chip-h); "
        f"custom silicon {res.custom_silicon_chip_share:.1%} of chip-h, {res.custom_silicon_work_share:.1%} of work"
    )
    print(
        f"cost       jobs ${res.cost_usd:,.0f} (allocated chips); idle: held ${res.held_idle_cost_usd:,.0f}, "
        f"unused ${res.unused_cost_usd:,.0f}; fleet bill ${res.fleet_cost_usd:,.0f}"
    )
    print(
        f"energy     {res.energy_kwh:,.0f} kWh   utilization {res.utilization:.1%} busy, "
        f"{res.allocated_share:.1%} allocated"
    )


if __name__ == "__main__":
    main()
