"""The CLI tests' shared set-up: the shipped catalog files are parsed once per worker, not once per command."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chipfleet.catalog import loader
from chipfleet.cli.runs_save import _STORES
from chipfleet.store import RunStore, open_store

# Every CLI command loads the catalog, and PyYAML's pure-Python parser spends ~0.35 s of each ~0.5 s load on the
# shipped files; the CLI tests run a few hundred commands in process. The shipped files do not change during a run
# (the key has their size and modification time all the same), so their parsed documents are kept and each command
# gets its own deep copy; overlays and every other file are read as before, through the loader's own checks.
_PARSED: dict[tuple[str, int, int], dict[str, Any]] = {}
_SHIPPED = frozenset(str(p) for calibrated in (True, False) for p in loader.shipped_files(calibrated))


@pytest.fixture(autouse=True)
def _shipped_catalog_parsed_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    read = loader._read

    def cached(path: Path) -> dict[str, Any]:
        if str(path) not in _SHIPPED:
            return read(path)
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in _PARSED:
            _PARSED[key] = read(path)
        return copy.deepcopy(_PARSED[key])

    monkeypatch.setattr(loader, "_read", cached)
    yield


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunStore]:
    """This test's own run store (a SQLite file): what the commands save, and what `runs` and `sweep` read."""
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    monkeypatch.setenv("CHIPFLEET_DB", url)
    store = open_store(url)
    yield store
    store.close()
    _STORES.pop(url, None)
