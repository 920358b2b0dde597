"""Load the shipped catalog files and any user overlays into one validated :class:`Catalog`.

Files are read in order (shipped files sorted by name, then overlays from ``CHIPFLEET_CATALOG``, then
``--catalog`` files). A record whose name already exists is merged onto the earlier one field by field,
and prices merge by (region, pricing), so an overlay can change one price without restating the
instance. An overlay may also carry ``discounts`` (a fraction off matching instances' prices).

An overlay may also be given in memory, as a typed :class:`CatalogFile` (what a program that measures or
computes records builds, e.g. :mod:`chipfleet.validate.local.overlay`): it merges exactly as the YAML file with
the same fields set would, without a round trip through the file system.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from chipfleet.catalog.schema import (
    RECORD_KINDS,
    SCHEMA_VERSION,
    CatalogFile,
    Chip,
    CloudPower,
    EfficiencyFamily,
    Instance,
    Price,
    Pricing,
    Region,
    Source,
    record_model,
)
from chipfleet.exceptions import CatalogError, ConfigError, UnknownNameError, one_line, yaml_error_line

ENV_VAR = "CHIPFLEET_CATALOG"

T = TypeVar("T")

Overlay = str | Path | CatalogFile
"""A catalog file to read (a path), or one already in memory (a typed :class:`CatalogFile`)."""


@dataclass(frozen=True)
class Catalog:
    """All chips, families, instances and regions, looked up by slug."""

    chips: Mapping[str, Chip]
    families: Mapping[str, EfficiencyFamily]
    instances: Mapping[str, Instance]
    regions: Mapping[str, Region]
    clouds: Mapping[str, CloudPower]
    sources: Mapping[str, Source]
    files: tuple[str, ...] = field(default=())

    def chip(self, name: str) -> Chip:
        return _lookup("chip", self.chips, name)

    def family(self, name: str) -> EfficiencyFamily:
        return _lookup("family", self.families, name)

    def instance(self, name: str) -> Instance:
        """The instance type ``name`` (case-insensitive). A chip's name gets an answer about that chip: the
        instances that carry it, or that no public instance does and why."""
        key = name.strip().lower()
        if key not in self.instances and key in self.chips:
            err = UnknownNameError("instance", name, [i.name for i in self.instances_of(key)])
            err.args = (self._chip_not_instance(key),)  # the message (UnknownNameError.__str__ prints args[0])
            raise err
        return _lookup("instance", self.instances, name)

    def instances_of(self, chip: Chip | str) -> tuple[Instance, ...]:
        """Every instance type that carries ``chip``, by name."""
        key = (chip.name if isinstance(chip, Chip) else chip).strip().lower()
        return tuple(sorted((i for i in self.instances.values() if i.chip == key), key=lambda i: i.name))

    def instances_with_pricing(self, pricing: Pricing) -> tuple[Instance, ...]:
        """Every instance type with at least one price of ``pricing`` (on-demand, spot or reserved)."""
        return tuple(sorted((i for i in self.instances.values() if i.prices_for(pricing)), key=lambda i: i.name))

    def require_price(self, instance: Instance | str, region: str | None, pricing: Pricing) -> Price:
        """The price :meth:`Instance.price` picks, or a ConfigError that says which prices this instance has and
        which instances have a ``pricing`` price at all (reserved prices are few)."""
        inst = self.instance(instance) if isinstance(instance, str) else instance
        if region is not None:
            self.region(region)  # a misspelt region says "did you mean"
        price = inst.price(region, pricing)
        if price is not None:
            return price
        have = ", ".join(f"{p.region}/{p.pricing.value}" for p in inst.prices) or "none"
        where = f" in {region.strip().lower()}" if region else ""
        others = [i.name for i in self.instances_with_pricing(pricing)]
        listing = ", ".join(others[:12]) + (f" and {len(others) - 12} more" if len(others) > 12 else "")
        offer = (
            f"instances with {pricing.value} prices: {listing}"
            if others
            else f"no instance has a {pricing.value} price"
        )
        raise ConfigError(
            f"no {pricing.value} price for {inst.name}{where} in the catalog (its prices: {have}); {offer}. "
            "Pick another region, pricing or instance, or add the price in a catalog overlay",
            field="pricing",
        )

    def _chip_not_instance(self, chip: str) -> str:
        c = self.chips[chip]
        carriers = self.instances_of(chip)
        if carriers:
            names = ", ".join(i.name for i in carriers)
            return f"{chip!r} is a chip, not an instance type; instances with {c.display_name}: {names}."
        why = f" {c.availability}" if c.availability else ""
        return (
            f"{chip!r} is a chip, not an instance type, and no public cloud instance carries it, so it cannot be "
            f"estimated or planned on.{why} To model a machine you have access to, add an instance with "
            f"`chip: {chip}` and its price in a catalog overlay file."
        )

    def region(self, name: str) -> Region:
        return _lookup("region", self.regions, name)

    def cloud(self, name: str) -> CloudPower:
        return _lookup("cloud", self.clouds, name)

    def family_status(self, family: EfficiencyFamily | str) -> str | None:
        """Why ``family``'s efficiencies are not validated, as a phrase without a verb ("no measurements of its
        own (efficiencies: …)" or "fitted on only 3 rows from 1 source, not cross-validated"), or ``None``
        when it is validated. The one wording every layer uses (:meth:`EfficiencyFamily.calibration_status`)."""
        fam = self.family(family) if isinstance(family, str) else family
        return fam.calibration_status()

    def family_of(self, chip: Chip | str) -> EfficiencyFamily:
        c = self.chip(chip) if isinstance(chip, str) else chip
        return self.family(c.family)

    def chip_of(self, instance: Instance | str) -> Chip:
        inst = self.instance(instance) if isinstance(instance, str) else instance
        return self.chip(inst.chip)

    def find(self, name: str) -> Chip | Instance | Region | EfficiencyFamily:
        """Any record by name, searching chips, instances, regions and families."""
        for table in (self.chips, self.instances, self.regions, self.families):
            if name in table:
                return table[name]
        known = [*self.chips, *self.instances, *self.regions, *self.families]
        raise UnknownNameError("record", name, known)


# libyaml's safe loader parses the shipped catalog in about a tenth of the pure-Python parser's time (0.04 against
# 0.36 s, most of every CLI command's start-up); the same documents either way, so fall back where PyYAML was built
# without libyaml.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _lookup(kind: str, table: Mapping[str, T], name: str) -> T:
    key = name.strip().lower()
    try:
        return table[key]
    except KeyError:
        raise UnknownNameError(kind, name, table.keys()) from None


CALIBRATED_SUFFIX = "_calibrated.yaml"


def shipped_files(calibrated: bool = True) -> list[Path]:
    """The package's catalog files in load order; ``calibrated=False`` leaves out fitted overlays (the priors
    a new calibration starts from)."""
    data = resources.files("chipfleet.catalog") / "data"
    names = sorted(Path(str(p)) for p in data.iterdir() if p.name.endswith(".yaml"))
    return [p for p in names if calibrated or not p.name.endswith(CALIBRATED_SUFFIX)]


def overlay_files_from_env() -> list[Path]:
    raw = os.environ.get(ENV_VAR, "")
    return [Path(p) for p in raw.split(os.pathsep) if p.strip()]


def load_catalog(overlays: Sequence[Overlay] = (), *, use_env: bool = True, calibrated: bool = True) -> Catalog:
    """The shipped catalog plus overlays (env var first, then ``overlays``: paths or in-memory
    :class:`CatalogFile` records), validated.

    ``calibrated=False`` loads the documented priors instead of the shipped fitted efficiencies.
    """
    return build_catalog(
        [
            *shipped_files(calibrated),
            *(overlay_files_from_env() if use_env else []),
            *overlays,
        ]
    )


_DEFAULT: Catalog | None = None


def default_catalog() -> Catalog:
    """The shipped catalog with the env-var overlays, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_catalog()
    return _DEFAULT


