"""Sweeps on local worker processes into a real run store (SQLite file and PostgreSQL): every point stored once as
it finishes, resumed by running the same spec again, refused points kept as failed, a killed worker loses nothing."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.store import open_store
from chipfleet.store.points import SweepPoints
from chipfleet.sweep import engine
from chipfleet.sweep.backends import LocalBackend
from chipfleet.sweep.engine import Context
from chipfleet.sweep.points import points
from chipfleet.sweep.spec import parse_spec
from chipfleet.sweep.worker import Task, execute

TRAIN: dict[str, Any] = {
    "name": "train",
    "command": "estimate train",
    "fixed": {"model": "llama-3-8b", "tokens": "10B"},
    "axes": {"instance": ["trn1.32xlarge", "p5.48xlarge"], "instances": [1, 2, 4]},
    "prices": {"custom": {"instances": "trn*", "values": [0.5, 1.0]}},
    "outputs": {"cost_usd": "footprint.cost_usd", "time_s": "footprint.time_s", "tp": "step.parallelism.tp"},
}


def test_every_point_is_stored_once_with_the_answer_a_direct_run_gives_and_a_rerun_resumes(
    store_url: str, ctx: Context
) -> None:
    spec = parse_spec(TRAIN)
    store = open_store(store_url)
    first = engine.run(spec, ctx, store, LocalBackend(2))
    assert (first.points, first.ran, first.skipped, first.done, first.failed) == (12, 12, 0, 12, 0)
    table = SweepPoints(store)
    stored = {p.point_id: p for p in table.points(first.sweep_id)}
    assert set(stored) == {p.point_id for p in points(spec)}
    for p in points(spec):
        direct = execute(ctx.runner, ctx.catalog, Task(p, spec.outputs, False))
        assert stored[p.point_id].outputs == direct.outputs and stored[p.point_id].status == "done"
        assert stored[p.point_id].inputs["coords"] == p.coords
    record = store.get(first.sweep_id)
    assert (record.kind, record.status, record.source, record.progress) == ("sweep", "done", "sweep", 1.0)
    assert record.outputs["done"] == 12 and record.inputs["spec"]["name"] == "train"
    again = engine.run(spec, ctx, store, LocalBackend(2))
    assert (again.sweep_id, again.ran, again.skipped, again.done) == (first.sweep_id, 0, 12, 12)
    assert table.count(first.sweep_id) == 12
    store.close()


def test_price_multipliers_scale_the_matching_instances_prices_only(tmp_path: Path, ctx: Context) -> None:
    spec = parse_spec(TRAIN)
    store = open_store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    sid = engine.run(spec, ctx, store, LocalBackend(1)).sweep_id
    cost = {
        (
            p.inputs["coords"]["instance"],
            p.inputs["coords"]["instances"],
            p.inputs["coords"]["prices.custom"],
        ): p.outputs["cost_usd"]
        for p in SweepPoints(store).points(sid)
        if p.outputs
    }
    for n in (1, 2, 4):
        assert cost[("trn1.32xlarge", n, 0.5)] == pytest.approx(cost[("trn1.32xlarge", n, 1.0)] / 2, rel=1e-12)
        assert cost[("p5.48xlarge", n, 0.5)] == cost[("p5.48xlarge", n, 1.0)]


def test_a_point_the_command_refuses_is_stored_failed_with_its_error(tmp_path: Path, ctx: Context) -> None:
    spec = parse_spec(
        {
            **TRAIN,
            "fixed": {"tokens": "10B", "instances": 1},
            "prices": {},
            "axes": {"model": ["llama-3-8b", "llama-3.1-405b"], "instance": ["p5.48xlarge"]},
        }
    )
    store = open_store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    result = engine.run(spec, ctx, store, LocalBackend(1))
    rows = {p.inputs["coords"]["model"]: p for p in SweepPoints(store).points(result.sweep_id)}
    assert rows["llama-3.1-405b"].status == "failed" and "DoesNotFitError" in (rows["llama-3.1-405b"].error or "")
    assert rows["llama-3.1-405b"].outputs is None
    assert result.failed == 1 and store.get(result.sweep_id).outputs["failures"] == {"DoesNotFitError": 1}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"axes": {"instance": ["p5.48xlarge"], "instances": [1, 0]}},
            r"instances=0, .*'--instances': must be at least 1",
        ),
        ({"axes": {"instance": ["p5.48xlarge"], "tokenz": [1]}}, r"`estimate train` has no option 'tokenz'"),
        (
            {"outputs": {"cost": "footprint.costs"}},
            r"outputs.cost: not in the result of `estimate train`: .*no key 'costs'",
        ),
    ],
)
def test_a_bad_value_or_output_path_is_refused_before_any_point_runs(
    tmp_path: Path, ctx: Context, change: dict[str, Any], message: str
) -> None:
    spec = parse_spec({**TRAIN, **change})
    store = open_store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    with pytest.raises(ConfigError, match=message):
        engine.run(spec, ctx, store, LocalBackend(1))
    assert SweepPoints(store).sweeps() == [] and store.list() == []  # no sweep run is left behind "running"


def test_a_dry_run_counts_points_and_estimates_time_from_a_few_timed_here(tmp_path: Path, ctx: Context) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    plan = engine.dry_run(parse_spec(TRAIN), ctx, store, 2, "local")
    assert plan["points"] == 12 and plan["to_run"] == 12 and plan["stored"] == 0 and plan["sample_points"] >= 3
    assert plan["estimated_s"] == pytest.approx(12 * plan["point_s"] / 2)
    assert plan["axes"] == {"instance": 2, "instances": 3, "prices.custom": 2}
    assert SweepPoints(store).sweeps() == []  # nothing stored


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_loses_no_point_and_stores_none_twice(tmp_path: Path, ctx: Context) -> None:
    spec = parse_spec(
        {
            "name": "kill-worker",
            "command": "simulate serve",
            "fixed": {"model": "llama-3-8b", "fleet": "p5.48xlarge:1", "trace": "azure-conv", "requests": 1500},
            "axes": {"seed": list(range(24))},
            "outputs": {"p90": "ttft_s.p90"},
        }
    )
    store = open_store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    sid = engine.sweep_id(spec, ctx.catalog_hash)
    killed: list[int] = []

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            try:
                if SweepPoints(store).count(sid) >= 3:
                    workers = [w for fs in _children(os.getpid()) for w in _children(fs)]
                    if workers:
                        os.kill(workers[0], signal.SIGKILL)
                        killed.append(workers[0])
            except Exception:  # the sweep's run may not be there yet
                pass
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    result = engine.run(spec, ctx, store, LocalBackend(2))
    killer.join()
    assert killed, "no worker was killed (the sweep ended first?)"
    assert (result.done, result.failed) == (24, 0)
    assert sorted(p.inputs["coords"]["seed"] for p in SweepPoints(store).points(sid)) == list(range(24))


def _sweep_in_a_daemon(url: str, spec_data: dict[str, Any]) -> None:
    from chipfleet.catalog import content_hash, load_catalog
    from chipfleet.catalog.fingerprint import overlays
    from chipfleet.cli.sweep import POINTS

    cat = load_catalog(use_env=False)
    ctx = Context(cat, content_hash(cat), overlays(cat), POINTS)
    engine.run(parse_spec(spec_data), ctx, open_store(url), LocalBackend(2))


@pytest.mark.slow
def test_a_sweep_in_a_daemonic_process_runs_its_points_itself(tmp_path: Path) -> None:
    """An API job's worker is daemonic and may not start processes: the local backend runs the points in it."""
    import multiprocessing

    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    proc = multiprocessing.get_context("spawn").Process(target=_sweep_in_a_daemon, args=(url, TRAIN), daemon=True)
    proc.start()
    proc.join(300)
    assert proc.exitcode == 0
    store = open_store(url)
    [sid] = SweepPoints(store).sweeps()
    assert SweepPoints(store).count(sid, status="done") == 12 and store.get(sid).status == "done"
