"""The `chipfleet` command: the app and its groups, and how errors reach the user (one line, exit code 2)."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from chipfleet.cli import output
from chipfleet.cli.catalog import catalog_app
from chipfleet.cli.demo import demo
from chipfleet.cli.errors import fail, flags_for, invoked, library_error, usage_message
from chipfleet.cli.estimate import estimate_app
from chipfleet.cli.models import models_app
from chipfleet.cli.options import CatalogOpt, State, group
from chipfleet.cli.plan import plan_app
from chipfleet.cli.runs import runs_app
from chipfleet.cli.runs_save import NoSaveOpt, Saving, record_runs
from chipfleet.cli.serve_app import serve_app
from chipfleet.cli.simulate import simulate_app
from chipfleet.cli.sweep import sweep_app
from chipfleet.cli.traces import traces_app
from chipfleet.cli.validate import calibrate_cmd, claims_cmd, validate_cmd
from chipfleet.exceptions import ChipfleetError

app = group(
    "Where to train and serve generative AI, and what it costs in time, money, energy and carbon.\n\n"
    "Quantities: durations need a unit (500ms, 30s, 5min, 12h, 30d, 2w); token lengths read k = 1024 (2k = 2048); "
    "amounts and dollars are decimal (15k, 2.5M, 300B, 1T); rates have a unit (2/s, 120/min). "
    "Names (instances, regions, routers, policies, choices) are case-insensitive.",
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(catalog_app, name="catalog")
app.add_typer(models_app, name="models")
app.add_typer(estimate_app, name="estimate")
app.add_typer(plan_app, name="plan")
app.add_typer(simulate_app, name="simulate")
app.add_typer(traces_app, name="traces")
app.add_typer(sweep_app, name="sweep")
app.add_typer(runs_app, name="runs")
app.command("validate")(validate_cmd)
app.command("calibrate")(calibrate_cmd)
app.command("claims")(claims_cmd)
app.command("demo")(demo)
app.command("serve-app")(serve_app)


@app.callback()
def _root(catalog: CatalogOpt = None, no_save: NoSaveOpt = False) -> None:
    State.reset(tuple(catalog or ()))
    Saving.enabled = not no_save


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; chipfleet errors and usage errors print one clear line (JSON with --json) and exit 2.

    Native code's writes to descriptor 1 (HiGHS's debugging notes) go to the null device while the command runs,
    so stdout holds only what chipfleet prints: the JSON a program parses, or tables a person reads
    (output.native_stdout_silenced)."""
    output.new_console()
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer vendors click

    command = typer.main.get_command(app)
    record_runs(command)  # estimates, plans, simulations, validations: saved in the run store (cli/runs_save.py)
    try:
        with output.native_stdout_silenced(True):
            result = command.main(args=args, prog_name="chipfleet", standalone_mode=False)
    except NoArgsIsHelpError as e:
        if e.ctx is not None:
            help_text = e.ctx.get_help()  # the rich formatter prints the help itself and returns ""
            if help_text:
                Console(stderr=True).print(help_text, highlight=False)
        return 2
    except ClickException as e:
        return fail("UsageError", usage_message(e), as_json)
    except typer.Abort:
        return fail("Aborted", "aborted", as_json)
    except ChipfleetError as e:
        return library_error(e, as_json, flags_for(*invoked(command, args)))
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
