"""`chipfleet plan serve --disagg`: the JSON carries both pools and the link; the tables show them; off is today's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chipfleet.cli import main

WORKLOAD = [
    "plan", "serve", "--model", "llama-3.1-8b", "--rate", "10/s", "--duration", "5min", "--input-tokens", "8k",
    "--output-tokens", "64", "--instances", "p5.4xlarge", "--slo-ttft-p90", "2s", "--slo-tpot-p90", "12ms",
    "--max-rounds", "1",
]  # fmt: skip


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main([*WORKLOAD, *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_json_has_both_pools_and_the_link(capsys: pytest.CaptureFixture[str]) -> None:
    plan = json.loads(_run(capsys, "--json", "--disagg", "on"))
    d = plan["disagg"]
    assert d["mode"] == "on" and d["chosen"] is True
    mix = d["mix"]
    assert [p["role"] for p in mix["prefill"]] == ["prefill"] and [p["role"] for p in mix["decode"]] == ["decode"]
    for pool in (*mix["prefill"], *mix["decode"]):
        assert pool["instance"] == "p5.4xlarge" and pool["count"] >= 1 and pool["tp"] == 1
    (link,) = mix["links"]
    assert link["bytes_per_s"] > 0 and 0 < link["utilisation"] <= 0.5
    assert mix["cost_usd_per_h"] == pytest.approx(sum(p["cost_usd_per_h"] for p in (*mix["prefill"], *mix["decode"])))
    assert d["rounds"] and d["status"].startswith("replayed")


def test_tables_show_the_split_and_the_decision(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys)
    for needle in ("Disaggregated fleet", "KV-cache transfer", "--disagg auto: the plan is", "Split search"):
        assert needle in out, needle


def test_off_has_no_split(capsys: pytest.CaptureFixture[str]) -> None:
    plan = json.loads(_run(capsys, "--json", "--disagg", "off", "--max-rounds", "0"))
    assert "disagg" not in plan and plan["mix"]["entries"]


def test_plot_split_writes_the_splits_chart_and_prints_its_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "charts" / "split.png"
    out = _run(capsys, "--plot-split", str(path))
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    assert out.rstrip().endswith(f"split chart: {path}")


@pytest.mark.parametrize("case", ["disagg off", "a folder"])
def test_plot_split_refused_before_the_plan(capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str) -> None:
    if case == "disagg off":
        args, why = ["--plot-split", str(tmp_path / "split.png"), "--disagg", "off"], "--disagg auto or on"
    else:
        args, why = ["--plot-split", str(tmp_path)], "is a folder"
    assert main([*WORKLOAD, *args]) != 0
    out, err = capsys.readouterr()
    assert why in err and "--plot-split" in err and "Traceback" not in err and out == ""
