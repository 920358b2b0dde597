"""The public serving planner end to end: replay, the fleet-level p90, requests left out, hourly plans, the plan
in JSON and its summary."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError, InfeasibleServeError
from chipfleet.plan.serve.milp import solve_mix
from chipfleet.plan.serve.plan import DEFAULT_STARTUP_S, HourlyPlan, serve
from chipfleet.plan.serve.spec import TAIL_SHARE, ServeConstraints
from chipfleet.report.serve_plan import summary_lines
from chipfleet.serialize import dumps, to_jsonable
from chipfleet.traces import RequestTrace
from chipfleet.workloads import get_model

from .fleets import INSTANCES, LONG_8B, SLO, buckets_at, deployment, poisson_trace, tail_trace


def test_plan_end_to_end(cat: Catalog) -> None:
    trace = poisson_trace()
    said: list[str] = []
    plan = serve(
        get_model(LONG_8B), trace, SLO, catalog=cat, constraints=ServeConstraints(instances=INSTANCES),
        per_hour=True, progress=said.append,
    )  # fmt: skip
    for stage in ("bucketing", "capacities", "solving the mix", "replay round 1", "single instance type", "hour 23"):
        assert any(stage in line for line in said), stage
    assert plan.mix.entries and set(plan.mix.instances) <= set(INSTANCES)
    assert plan.rounds and plan.meets_slo
    assert plan.replay is not None and plan.replay.completed == len(trace)
    assert plan.replay.ttft_s["p90"] <= SLO.ttft_p90_s and plan.replay.tpot_s["p90"] <= SLO.tpot_p90_s
    assert plan.single is not None and plan.savings is not None and plan.savings >= -1e-9
    for shares in plan.mix.routing().values():
        assert sum(shares.values()) == pytest.approx(1.0)
    assert plan.mix.usd_per_million_output_tokens > 0 and plan.mix.j_per_output_token > 0
    hourly = plan.hourly
    assert hourly is not None and len(hourly.mixes) == 24
    assert all(m.cost_usd_per_h <= hourly.static.cost_usd_per_h + 1e-9 for m in hourly.mixes)
    assert hourly.autoscaled_usd_per_day <= hourly.static_usd_per_day and 0 <= hourly.savings < 1
    assert hourly.startup_s == DEFAULT_STARTUP_S and "AWS" in hourly.startup_source
    assert hourly.churn_usd_per_day >= 0  # the unit test below has churn; this small fleet may not
    d = json.loads(dumps(plan))
    assert d["hourly"]["churn_usd_per_day"] == pytest.approx(hourly.churn_usd_per_day)
    assert d["meets_slo"] is True and d["savings"] == pytest.approx(plan.savings)
    assert d["design_factor"] == plan.design_factor and d["deployments"] == plan.deployments
    assert d["single"]["fleet"] == plan.single.describe() and d["mix"]["fleet"] == plan.mix.describe()
    assert d["slo"] == {"ttft_p90_s": 1.0, "tpot_p90_s": 0.06} and d["objective"] == "cost"
    assert len(d["buckets"]) == len(plan.buckets) and len(d["rounds"]) == len(plan.rounds)
    assert d["replay"]["ttft_s"]["p90"] == pytest.approx(plan.replay.ttft_s["p90"])
    assert sum(sum(s.values()) for s in d["mix"]["routing_by_bucket"].values()) == pytest.approx(len(d["buckets"]))


def test_one_long_prompt_does_not_set_the_fleet(cat: Catalog) -> None:
    """Issue 10: one 8k–16k prompt among ~900 turned a cheap plan into one large instance, because every
    bucket had to meet the p90 SLOs on its own; the replay judges the fleet's p90, and so does the plan."""
    model, c = get_model(LONG_8B), ServeConstraints(instances=INSTANCES)
    base = serve(model, poisson_trace(max_prompt=4000), SLO, catalog=cat, constraints=c, replay_rounds=2)
    tail = serve(model, tail_trace(12000), SLO, catalog=cat, constraints=c, replay_rounds=2)
    strict = serve(model, tail_trace(12000), SLO, catalog=cat, constraints=c, replay_rounds=2, strict=True)
    assert strict.mix.cost_usd_per_h > 1.5 * base.mix.cost_usd_per_h  # the per-bucket rule: the tail sets it
    assert tail.mix.cost_usd_per_h <= base.mix.cost_usd_per_h * 1.25
    assert 0.0 < tail.mix.best_effort_share <= TAIL_SHARE + 1e-6 and not strict.mix.best_effort_share
    assert tail.meets_slo and tail.replay is not None  # judged as before: the fleet's p90 over all requests
    assert tail.replay.ttft_s["p90"] <= SLO.ttft_p90_s and tail.replay.tpot_s["p90"] <= SLO.tpot_p90_s
    assert tail.replay.completed == len(tail_trace(12000))
    d = json.loads(dumps(tail))
    assert d["mix"]["best_effort_buckets"] and d["tail_share"] == TAIL_SHARE
    assert d["mix"]["best_effort_share"] == pytest.approx(tail.mix.best_effort_share)


