"""How errors reach the CLI user: one line on stderr (or JSON with --json), naming the options they typed.

The library names a bad input by its Python field (``ttft_p90_s``) and carries it on the error (``field=``);
here each field maps to the option a CLI user gave it with (``--slo-ttft-p90``), and
:func:`chipfleet.exceptions.renamed` puts the option in the message.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from typer._click.core import Command  # typer vendors click
from typer._click.exceptions import ClickException

from chipfleet.exceptions import ChipfleetError, DoesNotFitError, UnknownNameError, renamed
from chipfleet.serialize import dumps

# library field → the option that sets it, wherever a command has that option
FLAGS: dict[str, str] = {
    "acceptance_length": "--acceptance-length",
    "batch": "--batch",
    "budget_usd": "--budget",
    "clients": "--concurrency",
    "concurrency": "--concurrency",
    "deadline_s": "--deadline",
    "decode": "--decode",
    "dp_attention": "--dp-attention",
    "draft_tokens": "--draft-tokens",
    "engine": "--engine",
    "ep": "--ep",
    "fleet": "--fleet",
    "global_batch": "--global-batch",
    "input_edges": "--input-edges",
    "interruptions_per_month": "--interruptions-per-month",
    "kv_precision": "--kv-precision",
    "load_curve": "--load-curve",
    "mapping": "--mapping",
    "max_batch_tokens": "--max-batch-tokens",
    "max_chips": "--max-chips",
    "max_instances_per_type": "--max-instances",
    "min_serving_nodes": "--min-serving-nodes",
    "mtp": "--mtp",
    "output_edges": "--output-edges",
    "peak_to_trough": "--peak-to-trough",
    "peak_window_s": "--peak-window",
    "pp": "--pp",
    "prefill": "--prefill",
    "precision": "--precision",
    "precisions": "--precision",
    "pricing": "--pricing",
    "replay_rounds": "--max-rounds",
    "restart_s": "--restart",
    "seq_len": "--seq-len",
    "serve_fleet": "--serve-fleet",
    "skip_bad_rows": "--skip-bad-rows",
    "startup_s": "--startup-time",
    "strict": "--strict",
    "think_time_s": "--think-time",
    "tp": "--tp",
    "tpot_p90_s": "--slo-tpot-p90",
    "ttft_p90_s": "--slo-ttft-p90",
    "weight_precision": "--precision",
}

# where one field has a command's own spelling (the serving planner's max_seqs is plan serve's --max-batch)
COMMAND_FLAGS: dict[str, dict[str, str]] = {
    "plan serve": {"max_seqs": "--max-batch"},
    "simulate serve": {"max_seqs": "--max-seqs", "slo_ttft_s": "--slo-ttft-p90", "slo_tpot_s": "--slo-tpot-p90"},
    "simulate mixed": {"control_interval_s": "--interval", "target_ttft_s": "--slo-ttft-p90", "until_s": "--duration"},
    "validate": {"path": "--data"},
    "calibrate": {"path": "--data"},
}


def invoked(root: Command, args: list[str]) -> tuple[str, Command]:
    """The command ``args`` run under ``root`` (a click group): its path ("plan serve") and the command itself.

    Read as click reads it: options of a group come before its subcommand's name (an option taking a value
    takes the next argument), and the first argument that names no subcommand ends the walk."""
    path: list[str] = []
    cmd: Command = root
    rest = iter(args)
    for arg in rest:
        if arg.startswith("-"):
            param = next((p for p in cmd.params if arg in (*p.opts, *p.secondary_opts)), None)
            if param is not None and not getattr(param, "is_flag", False) and param.nargs > 0:
                next(rest, None)
            continue
        sub = getattr(cmd, "commands", {}).get(arg)
        if sub is None:
            break
        path.append(arg)
        cmd = sub
    return " ".join(path), cmd


def flags_for(path: str, command: Command) -> dict[str, str]:
    """Field → option for one command, kept to the options it has: a field from an input the command does not
    offer keeps the library's name rather than name an option the user could not have given."""
    options = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    names = {**FLAGS, **COMMAND_FLAGS.get(path, {})}
    return {field: flag for field, flag in names.items() if flag in options}


def usage_message(e: ClickException) -> str:
    """A click usage error as one line: what was wrong and where the help is."""
    text = " ".join(e.format_message().split()).replace("Value error, ", "")
    for said, meant in (
        ("Input should be greater than or equal to", "must be at least"),
        ("Input should be less than or equal to", "must be at most"),
        ("Input should be greater than", "must be more than"),
        ("Input should be less than", "must be less than"),
    ):
        text = text.replace(said, meant)
    prefix, sep, rest = text.partition("': ")
    if sep and prefix.startswith("Invalid value for '") and prefix.removeprefix("Invalid value for '") in rest:
        text = rest  # the units parser's message already names the option
    ctx = getattr(e, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    return f"{text}{where}"


def fail(error_type: str, message: str, as_json: bool, label: str = "error", **details: Any) -> int:
    """Report an error: one line on stderr, or with --json ``{"error": {"type", "message", ...}}`` on stdout (with
    the error's figures where it has them: suggestions, bytes needed and available); exit 2."""
    if as_json:
        sys.stdout.write(dumps({"error": {"type": error_type, "message": message, **details}}) + "\n")
    else:
        Console(stderr=True).print(f"[red]{label}:[/red] {message}", highlight=False, soft_wrap=True, markup=True)
    return 2


def library_error(e: ChipfleetError, as_json: bool, flags: dict[str, str]) -> int:
    """Report a library error in the CLI's terms: its field named as the option that set it."""
    message = renamed(e, flags)
    if isinstance(e, DoesNotFitError):
        return fail(
            type(e).__name__, message, as_json, label="does not fit", needed_bytes=e.needed_bytes,
            available_bytes=e.available_bytes, suggestion=e.suggestion,
        )  # fmt: skip
    if isinstance(e, UnknownNameError):
        return fail(type(e).__name__, message, as_json, kind=e.kind, name=e.name, suggestions=e.suggestions)
    return fail(type(e).__name__, message, as_json)
