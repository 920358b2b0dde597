"""Catalog loading: overlays, merges, discounts, and errors that name the file, record and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chipfleet.catalog import ENV_VAR, Pricing, load_catalog
from chipfleet.catalog.loader import build_catalog, shipped_files
from chipfleet.catalog.schema import CatalogFile
from chipfleet.exceptions import CatalogError, ConfigError, UnknownNameError, renamed

FIXTURE = """
schema_version: 1
sources:
  mine: {ref: "our 2026 contract", as_of: "2026-10-01"}
regions:
  - {name: my-region, cloud: aws, location: test, pue: {value: 1.2, unit: ratio, source: mine}}
instances:
  - name: my.box
    cloud: aws
    chip: h100-sxm
    chips: 8
    prices:
      - {region: my-region, pricing: on-demand, value: 40, unit: USD/h, source: mine}
"""


def write(tmp_path: Path, text: str, name: str = "overlay.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_overlay_adds_instance_and_region(tmp_path: Path) -> None:
    cat = load_catalog([write(tmp_path, FIXTURE)], use_env=False)
    inst = cat.instance("my.box")
    price = inst.price("my-region", Pricing.ON_DEMAND)
    assert price is not None and price.usd_per_h == 40
    assert price.source_ref == "our 2026 contract" and price.as_of == "2026-10-01"
    assert cat.region("my-region").pue_ratio == pytest.approx(1.2)


def test_overlay_changes_one_price_without_restating_the_instance(tmp_path: Path) -> None:
    base = load_catalog(use_env=False)
    name, inst = next((n, i) for n, i in base.instances.items() if i.price(None, Pricing.ON_DEMAND))
    old = inst.price(None, Pricing.ON_DEMAND)
    assert old is not None
    overlay = f"""
schema_version: 1
sources:
  neg: {{ref: "negotiated", as_of: "2026-11-01"}}
instances:
  - name: {name}
    prices:
      - {{region: {old.region}, pricing: on-demand, value: 1.5, unit: USD/h, source: neg}}
