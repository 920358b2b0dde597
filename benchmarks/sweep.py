"""Sweep benchmark: memory, per-point overhead, scaling, Ray against local processes, and resume after kills.

Every figure comes from real `chipfleet sweep` drivers (subprocesses, each with a fresh SQLite run store in a temporary
folder) running real chipfleet commands:

1. **Memory flat**: the driver's peak RSS for 100 and for 10,000 cheap points (`estimate serve`, ~1-5 ms each): the
   results stream to the store, so the larger sweep must use no more memory (target: ratio ≤ ~1.1).
2. **Overhead per point** on the local backend for ~1 s points (`simulate serve` of N requests of a shipped trace):
   the sweep's wall time on 1 worker against the sum of its points' own times (target ≤ 5 %), with the start-up of
   the worker pool shown apart; and the same points run one after another in this process, without the sweep.
3. **Scaling** from 1 to 2 workers on those CPU-bound points (target ≥ 1.8× on a 2-core machine; both cores must
   be free: the 1-minute load average is printed with each figure).
4. **Ray**: the same spec on a real local Ray cluster (scripts/ray.sh, 2 CPUs) gives identical results (the whole
   JSON of every point), and points/s against the number of workers, local and Ray.
5. **Resume**: a sweep whose driver is killed (SIGKILL, with its workers) at 10 random moments, then run to the end:
   every point stored exactly once.

Run: ``.venv/bin/python benchmarks/sweep.py`` (``--quick`` for a smaller run; ``--no-ray`` without Ray).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from chipfleet.cli import run; run()"]


def load() -> str:
    return open("/proc/loadavg").read().split()[0] if Path("/proc/loadavg").exists() else "?"


def write_spec(folder: Path, name: str, spec: dict[str, Any]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def sweep(spec: Path, db: Path, *args: str, timeout: float = 1800) -> dict[str, Any]:
    env = {**os.environ, "CHIPFLEET_DB": f"sqlite:///{db}"}
    done = subprocess.run(
        [*CLI, "sweep", str(spec), *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"sweep {spec.name} failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def stored(db: Path, sweep_id: str, *, with_result: bool = False) -> list[Any]:
    from chipfleet.store import open_store
    from chipfleet.store.points import SweepPoints

    store = open_store(f"sqlite:///{db}")
    try:
        return list(SweepPoints(store).points(sweep_id, with_result=with_result))
    finally:
        store.close()


def cheap_spec(n_side: int) -> dict[str, Any]:
    return {
        "name": f"cheap-{n_side * n_side}",
        "command": "estimate serve",
        "fixed": {"model": "llama-3-8b", "instance": "p5.48xlarge"},
        "axes": {
            "batch": {"from": 1, "to": n_side, "num": n_side, "integer": True},
            "output_tokens": {"from": 16, "to": 16 * n_side, "num": n_side, "integer": True},
        },
        "outputs": {"usd_per_mtok": "cost_usd_per_million_tokens", "tpot_s": "result.tpot_s"},
    }


def replay_spec(n: int, requests: int, keep: bool = False) -> dict[str, Any]:
    return {
        "name": f"replay-{n}x{requests}",
        "command": "simulate serve",
        "fixed": {"model": "llama-3-8b", "fleet": "p5.48xlarge:1", "trace": "azure-conv", "requests": requests},
        "axes": {"seed": {"from": 0, "to": n - 1, "num": n, "integer": True}},
        "outputs": {"ttft_p90_s": "ttft_s.p90", "cost_usd": "cost_usd"},
        "keep_results": keep,
    }


def memory(tmp: Path, big_side: int) -> None:
    print(f"\n== 1. memory: driver peak RSS, 100 against {big_side * big_side:,} cheap points (load {load()})")
    for side in (10, big_side):
        spec = write_spec(tmp, f"cheap{side}", cheap_spec(side))
        t = time.perf_counter()
        out = sweep(spec, tmp / f"cheap{side}.sqlite", "--workers", "2")
        wall = time.perf_counter() - t
        print(
            f"  {out['points']:>6,} points: driver peak RSS {out['driver_peak_rss_mb']:.1f} MB, {out['done']} done, "
            f"{out['points_per_s']:.0f} points/s, {wall:.1f} s with start-up"
        )
        if side == 10:
            small = out["driver_peak_rss_mb"]
        else:
            print(f"  ratio {out['driver_peak_rss_mb'] / small:.3f} (target ≤ ~1.1: memory flat)")


def in_process(spec: dict[str, Any]) -> float:
    """The points of ``spec`` run one after another in this process (after one warm-up): the work without a sweep."""
    from chipfleet.catalog import load_catalog
    from chipfleet.cli.sweep import POINTS
    from chipfleet.sweep.points import points
    from chipfleet.sweep.spec import parse_spec

    cat = load_catalog()
    pts = list(points(parse_spec(spec)))
    POINTS.run(pts[0].command, pts[0].options, cat)
    t = time.perf_counter()
    for p in pts:
        POINTS.run(p.command, p.options, cat)
    return time.perf_counter() - t


def _timed(tmp: Path, name: str, spec: dict[str, Any], workers: int) -> tuple[float, float, float]:
    """A sweep's wall time (driver's own clock, pool start-up included), its points' own time, its points/s."""
    db = tmp / f"{name}.sqlite"
    out = sweep(write_spec(tmp, name, spec), db, "--workers", str(workers))
    work = sum(p.wall_s for p in stored(db, out["sweep_id"]))
    return float(out["wall_s"]), work, float(out["points_per_s"])


