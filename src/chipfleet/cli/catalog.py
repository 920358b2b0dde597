"""`chipfleet catalog`: chips, instances, regions and efficiency families, each figure with its source."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from chipfleet.cli import output
from chipfleet.cli.options import JsonOpt, State, group
from chipfleet.report import tables

catalog_app = group("Chips, instances, regions and efficiency families, with sources.")


@catalog_app.command("chips")
def catalog_chips(
    as_json: JsonOpt = False,
    vendor: Annotated[str | None, typer.Option(help="Only this vendor (aws, nvidia, google, ...).")] = None,
) -> None:
    """List chips with their dense peak, memory, bandwidth and power, and the instances that carry each."""
    cat = State.catalog()
    chips = [c for c in cat.chips.values() if vendor is None or c.vendor == vendor.lower()]
    if as_json:
        output.emit_json(
            [
                {
                    **c.model_dump(mode="json"),
                    "formats": {
                        "weights": [p.value for p in c.weight_precisions],
                        "activations": [p.value for p in c.activation_precisions],
                        "kv_cache": [p.value for p in c.kv_cache_precisions],
                    },
                    "instances": [i.name for i in cat.instances_of(c)],
                }
                for c in chips
            ]
        )
        return
    output.show(tables.chips_table(chips))
    for c in chips:  # wrapped at the terminal's width (soft_wrap ran notes far past 80 columns)
        if not cat.instances_of(c):
            output.show(Text(f"{c.name}: no public instance. {c.availability}".rstrip()))


@catalog_app.command("instances")
def catalog_instances(
    as_json: JsonOpt = False,
    cloud: Annotated[str | None, typer.Option(help="Only this cloud (aws, gcp, azure).")] = None,
    chip: Annotated[str | None, typer.Option(help="Only instances with this chip.")] = None,
) -> None:
    """List instance types with their chips and prices."""
    cat = State.catalog()
    if chip is not None:
        cat.chip(chip)  # a miss says "did you mean"
    insts = [
        i
        for i in cat.instances.values()
        if (cloud is None or i.cloud.value == cloud.lower()) and (chip is None or i.chip == chip.lower())
    ]
    if as_json:
        output.emit_json([i.model_dump(mode="json") for i in insts])
    else:
        output.show(tables.instances_table(insts))


@catalog_app.command("regions")
def catalog_regions(
    as_json: JsonOpt = False,
    cloud: Annotated[str | None, typer.Option(help="Only this cloud.")] = None,
) -> None:
    """List regions with PUE and grid carbon intensity."""
    regs = [r for r in State.catalog().regions.values() if cloud is None or r.cloud.value == cloud.lower()]
    if as_json:
        output.emit_json([r.model_dump(mode="json") for r in regs])
    else:
        output.show(tables.regions_table(regs))


@catalog_app.command("families")
def catalog_families(as_json: JsonOpt = False) -> None:
    """List efficiency families (achievable fractions of peak, overheads)."""
    fams = list(State.catalog().families.values())
    if as_json:
        output.emit_json([f.model_dump(mode="json") for f in fams])
    else:
        for f in fams:
            output.show(tables.record_table(f.name, f, State.catalog()))


@catalog_app.command("show")
def catalog_show(
    name: Annotated[str, typer.Argument(help="A chip, instance, region or family name.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one record with every figure's source, date and basis."""
    cat = State.catalog()
    rec = cat.find(name.strip().lower())
    if as_json:
        output.emit_json(rec.model_dump(mode="json"))
    else:
        output.show(tables.record_table(name, rec, cat))
