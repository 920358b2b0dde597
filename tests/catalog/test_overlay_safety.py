"""Overlays that are hostile or broken fail with a CatalogError naming the file, never a crash or a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from chipfleet.catalog import Pricing, load_catalog
from chipfleet.catalog.loader import MAX_DEPTH, MAX_NODES
from chipfleet.exceptions import CatalogError, ConfigError, UnknownNameError

BASE = """
schema_version: 1
sources:
  mine: {ref: "our 2026 contract", as_of: "2026-10-01"}
"""

CHIP = (
    BASE
    + """
chips:
  - name: my-chip
    display_name: My chip
    vendor: nvidia
    kind: accelerator
    family: nvidia-hopper
    peak_dense: {bf16: {value: 100, unit: TFLOPS, source: mine}}
    memory: {value: 80, unit: GB, source: mine}
    memory_bandwidth: {value: 2, unit: TB/s, source: mine}
    link_bandwidth: {value: 100, unit: GB/s, source: mine}
    tdp: {value: 400, unit: W, source: mine}
regions:
  - {name: my-region, cloud: aws, location: test, pue: {value: 1.2, unit: ratio, source: mine}}
instances:
  - name: my.box
    cloud: aws
    chip: my-chip
    chips: 8
    prices:
      - {region: my-region, pricing: on-demand, value: 40, unit: USD/h, source: mine}
