"""Serving-planner benchmark: what a mix saves, whether the replay holds the SLO, how long a plan takes, and
the planner's figures next to NVIDIA AIConfigurator's and the published TensorRT-LLM measurements.

Prints, in one run:

1. **Plans** for Llama-3-8B and Llama-3-70B on the three shipped request traces (Azure code and conversation,
   Mooncake conversation) over every catalog instance type, on-demand: the chosen mix and its $/h, the best
   single-instance-type fleet solved and replayed the same way, the saving, the replay's p90 TTFT and TPOT
   and SLO attainment, the rounds it took, and the solve and replay times. The 8B runs replay the traces at
   ten times their recorded rate (a fleet of one instance would leave nothing to mix).
2. **Side by side with AIConfigurator** (``aiconfigurator==0.12.0``, NVIDIA's offline serving configurator,
   installed from PyPI into ``benchmarks/.venv-aiconfigurator`` and run in a subprocess; it needs no GPU and
   no network once installed) on cases it supports: one 8 × H100 SXM node (``p5.48xlarge``), fixed prompt and
   output lengths, a TTFT and TPOT target, bf16. For each tool: the configuration chosen (chips per replica,
   concurrency), predicted output tokens/s per GPU and latencies.
3. **Which is closer to the measurements**: with no latency target, FP8, at the tensor-parallel degree of the
   published row, each tool's highest throughput per GPU against NVIDIA's TensorRT-LLM perf-overview table
   (H100 SXM, ``NVIDIA/TensorRT-LLM:docs/source/performance/perf-overview.md@258c7540``, the v0.17-era
   revision; chipfleet's Hopper efficiency parameters were fitted on the v1.0 revision of the same table,
   ``@00f37686``, so this is a related, not an independent, check; AIConfigurator's perf database is NVIDIA's
   own measurement of TensorRT-LLM).

4. **Disaggregation** (``plan serve --disagg auto``): on long-prompt workloads (the Mooncake conversation trace,
   a synthetic 8k-in/1k-out one) and the Azure conversation trace, the best aggregated plan and the best split of
   one prefill pool and one decode pool, each replayed in its simulator against the same p90 SLOs (their SLO
   attainment side by side), the saving, the cheapest splits across unlike chips among the candidates (cross-vendor
   marked) with their modelled figures, and the solve and replay times.

Run: ``.venv/bin/python benchmarks/plan_serve.py`` (``--no-peer`` skips AIConfigurator; ``--quick`` runs one
plan per model; ``--disagg-only`` runs section 4 alone).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
from _peer_venv import HERE, PeerVenv

from chipfleet import plan
from chipfleet.catalog import Catalog, Precision, default_catalog
from chipfleet.perf.batching import ReplicaLimits, SizeClass, capacity_within_slo, operating_curve
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.inference import valid_tp_degrees
from chipfleet.perf.iteration import IterationModel
from chipfleet.plan.serve import DisaggMode
from chipfleet.sim.serving import ServeOptions, replica_shape
from chipfleet.traces import load_trace, poisson
from chipfleet.workloads import get_model

PEER = PeerVenv(".venv-aiconfigurator", ("aiconfigurator==0.12.0", "aiconfigurator-core==0.12.0"), "aiconfigurator")
PEER_SCRIPT = HERE / "_aiconfigurator_peer.py"
NODE = "p5.48xlarge"  # 8 × H100 SXM 80GB, AIConfigurator's h100_sxm system
NODE_GPUS = 8


@dataclass(frozen=True)
class Case:
    trace: str
    model: str
    rate_scale: float
    ttft_s: float
    tpot_s: float
    clouds: tuple[str, ...] = ()


CASES = (
    Case("azure-code", "llama-3-8b", 10.0, 1.0, 0.05),
    Case("azure-conv", "llama-3-8b", 10.0, 1.0, 0.05),
    # Mooncake's prompts run to 126k tokens: no chip prefills them within a second.
    Case("mooncake-conv", "llama-3.1-8b", 10.0, 10.0, 0.05),
    Case("azure-code", "llama-3-70b", 1.0, 2.0, 0.1),
    Case("azure-conv", "llama-3-70b", 1.0, 2.0, 0.1),
    Case("mooncake-conv", "llama-3.1-70b", 1.0, 15.0, 0.1),
    # AWS alone: Inferentia and Trainium against the NVIDIA instances of one cloud.
    Case("azure-code", "llama-3-8b", 10.0, 1.0, 0.05, ("aws",)),
    Case("azure-conv", "llama-3-8b", 10.0, 1.0, 0.05, ("aws",)),
    Case("mooncake-conv", "llama-3.1-70b", 1.0, 15.0, 0.1, ("aws",)),
)

# (model, prompt, output, TTFT target s, TPOT target s) on one 8-GPU node, bf16.
SLO_CASES = (
    ("llama-3-8b", 1024, 256, 1.0, 0.05),
    ("llama-3-8b", 2048, 128, 1.0, 0.05),
    ("llama-3-70b", 1024, 256, 2.0, 0.05),
    ("llama-3-70b", 2048, 128, 2.0, 0.05),
)

# NVIDIA TensorRT-LLM perf overview, H100 SXM 80GB, FP8 checkpoints, trtllm-bench offline throughput (output
# tokens/s per GPU = the table's throughput ÷ TP), docs/source/performance/perf-overview.md@258c7540.
PUBLISHED = (
    ("llama-3-8b", 1, 2048, 128, 3556.73),
    ("llama-3-8b", 1, 1000, 1000, 15244.78),
    ("llama-3-70b", 2, 2048, 128, 386.3),
    ("llama-3-70b", 2, 1000, 1000, 2195.3),
    ("llama-3-70b", 4, 1000, 1000, 1857.7),
    ("llama-3-70b", 8, 2048, 128, 240.4),
)
OFFLINE_MAX_SEQS = 2048  # an offline throughput run is limited by the KV cache, not by a sequence cap


def plans(cases: tuple[Case, ...], catalog: Catalog) -> None:
    print("== 1. plans over every instance type, or one cloud's (on-demand, each type at its cheapest region)")
    for case in cases:
        trace = load_trace(case.trace).scale_rate(case.rate_scale)
        slo = plan.ServeSLO(case.ttft_s, case.tpot_s)
        t0 = time.perf_counter()
        try:
            c = plan.ServeConstraints(clouds=case.clouds)
            p = plan.serve(get_model(case.model), trace, slo, catalog=catalog, constraints=c)  # type: ignore[arg-type]
        except plan.InfeasibleServeError as e:
            print(f"{case.model} on {case.trace}: infeasible: {e}")
            continue
        wall = time.perf_counter() - t0
        head = (
            f"{case.model} on {case.trace} ×{case.rate_scale:g}{' on ' + ','.join(case.clouds) if case.clouds else ''} "
            f"({len(trace):,} requests, {trace.rate_per_s:.1f} "
            f"req/s, SLO p90 TTFT {case.ttft_s:g} s, TPOT {case.tpot_s * 1e3:g} ms; sized for {p.design_factor:.2f}× "
            f"the mean rate)"
        )
        print(head)
        m = p.mix
        per_m, j = m.usd_per_million_output_tokens, m.j_per_output_token
        print(f"  mix      {m.describe()}: ${m.cost_usd_per_h:,.2f}/h, ${per_m:.3f}/M output tokens, {j:.2f} J/token")
        left_out = "" if p.excluded is None else f"; left out: {p.excluded.reason}"
        print(f"  p90      fleet-level: {m.best_effort_share:.2%} of requests served best effort "
              f"(allowed {p.tail_share:.0%}){left_out}")  # fmt: skip
        if p.single is not None:
            saving = p.savings or 0.0
            verdict = (
                "one type is the plan (replayed, it was the cheaper sound fleet)"
                if p.chose_single
                else "the same fleet"
                if p.mix.describe() == p.single.describe()
                else f"mix saves {saving:.1%}"
            )
            print(f"  single   {p.single.describe()}: ${p.single.cost_usd_per_h:,.2f}/h -> {verdict}")  # fmt: skip
        else:
            print("  single   no one instance type serves every bucket within the SLOs")
        if p.replay is not None:
            r = p.replay
            att = "n/a" if r.slo_attainment is None else f"{r.slo_attainment:.1%}"
            ttft, tpot_ms = r.ttft_s["p90"], r.tpot_s["p90"] * 1e3
            rounds = f"rounds: mix {len(p.rounds)}, single {len(p.single_rounds)}"
            print(f"  replay   p90 TTFT {ttft:.3f} s, p90 TPOT {tpot_ms:.1f} ms, SLO attainment {att}, "
                  f"meets SLO: {p.meets_slo}; {rounds}")  # fmt: skip
        print(f"  time     capacities + programs {p.solve_s:.2f} s, replays {p.replay_s:.2f} s, total {wall:.2f} s "
              f"({p.deployments} configurations, {len(p.buckets)} buckets)")  # fmt: skip


@dataclass(frozen=True)
class DisaggCase:
    label: str
    model: str
    ttft_s: float
    tpot_s: float
    trace: str = ""  # a shipped trace, else the synthetic workload below
    rate_scale: float = 1.0
    synthetic: tuple[float, int, int] = (0.0, 0, 0)  # rate/s, prompt tokens, output tokens (fixed), 10 minutes
    clouds: tuple[str, ...] = ()
    instances: tuple[str, ...] = ()


DISAGG_CASES = (
    DisaggCase("Mooncake conversation ×10", "llama-3.1-8b", 10.0, 0.05, trace="mooncake-conv", rate_scale=10.0),
    DisaggCase("Mooncake conversation, AWS", "llama-3.1-70b", 15.0, 0.1, trace="mooncake-conv", clouds=("aws",)),
    DisaggCase("synthetic 8k/1k", "llama-3.1-70b", 3.0, 0.05, synthetic=(4.0, 8192, 1024)),
    DisaggCase("synthetic 8k/1k, AWS", "llama-3.1-8b", 2.0, 0.05, synthetic=(20.0, 8192, 1024), clouds=("aws",)),
    DisaggCase("Azure conversation ×10", "llama-3-8b", 1.0, 0.05, trace="azure-conv", rate_scale=10.0),
    # where chipfleet's model finds splitting pays: long prompts, short outputs, a TPOT SLO a prefill chunk breaks
    DisaggCase("synthetic 8k/64, 12 ms TPOT, 1-GPU", "llama-3.1-8b", 2.0, 0.012, synthetic=(10.0, 8192, 64),
               instances=("p5.4xlarge",)),
)  # fmt: skip


def disaggregation(catalog: Catalog) -> None:
    print("== 4. disaggregated (one prefill pool + one decode pool) against aggregated, both replayed (--disagg auto)")
    for case in DISAGG_CASES:
        if case.trace:
            trace = load_trace(case.trace).scale_rate(case.rate_scale)
        else:
            rate, prompt, out = case.synthetic
            trace = poisson(rate, duration_s=600.0, input_dist=f"fixed:{prompt}", output_dist=f"fixed:{out}",
                            rng=np.random.default_rng(0), name=f"synthetic {prompt}/{out}")  # fmt: skip
        slo = plan.ServeSLO(case.ttft_s, case.tpot_s)
        c = plan.ServeConstraints(clouds=case.clouds, instances=case.instances)
        t0 = time.perf_counter()
        try:
            p = plan.serve(get_model(case.model), trace, slo, catalog=catalog, constraints=c,
                           disagg=DisaggMode.AUTO)  # fmt: skip
        except plan.InfeasibleServeError as e:
            print(f"{case.label}, {case.model}: infeasible: {e}")
            continue
        wall = time.perf_counter() - t0
        print(f"{case.label}, {case.model} ({len(trace):,} requests, {trace.rate_per_s:.1f} req/s; SLO p90 TTFT "
              f"{case.ttft_s:g} s, TPOT {case.tpot_s * 1e3:g} ms)")  # fmt: skip
        r = p.replay
        att = "—" if r is None or r.slo_attainment is None else f"{r.slo_attainment:.1%}"
        lat = "" if r is None else f"p90 TTFT {r.ttft_s['p90']:.3f} s, TPOT {r.tpot_s['p90'] * 1e3:.1f} ms"
        print(f"  aggregated  {p.mix.describe()}: ${p.mix.cost_usd_per_h:,.2f}/h; replay {lat}, attainment {att}, "
              f"meets SLO {p.meets_slo}")  # fmt: skip
        o = p.disagg
        assert o is not None
        if o.mix is not None:
            m = o.mix
            last = o.rounds[-1] if o.rounds else None
            seen = "not replayed" if last is None else (
                f"replay p90 TTFT {last.ttft_s['p90']:.3f} s, TPOT {last.tpot_s['p90'] * 1e3:.1f} ms, attainment "
                f"{'—' if last.slo_attainment is None else f'{last.slo_attainment:.1%}'}, meets SLO {last.meets_slo}"
            )  # fmt: skip
            print(f"  split       {m.fleet}: ${m.cost_usd_per_h:,.2f}/h; {seen}; {len(o.rounds)} round(s)")
            replayed = "—" if last is None or last.link_utilisation is None else f"{last.link_utilisation:.1%}"
            for link in m.links:
                print(f"  link        {link.prefill} -> {link.decode}: {link.kind}, {link.bytes_per_s / 1e9:,.1f} "
                      f"GB/s, p90 transfer {link.transfer_p90_s * 1e3:.1f} ms, {link.gb_per_s:,.2f} GB/s moved, "
                      f"utilisation {link.utilisation:.1%} (replay {replayed})")  # fmt: skip
        print(f"  decision    {'split' if o.chosen else 'aggregated'}: {o.reason}")
        for x in o.cross_vendor:
            print(f"  unlike      {x.prefill_count} × {x.prefill} tp={x.prefill_tp} -> {x.decode_count} × {x.decode} "
                  f"tp={x.decode_tp}{' (cross-vendor)' if x.cross_vendor else ''}: ${x.cost_usd_per_h:,.2f}/h, "
                  f"{x.power_w / 1e3:.2f} kW idle, {x.link}, {x.link_gb_per_s:,.2f} GB/s")  # fmt: skip
        print(f"  time        aggregated {p.solve_s:.2f} + {p.replay_s:.2f} s replay; split {o.solve_s:.2f} s solve + "
              f"{o.replay_s:.2f} s replay ({o.pairs} linked pairs); total {wall:.2f} s")  # fmt: skip


def _fixed(prompt: int, output: int) -> SizeClass:
    return SizeClass(np.array([prompt]), np.array([prompt * prompt]), np.array([prompt]), np.array([output]))


def chipfleet_node(
    catalog: Catalog, model_name: str, prompt: int, output: int, ttft_s: float, tpot_s: float,
    precision: Precision, tps: list[int] | None = None, max_seqs: int = 256,
) -> dict[str, float]:  # fmt: skip
    """chipfleet's best configuration of one node for fixed lengths: the tp that gives the most output
    tokens/s per GPU within the p90 SLOs, from the planner's capacity model."""
    model, hw = get_model(model_name), hardware_for(catalog, NODE)
    best: dict[str, float] = {}
    for tp in tps or valid_tp_degrees(model, hw):
        opts = ServeOptions(tp=tp, precision=precision, max_seqs=max_seqs)
        try:
            _, kv = replica_shape(model, hw, opts)
        except Exception:
            continue
        it = IterationModel(model, hw, tp, precision)
        curve = operating_curve(it, ReplicaLimits(opts.max_batch_tokens, max_seqs, kv), _fixed(prompt, output))
        cap = capacity_within_slo(curve, ttft_s, tpot_s)
        per_gpu = float(cap.rate_per_s[0]) * output / tp
        if per_gpu > best.get("tokens_per_s_per_gpu", 0.0):
            best = {
                "tp": tp,
                "replicas": NODE_GPUS // tp,
                "concurrency_per_replica": float(cap.decoding[0]),
                "tokens_per_s_per_gpu": per_gpu,
                "ttft_ms": float(cap.ttft_p90_s[0]) * 1e3,
                "tpot_ms": float(cap.tpot_p90_s[0]) * 1e3,
            }
    return best


