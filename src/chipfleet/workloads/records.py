"""Shared reading of the workloads' YAML data files: schema version, record validation, unique names."""

from __future__ import annotations

import re
from typing import Protocol, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from chipfleet.exceptions import ModelConfigError, yaml_error_line


class Named(Protocol):
    name: str
    aliases: tuple[str, ...]


R = TypeVar("R", bound=BaseModel)


def compact(text: str) -> str:
    """``Llama_3-70B`` → ``llama370b``: lowercase letters, digits and dots only."""
    return re.sub(r"[^a-z0-9.]", "", text.lower())


def format_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "record"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def parse_records(text: str, origin: str, key: str, version: int, record: type[R], kind: str) -> dict[str, R]:
    """Validate a YAML document ``{schema_version, <key>: [records]}`` into records by name.

    Raises :class:`ModelConfigError` naming ``origin`` and the record for malformed YAML, a wrong schema
    version, an invalid record, or a name or alias used twice.
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ModelConfigError(yaml_error_line(origin, e)) from None
    if not isinstance(doc, dict):
        raise ModelConfigError(f"{origin}: expected a mapping with `schema_version` and `{key}`.")
    found = doc.get("schema_version")
    if found != version:
        raise ModelConfigError(
            f"{origin}: schema_version is {found!r}; this chipfleet reads version {version}. "
            f"Set `schema_version: {version}` or upgrade chipfleet."
        )
    raw = doc.get(key)
    if not isinstance(raw, list):
        raise ModelConfigError(f"{origin}: `{key}` must be a list of {kind} records.")
    out: dict[str, R] = {}
    owner: dict[str, str] = {}
    for i, item in enumerate(raw):
        label = item.get("name", f"#{i}") if isinstance(item, dict) else f"#{i}"
        try:
            rec = record.model_validate(item)
        except ValidationError as e:
            raise ModelConfigError(f"{origin}: {kind} {label!r} is invalid: {format_validation_error(e)}") from None
        name: str = getattr(rec, "name")  # noqa: B009 - every record type has a name
        aliases: tuple[str, ...] = getattr(rec, "aliases", ())
        for alias in (name, *aliases):
            k = alias.strip().lower()
            if k in owner:
                raise ModelConfigError(
                    f"{origin}: name or alias {alias!r} of {kind} {name!r} is already used by "
                    f"{owner[k]!r}; names and aliases must be unique."
                )
            owner[k] = name
        out[name] = rec
    return out
