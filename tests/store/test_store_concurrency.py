"""Several processes writing one store at once (SQLite file and PostgreSQL): no run lost, duplicated or half-written,
and a reader during the writes only ever sees whole runs."""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Any

import pytest

from chipfleet.store import open_store
from chipfleet.store.migrate import HEAD

WRITERS = 4
RUNS_EACH = 40


def _payload(writer: int, i: int) -> dict[str, Any]:
    """A run's outputs, big enough that a torn write would show: the reader recomputes and compares it whole."""
    return {"writer": writer, "i": i, "cost_usd": writer * 1000.0 + i, "series": [writer * i + k for k in range(200)]}


def _write(url: str, writer: int, go: Any) -> tuple[int, float]:
    store = open_store(url)
    go.wait()
    start = time.perf_counter()
    for i in range(RUNS_EACH):
        inputs = {"writer": writer, "i": i}
        if i % 2:
            store.save("plan serve", inputs, _payload(writer, i), catalog_hash="h", overlays=[], source="sweep")
        else:  # the long-job path: started, progress, finished, each its own transaction
            rid = store.start("plan serve", inputs, catalog_hash="h", overlays=[], source="sweep")
            store.progress(rid, 0.5, "half way")
            store.finish(rid, _payload(writer, i), timings={"wall_s": 0.01})
    elapsed = time.perf_counter() - start
    store.close()
    return RUNS_EACH, elapsed


def _read(url: str, go: Any, stop: Any) -> tuple[int, list[str]]:
    """Read every run again and again while the writers write; return how many runs were checked and what was wrong."""
    store = open_store(url)
    go.wait()
    checked, wrong = 0, []
    while not stop.is_set():
        for summary in store.list(limit=10_000):
            run = store.get(summary.id)
            checked += 1
            if run.status == "running" and run.outputs is not None:
                wrong.append(f"{run.id}: running with outputs")
            elif run.status == "done" and (
                run.outputs != _payload(run.inputs["writer"], run.inputs["i"]) or run.finished_at is None
            ):
                wrong.append(f"{run.id}: done but its outputs are not whole")
            elif run.status not in ("running", "done"):
                wrong.append(f"{run.id}: {run.status}")
    store.close()
    return checked, wrong


@pytest.mark.slow
def test_concurrent_writers_lose_nothing_and_a_reader_sees_only_whole_runs(store_url: str) -> None:
    open_store(store_url).close()  # migrated once, before the race (opening a new database at once is tested below)
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        go, stop = manager.Event(), manager.Event()
        with ctx.Pool(WRITERS + 1) as pool:
            reader = pool.apply_async(_read, (store_url, go, stop))
            writers = [pool.apply_async(_write, (store_url, w, go)) for w in range(WRITERS)]
            time.sleep(0.5)  # every process has opened the store: all start writing at once
            go.set()
            results = [w.get(timeout=300) for w in writers]
            stop.set()
            checked, wrong = reader.get(timeout=300)
    assert wrong == []
    assert checked > 0
    store = open_store(store_url)
    runs = [store.get(s.id) for s in store.list(limit=10_000)]
    store.close()
    assert len(runs) == WRITERS * RUNS_EACH == sum(n for n, _ in results)
    assert len({r.id for r in runs}) == len(runs)
    assert sorted((r.inputs["writer"], r.inputs["i"]) for r in runs) == [
        (w, i) for w in range(WRITERS) for i in range(RUNS_EACH)
    ]
    assert all(r.status == "done" and r.outputs == _payload(r.inputs["writer"], r.inputs["i"]) for r in runs)
    slowest = max(t for _, t in results)
    print(f"{store_url.split(':')[0]}: {WRITERS} processes wrote {len(runs)} runs in {slowest:.2f} s "
          f"({len(runs) / slowest:.0f} runs/s)")  # fmt: skip


def _open_and_save(url: str, writer: int) -> str:
    store = open_store(url)
    rid = store.save("claims", {"writer": writer}, [], catalog_hash="h", overlays=[])
    store.close()
    return rid


@pytest.mark.slow
def test_processes_opening_a_new_database_at_once_migrate_it_once(store_url: str) -> None:
    ctx = mp.get_context("spawn")
    with ctx.Pool(WRITERS) as pool:
        ids = pool.starmap(_open_and_save, [(store_url, w) for w in range(WRITERS)])
    store = open_store(store_url)
    assert sorted(r.id for r in store.list()) == sorted(ids) and store.schema_version == HEAD
    store.close()
