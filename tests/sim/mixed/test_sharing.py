"""Sharing policies: the registry, the latency rule, eviction rules and type orders."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from chipfleet.exceptions import UnknownNameError
from chipfleet.sim.mixed.sharing import (
    CostAware,
    ServingFirst,
    SharingState,
    TypeValue,
    get_sharing,
    latency_target,
    list_sharing,
    register_sharing,
)


def test_registry() -> None:
    assert list_sharing() == ["cost-aware", "partition", "serving-first"]
    with pytest.raises(UnknownNameError, match="sharing policy"):
        get_sharing("greedy")


def test_sharing_names_are_case_insensitive() -> None:
    assert get_sharing("Serving-First").name == "serving-first"
    assert get_sharing(" COST-AWARE ").name == "cost-aware"
    with pytest.raises(UnknownNameError) as err:
        get_sharing("Partitoin")
    assert "did you mean partition" in str(err.value).lower()
    with pytest.raises(ValueError, match="lower case"):
        register_sharing("Greedy")


def test_latency_rule_and_eviction_rules() -> None:
    base = SharingState(now_s=0, serving_nodes=2, serving_replicas=16, ttft_p90_s=0.7, excess_p90_s=0.4,
                        utilization=0.9, waiting_requests=0, waiting_jobs=3, free_nodes=0, target_ttft_s=1.0,
                        shrink_below=0.5, load_share=0.25)  # fmt: skip
    assert latency_target(base) == 16  # inside the band: hold
    assert latency_target(replace(base, ttft_p90_s=1.5)) == 20  # over the target by queueing: + ⌈16/4⌉
    # Over the target with little load-added delay: the hardware's own prefill time; more replicas won't help.
    assert latency_target(replace(base, ttft_p90_s=1.5, excess_p90_s=0.1)) == 16
    assert latency_target(replace(base, ttft_p90_s=0.2)) == 15  # comfortable: one node back
    assert latency_target(replace(base, ttft_p90_s=math.nan)) == 15  # no traffic
    assert latency_target(replace(base, waiting_requests=5)) == 16  # a few waiting: normal batching
    queued = replace(base, waiting_requests=20)  # more than the 16 replicas: backlogged
    assert latency_target(queued) == 24  # + ⌈16/2⌉
    over = replace(base, ttft_p90_s=1.5)
    assert ServingFirst().decide(over).may_evict_training  # type: ignore[union-attr]
    assert not CostAware().decide(over).may_evict_training  # type: ignore[union-attr]
    assert CostAware().decide(queued).may_evict_training  # type: ignore[union-attr]


def test_type_orders() -> None:
    values = [TypeValue("gpu", 1000.0, 8.0, 30.0), TypeValue("inf", 500.0, 0.0, 13.0), TypeValue("cheap", 300, 1, 3)]
    assert CostAware().type_order(values) == ["inf", "cheap", "gpu"]  # serving-only first, then 300/1 > 1000/8
    assert ServingFirst().type_order(values) == ["cheap", "inf", "gpu"]  # tokens per dollar: 100, 38, 33