def _peer(job: dict[str, object]) -> dict[str, object] | str:
    try:
        out = PEER.run(PEER_SCRIPT, job, timeout_s=300.0)
    except Exception as e:
        return str(e)
    agg = out.get("agg")
    if not isinstance(agg, dict):
        return f"no aggregated configuration ({out.get('error', 'see stderr')})"
    agg["version"] = (
        f"aiconfigurator {out.get('aiconfigurator_version')}, {out.get('backend')} {out.get('backend_version')}"
    )
    return agg


def side_by_side(catalog: Catalog, use_peer: bool) -> None:
    print("\n== 2. one 8 × H100 node, bf16, fixed lengths, TTFT/TPOT targets: chipfleet vs AIConfigurator")
    why = PEER.ensure() if use_peer else "skipped (--no-peer)"
    if why:
        print(f"AIConfigurator: {why}")
    for model, prompt, output, ttft, tpot in SLO_CASES:
        ours = chipfleet_node(catalog, model, prompt, output, ttft, tpot, Precision.BF16)
        label = f"{model} {prompt}/{output}, TTFT ≤ {ttft:g} s, TPOT ≤ {tpot * 1e3:g} ms"
        print(f"{label}")
        shape = (
            f"tp={ours['tp']:.0f} × {ours['replicas']:.0f} replicas, concurrency {ours['concurrency_per_replica']:.0f}"
        )
        print(f"  chipfleet       {shape}/replica: {ours['tokens_per_s_per_gpu']:,.0f} output tokens/s/GPU, "
              f"p90 TTFT {ours['ttft_ms']:.0f} ms, p90 TPOT {ours['tpot_ms']:.1f} ms")  # fmt: skip
        if why:
            continue
        job = {"model": model, "system": "h100_sxm", "total_gpus": NODE_GPUS, "isl": prompt, "osl": output,
               "ttft_ms": ttft * 1e3, "tpot_ms": tpot * 1e3, "backend": "trtllm", "disagg": False}  # fmt: skip
        peer = _peer(job)
        if isinstance(peer, str):
            print(f"  AIConfigurator  failed: {peer}")
            continue
        # AIConfigurator counts the OSL − 1 decode tokens of a request; chipfleet and the published table count
        # all OSL output tokens (the first comes out of the prefill), so its figure is scaled by OSL/(OSL − 1).
        peer_tps = float(peer["tokens_per_s_per_gpu"]) * output / (output - 1)  # type: ignore[arg-type]
        print(f"  AIConfigurator  tp={peer['tp']} × {peer['replicas']} replicas, concurrency "
              f"{peer['concurrency_per_replica']}/replica: {peer_tps:,.0f} output tokens/s/GPU, TTFT "
              f"{float(peer['ttft_ms']):.0f} ms, TPOT {float(peer['tpot_ms']):.1f} ms (its steady-state estimates; "  # type: ignore[arg-type]
              f"{peer['version']})")  # fmt: skip
        print(f"  ratio           chipfleet / AIConfigurator throughput per GPU: "
              f"{ours['tokens_per_s_per_gpu'] / peer_tps:.2f}")  # fmt: skip


