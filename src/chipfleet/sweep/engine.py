"""Running a sweep: check the spec's points, skip those the store holds, run the rest on a backend and store each
point as it finishes; the sweep's run record gets its spec, progress and, at the end, its summary."""

from __future__ import annotations

import itertools
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ChipfleetError, ConfigError
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.serving.pools import PoolSpec
from chipfleet.store import RunStore
from chipfleet.store.points import PointRow, SweepPoints
from chipfleet.sweep.backends import Backend
from chipfleet.sweep.points import Point, combo_at, make_point, points, sweep_id, value_lists
from chipfleet.sweep.spec import SweepSpec
from chipfleet.sweep.worker import Outcome, PointRunner, Task, execute
from chipfleet.workloads import get_model

CHUNK = 256
"""Points generated and looked up in the store at a time."""
SAMPLES = 3
PROGRESS_EVERY_S = 0.5

Progress = Callable[[int, int], None]
"""Called with (points stored, points in the sweep) as points finish."""


@dataclass(frozen=True)
class Context:
    """What every point shares: the catalog (with the spec's overlays), its hash and overlays, the runner."""

    catalog: Catalog
    catalog_hash: str
    overlays: list[dict[str, Any]]
    runner: PointRunner


def variants(spec: SweepSpec) -> list[Point]:
    """The first point, then each value of each axis with the other axes at their first value (a range without
    ``num``: its two ends): every value the sweep uses appears in one of them."""
    lists = value_lists(spec, ends=True)
    seen: set[str] = set()
    out: list[Point] = []
    for j, values in enumerate(lists):
        for value in values if j < len(spec.axes) else values[:1]:
            combo = tuple(value if k == j else lst[0] for k, lst in enumerate(lists))
            p = make_point(spec, len(out), combo)
            if p.point_id not in seen:
                seen.add(p.point_id)
                out.append(p)
    return out


def check(spec: SweepSpec, ctx: Context) -> None:
    """Every axis value is a valid option of its command (checked by the runner: the CLI's own parsing) and every
    model and instance it names is known (:func:`check_names`), before any point runs: one bad value must not fail
    thousands of points."""
    for p in variants(spec):
        try:
            ctx.runner.check(p.command, p.options)
            check_names(p.options, ctx.catalog)
        except ChipfleetError as e:
            where = ", ".join(f"{k}={v}" for k, v in p.coords.items()) or "with the fixed options"
            raise ConfigError(f"the point {where} is not a valid `{p.command}`: {e}", field="spec") from None


# options naming instances: one (instance), a fleet (INSTANCE:COUNT,...), a disaggregated pool (INSTANCE:COUNT[:...])
INSTANCE_OPTIONS = frozenset({"instance"})
FLEET_OPTIONS = frozenset({"fleet"})
POOL_OPTIONS = frozenset({"prefill", "decode"})


def check_names(options: dict[str, Any], catalog: Catalog) -> None:
    """The model and the instances a point names exist (the zoo, the catalog with the spec's overlays): an
    :class:`~chipfleet.exceptions.UnknownNameError` with suggestions for a typo, which the points' own runs would
    only report one failed point at a time."""
    model = options.get("model")
    if isinstance(model, str) and options.get("model_config") is None:
        get_model(model)
    for key, value in options.items():
        if not isinstance(value, str):
            continue
        names = [value] if key in INSTANCE_OPTIONS else []
        if key in FLEET_OPTIONS:
            names = [name for name, _ in FleetSpec.parse(value).entries]
        elif key in POOL_OPTIONS:
            names = [PoolSpec.parse(value, key).instance]
        for name in names:
            catalog.instance(name)


def sample(spec: SweepSpec, ctx: Context, n: int = SAMPLES) -> list[Outcome]:
    """Run a few points here, in this process: one of each command first, then points spread over the sweep. Their
    times estimate the sweep's; the outputs' paths are checked against their results."""
    chosen: dict[str, Point] = {}
    for p in variants(spec):
        chosen.setdefault(p.command, p)
    total = spec.size()
    if spec.sampling.method == "grid" and total:
        lists = value_lists(spec)
        for i in range(n):
            seq = round(i * (total - 1) / max(1, n - 1))
            p = make_point(spec, seq, combo_at(lists, seq))
            chosen.setdefault(p.point_id, p)
    else:
        for p in itertools.islice(points(spec), n):
            chosen.setdefault(p.point_id, p)
    outcomes = []
    missing: dict[str, str] = {}
    found: set[str] = set()
    for p in list(chosen.values())[: max(n, len({q.command for q in chosen.values()}))]:
        out = execute(ctx.runner, ctx.catalog, Task(p, spec.outputs, False))
        if out.status == "failed" and (out.error or "").startswith("UnknownNameError"):  # a typo, not a result
            where = ", ".join(f"{k}={v}" for k, v in p.coords.items())
            raise ConfigError(f"the point {where} of the sweep names something unknown: {out.error}", field="spec")
        if out.status == "done":
            found.update(name for name in spec.outputs if name not in out.missing)
            for name, why in out.missing.items():
                missing.setdefault(name, f"not in the result of `{p.command}`: {why}")
        outcomes.append(out)
    never = [name for name in missing if name not in found]  # an output of one command only is fine; of none, a typo
    if never:
        raise ConfigError(f"outputs.{never[0]}: {missing[never[0]]}", field="spec")
    return outcomes