"""
)


def write(tmp_path: Path, text: str | bytes, name: str = "overlay.yaml") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def test_valid_crafted_overlay_loads(tmp_path: Path) -> None:
    cat = load_catalog([write(tmp_path, CHIP)], use_env=False)
    assert cat.instance("my.box").chip == "my-chip"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("value: 2, unit: TB/s", "value: 0, unit: TB/s", "memory_bandwidth"),
        ("value: 2, unit: TB/s", "value: .inf, unit: TB/s", "memory_bandwidth"),
        ("value: 2, unit: TB/s", "value: .nan, unit: TB/s", "memory_bandwidth"),
        ("value: 100, unit: TFLOPS", "value: 0, unit: TFLOPS", "peak_dense"),
        ("value: 100, unit: TFLOPS", "value: 1e400, unit: TFLOPS", "peak_dense"),
        ("value: 400, unit: W", "value: 0, unit: W", "tdp"),
        ("value: 400, unit: W", "value: -400, unit: W", "tdp"),
        ("value: 80, unit: GB", "value: 0, unit: GB", "memory"),
        ("value: 100, unit: GB/s", "value: .nan, unit: GB/s", "link_bandwidth"),
        ("value: 1.2, unit: ratio", "value: .inf, unit: ratio", "pue"),
        ("value: 1.2, unit: ratio", "value: .nan, unit: ratio", "pue"),
        ("value: 40, unit: USD/h", "value: 0, unit: USD/h", "prices"),
        ("value: 40, unit: USD/h", "value: .inf, unit: USD/h", "prices"),
        ("value: 40, unit: USD/h", "value: .nan, unit: USD/h", "prices"),
        ("value: 40, unit: USD/h", "value: 40, unit: USD/h, spread: [1, .inf]", "prices"),
    ],
)
def test_physical_figures_must_be_positive_and_finite(tmp_path: Path, old: str, new: str, field: str) -> None:
    assert old in CHIP
    path = write(tmp_path, CHIP.replace(old, new, 1))
    with pytest.raises(CatalogError) as err:
        load_catalog([path], use_env=False)
    assert str(path) in str(err.value) and field in str(err.value)


def test_non_utf8_file_names_the_byte_offset(tmp_path: Path) -> None:
    data = CHIP.encode("utf-8").replace(b"My chip", b"My \xff chip")
    offset = data.index(b"\xff")
    path = write(tmp_path, data)
    with pytest.raises(CatalogError, match=rf"not UTF-8.*0xff at byte offset {offset} \(line \d+\)") as err:
        load_catalog([path], use_env=False)
    assert str(path) in str(err.value)


def test_utf16_file_is_refused_cleanly(tmp_path: Path) -> None:
    path = write(tmp_path, CHIP.encode("utf-16"))
    with pytest.raises(CatalogError, match="not UTF-8"):
        load_catalog([path], use_env=False)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 100_000])
def test_deeply_nested_file_is_a_catalog_error(tmp_path: Path, depth: int) -> None:
    path = write(tmp_path, BASE + "discounts: " + "[" * depth + "]" * depth + "\n")
    with pytest.raises(CatalogError, match="nested") as err:
        load_catalog([path], use_env=False)
    assert str(path) in str(err.value)


def test_deep_block_nesting_is_a_catalog_error(tmp_path: Path) -> None:
    lines = [f"{'  ' * i}k{i}:" for i in range(MAX_DEPTH + 5)]
    path = write(tmp_path, BASE + "license:\n" + "\n".join("  " + line for line in lines) + " end\n")
    with pytest.raises(CatalogError, match="nested"):
        load_catalog([path], use_env=False)


def test_alias_bomb_is_bounded(tmp_path: Path) -> None:
    # "billion laughs": 9 levels of 9 aliases each expand to 9**9 (387 million) leaves.
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    text = BASE + "license:\n" + "\n".join("  " + line for line in lines) + "\n"
    path = write(tmp_path, text)
    with pytest.raises(CatalogError, match=f"more than {MAX_NODES:,} YAML nodes") as err:
        load_catalog([path], use_env=False)
    assert str(path) in str(err.value)


def test_self_referencing_alias_is_bounded(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "discounts: &loop [*loop]\n")
    with pytest.raises(CatalogError, match=r"nested|YAML nodes"):
        load_catalog([path], use_env=False)


def test_small_aliases_still_work(tmp_path: Path) -> None:
    text = CHIP.replace("memory: {value: 80", "memory: &mem {value: 80")
    text += "  - {name: my.box2, cloud: aws, chip: my-chip, chips: 1, host_memory: *mem}\n"
    cat = load_catalog([write(tmp_path, text)], use_env=False)
    assert cat.chip("my-chip").memory_bytes == pytest.approx(80e9)
    assert cat.instance("my.box2").host_memory_bytes == pytest.approx(80e9)


def test_reserved_price_must_state_its_term(tmp_path: Path) -> None:
    reserved = "      - {region: my-region, pricing: reserved, value: 20, unit: USD/h, source: mine}\n"
    path = write(tmp_path, CHIP + reserved)
    with pytest.raises(CatalogError, match="term"):
        load_catalog([path], use_env=False)
    ok = reserved.replace("source: mine}", "source: mine, term: '1yr no upfront'}")
    cat = load_catalog([write(tmp_path, CHIP + ok, "ok.yaml")], use_env=False)
    price = cat.instance("my.box").price("my-region", Pricing.RESERVED)
    assert price is not None and price.term == "1yr no upfront" and price.usd_per_h == 20


# ----------------------------------------------------------------------------- lookups


@pytest.mark.parametrize("spelling", ["US-EAST-1", "Us-East-1", " us-east-1 "])
def test_region_lookup_is_case_insensitive(spelling: str) -> None:
    cat = load_catalog(use_env=False)
    assert cat.region(spelling).name == "us-east-1"
    p5 = cat.instance("p5.48xlarge")
    upper, lower = p5.price(spelling, Pricing.ON_DEMAND), p5.price("us-east-1", Pricing.ON_DEMAND)
    assert upper is not None and upper == lower


def test_region_miss_suggests_close_names() -> None:
    cat = load_catalog(use_env=False)
    with pytest.raises(UnknownNameError, match=r"(?i)did you mean.*us-east-1"):
        cat.region("US-EAST-I")
    with pytest.raises(UnknownNameError, match=r"(?i)did you mean.*eastus2"):
        cat.region("EastUS-2")


def test_require_price_reserved_names_the_instances_that_have_one() -> None:
    cat = load_catalog(use_env=False)
    having = cat.instances_with_pricing(Pricing.RESERVED)
    assert having, "the shipped catalog carries some reserved / savings-plan prices"
    lacking = next(i for i in cat.instances.values() if not i.prices_for(Pricing.RESERVED))
    with pytest.raises(ConfigError) as err:
        cat.require_price(lacking, None, Pricing.RESERVED)
    assert lacking.name in str(err.value) and having[0].name in str(err.value)
    for inst in having:
        price = cat.require_price(inst, None, Pricing.RESERVED)
        assert price.term and price.usd_per_h > 0


def test_require_price_checks_the_region_name() -> None:
    cat = load_catalog(use_env=False)
    with pytest.raises(UnknownNameError, match="us-east-1"):
        cat.require_price("p5.48xlarge", "us-eats-1", Pricing.ON_DEMAND)
    assert cat.require_price("p5.48xlarge", "US-EAST-1", Pricing.ON_DEMAND).region == "us-east-1"


def test_a_chip_name_given_as_instance_says_what_carries_it() -> None:
    cat = load_catalog(use_env=False)
    with pytest.raises(UnknownNameError, match=r"chip, not an instance.*p5\.48xlarge"):
        cat.instance("h100-sxm")
    with pytest.raises(UnknownNameError, match=r"(?i)no public cloud instance carries it") as err:
        cat.instance("maia-100")
    assert "overlay" in str(err.value)
