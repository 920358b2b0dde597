"""What a serving plan is asked for: SLOs and constraints refuse bad values naming the field; the planning
quantile leaves the fleet its p90."""

from __future__ import annotations

from typing import Any

import pytest

from chipfleet.exceptions import ConfigError, renamed
from chipfleet.plan.serve.spec import ServeConstraints, ServeSLO, planning_quantile


def test_planning_quantile_leaves_the_fleet_its_p90() -> None:
    assert planning_quantile(0.0) == pytest.approx(0.9)
    for s in (0.005, 0.02, 0.05):
        q = planning_quantile(s)
        assert q > 0.9
        assert s + (1.0 - s) * (1.0 - q) == pytest.approx(0.1)  # best effort + the others' tail = 10 %
    with pytest.raises(ConfigError, match="best-effort share") as err:
        planning_quantile(0.1)
    assert err.value.field == "tail_share"


def test_a_bad_slo_names_the_field_not_a_flag() -> None:
    with pytest.raises(ConfigError, match="ttft_p90_s must be a positive duration") as err:
        ServeSLO(0.0, 0.05)
    assert err.value.field == "ttft_p90_s" and "--" not in str(err.value)
    assert renamed(err.value, {"ttft_p90_s": "--slo-ttft-p90"}).startswith("--slo-ttft-p90 must be")
    with pytest.raises(ConfigError) as err:
        ServeSLO(1.0, float("nan"))
    assert err.value.field == "tpot_p90_s"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"precisions": ()}, "precisions"),
        ({"max_seqs": (0,)}, "max_seqs"),
        ({"tp": (0,)}, "tp"),
        ({"max_batch_tokens": 8}, "max_batch_tokens"),
        ({"max_instances_per_type": 0}, "max_instances_per_type"),
    ],
)
def test_bad_constraints_name_their_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        ServeConstraints(**kwargs)
    assert err.value.field == field and field in str(err.value) and "--" not in str(err.value)
