"""The event kernel: seeds and times it refuses."""

from __future__ import annotations

import math

import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.workloads import get_model

MODEL = get_model("llama-3-8b")


@pytest.mark.parametrize("seed", [-3, 1.5, True])
def test_a_simulation_seed_is_a_whole_number_0_or_more(seed: object) -> None:
    from chipfleet.sim.kernel import Simulation

    with pytest.raises(ConfigError, match="seed"):
        Simulation(seed=seed)  # type: ignore[arg-type]


def test_the_kernel_refuses_a_nan_time() -> None:
    from chipfleet.sim.kernel import Simulation

    sim = Simulation()
    with pytest.raises(ValueError, match="not a number"):
        sim.schedule(math.nan, lambda: None)