def dry_run(spec: SweepSpec, ctx: Context, store: RunStore | None, workers: int, backend: str) -> dict[str, Any]:
    """The sweep's size and an estimate of its time from a few points timed here (nothing is stored)."""
    check(spec, ctx)
    sid = sweep_id(spec, ctx.catalog_hash)
    total = spec.size()
    stored = 0
    if store is not None:
        try:
            stored = SweepPoints(store).count(sid, lost=False)
        except Exception:  # a store that cannot be read only loses the "stored" count of a dry run
            stored = 0
    outcomes = sample(spec, ctx)
    times = [o.wall_s for o in outcomes]
    per_point = statistics.median(times) if times else 0.0
    to_run = max(0, total - stored)
    commands = sorted({p.command for p in itertools.islice(points(spec), 1000)})
    return {
        "points": total,
        "stored": stored,
        "to_run": to_run,
        "sweep_id": sid,
        "commands": commands,
        "axes": dict(zip(spec.axis_names(), [len(v) or "range" for v in value_lists(spec)], strict=True)),
        "sample_points": len(outcomes),
        "sample_failed": sum(o.status != "done" for o in outcomes),
        "point_s": per_point,
        "workers": workers,
        "backend": backend,
        "estimated_s": to_run * per_point / max(1, workers),
    }


@dataclass
class _Stats:
    count: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, x: Any) -> None:
        if isinstance(x, int | float) and not isinstance(x, bool) and x == x:
            self.count += 1
            self.total += float(x)
            self.low = min(self.low, float(x))
            self.high = max(self.high, float(x))

    def summary(self) -> dict[str, float] | None:
        return None if not self.count else {"min": self.low, "max": self.high, "mean": self.total / self.count}


@dataclass
class SweepResult:
    sweep_id: str
    points: int
    ran: int
    skipped: int
    done: int
    failed: int
    wall_s: float
    summary: dict[str, Any] = field(default_factory=dict)


def _tasks(
    spec: SweepSpec, sid: str, table: SweepPoints, skipped: list[int], in_flight: dict[int, dict[str, Any]]
) -> Iterator[Task]:
    """The points not stored yet, looked up in the store a chunk at a time."""
    gen = points(spec)
    while True:
        chunk = list(itertools.islice(gen, CHUNK))
        if not chunk:
            return
        have = table.stored(sid, [p.point_id for p in chunk])
        skipped[0] += len(have)
        for p in chunk:
            if p.point_id not in have:
                in_flight[p.seq] = p.inputs
                yield Task(p, spec.outputs, spec.keep_results)


def run(
    spec: SweepSpec,
    ctx: Context,
    store: RunStore,
    backend: Backend,
    *,
    spec_path: str = "",
    progress: Progress | None = None,
) -> SweepResult:
    """Run the sweep (resuming it where the store holds points of it already) and store its summary."""
    check(spec, ctx)
    sid = sweep_id(spec, ctx.catalog_hash)
    table = SweepPoints(store)
    inputs = {
        "spec": spec.model_dump(mode="json", by_alias=True),
        "spec_path": spec_path,
        "points": spec.size(),
        "backend": backend.name,
    }
    total = spec.size()
    stored = table.count(sid, lost=False)  # lost points run again
    if stored < total:
        sample(spec, ctx, n=1)  # the outputs' paths, checked before a worker starts (and before the sweep's run)
    table.open_sweep(sid, inputs, catalog_hash=ctx.catalog_hash, overlays=ctx.overlays)
    start = time.perf_counter()
    skipped = [0]
    in_flight: dict[int, dict[str, Any]] = {}
    ran = 0
    last_progress = 0.0
    try:
        if progress is not None:
            progress(stored, total)
        for batch in backend.run(_tasks(spec, sid, table, skipped, in_flight), ctx.runner, ctx.catalog):
            rows = [
                PointRow(
                    o.point_id, o.seq, o.status, in_flight.pop(o.seq), o.outputs, o.result, o.error, o.wall_s, o.worker
                )
                for o in batch
            ]
            now = time.perf_counter()
            due = now - last_progress >= PROGRESS_EVERY_S
            stored += table.write(
                sid,
                rows,
                progress=(stored + len(rows)) / max(1, total) if due else None,
                message=f"{stored + len(rows)} of {total} points",
            )
            if due:
                last_progress = now
            ran += len(batch)
            if progress is not None:
                progress(stored, total)
    except KeyboardInterrupt:
        store.fail(sid, "interrupted by the user (Ctrl-C); run the same spec again to resume", status="cancelled")
        raise
    except BaseException as e:
        store.fail(sid, f"{type(e).__name__}: {' '.join(str(e).split())[:500]}; run the same spec again to resume")
        raise
    wall = time.perf_counter() - start
    summary = summarize(spec, table, sid, wall=wall, ran=ran, backend=backend)
    store.finish(sid, summary, timings={"wall_s": wall})
    return SweepResult(sid, total, ran, skipped[0], summary["done"], summary["failed"], wall, summary)


def summarize(
    spec: SweepSpec, table: SweepPoints, sid: str, *, wall: float, ran: int, backend: Backend
) -> dict[str, Any]:
    """The sweep's summary, read back from the store in batches: counts, each output's range, the errors seen."""
    stats = {name: _Stats() for name in spec.outputs}
    done = failed = 0
    errors: dict[str, int] = {}
    for row in table.points(sid):
        if row.status == "done":
            done += 1
            for name in spec.outputs:
                stats[name].add((row.outputs or {}).get(name))
        else:
            failed += 1
            key = (row.error or "").split(":", 1)[0]
            errors[key] = errors.get(key, 0) + 1
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "name": spec.name,
        "points": spec.size(),
        "done": done,
        "failed": failed,
        "failures": errors,
        "ran_now": ran,
        "wall_s": wall,
        "points_per_s": ran / wall if wall > 0 else None,
        "backend": backend.name,
        "workers": backend.workers,
        "outputs": {name: s.summary() for name, s in stats.items()},
        "driver_peak_rss_mb": rss_mb,
    }
