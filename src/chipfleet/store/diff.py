"""What changed between two saved runs: their inputs, catalog overlays and version, and how far the answer moved.

Pure functions on the runs' stored JSON; :meth:`chipfleet.store.RunStore.diff` calls :func:`diff_runs`."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import yaml

from chipfleet.store.records import Change, Move, OverlayChange, RunDiff, RunRecord

HEADLINE_WORDS: tuple[str, ...] = (
    "usd", "cost", "price", "time_s", "days", "hours", "throughput", "tokens_per_s", "ttft", "tpot", "latency",
    "kwh", "energy", "co2", "carbon", "instances", "chips", "slo", "error",
)  # fmt: skip
"""Words that mark a headline figure: money, time, throughput, latency, energy, carbon, fleet size, accuracy."""

_KEYS = ("name", "id", "instance", "region", "pricing", "model", "kind", "bucket")
"""Fields that name a list item, so lists of records compare item by item by name rather than by position."""


def flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of JSON ``data`` as (path, value): ``a.b``, ``items[3]``, or ``prices[us-east-1/spot]`` for a
    list of records named by their :data:`_KEYS`; an empty dict or list is a leaf of its own."""
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list) and data:
        labels = _labels(data)
        for label, value in zip(labels, data, strict=True):
            yield from flatten(value, f"{prefix}[{label}]")
    else:
        yield prefix, data


def _labels(items: list[Any]) -> list[str]:
    """Each item's label: its naming fields joined by "/" when every item has them and they are unique, else
    its index."""
    if all(isinstance(x, dict) for x in items):
        names = [x.get("name") for x in items]
        if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
            return [str(n) for n in names]
        labels = ["/".join(str(x[k]) for k in _KEYS if k in x and isinstance(x[k], str | int)) for x in items]
        if all(labels) and len(set(labels)) == len(labels):
            return labels
    return [str(i) for i in range(len(items))]


def changes(old: Any, new: Any) -> list[Change]:
    """The leaves that differ between two JSON documents (added and removed leaves have None on the other side)."""
    a, b = dict(flatten(old)), dict(flatten(new))
    out = [Change(path=p, old=a.get(p), new=b.get(p)) for p in [*a, *(p for p in b if p not in a)]]
    return [c for c in out if c.old != c.new or (c.path in a) != (c.path in b)]


def _number(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def is_headline(path: str) -> bool:
    """A headline figure: a top-level or second-level output whose name has a :data:`HEADLINE_WORDS` word."""
    depth = path.count(".") + path.count("[")
    last = path.rsplit(".", 1)[-1].lower()
    return depth <= 1 and any(w in last for w in HEADLINE_WORDS)


def moves(old: Any, new: Any) -> tuple[list[Move], list[Change]]:
    """The numeric outputs that moved (headline figures first, then the largest relative move first), and the
    other outputs that differ."""
    moved: list[Move] = []
    other: list[Change] = []
    for c in changes(old, new):
        a, b = _number(c.old), _number(c.new)
        if a is None or b is None:
            other.append(c)
            continue
        pct = None if a == 0 else 100.0 * (b - a) / abs(a)
        moved.append(Move(path=c.path, old=a, new=b, delta=b - a, percent=pct, headline=is_headline(c.path)))
    moved.sort(key=lambda m: (not m.headline, -(math.inf if m.percent is None else abs(m.percent)), m.path))
    return moved, other


def overlay_changes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[OverlayChange]:
    """The overlays added, removed or edited between two runs (matched by file name), with their changed records:
    each overlay's YAML is read back from the text stored with the run and compared record by record."""
    a = {_overlay_name(o): o for o in old}
    b = {_overlay_name(o): o for o in new}
    out: list[OverlayChange] = []
    for name in [*a, *(n for n in b if n not in a)]:
        was, now = a.get(name), b.get(name)
        old_sha = None if was is None else was.get("sha256")
        new_sha = None if now is None else now.get("sha256")
        if was is not None and now is not None and old_sha == new_sha:
            continue
        status = "added" if was is None else "removed" if now is None else "changed"
        records = changes(_overlay_doc(was), _overlay_doc(now))
        out.append(OverlayChange(name=name, status=status, old_sha256=old_sha, new_sha256=new_sha, records=records))
    return out


def _overlay_name(overlay: dict[str, Any]) -> str:
    path = str(overlay.get("path", "?"))
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _overlay_doc(overlay: dict[str, Any] | None) -> Any:
    """An overlay's records as stored with the run (its YAML text parsed), or {} when absent or unreadable."""
    if overlay is None or not isinstance(overlay.get("text"), str):
        return {}
    try:
        doc = yaml.safe_load(overlay["text"])
    except yaml.YAMLError:
        return {"text": overlay["text"]}
    return doc if isinstance(doc, dict) else {"document": doc}


def diff_runs(a: RunRecord, b: RunRecord) -> RunDiff:
    """What changed from run ``a`` to run ``b`` and by how much the answer moved."""
    moved, other = moves(a.outputs, b.outputs)
    return RunDiff(
        a=a.id,
        b=b.id,
        kind=(a.kind, b.kind),
        inputs=changes(a.inputs, b.inputs),
        catalog_hash=None if a.catalog_hash == b.catalog_hash else (a.catalog_hash, b.catalog_hash),
        overlays=overlay_changes(a.overlays, b.overlays),
        version=None if a.version == b.version else (a.version, b.version),
        status=None if a.status == b.status else (a.status, b.status),
        moves=moved,
        output_changes=other,
    )
