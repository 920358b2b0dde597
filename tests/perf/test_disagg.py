"""The disaggregated steady state: light-load limits, Little's law, pool sizes, the transfer, saturation, open loop."""

from __future__ import annotations

import numpy as np
import pytest

from chipfleet.catalog import Catalog, Precision
from chipfleet.exceptions import ConfigError
from chipfleet.perf.batching import ReplicaLimits
from chipfleet.perf.disagg import (
    Disaggregated,
    Pool,
    disagg_closed_loop,
    disagg_open_loop,
    prefill_iteration_s,
    prefill_wave_s,
    steady_curve,
)
from chipfleet.perf.engines import SpecDecode
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.iteration import IterationModel
from chipfleet.workloads import get_model

MODEL = get_model("llama-3.1-8b")
INSTANCE = "p5.4xlarge"  # one H100 per worker
PROMPT, OUTPUT = 1024.0, 256.0
LIMITS = ReplicaLimits(max_batch_tokens=8192, max_seqs=256, kv_capacity_tokens=400_000)


def _deployment(
    cat: Catalog, prefill: int = 1, decode: int = 1, transfer_s: float = 0.0, spec: SpecDecode | None = None
) -> Disaggregated:
    hw = hardware_for(cat, INSTANCE)
    p = IterationModel(MODEL, hw, 1, Precision.BF16)
    d = IterationModel(MODEL, hw, 1, Precision.BF16, spec=spec)
    return Disaggregated(Pool(p, LIMITS, prefill), Pool(d, LIMITS, decode), transfer_s, 1e8, 5e10)


def _decode_only(it: IterationModel, d: float) -> float:
    one = np.array([d])
    zero = np.zeros(1)
    return float(it.times(one, one * (PROMPT + OUTPUT / 2), zero, zero, zero)[0][0])


def test_one_client_sees_an_idle_prefill_then_a_lone_decode(cat: Catalog) -> None:
    dep = _deployment(cat, transfer_s=0.01)
    res = disagg_closed_loop(dep, 1, PROMPT, OUTPUT, first_token_s=0.02)
    alone = float(prefill_iteration_s(dep.prefill.iteration, np.array([PROMPT]), PROMPT)[0])
    assert res.ttft_steady_s == pytest.approx(alone + 0.01 + 0.02, rel=0.05)
    assert res.tpot_mean_s == pytest.approx(_decode_only(dep.decode.iteration, res.decoding), rel=1e-6)
    assert res.decoding < 1.0 and not res.saturated
    assert res.transfer_s == 0.01 and res.transfer_bytes == 1e8


@pytest.mark.parametrize("clients", [1, 8, 64, 200])
def test_littles_law_closes_the_loop(cat: Catalog, clients: int) -> None:
    res = disagg_closed_loop(_deployment(cat), clients, PROMPT, OUTPUT)
    assert not res.saturated
    loop_s = res.ttft_steady_s + (OUTPUT - 1) * res.tpot_mean_s
    assert res.throughput_rps * loop_s == pytest.approx(clients, rel=0.02)
    # decoders per worker: Little's law on the decode pool
    assert res.decoding == pytest.approx(res.throughput_rps * (OUTPUT - 1) * res.tpot_mean_s, rel=0.02)
    assert res.output_tokens_per_s == pytest.approx(res.throughput_rps * OUTPUT)


def test_more_workers_relieve_their_own_pool(cat: Catalog) -> None:
    long_prompts = 8192.0
    base = disagg_closed_loop(_deployment(cat), 64, long_prompts, OUTPUT)
    more_prefill = disagg_closed_loop(_deployment(cat, prefill=4), 64, long_prompts, OUTPUT)
    assert base.prefill_utilisation > 0.3
    assert more_prefill.ttft_steady_s < base.ttft_steady_s
    assert more_prefill.prefill_utilisation < base.prefill_utilisation
    more_decode = disagg_closed_loop(_deployment(cat, decode=4), 128, PROMPT, OUTPUT)
    one_decode = disagg_closed_loop(_deployment(cat), 128, PROMPT, OUTPUT)
    assert more_decode.tpot_mean_s < one_decode.tpot_mean_s
    assert more_decode.decoding < one_decode.decoding


