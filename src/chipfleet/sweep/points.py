"""A spec's points, generated lazily in a fixed order (grid or seeded random), each with a stable ``point_id``.

``point_id`` = sha256 of the canonical JSON (sorted keys, no spaces) of the point's command, its options (the
spec's fixed inputs merged with the axes' values) and its price multipliers (with what they apply to): the same
inputs give the same id in any process, on any machine, in any run."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from chipfleet.exceptions import ConfigError
from chipfleet.sweep.spec import COMMAND_KEY, LABEL_KEY, PriceAxis, Range, SweepSpec, label


@dataclass(frozen=True)
class PriceRule:
    """Multiply the prices of instances matching ``instances`` (globs) for ``pricing`` (all when empty)."""

    instances: str
    pricing: tuple[str, ...]
    multiplier: float


@dataclass(frozen=True)
class Point:
    """One point: the command and options it runs, its price rules, and its coordinates on the spec's axes."""

    seq: int
    point_id: str
    command: str
    options: dict[str, Any]
    prices: tuple[PriceRule, ...]
    coords: dict[str, Any]

    @property
    def inputs(self) -> dict[str, Any]:
        """What the store keeps as the point's inputs."""
        return {
            "command": self.command,
            "options": self.options,
            "prices": [
                {"instances": r.instances, "pricing": list(r.pricing), "multiplier": r.multiplier} for r in self.prices
            ],
            "coords": self.coords,
        }


