"""Serving accuracy on the shipped custom-silicon and NIM records (not InferenceX), overall and by group.

The records are src/chipfleet/validate/data/serving/*.json (their README): AWS Inferentia2 / Trainium1
(Transformers NeuronX tables), Trainium2 (NxD Inference and vLLM Neuron tutorials), TPU v6e / v7x (tpu-recipes
vLLM) and H100 (NVIDIA NIM). Each record is predicted by ``validate.serving`` as the closed loop it ran; the
figures are the median APE of TTFT, TPOT (or ITL) and output tokens/s per chip, with the statistic each record
publishes named (``median_*`` or ``mean_*``): overall and by hardware, engine and model family, and the coverage
(records with a prediction over aggregated records).

Printed twice: ``before``, every record on the continuous-batching closed loop (how Transformers NeuronX records
were predicted before its static batching was modelled), and ``shipped``, the package as it is (Transformers
NeuronX on validate.serving.static_batch, parameter-free). Then the one parameter tried on these records, a
per-engine first-token overhead (validate.serving.calibrate.first_token_held_out) fitted on the TTFT of the runs at
concurrency <= 8, cross-validated leaving one hardware × engine group out; it is shipped only where it improves
the held-out figure (it does not: see docs/benchmarks.md).

Run: .venv/bin/python benchmarks/custom_silicon_serving.py
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable

from chipfleet.catalog import Catalog, load_catalog
from chipfleet.validate.serving import (
    RecordSet,
    ServingRow,
    map_record,
    metric_value,
    parse_records,
    shipped_datasets,
    validate_serving,
)
from chipfleet.validate.serving.calibrate import first_token_held_out
from chipfleet.validate.serving.closed_loop import ClosedLoad, closed_loop
from chipfleet.validate.serving.predict import RecordSkip
from chipfleet.validate.serving.runner import summarize

INFERENCEX_SETS = ("inferencex", "calibration")
# The three figures and the result keys that stand for each (a record has one of them).
FIGURES = (
    ("TTFT", ("median_ttft", "mean_ttft")),
    ("TPOT/ITL", ("median_tpot", "mean_tpot", "mean_itl")),
    ("out tok/s/chip", ("output_tput_per_gpu",)),
)
FIT_ENGINES = ("transformers-neuronx", "nxdi")  # vLLM keeps its first-token overhead fitted on InferenceX


def custom_records() -> RecordSet:
    """Every shipped serving record except InferenceX's."""
    docs: list[object] = []
    for name, path in sorted(shipped_datasets().items()):
        if name not in INFERENCEX_SETS:
            docs += json.loads(path.read_text(encoding="utf-8"))
    return parse_records(docs, "validate/data/serving (custom silicon and NIM)")


def continuous_rows(records: RecordSet, catalog: Catalog) -> list[ServingRow]:
    """Every record predicted on the continuous-batching closed loop (the model before static batching)."""
    rows: list[ServingRow] = []
    for rec in records.records:
        case = map_record(rec, catalog)
        if isinstance(case, RecordSkip) or not isinstance(case.load, ClosedLoad):
            continue
        res = closed_loop(case.iteration, case.limits, case.load, case.first_token_s)
        for metric, measured in rec.results:
            pred = metric_value(metric, case, res)
            if pred is None or not math.isfinite(pred):
                continue
            rows.append(
                ServingRow(
                    id=rec.id,
                    metric=metric,
                    measured=measured,
                    predicted=pred,
                    hw=rec.hw,
                    engine=rec.framework,
                    model=case.model.name,
                    model_family=str(case.model.family),
                    instance=case.instance,
                    tp=case.tp,
                    concurrency=rec.concurrency or 0,
                    assumptions=case.assumptions,
                )
            )
    return rows


def _cell(rows: list[ServingRow], keys: tuple[str, ...]) -> str:
    """``MdAPE% (key, n)`` of the first key of ``keys`` the rows have (several keys: each named)."""
    parts = []
    for key in keys:
        stats = summarize(r for r in rows if r.metric == key)
        if stats:
            stat = key.split("_")[0] if key.startswith(("mean_", "median_")) else ""
            parts.append(f"{stats[0].mdape * 100:5.1f}% {stat}·{stats[0].n}")
    return " / ".join(parts) if parts else "—"


def table(title: str, rows: list[ServingRow], aggregated: int, key: Callable[[ServingRow], str]) -> None:
    """Coverage and median APE per group of ``key``."""
    print(f"\n{title}")
    print(f"  {'group':34s} {'recs':>4s}  " + "  ".join(f"{f:<24s}" for f, _ in FIGURES))
    groups = sorted({key(r) for r in rows})
    for g in ["all", *groups]:
        sel = rows if g == "all" else [r for r in rows if key(r) == g]
        n = len({r.id for r in sel})
        cells = "  ".join(f"{_cell(sel, keys):<24s}" for _, keys in FIGURES)
        print(f"  {g:34s} {n:4d}  {cells}")
    print(f"  coverage {len({r.id for r in rows})}/{aggregated}")


def report(label: str, rows: Iterable[ServingRow], aggregated: int) -> None:
    rows = list(rows)
    table(f"[{label}] by hardware × engine", rows, aggregated, lambda r: f"{r.hw}×{r.engine}")
    table(f"[{label}] by engine", rows, aggregated, lambda r: r.engine)
    table(f"[{label}] by model family", rows, aggregated, lambda r: r.model_family)


def main() -> None:
    catalog = load_catalog()
    records = custom_records()
    shipped = validate_serving(records, catalog)
    print(f"{shipped.records} records ({shipped.aggregated} aggregated), cells: MdAPE% statistic·rows")
    skipped = [s for s in shipped.skipped if s.metric is None]
    for s in skipped:
        print(f"  skipped {s.id}: {s.skipped}")
    report("before: continuous batching for every engine", continuous_rows(records, catalog), shipped.aggregated)
    report("shipped", shipped.results, shipped.aggregated)
    held = first_token_held_out(records, catalog, FIT_ENGINES)
    print("\nfirst-token overhead per engine fitted on all these records (TTFT at concurrency <= 8):")
    for engine, runs, c in held.fits:
        print(f"  {engine:22s} {runs:3d} runs  {c * 1e3:7.1f} ms")
    table(
        "[cross-validated first-token fit, leave one hardware × engine group out] by hardware × engine",
        list(held.cross_validated.results),
        shipped.aggregated,
        lambda r: f"{r.hw}×{r.engine}",
    )


if __name__ == "__main__":
    main()
