"""A serving-benchmark record onto chipfleet's records (model, instance, precision, replica) and its prediction.

A closed-loop record (``conc`` clients) is predicted with :func:`chipfleet.validate.serving.closed_loop`, an
open-loop one (``request_rate``, Poisson arrivals) with :func:`chipfleet.validate.serving.open_loop.open_loop`,
per replica: ``dp`` independent replicas share the clients (or the rate) evenly. Each result key the record
has becomes one predicted value in the record's own unit (seconds, or milliseconds for vLLM's ``*_ms`` keys;
tokens/s per accelerator for ``*_per_gpu``; whole-server tokens or requests per second for vLLM's
throughputs). Means and steady-state medians are predicted (the median ITL as a decode-only iteration);
spreads and tails (``std_*``, ``p90_*``, ``p99_*``) are not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

from chipfleet.catalog import Catalog, Precision
from chipfleet.exceptions import ChipfleetError, UnknownNameError
from chipfleet.perf.batching import ReplicaLimits
from chipfleet.perf.disagg import DisaggResult
from chipfleet.perf.engines import DEFAULT_ENGINE, EngineProfile, SpecDecode, default_spec, engine_profile
from chipfleet.perf.hardware import Hardware, hardware_for
from chipfleet.perf.iteration import IterationModel
from chipfleet.sim.serving import ServeOptions, replica_shape
from chipfleet.validate.serving.closed_loop import ClosedLoad, ClosedLoopResult, closed_loop
from chipfleet.validate.serving.open_loop import OpenLoad, OpenLoopResult, open_loop
from chipfleet.validate.serving.records import MS_KEYS, ServingRecord
from chipfleet.validate.serving.static_batch import runs_static_batches, static_batch
from chipfleet.workloads import ModelArch, get_model

if TYPE_CHECKING:
    from chipfleet.validate.serving.disagg import DisaggCase

# Benchmark hardware names onto catalog chips (InferenceX's and the custom-silicon records' `hw`).
HW_CHIPS: Mapping[str, str] = {
    "h100": "h100-sxm",
    "h200": "h200",
    "gh200": "gh200",
    "b200": "b200",
    "b300": "b300",
    "gb200": "gb200",
    "gb300": "gb300",
    "mi300x": "mi300x",
    "mi325x": "mi325x",
    "mi355x": "mi355x",
    "a100": "a100-80gb",
    "l40s": "l40s",
    "l4": "l4",
    "inf1": "inferentia1",
    "inf2": "inferentia2",
    "trn1": "trainium1",
    "trn2": "trainium2",
    "trn3": "trainium3",
    "tpu-v5e": "tpu-v5e",
    "tpu-v5p": "tpu-v5p",
    "tpu-v6e": "tpu-v6e",
    "tpu-v7": "tpu7x",
    "tpu-v7x": "tpu7x",
    "tpu7x": "tpu7x",
}
# The instance a benchmark's hardware most likely ran as (8-GPU nodes; a Trn/Inf instance; a TPU slice), when
# the record names none; otherwise the catalog's largest instance of that chip.
HW_INSTANCES: Mapping[str, tuple[str, ...]] = {
    "h100": ("p5.48xlarge",),
    "h200": ("p5en.48xlarge", "p5e.48xlarge"),
    "b200": ("p6-b200.48xlarge",),
    "gb200": ("p6e-gb200.36xlarge",),
    "gb300": ("bm.gpu.gb300.4",),
    "mi300x": ("standard_nd96isr_mi300x_v5",),
    "mi325x": ("gpu-mi325x8-2048gb",),
    "mi355x": ("bm.gpu.mi355x.8",),
    "inf2": ("inf2.48xlarge",),
    "trn1": ("trn1.32xlarge",),
    "trn2": ("trn2.48xlarge",),
    "tpu-v5e": ("tpu-v5litepod-8",),
    "tpu-v6e": ("tpu-v6e-8",),
    "tpu-v7": ("tpu7x-standard-4t",),
    "tpu-v7x": ("tpu7x-standard-4t",),
    "tpu7x": ("tpu7x-standard-4t",),
}
# the reason an aggregated validation gives a disaggregated record: another model predicts it
DISAGG_SKIP = "disaggregated prefill/decode: predicted by validate.serving.disagg (validate_disagg)"
INFERENCEX_PROMPTS_PER_CLIENT = 10  # --num-prompts $((CONC * 10)) (validate/data/inferencex/README.md)
DEFAULT_BATCH_TOKENS = 8192  # vLLM's and SGLang's chunked-prefill budget; InferenceX's --max-num-batched-tokens
DEFAULT_MAX_SEQS = 256  # vLLM's default max_num_seqs


@dataclass(frozen=True)
class RecordSkip:
    """A record (or one of its metrics, ``metric`` set) chipfleet does not predict, and why."""

    id: str
    metric: str | None
    reason: str
    hw: str
    engine: str
    model: str


@dataclass(frozen=True)
class ServingCase:
    """A record mapped onto chipfleet: the replica it ran on and the closed loop each replica saw."""

    record: ServingRecord
    model: ModelArch
    instance: str
    tp: int
    chips: int  # accelerators the per-GPU figures divide by
    precision: Precision
    iteration: IterationModel
    limits: ReplicaLimits
    load: ClosedLoad | OpenLoad  # per replica
    assumptions: tuple[str, ...]
    first_token_s: float = 0.0  # the engine's per-request first-token overhead, added to each TTFT
    first_token_iterations: float = 0.0  # iterations a streamed first token is held back (stream interval)


def hw_key(hw: str) -> str | None:
    """The :data:`HW_CHIPS` key of a benchmark's hardware name: exact, else its leading parts
    (``b200-trt`` → ``b200``, ``mi355x-amd_0`` → ``mi355x``)."""
    text = hw.strip().lower()
    parts = re.split(r"[-_]", text)
    for n in range(len(parts), 0, -1):
        cand = "-".join(parts[:n])
        if cand in HW_CHIPS:
            return cand
    return None


def _named_instance(text: str, catalog: Catalog) -> str | None:
    """A catalog instance named by ``text``: exactly, by its first word (``v6e-8 (TPU VM, topology 2x4)``), or
    with the cloud's prefix (``tpu-v6e-8``)."""
    first = re.split(r"[\s(,]", text.strip(), maxsplit=1)[0].lower()
    for cand in (text.strip(), text.strip().lower(), first, f"tpu-{first}"):
        if cand in catalog.instances:
            return cand
    return None


