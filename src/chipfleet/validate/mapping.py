"""Map a published measurement row onto chipfleet's records: model, chip, instance, split, precision.

Everything here reads the row's own columns (and, for a few documented cases, its notes); there is no
table of row ids. A row that cannot be mapped yields a :class:`Skip` with the reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from chipfleet.catalog import Catalog, Chip, Instance, Precision
from chipfleet.exceptions import ChipfleetError
from chipfleet.perf.inference import ServingConfig
from chipfleet.perf.training import Recompute, TrainingSetup
from chipfleet.validate.dataset import Measurement
from chipfleet.workloads import ModelArch, get_model
from chipfleet.workloads.benchmarks import ServingBenchmark, list_benchmarks

TRAIN_METRICS = frozenset(
    {"sequences_per_s", "tokens_per_s_per_gpu", "tokens_per_s_per_chip", "mfu", "hfu", "tflops_per_gpu", "gpu_hours"}
)
INFER_METRICS = frozenset(
    {
        "output_tokens_per_s",
        "output_tokens_per_s_per_gpu",
        "tokens_per_s",
        "tokens_per_s_offline",
        "samples_per_s_offline",
        "ttft_ms",
        "ttft_ms_p50",
        "tpot_ms",
        "tpot_ms_p50",
        "prefill_tokens_per_s",
        "tokens_per_s_server",
        "samples_per_s_server",
        "ttft_ms_p50_server",
        "tpot_ms_p50_server",
    }
)
SERVER_METRICS = frozenset(m for m in INFER_METRICS if m.endswith("_server"))
# Tokens per optimizer step when a training row gives no batch: 4M tokens, the Llama 2 / Llama 3 early
# pre-training batch (Llama 2 model card: "global batch-size of 4M tokens").
DEFAULT_BATCH_TOKENS = 4 * 2**20
DEFAULT_SEQ_LEN = 4096
# Cluster size assumed for a GPU-hours row that gives none (per-chip throughput varies little with it).
DEFAULT_GPU_HOURS_CHIPS = 2048


@dataclass(frozen=True)
class Skip:
    """A row chipfleet does not predict. ``in_scope`` rows count against coverage."""

    reason: str
    in_scope: bool


@dataclass(frozen=True)
class TrainCase:
    row: Measurement
    model: ModelArch
    instance: Instance
    chip: Chip
    instances: int
    setup: TrainingSetup
    fixed: dict[str, object]
    tokens: float | None = None
    assumptions: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class InferCase:
    row: Measurement
    model: ModelArch
    instance: Instance
    chip: Chip
    chips: int  # chips the measured system used
    tp: int | None
    batch: int | None  # None: the largest batch that fits (throughput-ceiling rows)
    input_tokens: int
    output_tokens: int
    precision: Precision
    assumptions: tuple[str, ...] = field(default=())
    server_rate_per_s: float | None = None  # Server-scenario latency rows: the offered Poisson rate
    # Model copies (replicas of tp chips each) the measured throughput is for; None: not stated, so
    # prepare() assumes the row's chips ÷ tp and says so.
    copies: int | None = None

    def config(self, batch: int, tp: int | None = None) -> ServingConfig:
        return ServingConfig(
            model=self.model,
            batch=batch,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            tp=tp if tp is not None else self.tp,
            weight_precision=self.precision,
        )


Case = TrainCase | InferCase


def scope_of(row: Measurement) -> Skip | None:
    """None when the row is in scope; otherwise why it is not."""
    if row.kind == "claim":
        return Skip("vendor claim, not a measurement (see `chipfleet claims`)", in_scope=False)
    if row.kind not in ("train", "infer"):
        return Skip(f"kind {row.kind!r} is neither train nor infer", in_scope=False)
    if row.metric == "time_to_train_min":
        return Skip(
            "MLPerf Training stops at a quality target (GPT-3/Llama-405B start from a checkpoint); no fixed "
            "token budget is published, so time cannot be derived from throughput",
            in_scope=False,
        )
    if row.metric not in TRAIN_METRICS | INFER_METRICS:
        return Skip(f"metric {row.metric!r} is not a throughput, utilization or latency", in_scope=False)
    return None


# ----------------------------------------------------------------------------- models
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*b\b")
_LLAMA = re.compile(r"llama[\s_-]*(\d(?:\.\d)?)?[\s_-]*(\d+)\s*b")


def _model_candidates(text: str) -> list[str]:
    t = text.lower().replace("_", "-")
    out: list[str] = []
    for m in re.finditer(r"[a-z0-9][a-z0-9.\-]*[a-z0-9]", t):
        out.append(m.group(0))
    llama = _LLAMA.search(t)
    if llama:
        ver = llama.group(1) or "1"
        out.insert(0, f"llama-{ver}-{llama.group(2)}b")
    size = _SIZE.search(t)
    if size:
        s = size.group(1).rstrip("0").rstrip(".") if "." in size.group(1) else size.group(1)
        for fam, slug in (
            ("mixtral", "mixtral-8x7b"),
            ("gpt-j", "gpt-j-{s}b"),
            ("gptj", "gpt-j-{s}b"),
            ("gpt3", "gpt-3-{s}b"),
            ("gpt-3", "gpt-3-{s}b"),
            ("gpt ", "gpt-3-{s}b"),
            ("opt", "opt-{s}b"),
            ("bloom", "bloom-{s}b"),
            ("nemotron", "nemotron-{s}b"),
            ("nemotron", "nemotron-4-{s}b"),
            ("maxtext", "maxtext-{s}b"),
            ("palm", "palm-{s}b"),
            ("mistral", "mistral-{s}b"),
        ):
            if fam in t:
                out.insert(0, slug.format(s=s))
    if "bert" in t and "large" in t:
        out.insert(0, "bert-large")
    return out


def map_model(row: Measurement) -> ModelArch | Skip:
    for cand in _model_candidates(row.model):
        try:
            return get_model(cand)
        except ChipfleetError:
            continue
    return Skip(f"model {row.model!r} is not in the zoo", in_scope=True)


# ----------------------------------------------------------------------------- chips and instances
def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def map_chip(row: Measurement, catalog: Catalog) -> tuple[Chip, str | None] | Skip:
    """The catalog chip whose slug tokens all appear in the accelerator text (most specific wins).

    A row that names a chip family but not its variant (e.g. "A100 (SXM, variant not stated)") maps to
    the variant with the most memory, said in the assumption.
    """
    words = _tokens(row.accelerator)
    best: Chip | None = None
    for chip in catalog.chips.values():
        need = set(chip.name.split("-"))
        if need <= words and (best is None or len(need) > len(best.name.split("-"))):
            best = chip
    if best is not None:
        return best, None
    partial = [c for c in catalog.chips.values() if c.name.split("-")[0] in words]
    if partial:
        chosen = max(partial, key=lambda c: c.memory_bytes or 0.0)
        return chosen, f"accelerator {row.accelerator!r} does not name its variant; assumed {chosen.name}"
    return Skip(f"accelerator {row.accelerator!r} is not in the catalog", in_scope=True)


def map_instance(row: Measurement, chip: Chip, catalog: Catalog) -> tuple[Instance, str | None]:
    """The named catalog instance if the system text contains one, else the catalog instance with this
    chip and the most chips per instance (the training/inference node), said in the assumption."""
    text = row.instance_or_system.lower()
    named = [
        i for i in catalog.instances.values() if i.chip == chip.name and re.search(rf"\b{re.escape(i.name)}\b", text)
    ]
    if named:
        return max(named, key=lambda i: len(i.name)), None
    same_chip = [i for i in catalog.instances.values() if i.chip == chip.name]
    if not same_chip:
        raise _NoInstance(chip.name)
    vcpus = re.search(r"(\d+)\s*vcpu", text)
    if vcpus and chip.kind == "cpu":
        same = [i for i in same_chip if i.vcpus == int(vcpus.group(1))]
        if same:
            return same[0], f"system {row.instance_or_system!r} modelled as {same[0].name} (same chip and vCPUs)"
    words = _tokens(text)

    def rank(i: Instance) -> tuple[int, float, bool, bool, bool, str]:
        # Largest node, best scale-out, priced; among twins (p5 / ND H100 v5 / ...) the one whose cloud the
        # text names, else AWS's, the reference cloud of the shipped fit, so a catalog that adds another
        # cloud's twin never changes which node a row is modelled on.
        cloud = i.cloud.value.lower()
        named = bool(cloud) and cloud in words
        return (i.chips, i.scaleout_bytes_per_s or 0.0, bool(i.prices), named, cloud == "aws", i.name)

    node = max(same_chip, key=rank)
    return node, f"system {row.instance_or_system!r} modelled as {node.name} nodes"


class _NoInstance(Exception):
    pass


# ----------------------------------------------------------------------------- parallelism and precision
_DEGREE = re.compile(r"\b(tp|pp|dp|cp|ep|vp)\s*=\s*(\d+)")


def counts_neuron_cores(text: str, chip: Chip, chips: int | None, fixed: Mapping[str, object]) -> bool:
    """Whether a row's degrees count NeuronCores: it says so, or (an AWS chip) its degrees multiply to the
    row's cores rather than its chips."""
    if chip.vendor != "aws" or chip.cores is None:
        return False
    ranks = math.prod(int(str(fixed.get(k, 1))) for k in ("tp", "pp", "dp", "cp"))
    cores = int(chip.cores.si)
    counts_cores = chips is not None and ranks == chips * cores and ranks != chips
    return "neuroncore" in text.lower() or counts_cores


