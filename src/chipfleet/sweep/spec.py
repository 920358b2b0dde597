"""The sweep spec: which command to run, over which inputs, with which outputs kept, validated with clear errors.

A spec is YAML::

    name: custom-silicon-break-even
    command: estimate train            # any estimate / plan / simulate command
    fixed: {model: llama-3-70b, tokens: 1T}
    axes:                              # option name -> values (a list, or a range)
      instances: [8, 16, 32]
      setup:                           # values that are mappings set several options at once
        - {label: trn2, instance: trn2.48xlarge}
        - {label: h100, instance: p5.48xlarge}
    prices:                            # price multipliers: instances matched by a glob, prices times each value
      custom_silicon: {instances: "trn*", values: [0.5, 0.75, 1.0]}
    sampling: {method: grid}           # or {method: random, points: 200, seed: 7}
    outputs: {cost_usd: footprint.cost_usd, days: footprint.time_s}

Errors name the offending key path (``axes.instances[2]``) and say what is allowed.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chipfleet.exceptions import ConfigError, one_line

COMMAND_GROUPS = ("estimate", "plan", "simulate")
MAX_POINTS = 10_000_000
"""Largest sweep a spec may describe (a grid beyond it is a typo, not a study)."""
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
LABEL_KEY = "label"
COMMAND_KEY = "command"

Scalar = str | int | float | bool


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Range(_Model):
    """A numeric range: ``num`` evenly spaced values for a grid (geometric with ``log``), or uniform draws between
    ``from`` and ``to`` for random sampling (log-uniform with ``log``; whole numbers with ``integer``)."""

    start: float = Field(alias="from", allow_inf_nan=False)
    stop: float = Field(alias="to", allow_inf_nan=False)
    num: int | None = Field(default=None, ge=2, le=100_000)
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.stop <= self.start:
            raise ValueError(f"`to` ({self.stop:g}) must be greater than `from` ({self.start:g})")
        if self.log and self.start <= 0:
            raise ValueError(f"a log range needs `from` > 0, got {self.start:g}")
        return self

    def grid(self) -> list[float | int]:
        if self.num is None:
            raise ValueError("a grid needs `num` (how many values from `from` to `to`)")
        if self.log:
            a, b = math.log(self.start), math.log(self.stop)
            values = [math.exp(a + (b - a) * i / (self.num - 1)) for i in range(self.num)]
        else:
            values = [self.start + (self.stop - self.start) * i / (self.num - 1) for i in range(self.num)]
        values[-1] = self.stop
        if self.integer:
            ints = sorted({round(v) for v in values})
            return list(ints)
        return [round(v, 12) for v in values]


class PriceAxis(_Model):
    """Price multipliers of the instances matching ``instances`` (globs, comma-separated: ``trn*,inf*``), for the
    ``pricing`` models listed (all by default)."""

    instances: str = Field(min_length=1)
    pricing: tuple[Literal["on-demand", "spot", "reserved"], ...] = ()
    values: list[float] | Range

    @field_validator("values")
    @classmethod
    def _positive(cls, v: list[float] | Range) -> list[float] | Range:
        items = v if isinstance(v, list) else [v.start, v.stop]
        if isinstance(v, list) and not v:
            raise ValueError("give at least one multiplier")
        bad = [x for x in items if not (x > 0 and math.isfinite(x))]
        if bad:
            raise ValueError(f"multipliers must be finite and > 0, got {bad[0]!r}")
        if isinstance(v, list) and len(set(v)) != len(v):
            raise ValueError(f"multipliers must be distinct, got {v}")
        return v


class Sampling(_Model):
    """``grid`` (every combination) or ``random`` (``points`` draws with ``seed``)."""

    method: Literal["grid", "random"] = "grid"
    points: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)

    @model_validator(mode="after")
    def _points(self) -> Sampling:
        if self.method == "random" and self.points is None:
            raise ValueError("random sampling needs `points` (how many to draw)")
        if self.method == "grid" and self.points is not None:
            raise ValueError("`points` is for random sampling; a grid runs every combination (drop it)")
        return self


class BreakEven(_Model):
    """Where ``between``'s values swap places on ``output`` as ``across`` (a numeric axis) grows."""

    output: str
    across: str
    between: str
    lower_is_better: bool = True
    where: dict[str, Scalar] = {}
    """Only the points whose axes have these values (``{workload: training}``)."""


class Pareto(_Model):
    """The points no other point beats on both outputs ``x`` and ``y``."""

    x: str
    y: str
    minimize_x: bool = True
    minimize_y: bool = True
    where: dict[str, Scalar] = {}


class ReportSpec(_Model):
    break_even: list[BreakEven] = []
    pareto: list[Pareto] = []


