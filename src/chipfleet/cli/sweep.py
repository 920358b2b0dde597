"""`chipfleet sweep`: scenario studies over any inputs of estimate / plan / simulate, on local processes or Ray,
resumable, every point in the run store; `chipfleet sweep report RUN`: tables, charts and exports.

A point runs the CLI's own command in-process (its click parsing and its ``--json`` answer, the catalog handed in
once per worker), so a sweep point and the same command typed by hand give the same answer."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from typer._click.core import Command, Context  # typer vendors click
from typer._click.exceptions import ClickException
from typer.core import TyperGroup

from chipfleet.catalog import Catalog
from chipfleet.cli import output
from chipfleet.cli.errors import usage_message
from chipfleet.cli.options import State, group
from chipfleet.exceptions import ConfigError

_TREE: dict[str, Command] = {}


def _command(name: str) -> Command:
    """The click command ``name`` ("estimate train") of the CLI, built once per process."""
    if not _TREE:
        from chipfleet.cli.root import app  # here: root imports this module

        root = typer.main.get_command(app)
        for group_name in ("estimate", "plan", "simulate"):
            for sub, cmd in getattr(root.commands[group_name], "commands", {}).items():  # type: ignore[attr-defined]
                _TREE[f"{group_name} {sub}"] = cmd
    if name not in _TREE:
        raise ConfigError(f"no command `{name}`; sweepable commands: {', '.join(sorted(_TREE))}", field="command")
    return _TREE[name]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        return str(int(value))
    return str(value)


def cli_args(name: str, options: Mapping[str, Any]) -> list[str]:
    """The command line of ``options`` (option name in snake case → value) for the command ``name``."""
    cmd = _command(name)
    params = {p.name: p for p in cmd.params if p.name and p.name not in ("as_json",)}
    args: list[str] = []
    for key, value in options.items():
        p = params.get(key)
        if p is None or p.param_type_name == "argument":
            known = ", ".join(sorted(n for n in params if params[n].param_type_name != "argument"))
            raise ConfigError(
                f"`{name}` has no option {key!r} (--{key.replace('_', '-')}); its options: {known}", field=key
            )
        if getattr(p, "is_flag", False):
            if value:
                args.append(p.opts[0])
            elif p.secondary_opts:
                args.append(p.secondary_opts[0])
        elif isinstance(value, list):
            args.extend(f"{p.opts[0]}={_text(v)}" for v in value)
        else:
            args.append(f"{p.opts[0]}={_text(value)}")
    return args


class CliPoints:
    """The sweep's point runner: one CLI command, in-process (see the module's docstring)."""

    def check(self, command: str, options: Mapping[str, Any]) -> None:
        cmd = _command(command)
        try:
            cmd.make_context(f"chipfleet {command}", cli_args(command, options), resilient_parsing=False)
        except ClickException as e:
            raise ConfigError(usage_message(e), field="spec") from None

    def run(self, command: str, options: Mapping[str, Any], catalog: Catalog) -> Any:
        cmd = _command(command)
        args = [*cli_args(command, options), "--json"]
        State.overlays, State._catalog = (), catalog  # the leaf command runs without the root callback's reset
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(io.StringIO()):
                output.new_console()
                with output.native_stdout_silenced(True):
                    cmd.main(args=args, prog_name=f"chipfleet {command}", standalone_mode=False)
        except ClickException as e:
            raise ConfigError(usage_message(e), field="spec") from None
        finally:
            output.take_result()
            State._catalog = None
        text = buffer.getvalue().strip()
        return json.loads(text.splitlines()[-1] if text and not text.startswith(("{", "[")) else text or "null")


POINTS = CliPoints()


class _SweepGroup(TyperGroup):
    """`chipfleet sweep SPEC.yaml ...` is `chipfleet sweep run SPEC.yaml ...`; `sweep report RUN` stays itself."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


sweep_app = group(
    "Scenario studies: a grid or random sample over the inputs of estimate / plan / simulate, run on local processes "
    "or a Ray cluster, every point stored as it finishes (run it again to resume). `chipfleet sweep SPEC.yaml` runs "
    "one (docs/sweeps.md); `chipfleet sweep report RUN` reports it.",
    cls=_SweepGroup,
)


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f} points/s", style="progress.data.speed")


