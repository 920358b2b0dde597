"""`chipfleet runs` and the saving of every run: real commands saved in a real store, then listed, shown, compared,
exported and removed."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from chipfleet.cli import main
from chipfleet.cli.runs_save import _STORES
from chipfleet.store import RunStore, open_store
from chipfleet.store.migrate import HEAD

SERVE = ("estimate", "serve", "--model", "llama-3-8b", "--instance", "p5.48xlarge", "--input-tokens", "1k",
         "--output-tokens", "256", "--region", "us-east-1")  # fmt: skip

PRICE = """
schema_version: 1
sources:
  deal: {{ref: "our negotiated price", as_of: "2026-11-01"}}
instances:
  - name: p5.48xlarge
    prices:
      - {{region: us-east-1, pricing: on-demand, value: {usd}, unit: USD/h, source: deal}}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_command_is_saved_with_its_inputs_answer_catalog_and_timing(
    db: RunStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, *SERVE, "--batch", "8", "--json")
    assert code == 0
    [summary] = db.list()
    saved = db.get(summary.id)
    assert (saved.kind, saved.status, saved.source, saved.error) == ("estimate serve", "done", "cli", None)
    assert saved.outputs == json.loads(out)  # the answer the command printed, exactly
    assert saved.inputs["batch"] == 8 and saved.inputs["model"] == "llama-3-8b" and saved.inputs["input_tokens"] == 1024
    assert "as_json" not in saved.inputs  # how the answer was printed is not an input
    assert len(saved.catalog_hash) == 64 and saved.overlays == [] and saved.timings["wall_s"] > 0
    code, out, _ = run(capsys, "runs", "show", summary.id[:8], "--json")
    assert code == 0 and json.loads(out)["outputs"] == saved.outputs


def test_a_table_command_saves_the_result_it_showed(db: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, *SERVE)[0] == 0
    [summary] = db.list()
    assert db.get(summary.id).outputs["model"] == "llama-3-8b"