def test_requests_no_replica_holds_are_left_out_and_reported(cat: Catalog) -> None:
    model, c = get_model(LONG_8B), ServeConstraints(instances=("g5.xlarge", "inf2.xlarge"))
    trace = tail_trace(125_000, count=3)  # within the 128k context window, longer than these KV caches (≤ 121k)
    plan = serve(model, trace, SLO, catalog=cat, constraints=c, replay_rounds=1)
    x = plan.excluded
    assert x is not None and x.requests == 3 and x.share == pytest.approx(3 / len(trace))
    assert x.longest_tokens > x.kv_limit_tokens and "KV cache" in x.reason and "--" not in x.reason
    assert x.beyond_context == 0 and "context window" not in x.reason
    assert plan.requests == len(trace) and plan.replay is not None and plan.replay.completed == len(trace) - 3
    assert plan.replay.rejected == 0
    assert to_jsonable(plan)["excluded"]["requests"] == 3
    with pytest.raises(InfeasibleServeError, match="fits no replica's KV cache"):
        serve(model, trace, SLO, catalog=cat, constraints=c, replay_rounds=0, strict=True)


def test_requests_beyond_the_context_window_are_left_out(cat: Catalog) -> None:
    """Llama 3 8B reads at most 8,192 tokens of prompt and output: longer requests are reported and left out
    (no server admits them), whatever the KV cache could hold; strict refuses to plan without them."""
    model, c = get_model("llama-3-8b"), ServeConstraints(instances=INSTANCES)
    assert model.max_position_embeddings == 8192
    trace = tail_trace(12_000, count=3)
    plan = serve(model, trace, SLO, catalog=cat, constraints=c, replay_rounds=1)
    x = plan.excluded
    assert x is not None and x.requests == x.beyond_context == 3 and x.context_window_tokens == 8192
    assert x.longest_tokens > 12_000 and "3 longer than the model's context window" in x.reason
    assert x.kv_limit_tokens > 12_000  # a KV cache holds them: the window, not memory, leaves them out
    assert plan.replay is not None and plan.replay.requests == len(trace) - 3 and plan.replay.rejected == 0
    assert plan.requests == len(trace) and to_jsonable(plan)["excluded"]["beyond_context"] == 3
    assert any("Left out of the plan: 3 requests" in line and "context window" in line for line in summary_lines(plan))
    with pytest.raises(
        InfeasibleServeError, match=r"3 of \d+ requests are longer than llama-3-8b's context window"
    ) as err:
        serve(model, trace, SLO, catalog=cat, constraints=c, replay_rounds=0, strict=True)
    assert err.value.field == "strict" and "strict plans every request" in str(err.value)
    assert "context window, or leave these requests out" in str(err.value)
    every = RequestTrace("long", trace.arrival_s[:5], np.full(5, 9000), trace.output_tokens[:5])
    with pytest.raises(InfeasibleServeError, match="fewer than 2 would be left"):
        serve(model, every, SLO, catalog=cat, constraints=c, replay_rounds=0)


def test_bad_arguments_name_their_parameter(cat: Catalog) -> None:
    model, trace = get_model("llama-3-8b"), poisson_trace(duration_s=30.0)
    with pytest.raises(ConfigError, match="replay_rounds must be 0") as err:
        serve(model, trace, SLO, catalog=cat, replay_rounds=-1)
    assert err.value.field == "replay_rounds"
    with pytest.raises(ConfigError, match="startup_s must be a duration") as err:
        serve(model, trace, SLO, catalog=cat, startup_s=-1.0)
    assert err.value.field == "startup_s"


