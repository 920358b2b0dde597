"""End-to-end estimates (issue 10): errors name the real problem, suggestions come from a search that fits,
sizes are bounded, and Neuron instances serve 70B-class and MoE models with padded heads."""

from __future__ import annotations

import re

import pytest

from chipfleet.catalog import Catalog
from chipfleet.economics import estimate_serving, estimate_training
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.inference import ServingConfig
from chipfleet.perf.training import Recompute, TrainingSetup
from chipfleet.workloads import get_model

LLAMA3_70B = get_model("llama-3-70b")
LLAMA31_405B = get_model("llama-3.1-405b")
MIXTRAL = get_model("mixtral-8x7b")


def _setup(model_name: str = "llama-3-70b") -> TrainingSetup:
    return TrainingSetup(model=get_model(model_name), seq_len=4096, global_batch=1024)


@pytest.mark.parametrize(
    ("fixed", "words"),
    [({"tp": 3}, "tp=3"), ({"pp": 7}, "pp=7"), ({"dp": 5}, "dp=5"), ({"tp": 0}, "tp must be at least 1")],
)
def test_indivisible_fixed_degree_is_not_reported_as_memory(
    catalog: Catalog, fixed: dict[str, object], words: str
) -> None:
    with pytest.raises(ConfigError, match=words) as err:
        estimate_training(catalog, _setup(), "test.h100x8", 128, 1e12, fixed=fixed)
    assert not isinstance(err.value, DoesNotFitError)


def test_indivisible_ep_is_not_reported_as_memory(catalog: Catalog) -> None:
    with pytest.raises(ConfigError, match="ep=3") as err:
        estimate_training(catalog, _setup("mixtral-8x7b"), "test.h100x8", 16, 1e12, fixed={"ep": 3})
    assert not isinstance(err.value, DoesNotFitError)


def test_405b_zero1_on_2048_instances_finds_the_split_that_fits(catalog: Catalog) -> None:
    """It was told to use 2,304 instances although tp=8, pp=16 fits on 2,048."""
    est = estimate_training(catalog, _setup("llama-3.1-405b"), "test.h100x8", 2048, 1e12, fixed={"zero": 1})
    assert est.step.memory.fits and est.step.parallelism.zero == 1
    assert est.instances == 2048


@pytest.mark.parametrize("fixed", [{}, {"zero": 1}, {"tp": 8, "pp": 1, "dp": 4}])
def test_does_not_fit_suggestion_is_a_split_that_fits(catalog: Catalog, fixed: dict[str, object]) -> None:
    """Whatever the error suggests is run and must fit: a split on the same instances, or an instance count
    (with its split) found by the bounded search."""
    with pytest.raises(DoesNotFitError) as err:
        estimate_training(catalog, _setup("llama-3.1-405b"), "test.h100x8", 4, 1e12, fixed=fixed)
    hint = err.value.suggestion
    split = re.search(r"(tp=\d+,pp=\d+,dp=\d+\S*)", hint)
    assert split is not None, hint
    names = {"mb": "micro_batch", "vp": "virtual_stages"}
    par: dict[str, object] = {}
    for item in split.group(1).split(","):
        key, value = item.split("=")
        par[names.get(key, key)] = Recompute(value) if key == "recompute" else int(value)
    found = re.match(r"use (\d+) ×", hint)
    n = int(found.group(1)) if found else 4
    assert n > 4 or "this split fits" in hint
    # a complete split: estimate_training checks its memory and raises if it does not fit
    est = estimate_training(catalog, _setup("llama-3.1-405b"), "test.h100x8", n, 1e12, fixed=par)
    assert est.step.memory.fits and not est.parallelism_chosen


@pytest.mark.parametrize("tokens", [1e308, float("nan"), float("inf"), 0.0, 1e16])
def test_absurd_token_counts_do_not_price(catalog: Catalog, tokens: float) -> None:
    """1e308 tokens priced to $1.8e301; now a ConfigError naming the allowed range."""
    with pytest.raises(ConfigError, match="training tokens"):
        estimate_training(catalog, _setup(), "test.h100x8", 16, tokens)


@pytest.mark.parametrize("instances", [0, -1, 10**7])
def test_instance_count_is_bounded(catalog: Catalog, instances: int) -> None:
    with pytest.raises(ConfigError):
        estimate_training(catalog, _setup(), "test.h100x8", instances, 1e12)


@pytest.mark.parametrize("model", [LLAMA3_70B, MIXTRAL], ids=["llama-3-70b", "mixtral-8x7b"])
@pytest.mark.parametrize("instance", ["inf2.48xlarge", "inf2.24xlarge"])
def test_70b_and_moe_served_on_inferentia_with_auto_tp(cat: Catalog, model: object, instance: str) -> None:
    """The shipped inf2 instances: `estimate serve` said "does not fit … 11.9 GB of 32.6 GB" for Llama-3-70B
    on inf2.48xlarge; it is served now, with the head padding in its assumptions and price."""
    est = estimate_serving(cat, ServingConfig(model=model), instance)  # type: ignore[arg-type]
    r = est.result
    assert r.memory.fits and r.output_tokens_per_s > 0 and est.cost_usd_per_million_tokens > 0
    assert any("padded" in a for a in r.assumptions)


@pytest.mark.parametrize(
    "kwargs", [{"batch": 0}, {"input_tokens": 0}, {"output_tokens": 0}, {"tp": 0}, {"batch": 1 << 30}]
)
def test_serving_sizes_are_bounded(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        ServingConfig(model=LLAMA3_70B, **kwargs)  # type: ignore[arg-type]
