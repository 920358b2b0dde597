"""The closed-loop mean-value model against the request-level simulator over a grid of client counts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError
from chipfleet.perf import hardware_for
from chipfleet.perf.batching import ReplicaLimits
from chipfleet.perf.engines import engine_profile
from chipfleet.perf.iteration import IterationModel
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.serving import ServeOptions, replica_shape, simulate_serving
from chipfleet.traces.schema import RequestTrace
from chipfleet.validate.serving import ClosedLoad, closed_loop, first_wave_ttft_s
from chipfleet.validate.serving.closed_loop import steady_curve
from chipfleet.workloads import get_model

MODEL = get_model("llama-3.1-8b")
INSTANCE = "p5.4xlarge"  # one H100: one replica
PER_CLIENT = 20  # requests per client, as a benchmark run sends (InferenceX: 10 per client)
# Stated tolerance of the model against the simulator: throughput and mean TPOT within 8 %, mean TTFT within
# 20 % (the simulator's start-up and the spread of lengths around their means are what the model averages).
TOL_RATE, TOL_TPOT, TOL_TTFT = 0.08, 0.08, 0.20


def _setup(cat: Catalog, max_seqs: int) -> tuple[IterationModel, ReplicaLimits, ServeOptions]:
    hw = hardware_for(cat, INSTANCE)
    opts = ServeOptions(max_seqs=max_seqs, prefix_cache=False)
    tp, kv = replica_shape(MODEL, hw, opts)
    return IterationModel(MODEL, hw, tp, opts.precision), ReplicaLimits(opts.max_batch_tokens, max_seqs, kv), opts


@pytest.mark.parametrize(
    ("clients", "max_seqs", "inp", "out"),
    [
        (1, 256, 1024, 256),
        (4, 256, 1024, 256),
        (16, 256, 1024, 256),
        (64, 256, 1024, 256),
        (256, 256, 1024, 256),
        (256, 64, 1024, 256),  # beyond the sequence limit: queueing
        (4, 256, 8192, 1024),
        (16, 256, 8192, 1024),
        (64, 256, 8192, 1024),  # beyond the KV cache's room: queueing
    ],
)
def test_mean_value_model_agrees_with_the_simulator(
    cat: Catalog, clients: int, max_seqs: int, inp: int, out: int
) -> None:
    it, limits, opts = _setup(cat, max_seqs)
    n = clients * PER_CLIENT
    rng = np.random.default_rng(clients)
    ins, outs = rng.integers(int(0.8 * inp), inp + 1, n), rng.integers(int(0.8 * out), out + 1, n)
    tr = RequestTrace(name="uniform", arrival_s=np.zeros(n), input_tokens=ins, output_tokens=outs)
    sim = simulate_serving(MODEL, tr, FleetSpec.parse(f"{INSTANCE}:1"), cat, options=opts, concurrency=clients)
    load = ClosedLoad(clients, float(ins.mean()), float(outs.mean()), requests_per_client=PER_CLIENT)
    mva = closed_loop(it, limits, load)
    assert mva.throughput_rps == pytest.approx(sim.requests_per_s, rel=TOL_RATE)
    assert mva.tpot_mean_s == pytest.approx(sim.tpot_s["mean"], rel=TOL_TPOT)
    assert mva.ttft_mean_s == pytest.approx(sim.ttft_s["mean"], rel=TOL_TTFT)


@pytest.mark.parametrize(("engine", "clients"), [("vllm", 1), ("vllm", 16), ("sglang", 4), ("sglang", 64)])
def test_with_an_engine_both_add_its_first_token_overhead_to_each_ttft(cat: Catalog, engine: str, clients: int) -> None:
    """The simulator (the request joins the batch the overhead after it arrives) and the mean-value model (the
    overhead added to each TTFT) agree on mean TTFT within the stated tolerance, with the engine's per-iteration
    overheads in both."""
    eng = engine_profile(engine)
    assert eng.first_token_overhead_s > 0
    hw = hardware_for(cat, INSTANCE)
    opts = ServeOptions(max_seqs=256, prefix_cache=False, engine=eng)
    tp, kv = replica_shape(MODEL, hw, opts)
    it = IterationModel(MODEL, hw, tp, opts.precision, engine=eng)
    n = clients * PER_CLIENT
    rng = np.random.default_rng(clients)
    ins, outs = rng.integers(int(0.8 * 1024), 1024 + 1, n), rng.integers(int(0.8 * 256), 256 + 1, n)
    tr = RequestTrace(name="uniform", arrival_s=np.zeros(n), input_tokens=ins, output_tokens=outs)
    sim = simulate_serving(MODEL, tr, FleetSpec.parse(f"{INSTANCE}:1"), cat, options=opts, concurrency=clients)
    load = ClosedLoad(clients, float(ins.mean()), float(outs.mean()), requests_per_client=PER_CLIENT)
    mva = closed_loop(it, ReplicaLimits(opts.max_batch_tokens, 256, kv), load, eng.first_token_overhead_s)
    assert mva.ttft_mean_s == pytest.approx(sim.ttft_s["mean"], rel=TOL_TTFT)
    assert mva.tpot_mean_s == pytest.approx(sim.tpot_s["mean"], rel=TOL_TPOT)


def test_one_client_gets_the_idle_replica(cat: Catalog) -> None:
    it, limits, _ = _setup(cat, 256)
    res = closed_loop(it, limits, ClosedLoad(1, 2048.0, 128.0))
    # Within 5 %: the mean state puts ~1 decoding sequence (the client's own, averaged) beside its prefill.
    assert res.ttft_steady_s == pytest.approx(it.alone_ttft_s(2048), rel=0.05)
    assert res.tpot_mean_s == pytest.approx(float(it.decode_block(1, 2048.0, 1)[0][0]), rel=0.05)
    assert not res.saturated and res.queue_wait_s == 0.0


@pytest.mark.parametrize("clients", [1, 8])
def test_first_token_overhead_adds_to_each_ttft_below_the_limit(cat: Catalog, clients: int) -> None:
    """The overhead is time outside the engine, like think time: each TTFT and E2E grow by it, and the engine sees
    a request a little less often (a longer client cycle), never more."""
    it, limits, _ = _setup(cat, 256)
    load = ClosedLoad(clients, 1024.0, 256.0, requests_per_client=PER_CLIENT)
    base, late = closed_loop(it, limits, load), closed_loop(it, limits, load, first_token_s=0.05)
    assert late.ttft_steady_s == pytest.approx(base.ttft_steady_s + 0.05, rel=0.01)
    assert late.ttft_mean_s == pytest.approx(base.ttft_mean_s + 0.05, rel=0.01)
    assert late.e2e_mean_s == pytest.approx(base.e2e_mean_s + 0.05, rel=0.01)
    assert late.throughput_rps <= base.throughput_rps
    assert late.throughput_rps == pytest.approx(clients / (clients / base.throughput_rps + 0.05), rel=0.01)
    assert late.tpot_mean_s <= base.tpot_mean_s and late.queue_wait_s == base.queue_wait_s == 0.0
    # the same as thinking 50 ms longer, but counted in the TTFT
    thinking = closed_loop(it, limits, replace(load, think_time_s=0.05))
    assert late.throughput_rps == pytest.approx(thinking.throughput_rps, rel=1e-9)
    assert late.ttft_steady_s == pytest.approx(thinking.ttft_steady_s + 0.05, rel=1e-9)


def test_first_token_overhead_overlaps_the_queue_past_the_limit(cat: Catalog) -> None:
    """Past the engine's sequence limit its throughput is fixed and each client's cycle with it: the overhead is
    spent while the request would have queued anyway."""
    it, limits, _ = _setup(cat, 256)
    load = ClosedLoad(512, 1024.0, 256.0, requests_per_client=PER_CLIENT)
    base, late = closed_loop(it, limits, load), closed_loop(it, limits, load, first_token_s=0.05)
    assert base.saturated and late.saturated
    assert late.throughput_rps == pytest.approx(base.throughput_rps, rel=1e-9)
    assert late.tpot_mean_s == pytest.approx(base.tpot_mean_s, rel=1e-9)
    assert late.ttft_steady_s == pytest.approx(base.ttft_steady_s)
    assert late.queue_wait_s == pytest.approx(base.queue_wait_s - 0.05)


def test_throughput_rises_then_saturates_and_the_queue_takes_the_rest(cat: Catalog) -> None:
    it, limits, _ = _setup(cat, 32)
    results = [closed_loop(it, limits, ClosedLoad(n, 1024.0, 256.0)) for n in (1, 8, 32, 64, 128)]
    rates = [r.throughput_rps for r in results]
    assert rates[0] < rates[1] < rates[2]
    assert rates[3] == pytest.approx(rates[4]) and results[4].saturated
    # Past the limit, each extra client adds 1/X of queue wait (Little's law on the queue).
    extra = results[4].queue_wait_s - results[3].queue_wait_s
    assert extra == pytest.approx(64 / rates[4], rel=1e-6)
    # Little's law on the whole loop: N = X · (TTFT + (O − 1)·TPOT).
    for n, r in zip((1, 8, 32, 64, 128), results, strict=True):
        assert r.throughput_rps * r.e2e_mean_s == pytest.approx(n, rel=0.02)


def test_first_wave_prefills_the_prompts_in_order(cat: Catalog) -> None:
    it, limits, _ = _setup(cat, 256)
    one = first_wave_ttft_s(it, limits, ClosedLoad(1, 1024.0, 64.0))
    assert one == pytest.approx(it.alone_ttft_s(1024), rel=0.05)
    # 64 prompts of 1024 tokens: 8 iterations of 8192 tokens, prompt k done after ⌈k/8⌉ of them.
    wave = first_wave_ttft_s(it, limits, ClosedLoad(64, 1024.0, 64.0))
    assert 3.0 * one < wave < 6.0 * first_wave_ttft_s(it, limits, ClosedLoad(8, 1024.0, 64.0))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"clients": 0, "input_tokens": 10.0, "output_tokens": 10.0}, "clients"),
        ({"clients": 2, "input_tokens": 0.5, "output_tokens": 10.0}, "input_tokens"),
        ({"clients": 2, "input_tokens": 10.0, "output_tokens": 10.0, "think_time_s": -1.0}, "think_time_s"),
        (
            {"clients": 2, "input_tokens": 10.0, "output_tokens": 10.0, "requests_per_client": 0.0},
            "requests_per_client",
        ),
    ],
)
def test_closed_load_refuses_bad_values_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        ClosedLoad(**kwargs)
    assert err.value.field == field


@pytest.mark.parametrize("clients", [1, 16, 128])
def test_speculative_decoding_divides_the_iteration_by_the_acceptance_length(cat: Catalog, clients: int) -> None:
    """With ``spec`` each decoder gains τ tokens an iteration: TPOT is the mean iteration over τ, Little's law on
    the decoders holds with that TPOT, the verified tokens take their share of the batch budget, and drafting that
    is never accepted (τ = 1) only costs."""
    from chipfleet.perf.engines import SpecDecode

    it, limits, opts = _setup(cat, 256)
    load = ClosedLoad(clients, 1024.0, 256.0)
    spec_it = IterationModel(
        MODEL, it.hw, it.tp, opts.precision, spec=SpecDecode(acceptance_length=2.6, draft_tokens=3)
    )
    base, spec = closed_loop(it, limits, load), closed_loop(spec_it, limits, load)
    assert spec.tpot_mean_s < base.tpot_mean_s and spec.throughput_rps > base.throughput_rps
    assert spec.decoding == pytest.approx(spec.throughput_rps * 255.0 * spec.tpot_mean_s, rel=1e-3)  # Little's law
    c = steady_curve(spec_it, limits, 1024.0, 256.0)
    assert np.allclose(c["step"], 2.6 * c["tpot"])
    assert np.all(c["chunk"] <= np.maximum(limits.max_batch_tokens - 4.0 * c["d"], 1.0) + 1e-9)
    if clients == 1:  # mostly decode-only iterations
        assert spec.tpot_mean_s == pytest.approx(spec.decode_iteration_s / 2.6, rel=0.05)
    wasted = IterationModel(MODEL, it.hw, it.tp, opts.precision, spec=SpecDecode(acceptance_length=1.0))
    assert closed_loop(wasted, limits, load).tpot_mean_s > base.tpot_mean_s
