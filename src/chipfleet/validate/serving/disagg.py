"""Disaggregated serving records (InferenceX's ``prefill_*``/``decode_*`` runs) mapped onto chipfleet and predicted.

A record's two pools become :class:`chipfleet.perf.disagg.Pool` s on the instance its hardware ran as (as
:mod:`.predict` picks it): each worker has the pool's accelerators over its workers (``num_prefill_gpu /
prefill_num_workers``), which is its tensor-parallel width. SGLang's records give ``tp`` 1 for a worker of 4-16
GPUs run with attention data-parallelism: the worker's GPU count is taken, and an MoE model's experts are sharded
over all of them (expert parallelism as wide as the worker, as SGLang's DeepEP recipes run it), noted. The KV cache
moves over :func:`chipfleet.perf.kv_transfer.kv_link`: NVLink inside a GB200 NVL72 rack
(:func:`~chipfleet.perf.kv_transfer.shares_scale_up_domain`), the scale-out fabric (RDMA) between MI355X nodes.
The engine (``dynamo-trt`` → TensorRT-LLM, ``dynamo-sglang``/``sglang-disagg`` → SGLang), its batching defaults
and first-token overhead, the precision and speculative decoding (``mtp``: the record's acceptance length or the
model's published one, decode pool only) are read as for aggregated records. An attention data-parallel worker
runs one scheduler per rank: the engine's per-sequence overhead is spent over ``1/chips`` of the sequences and its
sequence cap is per rank; a decode worker holds at least its share of the clients.

Where the run streams tokens in chunks of ``k`` (its mean ITL over its mean TPOT), the first token waits
:data:`STREAM_SHARE` of the ``k − 1`` decode iterations after it: the one parameter chosen on these runs, with
leave-one-hardware×engine-group-out figures (:func:`cross_validate_disagg`).

Each result key becomes one predicted value as :func:`.predict.metric_value` gives it, except InferenceX's
``input_tput_per_gpu`` (per prefill GPU) and ``output_tput_per_gpu`` (per decode GPU): :func:`disagg_metric_value`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from chipfleet.catalog import Catalog, Precision
from chipfleet.exceptions import ChipfleetError, UnknownNameError
from chipfleet.perf.batching import ReplicaLimits
from chipfleet.perf.disagg import Disaggregated, DisaggResult, Pool, disagg_closed_loop, disagg_open_loop
from chipfleet.perf.engines import EngineProfile, SpecDecode
from chipfleet.perf.hardware import Hardware
from chipfleet.perf.iteration import IterationModel
from chipfleet.perf.kv_transfer import KvLink, kv_link, kv_transfer_bytes, shares_scale_up_domain
from chipfleet.validate.serving.closed_loop import ClosedLoad
from chipfleet.validate.serving.open_loop import OpenLoad
from chipfleet.validate.serving.predict import (
    DEFAULT_BATCH_TOKENS,
    DEFAULT_MAX_SEQS,
    RecordSkip,
    _skip,
    hold_first_token,
    metric_value,
    record_engine,
    record_hardware,
    record_load,
    record_spec,
    stream_interval,
)
from chipfleet.validate.serving.records import PoolLayout, RecordSet, ServingRecord
from chipfleet.validate.serving.runner import ServingReport, ServingRow, ServingSkipped, result_rows
from chipfleet.workloads import ModelArch, get_model

# The share of a stream interval's k − 1 decode iterations a disaggregated run's first token waits. A decode worker
# starts each request's stream at the token the prefill worker made, so its first chunk of k tokens leaves after
# k − 1 decode iterations (share 1), where an aggregated engine's chunk boundary falls at a uniform phase (0.5,
# perf/data/engines.yaml's first_token_stream_share). Chosen over [0, 1] in steps of 0.05 by the median APE of mean
# TTFT on the 374 InferenceX disaggregated runs that stream in chunks (GB200, Dynamo with TensorRT-LLM and SGLang;
# SemiAnalysis InferenceX runs Dec 2025 - Jan 2026). Refitted leaving each hardware × engine group out
# (cross_validate_disagg): 0.85 without the SGLang runs, 1.0 without the TensorRT-LLM ones; held-out figures in
# benchmarks/serving_bench.py's disaggregation section. MI355X's runs stream token by token (no hold-back).
STREAM_SHARE = 1.0
STREAM_SHARE_GRID = tuple(i / 20 for i in range(21))


@dataclass(frozen=True)
class DisaggCase:
    """A disaggregated record mapped onto chipfleet: both pools, the link, and the closed (or open) loop."""

    record: ServingRecord
    model: ModelArch
    instance: str
    tp: int  # a decode worker's chips (the row's tp)
    prefill_tp: int
    chips: int  # both pools' accelerators: tput_per_gpu divides by them
    prefill_chips: int  # input_tput_per_gpu divides by these (InferenceX: per prefill GPU)
    decode_chips: int  # output_tput_per_gpu divides by these (per decode GPU)
    precision: Precision
    deployment: Disaggregated
    link: KvLink
    load: ClosedLoad | OpenLoad  # the whole deployment's
    assumptions: tuple[str, ...]
    first_token_s: float = 0.0
    first_token_iterations: float = 0.0


def _worker(pool: PoolLayout, name: str, model: ModelArch, notes: list[str]) -> tuple[int, int, bool] | str:
    """(chips, ep, attention data-parallel) of one worker of ``pool``, or why it cannot be read."""
    per = pool.chips_per_worker
    if per is None:
        if pool.tp is None:
            return f"the {name} pool gives neither its tp nor num_{name}_gpu"
        per = pool.tp
    if per < 1 or (pool.chips is not None and pool.chips % pool.workers):
        return f"num_{name}_gpu {pool.chips} does not split over {pool.workers} {name} workers"
    if pool.tp is not None and pool.tp > per:
        return f"{name}_tp {pool.tp} exceeds the {per} GPUs of a {name} worker"
    if pool.tp is not None and pool.tp < per:
        notes.append(
            f"{name}: {name}_tp {pool.tp} on a worker of {per} GPUs (num_{name}_gpu/{name}_num_workers): timed as one "
            f"{per}-GPU worker" + (" with attention data-parallelism" if pool.dp_attention else "")
        )
    ep = 1
    if model.is_moe:
        ep = per if pool.dp_attention else min(pool.ep, per)
        if ep != pool.ep:
            notes.append(f"{name}: experts over all {per} GPUs of a worker (ep {ep}; the record gives {pool.ep})")
    return per, ep, pool.dp_attention


def _pool(
    model: ModelArch,
    hw: Hardware,
    layout: tuple[int, int, bool],
    workers: int,
    precision: Precision,
    engine: EngineProfile,
    spec: SpecDecode | None,
    min_seqs: int = 1,
) -> Pool:
    """One pool of ``workers`` workers of ``layout`` (chips, ep, attention data-parallel); a worker holds at least
    ``min_seqs`` sequences (its KV room permitting)."""
    chips, ep, dpa = layout
    seqs, budget, _ = engine.batching(None, None, None, (DEFAULT_MAX_SEQS, DEFAULT_BATCH_TOKENS))
    if dpa:
        # Each attention data-parallel rank runs its own scheduler over its 1/chips of the sequences, so the
        # engine's per-sequence time is spent chips-wide in parallel, and its sequence cap is per rank.
        engine = replace(engine, per_seq_overhead_s=engine.per_seq_overhead_s / chips)
        seqs *= chips
    it = IterationModel(model, hw, chips, precision, engine=engine, ep=ep, dp_attention=dpa, spec=spec)
    kv = it.kv_room_tokens(budget)
    return Pool(it, ReplicaLimits(budget, max(seqs, min_seqs), kv), workers)


def map_disagg_record(
    rec: ServingRecord,
    catalog: Catalog,
    first_token: Mapping[str, float] | None = None,
    stream_share: float = STREAM_SHARE,
) -> DisaggCase | RecordSkip:
    """The record's model, pools, link and load, or why it cannot be expressed (module docstring).
    ``stream_share``: the share of a stream interval's ``k − 1`` decode iterations the first token waits
    (:data:`STREAM_SHARE`; cross-validation refits it)."""
    if not rec.disagg:
        return _skip(rec, "not a disaggregated run: predicted by validate.serving.predict")
    if rec.prefill is None or rec.decode is None:
        return _skip(rec, "a disaggregated record needs its prefill_* and decode_* keys")
    if not rec.model:
        return _skip(rec, "the record names no model")
    try:
        model = get_model(rec.model)
    except UnknownNameError:
        return _skip(rec, f"model {rec.model!r} has no zoo record (yet)")
    notes = list(rec.assumptions)
    layouts = []
    for name, pool in (("prefill", rec.prefill), ("decode", rec.decode)):
        got = _worker(pool, name, model, notes)
        if isinstance(got, str):
            return _skip(rec, got)
        layouts.append(got)
    p_layout, d_layout = layouts
    spec = record_spec(rec, model, notes)
    if isinstance(spec, RecordSkip):
        return spec
    placed = record_hardware(rec, catalog, max(p_layout[0], d_layout[0]), notes)
    if isinstance(placed, RecordSkip):
        return placed
    instance, hw, precision = placed
    engine = record_engine(rec, notes, first_token=first_token)
    p_chips = rec.prefill.chips or p_layout[0] * rec.prefill.workers
    d_chips = rec.decode.chips or d_layout[0] * rec.decode.workers
    for chips in (p_layout[0], d_layout[0]):
        if chips > hw.chips_per_instance:
            notes.append(
                f"a {chips}-GPU worker spans {instance} instances: its collectives are timed on the chip-to-chip links"
            )
            break
    try:
        prefill = _pool(model, hw, p_layout, rec.prefill.workers, precision, engine, None)
        # A run is launched to hold its clients, as InferenceX sets --max-num-seqs to the concurrency when it
        # runs aggregated: a decode worker's sequence cap is at least its share of the clients.
        held = math.ceil((rec.concurrency or 1) / rec.decode.workers)
        decode = _pool(model, hw, d_layout, rec.decode.workers, precision, engine, spec, held)
        scale_up = shares_scale_up_domain(catalog, instance, instance, p_chips + d_chips)
        link = kv_link(
            catalog, instance, instance, prefill_chips=p_layout[0], decode_chips=d_layout[0], scale_up=scale_up
        )
    except ChipfleetError as exc:
        return _skip(rec, f"{model.name} on {instance}: {exc}")
    nbytes = kv_transfer_bytes(model, round(rec.input_tokens), prefill.iteration.cfg.kv_dtype)
    notes.append(f"KV cache {nbytes / 1e6:,.1f} MB per request over {link.description}")
    load = record_load(rec, 1)  # the whole deployment: its pools share the clients
    return DisaggCase(
        record=rec,
        model=model,
        instance=instance,
        tp=d_layout[0],
        prefill_tp=p_layout[0],
        chips=p_chips + d_chips,
        prefill_chips=p_chips,
        decode_chips=d_chips,
        precision=precision,
        deployment=Disaggregated(prefill, decode, link.transfer_s(nbytes), nbytes, link.bytes_per_s),
        link=link,
        load=load,
        assumptions=tuple(notes),
        first_token_s=engine.first_token_overhead_s,
        first_token_iterations=stream_share * max(stream_interval(rec) - 1.0, 0.0),
    )


def predict_disagg(case: DisaggCase) -> DisaggResult:
    """The deployment's closed (or open) loop, with the first token held back ``case.first_token_iterations``
    decode iterations where the engine streams in chunks, as :func:`.predict.predict_case` does."""
    dep, load = case.deployment, case.load
    if isinstance(load, OpenLoad):
        res = disagg_open_loop(
            dep, load.rate_per_s, load.input_tokens, load.output_tokens, first_token_s=case.first_token_s
        )
    else:
        res = disagg_closed_loop(
            dep,
            load.clients,
            load.input_tokens,
            load.output_tokens,
            think_time_s=load.think_time_s,
            requests_per_client=load.requests_per_client,
            first_token_s=case.first_token_s,
        )
    return hold_first_token(res, case.first_token_iterations, load.output_tokens)


def validate_disagg(
    data: RecordSet,
    catalog: Catalog,
    first_token: Mapping[str, float] | None = None,
    progress: Callable[[str], None] | None = None,
    stream_share: float = STREAM_SHARE,
) -> ServingReport:
    """Predict every disaggregated record of ``data``; the report's scope (``aggregated``, the coverage's
    denominator) is the disaggregated records. ``first_token`` replaces named engines' first-token overheads and
    ``stream_share`` the first token's share of a stream interval (:func:`map_disagg_record`)."""
    rows: list[ServingRow] = []
    skipped: list[ServingSkipped] = []
    recs = [r for r in data.records if r.disagg]
    for i, rec in enumerate(recs):
        case = map_disagg_record(rec, catalog, first_token, stream_share)
        if isinstance(case, RecordSkip):
            skipped.append(ServingSkipped(rec.id, None, case.reason, rec.hw, rec.framework, rec.model))
            continue
        try:
            res = predict_disagg(case)
        except ChipfleetError as exc:
            skipped.append(ServingSkipped(rec.id, None, str(exc), rec.hw, rec.framework, rec.model))
            continue
        got = _rows(case, res)
        rows += got[0]
        skipped += got[1]
        if progress is not None and (i + 1) % 100 == 0:
            progress(f"disaggregated records: {i + 1:,}/{len(recs):,}")
    return ServingReport(
        results=tuple(rows),
        skipped=tuple(skipped),
        bad=data.bad,
        records=len(recs),
        aggregated=len(recs),
        data=data.path,
        data_sha256=data.sha256,
    )


