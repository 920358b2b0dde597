"""Tables, a scatter plot and an HTML report of a validation run."""

from __future__ import annotations

import base64
import html
import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from chipfleet.report.charts import colormap, subplots, to_png
from chipfleet.serialize import atomic_write_text
from chipfleet.validate.calibrate import Calibration, is_validated
from chipfleet.validate.runner import RowResult, ValidationReport

if TYPE_CHECKING:  # the serving package is heavy to import; only its report types are named here
    from chipfleet.validate.serving import ServingReport, ServingSkipped


def _pct(x: float) -> str:
    return "—" if math.isnan(x) else f"{100 * x:.1f} %"


def rows_table(report: ValidationReport) -> Table:
    t = Table(title=f"Predicted vs measured ({report.mode})")
    for col in ("id", "family", "model", "metric", "measured", "predicted", "10–90 % range", "APE"):
        t.add_column(col, justify="right" if col in ("measured", "predicted", "APE") else "left")
    for r in report.results:
        t.add_row(r.id, r.family, r.model, r.metric, f"{r.measured:.4g}", f"{r.predicted:.4g}", _range(r), _pct(r.ape))
    return t


def _range(r: RowResult) -> str:
    """The row's 10–90 % range, with ✗ when the measurement falls outside it."""
    if r.range is None:
        return "—"
    return f"{r.range[0]:.4g}–{r.range[1]:.4g}" + ("" if r.in_range else " ✗")


def summary_table(report: ValidationReport) -> Table:
    t = Table(title=f"Accuracy by family ({report.mode})")
    for col in ("family", "rows", "in scope", "coverage", "median APE", "p90 APE", "in 10–90 % range", "validated"):
        t.add_column(col, justify="left" if col == "family" else "right")
    for f in report.by_family:
        t.add_row(
            f.family,
            str(f.n),
            str(f.in_scope),
            _pct(f.coverage),
            _pct(f.mdape),
            _pct(f.p90_ape),
            _pct(f.band_coverage),
            "yes" if f.validated else "no",
        )
    t.add_section()
    t.add_row(
        "overall",
        str(len(report.results)),
        str(report.rows_in_scope),
        _pct(report.coverage),
        _pct(report.mdape),
        _pct(report.p90_ape),
        _pct(report.band_coverage),
        "",
    )
    return t


def skipped_table(report: ValidationReport) -> Table:
    t = Table(title="Rows not predicted (in scope ones count against coverage)")
    for col in ("id", "metric", "in scope", "reason"):
        t.add_column(col, overflow="fold")
    for s in report.skipped:
        t.add_row(s.id, s.metric, "yes" if s.in_scope else "no", s.reason)
    return t


