"""Pricing choices end to end (estimates and the CLI) and spot interruptions in ``estimate train``.

- A pricing model an instance has no price for is a ConfigError from :meth:`Catalog.require_price` that names the
  instances which do have one (reserved prices are few), through the API and through the CLI (exit 2, one line).
- ``estimate train --pricing spot`` includes the interruptions of the whole synchronous job: the same
  :class:`SpotModel` as the planner (N instances, N × the per-instance rate; Young/Daly checkpoints and restarts).
- The CLI's bounds are the model's: ``--tokens`` at ``MAX_TRAINING_TOKENS``, ``--interruptions-per-month`` below
  ``MAX_INTERRUPTIONS_PER_MONTH``.
"""

from __future__ import annotations

import json
import math

import pytest

import chipfleet.cli.options as cli_options
import chipfleet.cli.root as cli
from chipfleet.catalog import Catalog, Precision, Pricing
from chipfleet.economics import SpotModel, estimate_serving, estimate_training, pick_price
from chipfleet.economics.spot import CHECKPOINT_BYTES_PER_PARAM, MAX_INTERRUPTIONS_PER_MONTH
from chipfleet.exceptions import ConfigError, UnknownNameError
from chipfleet.perf.inference import ServingConfig
from chipfleet.perf.training import MAX_TRAINING_TOKENS, TrainingSetup
from chipfleet.serialize import to_jsonable
from chipfleet.workloads import get_model

SMALL = get_model("llama-2-7b")
SERVE = get_model("llama-3-8b")
SETUP = TrainingSetup(model=SMALL, seq_len=4096, global_batch=1024, precision=Precision.BF16)


@pytest.fixture(autouse=True)
def _no_user_overlay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHIPFLEET_CATALOG", raising=False)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _no_reserved(cat: Catalog) -> str:
    """An accelerator instance with an on-demand price and no reserved one (read from the catalog, not assumed)."""
    return next(
        i.name
        for i in sorted(cat.instances.values(), key=lambda i: i.name)
        if i.prices_for(Pricing.ON_DEMAND) and not i.prices_for(Pricing.RESERVED)
    )


# ===================================================================== item 1: the price lookup names alternatives
def test_missing_reserved_price_names_the_instances_that_have_one(cat: Catalog) -> None:
    have = [i.name for i in cat.instances_with_pricing(Pricing.RESERVED)]
    assert have, "the shipped catalog has reserved prices"
    name = _no_reserved(cat)
    cfg = ServingConfig(model=SERVE, batch=1, input_tokens=1024, output_tokens=256)
    for call in (
        lambda: estimate_serving(cat, cfg, name, pricing=Pricing.RESERVED),
        lambda: estimate_training(cat, SETUP, name, 1, 1e10, pricing=Pricing.RESERVED),
        lambda: pick_price(cat, name, None, Pricing.RESERVED),
    ):
        with pytest.raises(ConfigError) as err:
            call()
        msg = str(err.value)
        assert f"no reserved price for {name}" in msg
        assert all(n in msg for n in have[:12]), msg  # the list is cut at 12 names


def test_missing_price_in_the_test_catalog_says_none_has_one(catalog: Catalog) -> None:
    with pytest.raises(ConfigError, match="no instance has a reserved price"):
        pick_price(catalog, "test.h100x8", None, Pricing.RESERVED)
    with pytest.raises(UnknownNameError, match="test-region"):
        pick_price(catalog, "test.h100x8", "test-regon", Pricing.ON_DEMAND)  # a misspelt region: did you mean


def test_reserved_price_is_used_where_there_is_one(cat: Catalog) -> None:
    inst = cat.instances_with_pricing(Pricing.RESERVED)[0]
    price = pick_price(cat, inst, None, Pricing.RESERVED)
    assert price.pricing is Pricing.RESERVED and price.term
    assert price == min(inst.prices_for(Pricing.RESERVED), key=lambda p: (p.usd_per_h, p.region))


