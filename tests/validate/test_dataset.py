"""Reading measurement files: the shipped copy, and clear errors on bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.validate.dataset import COLUMNS, load_measurements, shipped_measurements


def test_shipped_copy_loads() -> None:
    ms = shipped_measurements()
    assert len(ms.rows) > 100 and len(ms.sha256) == 64
    assert {r.kind for r in ms.rows} >= {"train", "infer", "claim"}


def test_source_groups_merge_a_tables_history() -> None:
    rows = {r.id: r for r in shipped_measurements().rows}
    assert rows["GT0001"].source_group == rows["GT0004"].source_group  # same Neuron table, two paths
    assert rows["GT0001"].source_group != rows["GT0057"].source_group


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.csv"
    p.write_text(text)
    return p


def test_missing_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing column"):
        load_measurements(_write(tmp_path, "id,kind\nX,train\n"))


def test_bad_value_names_line(tmp_path: Path) -> None:
    header = ",".join(COLUMNS)
    line = ",".join("x" if c != "value" else "fast" for c in COLUMNS)
    with pytest.raises(ConfigError, match="line 2"):
        load_measurements(_write(tmp_path, f"{header}\n{line}\n"))


def test_duplicate_id(tmp_path: Path) -> None:
    header = ",".join(COLUMNS)
    line = ",".join("1" for _ in COLUMNS)
    with pytest.raises(ConfigError, match="duplicate id"):
        load_measurements(_write(tmp_path, f"{header}\n{line}\n{line}\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_measurements(tmp_path / "nope.csv")