@pytest.mark.parametrize(
    "args",
    [
        ("simulate", "serve", "--model", "llama-3-8b", "--fleet", "p5.48xlarge:1", "--trace", "azure-conv",
         "--requests", "50"),
        ("claims",),
    ],
    ids=["simulate serve", "claims"],
)  # fmt: skip
def test_simulations_and_claims_are_saved_with_the_answer_they_print(
    db: RunStore, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    code, out, _ = run(capsys, *args, "--json")
    assert code == 0
    [summary] = db.list()
    assert summary.kind == " ".join(args[:2] if args[0] == "simulate" else args[:1])
    assert db.get(summary.id).outputs == json.loads(out)


def test_no_save_and_the_env_var_keep_a_run_out(
    db: RunStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, "--no-save", *SERVE, "--json")[0] == 0
    monkeypatch.setenv("CHIPFLEET_NO_SAVE", "1")
    assert run(capsys, *SERVE, "--json")[0] == 0
    assert db.count() == 0


def test_listings_are_not_runs(db: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "simulate", "routers", "--json")[0] == 0
    assert run(capsys, "catalog", "regions", "--json")[0] == 0
    assert db.count() == 0


def test_a_failing_command_is_saved_as_failed_with_the_error_it_printed(
    db: RunStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *SERVE, "--batch", "1000000")
    assert code == 2 and "does not fit" in err
    [summary] = db.list()
    saved = db.get(summary.id)
    assert saved.status == "failed" and saved.outputs is None
    assert saved.error is not None and saved.error.startswith("DoesNotFitError:") and "--batch" in saved.error


def test_an_unwritable_store_warns_and_the_command_still_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the store's folder should be")
    monkeypatch.setenv("CHIPFLEET_DB", f"sqlite:///{blocker / 'runs.sqlite'}")
    code, out, err = run(capsys, *SERVE, "--json")
    assert code == 0 and json.loads(out)["model"] == "llama-3-8b"
    assert "warning: this run was not saved in the run store" in " ".join(err.split())


def test_diff_says_which_inputs_and_prices_changed_and_how_far_the_cost_moved(
    db: RunStore, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    overlay = tmp_path / "deal.yaml"
    overlay.write_text(PRICE.format(usd=40))
    assert run(capsys, "--catalog", str(overlay), *SERVE, "--batch", "8", "--json")[0] == 0
    overlay.write_text(PRICE.format(usd=30))
    assert run(capsys, "--catalog", str(overlay), *SERVE, "--batch", "16", "--json")[0] == 0
    new, old = db.list()
    assert old.catalog_hash != new.catalog_hash
    code, out, _ = run(capsys, "runs", "diff", old.id, new.id, "--json")
    d = json.loads(out)
    assert code == 0 and d["inputs"] == [{"path": "batch", "old": 8, "new": 16}]
    assert d["catalog_hash"] == [old.catalog_hash, new.catalog_hash] and d["version"] is None
    [changed] = d["overlays"]
    assert changed["name"] == "deal.yaml" and changed["status"] == "changed"
    assert {"path": "instances[p5.48xlarge].prices[us-east-1/on-demand].value", "old": 40, "new": 30} in changed[
        "records"
    ]
    cost = next(m for m in d["moves"] if m["path"] == "cost_usd_per_million_tokens")
    assert cost["headline"] and cost["new"] < cost["old"] and cost["percent"] < -40  # cheaper hours, twice the batch
    assert d["moves"][0]["headline"]  # headline figures come first
    code, out, _ = run(capsys, "runs", "diff", old.id[:10], new.id[:10])
    text = " ".join(out.split())
    assert code == 0 and "input batch" in text and "overlay deal.yaml (changed)" in text
    assert "* cost_usd_per_million_tokens" in text


def test_list_show_export_and_rm(db: RunStore, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for batch in ("1", "2", "4"):
        assert run(capsys, *SERVE, "--batch", batch, "--json")[0] == 0
    code, out, _ = run(capsys, "runs", "list", "--limit", "2", "--kind", "estimate serve")
    assert code == 0 and f"(schema {HEAD}): 2 of 3" in " ".join(out.split())
    ids = [r["id"] for r in json.loads(run(capsys, "runs", "list", "--json")[1])]
    assert len(ids) == 3 and run(capsys, "runs", "list", "--status", "failed", "--json")[1].strip() == "[]"
    code, out, _ = run(capsys, "runs", "show", ids[0][:8])
    assert code == 0 and f"run {ids[0]}" in out and "outputs:" in out

    code, out, _ = run(capsys, "runs", "export", *ids[:2])
    assert code == 0 and [r["id"] for r in json.loads(out)] == ids[:2]
    target = tmp_path / "runs.csv"
    code, _, _ = run(capsys, "runs", "export", *ids, "--format", "csv", "--out", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert code == 0 and [r["id"] for r in rows] == ids
    assert [r["inputs.batch"] for r in rows] == ["4", "2", "1"] and all(float(r["outputs.cost_usd_per_million_tokens"])
                                                                      > 0 for r in rows)  # fmt: skip

    code, _, err = run(capsys, "runs", "rm", ids[0])  # stdin is not a terminal: no silent removal
    assert code == 2 and "--yes" in err and db.count() == 3
    code, out, _ = run(capsys, "runs", "rm", ids[0][:8], ids[1], "--yes")
    assert code == 0 and "removed 2 run(s)" in out and [r.id for r in db.list()] == [ids[2]]


def test_unknown_and_ambiguous_ids_exit_2_with_a_clear_message(
    db: RunStore, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [db.save("plan serve", {"i": i}, {"i": i}, catalog_hash="h", overlays=[]) for i in range(40)]
    code, _, err = run(capsys, "runs", "show", "0123456789abcdef")
    assert code == 2 and "no run '0123456789abcdef'" in err and "chipfleet runs list" in " ".join(err.split())
    shared = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    code, _, err = run(capsys, "runs", "diff", shared, ids[0])
    assert code == 2 and "matches several runs" in err
    assert all(i[:12] in err for i in ids if i.startswith(shared))
    code, out, _ = run(capsys, "runs", "show", "zz", "--json")
    assert code == 2 and json.loads(out)["error"]["type"] == "NotFoundError"
    code, _, err = run(capsys, "runs", "export", ids[0], "--format", "xml")
    assert code == 2 and "--format must be json or csv" in err


def test_a_cli_run_lands_in_postgresql_as_in_sqlite(
    store_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHIPFLEET_DB", store_url)
    try:
        code, out, _ = run(capsys, *SERVE, "--json")
        assert code == 0
        store = open_store(store_url)
        [summary] = store.list()
        assert store.get(summary.id).outputs == json.loads(out)
        store.close()
    finally:
        cached = _STORES.pop(store_url, None)
        if cached is not None:
            cached.close()
