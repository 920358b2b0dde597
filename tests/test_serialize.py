"""chipfleet.serialize: strict JSON with reasons for nulls, output paths checked early, files written whole."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chipfleet.exceptions import ConfigError
from chipfleet.serialize import (
    NULL_REASONS_KEY,
    atomic_write_text,
    check_output_dir,
    check_output_path,
    dumps,
    to_jsonable,
)


def test_non_finite_floats_become_null_with_a_reason() -> None:
    out = json.loads(dumps({"a": float("nan"), "b": [1.5, float("inf")], "c": np.float64("-inf")}))
    assert out["a"] is None and out["b"] == [1.5, None] and out["c"] is None
    assert set(out[NULL_REASONS_KEY]) == {"$.a", "$.b[1]", "$.c"}
    assert "infinite" in out[NULL_REASONS_KEY]["$.b[1]"]


def test_a_top_level_list_keeps_its_shape() -> None:
    out = json.loads(dumps([{"x": float("nan")}, {"y": 1}]))
    assert isinstance(out, list) and out[1] == {"y": 1}
    assert out[0][NULL_REASONS_KEY] == {"$.x": out[0][NULL_REASONS_KEY]["$.x"]}


def test_finite_data_has_no_reasons_key() -> None:
    assert NULL_REASONS_KEY not in json.loads(dumps({"a": 1.0, "b": np.arange(3)}))


@given(st.recursive(st.floats() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)))
def test_output_is_always_strict_json(data: object) -> None:
    json.loads(dumps(data), parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


def test_output_path_checks(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="is a folder"):
        check_output_path(tmp_path)
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_output_path(tmp_path / "afile" / "out.json")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_output_dir(tmp_path / "afile")
    assert check_output_path(tmp_path / "new" / "deeper" / "out.json") == tmp_path / "new" / "deeper" / "out.json"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission bits")
def test_unwritable_folder_is_refused(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            check_output_path(ro / "x.json")
    finally:
        ro.chmod(0o700)


def test_a_failed_write_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "result.json"
    atomic_write_text(target, "old contents\n")

    def full_disk(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(ConfigError, match="No space left"):
        atomic_write_text(target, "new contents that never land\n")
    assert target.read_text() == "old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left behind


def test_a_write_into_a_file_path_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="cannot write"):
        atomic_write_text(tmp_path / "afile" / "out.json", "{}")


def test_a_new_file_gets_the_usual_mode_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        fresh = atomic_write_text(tmp_path / "fresh.json", "{}")
        assert fresh.stat().st_mode & 0o777 == 0o644
        kept = tmp_path / "kept.json"
        kept.write_text("x")
        kept.chmod(0o640)
        atomic_write_text(kept, "y")
        assert kept.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)


@dataclasses.dataclass(frozen=True)
class _Result:
    __json_properties__: ClassVar[tuple[str, ...]] = ("usd_per_hour",)
    __json_omit__: ClassVar[tuple[str, ...]] = ("per_job",)
    usd: float
    hours: float
    per_job: tuple[float, ...]

    @property
    def usd_per_hour(self) -> float:
        return self.usd / self.hours


def test_a_dataclass_is_its_fields_less_omitted_plus_named_properties() -> None:
    assert to_jsonable(_Result(10.0, 4.0, (1.0, 2.0))) == {"usd": 10.0, "hours": 4.0, "usd_per_hour": 2.5}
