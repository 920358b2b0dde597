"""Disaggregated serving simulation: a lone request's closed form, conservation, queueing on the link and the
decode pool's KV room, cross-vendor pools, and the specs that cannot work."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from chipfleet.catalog import Catalog, Precision
from chipfleet.exceptions import ConfigError, DoesNotFitError, UnknownNameError
from chipfleet.perf import hardware_for
from chipfleet.perf.iteration import IterationModel
from chipfleet.perf.kv_transfer import LinkKind, kv_link, kv_transfer_bytes
from chipfleet.serialize import to_jsonable
from chipfleet.sim.serving import DisaggOptions, PoolSpec, simulate_disaggregated
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import get_model

from .traces import MODEL, poisson, trace


def _pools(prefill: str, decode: str) -> tuple[PoolSpec, PoolSpec]:
    return PoolSpec.parse(prefill, "prefill"), PoolSpec.parse(decode, "decode")


def _mixed(n: int, rate: float, seed: int = 0) -> RequestTrace:
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1 / rate, n))
    return trace(arrival, rng.integers(64, 6000, n), rng.integers(1, 400, n))


@pytest.mark.parametrize(
    ("prefill", "decode", "inp", "out"),
    [
        ("p5.48xlarge:1", "p5.48xlarge:1", 2048, 128),  # RDMA between two H100 instances
        ("trn2.48xlarge:1", "inf2.48xlarge:1:tp=2", 1024, 64),  # Trainium2 prefill, Inferentia2 decode: network
        ("trn2.48xlarge:1", "trn2.48xlarge:1", 4096, 32),  # one UltraServer domain: NeuronLink
    ],
)
def test_a_lone_request_takes_prefill_plus_transfer_then_decode_iterations(
    cat: Catalog, prefill: str, decode: str, inp: int, out: int
) -> None:
    """With a free link and no queueing: TTFT = the prefill pass + the KV transfer (the first token reaches the
    client with the cache, through the decode side), and TPOT = the decode worker's decode iteration alone."""
    p, d = _pools(prefill, decode)
    res = simulate_disaggregated(MODEL, trace(np.array([0.0]), np.array([inp]), np.array([out])), p, d, cat)
    pr, dr = res.pools
    hp, hd = hardware_for(cat, p.instance), hardware_for(cat, d.instance)
    prefill_s = IterationModel(MODEL, hp, pr.tp, Precision.BF16).alone_ttft_s(inp)
    link = kv_link(cat, p.instance, d.instance, prefill_chips=pr.tp, decode_chips=dr.tp,
                   scale_up=res.link.kind == LinkKind.SCALE_UP)  # fmt: skip
    transfer_s = link.transfer_s(kv_transfer_bytes(MODEL, inp, Precision.BF16))
    assert res.ttft_s["mean"] == pytest.approx(prefill_s + transfer_s, rel=1e-9)
    assert transfer_s > 0 and res.link.transfer_s["mean"] == pytest.approx(transfer_s, rel=1e-9)
    decode_s, _ = IterationModel(MODEL, hd, dr.tp, Precision.BF16).decode_block(1, inp + 1.0, out - 1)
    assert res.tpot_s["mean"] == pytest.approx(float(decode_s.mean()), rel=1e-9)
    assert res.e2e_s["mean"] == pytest.approx(prefill_s + transfer_s + float(decode_s.sum()), rel=1e-9)
    assert res.queue_wait_s["mean"] == 0.0 and res.decode_wait_s["mean"] == 0.0
    assert res.link.bytes_moved == kv_transfer_bytes(MODEL, inp, Precision.BF16)


def test_the_link_kind_follows_where_the_pools_sit(cat: Catalog) -> None:
    one = trace(np.array([0.0]), np.array([512]), np.array([8]))
    kinds = {
        (p, d): simulate_disaggregated(MODEL, one, *_pools(p, d), cat).link.kind
        for p, d in [("tpu-v6e-8:1", "tpu-v6e-8:1"), ("p5.48xlarge:1", "p5en.48xlarge:1"),
                     ("trn2.48xlarge:1", "inf2.48xlarge:1:tp=2")]
    }  # fmt: skip
    assert list(kinds.values()) == [LinkKind.SCALE_UP, LinkKind.RDMA, LinkKind.NETWORK]
    # two plain trn2.48xlarge (not UltraServer instances) and two slices of H100 boards share no fabric
    apart = [("trn2.48xlarge:1", "trn2.48xlarge:1"), ("p5.4xlarge:1", "p5.4xlarge:1")]
    assert all(
        simulate_disaggregated(MODEL, one, *_pools(p, d), cat).link.kind is not LinkKind.SCALE_UP for p, d in apart
    )


