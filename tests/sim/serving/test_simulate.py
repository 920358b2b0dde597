"""Request-level serving simulation: closed form at low load, queueing theory, routers, KV, prefix cache."""

from __future__ import annotations

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.perf import ServingConfig, estimate_inference, hardware_for
from chipfleet.serialize import to_jsonable
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.serving import ServeOptions, simulate_serving
from chipfleet.sim.serving.routers import list_routers, make_router
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import get_model

from .traces import MODEL, poisson, trace


@pytest.mark.parametrize(("instance", "inp", "out"), [("p5.48xlarge", 1024, 256), ("inf2.48xlarge", 512, 64)])
def test_one_request_alone_matches_the_model(cat: Catalog, instance: str, inp: int, out: int) -> None:
    """At low load the simulator's TTFT and TPOT equal the performance model's closed form."""
    tr = trace(np.array([0.0]), np.array([inp]), np.array([out]))
    res = simulate_serving(MODEL, tr, FleetSpec.parse(f"{instance}:1"), cat)
    tp = res.by_type[0].tp
    est = estimate_inference(
        ServingConfig(model=MODEL, batch=1, input_tokens=inp, output_tokens=out, tp=tp), hardware_for(cat, instance)
    )
    assert res.ttft_s["mean"] == pytest.approx(est.ttft_s, rel=1e-9)
    assert res.tpot_s["mean"] == pytest.approx(est.tpot_s, rel=1e-3)  # mean over growing context vs midpoint


def test_batch_one_replica_is_an_md1_queue(cat: Catalog) -> None:
    """One replica serving one request at a time, Poisson arrivals, fixed lengths: M/D/1.
    Mean wait Wq = ρ·S / (2·(1 − ρ)) (Pollaczek-Khinchine with zero service variance)."""
    inp, out = 512, 32
    single = simulate_serving(
        MODEL, trace(np.array([0.0]), np.array([inp]), np.array([out])), FleetSpec.parse("g6e.xlarge:1"), cat
    )
    service = single.e2e_s["mean"]
    prefill = single.ttft_s["mean"]
    rho = 0.6
    res = simulate_serving(
        MODEL, poisson(20_000, rho / service, inp, out, seed=3), FleetSpec.parse("g6e.xlarge:1"), cat,
        options=ServeOptions(max_seqs=1),
    )  # fmt: skip
    wq = rho * service / (2 * (1 - rho))
    assert res.ttft_s["mean"] - prefill == pytest.approx(wq, rel=0.08)


def test_same_seed_same_result_and_many_runs_per_process(cat: Catalog) -> None:
    tr = poisson(2000, 20.0, 800, 100, seed=1)
    fleet = FleetSpec.parse("g6e.xlarge:2,g6.xlarge:2")
    a = simulate_serving(MODEL, tr, fleet, cat, router="power-of-two", seed=7)
    b = simulate_serving(MODEL, tr, fleet, cat, router="power-of-two", seed=7)
    assert to_jsonable(a) == to_jsonable(b)


@pytest.mark.parametrize("router", list_routers())
def test_every_router_serves_every_request(cat: Catalog, router: str) -> None:
    tr = poisson(1500, 15.0, 600, 80, seed=2)
    res = simulate_serving(MODEL, tr, FleetSpec.parse("g6e.xlarge:2,g6.xlarge:2"), cat, router=router)
    assert res.completed == 1500 and res.rejected == 0
    assert res.ttft_s["p50"] > 0 and res.tpot_s["p50"] > 0
    assert all(0 <= t.utilization <= 1 for t in res.by_type)
    assert sum(t.completed for t in res.by_type) == 1500


def test_router_registry_refuses_unknown_names() -> None:
    from chipfleet.exceptions import UnknownNameError

    with pytest.raises(UnknownNameError, match="least-outstanding"):
        make_router("least-outstandin")


def test_slo_attainment_and_costs(cat: Catalog) -> None:
    tr = poisson(1000, 5.0, 1000, 100, seed=6)
    res = simulate_serving(
        MODEL, tr, FleetSpec.parse("g6e.xlarge:2"), cat, options=ServeOptions(slo_ttft_s=1.0, slo_tpot_s=0.05)
    )
    assert res.slo_attainment is not None and 0.5 < res.slo_attainment <= 1.0
    price = cat.instance("g6e.xlarge").price(None)
    assert price is not None
    assert res.cost_usd == pytest.approx(2 * price.usd_per_h * res.span_s / 3600)
    assert res.energy_kwh > 0


