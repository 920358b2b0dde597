"""The API against the CLI: the same JSON for the same options, 4xx with messages, files confined, auth, runs, jobs
in real worker processes (progress, done, cancel) and their server-sent events."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chipfleet.cli.root import main

pytestmark = pytest.mark.xdist_group("api_app")  # one app (module fixture) for the module under xdist

SERVE = {"model": "llama-3-8b", "instance": "p5.48xlarge", "batch": 8, "input_tokens": "2k", "output_tokens": 256}
PRICIER = """\
schema_version: 1
sources:
  mine: {ref: "our 2026 contract", as_of: "2026-10-01"}
instances:
  - name: p5.48xlarge
    prices:
      - {region: us-east-1, pricing: on-demand, value: 200, unit: USD/h, source: mine}
"""
# a job of about ten seconds: the serving planner on a whole trace (cancelled before it ends)
LONG_JOB = {"model": "llama-3-70b", "trace": "azure-conv", "slo_ttft_p90": "2s", "slo_tpot_p90": "100ms"}


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert main(["--no-save", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("url", "body", "argv"),
    [
        ("/api/estimate/serve", SERVE, ["estimate", "serve", "--model", "llama-3-8b", "--instance", "p5.48xlarge",
                                        "--batch", "8", "--input-tokens", "2k", "--output-tokens", "256"]),
        ("/api/estimate/train", {"model": "llama-3-8b", "instance": "p5.48xlarge", "instances": 4, "tokens": 1e12},
         ["estimate", "train", "--model", "llama-3-8b", "--instance", "p5.48xlarge", "--instances", "4",
          "--tokens", "1T"]),
        ("/api/catalog/chips", {"vendor": "aws"}, ["catalog", "chips", "--vendor", "aws"]),
        ("/api/catalog/show", {"name": "trn2.48xlarge"}, ["catalog", "show", "trn2.48xlarge"]),
        ("/api/models/show", {"name": "llama-3-70b"}, ["models", "show", "llama-3-70b"]),
    ],
)  # fmt: skip
def test_an_endpoint_answers_what_the_cli_prints(
    client: TestClient, capsys: pytest.CaptureFixture[str], url: str, body: dict[str, Any], argv: list[str]
) -> None:
    r = client.post(url, json=body)
    assert r.status_code == 200, r.text
    assert r.json() == cli_json(capsys, *argv)
    kind = url.removeprefix("/api/").replace("/", " ")
    if not kind.startswith("estimate"):  # listings are not runs: not saved, as in the CLI
        assert "x-chipfleet-run" not in r.headers
        return
    saved = client.get(f"/api/runs/{r.headers['x-chipfleet-run']}").json()
    assert saved["source"] == "api" and saved["status"] == "done" and saved["outputs"] == r.json()
    assert saved["kind"] == kind


def test_bad_input_is_a_4xx_that_says_what_and_how_to_fix(client: TestClient) -> None:
    r = client.post("/api/estimate/serve", json={**SERVE, "input_tokens": "2q"})
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "UsageError" and body["field"] == "input_tokens"
    assert "input_tokens '2q'" in body["message"] and "e.g. 512, 2k" in body["message"]
    assert "--" not in body["message"]  # the API's names, not the CLI's options

    r = client.post("/api/estimate/serve", json={**SERVE, "instance": "p5.48xlarg"})
    assert r.status_code == 400
    assert r.json()["error"] == "UnknownNameError" and "p5.48xlarge" in r.json()["suggestions"]
    assert r.json()["field"] == "instance" and "POST /api/catalog/instances lists them all" in r.json()["message"]
    failed = client.get("/api/runs", params={"kind": "estimate serve", "status": "failed"}).json()
    assert failed and "p5.48xlarg" in failed[0]["error"]  # a command that ran and failed is saved, as in the CLI

    r = client.post("/api/estimate/serve", json={"model": "llama-3-8b"})
    assert r.status_code == 422
    assert r.json() == {"error": "ValidationError", "field": "instance",
                        "message": "instance is required; give it in the JSON body (see /openapi.json)"}  # fmt: skip
    r = client.post("/api/estimate/serve", json={**SERVE, "batch": 0})
    assert r.status_code == 422 and r.json()["field"] == "batch" and "at least" not in r.json()["message"].lower()
    r = client.post("/api/estimate/serve", json={**SERVE, "bacth": 8})
    assert r.status_code == 422 and "bacth is not an option of this command" in r.json()["message"]
    r = client.post("/api/estimate/serve", json={**SERVE, "model": None})
    assert r.status_code == 400 and "model" in r.json()["message"] and "model_config" in r.json()["message"]


def test_files_outside_the_data_folder_are_refused(client: TestClient, files: Path, tmp_path: Path) -> None:
    for name in ("/etc/passwd", "../runs.sqlite", "x/../../runs.sqlite"):
        r = client.post("/api/estimate/serve", json={**SERVE, "catalog": [name]})
        assert r.status_code == 400 and r.json()["field"] == "catalog", r.text
        r = client.post("/api/simulate/serve", json={"trace": name, "fleet": "p5.48xlarge:1", "model": "llama-3-8b"})
        assert r.status_code == 400 and r.json()["field"] == "trace", r.text
    (tmp_path / "secret.json").write_text("{}")
    (files / "link.json").symlink_to(tmp_path / "secret.json")
    r = client.post("/api/models/show", json={"model_config": "link.json"})
    assert r.status_code == 400 and "outside the data folder" in r.json()["message"]
    r = client.post("/api/models/show", json={"name": str(tmp_path)})
    assert r.status_code == 400 and r.json()["field"] == "name"
    r = client.post("/api/simulate/serve?wait=true", json={"trace": "azure-conv", "fleet": "p5.48xlarge:1",
                                                           "model": "llama-3-8b", "plot": "/tmp/charts"})  # fmt: skip
    assert r.status_code == 400 and r.json()["field"] == "plot"


def test_a_broken_sweep_spec_is_a_400(client: TestClient, files: Path) -> None:
    (files / "broken.yaml").write_text("name: [\n")
    r = client.post("/api/sweep/run", json={"spec_file": "broken.yaml"})
    assert r.status_code == 400 and r.json()["error"] == "ConfigError" and "not valid YAML" in r.json()["message"]


def test_an_overlay_in_the_data_folder_is_used_and_saved_with_the_run(client: TestClient, files: Path) -> None:
    base = client.post("/api/estimate/serve", json=SERVE)
    (files / "pricier.yaml").write_text(PRICIER)
    r = client.post("/api/estimate/serve", json={**SERVE, "catalog": ["pricier.yaml"], "region": "us-east-1"})
    assert r.status_code == 200, r.text
    run = client.get(f"/api/runs/{r.headers['x-chipfleet-run']}").json()
    assert run["overlays"][0]["path"] == "pricier.yaml" and "value: 200" in run["overlays"][0]["text"]
    diff = client.get(f"/api/runs/{base.headers['x-chipfleet-run']}/diff/{run['id']}").json()
    assert diff["catalog_hash"] is not None and diff["overlays"][0]["status"] == "added"


def test_concurrent_requests_keep_their_own_options_and_catalog(client: TestClient, files: Path) -> None:
    """The CLI's state (catalog overlays, stdout) is per process: concurrent requests must not see each other's."""
    (files / "pricier.yaml").write_text(PRICIER)
    bodies = [{**SERVE, "batch": b, "region": "us-east-1", **({"catalog": ["pricier.yaml"]} if b % 2 else {})}
              for b in range(1, 13)]  # fmt: skip
    alone = [client.post("/api/estimate/serve", json=b).json() for b in bodies]
    with ThreadPoolExecutor(12) as pool:
        together = list(pool.map(lambda b: client.post("/api/estimate/serve", json=b).json(), bodies * 3))
    assert together == alone * 3
    assert alone[0]["cost_usd_per_million_tokens"] > alone[1]["cost_usd_per_million_tokens"]  # the overlay counted


def test_the_api_and_the_cli_save_the_same_inputs_for_the_same_options(
    client: TestClient, api_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the CLI saves into the API's store; the request gives quantities as text and numbers, the CLI as flags
    monkeypatch.setenv("CHIPFLEET_DB", f"sqlite:///{api_root / 'runs.sqlite'}")
    body = {**SERVE, "input_tokens": 2048, "output_tokens": "256"}
    api_id = client.post("/api/estimate/serve", json=body).headers["x-chipfleet-run"]
    argv = ["estimate", "serve", "--model", "llama-3-8b", "--instance", "p5.48xlarge", "--batch", "8",
            "--input-tokens", "2k", "--output-tokens", "256", "--json"]  # fmt: skip
    assert main(argv) == 0
    cli_id = client.get("/api/runs", params={"kind": "estimate serve", "limit": 1}).json()[0]["id"]
    api, cli = client.get(f"/api/runs/{api_id}").json(), client.get(f"/api/runs/{cli_id}").json()
    assert (api["source"], cli["source"]) == ("api", "cli")
    assert api["inputs"] == cli["inputs"] and api["inputs"]["input_tokens"] == 2048
    diff = client.get(f"/api/runs/{api_id}/diff/{cli_id}").json()
    assert diff["inputs"] == [] and diff["catalog_hash"] is None


def test_a_job_with_bad_options_is_refused_before_it_starts(client: TestClient) -> None:
    before = len(client.get("/api/runs", params={"kind": "plan serve", "limit": 500}).json())
    r = client.post("/api/plan/serve", json={**LONG_JOB, "slo_ttft_p90": "fast"})
    assert r.status_code == 400 and "slo_ttft_p90" in r.json()["message"]
    assert len(client.get("/api/runs", params={"kind": "plan serve", "limit": 500}).json()) == before


def test_runs_are_listed_shown_and_deleted(client: TestClient) -> None:
    run_id = client.post("/api/estimate/serve", json=SERVE).headers["x-chipfleet-run"]
    listed = client.get("/api/runs", params={"kind": "estimate serve", "limit": 500}).json()
    assert run_id in {r["id"] for r in listed}
    assert client.get(f"/api/runs/{run_id[:12]}").json()["id"] == run_id  # a unique prefix will do
    assert client.delete(f"/api/runs/{run_id}").status_code == 204
    r = client.get(f"/api/runs/{run_id}")
    assert r.status_code == 404 and "GET /api/runs" in r.json()["message"]
    assert client.get("/api/runs", params={"status": "bogus"}).status_code == 400


def test_a_token_guards_every_write_and_never_reads(token_client: TestClient) -> None:
    assert token_client.get("/api/health").status_code == 200
    assert token_client.get("/api/runs").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
        r = token_client.post("/api/estimate/serve", json=SERVE, headers=headers)
        assert r.status_code == 401 and "Authorization: Bearer" in r.json()["message"]
        assert token_client.delete("/api/runs/0123", headers=headers).status_code == 401
    ok = token_client.post("/api/estimate/serve", json=SERVE, headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200


def test_without_a_token_only_requests_addressed_to_this_machine_are_answered(
    client: TestClient, token_client: TestClient
) -> None:
    # a page of another site whose name resolves to 127.0.0.1 (DNS rebinding) must not reach a token-less server
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", ""):
        r = client.get("/api/runs", headers={"Host": host})
        assert r.status_code == 400 and r.json()["error"] == "HostNotAllowed" and "token" in r.json()["message"]
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "LOCALHOST:1"):
        assert client.get("/api/health", headers={"Host": host}).status_code == 200
    assert token_client.get("/api/health", headers={"Host": "chipfleet.internal"}).status_code == 200


def test_the_api_offers_no_ray_address_for_a_sweep(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    sweep = next(v for k, v in schema.items() if k.lower().startswith("sweeprun"))
    assert "address" not in sweep["properties"] and "spec_file" in sweep["properties"]
    r = client.post("/api/sweep/run", json={"spec_file": "s.yaml", "address": "ray://203.0.113.5:10001"})
    assert r.status_code == 422 and "address is not an option" in r.json()["message"]


def _wait(client: TestClient, run_id: str, until: set[str], timeout_s: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/jobs/{run_id}").json()
        if job["status"] in until or (job["message"] in until and job["status"] == "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {run_id} never reached {until}: {job}")


@pytest.mark.slow
def test_a_job_runs_in_a_worker_reports_progress_and_lands_in_the_store(client: TestClient, capsys: Any) -> None:
    body = {"trace": "azure-code", "fleet": "p5.48xlarge:1", "model": "llama-3-8b", "requests": 3000, "plot": "charts"}
    r = client.post("/api/simulate/serve", json=body)
    assert r.status_code == 202
    run_id = r.json()["run_id"]
    assert r.json()["status_url"] == f"/api/jobs/{run_id}" and r.json()["events_url"].endswith("/events")
    events: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", f"/api/jobs/{run_id}/events") as stream:
        kind = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
    assert [k for k, _ in events][-1] == "done" and {k for k, _ in events[:-1]} == {"progress"}
    fractions = [e["progress"] for k, e in events if k == "progress"]
    assert fractions == sorted(fractions)
    job = events[-1][1]
    assert job["status"] == "done" and job["progress"] == 1.0
    argv = ["simulate", "serve", "--trace", "azure-code", "--fleet", "p5.48xlarge:1", "--model", "llama-3-8b",
            "--requests", "3000"]  # fmt: skip
    assert job["result"] == cli_json(capsys, *argv)
    assert "charts/latency_cdf.png" in job["files"]
    png = client.get(f"/api/runs/{run_id}/files/charts/latency_cdf.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert client.get(f"/api/runs/{run_id}/files/../../runs.sqlite").status_code == 404
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "done" and run["timings"]["wall_s"] > 0 and run["inputs"]["requests"] == 3000
    assert client.delete(f"/api/jobs/{run_id}").status_code == 409  # nothing left to cancel


@pytest.mark.slow
def test_a_job_is_cancelled_by_terminating_its_worker(client: TestClient) -> None:
    run_id = client.post("/api/plan/serve", json=LONG_JOB).json()["run_id"]
    _wait(client, run_id, {"starting", "done", "failed"})
    r = client.delete(f"/api/jobs/{run_id}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.get(f"/api/jobs/{run_id}").json()["error"] == "cancelled by request"
    with client.stream("GET", f"/api/jobs/{run_id}/events") as stream:
        assert "event: cancelled" in stream.read().decode()


@pytest.mark.slow
def test_a_job_deleted_while_it_runs_ends_its_event_stream_saying_so(client: TestClient) -> None:
    run_id = client.post("/api/plan/serve", json=LONG_JOB).json()["run_id"]
    _wait(client, run_id, {"starting", "done", "failed"})
    events = []
    with client.stream("GET", f"/api/jobs/{run_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
                if len(events) == 1:
                    assert client.delete(f"/api/runs/{run_id}").status_code == 204
    assert events[-1] == "deleted" and client.get(f"/api/jobs/{run_id}").status_code == 404


@pytest.mark.slow
def test_a_failing_job_says_why_and_wait_answers_when_it_ends(client: TestClient) -> None:
    r = client.post("/api/simulate/serve?wait=true", json={"trace": "azure-conv", "fleet": "p5.48xlarg:1",
                                                           "model": "llama-3-8b"})  # fmt: skip
    assert r.status_code == 200
    job = r.json()
    assert job["status"] == "failed" and "UnknownNameError" in job["error"] and "p5.48xlarge" in job["error"]
