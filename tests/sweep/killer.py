"""A point runner for the worker-death tests: the point ``n=KILLER`` kills its worker process (``os._exit(9)``, as
the out-of-memory killer would) while the others take a while; run as a script it runs one sweep and prints its
counts as JSON (the tests run it in a subprocess with a timeout, so a hung driver fails the test instead of
hanging it)."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

KILLER = 5
POINT_S = 0.3
SPEC: dict[str, Any] = {
    "name": "killer",
    "command": "estimate train",
    "axes": {"n": list(range(12))},
    "outputs": {"n": "n"},
}


class KillerRunner:
    """Kills its worker on the point ``n=KILLER`` (only in a worker process: the driver's own sample runs it too)."""

    def check(self, command: str, options: Mapping[str, Any]) -> None:
        return None

    def run(self, command: str, options: Mapping[str, Any], catalog: Any) -> Any:
        if options["n"] == KILLER and multiprocessing.current_process().name != "MainProcess":
            os._exit(9)
        time.sleep(POINT_S)
        return {"n": options["n"]}


RUNNER = KillerRunner()


def main(url: str) -> None:
    from chipfleet.catalog import content_hash, load_catalog
    from chipfleet.store import open_store
    from chipfleet.store.points import SweepPoints
    from chipfleet.sweep import engine
    from chipfleet.sweep.backends import LocalBackend
    from chipfleet.sweep.spec import parse_spec

    cat = load_catalog(use_env=False)
    ctx = engine.Context(cat, content_hash(cat), [], RUNNER)
    store = open_store(url)
    result = engine.run(parse_spec(SPEC), ctx, store, LocalBackend(2))
    rows = {p.inputs["options"]["n"]: [p.status, p.error] for p in SweepPoints(store).points(result.sweep_id)}
    print(json.dumps({"done": result.done, "failed": result.failed, "ran": result.ran, "rows": rows}))


if __name__ == "__main__":  # run as ``python -m killer``: use the module's own names, which workers can import
    from killer import main as killer_main

    killer_main(sys.argv[1])
