"""Shared CLI option helpers: the weight precision a quantized checkpoint's repo id names."""

from __future__ import annotations

import pytest

from chipfleet.catalog import Precision
from chipfleet.cli.options import weight_precision


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("nvidia/DeepSeek-R1-NVFP4", Precision.NVFP4),
        ("nvidia/DeepSeek-R1-0528-FP4-V2", Precision.NVFP4),  # ModelOpt's bare FP4 is NVFP4
        ("amd/DeepSeek-R1-0528-MXFP4-Preview", Precision.MXFP4),
        ("Qwen/Qwen3-235B-A22B-FP8", Precision.FP8),
        ("deepseek-ai/DeepSeek-R1", Precision.BF16),  # no suffix: the plain default, not the record's fp8
        ("llama-3-8b", Precision.BF16),
        (None, Precision.BF16),  # --model-config
    ],
)
def test_the_default_weight_precision_is_the_checkpoints(model: str | None, expected: Precision) -> None:
    assert weight_precision(None, model) is expected


def test_a_precision_typed_wins_over_the_repo_id() -> None:
    assert weight_precision(Precision.FP8, "nvidia/DeepSeek-R1-NVFP4") is Precision.FP8
