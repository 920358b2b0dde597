"""Results to JSON-safe data and files written whole: no NaN in JSON, no half-written file on failure."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chipfleet.exceptions import ConfigError

NULL_REASONS_KEY = "null_reasons"
"""Key of the top-level map from a JSON path to why its value, a non-finite float, was written as null."""


def _reason(x: float) -> str:
    if math.isnan(x):
        return "not a number: undefined for this input (e.g. a ratio of zero to zero)"
    return "infinite: the quantity is unbounded for this input (e.g. a queue that never drains)"


JSON_PROPERTIES = "__json_properties__"
"""Class attribute of a dataclass: names of derived properties written after its fields (e.g. ``usd_per_hour``)."""
JSON_OMIT = "__json_omit__"
"""Class attribute of a dataclass: names of fields left out of its JSON (bulky per-item detail, back references)."""


def record_fields(record: Any) -> dict[str, Any]:
    """A dataclass instance as ``{name: value}``: its fields, less ``__json_omit__``, then its
    ``__json_properties__``. The one place that decides a result's JSON keys, so keys are attribute names."""
    omit = frozenset(getattr(record, JSON_OMIT, ()))
    out = {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.name not in omit}
    for name in getattr(record, JSON_PROPERTIES, ()):
        out[name] = getattr(record, name)
    return out


def to_jsonable(data: Any, *, reasons: dict[str, str] | None = None, _path: str = "$") -> Any:
    """``data`` as plain JSON types; each NaN or ±Infinity becomes null and its path and reason go in ``reasons``.

    Handles dicts, lists/tuples/sets, dataclasses (see :func:`record_fields`), pydantic models (``model_dump``),
    enums, paths and numpy scalars and arrays (anything with ``tolist``); other objects become their ``str``.
    """
    if data is None or isinstance(data, bool | str):
        return data
    if isinstance(data, int) and not isinstance(data, enum.Enum):
        return data
    if isinstance(data, float):
        if math.isfinite(data):
            return data
        if reasons is not None:
            reasons[_path] = _reason(data)
        return None
    if isinstance(data, enum.Enum):
        return to_jsonable(data.value, reasons=reasons, _path=_path)
    if isinstance(data, Mapping):
        return {str(k): to_jsonable(v, reasons=reasons, _path=f"{_path}.{k}") for k, v in data.items()}
    if isinstance(data, list | tuple | set | frozenset):
        items = sorted(data, key=str) if isinstance(data, set | frozenset) else data
        return [to_jsonable(v, reasons=reasons, _path=f"{_path}[{i}]") for i, v in enumerate(items)]
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return to_jsonable(record_fields(data), reasons=reasons, _path=_path)
    if hasattr(data, "model_dump"):
        return to_jsonable(data.model_dump(mode="json"), reasons=reasons, _path=_path)
    if hasattr(data, "tolist"):  # numpy scalars and arrays
        return to_jsonable(data.tolist(), reasons=reasons, _path=_path)
    if isinstance(data, os.PathLike):
        return os.fspath(data)
    return str(data)


def dumps(data: Any, *, indent: int | None = 2) -> str:
    """Strict JSON (never NaN/Infinity); where a value had to become null, a ``null_reasons`` map says why.

    The map sits in the top-level object; for a top-level list it sits in each item object that needed it (paths
    relative to that item), so the shape of ``data`` never changes.
    """
    reasons: dict[str, str] = {}
    safe = to_jsonable(data, reasons=reasons)
    if reasons and isinstance(safe, dict):
        safe[NULL_REASONS_KEY] = reasons
    elif reasons and isinstance(safe, list):
        for i, item in enumerate(safe):
            prefix = f"$[{i}]"
            mine = {"$" + k[len(prefix) :]: v for k, v in reasons.items() if k == prefix or k.startswith(prefix + ".")}
            if mine and isinstance(item, dict):
                item[NULL_REASONS_KEY] = mine
    return json.dumps(safe, indent=indent, allow_nan=False, ensure_ascii=False)


def check_output_path(path: Path, what: str = "output file") -> Path:
    """Fail early, before any work, if ``path`` cannot be written as a file: a folder there, a missing or
    non-folder parent, or no write permission. Returns the path."""
    p = Path(path)
    if p.exists() and p.is_dir():
        raise ConfigError(f"{what} {str(p)!r} is a folder; give a file name inside it, e.g. {str(p / 'out.json')!r}")
    parent = p.parent if str(p.parent) else Path(".")
    return _check_folder(parent, what, p)


def check_output_dir(path: Path, what: str = "output folder") -> Path:
    """Fail early if ``path`` cannot be used (or created) as a folder for output files. Returns the path."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise ConfigError(f"{what} {str(p)!r} is a file, not a folder; give a folder path")
        if not os.access(p, os.W_OK | os.X_OK):
            raise ConfigError(f"{what} {str(p)!r} is not writable; choose another folder or fix its permissions")
        return p
    _check_folder(p.parent if str(p.parent) else Path("."), what, p)
    return p


def _check_folder(folder: Path, what: str, target: Path) -> Path:
    existing = folder
    while not existing.exists():  # the nearest existing ancestor must be a writable folder (mkdir -p then works)
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ConfigError(f"cannot write {what} {str(target)!r}: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"cannot write {what} {str(target)!r}: folder {str(existing)!r} is not writable; "
            "choose another path or fix its permissions"
        )
    return target


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole or not at all: a temp file in the same folder, fsync, then rename.

    On any failure (disk full, permission) the temp file is removed and an existing file at ``path`` is untouched.
    Missing parent folders are created.
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as e:
        raise ConfigError(f"cannot write {str(p)!r}: {e.strerror or e}; choose another path") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(p))
        os.replace(tmp, p)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"cannot write {str(p)!r}: {e.strerror or e}; nothing was changed there") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def _file_mode(path: Path) -> int:
    """An existing file keeps its mode; a new one gets what open() would give it (0666 less the umask), not
    mkstemp's private 0600."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """:func:`atomic_write_bytes` for text."""
    return atomic_write_bytes(path, text.encode(encoding))


def write_json(path: Path, data: Any) -> Path:
    """Strict JSON (see :func:`dumps`) written atomically."""
    return atomic_write_text(path, dumps(data) + "\n")
