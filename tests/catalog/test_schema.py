"""catalog.schema: precisions and their bytes, a chip's formats and its scale-up domain."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chipfleet.catalog import FP4_FORMATS, Chip, Precision

SRC = {"source": "s", "source_ref": "test", "as_of": "2026-12-06"}


def fig(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, **SRC}


def chip(**fields: Any) -> Chip:
    base: dict[str, Any] = {
        "name": "x",
        "display_name": "X",
        "vendor": "nvidia",
        "kind": "accelerator",
        "family": "nvidia-hopper",
        "peak_dense": {"bf16": fig(1000, "TFLOPS"), "fp8": fig(2000, "TFLOPS"), "int8": fig(2000, "TOPS")},
        "memory": fig(80, "GB"),
        "memory_bandwidth": fig(3, "TB/s"),
        "tdp": fig(700, "W"),
    }
    return Chip.model_validate({**base, **fields})


def test_block_scaled_bytes_count_their_scales() -> None:
    # NVFP4: 4-bit E2M1 elements, one 8-bit E4M3 scale per 16; MXFP4: one 8-bit E8M0 scale per 32 (OCP MX).
    assert Precision.NVFP4.bytes == pytest.approx((4 + 8 / 16) / 8) == pytest.approx(0.5625)
    assert Precision.MXFP4.bytes == pytest.approx((4 + 8 / 32) / 8) == pytest.approx(0.53125)
    assert Precision.INT4.bytes < Precision.MXFP4.bytes < Precision.NVFP4.bytes < Precision.FP8.bytes
    assert FP4_FORMATS == {p for p in Precision if p.block_scaled} == {Precision.NVFP4, Precision.MXFP4}
    assert {p for p in Precision if p.weight_only} == {Precision.INT8, Precision.INT4}


def test_fp4_formats_parse_from_their_names() -> None:
    assert Precision("nvfp4") is Precision.NVFP4 and Precision("mxfp4") is Precision.MXFP4


def test_a_chip_without_fp4_units_reads_fp4_weights_only_where_listed() -> None:
    plain = chip()
    assert Precision.NVFP4 not in plain.weight_precisions
    marlin = chip(weight_only=["nvfp4", "mxfp4"])
    assert {Precision.NVFP4, Precision.MXFP4} <= set(marlin.weight_precisions)
    assert not {Precision.NVFP4, Precision.MXFP4} & set(marlin.activation_precisions)


def test_activations_are_the_float_compute_formats() -> None:
    c = chip(peak_dense={"bf16": fig(1, "PFLOPS"), "fp8": fig(2, "PFLOPS"), "nvfp4": fig(4, "PFLOPS")})
    assert c.activation_precisions == (Precision.BF16, Precision.FP8, Precision.NVFP4)
    assert Precision.INT8 not in chip().activation_precisions  # int8 is served weight-only


def test_kv_cache_formats_are_the_float_compute_formats_plus_the_listed_ones() -> None:
    assert chip().kv_cache_precisions == (Precision.BF16, Precision.FP8)
    no_fp8 = chip(peak_dense={"bf16": fig(312, "TFLOPS")}, kv_cache=["fp8"])
    assert no_fp8.kv_cache_precisions == (Precision.BF16, Precision.FP8)


def test_a_format_listed_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="twice"):
        chip(weight_only=["nvfp4", "nvfp4"])


def test_scale_up_domain_is_a_positive_count() -> None:
    c = chip(scale_up={"fabric": "NVLink5 (NVL72)", "domain": fig(72, "count"), "topology": "switched"})
    assert c.scale_up is not None and c.scale_up.domain_chips == 72
    with pytest.raises(ValidationError):
        chip(scale_up={"fabric": "NVLink5", "domain": fig(0, "count")})