IN_MEMORY = "<in-memory overlay {}>"
"""How errors and :attr:`Catalog.files` name the n-th in-memory overlay (it has no path)."""


def build_catalog(files_or_overlays: Iterable[Overlay]) -> Catalog:
    """One validated :class:`Catalog` from catalog files and in-memory overlays, merged in the order given.

    A path is read and checked as a YAML catalog file; a :class:`CatalogFile` is taken as the document of the
    fields it was built with (``exclude_unset``), so it merges onto earlier records as that YAML would.
    """
    sources: dict[str, Source] = {}
    raw: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in RECORD_KINDS}
    origin: dict[tuple[str, str], str] = {}
    files: list[str] = []
    in_memory = 0
    for item in files_or_overlays:
        if isinstance(item, CatalogFile):
            in_memory += 1
            path = Path(IN_MEMORY.format(in_memory))
            doc = item.model_dump(mode="json", exclude_unset=True)
        else:
            path = Path(item)
            doc = _read(path)
        files.append(str(path))
        file_sources = _sources(path, doc)
        for sid, src in file_sources.items():
            if sid in sources and sources[sid] != src:
                raise CatalogError(
                    f"{path}: source id {sid!r} is already defined differently by an earlier catalog file; "
                    f"give this source another id"
                )
        sources.update(file_sources)
        for kind in RECORD_KINDS:
            for i, rec in enumerate(_records(path, doc, kind)):
                name = rec["name"]
                _resolve_sources(rec, sources, path, f"{kind}[{i}] ({name})")
                key = name.lower()
                raw[kind][key] = _merge(raw[kind][key], rec) if key in raw[kind] else rec
                origin[(kind, key)] = str(path)
        _apply_discounts(path, doc, raw["instances"], sources)

    built: dict[str, dict[str, Any]] = {kind: {} for kind in RECORD_KINDS}
    for kind in RECORD_KINDS:
        model = record_model(kind)
        for key, rec in raw[kind].items():
            try:
                built[kind][key] = model.model_validate(rec)
            except ValidationError as exc:
                raise CatalogError(_format_validation(origin[(kind, key)], kind, key, exc)) from None
    catalog = Catalog(
        chips=built["chips"],
        families=built["families"],
        instances=built["instances"],
        regions=built["regions"],
        clouds=built["clouds"],
        sources=sources,
        files=tuple(files),
    )
    _check_references(catalog, origin)
    return catalog


