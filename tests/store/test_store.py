"""The run store on a real SQLite file and a real PostgreSQL database: each write whole, lookups, listing, recovery."""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Iterator

import pytest

from chipfleet.exceptions import ConfigError, NotFoundError
from chipfleet.store import RunStore, open_store
from chipfleet.store.migrate import HEAD
from chipfleet.store.store import INTERRUPTED, owner_alive_here, owner_here

OVERLAY = {"path": "/tmp/prices.yaml", "sha256": "ab" * 32, "text": "instances: []\n"}


@pytest.fixture
def store(store_url: str) -> Iterator[RunStore]:
    s = open_store(store_url)
    yield s
    s.close()


def test_a_run_goes_from_running_to_done_with_its_outputs(store: RunStore) -> None:
    rid = store.start("plan serve", {"model": "llama-3-70b", "batch": 8}, catalog_hash="h1", overlays=[OVERLAY])
    run = store.get(rid)
    assert (run.status, run.outputs, run.progress, run.finished_at) == ("running", None, 0.0, None)
    assert run.owner == owner_here() and run.source == "cli" and run.version
    store.progress(rid, 0.4, "replaying")
    assert (store.get(rid).progress, store.get(rid).progress_message) == (0.4, "replaying")
    store.finish(rid, {"cost_usd_per_hour": 12.5, "mix": [{"instance": "p5.48xlarge", "count": 2}]},
                 timings={"wall_s": 1.5})  # fmt: skip
    run = store.get(rid)
    assert run.status == "done" and run.progress == 1.0 and run.finished_at is not None
    assert run.outputs == {"cost_usd_per_hour": 12.5, "mix": [{"instance": "p5.48xlarge", "count": 2}]}
    assert run.inputs == {"model": "llama-3-70b", "batch": 8}
    assert run.overlays == [OVERLAY] and run.catalog_hash == "h1" and run.timings == {"wall_s": 1.5}
    assert run.created_at.tzinfo is not None and run.finished_at >= run.created_at


def test_save_writes_a_finished_run_and_non_finite_numbers_become_null(store: RunStore) -> None:
    rid = store.save("estimate serve", {"batch": 1}, {"tpot_s": math.inf, "ok": 1.0}, catalog_hash="h",
                     overlays=[], timings={"wall_s": 0.2}, source="api")  # fmt: skip
    run = store.get(rid)
    assert (run.status, run.source, run.outputs) == ("done", "api", {"tpot_s": None, "ok": 1.0})


def test_a_failed_or_cancelled_run_keeps_its_error_and_is_not_finished_afterwards(store: RunStore) -> None:
    failed = store.start("simulate serve", {}, catalog_hash="h", overlays=[])
    store.fail(failed, "DoesNotFitError: too big")
    cancelled = store.start("plan serve", {}, catalog_hash="h", overlays=[])
    store.fail(cancelled, "cancelled by the user", status="cancelled")
    store.finish(cancelled, {"late": 1})  # a job that ends after its cancellation stays cancelled
    store.progress(cancelled, 0.9)
    assert (store.get(failed).status, store.get(failed).error) == ("failed", "DoesNotFitError: too big")
    run = store.get(cancelled)
    assert (run.status, run.outputs, run.progress) == ("cancelled", None, 0.0)
    with pytest.raises(ConfigError, match="status must be one of failed, cancelled"):
        store.fail(failed, "x", status="done")


def test_lookups_by_prefix_and_clear_errors_for_unknown_and_ambiguous_ids(store: RunStore) -> None:
    ids = [store.save("estimate train", {"i": i}, {"i": i}, catalog_hash="h", overlays=[]) for i in range(40)]
    assert store.get(ids[3][:10]).id == ids[3]
    assert store.get(ids[3].upper()).id == ids[3]
    with pytest.raises(NotFoundError, match=r"no run 'ffffffff0000' in the run store .*chipfleet runs list") as err:
        store.get("ffffffff0000")
    assert err.value.field == "run"
    with pytest.raises(NotFoundError):
        store.get("not-an-id%")
    first = {i[0] for i in ids}
    shared = next(c for c in first if sum(i.startswith(c) for i in ids) > 1)
    with pytest.raises(ConfigError, match=f"run id prefix '{shared}' matches several runs: .*give more characters"):
        store.get(shared)
    with pytest.raises(NotFoundError):
        store.finish("0" * 32, {})


