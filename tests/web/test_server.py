"""The app under a real uvicorn process: kill -9 during a job loses no run and leaves none half-written; the token
never reaches the log; `chipfleet serve-app` refuses to listen beyond loopback without a token."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from chipfleet.cli.root import main
from chipfleet.store import open_store

from .server import Server, alive, free_port

pytestmark = pytest.mark.xdist_group("api_server")

SERVE = {"model": "llama-3-8b", "instance": "p5.48xlarge", "batch": 8}
LONG_JOB = {"model": "llama-3-70b", "trace": "azure-conv", "slo_ttft_p90": "2s", "slo_tpot_p90": "100ms"}


def _job(server: Server, run_id: str) -> dict[str, Any]:
    job: dict[str, Any] = httpx.get(f"{server.url}/api/jobs/{run_id}", timeout=10).json()
    return job


@pytest.mark.slow
def test_kill_9_during_a_job_loses_no_run_and_the_job_is_failed_on_restart(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    server = Server(tmp_path / "data", db, free_port(), tmp_path / "server.log").start()
    try:
        earlier = [httpx.post(f"{server.url}/api/estimate/serve", json={**SERVE, "batch": b}, timeout=60)
                   for b in (1, 2, 4)]  # fmt: skip
        assert all(r.status_code == 200 for r in earlier)
        kept = {r.headers["x-chipfleet-run"]: r.json() for r in earlier}
        run_id = httpx.post(f"{server.url}/api/plan/serve", json=LONG_JOB, timeout=60).json()["run_id"]
        deadline = time.monotonic() + 60
        while _job(server, run_id)["message"] in ("queued", "") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _job(server, run_id)["status"] == "running"  # the worker is at it
        workers = server.children()
        assert workers
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(10)
        deadline = time.monotonic() + 30  # the workers notice their server is gone and exit
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in workers)

        server.start()
        job = _job(server, run_id)
        assert job["status"] == "failed" and job["result"] is None
        assert job["error"] == "interrupted: the server stopped while it ran; re-run it"
        for rid, outputs in kept.items():  # every earlier run intact
            run = httpx.get(f"{server.url}/api/runs/{rid}", timeout=10).json()
            assert run["status"] == "done" and run["outputs"] == outputs
        store = open_store(db)
        statuses = {r.id: r.status for r in store.list(limit=100)}
        assert "running" not in statuses.values()  # nothing left half-way
        assert all(r.outputs is not None for r in (store.get(i) for i, s in statuses.items() if s == "done"))
    finally:
        server.stop()


@pytest.mark.slow
def test_the_token_is_required_and_never_logged(tmp_path: Path) -> None:
    token = "tok-" + os.urandom(12).hex()
    log = tmp_path / "server.log"
    server = Server(tmp_path / "data", f"sqlite:///{tmp_path / 'runs.sqlite'}", free_port(), log, token=token).start()
    try:
        url = f"{server.url}/api/estimate/serve"
        assert httpx.post(url, json=SERVE, timeout=60).status_code == 401
        assert httpx.post(url, json=SERVE, headers={"Authorization": "Bearer nope"}, timeout=60).status_code == 401
        ok = httpx.post(url, json=SERVE, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert ok.status_code == 200
        assert httpx.get(f"{server.url}/api/runs", timeout=10).status_code == 200
    finally:
        server.stop()
    text = log.read_text()
    assert "POST /api/estimate/serve" in text and "401" in text  # the access log is on...
    assert token not in text  # ...and shows paths, never the header


def test_serve_app_refuses_a_public_interface_without_a_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CHIPFLEET_API_TOKEN", raising=False)
    assert main(["serve-app", "--host", "0.0.0.0", "--port", "8123"]) == 2
    err = capsys.readouterr().err
    assert "a token is required" in err and "--token-file" in err
    empty = tmp_path / "token"
    empty.write_text("\n")
    assert main(["serve-app", "--host", "0.0.0.0", "--token-file", str(empty)]) == 2
    assert "is empty" in capsys.readouterr().err
