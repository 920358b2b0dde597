"""Routed experts at their grouped-GEMM rate: dense models untouched, MoE routed FLOPs cost 1/g when compute-bound."""

from __future__ import annotations

import pytest

from chipfleet.catalog import Catalog, Precision
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.iteration import IterationModel
from chipfleet.perf.kernels import GROUPED_GEMM_FRACTION, routed_expert_flops_per_token, routed_extra_flops_per_token
from chipfleet.workloads import get_model


def test_dense_model_keeps_its_flops() -> None:
    m = get_model("llama-3-70b")
    assert routed_expert_flops_per_token(m) == 0.0
    assert routed_extra_flops_per_token(m, 0.1) == 0.0


@pytest.mark.parametrize("name", ["gpt-oss-120b", "deepseek-r1", "mixtral-8x7b"])
def test_routed_share_counts_one_over_g(name: str) -> None:
    m = get_model(name)
    dense = 2.0 * m.n_layers * m.params_per_layer_active
    routed = routed_expert_flops_per_token(m)
    # the routed experts are part of the active weights: k experts of every MoE layer
    assert 0.0 < routed < dense
    assert routed == pytest.approx(2.0 * m.experts_top_k * m.params_mlp_per_expert * m.n_moe_layers)
    assert routed_extra_flops_per_token(m, 1.0) == 0.0
    g = 0.25
    assert routed_extra_flops_per_token(m, g) == pytest.approx(routed * (1.0 / g - 1.0))


def test_shipped_fraction_is_a_fraction() -> None:
    assert 0.0 < GROUPED_GEMM_FRACTION <= 1.0


def test_iteration_prefill_slows_with_the_fraction_and_decode_stays_memory_bound(cat: Catalog) -> None:
    hw = hardware_for(cat, "p5.48xlarge")
    m = get_model("gpt-oss-120b")
    fast = IterationModel(m, hw, 2, Precision.MXFP4, grouped_gemm_fraction=1.0)
    slow = IterationModel(m, hw, 2, Precision.MXFP4, grouped_gemm_fraction=0.25)
    prompt = 8192
    t_fast, t_slow = fast.alone_ttft_s(prompt), slow.alone_ttft_s(prompt)
    assert t_slow > 1.5 * t_fast  # a long prefill is compute-bound, and the routed experts are most of it
    # a small decode batch reads weights: its time does not depend on the experts' compute rate
    d_fast = fast.time(4, 4 * 1000.0, 0, 0.0, 0.0, 0)[0]
    d_slow = slow.time(4, 4 * 1000.0, 0, 0.0, 0.0, 0)[0]
    assert d_slow == pytest.approx(d_fast)
    dense = get_model("llama-3-8b")
    a = IterationModel(dense, hw, 1, Precision.BF16, grouped_gemm_fraction=1.0).alone_ttft_s(prompt)
    b = IterationModel(dense, hw, 1, Precision.BF16, grouped_gemm_fraction=0.25).alone_ttft_s(prompt)
    assert a == b


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5])
def test_fraction_out_of_range_is_refused(cat: Catalog, bad: float) -> None:
    hw = hardware_for(cat, "p5.48xlarge")
    with pytest.raises(ConfigError) as err:
        IterationModel(get_model("gpt-oss-120b"), hw, 2, Precision.MXFP4, grouped_gemm_fraction=bad)
    assert err.value.field == "grouped_gemm_fraction"
