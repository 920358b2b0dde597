"""What the CLI prints: a console whose tables are never cut, JSON on stdout, progress on stderr."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from chipfleet.registry import Registry
from chipfleet.serialize import dumps


class _Console(Console):
    """A console that never cuts a table's cells to "…" (a truncated "tpu-v…" is ambiguous, a folded number
    misreads). Rich squeezes the widest columns of a table too wide for the terminal without regard to their
    longest word; here each column gets at least its longest word and the spare width in proportion to what it
    would use beyond that, and a table whose longest words alone do not fit prints as one block of lines per row.
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(_fit(self, obj) for obj in objects), **kwargs)


def _fit(console: Console, obj: Any) -> Any:
    """``obj``, with a table's column widths set so no cell is cut, or as records when nothing can fit."""
    if not isinstance(obj, Table) or not obj.columns:
        return obj
    wide = console.options.update_width(1 << 16)
    ranges = [obj._measure_column(console, wide, col) for col in obj.columns]
    room = console.width - obj._extra_width
    if sum(r.maximum for r in ranges) <= room:
        return obj
    least = sum(r.minimum for r in ranges)
    if least > room:
        return _records(obj)
    extra = _share(room - least, [r.maximum - r.minimum for r in ranges])
    for col, r, more in zip(obj.columns, ranges, extra, strict=True):
        col.width = r.minimum + more - obj._get_padding_width(col._index)
    return obj


def _share(spare: int, wants: list[int]) -> list[int]:
    """``spare`` columns shared out: the smallest wants are met whole while they fit (short cells such as
    "108.9 days" stay on one line; long prose wraps), what is left in proportion to the rest."""
    out = [0] * len(wants)
    open_ = sorted(range(len(wants)), key=lambda i: wants[i])
    while open_ and wants[open_[0]] <= spare:
        i = open_.pop(0)
        out[i] = wants[i]
        spare -= wants[i]
    total = sum(wants[i] for i in open_)
    for i in open_:
        out[i] = spare * wants[i] // max(1, total)
    return out


def _records(obj: Table) -> Group:
    """A table as its title, then per row the row's name and a ``column: value`` line for each other column."""
    headers = [str(c.header).replace("\n", " ") for c in obj.columns]
    lines: list[Any] = [Text(str(obj.title), style="bold")] if obj.title else []
    for r in range(obj.row_count):
        cells = [c._cells[r] if r < len(c._cells) else "" for c in obj.columns]
        lines.append(Text(_plain(cells[0]), style="bold"))
        lines.extend(Text(f"  {h}: {_plain(v)}") for h, v in zip(headers[1:], cells[1:], strict=True))
    if obj.caption:
        lines.append(Text(str(obj.caption), style="dim"))
    return Group(*lines)


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain


console: Console = _Console()  # sized to the terminal (or $COLUMNS); main() makes a fresh one per invocation


def new_console() -> None:
    """A fresh console for one invocation: the terminal's width now ($COLUMNS when not a terminal), not at import."""
    global console
    console = _Console()


def show(*objects: Any) -> None:
    """Print tables and lines on stdout through this invocation's console."""
    console.print(*objects)


def emit_json(data: Any) -> None:
    """Strict JSON on stdout: a non-finite number becomes null with its reason (chipfleet.serialize)."""
    sys.stdout.write(dumps(data) + "\n")


_NO_RESULT: Any = object()
_result: Any = _NO_RESULT


def record_result(result: Any) -> None:
    """Keep the result this command shows (as JSON or as tables): the run store saves it as the run's outputs
    (chipfleet.cli.runs_save, after the command returns)."""
    global _result
    _result = result


def take_result() -> tuple[bool, Any]:
    """The result the command recorded (``(False, None)`` if none), cleared for the next command."""
    global _result
    result, _result = _result, _NO_RESULT
    return (False, None) if result is _NO_RESULT else (True, result)


def show_plugins(registry: Registry[Any], title: str, as_json: bool) -> None:
    """A plugin family's listing: each registered name with what it does (``--json``: a list of both)."""
    entries = registry.entries()
    if as_json:
        emit_json([{"name": e.name, "description": e.description} for e in entries])
        return
    table = Table(title=title)
    table.add_column("name", no_wrap=True)
    table.add_column("what it does")
    for e in entries:
        table.add_row(e.name, e.description)
    show(table)


def progress_line(msg: str) -> None:
    Console(stderr=True).print(f"[dim]{msg}[/dim]", highlight=False)


def show_simulation(
    result: Any, tables: Callable[[Any], list[Any]], as_json: bool, plot: Path | None, draw: Callable[[Path], object]
) -> None:
    """Charts first (so --json output stays the last thing printed), then JSON or the tables."""
    record_result(result)
    if plot is not None:
        draw(plot)
    if as_json:
        emit_json(result)
        return
    for table in tables(result):
        show(table)
    if plot is not None:
        show(f"charts: {plot}/")


@contextmanager
def status(as_json: bool) -> Iterator[Callable[[str], None] | None]:
    """A progress callback for a long command: a live status line on a terminal's stderr, plain lines on a
    stderr that is not a terminal, nothing with --json (stdout then holds only the JSON)."""
    if as_json:
        yield None
        return
    err = Console(stderr=True)
    if not err.is_terminal:
        yield lambda msg: err.print(f"[dim]{msg}[/dim]", highlight=False, soft_wrap=True)
        return
    with err.status("starting") as live:
        yield lambda msg: live.update(msg)


@contextmanager
def native_stdout_silenced(active: bool) -> Iterator[None]:
    """While ``active``, file descriptor 1 points at the null device and Python's ``sys.stdout`` at a copy of
    what it was, restored on the way out.

    Native code (HiGHS, the MILP solver behind ``plan serve``) prints notes straight to descriptor 1, whatever
    its display options; they would corrupt the JSON a program reads and clutter the tables a person reads, so
    while the command runs only what Python writes reaches the real stdout. A ``sys.stdout`` that is not descriptor 1 (a
    test's capture, a pipe set up in Python) keeps receiving Python's writes as it is.
    """
    if not active:
        yield
        return
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no descriptor 1 (an embedded interpreter): nothing to protect
        yield
        return
    original = sys.stdout
    copy: TextIO | None = None
    if _is_descriptor_1(original):
        copy = open(os.dup(saved), "w", encoding=original.encoding, errors=original.errors, closefd=True)  # noqa: SIM115
        sys.stdout = copy
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        yield
    finally:
        if copy is not None:
            copy.flush()
            sys.stdout = original
            copy.close()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def _is_descriptor_1(stream: TextIO) -> bool:
    try:
        return stream.fileno() == 1
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError and a ValueError
        return False
