"""`chipfleet validate`, `calibrate` and `claims`: the model against published measurements and vendors' claims."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from chipfleet.catalog import load_catalog
from chipfleet.cli import output
from chipfleet.cli.options import JsonOpt, SkipBadRowsOpt, State
from chipfleet.serialize import check_output_path

# the names validate.serving.shipped_datasets gives (tests/cli/test_validate_data.py checks this list against it)
SHIPPED_NAMES = (
    "calibration", "inferencex", "neuron_nxdi_trn2_llmperf", "neuron_transformers_neuronx_inf2_trn1",
    "neuron_vllm_trn2_eagle3_tutorials", "nvidia_nim_h100_llama33_70b", "tpu_recipes_vllm_tpu",
)  # fmt: skip
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Measurements CSV in calibration.csv's schema (default: the shipped copy), serving-benchmark records "
        "(.json/.jsonl[.gz]: InferenceX agg_bmk.json, vLLM --save-result), or a shipped dataset by name: "
        + ", ".join(SHIPPED_NAMES)
        + ".",
    ),
]


def _resolved(data: Path | None) -> Path | None:
    """The file --data names: a path as given, or a shipped dataset's file."""
    if data is None:
        return None
    from chipfleet.validate.serving import resolve_dataset

    return resolve_dataset(data)


def _measurements(data: Path | None) -> Any:
    from chipfleet.validate.dataset import load_measurements, shipped_measurements

    return load_measurements(data) if data is not None else shipped_measurements()


def validate_cmd(
    data: DataOpt = None,
    as_json: JsonOpt = False,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write an HTML report with a scatter plot.")] = None,
    cross_validate: Annotated[
        bool,
        typer.Option(
            "--cross-validate", help="Refit the priors leaving each source out and predict it (out-of-sample)."
        ),
    ] = False,
    local: Annotated[
        bool, typer.Option("--local", help="Time a small transformer on this machine and compare (needs torch).")
    ] = False,
    quick: Annotated[bool, typer.Option(help="With --local: fewer shapes and steps.")] = False,
    skip_bad_rows: SkipBadRowsOpt = False,
) -> None:
    """Predict published measurements and report the error per family (median and p90 APE, coverage); serving
    records (.json) are predicted as the closed-loop runs they were, one row per result key."""
    if html_out is not None:
        check_output_path(html_out, "--html report")
    data = _resolved(data)
    if local:
        _validate_local(as_json, quick)
        return
    if data is not None and _serving_file(data):
        _validate_serving(data, skip_bad_rows, as_json)
        return
    from chipfleet.report import validation as vr
    from chipfleet.validate.runner import validate

    ms = _measurements(data)
    catalog = load_catalog(State.overlays, calibrated=False) if cross_validate else State.catalog()
    report = validate(ms, catalog, cross_validate=cross_validate, progress=None if as_json else output.progress_line)
    if html_out is not None:
        vr.write_html(report, html_out)
    output.record_result(report)
    if as_json:
        output.emit_json(report)
        return
    output.show(vr.rows_table(report))
    output.show(vr.skipped_table(report))
    output.show(vr.summary_table(report))
    if html_out is not None:
        output.show(f"report: {html_out}")


def calibrate_cmd(
    data: DataOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the fitted families as a catalog overlay.")] = None,
    local: Annotated[
        bool, typer.Option("--local", help="Measure this machine with PyTorch and write a local chip record.")
    ] = False,
    quick: Annotated[bool, typer.Option(help="With --local: fewer shapes.")] = False,
    as_json: JsonOpt = False,
    skip_bad_rows: SkipBadRowsOpt = False,
) -> None:
    """Fit per-family efficiency parameters on measurements (log-error least squares), with
    leave-one-source-out cross-validation and error bands; --out writes them as a catalog overlay."""
    if out is not None:
        check_output_path(out, "--out overlay")
    data = _resolved(data)
    if local:
        _calibrate_local(out, quick, as_json)
        return
    if data is not None and _serving_file(data):
        _calibrate_serving(data, skip_bad_rows, as_json)
        return
    from chipfleet.report import validation as vr
    from chipfleet.validate.calibrate import calibrate, overlay, write_overlay

    ms = _measurements(data)
    priors = load_catalog(State.overlays, calibrated=False)
    cal = calibrate(ms, priors, cross_validate=True, progress=None if as_json else output.progress_line)
    label = data.name if data is not None else "calibration.csv"
    if out is not None:
        write_overlay(cal, priors, out, label)
    output.record_result(overlay(cal, priors, label))
    if as_json:
        output.emit_json(overlay(cal, priors, label))
        return
    output.show(vr.calibration_table(cal))
    if out is not None:
        output.show(f"overlay: {out} (use it with --catalog {out})")