def test_length_caps_are_in_the_help() -> None:
    from typer.testing import CliRunner

    from chipfleet.cli import app

    out = CliRunner().invoke(app, ["plan", "serve", "--help"], env={"COLUMNS": "240", "TERM": "dumb"}).output
    assert "max=" in out and "--strict" in out and "--startup-time" in out
    assert "max=8k" in out and "uniform:128,2k" in out  # the token forms read k = 1024 (chipfleet.units)


def test_hourly_autoscaling_counts_the_churn_of_starting_instances() -> None:
    deps = [deployment("a", 2.0, [4.0]), deployment("b", 5.0, [12.0])]
    buckets = buckets_at([10.0])
    multipliers = (0.2, 1.0, 0.5)
    mixes = []
    for m in multipliers:
        mix = solve_mix(deps, buckets, rate_scale=m)
        assert mix is not None
        mixes.append(mix)
    free = HourlyPlan(multipliers, "given", tuple(mixes), mixes[1])
    billed = HourlyPlan(multipliers, "given", tuple(mixes), mixes[1], startup_s=1800.0)
    assert free.churn_usd_per_day == 0.0
    expected = 0.0
    for h, mix in enumerate(mixes):  # the day repeats: hour 0 follows the last hour
        before = mixes[h - 1].instances
        for e in mix.entries:
            grown = e.count - before.get(e.deployment.instance, 0)
            expected += max(0, grown) * e.deployment.price_usd_per_h * 0.5
    assert expected > 0 and billed.churn_usd_per_day == pytest.approx(expected)
    assert billed.autoscaled_usd_per_day == pytest.approx(billed.instance_usd_per_day + expected)
    assert billed.savings < free.savings
    d = to_jsonable(billed)
    assert d["churn_usd_per_day"] == pytest.approx(expected) and d["startup_s"] == 1800.0
    assert "mixes" not in d and d["static"]["fleet"] == mixes[1].describe()  # the hours in brief, not 3 mixes
    assert [h["fleet"] for h in d["hours"]] == [m.describe() for m in mixes]
    assert sum(sum(h["instances_started"].values()) for h in d["hours"]) == d["instances_started_per_day"] > 0


def test_summary_says_one_type_is_the_plan_instead_of_a_zero_saving(cat: Catalog) -> None:
    """When one instance type is the plan, the summary says so (and what the mixed alternative cost), never
    'the mix saves 0.0 %'."""
    model = get_model("llama-3-8b")
    c = ServeConstraints(instances=("inf2.48xlarge",))
    alone = serve(model, poisson_trace(duration_s=60.0, max_prompt=4000), SLO, catalog=cat, constraints=c,
                  replay_rounds=1)  # fmt: skip
    text = " ".join(summary_lines(alone))
    assert alone.one_type and "saves" not in text
    assert f"One instance type is the plan: {alone.mix.describe()}" in text and "no mix of instance types" in text

    mixed = serve(get_model(LONG_8B), poisson_trace(rate=5.0, duration_s=120.0), SLO, catalog=cat,
                  constraints=ServeConstraints(instances=INSTANCES), replay_rounds=1)  # fmt: skip
    assert mixed.single is not None and mixed.rounds[-1].meets_slo and not mixed.one_type
    assert not mixed.chose_single and mixed.mixed_alternative is None
    assert "the mix saves" in " ".join(summary_lines(mixed))  # a mix of types: its saving is the sentence
    # the replayed single type beat the mix: it is the plan, and the set-aside mix's cost is given
    chosen = replace(mixed, mix=mixed.single, chose_single=True, mixed_alternative=mixed.mix)
    text = " ".join(summary_lines(chosen))
    assert "saves" not in text and "One instance type is the plan" in text and "came out cheaper" in text
    assert f"the mixed alternative, {mixed.mix.describe()}, cost ${mixed.mix.cost_usd_per_h:,.2f}/h" in text
    d = json.loads(dumps(chosen))
    assert d["mixed_alternative"]["cost_usd_per_h"] == pytest.approx(mixed.mix.cost_usd_per_h)
    assert d["chose_single"] is True and d["one_type"] is True