def canonical(data: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, floats as Python's shortest repr."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def point_id(command: str, options: dict[str, Any], prices: tuple[PriceRule, ...]) -> str:
    rules = [[r.instances, list(r.pricing), r.multiplier] for r in prices]
    return hashlib.sha256(canonical({"command": command, "options": options, "prices": rules}).encode()).hexdigest()


def sweep_id(spec: SweepSpec, catalog_hash: str) -> str:
    """The sweep's run id: the same spec (its report section, name and description aside) against the same catalog
    is the same sweep, so running it again resumes it."""
    body = spec.model_dump(mode="json", by_alias=True, exclude={"report", "name", "description"})
    return hashlib.sha256(canonical({"spec": body, "catalog": catalog_hash}).encode()).hexdigest()[:32]


def _values(axis: list[Any] | Range) -> list[Any]:
    return axis.grid() if isinstance(axis, Range) else axis


def _price_values(p: PriceAxis) -> list[Any]:
    return p.values.grid() if isinstance(p.values, Range) else list(p.values)


def _draw(rng: np.random.Generator, axis: list[Any] | Range) -> Any:
    if not isinstance(axis, Range):
        return axis[int(rng.integers(len(axis)))]
    if axis.num is not None:
        grid = axis.grid()
        return grid[int(rng.integers(len(grid)))]
    if axis.log:
        x = math.exp(rng.uniform(math.log(axis.start), math.log(axis.stop)))
    else:
        x = float(rng.uniform(axis.start, axis.stop))
    return round(x) if axis.integer else round(x, 12)


def value_lists(spec: SweepSpec, *, ends: bool = False) -> list[list[Any]]:
    """Each axis's values, option axes then price axes; a range without ``num`` has none (or, with ``ends``, its
    two ends)."""
    out: list[list[Any]] = []
    for axis in [*spec.axes.values(), *(p.values for p in spec.prices.values())]:
        if isinstance(axis, Range) and axis.num is None:
            lo, hi = (round(axis.start), round(axis.stop)) if axis.integer else (axis.start, axis.stop)
            out.append([lo, hi] if ends else [])
        else:
            out.append(_values(axis))
    return out


def combo_at(lists: list[list[Any]], index: int) -> tuple[Any, ...]:
    """The ``index``-th combination of ``lists`` in grid order (the last axis varies fastest)."""
    picked = []
    for lst in reversed(lists):
        index, i = divmod(index, len(lst))
        picked.append(lst[i])
    return tuple(reversed(picked))


MAX_DRAWS_PER_POINT = 20
"""Random sampling gives up (ConfigError) after this many draws per point asked for plus 1000 without enough
distinct points."""


def _combinations(spec: SweepSpec) -> Iterator[tuple[Any, ...]]:
    """Each point's values, axes first then price axes, in order; for random sampling, draws without end (or, where
    the axes' combinations can be listed, each combination at most once) for :func:`points` to keep distinct ones."""
    lists = value_lists(spec)
    if spec.sampling.method == "grid":
        yield from itertools.product(*lists)
        return
    rng = np.random.default_rng(spec.sampling.seed)
    n = int(spec.sampling.points or 0)
    total = spec.grid_size()
    if total is not None:  # every axis discrete
        if n > total:
            raise ConfigError(
                f"sampling.points: {n} is more than the {total} distinct combinations of the axes; lower it or use "
                "method: grid",
                field="spec",
            )
        if total < 2**62:  # distinct combinations, drawn without replacement
            for index in rng.choice(total, size=n, replace=False):
                yield combo_at(lists, int(index))
            return
        while True:  # past int64: each axis's index drawn on its own (repeats are dropped by points())
            yield tuple(lst[int(rng.integers(len(lst)))] for lst in lists)
    axes = [*spec.axes.values(), *(p.values for p in spec.prices.values())]
    while True:
        yield tuple(_draw(rng, a) for a in axes)


def make_point(spec: SweepSpec, seq: int, combo: tuple[Any, ...]) -> Point:
    """The point of ``combo`` (one value per axis, option axes then price axes)."""
    names = list(spec.axes)
    options = dict(spec.fixed)
    command = spec.command or ""
    coords: dict[str, Any] = {}
    for name, value in zip(names, combo[: len(names)], strict=True):
        if isinstance(value, dict):
            coords[name] = label(value)
            for k, v in value.items():
                if k == COMMAND_KEY:
                    command = str(v)
                elif k != LABEL_KEY:
                    options[k] = v
        else:
            coords[name] = value
            options[name] = value
    rules = []
    for name, m in zip(spec.prices, combo[len(names) :], strict=True):
        axis = spec.prices[name]
        rules.append(PriceRule(axis.instances, tuple(axis.pricing), float(m)))
        coords[f"prices.{name}"] = float(m)
    prices = tuple(rules)
    return Point(seq, point_id(command, options, prices), command, options, prices, coords)


def points(spec: SweepSpec) -> Iterator[Point]:
    """The spec's points in order (``seq`` 0, 1, ...), generated as they are consumed (memory stays flat for a grid).
    Random sampling yields ``sampling.points`` DISTINCT points (a repeated draw is dropped), so every count (the
    spec's size, the points stored, the summary) agrees; too few distinct points: a ConfigError."""
    if spec.sampling.method == "grid":
        for seq, combo in enumerate(_combinations(spec)):
            yield make_point(spec, seq, combo)
        return
    n = int(spec.sampling.points or 0)
    limit = MAX_DRAWS_PER_POINT * n + 1000
    seen: set[int] = set()  # 64 bits of each point id: flat enough for millions of points
    draws = 0
    for combo in _combinations(spec):
        if len(seen) >= n:
            return
        draws += 1
        if draws > limit:
            break
        p = make_point(spec, len(seen), combo)
        key = int(p.point_id[:16], 16)
        if key not in seen:
            seen.add(key)
            yield p
    if len(seen) < n:
        raise ConfigError(
            f"sampling.points: asked for {n} distinct points, found {len(seen)} in {draws} random draws (the axes hold "
            "fewer distinct points, or values that give the same point); lower sampling.points or widen the axes",
            field="spec",
        )


# ----------------------------------------------------------------------------- outputs by dotted paths
_TOKEN = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")


class Missing(LookupError):
    """A dotted path that leads nowhere in a result; says where it stopped and what was there."""


def tokens(path: str) -> list[str]:
    return [m.group(1) if m.group(1) is not None else m.group(2) for m in _TOKEN.finditer(path)]


def pick(result: Any, path: str) -> Any:
    """The value at ``path`` in a command's JSON: keys by name (``footprint.cost_usd``), list items by index
    (``types.0.cost``, ``types[0]``) or by a field's value (``types[instance=p5.48xlarge].cost_usd``)."""
    here = result
    walked: list[str] = []
    for tok in tokens(path):
        if isinstance(here, dict):
            if tok not in here:
                keys = ", ".join(list(here)[:20])
                raise Missing(f"no key {tok!r} at {'.'.join(walked) or 'the top'} (keys there: {keys})")
            here = here[tok]
        elif isinstance(here, list):
            if "=" in tok:
                k, _, v = tok.partition("=")
                found = [x for x in here if isinstance(x, dict) and str(x.get(k.strip())).lower() == v.strip().lower()]
                if not found:
                    raise Missing(f"no item with {k.strip()}={v.strip()} in the list at {'.'.join(walked)}")
                here = found[0]
            elif tok.lstrip("-").isdigit() and -len(here) <= int(tok) < len(here):
                here = here[int(tok)]
            else:
                raise Missing(f"{tok!r} is not an index of the {len(here)}-item list at {'.'.join(walked)}")
        else:
            raise Missing(f"{'.'.join(walked)} is a value ({here!r}), it has no {tok!r}")
        walked.append(tok)
    return here


def pick_outputs(result: Any, outputs: dict[str, list[str]]) -> tuple[dict[str, Any], dict[str, str]]:
    """Each named output from the first of its paths that exists; and, for those none exists, why."""
    picked: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for name, paths in outputs.items():
        reasons = []
        for path in paths:
            try:
                picked[name] = pick(result, path)
                break
            except Missing as e:
                reasons.append(f"{path}: {e}")
        else:
            picked[name] = None
            missing[name] = "; ".join(reasons)
    return picked, missing