def test_the_transfer_adds_to_every_first_token(cat: Catalog) -> None:
    fast = disagg_closed_loop(_deployment(cat), 4, PROMPT, OUTPUT)
    slow = disagg_closed_loop(_deployment(cat, transfer_s=0.05), 4, PROMPT, OUTPUT)
    assert slow.ttft_steady_s - fast.ttft_steady_s == pytest.approx(0.05, rel=0.1)
    assert slow.tpot_mean_s == pytest.approx(fast.tpot_mean_s, rel=0.02)


def test_speculative_decoding_divides_the_iteration_by_the_acceptance_length(cat: Catalog) -> None:
    spec = SpecDecode(acceptance_length=2.0, draft_tokens=2, draft_layers=1.0, method="mtp")
    dep = _deployment(cat, spec=spec)
    res = disagg_closed_loop(dep, 16, PROMPT, OUTPUT)
    assert res.tpot_mean_s == pytest.approx(_decode_only(dep.decode.iteration, res.decoding) / 2.0, rel=1e-6)
    plain = disagg_closed_loop(_deployment(cat), 16, PROMPT, OUTPUT)
    assert res.tpot_mean_s < plain.tpot_mean_s


def test_past_capacity_throughput_stays_and_clients_queue(cat: Catalog) -> None:
    small = ReplicaLimits(max_batch_tokens=8192, max_seqs=16, kv_capacity_tokens=400_000)
    base = _deployment(cat)
    dep = Disaggregated(base.prefill, Pool(base.decode.iteration, small, 1), 0.0, 0.0, 1.0)
    at_cap = disagg_closed_loop(dep, 64, PROMPT, OUTPUT)
    twice = disagg_closed_loop(dep, 128, PROMPT, OUTPUT)
    assert at_cap.saturated and twice.saturated
    assert twice.throughput_rps == pytest.approx(at_cap.throughput_rps)
    assert at_cap.decoding == pytest.approx(16.0, rel=1e-6)
    assert twice.ttft_steady_s - at_cap.ttft_steady_s == pytest.approx(64 / at_cap.throughput_rps, rel=1e-6)


def test_a_finite_run_adds_its_first_wave(cat: Catalog) -> None:
    dep = _deployment(cat)
    steady = disagg_closed_loop(dep, 64, PROMPT, OUTPUT)
    run = disagg_closed_loop(dep, 64, PROMPT, OUTPUT, requests_per_client=10)
    wave = prefill_wave_s(dep.prefill.iteration, 8192, 64, PROMPT)
    assert run.ttft_mean_s == pytest.approx(0.9 * steady.ttft_steady_s + 0.1 * wave, rel=1e-9)
    assert run.ttft_steady_s == steady.ttft_steady_s


def test_the_first_wave_prefills_budget_sized_iterations_in_order(cat: Catalog) -> None:
    it = _deployment(cat).prefill.iteration
    t = float(prefill_iteration_s(it, np.array([1024.0]), 1024.0)[0])
    assert prefill_wave_s(it, 1024, 1, 1024.0) == pytest.approx(t)
    assert prefill_wave_s(it, 1024, 4, 1024.0) == pytest.approx(t * (1 + 2 + 3 + 4) / 4)


def test_open_loop_agrees_with_the_closed_loop_state_and_refuses_overload(cat: Catalog) -> None:
    dep = _deployment(cat)
    closed = disagg_closed_loop(dep, 32, PROMPT, OUTPUT)
    opened = disagg_open_loop(dep, closed.throughput_rps, PROMPT, OUTPUT)
    assert opened.tpot_mean_s == pytest.approx(closed.tpot_mean_s, rel=1e-3)
    assert opened.decoding == pytest.approx(closed.decoding, rel=1e-3)
    top = float(steady_curve(dep, PROMPT, OUTPUT)["rate"].max())
    with pytest.raises(ConfigError) as err:
        disagg_open_loop(dep, 2 * top, PROMPT, OUTPUT)
    assert err.value.field == "rate_per_s"


def test_bad_inputs_are_refused(cat: Catalog) -> None:
    dep = _deployment(cat)
    with pytest.raises(ConfigError):
        Pool(dep.prefill.iteration, LIMITS, 0)
    with pytest.raises(ConfigError):
        disagg_closed_loop(dep, 0, PROMPT, OUTPUT)
    with pytest.raises(ConfigError):
        Disaggregated(dep.prefill, dep.decode, -1.0, 0.0, 1.0)