@pytest.mark.parametrize(
    ("model_name", "instance", "tp"), [("llama-3-8b", "p5.48xlarge", 2), ("mixtral-8x7b", "p5.48xlarge", 4)]
)
def test_iteration_model_equals_the_roofline(cat: Catalog, model_name: str, instance: str, tp: int) -> None:
    """The simulator's folded iteration cost is the performance model's phase_time, term for term."""
    from chipfleet.perf.inference import kv_bytes_per_token_per_chip, phase_time
    from chipfleet.perf.iteration import IterationModel
    from chipfleet.perf.kernels import elementwise_bytes_per_token, routed_extra_flops_per_token

    model = get_model(model_name)
    hw = hardware_for(cat, instance)
    it = IterationModel(model, hw, tp, it_precision := ServingConfig(model=model).weight_precision)
    rng = np.random.default_rng(0)
    for _ in range(20):
        d, p = int(rng.integers(0, 64)), int(rng.integers(0, 4096))
        if d + p == 0:
            continue
        dctx, keys, prefix, fin = (
            float(rng.integers(0, 10**6)),
            float(rng.integers(0, 10**7)),
            float(rng.integers(0, 10**5)),
            int(rng.integers(0, 4)),
        )
        t, busy = it.time(d, dctx, p, keys, prefix, fin)
        tokens = d + p
        cfg = ServingConfig(model=model, tp=tp, weight_precision=it_precision)
        L = model.n_layers
        flops = (
            tokens * 2.0 * L * model.params_per_layer_active / tp
            # routed experts' extra FLOPs at the attainable dense rate (phase_time divides by η(rows))
            + tokens * routed_extra_flops_per_token(model) / tp * hw.eff.gemm_fraction(tokens) / hw.eff.compute
            + (d + fin) * 2.0 * model.vocab_size * model.hidden_size / tp
        )
        attn = 4.0 * L * model.n_heads * model.head_dim / tp * (dctx + keys)
        from chipfleet.perf.inference import expected_experts_touched, weight_bytes_per_chip

        weights = weight_bytes_per_chip(model, tp, it_precision)
        if model.is_moe:
            weights -= (
                (model.n_experts - expected_experts_touched(model, tokens))
                * model.params_mlp_per_expert
                * L
                * it_precision.bytes
                / tp
            )
        kv = kv_bytes_per_token_per_chip(model, tp, cfg.kv_dtype)
        bytes_ = weights + kv * (dctx + prefix + p) + elementwise_bytes_per_token(model, it_precision) * L / tp * tokens
        ref = phase_time(model, hw, tp, cfg, flops, tokens, bytes_, tokens * model.hidden_size * 2.0, attn)
        assert t == pytest.approx(ref.time_s, rel=1e-9)
        assert busy == pytest.approx(max(ref.compute_s, ref.memory_s), rel=1e-9)
        times, busies = it.decode_block(d or 1, dctx, 3)
        one, one_busy = it.time(d or 1, dctx + 2 * (d or 1), 0, 0.0, 0.0, 0)
        assert times[2] == pytest.approx(one, rel=1e-9) and busies[2] == pytest.approx(one_busy, rel=1e-9)


@pytest.mark.parametrize("name", ["Least-Outstanding", " POWER-OF-TWO ", "Round-Robin"])
def test_router_names_are_case_insensitive(name: str) -> None:
    assert type(make_router(name)) is type(make_router(name.strip().lower()))


def test_router_registry_refuses_names_that_could_never_be_looked_up() -> None:
    from chipfleet.sim.serving.routers import register_router

    with pytest.raises(ValueError, match="lower case"):
        register_router("My-Router")


def test_router_name_in_the_result_is_the_canonical_one(cat: Catalog) -> None:
    arrival = np.arange(5, dtype=float)
    tr = trace(arrival, np.full(5, 100), np.full(5, 10))
    result = simulate_serving(MODEL, tr, FleetSpec.parse("g6e.xlarge:1"), cat, router="LEAST-outstanding")
    assert result.router == "least-outstanding" and result.completed == 5


def _lengths(n: int, inp: int, out: int, seed: int = 0) -> RequestTrace:
    """Requests of uniform length in [0.8·L, L] (as benchmark_serving's random dataset draws them); arrival
    times unused by a closed loop."""
    rng = np.random.default_rng(seed)
    return trace(np.zeros(n), rng.integers(int(0.8 * inp), inp + 1, n), rng.integers(int(0.8 * out), out + 1, n))


def test_closed_loop_of_one_client_runs_its_requests_back_to_back(cat: Catalog) -> None:
    tr = _lengths(12, 512, 64)
    res = simulate_serving(MODEL, tr, FleetSpec.parse("p5.4xlarge:1"), cat, concurrency=1)
    assert res.completed == 12
    # One client: no overlap, so the run lasts the sum of the end-to-end latencies (and no request waits).
    assert res.span_s == pytest.approx(res.e2e_s["mean"] * 12, rel=1e-6)
    assert res.queue_wait_s["max"] == pytest.approx(0.0, abs=1e-9)


def test_closed_loop_think_time_adds_to_the_span(cat: Catalog) -> None:
    tr = _lengths(10, 256, 32)
    fleet = FleetSpec.parse("p5.4xlarge:1")
    busy = simulate_serving(MODEL, tr, fleet, cat, concurrency=1)
    idle = simulate_serving(MODEL, tr, fleet, cat, concurrency=1, think_time_s=2.0)
    assert idle.span_s == pytest.approx(busy.span_s + 9 * 2.0, rel=1e-6)  # 9 gaps between 10 requests


