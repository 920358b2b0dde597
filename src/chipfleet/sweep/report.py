"""A sweep's report: its points as a table, how much each output moves with each axis (sensitivity), where two
options swap places as a numeric axis grows (break-even, by linear interpolation between swept values), the Pareto
fronts of pairs of outputs, charts of each, and CSV / Parquet exports."""

from __future__ import annotations

import csv
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any

from rich.table import Table

from chipfleet.exceptions import ConfigError
from chipfleet.store import RunStore
from chipfleet.store.points import SWEEP_KIND, SweepPoints
from chipfleet.sweep.spec import BreakEven, Pareto, SweepSpec, parse_spec

MAX_AUTO_BREAK_EVEN = 12


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(x) else None


COMMAND = "_command"
"""A done row's command (`estimate train`): outputs of different commands are not compared with each other."""


@dataclass(frozen=True)
class Sensitivity:
    """Mean of ``output`` at each value of ``axis`` (over the other axes); ``spread`` = range of those means over the
    mean of all points (0.4 = the output moves by 40 % of its mean along this axis). ``command``: the points it is
    over, where the sweep runs several commands (the same output path means another thing in each: the cost of a
    whole training run, of an hour of serving), else ""."""

    output: str
    axis: str
    means: dict[str, float]
    spread: float
    command: str = ""

    @property
    def label(self) -> str:
        return f"{self.output} ({self.command} points)" if self.command else self.output


@dataclass(frozen=True)
class Crossing:
    """``a`` and ``b`` (values of ``between``) swap on ``output`` at ``across`` = ``at`` (None: no swap in range)."""

    output: str
    across: str
    between: str
    group: dict[str, Any]
    a: str
    b: str
    at: float | None
    low_side: str
    high_side: str
    span: tuple[float, float]
    curves: dict[str, list[tuple[float, float]]]

    def statement(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.group.items())
        head = f"{self.output}{f' ({where})' if where else ''}"
        if self.at is None:
            other = self.b if self.low_side == self.a else self.a
            return (
                f"{head}: {self.low_side} is lower than {other} across the whole range {self.across} = "
                f"{self.span[0]:g} to {self.span[1]:g}; no break-even in range"
            )
        return (
            f"{head}: {self.a} and {self.b} break even at {self.across} = {self.at:.3g}; below it {self.low_side} "
            f"is lower, above it {self.high_side}"
        )


@dataclass(frozen=True)
class Front:
    """The points no other point beats on both ``x`` and ``y`` (in the directions asked)."""

    x: str
    y: str
    minimize_x: bool
    minimize_y: bool
    points: list[dict[str, Any]]
    all_xy: list[tuple[float, float]]


@dataclass
class SweepReport:
    sweep_id: str
    name: str
    status: str
    spec: SweepSpec
    axes: list[str]
    outputs: list[str]
    rows: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    sensitivity: list[Sensitivity] = field(default_factory=list)
    crossings: list[Crossing] = field(default_factory=list)
    fronts: list[Front] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # report sections the spec asked for that select no point

    def statements(self) -> list[str]:
        out = [*self.notes, *(c.statement() for c in self.crossings)]
        told: set[str] = set()
        for s in self.sensitivity:  # sorted by spread within each output: the first of each is the largest
            if s.spread > 0 and s.label not in told:
                told.add(s.label)
                out.append(
                    f"{s.label} moves most with {s.axis}: its mean ranges over {s.spread:.0%} of its overall "
                    "mean across that axis's values"
                )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "name": self.name,
            "status": self.status,
            "points": len(self.rows) + len(self.failed),
            "done": len(self.rows),
            "failed": len(self.failed),
            "axes": self.axes,
            "outputs": self.outputs,
            "output_ranges": {
                f"{o} ({c} points)" if c else o: _range([r.get(o) for r in scoped])
                for c, scoped in by_command(self.rows).items()
                for o in self.outputs
                if _range([r.get(o) for r in scoped]) is not None
            },
            "sensitivity": [s.__dict__ for s in self.sensitivity],
            "break_even": [
                {**{k: v for k, v in c.__dict__.items() if k != "curves"}, "statement": c.statement()}
                for c in self.crossings
            ],
            "pareto": [
                {"x": f.x, "y": f.y, "minimize_x": f.minimize_x, "minimize_y": f.minimize_y, "points": f.points}
                for f in self.fronts
            ],
            "statements": self.statements(),
            "notes": self.notes,
            "failures": self.failed[:50],
        }