def test_list_is_newest_first_and_filters_by_kind_and_status(store: RunStore) -> None:
    a = store.save("plan train", {}, {}, catalog_hash="h", overlays=[])
    b = store.start("plan serve", {}, catalog_hash="h", overlays=[])
    c = store.save("plan serve", {}, {}, catalog_hash="h", overlays=[], timings={"wall_s": 2.0})
    assert [r.id for r in store.list()] == [c, b, a]
    assert [r.id for r in store.list(kind="plan serve")] == [c, b]
    assert [r.id for r in store.list(status="running")] == [b]
    assert [r.id for r in store.list(limit=1, offset=1)] == [b]
    assert store.list(kind="plan serve")[0].wall_s == 2.0
    assert store.count() == 3 and store.count(kind="plan serve", status="done") == 1
    with pytest.raises(ConfigError, match="status must be one of running, done, failed, cancelled"):
        store.list(status="finished")
    with pytest.raises(ConfigError, match="limit must be from 1"):
        store.list(limit=0)


def test_delete_removes_one_run(store: RunStore) -> None:
    keep = store.save("claims", {}, [], catalog_hash="h", overlays=[])
    gone = store.save("claims", {}, [], catalog_hash="h", overlays=[])
    store.delete(gone[:12])
    assert [r.id for r in store.list()] == [keep]
    with pytest.raises(NotFoundError):
        store.delete(gone)


def test_runs_of_a_dead_owner_become_failed_interrupted(store: RunStore) -> None:
    mine = store.start("plan serve", {}, catalog_hash="h", overlays=[])
    theirs = store.start("plan serve", {}, catalog_hash="h", overlays=[])
    done = store.save("plan serve", {}, {}, catalog_hash="h", overlays=[])
    assert store.recover_interrupted() == []  # this process is alive
    assert sorted(store.recover_interrupted(lambda owner: False)) == sorted([mine, theirs])
    for rid in (mine, theirs):
        run = store.get(rid)
        assert (run.status, run.error) == ("failed", INTERRUPTED) and run.finished_at is not None
    assert store.get(done).status == "done"
    assert store.recover_interrupted(lambda owner: False) == []


def test_an_owner_is_alive_while_its_process_is() -> None:
    host = socket.gethostname()
    assert owner_alive_here(f"{host}:{os.getpid()}")
    assert not owner_alive_here(f"{host}:{2**22 + 12345}")  # above Linux's pid_max: no such process
    assert owner_alive_here("another-host:1")  # cannot be checked from here: trusted


def test_reopening_a_store_keeps_its_runs_and_schema_version(store_url: str) -> None:
    first = open_store(store_url)
    rid = first.save("validate", {}, {"mape": 0.1}, catalog_hash="h", overlays=[])
    first.close()
    again = open_store(store_url)
    assert again.get(rid).outputs == {"mape": 0.1} and again.schema_version == HEAD
    again.close()


def test_bad_inputs_are_refused_with_a_reason(store: RunStore) -> None:
    with pytest.raises(ConfigError, match="source must be one of cli, api, sweep"):
        store.start("plan serve", {}, catalog_hash="h", overlays=[], source="web")
    with pytest.raises(ConfigError, match="kind must be 1 to 64 characters"):
        store.start("", {}, catalog_hash="h", overlays=[])
    with pytest.raises(ConfigError, match="inputs must be a mapping"):
        store.start("plan serve", [1, 2], catalog_hash="h", overlays=[])  # type: ignore[arg-type]


def test_a_run_left_running_by_a_killed_process_is_recovered_as_interrupted(store_url: str) -> None:
    import signal
    import subprocess
    import sys

    code = (
        "import os, signal, sys\n"
        "from chipfleet.store import open_store\n"
        "s = open_store(sys.argv[1])\n"
        "print(s.start('plan serve', {}, catalog_hash='h', overlays=[]), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    child = subprocess.run([sys.executable, "-c", code, store_url], capture_output=True, text=True, check=False)
    assert child.returncode == -signal.SIGKILL
    rid = child.stdout.strip()
    store = open_store(store_url)
    assert store.get(rid).status == "running"
    assert store.recover_interrupted() == [rid]  # its owner (this host, the child's pid) is gone
    assert (store.get(rid).status, store.get(rid).error) == ("failed", INTERRUPTED)
    other = store.start("plan serve", {}, catalog_hash="h", overlays=[])
    said = "interrupted: the server stopped while it ran; re-run it"
    assert store.recover_interrupted(lambda owner: False, message=said) == [other]
    assert store.get(other).error == said
    store.close()