def test_closed_loop_beyond_the_sequence_limit_queues(cat: Catalog) -> None:
    tr = _lengths(8 * 40, 256, 64)
    fleet = FleetSpec.parse("p5.4xlarge:1")
    open_ = simulate_serving(MODEL, tr, fleet, cat, concurrency=8, options=ServeOptions(max_seqs=8))
    tight = simulate_serving(MODEL, tr, fleet, cat, concurrency=8, options=ServeOptions(max_seqs=2))
    assert open_.completed == tight.completed == len(tr)
    # With 2 sequences for 8 clients, 6 requests wait on average: Little's law on the queue.
    assert tight.queue_wait_s["mean"] * tight.requests_per_s == pytest.approx(6.0, rel=0.1)
    assert open_.queue_wait_s["mean"] < tight.queue_wait_s["mean"] / 10
    assert tight.requests_per_s < open_.requests_per_s


def test_closed_loop_throughput_grows_with_clients_and_arrival_times_are_ignored(cat: Catalog) -> None:
    fleet = FleetSpec.parse("p5.4xlarge:1")
    tr = _lengths(16 * 20, 1024, 128)
    late = trace(np.arange(len(tr)) * 1000.0, tr.input_tokens, tr.output_tokens)
    rates = [simulate_serving(MODEL, tr, fleet, cat, concurrency=n).requests_per_s for n in (1, 4, 16)]
    assert rates[0] < rates[1] < rates[2]
    same = simulate_serving(MODEL, late, fleet, cat, concurrency=16)
    assert same.requests_per_s == pytest.approx(rates[2], rel=1e-9)


@pytest.mark.parametrize("bad", [0, -3])
def test_closed_loop_needs_a_positive_client_count(cat: Catalog, bad: int) -> None:
    from chipfleet.exceptions import ConfigError

    with pytest.raises(ConfigError) as err:
        simulate_serving(MODEL, _lengths(4, 128, 8), FleetSpec.parse("p5.4xlarge:1"), cat, concurrency=bad)
    assert err.value.field == "concurrency"


@pytest.mark.parametrize("overhead_s", [0.0185, 0.176])
def test_engine_first_token_overhead_delays_a_lone_request_by_it(cat: Catalog, overhead_s: float) -> None:
    """The engine's per-request time before the request joins the batch: its TTFT and E2E rise by it, its TPOT,
    queue wait and the chips' busy time do not."""
    from dataclasses import replace

    from chipfleet.perf.engines import engine_profile

    vllm = engine_profile("vllm")
    fleet = FleetSpec.parse("p5.4xlarge:1")
    tr = trace(np.array([0.0]), np.array([1024]), np.array([128]))
    runs = [
        simulate_serving(MODEL, tr, fleet, cat, options=ServeOptions(engine=replace(vllm, first_token_overhead_s=c)))
        for c in (0.0, overhead_s)
    ]
    base, late = runs
    assert late.ttft_s["mean"] == pytest.approx(base.ttft_s["mean"] + overhead_s, rel=1e-9)
    assert late.e2e_s["mean"] == pytest.approx(base.e2e_s["mean"] + overhead_s, rel=1e-9)
    assert late.tpot_s["mean"] == pytest.approx(base.tpot_s["mean"], rel=1e-9)
    assert late.queue_wait_s["max"] == pytest.approx(0.0, abs=1e-9)
    busy = [r.utilization * r.replicas * r.tp * run.span_s for run in runs for r in run.by_type]
    assert busy[1] == pytest.approx(busy[0], rel=1e-9)


def test_engine_first_token_overhead_holds_the_request_on_its_replica(cat: Catalog) -> None:
    """A request in the engine's first-token overhead counts as outstanding on its replica (so the router sees
    it), and every request still completes."""
    from dataclasses import replace

    from chipfleet.perf.engines import engine_profile

    slow = replace(engine_profile("vllm"), first_token_overhead_s=0.5)
    fleet = FleetSpec.parse("p5.4xlarge:2")
    # Two requests 1 ms apart, much less than the overhead: least-outstanding sends them to different replicas.
    tr = trace(np.array([0.0, 0.001]), np.array([512, 512]), np.array([16, 16]))
    res = simulate_serving(MODEL, tr, fleet, cat, options=ServeOptions(engine=slow))
    lone = trace(np.array([0.0]), np.array([512]), np.array([16]))
    alone = simulate_serving(MODEL, lone, fleet, cat, options=ServeOptions(engine=slow))
    assert res.completed == 2
    # Each has a replica to itself: both wait out the overhead and nothing else.
    assert res.ttft_s["mean"] == pytest.approx(alone.ttft_s["mean"], rel=1e-9)
    assert res.ttft_s["max"] == pytest.approx(alone.ttft_s["mean"], rel=1e-9)