def against_measurements(catalog: Catalog, use_peer: bool) -> None:
    print("\n== 3. highest throughput per GPU, FP8, no latency target, vs NVIDIA's published TensorRT-LLM table")
    ape: dict[str, list[float]] = {"chipfleet": [], "AIConfigurator": []}
    why = PEER.ensure() if use_peer else "skipped (--no-peer)"
    for model, tp, prompt, output, published in PUBLISHED:
        ours = chipfleet_node(catalog, model, prompt, output, 1e6, 1e3, Precision.FP8, [tp], OFFLINE_MAX_SEQS)
        ours_tps = ours.get("tokens_per_s_per_gpu", float("nan"))
        line = f"{model} TP{tp} {prompt}/{output}: published {published:,.0f}; chipfleet {ours_tps:,.0f} " \
               f"({ours_tps / published - 1:+.1%})"  # fmt: skip
        ape["chipfleet"].append(abs(ours_tps / published - 1))
        if not why:
            job = {"model": model, "system": "h100_sxm", "total_gpus": tp, "isl": prompt, "osl": output,
                   "ttft_ms": 1e6, "tpot_ms": 1e4, "backend": "trtllm", "precision": "fp8", "agg_tp": [tp],
                   "disagg": False}  # fmt: skip
            peer = _peer(job)
            if isinstance(peer, str):
                line += f"; AIConfigurator failed: {peer}"
            else:
                peer_tps = float(peer["tokens_per_s_per_gpu"]) * output / (output - 1)  # type: ignore[arg-type]
                ape["AIConfigurator"].append(abs(peer_tps / published - 1))
                line += f"; AIConfigurator {peer_tps:,.0f} ({peer_tps / published - 1:+.1%})"
                closer = "chipfleet" if abs(ours_tps - published) < abs(peer_tps - published) else "AIConfigurator"
                line += f" -> closer: {closer}"
        print(line)
    for tool, errs in ape.items():
        if errs:
            print(f"median APE {tool}: {np.median(errs):.1%} over {len(errs)} rows")
    if why:
        print(f"AIConfigurator: {why}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-peer", action="store_true", help="skip AIConfigurator (chipfleet's figures only)")
    ap.add_argument("--quick", action="store_true", help="one plan per model (azure-conv)")
    ap.add_argument("--disagg-only", action="store_true", help="section 4 alone (disaggregation)")
    args = ap.parse_args()
    catalog = default_catalog()
    if args.disagg_only:
        disaggregation(catalog)
        return 0
    cases = tuple(c for c in CASES if c.trace == "azure-conv") if args.quick else CASES
    plans(cases, catalog)
    side_by_side(catalog, not args.no_peer)
    against_measurements(catalog, not args.no_peer)
    disaggregation(catalog)
    return 0


if __name__ == "__main__":
    from chipfleet.cli.output import native_stdout_silenced

    # HiGHS prints its MIP progress notes straight to descriptor 1; the figures are Python's prints, which go on
    with native_stdout_silenced(True):
        code = main()
    sys.exit(code)
