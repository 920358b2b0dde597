"""The open-loop steady-state model against the request-level simulator under Poisson arrivals."""

from __future__ import annotations

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError
from chipfleet.perf import hardware_for
from chipfleet.perf.batching import ReplicaLimits
from chipfleet.perf.iteration import IterationModel
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.serving import ServeOptions, replica_shape, simulate_serving
from chipfleet.traces.schema import RequestTrace
from chipfleet.validate.serving import OpenLoad, open_loop
from chipfleet.validate.serving.closed_loop import steady_curve
from chipfleet.workloads import get_model

MODEL = get_model("llama-3.1-8b")
INSTANCE = "p5.4xlarge"
# Stated tolerance against the simulator up to 80 % of capacity: mean TPOT within 12 %, mean TTFT within 20 % (a
# Poisson run of a few hundred requests itself varies by several per cent from one seed to the next).
TOL_TPOT, TOL_TTFT = 0.12, 0.20


def _setup(cat: Catalog) -> tuple[IterationModel, ReplicaLimits, ServeOptions]:
    hw = hardware_for(cat, INSTANCE)
    opts = ServeOptions(prefix_cache=False)
    tp, kv = replica_shape(MODEL, hw, opts)
    return IterationModel(MODEL, hw, tp, opts.precision), ReplicaLimits(opts.max_batch_tokens, opts.max_seqs, kv), opts


def _capacity(it: IterationModel, limits: ReplicaLimits, inp: int, out: int) -> float:
    c = steady_curve(it, limits, inp, out)
    ok = (c["stable"] > 0) & (c["in_engine"] <= c["cap"])
    return float(c["rate"][ok].max())


@pytest.mark.parametrize(("inp", "out"), [(1024, 256), (8192, 512)])
@pytest.mark.parametrize("load", [0.05, 0.3, 0.6, 0.8])
def test_open_loop_model_agrees_with_the_simulator(cat: Catalog, inp: int, out: int, load: float) -> None:
    it, limits, opts = _setup(cat)
    rate = load * _capacity(it, limits, inp, out)
    n = int(max(400, rate * 300))
    rng = np.random.default_rng(3)
    arrival = np.cumsum(rng.exponential(1 / rate, n))
    tr = RequestTrace(name="poisson", arrival_s=arrival - arrival[0], input_tokens=np.full(n, inp),
                      output_tokens=np.full(n, out))  # fmt: skip
    sim = simulate_serving(MODEL, tr, FleetSpec.parse(f"{INSTANCE}:1"), cat, options=opts)
    res = open_loop(it, limits, OpenLoad(rate, inp, out))
    assert res.tpot_mean_s == pytest.approx(sim.tpot_s["mean"], rel=TOL_TPOT)
    assert res.ttft_mean_s == pytest.approx(sim.ttft_s["mean"], rel=TOL_TTFT)


def test_latency_grows_with_the_rate_and_a_rate_past_capacity_is_refused(cat: Catalog) -> None:
    it, limits, _ = _setup(cat)
    cap = _capacity(it, limits, 1024, 256)
    low, high = (open_loop(it, limits, OpenLoad(f * cap, 1024, 256)) for f in (0.2, 0.9))
    assert low.tpot_mean_s < high.tpot_mean_s and low.ttft_mean_s < high.ttft_mean_s
    assert high.throughput_rps == pytest.approx(0.9 * cap)
    with pytest.raises(ConfigError) as err:
        open_loop(it, limits, OpenLoad(1.5 * cap, 1024, 256))
    assert err.value.field == "rate_per_s"
    with pytest.raises(ConfigError):
        OpenLoad(0.0, 10, 10)


def test_speculative_decoding_lowers_tpot_at_a_light_rate_by_the_acceptance_length(cat: Catalog) -> None:
    """At a light Poisson rate most iterations are decode-only: TPOT is a decode iteration over τ, and the residual
    a prompt waits for is a whole (speculative) iteration."""
    from chipfleet.perf.engines import SpecDecode

    it, limits, opts = _setup(cat)
    spec_it = IterationModel(
        MODEL, it.hw, it.tp, opts.precision, spec=SpecDecode(acceptance_length=2.0, draft_tokens=2)
    )
    load = OpenLoad(0.05 * _capacity(it, limits, 1024, 256), 1024.0, 256.0)
    base, spec = open_loop(it, limits, load), open_loop(spec_it, limits, load)
    assert spec.tpot_mean_s == pytest.approx(spec.decode_iteration_s / 2.0, rel=0.05)
    assert spec.tpot_mean_s < base.tpot_mean_s and spec.decoding < base.decoding
    assert spec.e2e_mean_s < base.e2e_mean_s