def parse_parallelism(text: str, chip: Chip, chips: int | None = None) -> tuple[dict[str, object], list[str]]:
    """Degrees from "tp=8,pp=4,dp=16,cp=2,vp=5,zero1"; NeuronCore degrees converted to chips.

    Neuron tables count tensor-parallel ranks in NeuronCores (2 per Trn1/Inf2 chip); with logical
    NeuronCores (LNC=k) a rank spans k physical cores, so ranks per chip = cores / k. A Neuron row is read
    in NeuronCores when it says so, or when its degrees multiply to the row's cores rather than its chips.
    """
    t = text.lower()
    fixed: dict[str, object] = {}
    notes: list[str] = []
    for key, val in _DEGREE.findall(t):
        fixed["virtual_stages" if key == "vp" else key] = int(val)
    if "zero1" in t.replace("-", "") or "zero-1" in t:
        fixed["zero"] = 1
    if counts_neuron_cores(text, chip, chips, fixed) and "tp" in fixed and chip.cores is not None:
        cores = int(chip.cores.si)
        lnc = re.search(r"lnc\s*=\s*(\d+)", t)
        per_chip = cores // int(lnc.group(1)) if lnc else cores
        tp = int(str(fixed["tp"]))
        if tp >= per_chip and tp % per_chip == 0:
            fixed["tp"] = tp // per_chip
            notes.append(f"tp={tp} NeuronCore ranks = {tp // per_chip} chips ({per_chip} ranks per chip)")
    return fixed, notes


