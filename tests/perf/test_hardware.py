"""perf.hardware: the compute precision of a (weights, activations) pair, and the catalog flattened into floats."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chipfleet.catalog import Catalog, Precision, load_catalog
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import Hardware, hardware_for
from chipfleet.perf.inference import ServingConfig, estimate_inference
from chipfleet.perf.iteration import IterationModel
from chipfleet.perf.kernels import attention_precision
from chipfleet.workloads import get_model

from ._hardware import H100_LIKE

FP4 = 9000e12
BLACKWELL_LIKE = replace(
    H100_LIKE,
    chip="blackwell-like",
    peak_flops_per_s={
        Precision.BF16: 2250e12,
        Precision.FP8: 4500e12,
        Precision.NVFP4: FP4,
        Precision.MXFP4: FP4,
    },
    weight_precisions=frozenset(Precision),
)
HOPPER_WITH_FORMATS = replace(
    H100_LIKE,
    weight_precisions=frozenset({*H100_LIKE.peak_flops_per_s, Precision.NVFP4, Precision.MXFP4, Precision.INT4}),
)
NO_FP4_STACK = replace(H100_LIKE, chip="no-fp4", weight_precisions=frozenset(H100_LIKE.peak_flops_per_s))


@pytest.mark.parametrize("fmt", [Precision.NVFP4, Precision.MXFP4])
def test_fp4_weights_compute_in_fp4_where_the_chip_has_fp4_units(fmt: Precision) -> None:
    r = BLACKWELL_LIKE.resolve_precision(fmt)
    assert (r.activations, r.compute, r.weight_only) == (fmt, fmt, False)
    assert r.weight_bytes == fmt.bytes
    assert BLACKWELL_LIKE.peak(fmt) == FP4


@pytest.mark.parametrize("fmt", [Precision.NVFP4, Precision.MXFP4])
def test_fp4_weights_without_fp4_units_are_dequantized(fmt: Precision) -> None:
    w4a16 = HOPPER_WITH_FORMATS.resolve_precision(fmt)
    assert (w4a16.activations, w4a16.compute, w4a16.weight_only) == (Precision.BF16, Precision.BF16, True)
    assert w4a16.weight_bytes == fmt.bytes  # the weights stay 4-bit in memory
    w4a8 = HOPPER_WITH_FORMATS.resolve_precision(fmt, Precision.FP8)
    assert (w4a8.compute, w4a8.weight_only) == (Precision.FP8, True)
    assert HOPPER_WITH_FORMATS.peak(fmt) == H100_LIKE.peak_flops_per_s[Precision.BF16]


def test_fp4_activations_move_up_to_fp8_on_a_chip_without_fp4() -> None:
    r = HOPPER_WITH_FORMATS.resolve_precision(Precision.NVFP4, Precision.NVFP4)
    assert (r.activations, r.compute) == (Precision.FP8, Precision.FP8)


def test_mixed_fp4_weights_and_fp8_activations_run_at_the_wider_format() -> None:
    r = BLACKWELL_LIKE.resolve_precision(Precision.MXFP4, Precision.FP8)
    assert (r.compute, r.weight_only) == (Precision.FP8, False)
    assert BLACKWELL_LIKE.peak_flops_per_s[r.compute] < FP4


def test_fp4_weights_a_chip_cannot_read_are_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        NO_FP4_STACK.resolve_precision(Precision.NVFP4)
    assert err.value.field == "weight_precision"
    # The hot path stays permissive (a planner loop asks for a peak, not a verdict).
    assert NO_FP4_STACK.compute_precision(Precision.NVFP4) is Precision.BF16


def test_weight_only_integers_are_not_activations() -> None:
    with pytest.raises(ConfigError) as err:
        H100_LIKE.resolve_precision(Precision.BF16, Precision.INT8)
    assert err.value.field == "activation_precision"


@pytest.mark.parametrize(
    ("hw_peaks", "weights", "expected"),
    [
        # the rule every estimate used before FP4: the format if the chip computes in it, int8/int4 weight-only
        ({Precision.BF16, Precision.FP8, Precision.INT8}, Precision.FP8, Precision.FP8),
        ({Precision.BF16, Precision.FP8, Precision.INT8}, Precision.INT8, Precision.BF16),
        ({Precision.BF16, Precision.FP16}, Precision.FP8, Precision.BF16),
        ({Precision.BF16, Precision.INT8}, Precision.FP16, Precision.BF16),
        ({Precision.FP32}, Precision.BF16, Precision.FP32),
        ({Precision.TF32, Precision.BF16}, Precision.TF32, Precision.TF32),
        ({Precision.BF16}, Precision.INT4, Precision.BF16),
    ],
)
def test_eight_to_32_bit_formats_resolve_as_before(
    hw_peaks: set[Precision], weights: Precision, expected: Precision
) -> None:
    hw = replace(H100_LIKE, peak_flops_per_s=dict.fromkeys(hw_peaks, 1e12))
    assert hw.compute_precision(weights) is expected


def test_a_chip_without_peaks_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        replace(H100_LIKE, peak_flops_per_s={}).compute_precision(Precision.BF16)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(use_env=False)


def test_catalog_chips_carry_their_formats_into_hardware(catalog: Catalog) -> None:
    b200 = hardware_for(catalog, "p6-b200.48xlarge")
    assert b200.resolve_precision(Precision.NVFP4).compute is Precision.NVFP4
    assert {Precision.NVFP4, Precision.MXFP4} <= b200.weight_precisions
    assert b200.scale_up_chips == 8
    h100 = hardware_for(catalog, "p5.48xlarge")
    r = h100.resolve_precision(Precision.MXFP4)
    assert r.weight_only and r.compute is Precision.BF16
    inf2 = hardware_for(catalog, "inf2.48xlarge")
    with pytest.raises(ConfigError):
        inf2.resolve_precision(Precision.NVFP4)


def test_hardware_defaults_accept_every_weight_format() -> None:
    # A Hardware built by hand (tests, local probes) states no formats: nothing is refused.
    assert isinstance(H100_LIKE, Hardware) and not H100_LIKE.weight_precisions
    assert H100_LIKE.resolve_precision(Precision.NVFP4).weight_only


def test_an_fp4_kv_cache_needs_a_chip_that_stores_one(catalog: Catalog) -> None:
    gb200 = hardware_for(catalog, "p6e-gb200.36xlarge")
    assert gb200.check_kv_cache(Precision.NVFP4) is Precision.NVFP4
    h100 = hardware_for(catalog, "p5.48xlarge")
    with pytest.raises(ConfigError) as err:
        h100.check_kv_cache(Precision.NVFP4)
    assert err.value.field == "kv_precision"
    assert h100.check_kv_cache(Precision.FP8) is Precision.FP8
    assert hardware_for(catalog, "p4d.24xlarge").check_kv_cache(Precision.FP8) is Precision.FP8  # stored, dequantized


@pytest.mark.parametrize("fmt", [Precision.NVFP4, Precision.MXFP4])
def test_fp4_serving_runs_attention_at_the_bf16_peak(fmt: Precision) -> None:
    # FP4 applies to the linear layers; attention scores and mix stay in bf16 (perf.kernels.attention_precision).
    assert BLACKWELL_LIKE.peak(attention_precision(fmt)) == BLACKWELL_LIKE.peak_flops_per_s[Precision.BF16]


def test_estimates_and_the_iteration_model_refuse_fp4_weights_a_chip_cannot_read(catalog: Catalog) -> None:
    model = get_model("llama-3-8b")
    inf2 = hardware_for(catalog, "inf2.48xlarge")
    cfg = ServingConfig(model=model, batch=1, input_tokens=512, output_tokens=64, weight_precision=Precision.NVFP4)
    with pytest.raises(ConfigError) as err:
        estimate_inference(cfg, inf2)
    assert err.value.field == "weight_precision"
    with pytest.raises(ConfigError):
        IterationModel(model, inf2, 2, Precision.MXFP4)
    h100 = hardware_for(catalog, "p5.48xlarge")
    assert estimate_inference(cfg, h100).compute_precision is Precision.BF16  # W4A16 on Hopper
    with pytest.raises(ConfigError) as err:
        estimate_inference(replace(cfg, kv_precision=Precision.NVFP4), h100)
    assert err.value.field == "kv_precision"