"""
    cat = load_catalog([write(tmp_path, overlay)], use_env=False)
    new = cat.instance(name)
    assert new.price(old.region, Pricing.ON_DEMAND).usd_per_h == 1.5  # type: ignore[union-attr]
    assert new.chips == inst.chips  # the rest of the record is kept
    others = {(p.region, p.pricing) for p in inst.prices}
    assert {(p.region, p.pricing) for p in new.prices} == others


def test_discount_applies_to_matching_instances(tmp_path: Path) -> None:
    text = FIXTURE + "discounts:\n  - {instances: 'my.*', fraction_off: 0.25, note: 'EDP'}\n"
    cat = load_catalog([write(tmp_path, text)], use_env=False)
    price = cat.instance("my.box").price("my-region", Pricing.ON_DEMAND)
    assert price is not None and price.usd_per_h == pytest.approx(30.0)
    assert price.basis.value == "derived" and "0.25" in price.note


def test_env_var_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(write(tmp_path, FIXTURE)))
    assert "my.box" in load_catalog().instances


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schema_version: 2\n", "schema_version is 2"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("schema_version: 1\nchipz: []\n", "unknown top-level key"),
        ("schema_version: 1\nchips: [{name: x}]\n", "chips record 'x' is invalid"),
        (FIXTURE.replace("source: mine}}\ninstances", "source: nope}}\ninstances"), "cites source 'nope'"),
        (FIXTURE.replace("value: 40, unit: USD/h", "value: 40, unit: GB"), "field prices.0"),
        (FIXTURE.replace("value: 40,", "value: -4,"), "greater than or equal to 0"),
        (FIXTURE.replace("chip: h100-sxm", "chip: h100-sxn"), "did you mean h100-sxm"),
        (FIXTURE.replace("region: my-region, pricing", "region: mars-1, pricing"), "region 'mars-1'"),
        (FIXTURE.replace("value: 1.2, unit: ratio", "value: 0.9, unit: ratio"), "cannot be below 1"),
        ("schema_version: 1\n  bad: [indent\n", "not valid YAML at line 2, column 6"),
        ('schema_version: 1\nchips:\n  - name: "x\n', "while scanning a quoted scalar (line 3"),
        (FIXTURE.replace("source: mine}}\ninstances", "source: mime}}\ninstances"), "closest: mine"),
    ],
)
def test_bad_overlay_names_file_record_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CatalogError) as err:
        load_catalog([path], use_env=False)
    assert str(path) in str(err.value)
    assert expected.lower() in str(err.value).lower()
    assert "\n" not in str(err.value), "a catalog error is one line (the CLI prints one message)"


def test_every_field_error_of_a_record_is_on_one_line(tmp_path: Path) -> None:
    """Missing fields together, then each other field's error, joined with '; '; nothing dropped."""
    text = FIXTURE.replace("chips: 8\n", "chips: many\n").replace("    cloud: aws\n", "")
    path = write(tmp_path, text)
    with pytest.raises(CatalogError) as err:
        load_catalog([path], use_env=False)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: instances record 'my.box' is invalid: missing field cloud (a record with a new")
    assert "; field chips: Input should be a valid integer" in msg


def test_a_long_source_list_is_cut_to_the_closest_ids(tmp_path: Path) -> None:
    """Citing an undefined source over the shipped files names the close ids, not all of them."""
    path = write(tmp_path, FIXTURE.replace("source: mine}}\ninstances", "source: nvidia-spek}}\ninstances"))
    with pytest.raises(CatalogError) as err:
        load_catalog([path], use_env=False)
    msg = str(err.value)
    assert "closest: nvidia-spec" in msg and "are defined" in msg
    assert "aws-pue-2024" not in msg
    alone = write(tmp_path, FIXTURE.replace("source: mine}}\ninstances", "source: nope}}\ninstances"), "alone.yaml")
    with pytest.raises(CatalogError, match=r"\(known: mine\); define it under `sources:`"):
        build_catalog([alone])  # a few sources: all of them listed


@pytest.mark.parametrize(
    "text",
    [
        "schema_version: 1\nchips: [{name: x}]\n",
        "schema_version: 1\n  bad: [indent\n",
        FIXTURE.replace("chips: 8\n", "chips: many\n").replace("    cloud: aws\n", ""),
    ],
)
def test_cli_prints_a_malformed_overlay_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    from chipfleet.cli import main

    path = write(tmp_path, text)
    code = main(["--catalog", str(path), "catalog", "chips"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert str(path) in err and "Traceback" not in err


def test_missing_overlay_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read catalog file"):
        load_catalog([tmp_path / "absent.yaml"], use_env=False)


def test_failed_overlay_leaves_shipped_files_untouched(tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in shipped_files()}
    with pytest.raises(CatalogError):
        load_catalog([write(tmp_path, "schema_version: 1\nchips: [{name: x}]\n")], use_env=False)
    assert {p: p.read_bytes() for p in shipped_files()} == before


def test_lookup_miss_suggests_close_names() -> None:
    cat = load_catalog(use_env=False)
    with pytest.raises(UnknownNameError, match=r"(?i)did you mean.*trainium2"):
        cat.chip("trainum2")
    with pytest.raises(UnknownNameError, match=r"trn1\.32xlarge"):
        cat.instance("trn1.32xl")


def test_lookup_is_case_insensitive() -> None:
    cat = load_catalog(use_env=False)
    assert cat.chip("H100-SXM").name == "h100-sxm"


def test_build_catalog_with_no_files_is_empty() -> None:
    cat = build_catalog([])
    assert not cat.chips and not cat.instances


def _typed(text: str) -> CatalogFile:
    """``text`` as a typed overlay; a typed figure carries its own date (from a file the loader fills it in)."""
    doc = yaml.safe_load(text)
    for region in doc.get("regions", []):
        region["pue"]["as_of"] = "2026-10-01"
    for inst in doc.get("instances", []):
        for price in inst.get("prices", []):
            price["as_of"] = "2026-10-01"
    return CatalogFile.model_validate(doc)


def test_an_in_memory_overlay_merges_as_its_yaml_file_would(tmp_path: Path) -> None:
    from_file = load_catalog([write(tmp_path, FIXTURE)], use_env=False)
    in_memory = load_catalog([_typed(FIXTURE)], use_env=False)
    assert in_memory.instance("my.box") == from_file.instance("my.box")
    assert in_memory.region("my-region") == from_file.region("my-region")
    assert in_memory.files[-1] == "<in-memory overlay 1>" and from_file.files[-1].endswith("overlay.yaml")


def test_an_in_memory_overlay_is_checked_like_a_file() -> None:
    bad = _typed(FIXTURE.replace("chip: h100-sxm", "chip: h100-sxn"))
    with pytest.raises(CatalogError, match=r"<in-memory overlay 1>: instances record 'my.box', field chip: .*h100-sxm"):
        build_catalog([*shipped_files(), bad])


def test_a_missing_price_names_the_field_not_a_cli_flag() -> None:
    cat = load_catalog(use_env=False)
    with pytest.raises(ConfigError) as info:
        cat.require_price("p5e.48xlarge", None, Pricing.ON_DEMAND)
    assert info.value.field == "pricing" and "--" not in str(info.value)
    assert renamed(info.value, {"pricing": "--pricing"}).count("--pricing") == 1