def _progress_bar() -> Progress:
    from rich.console import Console

    return Progress(
        TextColumn("[bold]sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )


@sweep_app.command("run")
def run_cmd(
    spec_file: Annotated[Path, typer.Argument(metavar="SPEC.yaml", help="The sweep spec (docs/sweeps.md).")],
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1024,
            help="Local worker processes (default: the machine's cores); with --address, the cluster's CPUs to "
            "use (default: all of them; twice as many points are kept in flight).",
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(help="Run on a Ray cluster: auto (the one this machine is part of) or ray://HOST:10001."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the number of points and an estimated time (from a few points timed here); run nothing.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table (errors too).")] = False,
) -> None:
    """Run a sweep spec: every point stored in the run store as it finishes; run again to resume."""
    from chipfleet.catalog import content_hash, load_catalog
    from chipfleet.catalog.fingerprint import overlays
    from chipfleet.cli.runs_save import saving_on, store
    from chipfleet.sweep import engine
    from chipfleet.sweep.backends import make_backend
    from chipfleet.sweep.spec import load_spec

    if not saving_on():
        raise ConfigError(
            "a sweep stores each point in the run store as it finishes (that is how it resumes), so --no-save and "
            "CHIPFLEET_NO_SAVE cannot apply to it; drop them, or point CHIPFLEET_DB at a store of the sweep's own",
            field="no_save",
        )
    spec = load_spec(spec_file)
    base = spec_file.resolve().parent
    catalog = load_catalog([*State.overlays, *(base / p for p in spec.catalog)])
    ctx = engine.Context(catalog, content_hash(catalog), overlays(catalog), POINTS)
    backend = make_backend(workers, address)
    if dry_run:
        plan = engine.dry_run(spec, ctx, store(), backend.workers or 1, backend.name)
        output.record_result(plan)
        if as_json:
            output.emit_json(plan)
            return
        output.show(
            f"{plan['points']} points ({plan['stored']} stored already, {plan['to_run']} to run) of "
            f"{', '.join(plan['commands'])}; about {plan['point_s'] * 1000:.0f} ms a point here, so about "
            f"{_duration(plan['estimated_s'])} on {plan['workers']} {backend.name} worker(s). "
            f"Sweep id {plan['sweep_id']}."
        )
        return
    with _progress_bar() as bar:
        task = bar.add_task("sweep", total=spec.size())

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = engine.run(spec, ctx, store(), backend, spec_path=str(spec_file), progress=step)
    output.record_result(result.summary)
    if as_json:
        output.emit_json({"sweep_id": result.sweep_id, **result.summary, "skipped": result.skipped})
        return
    output.show(
        f"sweep {result.sweep_id}: {result.points} points, {result.skipped} stored before, {result.ran} ran "
        f"now ({result.done} done, {result.failed} failed in all) in {_duration(result.wall_s)}. Report: "
        f"chipfleet sweep report {result.sweep_id[:12]}"
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@sweep_app.command("report")
def report_cmd(
    run: Annotated[str, typer.Argument(metavar="RUN", help="The sweep's run id (or a unique prefix).")],
    out: Annotated[
        Path | None, typer.Option(help="Folder for the charts (sensitivity, break-even, Pareto) and points.csv.")
    ] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write every point (axes, outputs) as CSV.")] = None,
    parquet: Annotated[Path | None, typer.Option(help="Write every point as Parquet.")] = None,
    rows: Annotated[int, typer.Option(min=0, max=100_000, help="Points listed in the table.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables (errors too).")] = False,
) -> None:
    """Tables and charts of a sweep's outputs: sensitivity, break-even points, Pareto fronts; CSV/Parquet export."""
    from chipfleet.cli.runs_save import store
    from chipfleet.sweep import report

    rep = report.build(store(), run)
    written = report.write_files(rep, store(), out=out, csv_path=csv_path, parquet_path=parquet)
    data = {**rep.to_json(), "files": [str(p) for p in written]}
    output.record_result(data)
    if as_json:
        output.emit_json(data)
        return
    for table in report.tables(rep, rows):
        output.show(table)
    for line in rep.statements():
        output.show(line)
    for path in written:
        output.show(f"wrote {path}")
