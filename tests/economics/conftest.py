"""A catalog for economics tests: the shipped chips, families and clouds plus a small overlay that defines a
test region and two test instances.

The shipped instances/regions files are being written elsewhere; to stay independent of them (and of a
half-written one) only chips.yaml, families.yaml and clouds.yaml are read, through ``build_catalog``, the
same function ``load_catalog`` calls.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chipfleet.catalog import Catalog
from chipfleet.catalog.loader import build_catalog, shipped_files

OVERLAY = """\
schema_version: 1
sources:
  t: {ref: "test fixture", as_of: "2026-01-01"}
regions:
  - {name: test-region, cloud: aws, location: test, pue: {value: 1.2, unit: ratio, source: t},
     grid_intensity: {value: 400, unit: gCO2e/kWh, source: t}}
  - {name: test-clean, cloud: aws, location: test, pue: {value: 1.1, unit: ratio, source: t},
     grid_intensity: {value: 20, unit: gCO2e/kWh, source: t}}
  - {name: test-nogrid, cloud: aws, location: test, pue: {value: 1.5, unit: ratio, source: t}}
instances:
  - name: test.h100x8
    cloud: aws
    chip: h100-sxm
    chips: 8
    vcpus: 192
    host_memory: {value: 2048, unit: GiB, source: t}
    scaleout: {value: 3200, unit: Gbps, source: t}
    prices:
      - {region: test-region, pricing: on-demand, value: 50, unit: USD/h, source: t}
      - {region: test-clean, pricing: on-demand, value: 60, unit: USD/h, source: t}
      - {region: test-nogrid, pricing: spot, value: 20, unit: USD/h, source: t}
  - name: test.trn1x16
    cloud: aws
    chip: trainium1
    chips: 16
    vcpus: 128
    host_memory: {value: 512, unit: GiB, source: t}
    scaleout: {value: 800, unit: Gbps, source: t}
    prices:
      - {region: test-region, pricing: on-demand, value: 20, unit: USD/h, source: t}
"""

BASE_FILES = ("chips.yaml", "families.yaml", "clouds.yaml")


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    path: Path = tmp_path_factory.mktemp("catalog") / "overlay.yaml"
    path.write_text(OVERLAY, encoding="utf-8")
    base = [p for p in shipped_files() if p.name in BASE_FILES]
    assert len(base) == len(BASE_FILES), f"shipped catalog files changed: {[p.name for p in shipped_files()]}"
    return build_catalog([*base, path])
