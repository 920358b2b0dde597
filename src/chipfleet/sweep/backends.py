"""Where points run: local worker processes (concurrent.futures) or a Ray cluster (Ray Core tasks). Both take an
iterator of tasks and yield batches of outcomes as they finish, with a bounded number in flight, so memory stays
flat however many points there are. No scheduler of our own: the pool and Ray place the work."""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError
from chipfleet.store.points import LOST
from chipfleet.sweep import worker
from chipfleet.sweep.worker import Outcome, PointRunner, Task

MAX_WORKER_DEATHS = 3
"""A point whose worker process dies this many times while it runs alone (out of memory, killed) is stored as failed
(lost: a rerun of the sweep tries it again)."""
IN_FLIGHT_PER_WORKER = 2


class Backend(Protocol):
    name: str
    workers: int

    def run(self, tasks: Iterator[Task], runner: PointRunner, catalog: Catalog) -> Iterator[list[Outcome]]:
        """Run every task; yield the outcomes in batches as they finish (any order)."""


def _died(task: Task, why: str) -> Outcome:
    """A point the infrastructure could not run (not the command's answer): its error starts with
    :data:`~chipfleet.store.points.LOST`, so running the sweep again retries it."""
    p = task.point
    return Outcome(p.seq, p.point_id, "failed", None, {}, None, f"{LOST}{why}", 0.0, "")


@dataclass
class LocalBackend:
    """Worker processes on this machine (``--workers N``), started by a forkserver that has chipfleet imported (fast
    starts; no fork of a process with threads); a daemonic process (an API job), which may not start processes, runs
    the points itself, one at a time. A worker that dies (kill -9, out of memory) breaks the pool: a new
    pool takes over and the points that were in flight run again (nothing of theirs was stored)."""

    workers: int
    name: str = "local"

    def _pool(self, runner: PointRunner, catalog: Catalog) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["chipfleet.sweep.worker", type(runner).__module__])
        return ProcessPoolExecutor(
            self.workers, mp_context=ctx, initializer=worker.init_local, initargs=(runner, catalog)
        )

    def run(self, tasks: Iterator[Task], runner: PointRunner, catalog: Catalog) -> Iterator[list[Outcome]]:
        if multiprocessing.current_process().daemon:  # e.g. an API job's worker: it may not start processes
            for task in tasks:
                yield [worker.execute(runner, catalog, task)]
            return
        retry: deque[Task] = deque()  # never ran (the pool broke before it was submitted): run again as usual
        # in flight when a pool broke: any of them may have killed it, so each runs again alone; a death is then
        # pinned on its point, and the innocent neighbours of a killer are never charged one
        suspects: deque[Task] = deque()
        deaths: dict[int, int] = {}
        window = max(1, self.workers * IN_FLIGHT_PER_WORKER)
        pool = self._pool(runner, catalog)
        in_flight: dict[Future[Outcome], Task] = {}
        alone: Task | None = None  # the suspect now running by itself
        exhausted = False
        try:
            while True:
                broken = False
                while alone is None:
                    isolate = bool(suspects)
                    if isolate:
                        if in_flight:  # a suspect runs only once the pool has nothing else in flight
                            break
                        task = suspects.popleft()
                    elif len(in_flight) >= window:
                        break
                    elif retry:
                        task = retry.popleft()
                    elif exhausted:
                        break
                    else:
                        nxt = next(tasks, None)
                        if nxt is None:
                            exhausted = True
                            break
                        task = nxt
                    try:
                        fut = pool.submit(worker.run_local, task)
                    except BrokenProcessPool:  # the pool broke after the last wait(): this task never ran
                        (suspects if isolate else retry).appendleft(task)
                        broken = True
                        break
                    in_flight[fut] = task
                    if isolate:
                        alone = task
                if not in_flight and not broken:
                    return
                batch: list[Outcome] = []
                lost: list[Task] = []
                if in_flight and not broken:
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for fut in done:
                        task = in_flight.pop(fut)
                        try:
                            batch.append(fut.result())
                        except BrokenProcessPool:
                            broken = True
                            lost.append(task)
                if broken:
                    for fut, task in in_flight.items():  # each ran in the broken pool; keep those that finished
                        if fut.done() and not fut.cancelled() and fut.exception() is None:
                            batch.append(fut.result())
                        else:
                            lost.append(task)
                    in_flight.clear()
                    if alone is not None and alone in lost:  # it ran by itself: its death is its own
                        seq = alone.point.seq
                        deaths[seq] = deaths.get(seq, 0) + 1
                        if deaths[seq] >= MAX_WORKER_DEATHS:
                            batch.append(
                                _died(
                                    alone,
                                    f"the worker process died {MAX_WORKER_DEATHS} times while running this point "
                                    "alone (out of memory? killed?)",
                                )
                            )
                        else:
                            suspects.appendleft(alone)
                    else:
                        suspects.extend(lost)
                    _end(pool)
                    pool = self._pool(runner, catalog)
                alone = None if broken or not in_flight else alone
                if batch:
                    yield batch
        finally:
            _end(pool)