def test_every_request_finishes_once_and_its_cache_moves_once(cat: Catalog) -> None:
    tr = _mixed(600, rate=20.0)
    res = simulate_disaggregated(MODEL, tr, *_pools("p5.48xlarge:1", "p5en.48xlarge:1"), cat)
    assert res.completed == res.requests == 600
    assert res.link.transfers == 600
    assert [p.requests for p in res.pools] == [600, 600]
    assert res.ttft_s["count"] == res.e2e_s["count"] == 600
    assert res.tpot_s["count"] == int((tr.output_tokens > 1).sum())
    expected = sum(kv_transfer_bytes(MODEL, int(i), Precision.BF16) for i in tr.input_tokens)
    assert res.link.bytes_moved == pytest.approx(expected, rel=1e-12)
    assert res.output_tokens_per_s * res.span_s == pytest.approx(float(tr.output_tokens.sum()))
    assert 0 < res.pools[0].utilization < 1 and 0 < res.pools[1].utilization < 1 and 0 < res.link.utilization < 1
    assert res.cost_usd > 0 and res.energy_kwh > 0


def test_requests_beyond_the_context_window_are_refused_not_routed(cat: Catalog) -> None:
    window = MODEL.max_position_embeddings
    tr = trace(np.array([0.0, 1.0, 2.0]), np.array([100, window, 200]), np.array([10, 10, 10]))
    res = simulate_disaggregated(MODEL, tr, *_pools("p5.48xlarge:1", "p5.48xlarge:1"), cat)
    assert (res.beyond_context, res.completed, res.link.transfers) == (1, 2, 2)


def test_a_run_is_deterministic_and_serialisable(cat: Catalog) -> None:
    tr = _mixed(300, rate=30.0, seed=3)
    pools = _pools("p5.48xlarge:1", "p5en.48xlarge:1")
    opts = DisaggOptions(router="round-robin", slo_ttft_s=1.0, slo_tpot_s=0.05)
    a = to_jsonable(simulate_disaggregated(MODEL, tr, *pools, cat, opts, seed=7))
    b = to_jsonable(simulate_disaggregated(MODEL, tr, *pools, cat, opts, seed=7))
    assert a == b
    assert isinstance(a, dict) and 0.0 <= a["slo_attainment"] <= 1.0 and "histograms" not in a
    assert a["link"]["transfers"] == 300 and a["cost_usd_per_million_tokens"] > 0


def test_a_slower_link_and_more_load_lengthen_ttft_not_tpot_alone(cat: Catalog) -> None:
    """The same Trainium2 prefill worker feeding Inferentia2 over the data-centre network takes longer to hand a
    prompt over than feeding a Trainium2 decode worker in its UltraServer; and heavier load queues prompts."""
    tr = poisson(200, 2.0, 4096, 32)
    fast = simulate_disaggregated(MODEL, tr, *_pools("trn2.48xlarge:1", "trn2.48xlarge:1"), cat)
    slow = simulate_disaggregated(MODEL, tr, *_pools("trn2.48xlarge:1", "inf2.48xlarge:2:tp=2"), cat)
    assert slow.link.transfer_s["mean"] > 10 * fast.link.transfer_s["mean"]
    light = simulate_disaggregated(MODEL, poisson(200, 1.0, 8000, 16), *_pools("p5.48xlarge:1:tp=8", "p5.48xlarge:1"),
                                   cat)  # fmt: skip
    heavy = simulate_disaggregated(MODEL, poisson(200, 400.0, 8000, 16),
                                   *_pools("p5.48xlarge:1:tp=8", "p5.48xlarge:1"), cat)  # fmt: skip
    assert heavy.queue_wait_s["p90"] > 0 and heavy.ttft_s["p90"] > 5 * light.ttft_s["p90"]


def test_transfers_from_one_prefill_worker_queue_on_its_link_share(cat: Catalog) -> None:
    """Two prompts arriving together on one prefill worker: the first runs alone (the worker was idle), the second
    in the next pass, ``p`` later; its cache leaves only when the first's is through (a FIFO server of bytes/s), so
    from its reservation it takes ``2t − p`` (``t`` one transfer) where a free link would take ``t``."""
    p, d = _pools("trn2.48xlarge:1:tp=16", "inf2.48xlarge:1:tp=2")
    pair = simulate_disaggregated(MODEL, trace(np.array([0.0, 0.0]), np.array([2000, 2000]), np.array([4, 4])),
                                  p, d, cat)  # fmt: skip
    one = simulate_disaggregated(MODEL, trace(np.array([0.0]), np.array([2000]), np.array([4])), p, d, cat)
    t = one.link.transfer_s["mean"]
    prefill_s = IterationModel(MODEL, hardware_for(cat, p.instance), 16, Precision.BF16).alone_ttft_s(2000)
    assert prefill_s < t
    assert pair.link.transfer_s["max"] == pytest.approx(2 * t - prefill_s, rel=1e-9)
    assert pair.ttft_s["max"] == pytest.approx(prefill_s + 2 * t, rel=1e-9)