def overhead_and_scaling(tmp: Path, n: int, requests: int) -> None:
    print(f"\n== 2-3. overhead and scaling: `simulate serve` points on {requests:,} requests (load {load()})")
    serial = in_process(replay_spec(n, requests))
    print(f"  {n} points in this process, one after another, no sweep: {serial:.2f} s ({serial / n:.2f} s a point)")
    half = n // 2
    la = load()
    w_half, work_half, _ = _timed(tmp, "replay-half", replay_spec(half, requests), 1)
    w_full, work_full, pps1 = _timed(tmp, "replay-w1", replay_spec(n, requests), 1)
    print(f"  1 worker, {half} points: wall {w_half:.2f} s, points' own time {work_half:.2f} s (load before: {la})")
    print(f"  1 worker, {n} points: wall {w_full:.2f} s, points' own time {work_full:.2f} s, {pps1:.2f} points/s")
    marginal_wall = (w_full - w_half) / (n - half)
    marginal_work = (work_full - work_half) / (n - half)
    fixed = w_full - n * marginal_wall
    print(
        f"  per point: {marginal_wall:.3f} s of wall for {marginal_work:.3f} s of work: overhead "
        f"{(marginal_wall - marginal_work) * 1000:.0f} ms = {(marginal_wall / marginal_work - 1):.1%} of the work "
        f"(target ≤ 5 %); fixed start-up (worker pool, first sample) {fixed:.2f} s; whole sweep "
        f"{(w_full / work_full - 1):.1%} over its points' time"
    )
    la = load()
    w2, work2, pps2 = _timed(tmp, "replay-w2", replay_spec(n, requests), 2)
    print(
        f"  2 workers, {n} points: wall {w2:.2f} s, points' own time {work2:.2f} s, {pps2:.2f} points/s "
        f"(load before: {la})"
    )
    print(f"  scaling 1 → 2 workers: {w_full / w2:.2f}x (target ≥ 1.8x; needs both cores free)")


