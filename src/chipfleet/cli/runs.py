"""`chipfleet runs`: the saved runs: list, show, diff, export, rm (the store: $CHIPFLEET_DB or the user data folder)."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from chipfleet.cli import output
from chipfleet.cli.options import JsonOpt, group
from chipfleet.cli.runs_save import store
from chipfleet.exceptions import ConfigError
from chipfleet.serialize import atomic_write_text, check_output_path, dumps, to_jsonable

runs_app = group(
    "Saved runs: every estimate, plan, simulation, validation, calibration and claims check is kept (inputs, "
    "catalog hash and overlays, version, outputs, timings); `chipfleet --no-save ...` keeps one out. The store is "
    "$CHIPFLEET_DB (any SQLAlchemy URL: sqlite:////path/runs.sqlite, postgresql://user@host/db), else a SQLite "
    "file in your data folder."
)

IdsArg = Annotated[list[str], typer.Argument(metavar="ID...", help="Run ids or unique prefixes (see `runs list`).")]
MOVES_SHOWN = 20


def _when(t: Any) -> str:
    return "" if t is None else f"{t:%Y-%m-%d %H:%M:%S}"


def _wall(s: float | None) -> str:
    return "" if s is None else f"{s:.2f} s"


def _cell(x: Any) -> str:
    text = x if isinstance(x, str) else dumps(x, indent=None)
    return text if len(text) <= 80 else text[:77] + "..."


@runs_app.command("list")
def runs_list(
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. 'plan serve' or validate.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status: running, done, failed, cancelled.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many runs, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The newest saved runs first (runs left running by a process that is gone are marked failed first)."""
    runs = store()
    runs.recover_interrupted()
    found = runs.list(kind=kind, status=status, limit=limit)
    if as_json:
        output.emit_json([r.model_dump(mode="json") for r in found])
        return
    total = runs.count(kind=kind, status=status)
    table = Table(title=f"runs in {runs.url} (schema {runs.schema_version}): {len(found)} of {total}")
    for col in ("id", "kind", "status", "started UTC", "wall", "catalog"):
        table.add_column(col, no_wrap=col in ("id", "started UTC"))
    for r in found:
        state = r.status if r.status != "running" else f"running {r.progress:.0%}"
        kind = r.kind if r.source == "cli" else f"{r.kind} ({r.source})"
        table.add_row(r.id[:8], kind, state, f"{r.created_at:%m-%d %H:%M}", _wall(r.wall_s), r.catalog_hash[:8])
    output.show(table)


