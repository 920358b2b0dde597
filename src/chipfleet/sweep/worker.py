"""One point run where it is sent (a local worker process or a Ray task): catalog with the point's price
multipliers, the command, the named outputs picked from its JSON. The same code on every backend, so the same
point gives the same answer everywhere."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chipfleet.catalog import Catalog, Pricing
from chipfleet.exceptions import ChipfleetError, ConfigError
from chipfleet.sweep.points import Point, PriceRule, pick_outputs


class PointRunner(Protocol):
    """Runs one command with options against a catalog and returns its JSON (the CLI's ``--json`` answer).

    Implemented by :mod:`chipfleet.cli.sweep` (the CLI's own commands, in-process); must be picklable (a module-level
    instance) so workers and Ray tasks can receive it."""

    def check(self, command: str, options: Mapping[str, Any]) -> None:
        """Raise a ConfigError if ``options`` are not valid for ``command`` (unknown option, bad value)."""

    def run(self, command: str, options: Mapping[str, Any], catalog: Catalog) -> Any:
        """The command's JSON result; a ChipfleetError when the command refuses the point."""


@dataclass(frozen=True)
class Task:
    """What a worker needs to run one point."""

    point: Point
    outputs: dict[str, list[str]]
    keep_result: bool


@dataclass(frozen=True)
class Outcome:
    """A finished point: "done" with its outputs (and result, if kept) or "failed" with the error."""

    seq: int
    point_id: str
    status: str
    outputs: dict[str, Any] | None
    missing: dict[str, str]
    result: Any
    error: str | None
    wall_s: float
    worker: str


def with_prices(catalog: Catalog, rules: tuple[PriceRule, ...]) -> Catalog:
    """``catalog`` with the prices of the instances each rule matches multiplied by its multiplier."""
    if not rules or all(r.multiplier == 1.0 for r in rules):
        return catalog
    instances = dict(catalog.instances)
    for rule in rules:
        globs = [g.strip().lower() for g in rule.instances.split(",") if g.strip()]
        matched = [n for n in instances if any(fnmatch.fnmatch(n, g) for g in globs)]
        if not matched:
            raise ConfigError(f"price rule {rule.instances!r} matches no instance of the catalog", field="prices")
        pricings = {Pricing(p) for p in rule.pricing} if rule.pricing else set(Pricing)
        for name in matched:
            inst = instances[name]
            prices = tuple(
                p.model_copy(update={"value": p.value * rule.multiplier}) if p.pricing in pricings else p
                for p in inst.prices
            )
            instances[name] = inst.model_copy(update={"prices": prices})
    return dataclasses.replace(catalog, instances=instances)


_PRICED: dict[tuple[int, tuple[PriceRule, ...]], Catalog] = {}
MAX_PRICED = 64


def _priced(catalog: Catalog, rules: tuple[PriceRule, ...]) -> Catalog:
    key = (id(catalog), rules)
    if key not in _PRICED:
        if len(_PRICED) >= MAX_PRICED:
            _PRICED.clear()
        _PRICED[key] = with_prices(catalog, rules)
    return _PRICED[key]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def execute(runner: PointRunner, catalog: Catalog, task: Task) -> Outcome:
    """Run one point; a refusal by the command (does not fit, no price...) is a failed point, not a crash."""
    p = task.point
    start = time.perf_counter()
    try:
        result = runner.run(p.command, p.options, _priced(catalog, p.prices))
    except ChipfleetError as e:
        return Outcome(
            p.seq,
            p.point_id,
            "failed",
            None,
            {},
            None,
            f"{type(e).__name__}: {e}",
            time.perf_counter() - start,
            worker_name(),
        )
    except Exception as e:  # a bug in one point must not stop the other points: kept with the point
        text = " ".join(str(e).split())
        return Outcome(
            p.seq,
            p.point_id,
            "failed",
            None,
            {},
            None,
            f"{type(e).__name__}: {text}",
            time.perf_counter() - start,
            worker_name(),
        )
    wall = time.perf_counter() - start
    outputs, missing = pick_outputs(result, task.outputs)
    return Outcome(
        p.seq, p.point_id, "done", outputs, missing, result if task.keep_result else None, None, wall, worker_name()
    )


# ----------------------------------------------------------------------------- local worker processes
_LOCAL: dict[str, Any] = {}


def init_local(runner: PointRunner, catalog: Catalog) -> None:
    """ProcessPoolExecutor initializer: the runner and the catalog, received once per worker process."""
    _LOCAL["runner"] = runner
    _LOCAL["catalog"] = catalog


def run_local(task: Task) -> Outcome:
    return execute(_LOCAL["runner"], _LOCAL["catalog"], task)


# ----------------------------------------------------------------------------- Ray tasks
_RAY_CATALOGS: dict[str, Catalog] = {}


def run_ray(runner: PointRunner, catalog_ref: list[Any], task: Task) -> Outcome:
    """A Ray task: the catalog object (put once by the driver; passed in a list so Ray hands over the reference,
    not a copy per task) is fetched once per worker process and kept."""
    import ray

    ref = catalog_ref[0]
    key = ref.hex()
    if key not in _RAY_CATALOGS:
        _RAY_CATALOGS.clear()
        _RAY_CATALOGS[key] = ray.get(ref)
    return execute(runner, _RAY_CATALOGS[key], task)