def _range(values: list[Any]) -> dict[str, float] | None:
    nums = [x for x in (_num(v) for v in values) if x is not None]
    if not nums:
        return None
    return {"min": min(nums), "median": statistics.median(nums), "max": max(nums)}


def build(store: RunStore, run: str) -> SweepReport:
    """The report of the sweep ``run`` (id or unique prefix)."""
    record = store.get(run)
    if record.kind != SWEEP_KIND:
        raise ConfigError(
            f"run {record.id[:12]} is a {record.kind!r} run, not a sweep; `chipfleet runs list --kind "
            "sweep` lists the sweeps",
            field="run",
        )
    spec = parse_spec(record.inputs.get("spec"), f"sweep {record.id[:12]}")
    axes = spec.axis_names()
    rows: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for p in SweepPoints(store).points(record.id):
        coords = p.inputs.get("coords", {})
        if p.status == "done":
            rows.append({"point_id": p.point_id, COMMAND: p.inputs.get("command", ""), **coords, **(p.outputs or {})})
        else:
            failed.append({"point_id": p.point_id, **coords, "error": p.error})
    rep = SweepReport(record.id, spec.name, record.status, spec, axes, list(spec.outputs), rows, failed)
    rep.sensitivity = sensitivity(rows, axes, rep.outputs)
    rep.crossings = [c for be in _break_evens(spec, rows) for c in break_even(rows, axes, be)]
    rep.fronts = [pareto(rows, axes, p) for p in _paretos(spec)]
    asked = [(f"report.break_even[{i}]", be.where) for i, be in enumerate(spec.report.break_even)]
    asked += [(f"report.pareto[{i}]", p.where) for i, p in enumerate(spec.report.pareto)]
    rep.notes = [note for what, where in asked if (note := unmatched(rows, where, what)) is not None]
    return rep


