"""KV-cache transfer between disaggregated prefill and decode workers: which link, how fast, and refusals."""

from __future__ import annotations

import pytest

from chipfleet.catalog import Catalog, Precision
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.kv_transfer import LinkKind, kv_link, kv_transfer_bytes, shares_scale_up_domain
from chipfleet.workloads import get_model


def test_the_bytes_moved_follow_the_architecture() -> None:
    llama = get_model("llama-3.1-8b")  # 32 layers x 8 KV heads x 128 x (K, V)
    assert kv_transfer_bytes(llama, 1000, Precision.BF16) == pytest.approx(1000 * 32 * 8 * 128 * 2 * 2)
    assert kv_transfer_bytes(llama, 1000, Precision.FP8) == pytest.approx(
        kv_transfer_bytes(llama, 1000, Precision.BF16) / 2
    )
    r1 = get_model("deepseek-r1")  # MLA: the 512 + 64 latent per layer, not 128 heads' K and V
    assert kv_transfer_bytes(r1, 1000, Precision.FP8) == pytest.approx(1000 * 61 * (512 + 64))
    gpt = get_model("gpt-oss-120b")  # half the layers keep a 128-token window: long prompts move less per token
    per_token = [kv_transfer_bytes(gpt, n, Precision.BF16) / n for n in (128, 8192)]
    assert per_token[1] < per_token[0]
    assert kv_transfer_bytes(llama, 0, Precision.BF16) == 0.0
    with pytest.raises(ConfigError):
        kv_transfer_bytes(llama, -1, Precision.BF16)


def test_workers_on_one_instance_or_one_nvl72_rack_use_the_chip_fabric(cat: Catalog) -> None:
    board = kv_link(cat, "p6-b200.48xlarge", "p6-b200.48xlarge", prefill_chips=4, decode_chips=4, same_instance=True)
    assert board.kind is LinkKind.SAME_INSTANCE
    hw = hardware_for(cat, "p6-b200.48xlarge")
    assert board.bytes_per_s == pytest.approx(4 * hw.intra_link_bytes_per_s * hw.eff.collective)
    assert shares_scale_up_domain(cat, "p6e-gb200.36xlarge", "p6e-gb200.36xlarge", 52)
    assert not shares_scale_up_domain(cat, "p6e-gb200.36xlarge", "p6e-gb200.36xlarge", 80)  # past one NVL72
    assert not shares_scale_up_domain(cat, "p6-b200.48xlarge", "p6-b200.48xlarge", 16)  # NVL8: one instance
    assert not shares_scale_up_domain(cat, "p5.4xlarge", "p5.4xlarge", 2)  # slices of NVL8 boards share no NVLink
    assert shares_scale_up_domain(cat, "trn2u.48xlarge", "trn2u.48xlarge", 64)  # a Trn2 UltraServer
    assert not shares_scale_up_domain(cat, "trn2.48xlarge", "trn2.48xlarge", 32)  # plain trn2: EFA between them
    rack = kv_link(cat, "p6e-gb200.36xlarge", "p6e-gb200.36xlarge", prefill_chips=4, decode_chips=32, scale_up=True)
    assert rack.kind is LinkKind.SCALE_UP and rack.bytes_per_s > 1e12  # 4 GPUs' NVLink5, terabytes per second


def test_instances_apart_use_rdma_where_both_have_it_else_the_network(cat: Catalog) -> None:
    rdma = kv_link(cat, "p6-b200.48xlarge", "p5en.48xlarge", prefill_chips=8, decode_chips=8)
    assert rdma.kind is LinkKind.RDMA
    half = kv_link(cat, "p6-b200.48xlarge", "p5en.48xlarge", prefill_chips=4, decode_chips=8)
    assert half.bytes_per_s == pytest.approx(rdma.bytes_per_s / 2)  # 4 of 8 GPUs: half the instance's NICs
    tcp = kv_link(cat, "trn2.48xlarge", "inf2.48xlarge", prefill_chips=16, decode_chips=12)
    assert tcp.kind is LinkKind.NETWORK and tcp.bytes_per_s < rdma.bytes_per_s / 10
    nbytes = kv_transfer_bytes(get_model("llama-3.1-70b"), 8192, Precision.BF16)
    # 2.7 GB: milliseconds over a fabric, a large share of a second over TCP (where disaggregation pays hangs on it)
    assert rdma.transfer_s(nbytes) < 0.05 < 0.25 < tcp.transfer_s(nbytes)
    assert tcp.transfer_s(0) == 0.0
    assert rdma.transfer_s(nbytes) == pytest.approx(rdma.latency_s + nbytes / rdma.bytes_per_s)


def test_pools_without_a_link_are_refused_saying_why(cat: Catalog) -> None:
    with pytest.raises(ConfigError, match="no link between") as err:
        kv_link(cat, "p6-b200.48xlarge", "p5en.48xlarge", prefill_chips=8, decode_chips=8, prefill_region="us-east-1",
                decode_region="us-west-2")  # fmt: skip
    assert err.value.field == "decode"
    with pytest.raises(ConfigError, match="no link between"):  # different clouds
        kv_link(cat, "tpu-v6e-8", "p5en.48xlarge", prefill_chips=8, decode_chips=8)
    with pytest.raises(ConfigError, match="cannot share one instance"):
        kv_link(cat, "p6-b200.48xlarge", "p5en.48xlarge", prefill_chips=4, decode_chips=4, same_instance=True)
    with pytest.raises(ConfigError, match="does not fit"):
        kv_link(cat, "p6-b200.48xlarge", "p5en.48xlarge", prefill_chips=0, decode_chips=8)