def _instance(rec: ServingRecord, catalog: Catalog, tp: int | None, notes: list[str]) -> str | RecordSkip:
    if rec.instance:
        named = _named_instance(rec.instance, catalog)
        if named is not None:
            return named
        if hw_key(rec.hw) is None:
            return _skip(rec, f"instance {rec.instance!r} is not in the catalog")
        notes.append(f"instance {rec.instance!r} is not in the catalog: run on the catalog's {rec.hw} instance")
    key = hw_key(rec.hw)
    if not rec.hw:
        return _skip(rec, "the record does not say what it ran on: add hw (h100, trn2, tpu-v6e, ...) or instance")
    if key is None:
        return _skip(rec, f"hardware {rec.hw!r} is not known (known: {', '.join(sorted(HW_CHIPS))})")
    for name in HW_INSTANCES.get(key, ()):
        if name in catalog.instances:
            return name
    chip = HW_CHIPS[key]
    carriers = sorted(
        (i for i in catalog.instances.values() if i.chip == chip and i.chips >= (tp or 1)),
        key=lambda i: (-i.chips, i.name),
    )
    if not carriers:
        return _skip(rec, f"the catalog has no instance of chip {chip!r} (hw {rec.hw!r}) with the record's tp")
    return carriers[0].name


def _precision(rec: ServingRecord, hw: Hardware) -> Precision | RecordSkip:
    text = rec.precision or "bf16"
    if text == "fp4":
        # InferenceX's "fp4": MXFP4 for gpt-oss and on AMD, NVFP4 on NVIDIA.
        amd = hw.chip.startswith("mi")
        text = "mxfp4" if amd or "gpt-oss" in rec.model.lower() or "mxfp4" in rec.model.lower() else "nvfp4"
    try:
        return Precision(text)
    except ValueError:
        return _skip(rec, f"precision {rec.precision!r} ({text}) is not one the catalog knows")


def _skip(rec: ServingRecord, reason: str, metric: str | None = None) -> RecordSkip:
    return RecordSkip(id=rec.id, metric=metric, reason=reason, hw=rec.hw, engine=rec.framework, model=rec.model)