def disagg_metric_value(metric: str, case: DisaggCase, res: DisaggResult) -> float | None:
    """The prediction of one result key, as :func:`.predict.metric_value` gives it, except that InferenceX divides
    a disaggregated run's input tokens/s by its prefill GPUs and its output tokens/s by its decode GPUs (their
    sum over both pools is ``tput_per_gpu`` times all GPUs: checked on the shipped runs)."""
    if metric == "input_tput_per_gpu":
        return res.input_tokens_per_s / case.prefill_chips
    if metric == "output_tput_per_gpu":
        return res.output_tokens_per_s / case.decode_chips
    return metric_value(metric, case, res)


def _rows(case: DisaggCase, res: DisaggResult) -> tuple[list[ServingRow], list[ServingSkipped]]:
    return result_rows(case.record, case.model, case.instance, case.tp, case.assumptions,
                       lambda metric: disagg_metric_value(metric, case, res))  # fmt: skip


def _mean_ttft_ape(cases: Sequence[DisaggCase], share: float) -> float:
    """Median APE of mean TTFT over ``cases`` with the first token held back ``share`` of a stream interval."""
    apes = []
    for case in cases:
        measured = dict(case.record.results).get("mean_ttft")
        if not measured:
            continue
        held = replace(case, first_token_iterations=share * max(stream_interval(case.record) - 1.0, 0.0))
        try:
            apes.append(abs(predict_disagg(held).ttft_mean_s - measured) / measured)
        except ChipfleetError:
            continue
    return float(np.median(apes)) if apes else math.nan


