"""Trace-loading speed: seconds to parse each shipped trace from its gzip-compressed package data.

Best of three loads per trace (the page cache is warm after the first). Prints seconds, rows per second and the
ratio to the 0.5 s target for azure-conv (19,366 rows) that tests/traces/test_registry.py asserted until
issue 10: a wall-time check depends on the machine's load, so it is a figure printed here, not a test.
"""

from __future__ import annotations

import math
import time

from chipfleet.traces import list_traces, load_trace

TARGET_S = {"azure-conv": 0.5}
REPEATS = 3


def main() -> None:
    print(f"{'trace':<16} {'rows':>8} {'best s':>8} {'rows/s':>10}  target")
    for name in list_traces():
        best, rows = math.inf, 0
        for _ in range(REPEATS):
            start = time.perf_counter()
            rows = len(load_trace(name))
            best = min(best, time.perf_counter() - start)
        target = TARGET_S.get(name)
        verdict = f"{best / target:.2f} of {target:g} s" if target else ""
        print(f"{name:<16} {rows:>8,} {best:>8.3f} {rows / best:>10,.0f}  {verdict}")


if __name__ == "__main__":
    main()