def map_precision(row: Measurement, chip: Chip, for_training: bool) -> tuple[Precision, str | None]:
    t = f"{row.precision} {row.model}".lower()
    if "int4" in t or "q4" in t or "4-bit" in t or "gptq" in t:
        return Precision.INT4, None
    if "weights int8" in t or (not for_training and re.search(r"\bint8\b", t)):
        return Precision.INT8, None
    if "fp8" in t:
        return (Precision.FP8, None) if Precision.FP8 in chip.peak_dense else (Precision.BF16, "fp8 → bf16")
    if "low precision" in t:
        if Precision.FP8 in chip.peak_dense:
            return Precision.FP8, "MLPerf 'low precision' read as FP8 (NVIDIA's submissions quantize to FP8)"
        return Precision.BF16, None
    if "fp16" in t and "bf16" not in t:
        return Precision.FP16 if Precision.FP16 in chip.peak_dense else Precision.BF16, None
    if not row.precision.strip() or "not stated" in t:
        return Precision.BF16, "precision not stated: bf16 assumed"
    return Precision.BF16, None


# ----------------------------------------------------------------------------- rows to cases
def _first_int(text: str) -> int | None:
    m = re.search(r"\d[\d,]*", text)
    return int(m.group(0).replace(",", "")) if m else None


