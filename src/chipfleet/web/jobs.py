"""Long commands as background jobs: one worker process per job, its status and progress in the run store.

A process per job (multiprocessing, spawn) so a job can be cancelled by terminating it, and so a crash or a
runaway simulation never takes the server with it. The server starts the run ("running") before the worker
starts; the worker writes progress and, in one transaction, the outputs (done) or the error (failed). A worker
whose server died (kill -9) exits on its own; on its next start the server marks the runs it left running as
interrupted (:meth:`chipfleet.store.RunStore.recover_interrupted`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from typing import Any

from chipfleet.store import RunStore, open_store

INTERRUPTED = "interrupted: the server stopped while it ran; re-run it"
CANCELLED = "cancelled by request"
PARENT_POLL_S = 0.2  # how soon a worker notices its server is gone
PROGRESS_EVERY_S = 0.25  # progress writes per job at most this often: the store is shared by every job and request
FINAL = frozenset({"done", "failed", "cancelled"})


class JobManager:
    """Starts, watches and cancels the job processes of one server; at most ``max_jobs`` run at once, the rest
    wait their turn (their runs say "queued")."""

    def __init__(self, store: RunStore, store_url: str | None, max_jobs: int) -> None:
        self._store = store
        self._store_url = store_url
        self._slots = threading.Semaphore(max_jobs)
        self._lock = threading.Lock()
        self._procs: dict[str, BaseProcess] = {}
        self._cancelled: set[str] = set()
        self._threads: dict[str, threading.Thread] = {}
        self._context = multiprocessing.get_context("spawn")

    def submit(self, run_id: str, kind: str, args: list[str]) -> None:
        """Run ``chipfleet <args>`` for the (already started) run ``run_id`` in a worker process."""
        self._store.progress(run_id, 0.0, "queued")
        thread = threading.Thread(target=self._supervise, args=(run_id, kind, args), name=f"job-{run_id[:8]}")
        thread.daemon = True
        with self._lock:
            self._threads[run_id] = thread
        thread.start()

    def _supervise(self, run_id: str, kind: str, args: list[str]) -> None:
        try:
            with self._slots:
                with self._lock:
                    if run_id in self._cancelled:
                        return
                    proc = self._context.Process(
                        target=worker_main, args=(run_id, kind, args, self._store_url, os.getpid()),
                        name=f"chipfleet-job-{run_id[:8]}", daemon=True,
                    )  # fmt: skip
                    try:
                        proc.start()
                    except Exception as e:  # no process (out of memory, of pids, of files): the run says so
                        self._store.fail(run_id, f"the job's worker process could not start: {type(e).__name__}: {e}")
                        return
                    self._procs[run_id] = proc
                proc.join()
            if proc.exitcode != 0 and run_id not in self._cancelled:
                # a worker that died without saying so (killed, out of memory) leaves its run failed, not running
                self._store.fail(run_id, f"the job's worker process stopped unexpectedly (exit code {proc.exitcode})")
            # runs the worker itself started (a sweep's own run) and left running when it stopped
            self._store.recover_interrupted()
        finally:
            with self._lock:
                self._procs.pop(run_id, None)
                self._threads.pop(run_id, None)

    def running(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._threads

    def cancel(self, run_id: str) -> bool:
        """Stop a job: its process is terminated (SIGTERM, then SIGKILL after 5 s) and its run marked cancelled.
        False when this server holds no such job (finished, or another server's)."""
        with self._lock:
            if run_id not in self._threads:
                return False
            self._cancelled.add(run_id)
            proc = self._procs.get(run_id)
        if proc is not None:
            _stop(proc)
        self._store.fail(run_id, CANCELLED, status="cancelled")
        self._store.recover_interrupted()  # a run the worker had started itself (a sweep's) is not left running
        return True

    def wait(self, run_id: str, timeout_s: float | None = None) -> None:
        """Block until the job's supervisor is finished (its run is done, failed or cancelled)."""
        with self._lock:
            thread = self._threads.get(run_id)
        if thread is not None:
            thread.join(timeout_s)

    def shutdown(self) -> None:
        """Stop every job (the server is stopping): their runs fail as interrupted."""
        with self._lock:
            pending = list(self._threads)
            self._cancelled.update(pending)
            procs = list(self._procs.values())
        for proc in procs:
            _stop(proc)
        for run_id in pending:
            with contextlib.suppress(Exception):  # a store gone at exit must not hide the other jobs' states
                self._store.fail(run_id, INTERRUPTED)


def _stop(proc: BaseProcess) -> None:
    if proc.is_alive():
        proc.terminate()
        proc.join(5.0)
    if proc.is_alive():
        proc.kill()
        proc.join(5.0)


# ----------------------------------------------------------------------------- the worker process
def worker_main(run_id: str, kind: str, args: list[str], store_url: str | None, parent_pid: int) -> None:
    """A job's process: run the command, save its outputs or its error, exit; exit at once if the server dies."""
    _watch_parent(parent_pid)
    if store_url is not None:  # commands that open the store themselves (a sweep's points) use the server's
        os.environ["CHIPFLEET_DB"] = store_url
    from chipfleet.web.commands import BY_KIND, run_command
    from chipfleet.web.errors import ApiError

    store = open_store(store_url)
    report = _Reporter(store, run_id)
    store.progress(run_id, 0.0, "starting")
    started = time.perf_counter()
    try:
        with _progress_hooks(report):
            result = run_command(BY_KIND[kind], args, silence_native=True)
    except ApiError as e:
        store.fail(run_id, f"{e.error}: {e.message}")
        return
    except Exception as e:  # a bug in a command: the run says what broke instead of staying "running"
        store.fail(run_id, f"{type(e).__name__}: {e}")
        raise
    store.finish(run_id, result, timings={"wall_s": time.perf_counter() - started})


def _watch_parent(parent_pid: int) -> None:
    """Exit this process as soon as the server that started it is gone (its parent changes): a job of a killed
    server must not run on, nor write a result the restarted server has already marked interrupted."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class _Reporter:
    """Progress of one job into the store, at most every PROGRESS_EVERY_S (the last fraction kept for messages)."""

    def __init__(self, store: RunStore, run_id: str) -> None:
        self._store = store
        self._run_id = run_id
        self._last = 0.0
        self.fraction = 0.0
        self.message = "running"

    def __call__(self, fraction: float | None = None, message: str | None = None) -> None:
        if fraction is not None:
            self.fraction = min(1.0, max(0.0, fraction))
        if message is not None:
            self.message = message
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_S:
            self._last = now
            self._store.progress(self._run_id, self.fraction, self.message)


@contextlib.contextmanager
def _progress_hooks(report: _Reporter) -> Iterator[None]:
    """Route the CLI's progress displays into the store while a job runs.

    The commands report progress only to their displays (rich progress bars, ``output.status`` lines), which
    ``--json`` turns off; this process runs one job, so here the bars' updates and the status messages are
    forwarded to ``report`` as well."""
    from rich.progress import Progress

    from chipfleet.cli import output

    original_update = Progress.update
    original_status = output.status

    def update(self: Progress, task_id: Any, **kw: Any) -> None:
        original_update(self, task_id, **kw)
        task = self._tasks.get(task_id)
        if task is not None and task.total:
            report(task.completed / task.total, task.description or None)

    @contextlib.contextmanager
    def status(as_json: bool) -> Iterator[Callable[[str], None] | None]:
        yield lambda msg: report(message=msg)

    Progress.update = update  # type: ignore[method-assign]
    output.status = status
    try:
        yield
    finally:
        Progress.update = original_update  # type: ignore[method-assign]
        output.status = original_status
