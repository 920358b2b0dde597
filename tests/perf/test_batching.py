"""The steady-state continuous-batching model: its limits, and agreement with the request-level simulator."""

from __future__ import annotations

import numpy as np
import pytest

from chipfleet.catalog import Catalog, Precision
from chipfleet.perf.batching import (
    ReplicaLimits,
    SizeClass,
    capacity_within_slo,
    kv_safe_max_seqs,
    operating_curve,
)
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.iteration import IterationModel
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.serving import ServeOptions, replica_shape, simulate_serving
from chipfleet.traces import poisson
from chipfleet.workloads import get_model


def _fixed(i: float, o: float) -> SizeClass:
    return SizeClass(np.array([i]), np.array([i * i]), np.array([i]), np.array([o]))


def _replica(cat: Catalog, model: str, instance: str) -> tuple[IterationModel, ReplicaLimits]:
    arch, hw, opts = get_model(model), hardware_for(cat, instance), ServeOptions()
    tp, kv = replica_shape(arch, hw, opts)
    return IterationModel(arch, hw, tp, opts.precision), ReplicaLimits(opts.max_batch_tokens, opts.max_seqs, kv)


def test_light_load_is_the_request_alone(cat: Catalog) -> None:
    """At vanishing load TPOT is a decode step of one sequence and TTFT is the prompt's prefill alone (plus
    half a decode step of residual wait)."""
    it, limits = _replica(cat, "llama-3-8b", "g6e.xlarge")
    curve = operating_curve(it, limits, _fixed(1024, 256))
    step, _ = it.time(1, 1024 + 128, 0, 0.0, 0.0, 0)
    assert curve.tpot_mean_s[0, 0] == pytest.approx(step, rel=0.05)
    assert curve.ttft_p90_s[0, 0] == pytest.approx(it.alone_ttft_s(1024) + step / 2, rel=0.05)
    assert curve.rate_per_s[0, 0] < 0.01


def test_latency_and_rate_grow_together_on_the_stable_branch(cat: Catalog) -> None:
    it, limits = _replica(cat, "llama-3-8b", "inf2.48xlarge")
    curve = operating_curve(it, limits, _fixed(2048, 128))
    ok = curve.feasible[0]
    assert ok.sum() > 50
    first = np.flatnonzero(ok)[: ok.sum() // 2]  # the light half of the feasible points
    assert np.all(np.diff(curve.rate_per_s[0, first]) > 0)
    assert np.all(np.diff(curve.tpot_mean_s[0, first]) >= 0)


def test_capacity_respects_the_slo(cat: Catalog) -> None:
    it, limits = _replica(cat, "llama-3-8b", "g6e.xlarge")
    classes = SizeClass(
        np.array([256.0, 1024.0, 6000.0]),
        np.array([256.0**2, 1024.0**2, 6000.0**2]),
        np.array([256.0, 1024.0, 6000.0]),
        np.array([64.0, 256.0, 100.0]),
    )
    curve = operating_curve(it, limits, classes)
    loose = capacity_within_slo(curve, 2.0, 0.08)
    tight = capacity_within_slo(curve, 0.5, 0.04)
    assert np.all(loose.rate_per_s >= tight.rate_per_s) and np.all(loose.rate_per_s > 0)
    met = tight.rate_per_s > 0
    assert np.all(tight.ttft_p90_s[met] <= 0.5) and np.all(tight.tpot_p90_s[met] <= 0.04)
    # Faster than the chip can ever go: no rate, and the best latency says by how much.
    never = capacity_within_slo(curve, 1e-3, 1e-3)
    assert np.all(never.rate_per_s == 0) and np.all(never.best_ttft_p90_s > 1e-3)
    assert never.best_ttft_p90_s[2] > never.best_ttft_p90_s[0]  # a 6k prompt takes longer than a 256 one


def test_kv_safe_sequence_limit() -> None:
    load = SizeClass(
        np.array([1000.0, 100.0]), np.array([4e6, 1e4]), np.array([2000.0, 100.0]), np.array([200.0, 50.0])
    )
    # size-biased prompt E[I²]/E[I] = 4000 and 100 tokens, plus the mean output
    assert kv_safe_max_seqs(256, 42_000, load).tolist() == [10.0, 256.0]
    assert kv_safe_max_seqs(256, 100, load).tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("instance", "prompt", "output", "ttft_rel"),
    [
        ("g6e.xlarge", 1024, 256, 0.35),
        ("tpu-v6e-1", 300, 150, 0.35),
        # Prefill-heavy: the model queues prompts one after another (M/G/1), where the runtime runs prompts
        # that arrive together in one shared iteration, so it over-predicts TTFT (pessimistic, not optimistic).
        ("inf2.48xlarge", 2048, 128, 0.6),
    ],
)
def test_model_agrees_with_the_simulator(
    cat: Catalog, instance: str, prompt: int, output: int, ttft_rel: float
) -> None:
    """At half the SLO capacity, the model's p90 TTFT and TPOT are close to a Poisson replay in the
    request-level simulator, and at 80 % of it the replay meets the SLO the capacity was computed for."""
    model = get_model("llama-3-8b")
    it, limits = _replica(cat, "llama-3-8b", instance)
    curve = operating_curve(it, limits, _fixed(prompt, output))
    slo_ttft, slo_tpot = 3.0 * it.alone_ttft_s(prompt), 2.0 * it.time(1, prompt, 0, 0.0, 0.0, 0)[0]
    cap = float(capacity_within_slo(curve, slo_ttft, slo_tpot).rate_per_s[0])
    assert cap > 0
    replicas = hardware_for(cat, instance).chips_per_instance // it.tp
    for share, check in ((0.5, "close"), (0.8, "meets")):
        rate = share * cap
        trace = poisson(
            rate * replicas,
            duration_s=max(600.0, 3000 / (rate * replicas)),
            input_dist=f"fixed:{prompt}",
            output_dist=f"fixed:{output}",
            rng=np.random.default_rng(7),
        )
        sim = simulate_serving(model, trace, FleetSpec(((instance, 1),)), cat, options=ServeOptions())
        if check == "close":
            j = int(np.argmax(curve.feasible[0] & (curve.rate_per_s[0] >= rate)))
            assert curve.ttft_p90_s[0, j] == pytest.approx(sim.ttft_s["p90"], rel=ttft_rel)
            assert curve.tpot_p90_s[0, j] == pytest.approx(sim.tpot_s["p90"], rel=0.35)
        else:
            assert sim.ttft_s["p90"] <= slo_ttft and sim.tpot_s["p90"] <= slo_tpot