@dataclass(frozen=True)
class TokenCount:
    """A token count as a publication states it: ``tokens`` and how it was qualified.

    ``qualifier`` is "exact" ("2.0T tokens"), "approximate" ("~15T", "≈15T", "about 15T") or "at least"
    ("15T+", ">15T", "over 15T"); an at-least count is its stated lower bound, so what is derived from it
    (GPU-hours from throughput) is a lower bound too.
    """

    tokens: float
    qualifier: str

    def note(self, text: str) -> str | None:
        """The assumption to report for a qualified count, None for an exact one."""
        if self.qualifier == "exact":
            return None
        how = "its stated lower bound" if self.qualifier == "at least" else "the stated approximate value"
        return f"token count {text!r} read as {self.tokens:.4g} tokens ({how})"


# Multipliers: T and B are decimal (model cards: "2.0T tokens", "15 trillion"); M is 2**20, the unit of batch
# sizes in tokens ("4M tokens" = 1024 × 4096, Llama 2's batch), which is where the data writes M.
_TOKEN_UNITS = {"m": 2.0**20, "million": 2.0**20, "b": 1e9, "billion": 1e9, "t": 1e12, "trillion": 1e12}
_TOKEN_COUNT = re.compile(
    r"(?P<pre>~|≈|>=?|≥|\babout\s+|\bover\s+|\bapprox(?:imately|\.)?\s+|\bmore\s+than\s+)?\s*"
    r"(?P<num>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>trillion|billion|million|[mbt])\b\s*(?P<plus>\+)?\s*"
    r"(?:tokens?\b|tok\b)?",
    re.IGNORECASE,
)


def parse_token_count(text: str, need_word: bool = True) -> TokenCount | None:
    """The first token count in ``text`` ("2.0T tokens", "15T+", "~15T", "15 trillion tokens", "4M tokens").

    With ``need_word`` the count must be followed by "tokens" unless it carries a qualifier (``~``, ``+``),
    so "Llama 2 70B" is not read as 70 billion tokens. ``~``/``≈``/"about" mark an approximate count, ``+``,
    ``>``, "over", "more than" an at-least count (see :class:`TokenCount`).
    """
    for m in _TOKEN_COUNT.finditer(text):
        has_word = m.group(0).rstrip().lower().endswith(("token", "tokens", "tok"))
        pre = (m.group("pre") or "").strip().lower()
        plus = m.group("plus") is not None
        if need_word and not (has_word or pre or plus):
            continue
        tokens = float(m.group("num").replace(",", "")) * _TOKEN_UNITS[m.group("unit").lower()]
        if plus or pre in (">", ">=", "≥", "over", "more than"):
            qualifier = "at least"
        elif pre:
            qualifier = "approximate"
        else:
            qualifier = "exact"
        return TokenCount(tokens=tokens, qualifier=qualifier)
    return None


def _tokens_in_text(text: str) -> float | None:
    count = parse_token_count(text)
    return None if count is None else count.tokens


# Words that negate a feature named after them in the same clause ("no speculative decoding",
# "without speculative decoding", "speculative decoding disabled").
_NEGATION_BEFORE = re.compile(r"\b(?:no|not|without|w/o|non|disabled?|off|never)\b[^.;,()]*$")
_NEGATION_AFTER = re.compile(r"^[\w\s-]{0,30}?\b(?:disabled|off|not used|not enabled)\b")


_REFERENCE = re.compile(r"/|\.(?:rst|md|csv|py|html?|ipynb|txt|json|ya?ml|pdf)\b")


