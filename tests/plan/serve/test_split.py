"""serve(disagg=...): auto splits where it pays (long prompts, short outputs, a tight TPOT SLO) and not where it does
not; off is today's plan; the decision says why."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.plan.serve.plan import serve
from chipfleet.plan.serve.spec import DisaggMode, ServeConstraints, ServeObjective, ServeSLO
from chipfleet.plan.serve.split import NOT_REPLAYED, decide
from chipfleet.serialize import dumps
from chipfleet.traces import poisson
from chipfleet.workloads import get_model

from .fleets import INSTANCES, LONG_8B, SLO, poisson_trace


def test_splitting_pays_for_long_prompts_short_outputs_and_a_tight_tpot(cat: Catalog) -> None:
    # One-GPU instances: an aggregated replica meets a 12 ms TPOT only while 8k-token prefill chunks rarely join
    # its iterations; a decode pool never runs one.
    trace = poisson(10.0, duration_s=300, input_dist="fixed:8192", output_dist="fixed:64", rng=np.random.default_rng(0))
    plan = serve(
        get_model(LONG_8B), trace, ServeSLO(2.0, 0.012), catalog=cat,
        constraints=ServeConstraints(instances=("p5.4xlarge",)), disagg=DisaggMode.AUTO, replay_rounds=2,
    )  # fmt: skip
    o = plan.disagg
    assert o is not None and o.mix is not None and o.chosen
    assert o.rounds and o.rounds[-1].meets_slo and o.status.startswith("replayed: meets")
    assert o.rounds[-1].tpot_s["p90"] <= 0.012 and o.rounds[-1].ttft_s["p90"] <= 2.0
    assert o.mix.cost_usd_per_h < plan.mix.cost_usd_per_h
    assert o.saving == pytest.approx(1.0 - o.mix.cost_usd_per_h / plan.mix.cost_usd_per_h)
    assert "saves" in o.reason
    assert [e.role for e in o.mix.prefill] == ["prefill"] and [e.role for e in o.mix.decode] == ["decode"]


def test_splitting_does_not_pay_when_one_instance_serves_it_all(cat: Catalog) -> None:
    # A split needs an instance per pool; one p5.48xlarge serves this light load aggregated.
    trace = poisson(1.0, duration_s=300, input_dist="fixed:512", output_dist="fixed:512", rng=np.random.default_rng(0))
    plan = serve(
        get_model(LONG_8B), trace, ServeSLO(2.0, 0.1), catalog=cat,
        constraints=ServeConstraints(instances=("p5.48xlarge",)), disagg=DisaggMode.AUTO, replay_rounds=1,
    )  # fmt: skip
    o = plan.disagg
    assert plan.mix.instances == {"p5.48xlarge": 1}
    assert o is not None and o.mix is not None and not o.chosen
    assert o.mix.cost_usd_per_h >= 2 * plan.mix.cost_usd_per_h
    assert "does not pay" in o.reason and o.saving is not None and o.saving < 0


def test_off_is_todays_plan(cat: Catalog) -> None:
    trace = poisson_trace()
    constraints = ServeConstraints(instances=INSTANCES)
    today = serve(get_model(LONG_8B), trace, SLO, catalog=cat, constraints=constraints, replay_rounds=1)
    off, auto = (
        serve(get_model(LONG_8B), trace, SLO, catalog=cat, constraints=constraints, replay_rounds=1, disagg=mode)
        for mode in (DisaggMode.OFF, DisaggMode.AUTO)
    )
    # (compared as JSON: a bucket a configuration cannot serve has NaN latencies, and NaN != NaN)
    assert off.disagg is None and dumps(off.mix) == dumps(today.mix) and off.rounds == today.rounds
    as_json = json.loads(dumps(off))
    assert "disagg" not in as_json
    strip = ("solve_s", "replay_s")
    assert {k: v for k, v in as_json.items() if k not in strip} == {
        k: v for k, v in json.loads(dumps(today)).items() if k not in strip
    }
    # auto plans the aggregated mix exactly as off does, and adds the split beside it
    assert dumps(auto.mix) == dumps(off.mix) and auto.disagg is not None
    assert "disagg" in json.loads(dumps(auto))


def test_the_decision_says_why() -> None:
    cost = ServeObjective.COST
    chosen, reason, status, saving = decide(DisaggMode.AUTO, cost, 100.0, True, None, "no link", ())
    assert not chosen and "no link" in reason and status.startswith(NOT_REPLAYED) and saving is None
