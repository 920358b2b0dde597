"""The same spec on local processes and on a real local Ray cluster gives identical results, point by point."""

from __future__ import annotations

from pathlib import Path

import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.store import open_store
from chipfleet.store.points import SweepPoints
from chipfleet.sweep import engine
from chipfleet.sweep.backends import LocalBackend, RayBackend, make_backend
from chipfleet.sweep.engine import Context
from chipfleet.sweep.spec import parse_spec

SPEC = parse_spec(
    {
        "name": "ray-vs-local",
        "axes": {
            "workload": [
                {"label": "train", "command": "estimate train", "model": "llama-3-8b", "tokens": "10B", "instances": 2},
                {
                    "label": "replay",
                    "command": "simulate serve",
                    "model": "llama-3-8b",
                    "trace": "azure-conv",
                    "requests": 300,
                    "seed": 7,
                },
            ],
            "instance": ["trn1.32xlarge", "p5.48xlarge"],
        },
        "prices": {"custom": {"instances": "trn*", "values": [0.5, 1.0]}},
        "outputs": {"cost_usd": ["footprint.cost_usd", "cost_usd"], "p90": "ttft_s.p90"},
        "keep_results": True,
    }
)


def test_make_backend_picks_local_processes_unless_an_address_is_given() -> None:
    assert isinstance(make_backend(3, None), LocalBackend) and make_backend(3, None).workers == 3
    assert isinstance(make_backend(None, "auto"), RayBackend)


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_ray_and_local_processes_store_identical_results(tmp_path: Path, ctx: Context, ray_address: str) -> None:
    spec = parse_spec(
        {
            **SPEC.model_dump(mode="json", by_alias=True),
            "axes": {
                "workload": [
                    {
                        "label": "train-trn1",
                        "command": "estimate train",
                        "model": "llama-3-8b",
                        "tokens": "10B",
                        "instances": 2,
                        "instance": "trn1.32xlarge",
                    },
                    {
                        "label": "train-p5",
                        "command": "estimate train",
                        "model": "llama-3-8b",
                        "tokens": "10B",
                        "instances": 2,
                        "instance": "p5.48xlarge",
                    },
                    {
                        "label": "replay-p5",
                        "command": "simulate serve",
                        "model": "llama-3-8b",
                        "trace": "azure-conv",
                        "requests": 300,
                        "seed": 7,
                        "fleet": "p5.48xlarge:1",
                    },
                    {
                        "label": "replay-trn1",
                        "command": "simulate serve",
                        "model": "llama-3-8b",
                        "trace": "azure-conv",
                        "requests": 300,
                        "seed": 7,
                        "fleet": "trn1.32xlarge:1",
                    },
                ]
            },
        }
    )
    local = open_store(f"sqlite:///{tmp_path / 'local.sqlite'}")
    on_ray = open_store(f"sqlite:///{tmp_path / 'ray.sqlite'}")
    a = engine.run(spec, ctx, local, LocalBackend(2))
    b = engine.run(spec, ctx, on_ray, RayBackend(ray_address))
    assert a.sweep_id == b.sweep_id and (a.done, b.done) == (8, 8) and (a.failed, b.failed) == (0, 0)
    pa = {p.point_id: p for p in SweepPoints(local).points(a.sweep_id, with_result=True)}
    pb = {p.point_id: p for p in SweepPoints(on_ray).points(b.sweep_id, with_result=True)}
    assert set(pa) == set(pb) and len(pa) == 8
    for pid, p in pa.items():
        assert p.outputs == pb[pid].outputs and p.result == pb[pid].result  # the whole JSON, bit for bit
    assert on_ray.get(b.sweep_id).outputs["backend"] == "ray"
    # the replayed points' prices moved with the multiplier on Ray too
    costs = {
        (p.inputs["coords"]["workload"], p.inputs["coords"]["prices.custom"]): p.outputs["cost_usd"]
        for p in pb.values()
    }
    assert costs[("train-trn1", 0.5)] == pytest.approx(costs[("train-trn1", 1.0)] / 2)
    assert costs[("train-p5", 0.5)] == costs[("train-p5", 1.0)]


def test_an_unreachable_ray_cluster_is_a_clear_error() -> None:
    import ray

    if ray.is_initialized():
        pytest.skip("a Ray session is already open in this process")
    with pytest.raises(ConfigError, match=r"cannot connect to the Ray cluster at '127\.0\.0\.1:1'"):
        RayBackend("127.0.0.1:1")._connect()