def test_fp8_halves_weight_traffic(cat: Catalog) -> None:
    """Decode at light load is memory-bound, so fp8 weights make it faster on a chip with fp8."""
    hw = hardware_for(cat, "p5.48xlarge")
    arch = get_model("llama-3-8b")
    load = _fixed(512, 256)
    bf16 = operating_curve(IterationModel(arch, hw, 1, Precision.BF16), ReplicaLimits(8192, 256, 10**6), load)
    fp8 = operating_curve(IterationModel(arch, hw, 1, Precision.FP8), ReplicaLimits(8192, 256, 10**6), load)
    assert fp8.tpot_mean_s[0, 0] < 0.8 * bf16.tpot_mean_s[0, 0]


def test_a_higher_percentile_is_slower_and_leaves_less_capacity(cat: Catalog) -> None:
    """The planner plans buckets at a percentile above 90 when some requests are served best effort."""
    it, limits = _replica(cat, "llama-3-8b", "g6e.xlarge")
    load = SizeClass(np.array([1200.0]), np.array([1200.0**2 * 1.6]), np.array([2000.0]), np.array([150.0]))
    p90, p95 = operating_curve(it, limits, load), operating_curve(it, limits, load, quantile=0.95)
    assert np.array_equal(p90.rate_per_s, p95.rate_per_s)  # the same steady states ...
    assert np.all(p95.tpot_p90_s >= p90.tpot_p90_s) and np.all(p95.ttft_p90_s >= p90.ttft_p90_s)
    assert np.any(p95.ttft_p90_s > p90.ttft_p90_s)  # ... with longer tails
    cap90 = capacity_within_slo(p90, 1.0, 0.05).rate_per_s[0]
    cap95 = capacity_within_slo(p95, 1.0, 0.05).rate_per_s[0]
    assert 0 < cap95 < cap90
    with pytest.raises(ValueError, match="quantile"):
        operating_curve(it, limits, load, quantile=1.0)