def test_cli_estimate_serve_reserved_without_a_price_exits_2_naming_alternatives(
    cat: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    have = [i.name for i in cat.instances_with_pricing(Pricing.RESERVED)]
    code, out, err = _run(
        capsys, "estimate", "serve", "--model", "llama-3-8b", "--instance", "g5.2xlarge", "--pricing", "reserved"
    )
    assert code == 2 and out == ""
    assert "no reserved price for g5.2xlarge" in err and all(n in err for n in have[:12])
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, out, _ = _run(
        capsys,
        "estimate", "serve", "--model", "llama-3-8b", "--instance", "g5.2xlarge", "--pricing", "reserved", "--json",
    )  # fmt: skip
    assert code == 2 and json.loads(out)["error"]["type"] == "ConfigError"


# ===================================================================== item 3: spot interruptions in the estimate
def test_spot_estimate_includes_the_jobs_interruptions(cat: Catalog) -> None:
    """time = failure-free time × SpotModel.overhead_factor(N, 16 B × params); cost and interruptions follow."""
    spot = SpotModel(interruptions_per_month=0.2)
    n = 16
    on_demand = estimate_training(cat, SETUP, "p5.48xlarge", n, 1e11, region="us-east-1")
    est = estimate_training(cat, SETUP, "p5.48xlarge", n, 1e11, region="us-east-1", pricing=Pricing.SPOT, spot=spot)
    factor = spot.overhead_factor(n, SMALL.params_total * CHECKPOINT_BYTES_PER_PARAM)
    assert factor > 1.0
    assert est.step.step_time_s == on_demand.step.step_time_s  # pricing does not change the split
    assert est.time_s == pytest.approx(on_demand.time_s * factor, rel=1e-12)
    assert est.failure_free_time_s == pytest.approx(on_demand.time_s, rel=1e-12)
    assert est.spot_overhead == pytest.approx(factor - 1.0, rel=1e-12)
    assert est.spot_interruptions == pytest.approx(spot.expected_interruptions(n, est.time_s), rel=1e-12)
    price = cat.instance("p5.48xlarge").price("us-east-1", Pricing.SPOT)
    assert price is not None
    assert est.footprint.cost_usd == pytest.approx(price.usd_per_h * n * est.time_s / 3600.0, rel=1e-12)
    d = to_jsonable(est)
    assert d["time_s"] == est.time_s and d["spot_overhead"] == est.spot_overhead
    assert d["spot_interruptions"] == est.spot_interruptions and d["spot_model"] == spot.describe()
    assert spot.describe() in d["assumptions"]
    assert d["caveats"] and "stops whenever any of its 16 instances" in d["caveats"][0]
    assert to_jsonable(on_demand)["caveats"] == [] and on_demand.spot_overhead == 0.0


def test_spot_estimate_grows_with_the_rate_and_is_failure_free_at_zero(cat: Catalog) -> None:
    def at(rate: float) -> float:
        spot = SpotModel(interruptions_per_month=rate)
        return estimate_training(cat, SETUP, "p5.48xlarge", 8, 1e11, pricing=Pricing.SPOT, spot=spot).time_s

    calm, usual, rough = at(0.0), at(0.2), at(2.0)
    assert calm < usual < rough
    base = estimate_training(cat, SETUP, "p5.48xlarge", 8, 1e11, pricing=Pricing.SPOT, spot=SpotModel(0.0))
    assert base.spot_overhead == 0.0 and base.spot_interruptions == 0.0


def test_spot_estimate_that_never_finishes_is_a_config_error(cat: Catalog) -> None:
    spot = SpotModel(interruptions_per_month=700.0)
    assert math.isinf(spot.overhead_factor(64, SMALL.params_total * CHECKPOINT_BYTES_PER_PARAM))
    with pytest.raises(ConfigError, match="never finish") as err:
        estimate_training(cat, SETUP, "p5.48xlarge", 64, 1e11, pricing=Pricing.SPOT, spot=spot)
    assert err.value.field == "interruptions_per_month" and "a lower interruptions_per_month" in str(err.value)
    assert "--" not in str(err.value)


def test_large_spot_estimate_carries_the_capacity_caveat(cat: Catalog) -> None:
    est = estimate_training(cat, SETUP, "p5.48xlarge", 32, 1e11, pricing=Pricing.SPOT)  # 256 chips
    assert any(c.startswith("Not modelled: whether 32 spot p5.48xlarge") for c in est.caveats)
    small = estimate_training(cat, SETUP, "p5.48xlarge", 2, 1e11, pricing=Pricing.SPOT)
    assert not any("Not modelled" in c for c in small.caveats)


def test_cli_estimate_train_spot_prints_the_interruptions(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("estimate", "train", "--model", "llama-2-7b", "--instance", "p5.48xlarge", "--instances", "4",
            "--tokens", "100B", "--pricing", "spot")  # fmt: skip
    code, out, _ = _run(capsys, *args, "--json")
    assert code == 0
    d = json.loads(out)
    assert d["spot_overhead"] > 0 and d["caveats"]
    code, calm, _ = _run(capsys, *args, "--json", "--interruptions-per-month", "0")
    assert code == 0 and json.loads(calm)["spot_overhead"] == 0.0
    assert json.loads(calm)["time_s"] < d["time_s"]
    code, out, _ = _run(capsys, *args)
    assert code == 0 and "caveat" in out and "synchronous job" in out


# ===================================================================== item 4: one bound per quantity
def test_cli_token_cap_is_the_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_options._MAX_TOKENS == MAX_TRAINING_TOKENS
    over = f"{MAX_TRAINING_TOKENS * 10:.0e}"
    for cmd in (
        ("estimate", "train", "--instance", "p5.48xlarge", "--instances", "1"),
        ("plan", "train"),
    ):
        code, out, err = _run(capsys, *cmd, "--model", "llama-2-7b", "--tokens", over)
        assert code == 2 and out == "" and "--tokens" in err, (cmd, err)


def test_planner_refuses_tokens_above_the_models_cap() -> None:
    from chipfleet import plan

    with pytest.raises(ConfigError, match="training tokens"):
        plan.train(SMALL, MAX_TRAINING_TOKENS * 10)


def test_interruptions_bound_matches_the_spot_model(capsys: pytest.CaptureFixture[str]) -> None:
    below = math.nextafter(MAX_INTERRUPTIONS_PER_MONTH, 0.0)
    SpotModel(interruptions_per_month=below)  # accepted by both
    assert cli_options._interruptions_opt(repr(below)) == below
    with pytest.raises(ConfigError, match="interruptions_per_month"):
        SpotModel(interruptions_per_month=MAX_INTERRUPTIONS_PER_MONTH)
    with pytest.raises(ConfigError, match="--interruptions-per-month"):
        cli_options._interruptions_opt(f"{MAX_INTERRUPTIONS_PER_MONTH:g}")
    for cmd in (
        ("plan", "train", "--model", "llama-2-7b", "--tokens", "1T"),
        ("estimate", "train", "--model", "llama-2-7b", "--instance", "p5.48xlarge", "--instances", "1",
         "--tokens", "1T", "--pricing", "spot"),
    ):  # fmt: skip
        code, out, err = _run(capsys, *cmd, "--interruptions-per-month", "1000")
        assert code == 2 and out == "" and "--interruptions-per-month" in err and "730" in err, (cmd, err)