@runs_app.command("show")
def runs_show(run_id: Annotated[str, typer.Argument(metavar="ID", help="Run id or unique prefix.")],
              as_json: JsonOpt = False) -> None:  # fmt: skip
    """One saved run whole: what was asked, against which catalog, and the answer."""
    run = store().get(run_id)
    if as_json:
        output.emit_json(run.model_dump(mode="json"))
        return
    table = Table(title=f"run {run.id}", show_header=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value")
    state = run.status if run.status != "running" else f"running {run.progress:.0%} {run.progress_message}".rstrip()
    overlays = ", ".join(f"{o.get('path')} ({str(o.get('sha256'))[:8]})" for o in run.overlays) or "none"
    for name, value in (
        ("kind", run.kind), ("status", state), ("error", run.error or ""),
        ("started (UTC)", _when(run.created_at)), ("finished (UTC)", _when(run.finished_at)),
        ("wall", _wall(run.timings.get("wall_s"))), ("source", run.source), ("owner", run.owner),
        ("version", run.version), ("catalog hash", run.catalog_hash or "(catalog not used)"), ("overlays", overlays),
    ):  # fmt: skip
        table.add_row(name, str(value))
    output.show(table)
    inputs = Table(title="inputs")
    inputs.add_column("option", no_wrap=True)
    inputs.add_column("value")
    for name, value in run.inputs.items():
        inputs.add_row(name, _cell(value))
    output.show(inputs)
    if run.outputs is not None:
        output.show("outputs:")
        sys.stdout.write(dumps(run.outputs) + "\n")


@runs_app.command("diff")
def runs_diff(
    a: Annotated[str, typer.Argument(metavar="A", help="The earlier run (id or prefix).")],
    b: Annotated[str, typer.Argument(metavar="B", help="The later run (id or prefix).")],
    as_json: JsonOpt = False,
) -> None:
    """What changed from run A to run B (inputs, catalog and prices, version) and how far the answer moved:
    the numeric outputs that differ, old -> new and by how much, headline figures first, then the largest moves."""
    d = store().diff(a, b)
    if as_json:
        output.emit_json(d.model_dump(mode="json"))
        return
    changed = Table(title=f"what changed: {d.a[:8]} -> {d.b[:8]}")
    for col in ("what", "from", "to"):
        changed.add_column(col)
    if d.kind[0] != d.kind[1]:
        changed.add_row("kind", d.kind[0], d.kind[1])
    for c in d.inputs:
        changed.add_row(f"input {c.path}", _cell(c.old), _cell(c.new))
    if d.version:
        changed.add_row("chipfleet version", *d.version)
    if d.catalog_hash:
        changed.add_row("catalog hash", d.catalog_hash[0][:12] or "(not used)", d.catalog_hash[1][:12] or "(not used)")
    for o in d.overlays:
        changed.add_row(f"overlay {o.name} ({o.status})", str(o.old_sha256 or "")[:8], str(o.new_sha256 or "")[:8])
        for c in o.records:
            changed.add_row(f"  {c.path}", _cell(c.old), _cell(c.new))
    if d.status:
        changed.add_row("status", *d.status)
    if changed.row_count:
        output.show(changed)
    else:
        output.show("same inputs, catalog and version")
    if d.same_answer:
        output.show("the answer did not move")
        return
    moved = Table(title="how much the answer moved")
    moved.add_column("output")
    moved.add_column("from -> to")
    moved.add_column("change", justify="right")
    for m in d.moves[:MOVES_SHOWN]:
        change = f"{m.delta:+.4g}" if m.percent is None else f"{m.percent:+.1f} %"
        moved.add_row(("* " if m.headline else "") + m.path, f"{m.old:.4g} -> {m.new:.4g}", change)
    for c in d.output_changes[: max(0, MOVES_SHOWN - len(d.moves))]:
        moved.add_row(c.path, f"{_cell(c.old)} -> {_cell(c.new)}", "")
    more = len(d.moves) + len(d.output_changes) - moved.row_count
    moved.caption = "* headline figure" + (f"; {more} more changes: --json lists them all" if more > 0 else "")
    output.show(moved)


@runs_app.command("export")
def runs_export(
    run_ids: IdsArg,
    fmt: Annotated[
        str, typer.Option("--format", help="json (whole runs) or csv (one row per run, leaves as columns).")
    ] = "json",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file (default: stdout).")] = None,
) -> None:
    """Several runs as one JSON list or one CSV table, to a file or stdout."""
    kind = fmt.strip().lower()
    if kind not in ("json", "csv"):
        raise ConfigError(f"--format must be json or csv, got {fmt!r}")
    if out is not None:
        check_output_path(out, "--out file")
    runs = store()
    records = [runs.get(i) for i in run_ids]
    text = dumps([r.model_dump(mode="json") for r in records]) + "\n" if kind == "json" else _csv(records)
    if out is None:
        sys.stdout.write(text)
        return
    atomic_write_text(out, text)
    output.show(f"{len(records)} run(s) written to {out}")


def _csv(records: list[Any]) -> str:
    from chipfleet.store.diff import flatten

    fixed = ("id", "kind", "status", "created_at", "finished_at", "version", "catalog_hash", "source", "error")
    rows: list[dict[str, Any]] = []
    for r in records:
        row: dict[str, Any] = {k: to_jsonable(getattr(r, k)) for k in fixed}
        row["wall_s"] = r.timings.get("wall_s")
        row.update({f"inputs.{p}": v for p, v in flatten(r.inputs)})
        row.update({f"outputs.{p}" if p else "outputs": v for p, v in flatten(r.outputs)})
        rows.append(row)
    columns = list(dict.fromkeys(c for row in rows for c in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: dumps(v, indent=None) if isinstance(v, dict | list) else v for k, v in row.items()})
    return buffer.getvalue()


@runs_app.command("rm")
def runs_rm(
    run_ids: IdsArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove without asking.")] = False,
) -> None:
    """Remove saved runs (every id is checked before any run is removed)."""
    runs = store()
    records = [runs.get(i) for i in run_ids]
    if not yes:
        if not sys.stdin.isatty():
            raise ConfigError("removing runs needs a confirmation: give --yes to remove them without asking")
        listed = ", ".join(f"{r.id[:8]} ({r.kind})" for r in records)
        if not typer.confirm(f"remove {len(records)} run(s): {listed}?"):
            raise typer.Abort()
    for r in records:
        runs.delete(r.id)
    output.show(f"removed {len(records)} run(s)")
