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
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace

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
from chipfleet.validate.serving.runner import result_rows, summarize

INFERENCEX_SETS = ("inferencex", "calibration")
# The three figures and the result keys that stand for each, in order of preference: a record counts once per
# figure, with the first of these it publishes (the Neuron tables give medians only, NIM means only, TPU both).
FIGURES = (
    ("TTFT", ("median_ttft", "mean_ttft")),
    ("TPOT/ITL", ("median_tpot", "mean_tpot", "median_itl", "mean_itl")),
    ("out tok/s/chip", ("output_tput_per_gpu",)),
)
_LABELS = {
    "median_ttft": "md",
    "mean_ttft": "mn",
    "median_tpot": "md",
    "mean_tpot": "mn",
    "median_itl": "md ITL",
    "mean_itl": "mn ITL",
}
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
        rows += result_rows(rec, case.model, case.instance, case.tp, case.assumptions,
                            lambda metric, case=case, res=res: metric_value(metric, case, res))[0]  # fmt: skip
    return rows


def _cell(rows: list[ServingRow], keys: tuple[str, ...]) -> str:
    """``MdAPE% n (statistic count, ...)`` over one row per record: the first of ``keys`` it has."""
    by_id: dict[str, dict[str, ServingRow]] = {}
    for r in rows:
        if r.metric in keys and math.isfinite(r.ape):
            by_id.setdefault(r.id, {})[r.metric] = r
    chosen = [next(got[k] for k in keys if k in got) for got in by_id.values()]
    if not chosen:
        return "—"
    stats = summarize(replace(r, metric="figure") for r in chosen)[0]
    used = Counter(_LABELS.get(r.metric, "") for r in chosen)
    detail = ", ".join(f"{k} {v}" for k, v in sorted(used.items()) if k)
    return f"{stats.mdape * 100:5.1f}% {stats.n:3d}" + (f" ({detail})" if detail else "")


def table(title: str, rows: list[ServingRow], aggregated: int, key: Callable[[ServingRow], str]) -> None:
    """Coverage and median APE per group of ``key``."""
    print(f"\n{title}")
    print(f"  {'group':28s} {'recs':>4s}  " + "  ".join(f"{f:<30s}" for f, _ in FIGURES))
    groups = sorted({key(r) for r in rows})
    for g in ["all", *groups]:
        sel = rows if g == "all" else [r for r in rows if key(r) == g]
        n = len({r.id for r in sel})
        cells = "  ".join(f"{_cell(sel, keys):<30s}" for _, keys in FIGURES)
        print(f"  {g:28s} {n:4d}  {cells}")
    print(f"  coverage {len({r.id for r in rows})}/{aggregated}")


def report(label: str, rows: Iterable[ServingRow], aggregated: int, full: bool = True) -> None:
    rows = list(rows)
    table(f"[{label}] by hardware × engine", rows, aggregated, lambda r: f"{r.hw}×{r.engine}")
    if full:
        table(f"[{label}] by hardware", rows, aggregated, lambda r: r.hw)
        table(f"[{label}] by engine", rows, aggregated, lambda r: r.engine)
        table(f"[{label}] by model family", rows, aggregated, lambda r: r.model_family)


def main() -> None:
    catalog = load_catalog()
    records = custom_records()
    shipped = validate_serving(records, catalog)
    print(
        f"{shipped.records} records ({shipped.aggregated} aggregated); cells: median APE, records (statistic used: "
        "md median, mn mean, of TPOT unless ITL)"
    )
    skipped = [s for s in shipped.skipped if s.metric is None]
    for s in skipped:
        print(f"  skipped {s.id}: {s.skipped}")
    before = continuous_rows(records, catalog)
    report("before: continuous batching for every engine", before, shipped.aggregated, full=False)
    # nothing shipped is fitted on these records, so the shipped figures are also the cross-validated ones
    report("shipped = cross-validated (no parameter fitted on these records)", shipped.results, shipped.aggregated)
    held = first_token_held_out(records, catalog, FIT_ENGINES)
    print("\nfirst-token overhead per engine fitted on all these records (TTFT at concurrency <= 8):")
    for engine, runs, c in held.fits:
        print(f"  {engine:22s} {runs:3d} runs  {c * 1e3:7.1f} ms")
    table(
        "[candidate, not shipped: first-token overhead, leave one hardware × engine group out] by hardware × engine",
        list(held.cross_validated.results),
        shipped.aggregated,
        lambda r: f"{r.hw}×{r.engine}",
    )


if __name__ == "__main__":
    main()