def test_a_request_waits_for_kv_room_on_the_decode_worker(cat: Catalog) -> None:
    """A decode worker admitting one sequence at a time makes later prompts wait for its room; all finish."""
    tr = trace(np.arange(5) * 0.001, np.full(5, 512), np.full(5, 64))
    res = simulate_disaggregated(MODEL, tr, *_pools("p5.48xlarge:1", "p5.48xlarge:1:tp=8:max-seqs=1"), cat,
                                 DisaggOptions(router="load-aware"))  # fmt: skip
    assert res.completed == 5
    assert res.decode_wait_s["max"] > 3 * 63 * res.tpot_s["mean"]  # the last waited for three others' decodes


@pytest.mark.parametrize("router", ["round-robin", "load-aware", "kv-aware"])
def test_each_router_serves_a_cross_vendor_run(cat: Catalog, router: str) -> None:
    tr = _mixed(300, rate=10.0, seed=1)
    res = simulate_disaggregated(MODEL, tr, *_pools("p6-b200.48xlarge:1:tp=4", "p5en.48xlarge:1"), cat,
                                 DisaggOptions(router=router))  # fmt: skip
    assert res.completed == 300 and res.router == router
    assert res.pools[0].workers == 2 and res.pools[1].workers == 8


def test_a_decode_pool_that_cannot_hold_the_longest_request_is_refused_before_the_run(cat: Catalog) -> None:
    """Llama 3.1 8B's 128k context: a 120k-token prompt with 3k of output fits an H100's KV cache but not one
    Inferentia2 chip's (~121k tokens), and its prompt not an A10G's (~46k)."""
    model = get_model("llama-3.1-8b")
    long = trace(np.array([0.0, 1.0]), np.array([1000, 120_000]), np.array([100, 3000]))
    with pytest.raises(DoesNotFitError, match="decode worker") as err:
        simulate_disaggregated(model, long, *_pools("p5.48xlarge:1", "inf2.48xlarge:1"), cat)
    assert err.value.field == "decode" and "123,000" in str(err.value)
    with pytest.raises(DoesNotFitError, match="prefill worker") as err:
        simulate_disaggregated(model, long, *_pools("g5.xlarge:1", "p5.48xlarge:1"), cat)
    assert err.value.field == "prefill" and "120,000" in str(err.value)
    assert simulate_disaggregated(model, long, *_pools("p5.48xlarge:1", "p5.48xlarge:1"), cat).completed == 2


def test_pools_with_no_link_between_them_are_refused(cat: Catalog) -> None:
    one = trace(np.array([0.0]), np.array([512]), np.array([8]))
    with pytest.raises(ConfigError, match="no link") as err:
        simulate_disaggregated(MODEL, one, *_pools("p5.48xlarge:1", "a3-highgpu-8g:1"), cat)
    assert err.value.field == "decode"
    with pytest.raises(ConfigError, match="no link") as err:
        east, west = "p5.48xlarge:1:region=us-east-1", "p5en.48xlarge:1:region=us-west-2"
        simulate_disaggregated(MODEL, one, *_pools(east, west), cat)
    assert "us-west-2" in str(err.value)


def test_an_unknown_instance_or_router_or_layout_is_refused(cat: Catalog) -> None:
    one = trace(np.array([0.0]), np.array([512]), np.array([8]))
    with pytest.raises(UnknownNameError):
        simulate_disaggregated(MODEL, one, *_pools("p5.48xlarge:1", "p99.48xlarge:1"), cat)
    with pytest.raises(UnknownNameError):
        simulate_disaggregated(MODEL, one, *_pools("p5.48xlarge:1", "p5.48xlarge:1"), cat,
                               DisaggOptions(router="nearest"))  # fmt: skip
    with pytest.raises(ConfigError, match="decode pool") as err:
        simulate_disaggregated(MODEL, one, *_pools("p5.48xlarge:1", "p5.48xlarge:1:tp=3"), cat)
    assert err.value.field == "decode"


