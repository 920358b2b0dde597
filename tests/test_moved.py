"""The module paths issue 11 moved still import for one release, with a DeprecationWarning naming the new one."""

from __future__ import annotations

import importlib
import sys

import pytest

MOVED = {
    "chipfleet.plan.serving": "chipfleet.plan.serve",
    "chipfleet.plan.trainer": "chipfleet.plan.train",
    "chipfleet.plan.spot": "chipfleet.economics.spot",
    "chipfleet.sim.serve": "chipfleet.sim.serving",
    "chipfleet.sim.routers": "chipfleet.sim.serving",
    "chipfleet.sim.cluster": "chipfleet.sim.training",
    "chipfleet.sim.policies": "chipfleet.sim.training",
    "chipfleet.sim.throughput": "chipfleet.sim.training",
    "chipfleet.validate.local_model": "chipfleet.validate.local.model",
}


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_old_path_warns_and_exposes_the_new_public_names(old: str, new: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        mod = importlib.import_module(old)
    target = importlib.import_module(new)
    public = getattr(target, "__all__", [n for n in vars(target) if not n.startswith("_")])
    assert public and all(getattr(mod, n) is getattr(target, n) for n in public)
