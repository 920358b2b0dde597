"""The `chipfleet` command end to end: tables, JSON, exit codes and error messages."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chipfleet.cli import app as cli_app
from chipfleet.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_catalog_chips_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "chips", "--json")
    assert code == 0
    names = {c["name"] for c in json.loads(out)}
    assert {"trainium2", "inferentia2", "h100-sxm", "tpu-v5p"} <= names


@pytest.mark.parametrize("what", ["chips", "instances", "regions", "families"])
def test_catalog_tables(capsys: pytest.CaptureFixture[str], what: str) -> None:
    code, out, _ = run(capsys, "catalog", what)
    assert code == 0 and len(out.splitlines()) > 5


def test_catalog_show_lists_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "show", "trainium2")
    assert code == 0
    assert "aws-neuron" in out and "bf16" in out


def test_catalog_show_miss_says_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "catalog", "show", "trn1.32xlarg")
    assert code == 2
    assert "did you mean" in err.lower() and "trn1.32xlarge" in err


def test_estimate_train_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "estimate", "train", "--model", "llama-2-70b", "--instance", "p5.48xlarge", "--instances", "16",
        "--tokens", "1T", "--tp", "8", "--pp", "2", "--dp", "8", "--zero", "1", "--micro-batch", "1",
        "--global-batch", "1024", "--seq-len", "4096", "--recompute", "selective", "--json",
    )  # fmt: skip
    assert code == 0
    d = json.loads(out)
    step, fp = d["step"], d["footprint"]  # the TrainingEstimate record (chipfleet.serialize)
    for key in ("step_time_s", "tokens_per_s", "mfu", "memory", "parallelism", "breakdown", "bound"):
        assert key in step
    for key in ("cost_usd", "energy_kwh", "co2_kg", "price", "region"):
        assert key in fp
    assert d["time_s"] > 0 and d["assumptions"] and step["memory"]["total_bytes"] > 0
    assert step["parallelism"]["tp"] == 8 and step["parallelism"]["pp"] == 2 and step["parallelism"]["dp"] == 8
    assert 0 < step["mfu"] < 1
    assert d["time_s"] == pytest.approx(step["step_time_s"] * 1e12 / (1024 * 4096), rel=1e-3)


def test_estimate_train_chooses_parallelism(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "estimate", "train", "--model", "llama-3-8b", "--instance", "trn1.32xlarge", "--instances", "4",
        "--tokens", "100B", "--json",
    )  # fmt: skip
    assert code == 0
    d = json.loads(out)
    p = d["step"]["parallelism"]
    assert p["tp"] * p["pp"] * p["dp"] * p["cp"] == p["chips"] == 64
    assert d["parallelism_chosen"] is True


def test_estimate_train_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "estimate", "train", "--model", "llama-3-8b", "--instance", "p5.48xlarge", "--instances", "2",
        "--tokens", "10B",
    )  # fmt: skip
    assert code == 0 and "time to train" in out and "MFU" in out


def test_estimate_serve_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "estimate", "serve", "--model", "llama-3-8b", "--instance", "inf2.48xlarge", "--batch", "8",
        "--input-tokens", "2048", "--output-tokens", "2048", "--tp", "24", "--precision", "bf16", "--json",
    )  # fmt: skip
    assert code == 0
    d = json.loads(out)
    r = d["result"]  # the ServingEstimate record (chipfleet.serialize)
    for key in ("ttft_s", "tpot_s", "output_tokens_per_s", "max_batch"):
        assert r[key] > 0
    assert d["cost_usd_per_million_tokens"] > 0 and d["energy_j_per_token"] > 0
    assert r["tp"] == 12  # 24 NeuronCores = 12 Inferentia2 chips
    assert any("NeuronCores" in a for a in d["assumptions"])


def test_model_config_import(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = {
        "model_type": "llama", "num_hidden_layers": 2, "hidden_size": 512, "num_attention_heads": 8,
        "num_key_value_heads": 2, "intermediate_size": 1024, "vocab_size": 1000, "max_position_embeddings": 2048,
        "tie_word_embeddings": True,
    }  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    code, out, _ = run(capsys, "estimate", "serve", "--model-config", str(path), "--instance", "g6.xlarge", "--json")
    assert code == 0 and json.loads(out)["result"]["tp"] == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["estimate", "train", "--model", "llama-3-70b", "--instance", "p5.48xlarge", "--instances", "0",
          "--tokens", "1T"], "at least 1"),
        (["estimate", "train", "--model", "llama-3-70b", "--instance", "p5.48xlarge", "--instances", "2",
          "--tokens", "lots"], "--tokens"),
        (["estimate", "train", "--model", "llama-3-70c", "--instance", "p5.48xlarge", "--instances", "2",
          "--tokens", "1T"], "did you mean"),
        (["estimate", "train", "--model", "llama-3-70b", "--instance", "p5.48xlarge", "--instances", "2",
          "--tokens", "1T", "--tp", "3", "--pp", "1", "--dp", "5"], "does not divide"),
        (["estimate", "train", "--model", "llama-3.1-405b", "--instance", "p5.48xlarge", "--instances", "1",
          "--tokens", "1T"], "suggestion: use"),
        (["estimate", "serve", "--model", "llama-3.1-405b", "--instance", "g6.xlarge"], "suggestion"),
        (["estimate", "serve", "--model", "llama-3-8b", "--instance", "p5.48xlarge", "--region", "mars-1"],
         "unknown region 'mars-1'"),
        (["estimate", "serve", "--model", "llama-3-8b", "--instance", "p5e.48xlarge"], "no on-demand price"),
        (["estimate", "serve", "--model", "llama-3-8b", "--instance", "p5.48xlarge", "--batch", "0"], "at least 1"),
        (["estimate", "serve", "--instance", "p5.48xlarge"], "--model"),
        (["--catalog", "/nonexistent/overlay.yaml", "catalog", "chips"], "cannot read catalog file"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2
    assert needle.lower() in err.lower()


def test_usage_error_exits_nonzero(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "estimate", "train", "--no-such-option")
    assert code == 2


def test_console_script_runs() -> None:
    exe = shutil.which("chipfleet") or str(Path(sys.executable).parent / "chipfleet")
    proc = subprocess.run([exe, "catalog", "show", "nope"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown record" in proc.stderr


@pytest.mark.slow  # the whole demo: make test runs it, a bare pytest does not
def test_demo_writes_chart_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "demo", "--out", str(tmp_path))
    assert code == 0
    assert (tmp_path / "chipfleet-demo.png").stat().st_size > 10_000
    data = json.loads((tmp_path / "chipfleet-demo.json").read_text())
    assert {e["instance"] for e in data["training"]} >= {"trn1.32xlarge", "p5.48xlarge"}
    assert len(data["serving"]) >= 3
    assert data["serving_plan"]["mix"]["entries"] and data["serving_plan"]["meets_slo"] is True
    assert "Pre-training" in out and "Cheapest AWS fleet" in out


def test_validate_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", "--json")
    assert code == 0
    d = json.loads(out)
    assert set(d) >= {"mdape", "p90_ape", "coverage", "rows_in_scope", "by_family"}
    predicted, skipped = d["results"], d["skipped"]
    assert predicted and skipped
    assert set(predicted[0]) >= {"id", "metric", "measured", "predicted", "ape"}
    assert set(skipped[0]) >= {"id", "metric", "reason", "in_scope"}
    for fam in d["by_family"]:
        assert {"family", "mdape", "n"} <= set(fam)


def _hopper_rows(tmp_path: Path) -> Path:
    """The shipped calibration rows on H100/H200 (one family, its several sources): cross-validating them runs
    every step the whole file does, in a fraction of the time."""
    from chipfleet.validate.dataset import shipped_measurements

    with Path(shipped_measurements().path).open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if "H100" in r["accelerator"] or "H200" in r["accelerator"]]
        fields = reader.fieldnames
    assert fields is not None and len(rows) > 20
    path = tmp_path / "hopper.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.slow  # cross-validation: make test runs it, a bare pytest does not
def test_validate_cross_validated_html(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    html_path = tmp_path / "report.html"
    code, out, _ = run(capsys, "validate", "--cross-validate", "--data", str(_hopper_rows(tmp_path)), "--html",
                       str(html_path))  # fmt: skip
    assert code == 0 and "overall" in out
    page = html_path.read_text()
    assert "data:image/png;base64," in page and "GT0057" in page


def test_calibrate_writes_overlay(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # the table's family names stay whole on a narrow terminal
    # The user's own measurements (here the shipped AWS Neuron rows alone): their fit is a source of its own, so
    # its overlay loads over the shipped calibration instead of clashing with it.
    from chipfleet.validate.dataset import shipped_measurements

    lines = Path(shipped_measurements().path).read_text().splitlines()
    mine = tmp_path / "mine.csv"
    mine.write_text("\n".join([lines[0], *(ln for ln in lines[1:] if "trn" in ln.lower() or "inf" in ln.lower())]))
    out_path = tmp_path / "fit.yaml"
    code, out, _ = run(capsys, "calibrate", "--data", str(mine), "--out", str(out_path))
    assert code == 0 and "aws-neuron-v2" in out
    assert "chipfleet-calibration-" in out_path.read_text()  # the data's hash in its source id
    code, out, _ = run(capsys, "--catalog", str(out_path), "catalog", "show", "aws-neuron-v2", "--json")
    assert code == 0 and json.loads(out)["validated"] is True


def test_validate_bad_data_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,kind\n1,train\n")
    code, _, err = run(capsys, "validate", "--data", str(bad))
    assert code == 2 and "missing column" in err


def test_claims_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "claims", "--json")
    assert code == 0
    checks = json.loads(out)
    assert len(checks) >= 5
    assert {c["verdict"] for c in checks} <= {"holds", "holds only when", "not supported by published specs"}


def test_estimates_carry_ranges(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "estimate", "serve", "--model", "llama-3-8b", "--instance", "p5.48xlarge", "--batch", "8", "--json"
    )
    assert code == 0
    d = json.loads(out)
    low, high = d["ranges"]["output_tokens_per_s"]
    assert low < d["result"]["output_tokens_per_s"] < high
    assert d["validated"] is True  # nvidia-hopper is fitted and cross-validated
    lo_t, hi_t = d["ranges"]["tpot_s"]
    assert lo_t < d["result"]["tpot_s"] < hi_t


def test_plan_train_json_and_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "pareto.png"
    code, out, _ = run(
        capsys, "plan", "train", "--model", "llama-3-8b", "--tokens", "1T", "--deadline", "30d",
        "--clouds", "aws", "--top", "5", "--json", "--plot", str(png),
    )  # fmt: skip
    assert code == 0
    d = json.loads(out)
    assert 1 <= len(d["options"]) <= 5 and d["pareto"]
    for o in d["options"]:
        assert o["time_s"] <= 30 * 86400 and o["cloud"] == "aws"
    assert png.stat().st_size > 10_000
    html_path = tmp_path / "pareto.html"
    code, _, _ = run(capsys, "plan", "train", "--model", "llama-3-8b", "--tokens", "1T", "--plot", str(html_path))
    assert code == 0 and "Pareto front" in html_path.read_text()


def test_plan_train_infeasible_exits_nonzero(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "plan", "train", "--model", "llama-3-70b", "--tokens", "2T", "--deadline", "1d", "--budget", "1M"
    )
    assert code == 2
    assert "deadline" in err and "needs ≥" in err and "budget" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--deadline", "soon"], "--deadline"),
        (["--budget", "lots"], "--budget"),
        (["--regions", "mars-1"], "mars-1"),
        (["--max-chips", "0"], "max-chips"),
    ],
)
def test_plan_train_bad_input(capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    code, _, err = run(capsys, "plan", "train", "--model", "llama-3-8b", "--tokens", "1T", *args)
    assert code == 2 and needle in err


def test_simulate_serve_json_and_plots(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(
        capsys, "simulate", "serve", "--model", "llama-3-8b", "--fleet", "g6e.xlarge:2,inf2.48xlarge:1",
        "--trace", "azure-conv", "--requests", "2000", "--router", "power-of-two", "--seed", "3",
        "--slo-ttft-p90", "1s", "--slo-tpot-p90", "100ms", "--json", "--plot", str(tmp_path),
    )  # fmt: skip
    assert code == 0
    d = json.loads(out)
    assert d["completed"] == 2000 and d["requests"] == 2000
    assert {t["instance"] for t in d["by_type"]} == {"g6e.xlarge", "inf2.48xlarge"}
    assert 0 <= d["slo_attainment"] <= 1 and d["cost_usd"] > 0
    for name in ("latency_cdf.png", "utilization.png", "queue.png"):
        assert (tmp_path / name).stat().st_size > 5_000


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--fleet", "g6e.xlarge"], "INSTANCE:COUNT"),
        (["--fleet", "g6e.xlarge:1", "--trace", "azure-cnv"], "did you mean"),
        (["--fleet", "g6e.xlarge:1", "--router", "least-outstandin"], "did you mean"),
        (["--fleet", "g6e.xlarge:1", "--trace", "philly"], "holds jobs"),
        (["--fleet", "g6e.xlarge:1", "--slo-ttft-p90", "soon"], "--slo-ttft-p90"),
        (["--fleet", "g6e.xlarge:1", "--slo-ttft", "1"], "has no unit"),  # the old spelling, still accepted
        (["--fleet", "g6e.xlarge:1", "--slo-tpot-p90", "nan"], "--slo-tpot-p90"),
    ],
)
def test_simulate_serve_bad_input(capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    base = ["simulate", "serve", "--model", "llama-3-8b", "--trace", "azure-conv"]
    code, _, err = run(capsys, *base, *args)
    assert code == 2 and needle.lower() in err.lower()


def test_simulate_train_json_and_plots(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(
        capsys, "simulate", "train", "--fleet", "trn1.32xlarge:8,p5.48xlarge:2", "--trace", "philly",
        "--policy", "gavel-max-throughput", "--jobs", "3000", "--rate-scale", "50", "--json", "--plot", str(tmp_path),
    )  # fmt: skip
    assert code == 0
    d = json.loads(out)
    assert d["jobs"] == 3000 and d["completed"] + d["rejected"] == 3000
    assert 0 <= d["custom_silicon_chip_share"] <= 1 and d["cost_usd"] > 0
    for name in ("jct_cdf.png", "utilization.png"):
        assert (tmp_path / name).stat().st_size > 5_000


def test_simulate_train_bad_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "simulate", "train", "--fleet", "p5.48xlarge:2", "--policy", "gavel-max-throughpt")
    assert code == 2 and "did you mean" in err.lower()


def test_simulate_mixed_json_and_plots(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(
        capsys, "simulate", "mixed", "--model", "llama-3-8b", "--fleet", "inf2.48xlarge:1,p4d.24xlarge:4",
        "--trace", "azure-conv", "--rate-scale", "4", "--sharing", "cost-aware", "--json", "--plot", str(tmp_path),
    )  # fmt: skip
    assert code == 0
    for name in ("serving_nodes.png", "serve/latency_cdf.png", "train/utilization.png"):
        assert (tmp_path / name).stat().st_size > 5_000
    d = json.loads(out)
    assert d["sharing"] == "cost-aware"
    assert d["serve"]["completed"] > 0
    assert {s["instance"] for s in d["shares"]} == {"inf2.48xlarge", "p4d.24xlarge"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sharing", "greedy"], "sharing policy"),
        (["--serve-fleet", "p4d.24xlarge:9"], "serving share asks for 9"),
        (["--hours", "-1"], "--hours must be more than 0"),
        (["--hours", "inf"], "--hours"),
        (["--duration", "6"], "has no unit"),
        (["--duration", "6h", "--hours", "6"], "not both"),
        (["--slo-ttft-p90", "2"], "has no unit"),
        (["--interval", "60"], "has no unit"),
        (["--jobs", "azure-conv"], "holds requests, not jobs"),
    ],
)
def test_simulate_mixed_bad_input(capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    base = ["simulate", "mixed", "--model", "llama-3-8b", "--fleet", "inf2.48xlarge:1,p4d.24xlarge:4",
            "--trace", "azure-conv"]  # fmt: skip
    code, out, err = run(capsys, *base, *args)
    assert code != 0
    assert needle in out + err


def test_traces_list_shows_request_and_job_traces(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["traces", "list"]) == 0
    out = capsys.readouterr().out
    assert "azure-conv" in out and "philly" in out and "108.9 days" in out


SERVE_WORKLOAD = [
    "--model", "llama-3-8b", "--rate", "3/s", "--duration", "5min",
    "--input-tokens", "lognormal:mean=1200,sigma=1,max=8000",
    "--output-tokens", "lognormal:mean=150,sigma=0.8,max=1500", "--instances", "g6e.xlarge,inf2.xlarge,p4de.24xlarge",
]  # fmt: skip


def test_plan_serve_json_and_hourly_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    chart = tmp_path / "hourly.png"
    code, out, _ = run(
        capsys, "plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "60ms",
        "--per-hour", "--plot", str(chart), "--json",
    )  # fmt: skip
    assert code == 0
    d = json.loads(out)  # progress stays off stdout
    assert d["mix"]["entries"] and d["mix"]["cost_usd_per_h"] > 0
    assert d["meets_slo"] is True and d["replay"]["ttft_s"]["p90"] <= 1.0
    assert d["savings"] is not None and d["savings"] >= -1e-9
    assert len(d["hourly"]["hours"]) == 24 and chart.stat().st_size > 5_000
    assert sum(sum(s.values()) for s in d["mix"]["routing_by_bucket"].values()) == pytest.approx(len(d["buckets"]))


def test_plan_serve_tables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "60ms")
    assert code == 0
    for needle in ("Cheapest mix by cost", "Routing", "Best single instance type", "Replay of the mix"):
        assert needle in out
    assert ("saves" in out or "One instance type is the plan" in out) and "saves 0.0 %" not in out
    assert err.strip(), "plan serve runs for seconds: it shows its progress on stderr"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--slo-ttft-p90", "1ms", "--slo-tpot-p90", "60ms"], "best p90 TTFT"),
        (["--slo-ttft-p90", "soon", "--slo-tpot-p90", "60ms"], "--slo-ttft-p90"),
        (["--slo-ttft-p90", "1s", "--slo-tpot-p90", "60ms", "--trace", "azure-conv"], "either --trace"),
        (["--slo-ttft-p90", "1s", "--slo-tpot-p90", "60ms", "--plot", "x.png"], "add --per-hour"),
        (["--slo-ttft-p90", "1s", "--slo-tpot-p90", "60ms", "--per-hour", "--load-curve", "1,2"], "24"),
        (["--slo-ttft-p90", "1s", "--slo-tpot-p90", "60ms", "--max-batch", "0"], "--max-batch"),
        (["--slo-ttft-p90", "1s", "--slo-tpot-p90", "60ms", "--instances", "g6e.xlarg"], "did you mean"),
    ],
)
def test_plan_serve_bad_input(capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    code, _, err = run(capsys, "plan", "serve", *SERVE_WORKLOAD, *args)
    assert code == 2 and needle.lower() in err.lower()


def test_plan_serve_reads_a_trace_file_through_a_mapping(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = ["t_ms,prompt,completion"] + [f"{i * 400},{300 + 37 * (i % 20)},{40 + i % 60}" for i in range(400)]
    path = tmp_path / "mine.csv"
    path.write_text("\n".join(rows) + "\n")
    code, out, err = run(
        capsys, "plan", "serve", "--model", "llama-3-8b", "--trace", str(path), "--mapping",
        "arrival=t_ms,input=prompt,output=completion,time_unit=ms", "--instances", "g6e.xlarge,inf2.xlarge",
        "--slo-ttft-p90", "1s", "--slo-tpot-p90", "80ms", "--json",
    )  # fmt: skip
    assert code == 0, err
    d = json.loads(out)
    assert d["requests"] == 400 and d["span_s"] == pytest.approx(159.6)
    code, _, err = run(capsys, "plan", "serve", "--model", "llama-3-8b", "--trace", str(path), "--mapping", "arrival",
                       "--slo-ttft-p90", "1s", "--slo-tpot-p90", "80ms")  # fmt: skip
    assert code == 2 and "KEY=COLUMN" in err


def test_chip_and_sequence_lists_are_whole_numbers() -> None:
    from chipfleet.cli.options import counts
    from chipfleet.exceptions import ConfigError

    assert counts("1, 2,8", "--tp", 64) == (1, 2, 8)
    assert counts(None, "--tp", 64) == ()
    with pytest.raises(ConfigError, match="whole number"):
        counts("1.5", "--tp", 64)
    with pytest.raises(ConfigError, match="largest accepted"):
        counts("128", "--tp", 64)


# ----------------------------------------------------------------------------- units, names, bounds, output (issue 10)
def _one_clean_line(code: int, err: str) -> None:
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "50"],
        ["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1", "--slo-tpot-p90", "50ms"],
        ["simulate", "serve", "--model", "llama-3-8b", "--fleet", "g6e.xlarge:1", "--trace", "azure-conv",
         "--slo-tpot-p90", "50"],
        ["plan", "train", "--model", "llama-3-8b", "--tokens", "1T", "--deadline", "30"],
        ["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "50ms", "--duration", "30"],
        ["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "50ms", "--peak-window", "30"],
    ],
)  # fmt: skip
def test_a_unitless_duration_is_an_error_in_every_command(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, _, err = run(capsys, *args)
    _one_clean_line(code, err)
    assert "has no unit" in err and "ms" in err


def test_a_rate_needs_its_unit(capsys: pytest.CaptureFixture[str]) -> None:
    args = [a if a != "3/s" else "3" for a in SERVE_WORKLOAD]
    code, _, err = run(capsys, "plan", "serve", *args, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "50ms")
    _one_clean_line(code, err)
    assert "3/s" in err and "--rate" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["estimate", "train", "--model", "llama-2-7b", "--instance", "p5.48xlarge", "--instances", "1",
          "--tokens", "1e308"], "--tokens"),
        (["estimate", "train", "--model", "llama-2-7b", "--instance", "p5.48xlarge", "--instances", "1",
          "--tokens", "nan"], "--tokens"),
        (["estimate", "train", "--model", "llama-2-7b", "--instance", "p5.48xlarge", "--instances", "100000",
          "--tokens", "1T"], "--instances"),
        (["estimate", "train", "--model", "llama-2-7b", "--instance", "p5.48xlarge", "--instances", "1",
          "--tokens", "1T", "--tp", "0"], "--tp"),
        (["estimate", "train", "--model", "llama-2-7b", "--instance", "p5.48xlarge", "--instances", "1",
          "--tokens", "1T", "--zero", "4"], "--zero"),
        (["estimate", "train", "--model", "llama-2-7b", "--instance", "p5.48xlarge", "--instances", "1",
          "--tokens", "1T", "--seq-len", "1.3k"], "--seq-len"),
        (["estimate", "serve", "--model", "llama-3-8b", "--instance", "p5.48xlarge", "--input-tokens", "-5"],
         "--input-tokens"),
        (["plan", "train", "--model", "llama-3-8b", "--tokens", "1T", "--top", "0"], "--top"),
        (["plan", "train", "--model", "llama-3-8b", "--tokens", "1T", "--budget", "inf"], "--budget"),
        (["plan", "train", "--model", "llama-3-8b", "--tokens", "1T", "--restart-min", "nan"], "--restart-min"),
        (["plan", "train", "--model", "llama-3-8b", "--tokens", "1T", "--restart", "10"], "has no unit"),
        (["plan", "train", "--model", "llama-3-8b", "--tokens", "1T", "--interruptions-per-month", "-1"],
         "--interruptions-per-month"),
        (["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "nan", "--slo-tpot-p90", "50ms"], "--slo-ttft-p90"),
        (["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "-50ms"], "--slo-tpot-p90"),
        (["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "50ms", "--seed", "-3"],
         "--seed"),
        (["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "50ms", "--requests", "0"],
         "--requests"),
        (["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "50ms", "--rate-scale", "0"],
         "--rate-scale"),
        (["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "50ms", "--load-curve", "1,nan",
          "--per-hour"], "--load-curve"),
        (["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "50ms", "--input-edges", "2x"],
         "--input-edges"),
        (["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "50ms", "--max-instances", "0"],
         "--max-instances"),
        (["simulate", "serve", "--model", "llama-3-8b", "--fleet", "g6e.xlarge:1", "--trace", "azure-conv",
          "--rate-scale", "nan"], "--rate-scale"),
        (["simulate", "train", "--fleet", "p5.48xlarge:1", "--seed", "-3"], "--seed"),
        (["simulate", "train", "--fleet", "p5.48xlarge:1", "--rate-scale", "inf"], "--rate-scale"),
        (["simulate", "train", "--fleet", "p5.48xlarge:1", "--jobs", "0"], "--jobs"),
    ],
)  # fmt: skip
def test_numeric_options_are_bounded(capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    code, _, err = run(capsys, *args)
    _one_clean_line(code, err)
    assert needle in err


def test_simulate_serve_takes_the_plan_serve_slo_flags_and_a_mapping(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = ["t_ms,prompt,completion"] + [f"{i * 400},{300 + 37 * (i % 20)},{40 + i % 60}" for i in range(200)]
    path = tmp_path / "mine.csv"
    path.write_text("\n".join(rows) + "\n")
    code, out, err = run(
        capsys, "simulate", "serve", "--model", "llama-3-8b", "--fleet", "g6e.xlarge:1", "--trace", str(path),
        "--mapping", "arrival=t_ms,input=prompt,output=completion,time_unit=ms",
        "--slo-ttft-p90", "1s", "--slo-tpot-p90", "100ms", "--router", "Least-Outstanding", "--json",
    )  # fmt: skip
    assert code == 0, err
    d = json.loads(out)
    assert d["requests"] == 200 and d["router"] == "least-outstanding"
    assert d["slo_attainment"] is not None


@pytest.mark.parametrize(
    "args",
    [
        ["estimate", "serve", "--model", "llama-3-8b", "--instance", "g6e.xlarge", "--pricing", "ON-DEMAND",
         "--precision", "BF16"],
        ["plan", "train", "--model", "llama-3-8b", "--tokens", "1T", "--objective", "Cost", "--pricing", "On-Demand",
         "--top", "2", "--instances", "p5.48xlarge"],
    ],
)  # fmt: skip
def test_enum_options_are_case_insensitive(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    json.loads(out)


def test_json_errors_are_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "show", "trn1.32xlarg", "--json")
    assert code == 2
    d = json.loads(out)
    assert d["error"]["type"] == "UnknownNameError" and "trn1.32xlarge" in d["error"]["message"]
    assert "trn1.32xlarge" in d["error"]["suggestions"]
    code, out, _ = run(capsys, "estimate", "serve", "--model", "llama-3.1-405b", "--instance", "g6.xlarge", "--json")
    assert code == 2
    d = json.loads(out)["error"]
    assert d["type"] == "DoesNotFitError" and d["needed_bytes"] > d["available_bytes"] > 0
    code, out, _ = run(capsys, "plan", "train", "--model", "llama-3-8b", "--tokens", "1T", "--top", "0", "--json")
    assert code == 2
    d = json.loads(out)
    assert d["error"]["type"] == "UsageError" and "--top" in d["error"]["message"]


def test_json_output_is_strict(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", "serve", "--model", "llama-3-8b", "--instance", "g6e.xlarge", "--json")
    assert code == 0
    json.loads(out, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


@pytest.mark.parametrize(
    "args",
    [
        ["catalog", "instances"],
        ["catalog", "chips"],
        ["catalog", "regions"],
        ["models", "list"],
        ["estimate", "train", "--model", "llama-2-70b", "--instance", "p5.48xlarge", "--instances", "16",
         "--tokens", "1T"],
        ["estimate", "serve", "--model", "llama-3-8b", "--instance", "inf2.48xlarge"],
    ],
)  # fmt: skip
def test_tables_fit_an_80_column_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run(capsys, *args)
    assert code == 0, err
    rows = [line for line in out.splitlines() if any(ch in line for ch in "│┃━─")]  # prose lines may soft-wrap
    widest = max((len(line) for line in rows), default=0)
    assert widest <= 80, f"a table line is {widest} columns wide"
    assert "…" not in out, "a cell was cut short: a table too wide for the terminal must not lose text"


@pytest.mark.parametrize(("kind", "key"), [("chips", "name"), ("instances", "name")])
def test_a_table_too_wide_for_the_terminal_keeps_every_name_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, kind: str, key: str
) -> None:
    code, out, _ = run(capsys, "catalog", kind, "--json")
    names = [r[key] for r in json.loads(out)]
    monkeypatch.setenv("COLUMNS", "60")
    code, out, err = run(capsys, "catalog", kind)
    assert code == 0, err
    lines = out.splitlines()
    assert all(name in lines for name in names)  # each record starts with its name, whole, on a line of its own
    assert "…" not in out and max(len(line) for line in lines) <= 60


def _file_in_the_way(tmp_path: Path) -> Path:
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me\n")
    return blocker


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["simulate", "serve", "--model", "llama-3-8b", "--fleet", "g6e.xlarge:1", "--trace", "azure-conv",
          "--plot", "{blocker}"], "--plot"),
        (["simulate", "train", "--fleet", "p5.48xlarge:1", "--plot", "{blocker}/charts"], "--plot"),
        (["simulate", "mixed", "--model", "llama-3-8b", "--fleet", "inf2.48xlarge:1,p4d.24xlarge:4",
          "--trace", "azure-conv", "--plot", "{blocker}"], "--plot"),
        (["plan", "train", "--model", "llama-3-8b", "--tokens", "1T", "--plot", "{blocker}/p.png"], "--plot"),
        (["plan", "train", "--model", "llama-3-8b", "--tokens", "1T", "--plot", "{tmp}"], "--plot"),
        (["plan", "serve", *SERVE_WORKLOAD, "--slo-ttft-p90", "1s", "--slo-tpot-p90", "50ms", "--per-hour",
          "--plot", "{blocker}/h.png"], "--plot"),
        (["validate", "--html", "{blocker}/r.html"], "--html"),
        (["calibrate", "--out", "{tmp}"], "--out"),
        (["demo", "--out", "{blocker}"], "--out"),
    ],
)  # fmt: skip
def test_output_paths_are_checked_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], what: str
) -> None:
    blocker = _file_in_the_way(tmp_path)
    argv = [a.format(blocker=blocker, tmp=tmp_path) for a in args]
    code, _, err = run(capsys, *argv)
    _one_clean_line(code, err)
    assert what in err
    assert blocker.read_text() == "keep me\n"


_NUMBERISH = st.one_of(
    st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e308", "1e-320", "2k", "1.5", "3/s", "5ms", "", "1T", "99999"]),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="0123456789.-+eEkMBTms/ ", max_size=8),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    option=st.sampled_from(["--batch", "--input-tokens", "--output-tokens", "--tp"]),
    value=_NUMBERISH,
)
def test_estimate_serve_numeric_options_never_crash(
    capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    """Any text for a numeric option: exit 0 with finite JSON, or exit 2 with one line and no traceback."""
    code, out, err = run(capsys, "estimate", "serve", "--model", "llama-3-8b", "--instance", "g6e.xlarge",
                         option, value, "--json")  # fmt: skip
    assert code in (0, 2), err
    data = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    if code == 2:
        assert set(data) == {"error"} and "\n" not in data["error"]["message"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    option=st.sampled_from(["--instances", "--tokens", "--global-batch", "--seq-len", "--tp", "--micro-batch"]),
    value=_NUMBERISH,
)
def test_estimate_train_numeric_options_never_crash(
    capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    args = {"--instances": "2", "--tokens": "1T"}
    args[option] = value
    code, out, err = run(capsys, "estimate", "train", "--model", "llama-3-8b", "--instance", "p5.48xlarge",
                         *[x for kv in args.items() for x in kv])  # fmt: skip
    assert code in (0, 2), err
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    else:
        assert "nan" not in out.lower().split() and "inf" not in out.lower().split()


def test_a_long_unbreakable_cell_is_never_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich squeezes the widest column of a too-wide table to "…" whatever its longest word (seen on the demo's
    parallelism column at 160 columns); the CLI's console gives every column at least its longest word."""
    from rich.table import Table

    import chipfleet.cli.output as cli

    word = "tp=8,pp=8,dp=8,vp=4,zero=1,mb=1,recompute=none"
    t = Table(title="t")
    for col in ("instance", "parallelism", "note"):
        t.add_column(col)
    t.add_row("32 × trn1.32xlarge", word, "a long sentence that can wrap at any of its many spaces " * 2)
    monkeypatch.setenv("COLUMNS", "100")
    console = cli._Console(record=True)
    console.print(t)
    out = console.export_text()
    assert "…" not in out and word in out and max(len(line) for line in out.splitlines()) <= 100


def test_spare_width_goes_to_short_cells_first() -> None:
    from chipfleet.cli.output import _share

    assert _share(10, [0, 5, 3, 40]) == [0, 5, 3, 2]  # the short wants are met whole, prose takes the rest
    assert _share(0, [4, 4]) == [0, 0]
    assert sum(_share(7, [10, 20])) <= 7


def _command_paths() -> list[list[str]]:
    import typer.main

    def walk(cmd: Any, path: list[str]) -> list[list[str]]:
        subs = getattr(cmd, "commands", None)
        if not subs:
            return [path]
        return [p for name, sub in sorted(subs.items()) for p in walk(sub, [*path, name])]

    return walk(typer.main.get_command(cli_app), [])


@pytest.mark.parametrize("path", _command_paths(), ids=" ".join)
def test_help_of_every_command_fits_80_columns_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, path: list[str]
) -> None:
    """Rich's boxed help cut option descriptions to "…" at 80 columns ("p90 time-to-first-t…"); help wraps."""
    monkeypatch.setenv("COLUMNS", "80")
    code = main([*path, "--help"])
    out = capsys.readouterr().out
    assert code == 0 and "Usage: chipfleet" in out
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80