def record_engine(
    rec: ServingRecord,
    notes: list[str],
    overheads: Mapping[str, tuple[float, float]] | None = None,
    first_token: Mapping[str, float] | None = None,
) -> EngineProfile:
    """The engine profile of the record's ``framework`` (InferenceX's names included), at the version its container
    image tag or ``framework_version`` gives; an unknown engine runs engine-neutral, noted. ``overheads`` replaces
    named engines' ``(iteration_overhead_s, per_seq_overhead_s)`` and ``first_token`` their
    ``first_token_overhead_s`` (cross-validation refits)."""
    if not rec.framework:
        return DEFAULT_ENGINE
    try:
        profile = engine_profile(rec.framework)
    except UnknownNameError:
        notes.append(f"engine {rec.framework!r} has no profile: engine-neutral batching and no engine overhead")
        return DEFAULT_ENGINE
    version = re.match(r"v?(\d+(?:\.\d+)+)", rec.engine_version or "")
    profile = profile.at_version(version.group(1)) if version else profile
    if overheads is not None and profile.name in overheads:
        a, b = overheads[profile.name]
        profile = replace(profile, iteration_overhead_s=a, per_seq_overhead_s=b)
    if first_token is not None and profile.name in first_token:
        profile = replace(profile, first_token_overhead_s=first_token[profile.name])
    return profile


