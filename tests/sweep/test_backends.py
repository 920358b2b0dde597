"""The same spec on local processes and on a real local Ray cluster gives identical results, point by point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.store import open_store
from chipfleet.store.points import LOST, SweepPoints
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


KILLER = 5  # tests/sweep/killer.py's KILLER


def _killer_sweep(url: str) -> dict[str, Any]:
    """Run tests/sweep/killer.py's sweep in a subprocess: a traceback or a hung driver fails here."""
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "tests" / "sweep"), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "killer", url], capture_output=True, text=True, env=env, timeout=180, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_a_point_that_kills_its_worker_is_pinned_down_and_its_neighbours_are_done(tmp_path: Path) -> None:
    """The pool breaks (maybe at a submit, after wait() returned): the sweep goes on without a traceback or a hang;
    the points in flight run again alone, so only the killer is charged deaths and stored failed (lost)."""
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    first = _killer_sweep(url)
    assert (first["done"], first["failed"]) == (11, 1)
    status, error = first["rows"][str(KILLER)]  # the one point of killer.py that kills its worker
    assert status == "failed" and error.startswith(LOST) and "died 3 times" in error
    assert all(row[0] == "done" for n, row in first["rows"].items() if n != str(KILLER))
    again = _killer_sweep(url)  # a lost point is no answer: a rerun tries it again, and only it
    assert (again["ran"], again["done"], again["failed"]) == (1, 11, 1)