def by_command(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The rows of each command, keyed "" when the sweep runs one command only."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[str(r.get(COMMAND, ""))].append(r)
    return dict(groups) if len(groups) > 1 else {"": rows}


def sensitivity(rows: list[dict[str, Any]], axes: list[str], outputs: list[str]) -> list[Sensitivity]:
    """Per output (and per command, where the sweep runs several): how far its mean moves along each axis."""
    out: list[Sensitivity] = []
    for command, scoped in by_command(rows).items():
        for o in outputs:
            allv = [x for x in (_num(r.get(o)) for r in scoped) if x is not None]
            if not allv or statistics.fmean(allv) == 0:
                continue
            mean_all = abs(statistics.fmean(allv))
            for ax in axes:
                groups: dict[str, list[float]] = defaultdict(list)
                for r in scoped:
                    y = _num(r.get(o))
                    if y is not None and ax in r:
                        groups[str(r[ax])].append(y)
                if len(groups) < 2:
                    continue
                means = {k: statistics.fmean(v) for k, v in groups.items()}
                spread = (max(means.values()) - min(means.values())) / mean_all
                out.append(Sensitivity(o, ax, means, spread, command))
    return sorted(out, key=lambda s: (outputs.index(s.output), s.command, -s.spread))


def _break_evens(spec: SweepSpec, rows: list[dict[str, Any]]) -> list[BreakEven]:
    if spec.report.break_even:
        return list(spec.report.break_even)
    numeric = [ax for ax in spec.axis_names() if rows and all(_num(r.get(ax)) is not None for r in rows)]
    acrosses = [ax for ax in numeric if ax.startswith("prices.")]  # automatic only for price studies
    categorical = [
        ax for ax in spec.axis_names() if ax not in numeric and 2 <= len({str(r.get(ax)) for r in rows}) <= 8
    ]
    auto = [BreakEven(output=o, across=x, between=b) for x in acrosses for b in categorical for o in spec.outputs]
    return auto[:MAX_AUTO_BREAK_EVEN]


def break_even(rows: list[dict[str, Any]], axes: list[str], be: BreakEven) -> list[Crossing]:
    """For each group of the other axes and each pair of ``between``'s values: where their ``output`` curves over
    ``across`` cross (linear interpolation between the two swept values that bracket the sign change)."""
    rows = _where(rows, be.where)
    others = [ax for ax in axes if ax not in (be.across, be.between)]
    curves: dict[tuple[Any, ...], dict[str, dict[float, list[float]]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        x, y = _num(r.get(be.across)), _num(r.get(be.output))
        if x is None or y is None:
            continue
        curves[tuple(str(r.get(a)) for a in others)][str(r.get(be.between))].setdefault(x, []).append(y)
    found: list[Crossing] = []
    for key, by_value in curves.items():
        mean = {v: sorted((x, statistics.fmean(ys)) for x, ys in pts.items()) for v, pts in by_value.items()}
        for a, b in combinations(sorted(mean), 2):
            ya, yb = dict(mean[a]), dict(mean[b])
            xs = sorted(set(ya) & set(yb))
            if len(xs) < 2:
                continue
            sign = 1.0 if be.lower_is_better else -1.0
            d = [sign * (ya[x] - yb[x]) for x in xs]
            if all(v == 0 for v in d):
                continue  # the same output all along: nothing breaks even
            at = None
            nz = [(x, v) for x, v in zip(xs, d, strict=True) if v != 0]
            for (x0, d0), (x1, d1) in pairwise(nz):
                if d0 * d1 < 0:  # a sign change between two swept values (a zero in between sits on the line)
                    at = x0 + (x1 - x0) * d0 / (d0 - d1)
                    break
            d = [v for _, v in nz]
            low_first = a if d[0] < 0 else b  # the better one at the low end of the range
            high_last = a if d[-1] < 0 else b
            found.append(
                Crossing(
                    be.output,
                    be.across,
                    be.between,
                    dict(zip(others, key, strict=True)),
                    a,
                    b,
                    at,
                    low_first,
                    high_last,
                    (xs[0], xs[-1]),
                    {a: mean[a], b: mean[b]},
                )
            )
    return found


def _as_number(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _same(value: Any, wanted: Any) -> bool:
    """An axis value is the one a ``where`` names: as numbers when both read as numbers (1024 is 1024.0), else as
    text, in any case."""
    a, b = _as_number(value), _as_number(wanted)
    if a is not None and b is not None:
        return a == b
    return str(value).strip().lower() == str(wanted).strip().lower()


def _where(rows: list[dict[str, Any]], where: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows whose axes have the values ``where`` asks (:func:`_same`)."""
    if not where:
        return rows
    return [r for r in rows if all(_same(r.get(k), v) for k, v in where.items())]


def unmatched(rows: list[dict[str, Any]], where: dict[str, Any], what: str) -> str | None:
    """Why ``where`` selects nothing of ``rows`` (the value no point has, and the values there are), or None."""
    if not rows or _where(rows, where):
        return None
    for k, v in where.items():
        values = sorted({str(r.get(k)) for r in rows})
        if not any(_same(r.get(k), v) for r in rows):
            return f"{what}: no point has {k}={v} (the sweep's values: {', '.join(values[:12])}); it is left out"
    return f"{what}: no point has all of {where}; it is left out"


def _paretos(spec: SweepSpec) -> list[Pareto]:
    if spec.report.pareto:
        return list(spec.report.pareto)
    names = list(spec.outputs)
    return [Pareto(x=names[0], y=names[1])] if len(names) >= 2 else []


def pareto(rows: list[dict[str, Any]], axes: list[str], p: Pareto) -> Front:
    sx = 1.0 if p.minimize_x else -1.0
    sy = 1.0 if p.minimize_y else -1.0
    rows = _where(rows, p.where)
    pts = [
        (sx * x, sy * y, r) for r in rows if (x := _num(r.get(p.x))) is not None and (y := _num(r.get(p.y))) is not None
    ]
    pts.sort(key=lambda t: (t[0], t[1]))
    front: list[dict[str, Any]] = []
    best = math.inf
    for _, y, r in pts:
        if y < best:
            best = y
            front.append({**{a: r.get(a) for a in axes}, p.x: r[p.x], p.y: r[p.y]})
    return Front(p.x, p.y, p.minimize_x, p.minimize_y, front, [(sx * x, sy * y) for x, y, _ in pts])


# ----------------------------------------------------------------------------- tables
def _fmt(x: Any) -> str:
    v = _num(x)
    if v is None:
        return "" if x is None else str(x)
    return f"{v:.4g}"


def tables(rep: SweepReport, rows: int) -> list[Table]:
    out: list[Table] = []
    t = Table(
        title=f"sweep {rep.name} ({rep.sweep_id[:12]}, {rep.status}): {len(rep.rows)} points done, "
        f"{len(rep.failed)} failed"
    )
    # both ends, not a "best": whether low or high is good depends on the output (cost vs tokens/s, MFU)
    for col in ("output", "min", "median", "max", "lowest at", "highest at"):
        t.add_column(col)
    for command, scoped in by_command(rep.rows).items():
        for o in rep.outputs:
            rng = _range([r.get(o) for r in scoped])
            if rng is None and command:
                continue  # this command's results have no such output
            valued = [r for r in scoped if _num(r.get(o)) is not None]
            ends = [min(valued, key=lambda r: float(r[o])), max(valued, key=lambda r: float(r[o]))] if valued else []
            at = [", ".join(f"{a}={r.get(a)}" for a in rep.axes) for r in ends] or ["", ""]
            name = f"{o} ({command} points)" if command else o
            t.add_row(name, *(_fmt(rng[k]) if rng else "" for k in ("min", "median", "max")), *at)
    out.append(t)
    if rows:
        pt = Table(title=f"points (first {min(rows, len(rep.rows))} of {len(rep.rows)})")
        for col in [*rep.axes, *rep.outputs]:
            pt.add_column(col)
        for r in rep.rows[:rows]:
            pt.add_row(*(_fmt(r.get(c)) for c in [*rep.axes, *rep.outputs]))
        out.append(pt)
    if rep.sensitivity:
        st = Table(title="sensitivity: mean of each output at each value of an axis")
        for col in ("output", "axis", "spread", "means"):
            st.add_column(col)
        for s in rep.sensitivity[:20]:
            st.add_row(s.label, s.axis, f"{s.spread:.0%}", ", ".join(f"{k}: {_fmt(v)}" for k, v in s.means.items()))
        out.append(st)
    if rep.crossings:
        bt = Table(title="break-even (linear interpolation between swept values)")
        for col in ("output", "group", "between", "across", "break-even", "lower below", "lower above"):
            bt.add_column(col)
        for c in rep.crossings:
            bt.add_row(
                c.output,
                ", ".join(f"{k}={v}" for k, v in c.group.items()),
                f"{c.a} / {c.b}",
                c.across,
                "none in range" if c.at is None else f"{c.at:.3g}",
                c.low_side,
                c.high_side,
            )
        out.append(bt)
    for f in rep.fronts:
        best_x, best_y = ("lowest" if f.minimize_x else "highest"), ("lowest" if f.minimize_y else "highest")
        ft = Table(title=f"Pareto front: {best_x} {f.x} vs {best_y} {f.y} ({len(f.points)} of {len(f.all_xy)} points)")
        for col in [*rep.axes, f.x, f.y]:
            ft.add_column(col)
        for r in f.points[:30]:
            ft.add_row(*(_fmt(r.get(c)) for c in [*rep.axes, f.x, f.y]))
        out.append(ft)
    if rep.failed:
        ftab = Table(title=f"failed points ({len(rep.failed)}; first 10)")
        for col in [*rep.axes, "error"]:
            ftab.add_column(col)
        for r in rep.failed[:10]:
            ftab.add_row(*(_fmt(r.get(c)) for c in rep.axes), str(r.get("error", ""))[:200])
        out.append(ftab)
    return out


# ----------------------------------------------------------------------------- files
def _columns(rep: SweepReport) -> list[str]:
    return ["point_id", "status", *rep.axes, *rep.outputs, "error"]


def _all_rows(rep: SweepReport) -> list[dict[str, Any]]:
    return [{**r, "status": "done"} for r in rep.rows] + [{**r, "status": "failed"} for r in rep.failed]


def write_csv(rep: SweepReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=_columns(rep), extrasaction="ignore")
        w.writeheader()
        for r in _all_rows(rep):
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in _columns(rep)})
    return path


def write_parquet(rep: SweepReport, path: Path) -> Path:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            "Parquet export needs pyarrow: pip install 'chipfleet[sweep]' (or use --csv)", field="parquet"
        ) from None
    rows = _all_rows(rep)
    arrays = {}
    for col in _columns(rep):
        values = [r.get(col) for r in rows]
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, bool) for v in present):
            arrays[col] = pa.array(values, type=pa.bool_())
        elif present and all(_num(v) is not None or isinstance(v, int | float) for v in present):
            arrays[col] = pa.array([None if v is None else float(v) for v in values], type=pa.float64())
        else:
            arrays[col] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(arrays), path)
    return path


def write_files(
    rep: SweepReport, store: RunStore, *, out: Path | None, csv_path: Path | None, parquet_path: Path | None
) -> list[Path]:
    written: list[Path] = []
    if csv_path is not None:
        written.append(write_csv(rep, csv_path))
    if parquet_path is not None:
        written.append(write_parquet(rep, parquet_path))
    if out is not None:
        from chipfleet.sweep.charts import draw_all

        out.mkdir(parents=True, exist_ok=True)
        written.append(write_csv(rep, out / "points.csv"))
        written.extend(draw_all(rep, out))
    return written
