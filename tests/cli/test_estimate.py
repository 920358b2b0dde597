"""`chipfleet estimate serve` on quantized checkpoints: the repo id's precision is the default."""

from __future__ import annotations

import json

import pytest

from chipfleet.cli import main

ARGS = ("estimate", "serve", "--instance", "p6-b200.48xlarge", "--tp", "8", "--batch", "16", "--json")


def _weights(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, float]:
    assert main([*ARGS, *args]) == 0
    data = json.loads(capsys.readouterr().out)
    return data["config"]["weight_precision"], data["result"]["memory"]["weights_bytes"]


def test_a_quantized_repo_id_serves_at_its_precision_unless_told_otherwise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    nvfp4, nvfp4_bytes = _weights(capsys, "--model", "nvidia/DeepSeek-R1-NVFP4")
    fp8, fp8_bytes = _weights(capsys, "--model", "nvidia/DeepSeek-R1-NVFP4", "--precision", "fp8")
    plain, _ = _weights(capsys, "--model", "deepseek-ai/DeepSeek-R1", "--precision", "fp8")
    assert (nvfp4, fp8, plain) == ("nvfp4", "fp8", "fp8")
    assert nvfp4_bytes < fp8_bytes  # 4.5-bit weights take less room than 8-bit ones
