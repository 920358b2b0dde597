"""The catalog's fingerprint: a content hash the same in every process that changes with any price, and overlays
kept as they were read."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import yaml

from chipfleet.catalog import Catalog, content_hash, load_catalog
from chipfleet.catalog.fingerprint import overlays
from chipfleet.catalog.schema import CatalogFile

OVERLAY = """
schema_version: 1
sources:
  mine: {ref: "our 2026 contract", as_of: "2026-10-01"}
instances:
  - name: p5.48xlarge
    prices:
      - {region: us-east-1, pricing: on-demand, value: 40, unit: USD/h, source: mine}
"""


def _overlay(tmp_path: Path, text: str, name: str = "prices.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_hash_is_the_same_in_another_process(cat: Catalog) -> None:
    code = "from chipfleet.catalog import content_hash, load_catalog; print(content_hash(load_catalog(use_env=False)))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == content_hash(cat) and len(other) == 64


def test_a_changed_price_changes_the_hash_and_the_same_overlay_does_not(tmp_path: Path, cat: Catalog) -> None:
    # the hash reads the files as they are when it is taken: each is taken right after its load, as the CLI does
    a = content_hash(load_catalog([_overlay(tmp_path, OVERLAY)], use_env=False))
    (tmp_path / "elsewhere").mkdir()
    same = content_hash(load_catalog([_overlay(tmp_path / "elsewhere", OVERLAY)], use_env=False))
    b = content_hash(load_catalog([_overlay(tmp_path, OVERLAY.replace("value: 40", "value: 41"))], use_env=False))
    assert len({content_hash(cat), a, b}) == 3
    assert same == a  # same name and bytes in another folder


def test_overlays_keep_path_sha256_and_text_and_leave_out_the_shipped_files(tmp_path: Path, cat: Catalog) -> None:
    path = _overlay(tmp_path, OVERLAY)
    loaded = load_catalog([path], use_env=False)
    assert overlays(cat) == []
    assert overlays(loaded) == [
        {"path": str(path.resolve()), "sha256": hashlib.sha256(OVERLAY.encode()).hexdigest(), "text": OVERLAY}
    ]


NEW_BOX = """
schema_version: 1
sources:
  mine: {ref: "our 2026 contract", as_of: "2026-10-01"}
instances:
  - name: my.box
    cloud: aws
    chip: h100-sxm
    chips: 8
    prices:
      - {region: us-east-1, pricing: on-demand, value: 40, unit: USD/h, source: mine, as_of: "2026-10-01"}
"""


def test_an_in_memory_overlay_hashes_its_records() -> None:
    def typed(price: str) -> CatalogFile:
        return CatalogFile.model_validate(yaml.safe_load(NEW_BOX.replace("value: 40", f"value: {price}")))

    a, b, again = (content_hash(load_catalog([typed(p)], use_env=False)) for p in ("40", "41", "40"))
    assert a != b and a == again
    assert overlays(load_catalog([typed("40")], use_env=False)) == [
        {"path": "<in-memory overlay 1>", "sha256": None, "text": None}
    ]