class SweepSpec(_Model):
    """A validated sweep spec (see the module's docstring)."""

    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    command: str | None = None
    fixed: dict[str, Any] = {}
    axes: dict[str, list[Any] | Range] = {}
    prices: dict[str, PriceAxis] = {}
    sampling: Sampling = Sampling()
    outputs: dict[str, list[str]] = Field(min_length=1)
    catalog: list[str] = []
    keep_results: bool = False
    report: ReportSpec = ReportSpec()

    @field_validator("command")
    @classmethod
    def _command(cls, v: str | None) -> str | None:
        return None if v is None else _check_command(v)

    @field_validator("fixed")
    @classmethod
    def _fixed(cls, v: dict[str, Any]) -> dict[str, Any]:
        return {_option_name(k): _value(x, k) for k, x in v.items()}

    @field_validator("axes", mode="before")
    @classmethod
    def _axes(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            raise ValueError("axes must be a mapping of option name to values")
        out: dict[str, Any] = {}
        for key, values in v.items():
            name = _option_name(str(key))
            if isinstance(values, dict):
                out[name] = values  # a range: pydantic checks it
                continue
            if not isinstance(values, list) or not values:
                raise ValueError(f"{key}: give a non-empty list of values, or a range {{from, to, num}}")
            out[name] = [_axis_value(x, f"{key}[{i}]") for i, x in enumerate(values)]
            labels = [_label(x) for x in out[name]]
            if len(set(labels)) != len(labels):
                dup = next(x for x in labels if labels.count(x) > 1)
                raise ValueError(f"{key}: the value {dup!r} appears twice; each value once")
        return out

    @field_validator("prices", mode="before")
    @classmethod
    def _prices(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            raise ValueError("prices must be a mapping of name to {instances, values}")
        for key in v:
            _name(str(key), "price axis")
        return v

    @field_validator("outputs", mode="before")
    @classmethod
    def _outputs(cls, v: Any) -> Any:
        if not isinstance(v, dict) or not v:
            raise ValueError("outputs must map names to dotted paths in the command's JSON, e.g. cost_usd: cost_usd")
        out: dict[str, list[str]] = {}
        for key, paths in v.items():
            _name(str(key), "output")
            given = [paths] if isinstance(paths, str) else paths
            if not isinstance(given, list) or not given or not all(isinstance(p, str) and p.strip() for p in given):
                raise ValueError(f"{key}: give a dotted path (footprint.cost_usd) or a list of alternatives")
            out[str(key)] = [p.strip() for p in given]
        return out

    @model_validator(mode="after")
    def _whole(self) -> SweepSpec:
        commands = {self.command} if self.command else set()
        with_command = []
        for name, values in self.axes.items():
            if isinstance(values, Range):
                if self.sampling.method == "grid":
                    try:
                        values.grid()
                    except ValueError as e:
                        raise ValueError(f"axes.{name}: {e}") from None
                continue
            given = [isinstance(x, dict) and COMMAND_KEY in x for x in values]
            if any(given) and not all(given):
                i = given.index(False)
                raise ValueError(f"axes.{name}[{i}]: give a `command` in every value of this axis, or in none")
            if all(given):
                with_command.append(name)
                commands.update(_check_command(str(x[COMMAND_KEY])) for x in values)
        if len(with_command) > 1:
            raise ValueError(f"axes {with_command[0]} and {with_command[1]} both set the command; one axis may")
        if not commands:
            raise ValueError(
                "give `command:` (estimate train, estimate serve, plan train, simulate serve, ...) or a "
                "`command` in every value of one axis"
            )
        overlap = set(self.axes) & set(self.prices)
        if overlap:
            raise ValueError(f"{sorted(overlap)[0]!r} is both an axis and a price axis; rename one")
        known = self.axis_names()
        for i, b in enumerate(self.report.break_even):
            for key, ax in (("across", b.across), ("between", b.between)):
                if ax not in known:
                    raise ValueError(f"report.break_even[{i}].{key}: no axis {ax!r}; axes: {', '.join(known)}")
            for ax in b.where:
                if ax not in known:
                    raise ValueError(f"report.break_even[{i}].where: no axis {ax!r}; axes: {', '.join(known)}")
            if b.output not in self.outputs:
                raise ValueError(
                    f"report.break_even[{i}].output: no output {b.output!r}; outputs: {', '.join(self.outputs)}"
                )
        for i, p in enumerate(self.report.pareto):
            for ax in p.where:
                if ax not in known:
                    raise ValueError(f"report.pareto[{i}].where: no axis {ax!r}; axes: {', '.join(known)}")
            for key, out in (("x", p.x), ("y", p.y)):
                if out not in self.outputs:
                    raise ValueError(f"report.pareto[{i}].{key}: no output {out!r}; outputs: {', '.join(self.outputs)}")
        if self.size() > MAX_POINTS:
            raise ValueError(f"the sweep has {self.size():,} points, more than {MAX_POINTS:,}; sample at random")
        return self

    def axis_names(self) -> list[str]:
        """Every axis in order: the option axes, then the price axes (``prices.<name>``)."""
        return [*self.axes, *(f"prices.{p}" for p in self.prices)]

    def grid_size(self) -> int | None:
        """How many combinations the axes hold (None where a range has no ``num``: a continuum)."""
        n = 1
        for values in self.axes.values():
            if isinstance(values, Range) and values.num is None:
                return None
            n *= len(values.grid()) if isinstance(values, Range) else len(values)
        for p in self.prices.values():
            if isinstance(p.values, Range) and p.values.num is None:
                return None
            n *= len(p.values.grid()) if isinstance(p.values, Range) else len(p.values)
        return n

    def size(self) -> int:
        """How many points the sweep runs."""
        if self.sampling.method == "random":
            return int(self.sampling.points or 0)
        return int(self.grid_size() or 0)


def _check_command(v: str) -> str:
    words = " ".join(v.split()).lower()
    if not words or words.split(" ")[0] not in COMMAND_GROUPS or len(words.split(" ")) != 2:
        raise ValueError(
            f"command must be an estimate, plan or simulate command such as 'estimate train' or 'simulate serve', "
            f"got {v!r}"
        )
    return words


def _name(key: str, what: str) -> str:
    if not NAME.match(key):
        raise ValueError(f"{what} name {key!r} must be lower case letters, digits and _ (starting with a letter)")
    return key


def _option_name(key: str) -> str:
    """An option as the spec may write it (``--max-seqs``, ``max-seqs``, ``max_seqs``) → ``max_seqs``."""
    name = key.strip().lstrip("-").replace("-", "_").lower()
    return _name(name, "option")


def _value(x: Any, where: str) -> Any:
    if isinstance(x, Scalar):
        if isinstance(x, float) and not math.isfinite(x):
            raise ValueError(f"{where}: {x!r} is not a finite number")
        return x
    if isinstance(x, list) and all(isinstance(i, Scalar) for i in x):
        return list(x)
    raise ValueError(f"{where}: give a number, text, true/false or a list of them, got {type(x).__name__}")


def _axis_value(x: Any, where: str) -> Any:
    if isinstance(x, dict):
        if not x:
            raise ValueError(f"{where}: an empty mapping sets nothing")
        out: dict[str, Any] = {}
        for k, v in x.items():
            key = str(k)
            if key in (LABEL_KEY, COMMAND_KEY):
                out[key] = str(v)
            else:
                out[_option_name(key)] = _value(v, f"{where}.{key}")
        return out
    return _value(x, where)


def _label(x: Any) -> str:
    """How a value is named in tables and charts: a mapping by its ``label`` (else its settings), others as text."""
    if isinstance(x, dict):
        if LABEL_KEY in x:
            return str(x[LABEL_KEY])
        return ",".join(f"{k}={v}" for k, v in x.items())
    return str(x)


def label(x: Any) -> str:
    return _label(x)


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part or part.startswith(("function-", "list", "dict", "str", "int", "float", "bool")):
            continue  # pydantic's names of union members and validators: not keys of the spec
        else:
            out += ("." if out else "") + part
    return out


def parse_spec(data: Any, source: str = "spec") -> SweepSpec:
    """A spec from parsed YAML/JSON, or a :class:`ConfigError` naming the key path of every problem."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a sweep spec is a mapping (name, command, axes, outputs, ...)", field="spec")
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        errors = exc.errors()
        paths = [_where(tuple(e["loc"])) for e in errors]
        for err, where in zip(errors, paths, strict=True):
            if err["type"] in ("list_type", "model_type", "dict_type", "float_type") and paths.count(where) > 1:
                continue  # a union's other branch ("should be a list") beside the real problem with this one
            msg = one_line(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check its spelling in docs/sweeps.md)"
            elif err["type"] == "missing":
                msg = "missing (required)"
            problems.append(f"{where}: {msg}" if where else msg)
        raise ConfigError(f"{source}: invalid sweep spec: " + "; ".join(problems[:6]), field="spec") from None


def load_spec(path: Path) -> SweepSpec:
    """Read and validate a spec file (YAML)."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read the sweep spec {str(path)!r}: {e.strerror}", field="spec") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {one_line(str(e))}", field="spec") from None
    return parse_spec(data, str(path))
