"""Static batching (Transformers NeuronX): a batch is context-encoded together, then decoded to its last token."""

from __future__ import annotations

from typing import Any

import pytest

from chipfleet.catalog import Catalog
from chipfleet.perf.batching import ReplicaLimits
from chipfleet.validate.serving import ClosedLoad, map_record, parse_records, predict_case
from chipfleet.validate.serving.closed_loop import ClosedLoopResult, closed_loop
from chipfleet.validate.serving.predict import ServingCase
from chipfleet.validate.serving.static_batch import runs_static_batches, static_batch, static_batch_size

TNX = {
    "hw": "inf2",
    "instance": "inf2.48xlarge",
    "chips": 12,
    "model": "meta-llama/Meta-Llama-3-8B",
    "framework": "transformers-neuronx",
    "precision": "bf16",
    "isl": 2048,
    "osl": 512,
    "tp": 12,
    "median_ttft": 0.1,
    "median_tpot": 0.01,
    "output_tput_per_gpu": 50.0,
}


def _case(cat: Catalog, **change: Any) -> ServingCase:
    raw = {**TNX, **change}
    raw.setdefault("max_num_seqs", raw.get("conc"))
    (rec,) = parse_records([raw], "test").records
    case = map_record(rec, cat)
    assert isinstance(case, ServingCase)
    return case


def test_engine_names() -> None:
    assert runs_static_batches("transformers-neuronx") and runs_static_batches("tnx")
    assert not runs_static_batches("vllm") and not runs_static_batches("nxdi")
    assert not runs_static_batches("an-engine-nobody-ships")


def test_batch_prefills_together_and_little_law_holds(cat: Catalog) -> None:
    one, eight = _case(cat, conc=1), _case(cat, conc=8)
    r1, r8 = predict_case(one), predict_case(eight)
    it = eight.iteration
    # the batch's 8 prompts are one context-encoding pass: 8·I tokens, each attending its own I²/2 pairs
    assert r8.ttft_steady_s == pytest.approx(it.time(0, 0.0, 8 * 2048, 8 * 2048**2 / 2.0, 0.0, 8)[0])
    # compute-bound at 16k tokens: close to 8 single prefills, less only by the per-pass fixed costs
    assert 5.0 * r1.ttft_steady_s < r8.ttft_steady_s <= 8.0 * r1.ttft_steady_s
    # the clients are the batch: each request's latency is the whole batch's time (Little's law, no queue)
    batch_s = r8.ttft_steady_s + (512 - 1) * r8.tpot_mean_s
    assert r8.throughput_rps * batch_s == pytest.approx(8.0, rel=1e-3)
    assert r8.queue_wait_s == 0.0 and isinstance(r8, ClosedLoopResult) and not r8.saturated
    # a continuous-batching loop spreads the prompts out: its TTFT is far shorter than the whole batch's
    assert isinstance(eight.load, ClosedLoad)
    assert closed_loop(it, eight.limits, eight.load).ttft_steady_s < r8.ttft_steady_s / 3


def test_clients_beyond_the_batch_limit_wait_for_whole_batches(cat: Catalog) -> None:
    case = _case(cat, conc=4)
    load = ClosedLoad(12, 2048.0, 512.0)
    limits = ReplicaLimits(case.limits.max_batch_tokens, 4, case.limits.kv_capacity_tokens)
    assert static_batch_size(limits, load) == 4
    alone = static_batch(case.iteration, limits, ClosedLoad(4, 2048.0, 512.0))
    queued = static_batch(case.iteration, limits, load)
    batch_s = alone.ttft_steady_s + (512 - 1) * alone.tpot_mean_s
    assert queued.saturated and queued.queue_wait_s == pytest.approx(2 * batch_s, rel=1e-3)
    assert queued.throughput_rps == pytest.approx(alone.throughput_rps, rel=1e-6)  # batches back to back


def test_kv_room_caps_the_batch() -> None:
    limits = ReplicaLimits(8192, 64, kv_capacity_tokens=10_000)
    assert static_batch_size(limits, ClosedLoad(64, 2048.0, 512.0)) == 3  # ⌊10 000 / 2 560⌋