def _end(pool: ProcessPoolExecutor) -> None:
    """Shut the pool down and end its worker processes now: a broken pool's survivors, or points left in flight
    when the sweep stops, must not outlive the driver (a forkserver worker left behind keeps it waiting)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.kill()
    for proc in processes:
        proc.join(5)


@dataclass
class RayBackend:
    """A Ray cluster: ``address`` is ``auto`` (the cluster this machine belongs to, e.g. started by
    ``scripts/ray.sh start`` or ``ray start --head``), ``ray://host:10001`` (Ray Client) or ``host:6379``. The
    catalog is put in the object store once; each point is a Ray task (retried by Ray if its worker dies); the
    results stream back with ``ray.wait`` as they finish."""

    address: str
    workers: int = 0
    name: str = "ray"

    def _connect(self) -> Any:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "the Ray backend needs Ray: pip install 'chipfleet[sweep]' (or leave out --address to run on local "
                "processes)",
                field="address",
            ) from None
        if not ray.is_initialized():
            _reachable(self.address)
            try:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.ERROR)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ConfigError(
                    f"cannot connect to the Ray cluster at {self.address!r} ({' '.join(str(e).split())[:300]}); start "
                    "one with scripts/ray.sh start (or `ray start --head`), or give its address: --address auto | "
                    "ray://HOST:10001",
                    field="address",
                ) from None
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]  # ray's own stub
        cpus = int(resources.get("CPU", 1))
        self.workers = self.workers or cpus
        return ray

    def run(self, tasks: Iterator[Task], runner: PointRunner, catalog: Catalog) -> Iterator[list[Outcome]]:
        import ray as ray_module

        connected_here = not ray_module.is_initialized()
        ray = self._connect()
        try:
            yield from self._stream(ray, tasks, runner, catalog)
        finally:
            if connected_here:
                ray.shutdown()

    def _stream(
        self, ray: Any, tasks: Iterator[Task], runner: PointRunner, catalog: Catalog
    ) -> Iterator[list[Outcome]]:
        remote = ray.remote(num_cpus=1, max_retries=MAX_WORKER_DEATHS)(worker.run_ray)
        catalog_ref = [ray.put(catalog)]  # once: every task gets the reference, each worker fetches it once
        window = max(1, self.workers * IN_FLIGHT_PER_WORKER)
        pending: dict[Any, Task] = {}
        exhausted = False
        while True:
            while not exhausted and len(pending) < window:
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                    break
                pending[remote.remote(runner, catalog_ref, task)] = task
            if not pending:
                return
            ready, rest = ray.wait(list(pending), num_returns=1, timeout=None)
            if rest:  # whatever else has finished meanwhile comes in the same batch
                more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                ready = [*ready, *more]
            batch: list[Outcome] = []
            for ref in ready:
                task = pending.pop(ref)
                try:
                    batch.append(ray.get(ref))
                except Exception as e:  # the task's worker died past its retries, or Ray failed it
                    why = " ".join(str(e).split())[:500]
                    batch.append(_died(task, f"Ray could not run this point: {type(e).__name__}: {why}"))
            yield batch


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    """A ``host:port`` or ``ray://host:port`` address answers on TCP, else a clear error now (Ray itself would retry
    for minutes). ``auto`` is left to Ray, which fails at once when no cluster is found."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise ConfigError(
            f"cannot connect to the Ray cluster at {address!r} ({e.strerror or e}); start one with scripts/ray.sh "
            "start (or `ray start --head`), or give its address: --address auto | ray://HOST:10001 | HOST:6379",
            field="address",
        ) from None


def make_backend(workers: int | None, address: str | None) -> Backend:
    """``--address`` given: Ray; else local processes (``--workers``, default: this machine's cores)."""
    if address:
        return RayBackend(address.strip(), workers or 0)
    n = workers or os.cpu_count() or 1
    if n < 1:
        raise ConfigError(f"--workers must be 1 or more, got {n}", field="workers")
    return LocalBackend(n)
