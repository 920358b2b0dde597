"""`chipfleet simulate serve --prefill ... --decode ...`: disaggregated runs across vendors, and the specs that
cannot work, each a non-zero exit naming the option and saying why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chipfleet.cli import main
from chipfleet.sim.serving import DISAGG_ROUTERS

RUN = ["simulate", "serve", "--model", "llama-3.1-8b", "--trace", "mooncake-conv", "--requests", "300"]


@pytest.mark.parametrize(
    ("prefill", "decode", "link"),
    [
        ("trn2.48xlarge:1", "inf2.48xlarge:2:tp=2", "data-centre network"),
        ("p6-b200.48xlarge:1:tp=4", "p5en.48xlarge:1", "RDMA scale-out"),
    ],
)
def test_a_cross_vendor_split_runs_and_reports_both_pools_and_the_link(
    capsys: pytest.CaptureFixture[str], prefill: str, decode: str, link: str
) -> None:
    argv = [*RUN, "--prefill", prefill, "--decode", decode, "--slo-ttft-p90", "2s", "--slo-tpot-p90", "50ms"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["completed"] == 300 and out["prefill"] == prefill and out["decode"] == decode
    assert [p["role"] for p in out["pools"]] == ["prefill", "decode"]
    assert out["link"]["kind"] == link and out["link"]["transfers"] == 300 and out["link"]["bytes_moved"] > 0
    assert 0 <= out["slo_attainment"] <= 1 and out["router"] == "kv-aware"
    assert out["ttft_s"]["mean"] > out["link"]["transfer_s"]["mean"] > 0
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "KV-cache link" in text and link in text and "prefill" in text and "decode" in text


def test_router_and_region_reach_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*RUN, "--prefill", "p5.48xlarge:1", "--decode", "p5en.48xlarge:1", "--router", "load-aware",
            "--region", "us-west-2", "--json"]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["router"] == "load-aware" and [p["region"] for p in out["pools"]] == ["us-west-2", "us-west-2"]


@pytest.mark.parametrize(
    ("extra", "flag", "why"),
    [
        (["--prefill", "p5.48xlarge:1"], "--decode", "is missing"),
        (["--decode", "p5.48xlarge:1"], "--prefill", "is missing"),
        (["--prefill", "p5.48xlarge:1", "--decode", "inf2.48xlarge:1"], "--decode", "KV cache"),
        (["--prefill", "p5.48xlarge:1", "--decode", "a3-highgpu-8g:1"], "--decode", "no link"),
        (
            ["--prefill", "p5.48xlarge:1:region=us-east-1", "--decode", "p5en.48xlarge:1:region=us-west-2"],
            "--decode",
            "no link",
        ),
        (["--prefill", "p5.48xlarge:1", "--decode", "p5.48xlarge:1:tp=3"], "--decode", "tp=3"),
        (["--prefill", "p5.48xlarge", "--decode", "p5.48xlarge:1"], "--prefill", "INSTANCE:COUNT"),
        (["--prefill", "p5.48xlarge:1", "--decode", "p99.48xlarge:1"], "p99.48xlarge", "instance"),
        (["--prefill", "p5.48xlarge:1", "--decode", "p5.48xlarge:1", "--router", "nearest"], "nearest", "router"),
        (
            ["--prefill", "p5.48xlarge:1", "--decode", "p5.48xlarge:1", "--fleet", "p5.48xlarge:1"],
            "--fleet",
            "aggregated",
        ),
        (["--prefill", "p5.48xlarge:1", "--decode", "p5.48xlarge:1", "--tp", "2"], "--tp", "aggregated"),
        ([], "--fleet", "--prefill"),
    ],
)
def test_a_spec_that_cannot_work_is_a_clean_error(
    capsys: pytest.CaptureFixture[str], extra: list[str], flag: str, why: str
) -> None:
    assert main([*RUN, *extra]) != 0
    err = capsys.readouterr().err
    assert flag in err and why in err and "Traceback" not in err


def test_routers_lists_the_disaggregated_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "routers", "--disaggregated", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [{"name": e.name, "description": e.description} for e in DISAGG_ROUTERS.entries()]
    assert {e["name"] for e in listed} == {"kv-aware", "load-aware", "round-robin"}


PLOT_FILES = ("latency_cdf.png", "pools_over_time.png", "kv_link.png")
POOLS = ["--prefill", "p5.48xlarge:1", "--decode", "p5en.48xlarge:1", "--slo-ttft-p90", "2s", "--slo-tpot-p90", "50ms"]


def test_plot_writes_the_charts_and_prints_each_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "charts"
    assert main([*RUN, *POOLS, "--plot", str(out)]) == 0
    text = capsys.readouterr().out
    for name in PLOT_FILES:
        path = out / name
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
        assert f"chart: {path}" in text
    assert text.index("KV-cache link") < text.index("chart: ")  # the paths after the tables


def test_plot_with_json_keeps_stdout_json_and_names_the_charts_on_stderr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main([*RUN, *POOLS, "--plot", str(tmp_path), "--json"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    for pool in result["pools"]:
        assert len(pool["queue_series"]) == len(pool["utilization_series"]) > 0
    assert len(result["link"]["utilization_series"]) > 0
    for name in PLOT_FILES:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG") and str(tmp_path / name) in err


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_a_plot_folder_that_cannot_be_written_is_a_clean_error_before_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str
) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    target = blocker if where == "a file" else blocker / "charts"
    assert main([*RUN, *POOLS, "--plot", str(target)]) != 0
    out, err = capsys.readouterr()
    assert "--plot folder" in err and "is a file" in err and "Traceback" not in err
    assert out == "" and blocker.read_text() == "not a folder"
