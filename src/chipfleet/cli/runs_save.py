"""Saving every estimate, plan, simulation, validation, calibration and claims check in the run store.

:func:`record_runs` wraps those commands' callbacks in the click tree ``main()`` runs: each run is saved once it ends,
with its parsed options (inputs), the result it showed (``output.record_result``), the catalog's hash and overlays,
its wall time, and its status; a failing command is saved as failed with its error. Saving never changes what the
command prints or its exit code: a store that cannot be written gets one warning on stderr.
``--no-save`` (root option) or ``CHIPFLEET_NO_SAVE=1`` turns it off."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer._click.core import Command
from typer._click.globals import get_current_context  # typer vendors click
from typer.exceptions import Exit

from chipfleet.cli import output
from chipfleet.cli.errors import flags_for
from chipfleet.cli.options import State
from chipfleet.exceptions import ChipfleetError, renamed

if TYPE_CHECKING:
    from chipfleet.store import RunStore

NO_SAVE_ENV = "CHIPFLEET_NO_SAVE"
SAVED_GROUPS = frozenset({"estimate", "plan", "simulate", "validate", "calibrate", "claims"})
DISPLAY_ONLY = frozenset({"as_json"})  # options that change how the answer is printed, not the answer
NOT_SAVED = frozenset({"simulate routers", "simulate policies", "simulate sharing"})  # listings, not runs


class Saving:
    """Per-invocation switch set by the root callback's ``--no-save``."""

    enabled: bool = True


def saved(kind: str) -> bool:
    """Whether a command (``plan serve``) is a run the store keeps."""
    return kind.split(" ", 1)[0] in SAVED_GROUPS and kind not in NOT_SAVED


def saving_on() -> bool:
    return Saving.enabled and os.environ.get(NO_SAVE_ENV, "").strip().lower() not in ("1", "true", "yes")


_STORES: dict[str, RunStore] = {}


def store() -> RunStore:
    """The run store of ``$CHIPFLEET_DB`` (or the user's data folder), opened once per process and URL."""
    from chipfleet.store import default_store_url, open_store

    url = default_store_url()
    if url not in _STORES:
        _STORES[url] = open_store(url)
    return _STORES[url]


def record_runs(root: Command, source: str = "cli") -> None:
    """Wrap the callback of every saved command under ``root`` (a click group, as ``main()`` builds it)."""

    def walk(cmd: Command, path: tuple[str, ...]) -> None:
        subcommands: dict[str, Command] | None = getattr(cmd, "commands", None)  # a group
        if subcommands is not None:
            for name, sub in subcommands.items():
                walk(sub, (*path, name))
        elif path and saved(" ".join(path)) and cmd.callback is not None:
            cmd.callback = _recorded(" ".join(path), cmd.callback, source)

    walk(root, ())


def _recorded(kind: str, callback: Callable[..., Any], source: str) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        ctx = get_current_context()
        output.take_result()  # nothing left over from an earlier command of this process
        start = time.perf_counter()
        try:
            value = callback(*args, **kwargs)
        except BaseException as e:
            _save(kind, ctx.params, ctx.command, start, source, None if _clean_exit(e) else e)
            raise
        _save(kind, ctx.params, ctx.command, start, source, None)
        return value

    return run


def _is_exit(e: BaseException) -> bool:
    return isinstance(e, SystemExit | Exit)


def _clean_exit(e: BaseException) -> bool:
    """A command that ends early on purpose with exit code 0 (typer.Exit()) finished its run."""
    return _is_exit(e) and getattr(e, "exit_code", getattr(e, "code", None)) in (0, None)


def _error_text(kind: str, command: Command, e: BaseException) -> tuple[str, str]:
    """The error as the CLI showed it (options named as flags) and the status: cancelled for Ctrl-C."""
    if isinstance(e, KeyboardInterrupt):
        return "interrupted by the user (Ctrl-C)", "cancelled"
    if isinstance(e, ChipfleetError):
        return f"{type(e).__name__}: {renamed(e, flags_for(kind, command))}", "failed"
    if _is_exit(e):
        return f"exited with code {getattr(e, 'exit_code', getattr(e, 'code', '?'))}", "failed"
    return f"{type(e).__name__}: {' '.join(str(e).split())}", "failed"


def _save(
    kind: str, parsed: dict[str, Any], command: Command, start: float, source: str, error: BaseException | None
) -> None:
    wall_s = time.perf_counter() - start
    params = {k: v for k, v in parsed.items() if k not in DISPLAY_ONLY}
    has_result, result = output.take_result()
    if not saving_on():
        return
    try:
        from chipfleet.catalog import content_hash
        from chipfleet.catalog.fingerprint import overlays

        catalog = State._catalog  # the catalog the command used; none loaded: the run did not depend on it
        catalog_hash = "" if catalog is None else content_hash(catalog)
        layers = [] if catalog is None else overlays(catalog)
        runs = store()
        timings = {"wall_s": wall_s}
        if error is None:
            outputs = result if has_result else None
            runs.save(kind, params, outputs, catalog_hash=catalog_hash, overlays=layers, timings=timings, source=source)
            return
        message, status = _error_text(kind, command, error)
        runs.save_failed(kind, params, message, status=status, catalog_hash=catalog_hash, overlays=layers,
                         timings=timings, source=source)  # fmt: skip
    except Exception as e:  # saving must never break the command: say so and carry on
        reason = str(e) if isinstance(e, ChipfleetError) else f"{type(e).__name__}: {' '.join(str(e).split())}"
        Console(stderr=True).print(
            f"[yellow]warning:[/yellow] this run was not saved in the run store ({reason}); the command's result "
            f"stands. Set $CHIPFLEET_DB to a writable database, or give --no-save.",
            highlight=False, soft_wrap=True, markup=True,
        )  # fmt: skip


NoSaveOpt = Annotated[
    bool,
    typer.Option(
        "--no-save",
        help=f"Do not save this run in the run store (`chipfleet runs`); also ${NO_SAVE_ENV}=1.",
    ),
]