def map_record(
    rec: ServingRecord,
    catalog: Catalog,
    overheads: Mapping[str, tuple[float, float]] | None = None,
    first_token: Mapping[str, float] | None = None,
) -> ServingCase | RecordSkip:
    """The record's model, instance, replica and closed (or open) loop, or why it cannot be expressed.
    ``overheads``: engine overheads to use instead of the shipped ones, by engine name (:func:`record_engine`)."""
    if rec.disagg:
        return _skip(rec, DISAGG_SKIP)
    if not rec.model:
        return _skip(rec, "the record names no model")
    try:
        model = get_model(rec.model)
    except UnknownNameError:
        return _skip(rec, f"model {rec.model!r} has no zoo record (yet)")
    if rec.tp is None and rec.chips is None:
        return _skip(rec, "the record gives neither tp nor chips")
    tp = rec.tp if rec.tp is not None else max(1, (rec.chips or 1) // rec.dp)
    notes = list(rec.assumptions)
    spec = record_spec(rec, model, notes)
    if isinstance(spec, RecordSkip):
        return spec
    if spec is not None and runs_static_batches(rec.framework):
        return _skip(rec, f"speculative decoding under static batching ({rec.framework}) is not modelled")
    placed = record_hardware(rec, catalog, tp, notes)
    if isinstance(placed, RecordSkip):
        return placed
    instance, hw, precision = placed
    clients = math.ceil(rec.concurrency / rec.dp) if rec.concurrency is not None else None
    engine = record_engine(rec, notes, overheads, first_token)
    seqs_given = rec.max_num_seqs
    if seqs_given is None and rec.format == "inferencex" and clients is not None:
        seqs_given = clients  # InferenceX launches the engine with --max-num-seqs $CONC
    seqs, budget, _ = engine.batching(
        seqs_given, rec.max_num_batched_tokens, None, (DEFAULT_MAX_SEQS, DEFAULT_BATCH_TOKENS)
    )
    if seqs_given is None:
        notes.append(f"max_num_seqs {seqs} ({engine.name}'s default, else vLLM's)")
    try:
        opts = ServeOptions(tp=tp, precision=precision, max_batch_tokens=budget, max_seqs=seqs, engine=engine)
        tp_used, kv = replica_shape(model, hw, opts)
        ep = rec.ep if model.is_moe else 1
        it = IterationModel(
            model, hw, tp_used, precision, engine=engine, ep=ep, dp_attention=rec.dp_attention, spec=spec
        )
        kv = it.kv_room_tokens(budget)  # that layout's weights (a draft's too) and cache per chip
    except ChipfleetError as exc:
        return _skip(rec, f"{model.name} on {instance} with tp={tp}: {exc}")
    return ServingCase(
        record=rec,
        model=model,
        instance=instance,
        tp=tp_used,
        chips=rec.chips or tp_used * rec.dp,
        precision=precision,
        iteration=it,
        limits=ReplicaLimits(budget, seqs, kv),
        load=record_load(rec, rec.dp),
        assumptions=tuple(notes),
        first_token_s=engine.first_token_overhead_s,
        first_token_iterations=engine.first_token_iterations(stream_interval(rec)),
    )


def record_hardware(
    rec: ServingRecord, catalog: Catalog, tp: int, notes: list[str]
) -> tuple[str, Hardware, Precision] | RecordSkip:
    """The instance a record ran on (a worker or replica of ``tp`` chips), its hardware and weight precision, or
    why the catalog cannot express them."""
    instance = _instance(rec, catalog, tp, notes)
    if isinstance(instance, RecordSkip):
        return instance
    try:
        hw = hardware_for(catalog, instance)
    except ChipfleetError as exc:
        return _skip(rec, f"{instance}: {exc}")
    precision = _precision(rec, hw)
    if isinstance(precision, RecordSkip):
        return precision
    return instance, hw, precision


def record_load(rec: ServingRecord, replicas: int) -> ClosedLoad | OpenLoad:
    """The load each of ``replicas`` independent copies of the deployment took: its share of the clients (a
    finite run of ``num_prompts``, or InferenceX's ten per client) or of the open-loop rate."""
    if rec.concurrency is None:
        assert rec.request_rate is not None  # a record has conc or request_rate (records.parse_record)
        return OpenLoad(rec.request_rate / replicas, rec.input_tokens, rec.output_tokens)
    per_client: float | None = None
    if rec.num_prompts is not None and rec.concurrency:
        per_client = max(rec.num_prompts / rec.concurrency, 1.0)
    elif rec.format == "inferencex":
        per_client = float(INFERENCEX_PROMPTS_PER_CLIENT)
    clients = math.ceil(rec.concurrency / replicas)
    return ClosedLoad(clients, rec.input_tokens, rec.output_tokens, requests_per_client=per_client)


ResultT = TypeVar("ResultT", bound=ClosedLoopResult | OpenLoopResult | DisaggResult)


def hold_first_token(res: ResultT, iterations: float, output_tokens: float) -> ResultT:
    """``res`` with the first token held back ``iterations`` iterations (an engine streaming in chunks): the TTFT
    grows by that many TPOTs while the last token, and so the end-to-end latency, stays where it was; the TPOT a
    benchmark reports, ``(E2E − TTFT)/(O − 1)``, shrinks by as much."""
    if iterations <= 0:
        return res
    n_out = max(output_tokens - 1.0, 1.0)
    held = min(iterations * res.tpot_mean_s, n_out * res.tpot_mean_s)
    return replace(
        res,
        ttft_steady_s=res.ttft_steady_s + held,
        ttft_mean_s=res.ttft_mean_s + held,
        tpot_mean_s=res.tpot_mean_s - held / n_out,
    )


def record_spec(rec: ServingRecord, model: ModelArch, notes: list[str]) -> SpecDecode | RecordSkip | None:
    """The record's speculative decoding (None without), or why it cannot be timed. ``mtp`` drafts with one layer
    of the target, at the record's ``acceptance_length`` or else the model's published setting
    (:func:`chipfleet.perf.engines.default_spec`); ``eagle``/``eagle3`` with a one-layer head of the target's
    width, at the record's acceptance length; ``draft`` with a separate model named by ``draft_model`` and in the
    zoo, costing ``L·P_draft/P_target`` target layers (its parameters against the target's), at the record's
    acceptance length. Draft tokens: the record's ``num_speculative_tokens``, else the published setting's (mtp),
    else required."""
    method = rec.spec_decoding
    if method in ("", "none"):
        return None
    tau, k = rec.acceptance_length, rec.draft_tokens
    layers = 1.0
    source = "the record's"
    if method == "mtp":
        if tau is None:
            published = default_spec(model.name, "mtp")
            if published is None:
                return _skip(rec, "speculative decoding (mtp): the record gives no acceptance_length and none is "
                                  f"published for {model.name}")  # fmt: skip
            tau, k, layers = published.acceptance_length, k or published.draft_tokens, published.draft_layers
            source = "the model's published"
    elif method not in ("eagle", "eagle3", "draft"):
        return _skip(rec, f"speculative decoding method {method!r} is not known (mtp, eagle, eagle3, draft)")
    if tau is None:
        return _skip(rec, f"speculative decoding ({method}): the record publishes no acceptance_length")
    if k is None:
        return _skip(rec, f"speculative decoding ({method}): the record gives no num_speculative_tokens")
    if method == "draft":
        if rec.draft_model is None:
            return _skip(rec, "speculative decoding (draft): the record names no draft_model")
        try:
            draft = get_model(rec.draft_model)
        except UnknownNameError:
            return _skip(rec, f"speculative decoding (draft): draft model {rec.draft_model!r} has no zoo record")
        layers = model.n_layers * draft.params_total / model.params_total
    try:
        spec = SpecDecode(acceptance_length=tau, draft_tokens=k, draft_layers=layers, method=method)
    except ChipfleetError as exc:
        return _skip(rec, f"speculative decoding ({method}): {exc}")
    notes.append(
        f"{method}: {k} draft token(s) per step at {source} acceptance length {tau:g}; a draft pass costs "
        f"{layers:.3g} target layer(s) of {model.n_layers}"
    )
    return spec


def metric_value(
    metric: str, case: ServingCase | DisaggCase, res: ClosedLoopResult | OpenLoopResult | DisaggResult
) -> float | None:
    """The prediction of one result key in the record's unit, or None when the model does not give it."""
    base = MS_KEYS.get(metric, metric)
    scale = 1000.0 if metric in MS_KEYS else 1.0
    n_out = max(case.load.output_tokens - 1.0, 1.0)
    times = {
        "mean_ttft": res.ttft_mean_s,
        "median_ttft": res.ttft_steady_s,
        "mean_tpot": res.tpot_mean_s,
        "median_tpot": res.tpot_mean_s,
        "mean_itl": res.tpot_mean_s,
        "median_itl": res.decode_iteration_s,  # most gaps are decode-only iterations
        "mean_e2el": res.ttft_mean_s + n_out * res.tpot_mean_s,
        "median_e2el": res.e2e_mean_s,
    }
    if base in ("mean_itl", "median_itl") and streams_chunks(case.record):
        return None
    if base in times:
        return times[base] * scale
    replicas = case.record.dp
    rate = res.throughput_rps * replicas  # requests per second over the endpoint
    inp, out = case.load.input_tokens, case.load.output_tokens
    other = {
        "mean_intvty": 1.0 / res.tpot_mean_s,
        "median_intvty": 1.0 / res.tpot_mean_s,
        "tput_per_gpu": rate * (inp + out) / case.chips,
        "output_tput_per_gpu": rate * out / case.chips,
        "input_tput_per_gpu": rate * inp / case.chips,
        "output_throughput": rate * out,
        "total_token_throughput": rate * (inp + out),
        "request_throughput": rate,
    }
    return other.get(base)


def streams_chunks(rec: ServingRecord) -> bool:
    """Whether the engine streamed several tokens per chunk, so ITL measures chunks, not tokens: the record's
    own mean ITL is over twice its mean TPOT (SGLang and TensorRT-LLM in InferenceX's runs: 10-20×)."""
    got = dict(rec.results)
    for itl, tpot in (("mean_itl", "mean_tpot"), ("mean_itl_ms", "mean_tpot_ms")):
        if itl in got and got.get(tpot):
            return got[itl] > 2.0 * got[tpot]
    return False


def stream_interval(rec: ServingRecord) -> float:
    """Tokens per streamed chunk: the record's mean ITL over its mean TPOT, rounded, where the engine streamed
    chunks (:func:`streams_chunks`; InferenceX runs TensorRT-LLM at 20 and SGLang at 10 or 30), else 1. A setting
    of the run that its timings reveal whatever the model predicts: the ratio does not depend on speed."""
    if not streams_chunks(rec):
        return 1.0
    got = dict(rec.results)
    for itl, tpot in (("mean_itl", "mean_tpot"), ("mean_itl_ms", "mean_tpot_ms")):
        if got.get(itl) and got.get(tpot):
            return float(round(got[itl] / got[tpot]))
    return 1.0


def predict_case(case: ServingCase) -> ClosedLoopResult | OpenLoopResult:
    """The closed (or open) loop each replica of the record ran, with the first token held back
    ``case.first_token_iterations`` iterations where the engine streams in chunks: the TTFT grows by that many
    TPOTs while the last token, and so the end-to-end latency, stays where it was; the TPOT a benchmark reports,
    ``(E2E − TTFT)/(O − 1)``, shrinks by as much."""
    res: ClosedLoopResult | OpenLoopResult
    if isinstance(case.load, OpenLoad):
        res = open_loop(case.iteration, case.limits, case.load, case.first_token_s)
    elif runs_static_batches(case.record.framework):
        res = static_batch(case.iteration, case.limits, case.load, case.first_token_s)
    else:
        res = closed_loop(case.iteration, case.limits, case.load, case.first_token_s)
    return hold_first_token(res, case.first_token_iterations, case.load.output_tokens)