MAX_FILE_BYTES = 64 * 2**20
"""Largest catalog file read (the shipped files are well under 1 MiB)."""
MAX_NODES = 1_000_000
"""Most YAML nodes a file may expand to, aliases counted at every use (bounds 'billion laughs' files)."""
MAX_DEPTH = 40
"""Deepest nesting of mappings and lists a catalog file may have (the schema needs under 10)."""


def _read(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read catalog file ({exc.strerror}); check the path") from None
    if len(data) > MAX_FILE_BYTES:
        raise CatalogError(
            f"{path}: catalog file is {len(data):,} bytes, more than the {MAX_FILE_BYTES:,} a catalog file may have; "
            "split it into several overlays"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CatalogError(
            f"{path}: not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset {exc.start} (line {line}) cannot "
            f"be decoded ({exc.reason}); save the file as UTF-8"
        ) from None
    try:
        doc = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise CatalogError(yaml_error_line(path, exc)) from None
    except RecursionError:
        raise CatalogError(
            f"{path}: nested too deeply to read (a catalog file needs under {MAX_DEPTH} levels of lists and mappings)"
        ) from None
    _check_size(path, doc)
    if not isinstance(doc, dict):
        raise CatalogError(f"{path}: a catalog file must be a YAML mapping with `schema_version: 1` at the top")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CatalogError(
            f"{path}: schema_version is {version!r}; this chipfleet reads schema_version {SCHEMA_VERSION}"
        )
    unknown = set(doc) - {"schema_version", "license", "attribution", "sources", "discounts", *RECORD_KINDS}
    if unknown:
        raise CatalogError(
            f"{path}: unknown top-level key(s) {sorted(unknown)}; allowed: sources, discounts, "
            + ", ".join(RECORD_KINDS)
        )
    return doc


def _check_size(path: Path, doc: Any) -> None:
    """Refuse a document nested deeper than MAX_DEPTH or expanding to more than MAX_NODES nodes.

    YAML aliases make one node appear many times (and even inside itself); everything after loading walks
    the expanded tree, so the walk here counts every use and stops at the first bound it crosses: its cost
    is bounded by MAX_NODES whatever the file holds.
    """
    nodes = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise CatalogError(
                f"{path}: expands to more than {MAX_NODES:,} YAML nodes (YAML aliases count at each use); "
                "a catalog file this large is almost certainly an alias bomb; write the records out without aliases"
            )
        if isinstance(node, dict):
            children: list[Any] = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth >= MAX_DEPTH and children:
            raise CatalogError(
                f"{path}: nested more than {MAX_DEPTH} levels deep (lists and mappings, aliases expanded); "
                "catalog records need under 10"
            )
        stack.extend((c, depth + 1) for c in children)


def _sources(path: Path, doc: Mapping[str, Any]) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for sid, body in (doc.get("sources") or {}).items():
        try:
            out[str(sid)] = Source.model_validate(body)
        except ValidationError as exc:
            raise CatalogError(_format_validation(str(path), "sources", str(sid), exc)) from None
    return out


def _records(path: Path, doc: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    recs = doc.get(kind) or []
    if not isinstance(recs, list):
        raise CatalogError(f"{path}: `{kind}` must be a list of records")
    for i, rec in enumerate(recs):
        if not isinstance(rec, dict) or not isinstance(rec.get("name"), str):
            raise CatalogError(f"{path}: {kind}[{i}] must be a mapping with a string `name`")
    return [copy.deepcopy(r) for r in recs]


def _resolve_sources(node: Any, sources: Mapping[str, Source], path: Path, where: str) -> None:
    """Check each figure's source id and fill ``source_ref`` and a default ``as_of`` from it."""
    if isinstance(node, dict):
        if "source" in node and "value" in node:
            sid = str(node["source"])
            if sid not in sources:
                raise CatalogError(
                    f"{path}: {where}: figure cites source {sid!r}, which no `sources` table defines "
                    f"({_known_sources(sid, sources)}); define it under `sources:` in this file"
                )
            node.setdefault("source_ref", sources[sid].ref)
            node.setdefault("as_of", sources[sid].as_of)
        for v in node.values():
            _resolve_sources(v, sources, path, where)
    elif isinstance(node, list):
        for v in node:
            _resolve_sources(v, sources, path, where)


def _known_sources(sid: str, sources: Mapping[str, Source]) -> str:
    """The source ids defined so far: all of them when few, else the closest few and how many there are."""
    if not sources:
        return "no source is defined yet"
    names = sorted(sources)
    if len(names) <= 12:
        return "known: " + ", ".join(names)
    close = difflib.get_close_matches(sid, names, n=5, cutoff=0.5)
    some = ", ".join(close) if close else ", ".join(names[:5])
    return f"{len(names)} are defined, {'closest' if close else 'among them'}: {some}"


def _price_key(p: Mapping[str, Any]) -> tuple[Any, Any]:
    return (p.get("region"), p.get("pricing"))


def _merge(base: dict[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in new.items():
        if k == "prices" and isinstance(v, list) and isinstance(base.get(k), list):
            merged = {_price_key(p): p for p in base[k]}
            merged.update({_price_key(p): p for p in v})
            out[k] = list(merged.values())
        elif isinstance(v, dict) and isinstance(base.get(k), dict) and "value" not in v:
            out[k] = _merge(base[k], v)
        else:
            out[k] = v
    return out


def _apply_discounts(
    path: Path, doc: Mapping[str, Any], instances: dict[str, dict[str, Any]], sources: Mapping[str, Source]
) -> None:
    for i, d in enumerate(doc.get("discounts") or []):
        where = f"{path}: discounts[{i}]"
        if not isinstance(d, dict) or "instances" not in d or "fraction_off" not in d:
            raise CatalogError(f"{where}: needs `instances` (a glob such as 'p5.*') and `fraction_off` (0-1)")
        frac = d["fraction_off"]
        if not isinstance(frac, (int, float)) or not 0 <= frac < 1:
            raise CatalogError(f"{where}: fraction_off must be a number in [0, 1), got {frac!r}")
        pricing = d.get("pricing", "on-demand")
        matched = [n for n in instances if fnmatch.fnmatch(n, str(d["instances"]).lower())]
        if not matched:
            raise CatalogError(f"{where}: pattern {d['instances']!r} matches no instance")
        for name in matched:
            for price in instances[name].get("prices", []):
                if price.get("pricing") == pricing:
                    price["value"] = float(price["value"]) * (1 - frac)
                    price["basis"] = "derived"
                    why = d.get("note", "")
                    price["note"] = f"list price x (1 - {frac:g}) from the discount in {path.name}. {why}".strip()


def _format_validation(path: str, kind: str, name: str, exc: ValidationError) -> str:
    """One line (the CLI prints one message): every field error, joined with "; ", missing fields together.

    "overlay.yaml: chips record 'x' is invalid: missing fields vendor, tdp (a record with a new name must
    be complete; to change a shipped record, use its exact name); field memory.value: Input should be …"
    """
    missing: list[str] = []
    problems: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(record)"
        if err["type"] == "missing":
            missing.append(loc)
        else:
            problems.append(f"field {loc}: {one_line(err['msg'])}")
    if missing:
        fields = f"field{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        hint = " (a record with a new name must be complete; to change a shipped record, use its exact name)"
        problems.insert(0, f"missing {fields}{hint if kind != 'sources' else ''}")
    return f"{path}: {kind} record {name!r} is invalid: " + "; ".join(problems)


def _check_references(cat: Catalog, origin: Mapping[tuple[str, str], str]) -> None:
    for name, chip in cat.chips.items():
        if chip.family not in cat.families:
            raise CatalogError(
                f"{origin[('chips', name)]}: chips record {name!r}, field family: unknown family "
                f"{chip.family!r} (known: {', '.join(sorted(cat.families))})"
            )
    for name, inst in cat.instances.items():
        if inst.chip not in cat.chips:
            hint = UnknownNameError("chip", inst.chip, cat.chips)
            raise CatalogError(f"{origin[('instances', name)]}: instances record {name!r}, field chip: {hint}")
        for p in inst.prices:
            if p.region not in cat.regions:
                raise CatalogError(
                    f"{origin[('instances', name)]}: instances record {name!r}, field prices: region "
                    f"{p.region!r} is not in the regions table; add it to a `regions` list"
                )
