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
from chipfleet.sweep import worker
from chipfleet.sweep.worker import Outcome, PointRunner, Task

MAX_WORKER_DEATHS = 3
"""A point whose worker process dies this many times (out of memory, killed) is stored as failed."""
IN_FLIGHT_PER_WORKER = 2


class Backend(Protocol):
    name: str
    workers: int

    def run(self, tasks: Iterator[Task], runner: PointRunner, catalog: Catalog) -> Iterator[list[Outcome]]:
        """Run every task; yield the outcomes in batches as they finish (any order)."""


def _died(task: Task, why: str) -> Outcome:
    p = task.point
    return Outcome(p.seq, p.point_id, "failed", None, {}, None, why, 0.0, "")


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
        retry: deque[Task] = deque()
        deaths: dict[int, int] = {}
        window = max(1, self.workers * IN_FLIGHT_PER_WORKER)
        pool = self._pool(runner, catalog)
        in_flight: dict[Future[Outcome], Task] = {}
        try:
            exhausted = False
            while True:
                while len(in_flight) < window and (retry or not exhausted):
                    if retry:
                        task = retry.popleft()
                    else:
                        nxt = next(tasks, None)
                        if nxt is None:
                            exhausted = True
                            continue
                        task = nxt
                    in_flight[pool.submit(worker.run_local, task)] = task
                if not in_flight:
                    return
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                batch: list[Outcome] = []
                broken = False
                for fut in done:
                    task = in_flight.pop(fut)
                    try:
                        batch.append(fut.result())
                    except BrokenProcessPool:
                        broken = True
                        retry.append(task)
                if broken:  # every point still in flight ran in the broken pool: run them again in a new one
                    retry.extend(in_flight.values())
                    in_flight.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    for task in list(retry):
                        deaths[task.point.seq] = deaths.get(task.point.seq, 0) + 1
                        if deaths[task.point.seq] >= MAX_WORKER_DEATHS:
                            retry.remove(task)
                            batch.append(
                                _died(
                                    task,
                                    f"the worker process died {MAX_WORKER_DEATHS} times while "
                                    "running this point (out of memory? killed?)",
                                )
                            )
                    pool = self._pool(runner, catalog)
                if batch:
                    yield batch
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


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
