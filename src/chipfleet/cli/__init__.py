"""The ``chipfleet`` command line: one typer app, one module per command group."""

from chipfleet.cli.root import app, main, run

__all__ = ["app", "main", "run"]