def affirms(text: str, feature: str) -> bool:
    """True when ``text`` says ``feature`` (a word or phrase, case-insensitive) was used: a mention counts
    unless its clause (the text between , ; . or brackets) negates it before ("No speculative decoding",
    "without speculative decoding", "non-speculative") or right after ("speculative decoding disabled"), or
    it is part of a file name or link ("trn2-llama3.1-405b-speculative-tutorial.rst")."""
    low = text.lower()
    for m in re.finditer(re.escape(feature.lower()), low):
        word_start = max(low.rfind(c, 0, m.start()) for c in " \t\n(\"'") + 1
        word_end = min((i for i in (low.find(c, m.end()) for c in " \t\n)\"'") if i >= 0), default=len(low))
        if _REFERENCE.search(low[word_start:word_end]):
            continue  # a file name or link ("…-speculative-tutorial.rst"), not a statement about the run
        clause_start = max(low.rfind(c, 0, m.start()) for c in ".;,()") + 1
        before = low[clause_start : m.start()]
        if _NEGATION_BEFORE.search(before.replace("-", " ")):
            continue
        if _NEGATION_AFTER.search(low[m.end() :]):
            continue
        return True
    return False


def _mlperf_benchmark(row: Measurement, model: ModelArch) -> ServingBenchmark | None:
    if "mlperf" not in (row.model + row.source).lower():
        return None
    for b in list_benchmarks():
        if b.model == model.name:
            return b
    return None


SERVER_LATENCY_METRICS = frozenset({"ttft_ms_p50_server", "tpot_ms_p50_server"})
_SAMPLES_PER_S = re.compile(r"samples/s\s*([0-9][0-9.,]*)", re.IGNORECASE)


def server_rates(rows: Sequence[Measurement]) -> dict[str, float]:
    """Offered load (queries/s) of each MLPerf Server run, keyed by the run's source: a ``samples_per_s_server``
    row's value, or the "samples/s N" a ``tokens_per_s_server`` row states. The latency rows of the same run
    (same source) are replayed at that rate."""
    rates: dict[str, float] = {}
    for row in rows:
        if row.metric == "samples_per_s_server":
            rates[row.source] = row.value
        elif row.metric == "tokens_per_s_server":
            m = _SAMPLES_PER_S.search(row.notes)
            if m:
                rates.setdefault(row.source, float(m.group(1).replace(",", "")))
    return rates


def map_row(row: Measurement, catalog: Catalog, rates: Mapping[str, float] | None = None) -> Case | Skip:
    """The case to predict for ``row``, or why it cannot be predicted. ``rates`` (from :func:`server_rates`)
    gives Server-scenario latency rows their run's offered load."""
    skip = scope_of(row)
    if skip is not None:
        return skip
    if affirms(row.model, "speculative") or affirms(row.notes, "speculative"):
        return Skip("speculative decoding is not modelled", in_scope=True)
    chip_or = map_chip(row, catalog)
    if isinstance(chip_or, Skip):
        return chip_or
    chip, chip_note = chip_or
    model_or = map_model(row)
    if isinstance(model_or, Skip):
        return model_or
    model = model_or
    try:
        instance, inst_note = map_instance(row, chip, catalog)
    except _NoInstance:
        return Skip(f"no catalog instance carries {chip.name}", in_scope=True)
    notes = [n for n in (chip_note, inst_note) if n]
    if row.kind == "train":
        return _train_case(row, catalog, model, chip, instance, notes)
    rate = (rates or {}).get(row.source)
    if rate is None:
        m = _SAMPLES_PER_S.search(row.notes)
        rate = float(m.group(1).replace(",", "")) if m else None
    return _infer_case(row, model, chip, instance, notes, rate)


