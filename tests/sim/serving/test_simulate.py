"""Request-level serving simulation: closed form at low load, queueing theory, routers, KV, prefix cache."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError
from chipfleet.perf import ServingConfig, estimate_inference, hardware_for
from chipfleet.serialize import to_jsonable
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.metrics import LogHistogram
from chipfleet.sim.serving import ServeOptions, simulate_serving
from chipfleet.sim.serving.routers import list_routers, make_router
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import get_model

MODEL = get_model("llama-3-8b")


def trace(arrival: np.ndarray, inp: np.ndarray, out: np.ndarray, hashes: tuple[tuple[int, ...], ...] | None = None,
          block: int | None = None) -> RequestTrace:  # fmt: skip
    return RequestTrace(
        name="test",
        arrival_s=arrival - arrival[0],
        input_tokens=inp.astype(np.int64),
        output_tokens=out.astype(np.int64),
        hash_ids=hashes,
        block_tokens=block,
        source="generated in the test",
        license="n/a",
        skipped_rows=0,
    )


def poisson(n: int, rate: float, inp: int, out: int, seed: int = 0) -> RequestTrace:
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1 / rate, n))
    return trace(arr, np.full(n, inp), np.full(n, out))


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


def test_kv_pressure_preempts_and_still_finishes(cat: Catalog) -> None:
    """Long outputs on a small-memory GPU overflow the KV cache: requests are preempted and recomputed."""
    tr = poisson(300, 50.0, 2000, 1500, seed=4)
    res = simulate_serving(MODEL, tr, FleetSpec.parse("g6.xlarge:1"), cat, options=ServeOptions(max_seqs=256))
    assert res.preemptions > 0
    assert res.completed == 300


def test_prefix_cache_cuts_prefill(cat: Catalog) -> None:
    n = 200
    hashes = tuple((0, 1, 2, 3, 4, 5, 6, 7, 100 + i) for i in range(n))  # a shared 8-block system prompt
    arr = np.arange(n) * 0.5
    tr = trace(arr, np.full(n, 9 * 512), np.full(n, 16), hashes=hashes, block=512)
    on = simulate_serving(MODEL, tr, FleetSpec.parse("p5.48xlarge:1"), cat, options=ServeOptions(tp=8))
    off = simulate_serving(
        MODEL, tr, FleetSpec.parse("p5.48xlarge:1"), cat, options=ServeOptions(tp=8, prefix_cache=False)
    )
    assert on.prefix_hit_tokens >= (n - 1) * 8 * 512
    assert off.prefix_hit_tokens == 0
    assert on.ttft_s["mean"] < 0.5 * off.ttft_s["mean"]


def test_chunked_and_unchunked_prefill_both_complete(cat: Catalog) -> None:
    tr = poisson(500, 10.0, 3000, 100, seed=5)
    for chunked in (True, False):
        res = simulate_serving(
            MODEL,
            tr,
            FleetSpec.parse("g6e.xlarge:2"),
            cat,
            options=ServeOptions(chunked_prefill=chunked, max_batch_tokens=2048),
        )
        assert res.completed == 500


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


def test_log_histogram_percentiles() -> None:
    rng = np.random.default_rng(0)
    values = rng.lognormal(-3, 1, 50_000)
    h = LogHistogram()
    h.add_many(values)
    for q in (50, 90, 99):
        assert h.percentile(q) == pytest.approx(float(np.percentile(values, q)), rel=0.015)
    assert h.mean == pytest.approx(float(values.mean()))
    assert h.fraction_below(float(np.median(values))) == pytest.approx(0.5, abs=0.01)
    assert math.isnan(LogHistogram().percentile(50))


@pytest.mark.parametrize(
    ("model_name", "instance", "tp"), [("llama-3-8b", "p5.48xlarge", 2), ("mixtral-8x7b", "p5.48xlarge", 4)]
)
def test_iteration_model_equals_the_roofline(cat: Catalog, model_name: str, instance: str, tp: int) -> None:
    """The simulator's folded iteration cost is the performance model's phase_time, term for term."""
    from chipfleet.perf.inference import kv_bytes_per_token_per_chip, phase_time
    from chipfleet.perf.iteration import IterationModel
    from chipfleet.perf.kernels import elementwise_bytes_per_token

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


def test_replica_options_per_instance_type(cat: Catalog) -> None:
    """One fleet, two replica shapes: each type runs the chips per replica and sequence limit it was given."""
    trace = poisson(300, 4.0, 512, 64)
    fleet = FleetSpec.parse("g6e.48xlarge:1,g6e.xlarge:1")
    by_type = {"g6e.48xlarge": ServeOptions(tp=2, max_seqs=16)}
    result = simulate_serving(get_model("llama-3-8b"), trace, fleet, cat, options_by_type=by_type)
    shapes = {t.instance: (t.replicas, t.tp) for t in result.by_type}
    assert shapes == {"g6e.48xlarge": (4, 2), "g6e.xlarge": (1, 1)}
    assert result.completed == 300


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


@pytest.mark.parametrize(
    "options",
    [
        {"slo_ttft_s": math.nan},
        {"slo_tpot_s": -0.05},
        {"slo_ttft_s": math.inf},
        {"slo_tpot_s": 0.0},
        {"tp": 0},
        {"window_s": math.nan},
    ],
)
def test_serve_options_refuse_nonsense(options: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ServeOptions(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [-3, 1.5, True])
def test_a_simulation_seed_is_a_whole_number_0_or_more(seed: object) -> None:
    from chipfleet.sim.kernel import Simulation

    with pytest.raises(ConfigError, match="seed"):
        Simulation(seed=seed)  # type: ignore[arg-type]


def test_the_kernel_refuses_a_nan_time() -> None:
    from chipfleet.sim.kernel import Simulation

    sim = Simulation()
    with pytest.raises(ValueError, match="not a number"):
        sim.schedule(math.nan, lambda: None)


def test_requests_beyond_the_context_window_are_refused_and_counted(cat: Catalog) -> None:
    """Llama 3 8B takes 8,192 tokens of prompt and output: a longer request is refused on arrival and counted
    (as a server refuses it), whatever the KV cache could hold; a trace of nothing else is an error."""
    assert MODEL.max_position_embeddings == 8192
    tr = trace(np.arange(4.0), np.array([1000, 8000, 8192 - 100, 12000]), np.array([100, 500, 100, 10]))
    res = simulate_serving(MODEL, tr, FleetSpec.parse("p5.48xlarge:1"), cat)
    assert res.by_type[0].kv_capacity_tokens > 12_010  # the cache would hold them: the window refuses them
    assert (res.requests, res.completed, res.beyond_context, res.rejected) == (4, 2, 2, 0)
    assert res.context_window_tokens == 8192 and to_jsonable(res)["beyond_context"] == 2
    from rich.console import Console

    from chipfleet.report.sim import serve_tables

    console = Console(width=150, record=True)
    for table in serve_tables(res):
        console.print(table)
    text = " ".join(console.export_text().split())
    assert "longer than the context window (8,192 tokens) │ 2 refused (50.0 %)" in text
    with pytest.raises(ConfigError, match=r"all 2 requests of test are longer than llama-3-8b's context window"):
        simulate_serving(MODEL, trace(np.arange(2.0), np.array([9000, 8000]), np.array([1, 500])),
                         FleetSpec.parse("p5.48xlarge:1"), cat)  # fmt: skip
