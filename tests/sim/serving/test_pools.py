"""Pool specs of a disaggregated deployment: the INSTANCE:COUNT[:KEY=VALUE...] grammar and its refusals."""

from __future__ import annotations

import pytest

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError
from chipfleet.sim.serving import DisaggOptions, PoolSpec


def test_a_pool_reads_its_instance_count_and_options() -> None:
    assert PoolSpec.parse("trn2.48xlarge:2") == PoolSpec("trn2.48xlarge", 2)
    spec = PoolSpec.parse(
        " P6-B200.48xlarge : 1 :tp=4:ep=4:dp-attention=on:max_seqs=64:max-batch-tokens=4096:region=US-East-1"
    )
    assert spec == PoolSpec("p6-b200.48xlarge", 1, tp=4, ep=4, dp_attention=True, max_seqs=64, max_batch_tokens=4096,
                            region="us-east-1")  # fmt: skip


@pytest.mark.parametrize(
    "spec", ["trn2.48xlarge:2", "p6-b200.48xlarge:1:tp=4", "p5en.48xlarge:2:tp=16:ep=16:dp-attention=on:max-seqs=32"]
)
def test_a_description_reads_back_as_the_same_pool(spec: str) -> None:
    pool = PoolSpec.parse(spec)
    assert pool.describe() == spec
    assert PoolSpec.parse(pool.describe()) == pool


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("trn2.48xlarge", "INSTANCE:COUNT"),
        ("trn2.48xlarge:0", "at least 1"),
        ("trn2.48xlarge:two", "INSTANCE:COUNT"),
        ("trn2.48xlarge:1:tp", "KEY=VALUE"),
        ("trn2.48xlarge:1:pp=2", "KEY=VALUE"),
        ("trn2.48xlarge:1:tp=0", "whole number"),
        ("trn2.48xlarge:1:tp=x", "whole number"),
        ("trn2.48xlarge:1:dp-attention=maybe", "on or off"),
    ],
)
def test_a_pool_that_cannot_be_read_says_which_and_why(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        PoolSpec.parse(text, "decode")
    assert err.value.field == "decode" and "decode" in str(err.value)


def test_options_refuse_what_cannot_run() -> None:
    with pytest.raises(ConfigError) as err:
        DisaggOptions(max_seqs=0)
    assert err.value.field == "max_seqs"
    with pytest.raises(ConfigError):
        DisaggOptions(slo_ttft_s=float("nan"))
    with pytest.raises(ConfigError):
        PoolSpec("p5.48xlarge", 1, ep=0)
    assert DisaggOptions(precision=Precision.FP8).first_token_overhead_s == 0.0
