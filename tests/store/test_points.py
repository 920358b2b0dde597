"""A sweep's run in the store: a rerun takes the edited spec, a live driver's sweep is not taken over, lost points
are replaced."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from chipfleet.exceptions import ConfigError
from chipfleet.store import open_store
from chipfleet.store.models import Run
from chipfleet.store.points import LOST, PointRow, SweepPoints

SID = "ab" * 16


def _row(status: str, error: str | None) -> PointRow:
    return PointRow("p1", 0, status, {}, {"x": 1} if status == "done" else None, None, error, 0.1, "w")


def test_a_rerun_keeps_the_edited_spec_and_a_live_drivers_sweep_is_refused(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    table = SweepPoints(store)
    assert table.open_sweep(SID, {"spec": {"name": "a"}, "spec_path": "a.yaml"}, catalog_hash="h", overlays=[]) is False
    store.finish(SID, {})
    assert table.open_sweep(SID, {"spec": {"name": "b"}, "spec_path": "b.yaml"}, catalog_hash="h", overlays=[])
    assert store.get(SID).inputs == {"spec": {"name": "b"}, "spec_path": "b.yaml"}  # `sweep report` reads this
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with store._write() as s:  # another live process of this host is running the sweep
            s.execute(update(Run).where(Run.id == SID).values(owner=f"{socket.gethostname()}:{driver.pid}"))
        with pytest.raises(ConfigError, match=rf"sweep {SID} is running in .*:{driver.pid}; wait for it or stop it"):
            table.open_sweep(SID, {"spec": {"name": "c"}}, catalog_hash="h", overlays=[])
    finally:
        driver.kill()
        driver.wait()
    assert table.open_sweep(SID, {"spec": {"name": "c"}}, catalog_hash="h", overlays=[])  # its owner is gone
    assert store.get(SID).status == "running" and store.get(SID).inputs == {"spec": {"name": "c"}}


def test_a_lost_point_is_retried_and_replaced_but_an_answer_is_kept(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    table = SweepPoints(store)
    table.open_sweep(SID, {}, catalog_hash="h", overlays=[])
    assert table.write(SID, [_row("failed", f"{LOST}the worker process died")]) == 1
    assert table.stored(SID, ["p1"]) == set() and table.count(SID, lost=False) == 0 and table.count(SID) == 1
    assert table.write(SID, [_row("done", None)]) == 1
    assert table.stored(SID, ["p1"]) == {"p1"} and [p.status for p in table.points(SID)] == ["done"]
    assert table.write(SID, [_row("failed", "DoesNotFitError: no")]) == 0  # an answer stays as it is
    assert [p.status for p in table.points(SID)] == ["done"]