def ray_checks(tmp: Path, n: int, requests: int) -> None:
    print(f"\n== 4. Ray: identical results and points/s against workers (load {load()})")
    env = {**os.environ, "CHIPFLEET_RAY_PORT": "63880", "CHIPFLEET_RAY_DIR": str(tmp / "ray")}
    t = time.perf_counter()
    started = subprocess.run(
        [str(ROOT / "scripts" / "ray.sh"), "start"], env=env, capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        print(f"  Ray did not start: {started.stderr[-500:]}")
        return
    address = started.stdout.strip().splitlines()[-1]
    print(f"  local Ray head (2 CPUs) at {address}, started in {time.perf_counter() - t:.1f} s")
    try:
        spec = write_spec(tmp, "ray-same", replay_spec(n, requests, keep=True))
        local = sweep(spec, tmp / "local-same.sqlite", "--workers", "2")
        ray = sweep(spec, tmp / "ray-same.sqlite", "--address", address)
        a = {p.point_id: p.result for p in stored(tmp / "local-same.sqlite", local["sweep_id"], with_result=True)}
        b = {p.point_id: p.result for p in stored(tmp / "ray-same.sqlite", ray["sweep_id"], with_result=True)}
        same = sum(a[k] == b.get(k) for k in a)
        print(
            f"  {len(a)} points: {same} identical on Ray and on local processes (whole JSON); "
            f"{'IDENTICAL' if same == len(a) == len(b) else 'DIFFERENT'}"
        )
        print("  points/s against workers (same spec):")
        for label, args in (
            ("local, 1 worker", ["--workers", "1"]),
            ("local, 2 workers", ["--workers", "2"]),
            ("Ray, 2 CPUs", ["--address", address]),
        ):
            out = sweep(spec, tmp / f"pps-{label.replace(' ', '').replace(',', '')}.sqlite", *args)
            print(f"    {label:<18} {out['points_per_s']:.2f} points/s (wall {out['wall_s']:.2f} s, load {load()})")
    finally:
        subprocess.run([str(ROOT / "scripts" / "ray.sh"), "stop"], env=env, capture_output=True, check=False)


def resume(tmp: Path, kills: int, n: int, requests: int) -> None:
    print(f"\n== 5. resume: the driver killed (SIGKILL) at {kills} random moments, then run to the end (load {load()})")
    spec = write_spec(tmp, "kill", replay_spec(n, requests))
    db = tmp / "kill.sqlite"
    env = {**os.environ, "CHIPFLEET_DB": f"sqlite:///{db}"}
    rng = random.Random(2026)
    done_kills = 0
    counts = []
    for _ in range(kills):
        proc = subprocess.Popen(
            [*CLI, "sweep", str(spec), "--workers", "2", "--json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(1.0, 3.0))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            done_kills += 1
        proc.wait()
        from chipfleet.store import open_store
        from chipfleet.store.points import SweepPoints

        store = open_store(f"sqlite:///{db}")
        ids = SweepPoints(store).sweeps()
        counts.append(SweepPoints(store).count(ids[0]) if ids else 0)
        store.close()
    final = sweep(spec, db, "--workers", "2")
    rows = stored(db, final["sweep_id"])
    ids = [r.point_id for r in rows]
    seeds = sorted(r.inputs["coords"]["seed"] for r in rows)
    print(f"  kills that hit a running driver: {done_kills} of {kills}; points stored after each: {counts}")
    print(
        f"  final run: {final['ran_now']} run now; the store holds {len(rows)} points, {len(set(ids))} distinct, "
        f"seeds 0..{n - 1} each once: {seeds == list(range(n))}; all done: {all(r.status == 'done' for r in rows)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a check that the benchmark runs)")
    ap.add_argument("--no-ray", action="store_true", help="leave out the Ray checks")
    ap.add_argument("--requests", type=int, default=20000, help="requests per ~1 s point (simulate serve)")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; 1-minute load average at start {load()}")
    with tempfile.TemporaryDirectory(prefix="chipfleet-sweep-bench-") as folder:
        tmp = Path(folder)
        memory(tmp, 30 if a.quick else 100)
        overhead_and_scaling(tmp, 4 if a.quick else 16, 2000 if a.quick else a.requests)
        if not a.no_ray:
            ray_checks(tmp, 4 if a.quick else 16, 2000)
        resume(tmp, 3 if a.quick else 10, 60 if a.quick else 200, 300 if a.quick else 1000)


if __name__ == "__main__":
    main()
