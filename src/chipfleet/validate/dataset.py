"""Published measurements in the calibration.csv schema, read into typed rows."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from chipfleet.exceptions import ConfigError

COLUMNS = (
    "id",
    "kind",
    "source",
    "model",
    "params_b",
    "accelerator",
    "accel_count",
    "instance_or_system",
    "precision",
    "framework",
    "parallelism",
    "seq_len",
    "batch",
    "input_len",
    "output_len",
    "metric",
    "value",
    "notes",
)


@dataclass(frozen=True)
class Measurement:
    """One published result. Text fields as published; numbers parsed where the column is numeric."""

    id: str
    kind: str
    source: str
    model: str
    params_b: float | None
    accelerator: str
    accel_count: int | None
    instance_or_system: str
    precision: str
    framework: str
    parallelism: str
    seq_len: int | None
    batch: str
    input_len: str
    output_len: str
    metric: str
    value: float
    notes: str
    line: int

    @property
    def source_group(self) -> str:
        """The publication a row comes from, for leave-one-source-out: repository + file name (commit and
        directory dropped, so one table's history is one source); MLPerf rows group by results repository;
        URLs by host and path."""
        src = self.source.strip()
        if src.startswith("http"):
            return src.split("#")[0].split("?")[0]
        repo, _, path = src.partition(":")
        repo = repo.split("@")[0]
        if repo.startswith("mlcommons/"):
            return repo
        name = path.split("@")[0].split(" ")[0].rstrip("/").rsplit("/", 1)[-1]
        return f"{repo}:{name}" if name else repo


@dataclass(frozen=True)
class MeasurementSet:
    rows: tuple[Measurement, ...]
    path: str
    sha256: str


def _int(text: str) -> int | None:
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        return None


def _float(text: str) -> float | None:
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def shipped_measurements() -> MeasurementSet:
    """The copy of calibration.csv that ships with the package (see validate/data/README.md)."""
    from importlib import resources

    return load_measurements(Path(str(resources.files("chipfleet.validate") / "data" / "calibration.csv")))


def load_measurements(path: str | Path) -> MeasurementSet:
    """Read a measurements CSV; a missing column or a non-numeric value is an error naming file and line."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{p}: cannot read measurements file ({exc.strerror}); check the path", field="path"
        ) from None
    text = raw.decode("utf-8-sig")
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(
            f"{p}: missing column(s) {', '.join(missing)}; the file needs the columns of calibration.csv: "
            + ", ".join(COLUMNS)
        )
    rows: list[Measurement] = []
    seen: set[str] = set()
    for line, r in enumerate(reader, start=2):
        rid = (r["id"] or "").strip()
        if not rid:
            continue
        if rid in seen:
            raise ConfigError(f"{p}: line {line}: duplicate id {rid!r}")
        seen.add(rid)
        value = _float(r["value"] or "")
        if value is None:
            raise ConfigError(f"{p}: line {line} ({rid}): value {r['value']!r} is not a number")
        rows.append(
            Measurement(
                id=rid,
                kind=(r["kind"] or "").strip().lower(),
                source=r["source"] or "",
                model=r["model"] or "",
                params_b=_float(r["params_b"] or ""),
                accelerator=r["accelerator"] or "",
                accel_count=_int(r["accel_count"] or ""),
                instance_or_system=r["instance_or_system"] or "",
                precision=r["precision"] or "",
                framework=r["framework"] or "",
                parallelism=r["parallelism"] or "",
                seq_len=_int(r["seq_len"] or ""),
                batch=r["batch"] or "",
                input_len=r["input_len"] or "",
                output_len=r["output_len"] or "",
                metric=(r["metric"] or "").strip(),
                value=value,
                notes=r["notes"] or "",
                line=line,
            )
        )
    return MeasurementSet(rows=tuple(rows), path=str(p), sha256=hashlib.sha256(raw).hexdigest())