def _train_case(
    row: Measurement, catalog: Catalog, model: ModelArch, chip: Chip, instance: Instance, notes: list[str]
) -> TrainCase | Skip:
    if model.kind != "decoder":
        return Skip("encoder training is not modelled", in_scope=True)
    fixed, pnotes = parse_parallelism(row.parallelism, chip, row.accel_count)
    notes += pnotes
    mb = re.search(r"micro[ -]?batch(?: size)?\s*[:=]?\s*(\d+)|\bmbs\s*[:=]?\s*(\d+)", row.notes.lower())
    if mb:
        fixed["micro_batch"] = int(mb.group(1) or mb.group(2))
    if "recompute" in row.notes.lower() and "recompute" not in fixed:
        # A source that counts recomputed FLOPs (BLOOM) trained with activation checkpointing.
        fixed["recompute"] = Recompute.FULL
        notes.append("notes mention activation recompute: full recompute")
    chips = row.accel_count
    if chips is None:
        if row.metric != "gpu_hours":
            return Skip("the row gives no accelerator count", in_scope=True)
        chips = DEFAULT_GPU_HOURS_CHIPS
        notes.append(f"no chip count: {chips} chips assumed (per-chip throughput barely depends on it)")
    if chips % instance.chips:
        return Skip(f"{chips} chips is not a whole number of {instance.name} ({instance.chips} chips)", in_scope=True)
    seq = row.seq_len
    if seq is None:
        seq = min(model.max_position_embeddings, 8192) if model.max_position_embeddings >= 4096 else DEFAULT_SEQ_LEN
        notes.append(f"sequence length not given: {seq} assumed")
    batch_tokens = _tokens_in_text(row.batch)
    batch = _first_int(row.batch) if batch_tokens is None else max(1, round(batch_tokens / seq))
    if batch is None:
        # About 4M tokens, rounded up to a whole number of sequences per chip so any data-parallel
        # degree divides it.
        batch = chips * max(1, math.ceil(DEFAULT_BATCH_TOKENS / seq / chips))
        notes.append(f"global batch not given: {batch} sequences (≈4M tokens, a multiple of the chips) assumed")
    dp_known = fixed.get("dp")
    if {"tp", "pp"} <= set(fixed) and dp_known is None:
        tp, pp, cp = (int(str(fixed.get(k, 1))) for k in ("tp", "pp", "cp"))
        if chips % (tp * pp * cp) == 0:
            fixed["dp"] = chips // (tp * pp * cp)
    dp = int(str(fixed.get("dp", 1)))
    if "dp" in fixed and batch % dp:
        batch = max(dp, round(batch / dp) * dp)
        notes.append(f"global batch rounded to {batch} (a multiple of dp={dp})")
    prec, pnote = map_precision(row, chip, for_training=True)
    if pnote:
        notes.append(pnote)
    if prec in (Precision.INT8, Precision.INT4):
        prec = Precision.BF16
    setup = TrainingSetup(model=model, seq_len=seq, global_batch=batch, precision=prec)
    tokens = None
    if row.metric == "gpu_hours":
        for text in (row.model, row.notes):
            count = parse_token_count(text)
            if count is not None:
                break
        if count is None:
            return Skip("GPU-hours row without the number of training tokens", in_scope=True)
        tokens = count.tokens
        note = count.note(text)
        if note:
            notes.append(note)
    return TrainCase(
        row=row,
        model=model,
        instance=instance,
        chip=chip,
        instances=chips // instance.chips,
        setup=setup,
        fixed=fixed,
        tokens=tokens,
        assumptions=tuple(notes),
    )