def scatter_png(report: ValidationReport) -> bytes:
    """Log-log predicted vs measured, one colour per family, with the y = x line and ±30 % lines."""
    fig, ax = subplots(figsize=(7.5, 7))
    fams = sorted({r.family for r in report.results})
    cmap = colormap("tab10")
    lo, hi = math.inf, 0.0
    for i, fam in enumerate(fams):
        pts = [
            (r.measured, r.predicted) for r in report.results if r.family == fam and r.measured > 0 and r.predicted > 0
        ]
        if not pts:
            continue
        xs, ys = zip(*pts, strict=True)
        lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
        ax.scatter(xs, ys, label=f"{fam} ({len(pts)})", color=cmap(i % 10), s=22, alpha=0.85)
    if hi > 0:
        line = [lo / 2, hi * 2]
        ax.plot(line, line, color="black", lw=1)
        ax.plot(line, [v * 1.3 for v in line], color="grey", lw=0.7, ls="--")
        ax.plot(line, [v / 1.3 for v in line], color="grey", lw=0.7, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured (row's own unit)")
    ax.set_ylabel("predicted")
    ax.set_title(f"chipfleet vs published measurements\n{report.mode}; dashed: ±30 %", fontsize=10)
    ax.legend(fontsize=8)
    return to_png(fig)


def write_html(report: ValidationReport, path: Path) -> Path:
    """A self-contained HTML page: summary, scatter plot (embedded PNG), row table, skipped rows."""
    img = base64.b64encode(scatter_png(report)).decode("ascii")
    esc = html.escape
    summary_rows = "".join(
        f"<tr><td>{esc(f.family)}</td><td>{f.n}</td><td>{f.in_scope}</td><td>{_pct(f.coverage)}</td>"
        f"<td>{_pct(f.mdape)}</td><td>{_pct(f.p90_ape)}</td><td>{_pct(f.band_coverage)}</td>"
        f"<td>{'yes' if f.validated else 'no'}</td></tr>"
        for f in report.by_family
    )
    rows = "".join(
        f"<tr><td>{esc(r.id)}</td><td>{esc(r.family)}</td><td>{esc(r.model)}</td><td>{esc(r.instance)}</td>"
        f"<td>{esc(r.metric)}</td><td>{r.measured:.4g}</td><td>{r.predicted:.4g}</td><td>{esc(_range(r))}</td>"
        f"<td>{_pct(r.ape)}</td>"
        f"<td>{esc('; '.join(r.assumptions))}</td></tr>"
        for r in report.results
    )
    skipped = "".join(
        f"<tr><td>{esc(s.id)}</td><td>{esc(s.metric)}</td><td>{'yes' if s.in_scope else 'no'}</td>"
        f"<td>{esc(s.reason)}</td></tr>"
        for s in report.skipped
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chipfleet validation</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:left}}th{{background:#eee}}</style></head><body>
<h1>chipfleet validation</h1>
<p>Data: <code>{esc(report.data)}</code> (sha256 <code>{report.data_sha256[:16]}…</code>). Mode: {esc(report.mode)}.
Overall median APE {_pct(report.mdape)}, 90th percentile {_pct(report.p90_ape)},
coverage {_pct(report.coverage)} ({len(report.results)} of {report.rows_in_scope} rows in scope);
{_pct(report.band_coverage)} of measurements inside their prediction's 10–90 % range (an honest band: ≈ 80 %).</p>
<h2>By family</h2>
<table><tr><th>family</th><th>rows</th><th>in scope</th><th>coverage</th><th>median APE</th><th>p90 APE</th>
<th>in 10–90 % range</th><th>validated</th></tr>{summary_rows}</table>
<h2>Predicted vs measured</h2><img alt="scatter plot" src="data:image/png;base64,{img}">
<h2>Rows</h2><table><tr><th>id</th><th>family</th><th>model</th><th>instance</th><th>metric</th><th>measured</th>
<th>predicted</th><th>10–90 % range (✗: outside)</th><th>APE</th><th>assumptions</th></tr>{rows}</table>
<h2>Not predicted</h2><table><tr><th>id</th><th>metric</th><th>in scope</th><th>reason</th></tr>{skipped}</table>
</body></html>
"""
    return atomic_write_text(path, page)


def calibration_table(cal: Calibration) -> Table:
    """Fitted parameters per family next to their priors. Each parameter cell holds the prior above the fitted
    value and the family cell its row and source counts below the name; every column is as wide as its
    longest value or header word, so the table (about 75 columns) fits an 80-column terminal without folding
    a family name or a number."""
    headers = ("family", "compute η", "M½ rows", "memory η", "collective η", "layer µs", "step ms", "validated")
    rows: list[tuple[tuple[str, str], ...]] = []
    for name in sorted(cal.fits):
        fit = cal.fits[name]
        prior = cal.priors[name]

        def pair(attr: str, scale: float = 1.0, fmt: str = "{:.3g}") -> tuple[str, str]:
            return fmt.format(getattr(prior, attr) * scale), fmt.format(getattr(fit.eff, attr) * scale)  # noqa: B023

        rows.append(
            (
                (name, _counted(fit.rows, fit.sources)),
                pair("compute"),
                pair("compute_half_rows", fmt="{:.0f}"),
                pair("memory"),
                pair("collective"),
                pair("layer_overhead_s", 1e6),
                pair("step_overhead_s", 1e3),
                ("yes" if is_validated(cal, name) else "no", ""),
            )
        )
    t = Table(
        title="Fitted efficiency parameters",
        caption="each parameter: documented prior (dim) above the fitted value; validated: fitted on the "
        "family's own rows and cross-validated",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 0, 0, 1),  # with the space between columns, two spaces apart
    )
    for i, header in enumerate(headers):
        # A fixed width: rich never folds a family name or a number, and a header folds between its words.
        cells = [line for row in rows for line in row[i]]
        width = max(len(text) for text in (*header.split(), *cells))
        t.add_column(header, justify="left" if i == 0 else "right", width=width, no_wrap=i == 0)
    for row in rows:
        (name, counted), *params, (validated, _) = row
        t.add_row(f"{name}\n[dim]{counted}[/dim]", *(f"[dim]{a}[/dim]\n{b}" for a, b in params), validated)
    return t


def _counted(rows: int, sources: int) -> str:
    """'34 rows, 4 sources', '1 row, 1 source'."""
    return f"{rows} row{'s' if rows != 1 else ''}, {sources} source{'s' if sources != 1 else ''}"


# the hardware × engine columns, each with its stand-in where a dataset has none of it (NIM reports mean ITL only)
_SERVING_GROUP_METRICS = (("mean_tpot", "mean_itl"), ("mean_ttft", None), ("output_tput_per_gpu", None))


def serving_tables(report: ServingReport, name: str, scope: str = "aggregated") -> list[Table]:
    """A serving validation's tables: errors per metric, per hardware × engine, and the records skipped; then the
    same for the file's disaggregated records when it has them (``report.disaggregated``).

    A metric no group has is left out of the hardware × engine table (its stand-in shown if that has rows), a group
    without it shows "—", and the skipped table appears only when records were skipped.
    """
    tables = _serving_scope_tables(report, name, scope)
    if report.disaggregated is not None:
        tables += _serving_scope_tables(report.disaggregated, name, "disaggregated")
    return tables


def _serving_scope_tables(report: ServingReport, name: str, scope: str) -> list[Table]:
    table = Table(title=f"{name}: {report.records_predicted:,} of {report.records_in_scope:,} {scope} "
                        f"records predicted ({report.coverage:.0%}); {len(report.bad)} malformed skipped")  # fmt: skip
    for col in ("metric", "rows", "median APE", "p90 APE"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for m in report.by_metric:
        table.add_row(m.metric, f"{m.n:,}", f"{m.mdape:.1%}", f"{m.p90_ape:.1%}")
    tables = [table]
    present = {m.metric for m in report.by_metric}
    shown = [m if m in present else alt for m, alt in _SERVING_GROUP_METRICS if m in present or alt in present]
    shown_metrics = [m for m in shown if m is not None]
    if report.by_hardware_engine:
        groups = Table(title=f"{scope}: median APE by hardware × engine")
        for col in ("hardware × engine", "records", *shown_metrics):
            groups.add_column(col, justify="left" if col.startswith("hardware") else "right")
        for g in report.by_hardware_engine:
            groups.add_row(g.group, f"{g.records:,}", *(_serving_pct(g.mdape(m)) for m in shown_metrics))
        tables.append(groups)
    # the disaggregated records, when predicted apart, are not "skipped" from the file: they have their own tables
    apart = report.disaggregated is not None
    reasons = Counter(s.skipped for s in report.skipped if s.metric is None and not (apart and _is_disagg_skip(s)))
    if reasons:
        skipped = Table(title=f"{scope} records skipped")
        skipped.add_column("records", justify="right")
        skipped.add_column("reason")
        for reason, n in reasons.most_common():
            skipped.add_row(f"{n:,}", reason)
        tables.append(skipped)
    return tables


def _is_disagg_skip(s: ServingSkipped) -> bool:
    from chipfleet.validate.serving.predict import DISAGG_SKIP

    return s.skipped == DISAGG_SKIP


def _serving_pct(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:.1%}"
