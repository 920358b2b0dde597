"""A loaded catalog's fingerprint: one content hash, and its overlays as they were (path, sha256, text).

Saved with every run (:mod:`chipfleet.store`), so two runs can say whether they priced against the same catalog and,
when not, which overlay records changed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from chipfleet.catalog.loader import Catalog, shipped_files
from chipfleet.serialize import to_jsonable

MAX_OVERLAY_TEXT_BYTES = 1 << 20
"""Largest overlay whose text is kept with a run (larger ones keep their path and hash only)."""


def _shipped() -> frozenset[str]:
    return frozenset(str(p) for calibrated in (True, False) for p in shipped_files(calibrated))


def _readable(name: str) -> bool:
    return Path(name).is_file()


def content_hash(catalog: Catalog) -> str:
    """sha256 (hex) of the catalog's files in load order: each file's name (not its folder, so the hash is the same
    wherever chipfleet is installed) and bytes. A catalog built from in-memory overlays, which have no bytes, hashes
    its records instead. Same files, same hash, in any process; an edited price or overlay changes it."""
    digest = hashlib.sha256()
    in_memory = False
    for name in catalog.files:
        if not _readable(name):
            in_memory = True
            continue
        digest.update(Path(name).name.encode() + b"\0")
        digest.update(hashlib.sha256(Path(name).read_bytes()).digest())
    if in_memory or not catalog.files:
        records = {
            kind: {key: to_jsonable(rec) for key, rec in sorted(getattr(catalog, kind).items())}
            for kind in ("chips", "families", "instances", "regions", "clouds")
        }
        digest.update(json.dumps(records, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def overlays(catalog: Catalog) -> list[dict[str, Any]]:
    """The catalog's overlays (every file but the shipped ones), each ``{"path", "sha256", "text"}``: the text when
    under :data:`MAX_OVERLAY_TEXT_BYTES`, else None; an in-memory overlay has path ``<in-memory overlay N>`` and
    neither hash nor text."""
    shipped = _shipped()
    out: list[dict[str, Any]] = []
    for name in catalog.files:
        if name in shipped:
            continue
        if not _readable(name):
            out.append({"path": name, "sha256": None, "text": None})
            continue
        data = Path(name).read_bytes()
        text = data.decode("utf-8-sig", errors="replace") if len(data) <= MAX_OVERLAY_TEXT_BYTES else None
        out.append({"path": str(Path(name).resolve()), "sha256": hashlib.sha256(data).hexdigest(), "text": text})
    return out