def _infer_case(
    row: Measurement, model: ModelArch, chip: Chip, instance: Instance, notes: list[str], rate: float | None = None
) -> InferCase | Skip:
    if model.kind != "decoder":
        return Skip("encoder inference is not modelled", in_scope=True)
    chips = row.accel_count or instance.chips
    fixed, pnotes = parse_parallelism(row.parallelism, chip, row.accel_count)
    notes += pnotes
    tp = fixed.get("tp")
    tp_int = int(str(tp)) if tp is not None else None
    if tp_int is None and re.search(r"(model|tensor)[ -]parallel", row.parallelism.lower()):
        tp_int = chips
        notes.append(f"model-parallel over all {chips} chips: tp={chips}")
    neuron = tp_int is not None and counts_neuron_cores(row.parallelism, chip, row.accel_count, fixed)
    copies, copies_note = model_copies(row, tp_int, chips, neuron)
    if copies_note:
        notes.append(copies_note)
    if copies is not None and tp_int is not None and copies * tp_int > chips:
        return Skip(f"{copies} model copies × tp={tp_int} need more than the row's {chips} chips", in_scope=True)
    batch = _first_int(row.batch) if "max" not in row.batch.lower() else None
    inp = _first_int(row.input_len) if "max" not in row.input_len.lower() else None
    out = _first_int(row.output_len) if "max" not in row.output_len.lower() else None
    if inp is None or out is None:
        bench = _mlperf_benchmark(row, model)
        if bench is None:
            return Skip("input/output lengths not given (or only caps)", in_scope=True)
        if bench.mean_input_tokens is None or bench.mean_output_tokens is None:
            return Skip(f"{bench.name}: mean input/output tokens are not published", in_scope=True)
        inp = round(bench.mean_input_tokens)
        out = round(bench.mean_output_tokens)
        notes.append(f"{bench.name}: mean {inp} input / {out} output tokens ({bench.source})")
    if row.metric in SERVER_METRICS and row.metric not in SERVER_LATENCY_METRICS:
        # Server throughput is the highest rate that meets the benchmark's p99 latency constraints: a search
        # over rates that needs those constraints, which chipfleet's benchmark records do not carry.
        return Skip(
            "server-scenario throughput: the benchmark's latency constraints are not in chipfleet's records",
            in_scope=True,
        )
    if row.metric in SERVER_LATENCY_METRICS:
        if rate is None or not rate > 0:
            return Skip("server-scenario latency row without the run's offered rate (samples/s)", in_scope=True)
        notes.append(f"replayed in the request-level simulator: Poisson arrivals at {rate:g} queries/s, "
                     f"every request {inp} in / {out} out")  # fmt: skip
    if batch is None:
        notes.append("throughput-ceiling row: the largest batch that fits is used")
    prec, pnote = map_precision(row, chip, for_training=False)
    if pnote:
        notes.append(pnote)
    if tp_int is not None and tp_int > instance.chips:
        return Skip(f"tp={tp_int} spans more than one {instance.name}", in_scope=True)
    if chips > instance.chips and chips % instance.chips:
        return Skip(f"{chips} chips is not a whole number of {instance.name}", in_scope=True)
    return InferCase(
        row=row,
        model=model,
        instance=instance,
        chip=chip,
        chips=chips,
        tp=tp_int,
        batch=batch,
        input_tokens=max(1, inp),
        output_tokens=max(1, out),
        precision=prec,
        assumptions=tuple(notes),
        server_rate_per_s=rate if row.metric in SERVER_LATENCY_METRICS else None,
        copies=copies,
    )


_COPIES = re.compile(
    r"\b(?:copies|replicas|dp)\s*[=:]\s*(\d+)|\b(\d+)\s*(?:model\s+|independent\s+)?(?:copies|replicas)\b",
    re.IGNORECASE,
)


def model_copies(row: Measurement, tp: int | None, chips: int, neuron: bool) -> tuple[int | None, str | None]:
    """How many model copies a row's throughput is for, and the assumption to report.

    A row that states its copies ("copies=2", "dp=3", "4 model replicas" in parallelism or notes) is read as
    stated. Neuron's performance tables give tp in NeuronCores for one model copy and report that copy's
    throughput for the instance, so a Neuron row with a tp and no stated copies is one copy (the instance's
    other chips idle), never chips ÷ tp. Otherwise None: :func:`chipfleet.validate.predict.prepare` assumes
    chips ÷ tp independent copies once tp is known, and says so.
    """
    for text in (row.parallelism, row.notes):
        m = _COPIES.search(text)
        if m:
            n = int(m.group(1) or m.group(2))
            if n >= 1:
                return n, f"{n} model cop{'y' if n == 1 else 'ies'} as the row states"
    if neuron and tp is not None:
        if tp >= chips:
            return 1, None
        return 1, (
            f"Neuron table: throughput of one model copy at tp={tp} chips (copies not stated: 1 assumed, "
            f"the other {chips - tp} of the {chips} chips idle; not multiplied by chips ÷ tp)"
        )
    return None, None


def ceil_div(a: int, b: int) -> int:
    return math.ceil(a / b)