def test_pools_priced_in_no_common_region_are_assumed_in_one_and_say_so(cat: Catalog) -> None:
    one = trace(np.array([0.0]), np.array([512]), np.array([8]))
    res = simulate_disaggregated(MODEL, one, *_pools("trn2.48xlarge:1", "inf2.48xlarge:1:tp=2"), cat)
    assert res.notes and "no common region" in res.notes[0]
    shared = simulate_disaggregated(MODEL, one, *_pools("p5.48xlarge:1", "p5en.48xlarge:1"), cat)
    assert not shared.notes and shared.pools[0].region == shared.pools[1].region


def test_a_worker_spanning_instances_takes_whole_instances(cat: Catalog) -> None:
    moe = get_model("deepseek-r1")
    tr = trace(np.array([0.0]), np.array([1024]), np.array([16]))
    fp8 = DisaggOptions(precision=Precision.FP8)
    res = simulate_disaggregated(moe, tr, PoolSpec("p5en.48xlarge", 2, tp=16, ep=16, dp_attention=True),
                                 PoolSpec("p5en.48xlarge", 1, tp=8), cat, fp8)  # fmt: skip
    assert (res.pools[0].workers, res.pools[0].tp, res.completed) == (1, 16, 1)
    with pytest.raises(ConfigError, match="multiple of 2"):
        simulate_disaggregated(moe, tr, dataclasses.replace(PoolSpec("p5en.48xlarge", 3, tp=16, ep=16)),
                               PoolSpec("p5en.48xlarge", 1, tp=8), cat, fp8)  # fmt: skip


def test_an_engines_first_token_overhead_delays_the_first_token_not_the_decode(cat: Catalog) -> None:
    """vLLM's per-request first-token overhead (tokenising, scheduling) passes before the request joins the prefill
    queue: TTFT and E2E rise by it, TPOT and the transfer do not."""
    from chipfleet.perf.engines import engine_profile

    one = trace(np.array([0.0]), np.array([1024]), np.array([64]))
    pools = _pools("p5.48xlarge:1", "p5en.48xlarge:1")
    vllm = engine_profile("vllm")
    bare = simulate_disaggregated(MODEL, one, *pools, cat)
    timed = simulate_disaggregated(MODEL, one, *pools, cat, DisaggOptions(engine=vllm))
    c = vllm.first_token_overhead_s
    assert c > 0
    assert timed.ttft_s["mean"] == pytest.approx(bare.ttft_s["mean"] + c, rel=1e-6)
    assert timed.e2e_s["mean"] == pytest.approx(bare.e2e_s["mean"] + c, rel=1e-6)
    assert timed.tpot_s["mean"] == pytest.approx(bare.tpot_s["mean"], rel=1e-9)
    assert timed.link.transfer_s["mean"] == pytest.approx(bare.link.transfer_s["mean"], rel=1e-12)
    assert timed.queue_wait_s["mean"] == pytest.approx(0.0, abs=1e-12)


def test_mtp_on_the_decode_pool_divides_a_lone_requests_tpot_by_its_acceptance_length(cat: Catalog) -> None:
    """DeepSeek-R1's MTP (one draft token, τ = 1.875) on the decode workers: the request's ``O − 1`` decode tokens
    take ``⌈(O − 1)/τ⌉`` iterations of the speculative decode step, each the IterationModel's with ``spec``; the
    prefill and the transfer are as without it, and the draft's weights take KV room."""
    from chipfleet.perf.engines import default_spec

    moe = get_model("deepseek-r1")
    mtp = default_spec(moe.name)
    assert mtp is not None
    one = trace(np.array([0.0]), np.array([1024]), np.array([65]))
    pools = PoolSpec("p5en.48xlarge", 1, tp=8), PoolSpec("p5en.48xlarge", 1, tp=8)
    plain = simulate_disaggregated(moe, one, *pools, cat, DisaggOptions(precision=Precision.FP8))
    fast = simulate_disaggregated(moe, one, *pools, cat, DisaggOptions(precision=Precision.FP8, spec=mtp))
    it = IterationModel(moe, hardware_for(cat, "p5en.48xlarge"), 8, Precision.FP8, spec=mtp)
    steps = int(np.ceil(64 / mtp.acceptance_length))
    times, _ = it.decode_block(1, 1025.0, steps)
    assert fast.tpot_s["mean"] == pytest.approx(float(times.sum()) / 64, rel=1e-9)
    assert fast.tpot_s["mean"] < plain.tpot_s["mean"]
    assert fast.ttft_s["mean"] == pytest.approx(plain.ttft_s["mean"], rel=1e-12)
    assert fast.pools[1].kv_capacity_tokens < plain.pools[1].kv_capacity_tokens
    assert fast.pools[0].kv_capacity_tokens == plain.pools[0].kv_capacity_tokens
