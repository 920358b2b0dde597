"""HTTP API load test: 200 concurrent clients making mixed requests against a real uvicorn server on loopback.

Starts ``chipfleet.web.app:create_app`` under uvicorn in a subprocess (a fresh SQLite run store and data folder in a
temporary folder, no token), then runs two phases with the same number of clients, each client its own HTTP
connection (httpx, asyncio), sending its next request as soon as its last is answered:

1. **Baseline**: ``GET /api/health`` alone, for ``--baseline-duration`` seconds: the server's floor.
2. **Mixed**, for ``--duration`` seconds: health checks, catalog listings (``POST /api/catalog/chips`` and
   ``instances``), ``estimate serve`` and ``estimate train`` (quick commands run in-process and saved in the run
   store), ``GET /api/runs``, and a few job submissions (``simulate serve`` on 300 requests of a shipped trace, a
   background worker process each; at most one every ``--job-every`` seconds).

Prints per kind of request: the count, the errors (anything but a 2xx, or no answer within 60 s; target 0), the
throughput and the p50/p95/p99 latency; then the mixed phase's totals against the baseline's, with the ratios.

Run: ``.venv/bin/python benchmarks/api_load.py`` (``--duration 60 --clients 200``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REQUEST_TIMEOUT_S = 60.0
SERVE = {"model": "llama-3-8b", "instance": "p5.48xlarge", "input_tokens": "2k", "output_tokens": 256}
TRAIN = {"model": "llama-3-8b", "instance": "p5.48xlarge", "tokens": "1T"}
JOB = {"trace": "azure-code", "fleet": "p5.48xlarge:1", "model": "llama-3-8b", "requests": 300}


@dataclass
class Tally:
    """Latencies (s) and errors per kind of request."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[str] = field(default_factory=list)

    def add(self, kind: str, seconds: float, ok: bool, detail: str = "") -> None:
        self.latencies[kind].append(seconds)
        if not ok:
            self.errors[kind] += 1
            if len(self.examples) < 5:
                self.examples.append(f"{kind}: {detail[:200]}")


Request = tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None]  # kind, method, path, json, params


class Mix:
    """The mixed phase's requests, drawn by weight; a job submission at most every ``job_every_s`` seconds."""

    def __init__(self, seed: int, job_every_s: float) -> None:
        self.rng = random.Random(seed)
        self.job_every_s = job_every_s
        self.next_job = time.monotonic() + 2.0

    def __call__(self) -> Request:
        now = time.monotonic()
        if now >= self.next_job:
            self.next_job = now + self.job_every_s
            return ("job submit", "POST", "/api/simulate/serve", JOB, None)
        r = self.rng.random()
        if r < 0.20:
            return ("health", "GET", "/api/health", None, None)
        if r < 0.35:
            return ("catalog chips", "POST", "/api/catalog/chips", {}, None)
        if r < 0.45:
            return ("catalog instances", "POST", "/api/catalog/instances", {"cloud": "aws"}, None)
        if r < 0.70:
            return ("estimate serve", "POST", "/api/estimate/serve", {**SERVE, "batch": self.rng.choice([1, 8, 32])},
                    None)  # fmt: skip
        if r < 0.85:
            return ("estimate train", "POST", "/api/estimate/train", {**TRAIN, "instances": self.rng.choice([4, 16])},
                    None)  # fmt: skip
        return ("runs list", "GET", "/api/runs", None, {"limit": 20})


async def client(url: str, draw: Callable[[], Request], until: float, tally: Tally) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
        while time.monotonic() < until:
            kind, method, path, body, params = draw()
            started = time.perf_counter()
            try:
                r = await http.request(method, path, json=body, params=params)
                ok = 200 <= r.status_code < 300
                detail = f"{r.status_code} {r.text}"
            except httpx.HTTPError as e:
                ok, detail = False, f"{type(e).__name__}: {e}"
            tally.add(kind, time.perf_counter() - started, ok, detail)


async def phase(url: str, clients: int, duration_s: float, draw: Callable[[], Request]) -> tuple[Tally, float]:
    tally = Tally()
    started = time.monotonic()
    until = started + duration_s
    await asyncio.gather(*(client(url, draw, until, tally) for _ in range(clients)))
    return tally, time.monotonic() - started


def report(title: str, tally: Tally, wall_s: float) -> dict[str, float]:
    print(f"\n{title} ({wall_s:.1f} s)")
    print(f"  {'request':<18} {'count':>8} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    every: list[float] = []
    for kind in sorted(tally.latencies):
        lat = np.array(tally.latencies[kind]) * 1000
        every.extend(tally.latencies[kind])
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        print(f"  {kind:<18} {len(lat):>8,} {tally.errors[kind]:>7} {len(lat) / wall_s:>8.1f} {p50:>8.1f} "
              f"{p95:>8.1f} {p99:>8.1f}")  # fmt: skip
    lat = np.array(every) * 1000
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    errors = sum(tally.errors.values())
    print(f"  {'all':<18} {len(lat):>8,} {errors:>7} {len(lat) / wall_s:>8.1f} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f}")
    for example in tally.examples:
        print(f"  error: {example}")
    return {"requests": len(lat), "errors": errors, "rps": len(lat) / wall_s, "p50": p50, "p95": p95, "p99": p99}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(root: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CHIPFLEET_DB": f"sqlite:///{root / 'runs.sqlite'}", "CHIPFLEET_DATA_DIR": str(root / "data"),
           "CHIPFLEET_MAX_JOBS": "1"}  # fmt: skip
    env.pop("CHIPFLEET_API_TOKEN", None)
    args = [sys.executable, "-m", "uvicorn", "chipfleet.web.app:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--backlog", "4096"]  # fmt: skip
    proc = subprocess.Popen(args, env=env, stdout=(root / "server.log").open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server did not start: {(root / 'server.log').read_text()[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of the mixed phase (default 60)")
    parser.add_argument("--baseline-duration", type=float, default=20.0, help="seconds of the health-only phase")
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients (default 200)")
    parser.add_argument("--job-every", type=float, default=5.0, help="seconds between job submissions (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="chipfleet-load-") as tmp:
        root = Path(tmp)
        port = free_port()
        proc = start_server(root, port)
        url = f"http://127.0.0.1:{port}"
        try:
            print(f"chipfleet API load test: {args.clients} concurrent clients on loopback, uvicorn 1 process, "
                  f"{os.cpu_count()} cores")  # fmt: skip
            health: Request = ("health", "GET", "/api/health", None, None)
            base, base_s = asyncio.run(phase(url, args.clients, args.baseline_duration, lambda: health))
            b = report("Baseline: GET /api/health alone", base, base_s)
            mixed, mixed_s = asyncio.run(phase(url, args.clients, args.duration, Mix(args.seed, args.job_every)))
            m = report("Mixed requests", mixed, mixed_s)
            h = np.array(mixed.latencies["health"]) * 1000
            print(f"\nMixed against baseline: throughput {m['rps']:.1f} / {b['rps']:.1f} req/s = "
                  f"{m['rps'] / b['rps']:.2f}x; p99 {m['p99']:.1f} / {b['p99']:.1f} ms = {m['p99'] / b['p99']:.1f}x; "
                  f"health p99 under the mix {np.percentile(h, 99):.1f} ms = {np.percentile(h, 99) / b['p99']:.1f}x "
                  f"its baseline")  # fmt: skip
            print(f"Errors: {m['errors'] + b['errors']} of {m['requests'] + b['requests']:,} requests (target 0)")
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
