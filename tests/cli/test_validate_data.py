"""`validate --data` on serving records: shipped datasets by name, and tables without empty columns or tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.main

from chipfleet.cli import app, main
from chipfleet.cli.validate import SHIPPED_NAMES
from chipfleet.validate.serving import shipped_datasets

NIM = "nvidia_nim_h100_llama33_70b"  # mean ITL only, no mean TPOT; every record predicted
TPU = "tpu_recipes_vllm_tpu"  # mean TPOT, TPU v6e and v7x


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _group_table(out: str) -> list[str]:
    """The lines of the hardware × engine table (its title to the end of its box)."""
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if "median APE by hardware" in ln)
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("└"))
    return lines[start : end + 1]


def test_the_help_lists_every_shipped_dataset() -> None:
    assert tuple(shipped_datasets()) == SHIPPED_NAMES
    assert all(p.is_file() for p in shipped_datasets().values())
    command = typer.main.get_command(app).commands["validate"]
    help_text = next(p.help for p in command.params if p.name == "data")
    assert all(name in help_text for name in SHIPPED_NAMES)


def test_a_metric_no_record_has_is_not_shown_as_nan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--data", str(shipped_datasets()[NIM]))
    assert code == 0
    header = next(ln for ln in _group_table(out) if "hardware × engine" in ln and "records" in ln)
    assert "nan" not in out.lower() and "mean_tpot" not in header and "mean_itl" in header
    assert "records skipped" not in out  # every record was predicted: no empty table


def test_a_group_without_a_metric_shows_a_dash(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    docs = [*json.loads(shipped_datasets()[NIM].read_text()), *json.loads(shipped_datasets()[TPU].read_text())]
    both = tmp_path / "both.json"
    both.write_text(json.dumps(docs))
    code, out, _ = _run(capsys, "--data", str(both))
    assert code == 0 and "nan" not in out.lower()
    table = _group_table(out)
    assert any("mean_tpot" in ln for ln in table)
    h100 = next(ln for ln in table if "h100" in ln)
    tpu = next(ln for ln in table if "tpu" in ln)
    assert "—" in h100 and "—" not in tpu
    assert "records skipped" not in out  # both files' models and chips are all in the zoo and catalog


def test_a_shipped_dataset_by_name_is_its_file(capsys: pytest.CaptureFixture[str]) -> None:
    by_name = _run(capsys, "--data", TPU, "--json")
    by_path = _run(capsys, "--data", str(shipped_datasets()[TPU]), "--json")
    assert by_name[0] == by_path[0] == 0
    assert json.loads(by_name[1]) == json.loads(by_path[1])
    assert json.loads(by_name[1])["data_sha256"]


def test_a_misspelt_name_gets_the_closest_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--data", "nvidia_nim")
    assert code == 2 and f"did you mean {NIM}" in err
    assert all(name in err for name in SHIPPED_NAMES)
    code, _, err = _run(capsys, "--data", "inferencx")
    assert code == 2 and "did you mean inferencex" in err


def test_a_missing_path_is_still_reported_by_its_reader(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "--data", str(tmp_path / "absent.json"))
    assert code == 2 and "cannot read serving records" in err and "shipped dataset" not in err


def test_disaggregated_records_get_their_own_model_and_tables(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A file with aggregated and disaggregated runs: each kind predicted by its model, reported apart, and the
    disaggregated ones not listed as skipped from the aggregated scope."""
    runs = json.loads(_inferencex_text())
    docs = [r for r in runs if str(r.get("disagg")).lower() == "true"][:3]
    docs.append(next(r for r in runs if str(r.get("disagg")).lower() != "true"))
    both = tmp_path / "both.json"
    both.write_text(json.dumps(docs))
    code, out, _ = _run(capsys, "--data", str(both), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["records_predicted"] == 1 and report["records_in_scope"] == 1
    dis = report["disaggregated"]
    assert dis["records_in_scope"] == 3 and dis["records_predicted"] == 3
    assert {r["metric"] for r in dis["results"]} >= {"mean_tpot", "mean_ttft"}
    code, out, _ = _run(capsys, "--data", str(both))
    assert code == 0 and "3 of 3 disaggregated" in out and "1 of 1 aggregated" in out
    assert "records skipped" not in out


def _inferencex_text() -> str:
    import gzip

    from chipfleet.validate.serving import shipped_inferencex

    return gzip.decompress(Path(shipped_inferencex().path).read_bytes()).decode()