def fit_stream_share(cases: Sequence[DisaggCase], grid: Sequence[float] = STREAM_SHARE_GRID) -> float | None:
    """The share in ``grid`` with the least median APE of mean TTFT over the cases that stream in chunks, or None
    when none does (nothing to fit)."""
    chunked = [c for c in cases if stream_interval(c.record) > 1.0]
    if not chunked:
        return None
    return min(grid, key=lambda share: (_mean_ttft_ape(chunked, share), abs(share - STREAM_SHARE)))


@dataclass(frozen=True)
class DisaggCrossValidation:
    """Each hardware × engine group predicted with :data:`STREAM_SHARE` refitted on the other groups."""

    report: ServingReport
    shares: tuple[tuple[str, float], ...]  # (held-out group, the share fitted without it)


def cross_validate_disagg(data: RecordSet, catalog: Catalog) -> DisaggCrossValidation:
    """Leave-one-hardware×engine-group-out: each group's records predicted with the stream share
    (:func:`fit_stream_share`) fitted on the other groups' records (the shipped share where they have none)."""
    recs = [r for r in data.records if r.disagg]
    cases = [c for c in (map_disagg_record(r, catalog) for r in recs) if isinstance(c, DisaggCase)]
    results: list[ServingRow] = []
    skipped: list[ServingSkipped] = []
    shares: list[tuple[str, float]] = []
    for group in sorted({r.group for r in recs}):
        fitted = fit_stream_share([c for c in cases if c.record.group != group])
        share = STREAM_SHARE if fitted is None else fitted
        shares.append((group, share))
        held = replace(data, records=tuple(r for r in recs if r.group == group))
        got = validate_disagg(held, catalog, stream_share=share)
        results += got.results
        skipped += got.skipped
    # each group's rows and skips, in a report of the whole data
    whole = ServingReport(
        results=tuple(results),
        skipped=tuple(skipped),
        bad=data.bad,
        records=len(recs),
        aggregated=len(recs),
        data=data.path,
        data_sha256=data.sha256,
    )
    return DisaggCrossValidation(whole, tuple(shares))
