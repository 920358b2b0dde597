"""`chipfleet sweep SPEC.yaml` and `chipfleet sweep report RUN`: dry runs, runs into a real store, reports, clear
errors, and a driver killed with SIGKILL at random moments that, run again, stores every point exactly once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chipfleet.cli import main
from chipfleet.store import RunStore, open_store
from chipfleet.store.points import SweepPoints

SPEC = """
name: cli-break-even
command: estimate train
fixed: {model: llama-3-8b, tokens: 10B, instances: 2}
axes:
  instance: [trn1.32xlarge, p5.48xlarge]
prices:
  custom: {instances: "trn*", values: [0.25, 0.5, 1.0, 2.0]}
outputs:
  cost_usd: footprint.cost_usd
  time_s: footprint.time_s
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_dry_run_json_gives_the_points_and_an_estimated_time(
    db: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    code, out, _ = run(capsys, "sweep", str(spec), "--dry-run", "--json", "--workers", "2")
    plan = json.loads(out)
    assert code == 0 and plan["points"] == 8 and plan["to_run"] == 8 and plan["workers"] == 2
    assert plan["estimated_s"] > 0 and plan["commands"] == ["estimate train"]
    assert db.list(kind="sweep") == []  # a dry run stores nothing


def test_a_sweep_runs_into_the_store_and_its_report_states_the_break_even(
    db: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    code, out, err = run(capsys, "sweep", str(spec), "--workers", "1", "--json")
    summary = json.loads(out)
    assert code == 0 and (summary["done"], summary["failed"], summary["ran_now"]) == (8, 0, 8)
    assert "8/8" in err  # the progress bar, on stderr
    [listed] = db.list(kind="sweep")
    assert listed.id == summary["sweep_id"] and listed.source == "sweep" and listed.status == "done"
    code, out, _ = run(capsys, "sweep", "report", listed.id[:8], "--json", "--csv", str(tmp_path / "p.csv"))
    rep = json.loads(out)
    assert code == 0 and rep["done"] == 8 and (tmp_path / "p.csv").is_file()
    [be] = [b for b in rep["break_even"] if b["output"] == "cost_usd"]
    assert 0.25 < be["at"] < 2.0 and be["low_side"] == "trn1.32xlarge" and be["high_side"] == "p5.48xlarge"
    code, out, _ = run(capsys, "sweep", "report", listed.id[:8])
    assert code == 0 and "break-even" in out and "Pareto front" in out and "break even at prices.custom" in out
    code, out, _ = run(capsys, "sweep", str(spec), "--json")  # again: resumes, nothing left to run
    assert json.loads(out)["ran_now"] == 0 and json.loads(out)["skipped"] == 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SPEC.replace("outputs:", "outputz:"), r"outputz: unknown key"),
        (
            SPEC.replace("[0.25, 0.5, 1.0, 2.0]", "[0.25, -1]"),
            r"prices.custom.values: multipliers must be finite and > 0",
        ),
        (SPEC.replace("instances: 2}", "instances: 2, batchsize: 3}"), r"has no option 'batchsize'"),
        # a typo in any axis value is refused before a point runs, with the names it may have meant
        (
            SPEC.replace("p5.48xlarge]", "p5.48xlarg]"),
            r"instance=p5.48xlarg, .* is not a valid .*Did you mean p5.48xlarge",
        ),
        (
            SPEC.replace("model: llama-3-8b", "model: llama-3-8bb"),
            r"unknown model 'llama-3-8bb'. Did you mean llama-3-8b",
        ),
    ],
)
def test_a_bad_spec_is_one_clear_line_and_exit_code_2(
    db: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    code, out, _ = run(capsys, "sweep", str(spec), "--json")
    error = json.loads(out)["error"]
    assert code == 2 and error["type"] == "ConfigError"
    assert __import__("re").search(message, error["message"]), error["message"]


def test_no_save_is_refused_since_a_sweep_resumes_from_its_stored_points(
    db: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    code, _, err = run(capsys, "--no-save", "sweep", str(spec))
    assert code == 2 and "cannot apply to it" in err
    assert db.list(kind="sweep") == []


def test_report_of_an_unknown_run_says_how_to_find_one(db: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sweep", "report", "abcdef12")
    assert code == 2 and "no run 'abcdef12'" in err


KILL_SPEC = """
name: kill-driver
command: simulate serve
fixed: {model: llama-3-8b, fleet: "p5.48xlarge:1", trace: azure-conv, requests: 1000}
axes:
  seed: {from: 0, to: 59, num: 60, integer: true}
outputs:
  p90: ttft_s.p90
"""


@pytest.mark.slow
def test_a_driver_killed_at_random_moments_then_rerun_stores_every_point_exactly_once(tmp_path: Path) -> None:
    spec = tmp_path / "kill.yaml"
    spec.write_text(KILL_SPEC)
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    env = {**os.environ, "CHIPFLEET_DB": url}
    cmd = [sys.executable, "-c", "from chipfleet.cli import run; run()", "sweep", str(spec), "--workers", "2", "--json"]
    rng = random.Random(15)
    kills = 0
    counts = []
    for _ in range(3):
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        time.sleep(rng.uniform(0.8, 2.5))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, at once
            kills += 1
        proc.wait()
        store = open_store(url)
        sweeps = SweepPoints(store).sweeps()
        counts.append(SweepPoints(store).count(sweeps[0]) if sweeps else 0)
        store.close()
    final = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=600)
    summary = json.loads(final.stdout)
    assert kills >= 1, "the sweep always finished before the kill: nothing was tested"
    assert counts == sorted(counts)  # what was stored before a kill stays stored
    store = open_store(url)
    rows = list(SweepPoints(store).points(summary["sweep_id"]))
    assert sorted(r.inputs["coords"]["seed"] for r in rows) == list(range(60))  # each point exactly once
    assert all(r.status == "done" and r.outputs and r.outputs["p90"] > 0 for r in rows)
    assert summary["done"] == 60 and summary["ran_now"] == 60 - counts[-1]
    assert store.get(summary["sweep_id"]).status == "done"