def _serving_file(data: Path) -> bool:
    from chipfleet.validate.serving import looks_like_serving_records

    return bool(looks_like_serving_records(data))


def _validate_serving(data: Path, skip_bad_rows: bool, as_json: bool) -> None:
    """Serving-benchmark records predicted under load: a summary per metric, then the skipped records."""
    from dataclasses import replace

    from chipfleet.report.validation import serving_tables
    from chipfleet.validate.serving import load_records, validate_serving
    from chipfleet.validate.serving.disagg import validate_disagg

    records = load_records(data, skip_bad_rows=skip_bad_rows)
    progress = None if as_json else output.progress_line
    report = validate_serving(records, State.catalog(), progress=progress)
    if any(r.disagg for r in records.records):  # prefill and decode pools: the disaggregated model
        report = replace(report, disaggregated=validate_disagg(records, State.catalog(), progress=progress))
    output.record_result(report)
    if as_json:
        output.emit_json(report)
        return
    for table in serving_tables(report, data.name):
        output.show(table)


def _calibrate_serving(data: Path, skip_bad_rows: bool, as_json: bool) -> None:
    """Engine overheads fitted on serving records, and the errors without them and cross-validated."""
    from rich.table import Table

    from chipfleet.validate.serving import calibrate_serving, load_records

    cal = calibrate_serving(load_records(data, skip_bad_rows=skip_bad_rows), State.catalog())
    output.record_result(cal)
    if as_json:
        output.emit_json(cal)
        return
    fits = Table(title=f"{data.name}: engine overheads fitted on mean TPOT (perf/data/engines.yaml holds the shipped)")
    for col in ("engine", "runs", "iteration_overhead_s", "per_seq_overhead_s"):
        fits.add_column(col, justify="left" if col == "engine" else "right")
    for f in cal.fits:
        fits.add_row(f.engine, f"{f.runs:,}", f"{f.iteration_overhead_s:.6f}", f"{f.per_seq_overhead_s:.3e}")
    output.show(fits)
    groups = Table(title="median APE of mean TPOT / mean TTFT: no engine overheads → cross-validated fit")
    for col in ("hardware × engine", "records", "mean_tpot", "mean_ttft"):
        groups.add_column(col, justify="left" if col.startswith("hardware") else "right")
    held = {g.group: g for g in cal.cross_validated.by_hardware_engine}
    for g in cal.without.by_hardware_engine:
        cv = held.get(g.group, g)
        cells = (f"{g.mdape(m):.1%} → {cv.mdape(m):.1%}" for m in ("mean_tpot", "mean_ttft"))
        groups.add_row(g.group, f"{g.records:,}", *cells)
    output.show(groups)


def _validate_local(as_json: bool, quick: bool) -> None:
    """Measure this machine, then time a small transformer on it against the model's prediction."""
    from chipfleet.report.local import validation_breakdown_table, validation_table
    from chipfleet.validate.local import measure_local, validate_local

    meas = measure_local(quick=quick)
    val = validate_local(meas, quick=quick)
    output.record_result(val)
    if as_json:
        output.emit_json(val)
        return
    output.show(validation_table(val))
    output.show(validation_breakdown_table(val))


def _calibrate_local(out: Path | None, quick: bool, as_json: bool) -> None:
    """Measure GEMM FLOP/s, memory bandwidth and attention with PyTorch; write a local chip record."""
    from chipfleet.report.local import measurement_tables
    from chipfleet.validate.local import local_overlay, measure_local, overlay_document, write_local_overlay

    meas = measure_local(quick=quick)
    if out is not None:
        write_local_overlay(meas, out)
    output.record_result(overlay_document(local_overlay(meas)))
    if as_json:
        output.emit_json(overlay_document(local_overlay(meas)))
        return
    for table in measurement_tables(meas):
        output.show(table)
    if out is not None:
        output.show(f"overlay: {out} (use it with --catalog {out}; instance `local`, chip `{meas.chip_name}`)")


def claims_cmd(
    as_json: JsonOpt = False,
    evidence: Annotated[bool, typer.Option(help="Also print the evidence tables behind each verdict.")] = False,
) -> None:
    """Check the vendors' headline claims (Inferentia2, Trainium2, Project Ceiba) with the catalog and model."""
    from chipfleet.report.claims import claim_json, claims_table, evidence_tables
    from chipfleet.validate.claims import check_claims

    checks = check_claims(State.catalog())
    output.record_result([claim_json(c) for c in checks])
    if as_json:
        output.emit_json([claim_json(c) for c in checks])
        return
    output.show(claims_table(checks))
    if evidence:
        for c in checks:
            for table in evidence_tables(c):
                output.show(table)
