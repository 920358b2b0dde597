"""Configurations and their capacities: what cannot be served, and why, in the library's terms."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError, InfeasibleServeError, UnknownNameError
from chipfleet.plan.serve import serve
from chipfleet.plan.serve.buckets import bucketize
from chipfleet.plan.serve.capacity import deployments
from chipfleet.plan.serve.spec import ServeConstraints, ServeSLO
from chipfleet.serialize import to_jsonable
from chipfleet.workloads import get_model

from .fleets import INSTANCES, LONG_8B, SLO, poisson_trace


def test_deployments_hold_the_model_and_serve_some_bucket(cat: Catalog) -> None:
    model, trace = get_model("llama-3-8b"), poisson_trace(duration_s=60.0, max_prompt=4000)
    buckets = bucketize(trace)
    deps = deployments(model, buckets, SLO, cat, ServeConstraints(instances=("g6e.xlarge",)))
    assert deps and all(d.instance == "g6e.xlarge" and d.kv_capacity_tokens > 0 for d in deps)
    for d in deps:
        assert len(d.capacity_per_replica) == len(buckets) and any(c > 0 for c in d.capacity_per_replica)
        assert all(be >= c for be, c in zip(d.best_effort_capacity, d.capacity_per_replica, strict=True))
    d = to_jsonable(deps[0])  # a configuration in JSON: its attribute names
    assert d["max_seqs"] == deps[0].max_seqs and d["precision"] == "bf16" and d["pricing"] == "on-demand"
    assert d["capacity_per_replica"] == list(deps[0].capacity_per_replica)


def test_infeasible_slo_names_the_bucket(cat: Catalog) -> None:
    with pytest.raises(InfeasibleServeError) as err:
        serve(
            get_model(LONG_8B), poisson_trace(), ServeSLO(0.01, 0.06), catalog=cat,
            constraints=ServeConstraints(instances=INSTANCES), replay_rounds=0,
        )  # fmt: skip
    text = str(err.value)
    assert "bucket in " in text and "best p90 TTFT is" in text and "against 0.01 s" in text
    assert "max=" in text and "best effort" in text  # the length cap and the fleet's allowance are named
    assert "Relax the SLOs (ttft_p90_s, tpot_p90_s)" in text and "--" not in text
    assert err.value.buckets and all(label.startswith("in ") for label in err.value.buckets)


def test_a_tp_no_instance_can_run_names_the_chip_counts(cat: Catalog) -> None:
    """tp 30: no instance has 30 chips (or a multiple); the error says so, with the chip counts and the degrees
    that work, instead of 'rejected: none matched'."""
    c = ServeConstraints(instances=("p5.48xlarge", "inf2.48xlarge"), tp=(30,))
    with pytest.raises(InfeasibleServeError) as err:
        serve(get_model("llama-3-8b"), poisson_trace(duration_s=30.0), SLO, catalog=cat, constraints=c, replay_rounds=0)
    text = str(err.value)
    assert "none matched" not in text and "at tp 30" in text
    assert "the allowed instances have 8, 12 chips" in text and "32 query heads" in text
    assert "8 (p5.48xlarge)" in text and "12 (inf2.48xlarge)" in text and "3 (inf2.48xlarge)" in text
    assert "leave tp empty" in text and "--" not in text
    # 3 divides inf2.48xlarge's 12 chips (Neuron pads the heads), so it is planned there and not refused
    plan = serve(get_model("llama-3-8b"), poisson_trace(duration_s=30.0, max_prompt=4000), SLO, catalog=cat,
                 constraints=replace(c, tp=(3,)), replay_rounds=0)  # fmt: skip
    assert {(e.deployment.instance, e.deployment.tp) for e in plan.mix.entries} == {("inf2.48xlarge", 3)}


def test_nothing_allowed_is_a_clear_error(cat: Catalog) -> None:
    with pytest.raises(InfeasibleServeError, match="no allowed instance type can hold llama-3-70b") as err:
        serve(get_model("llama-3-70b"), poisson_trace(), SLO, catalog=cat,
              constraints=ServeConstraints(instances=("inf2.xlarge",)), replay_rounds=0)  # fmt: skip
    assert "check the constraints' instances, clouds, region, pricing, precisions" in str(err.value)
    with pytest.raises(InfeasibleServeError, match=r"model does not fit at that tp: \d+"):
        serve(get_model("llama-3-70b"), poisson_trace(), SLO, catalog=cat,
              constraints=ServeConstraints(instances=("inf2.xlarge",)), replay_rounds=0)  # fmt: skip
    with pytest.raises(UnknownNameError, match=r"Did you mean g6e\.xlarge"):
        serve(get_model("llama-3-8b"), poisson_trace(), SLO, catalog=cat,
              constraints=ServeConstraints(instances=("g6e.xlarg",)))  # fmt: skip
    with pytest.raises(ConfigError, match="ttft_p90_s"):
        ServeSLO(0.0, 0.05)
