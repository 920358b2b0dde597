"""Serving-benchmark records in the formats users have: InferenceX ``agg_bmk.json`` and vLLM ``--save-result`` JSON.

Both read into one typed :class:`ServingRecord`. InferenceX records are a JSON list of objects with keys ``hw``,
``conc``, ``model``, ``framework``, ``precision``, ``spec_decoding``, ``disagg``, ``isl``, ``osl``, ``tp``,
``ep``, ``dp_attention`` (or, disaggregated, ``prefill_tp``/``_ep``/``_dp_attention``/``_num_workers``, the same
for ``decode_*``, ``num_prefill_gpu``, ``num_decode_gpu`` and ``is_multinode``: :class:`PoolLayout`) and results in
seconds and tokens/s per accelerator (``mean_ttft``, ``median_tpot``, ``output_tput_per_gpu`` ...). Records of
custom silicon use the same keys and may add ``instance``, ``chips``, ``dp`` (independent replicas behind one endpoint),
``request_rate`` (an open loop instead of ``conc``), ``isl_std``/``osl_std``, ``max_num_seqs`` and
``num_prompts``; a speculative-decoding record (``spec_decoding`` ``mtp``, ``eagle3``, ``draft``) may give its
``acceptance_length`` (mean tokens per verification step, the bonus token included: vLLM's "Acceptance length"),
``num_speculative_tokens`` (or ``draft_tokens``) and ``draft_model`` (a Hugging Face id). vLLM's
``benchmark_serving.py --save-result`` writes one object per run with results in milliseconds (``mean_ttft_ms``
...) and whole-server throughputs (``output_throughput``); it says nothing of the hardware, so such a record needs
``hw`` or ``instance`` and ``tp`` added to be predicted. A file may hold one object, a list, or one object per line
(JSON Lines), optionally gzipped.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chipfleet.exceptions import ConfigError, did_you_mean

# Result keys in seconds (InferenceX) and their vLLM names in milliseconds.
SECONDS_KEYS = tuple(
    f"{stat}_{what}" for what in ("ttft", "tpot", "itl", "e2el") for stat in ("mean", "median", "std", "p90", "p99")
)
MS_KEYS = {f"{k}_ms": k for k in SECONDS_KEYS}
PER_GPU_KEYS = ("tput_per_gpu", "output_tput_per_gpu", "input_tput_per_gpu")
INTERACTIVITY_KEYS = tuple(f"{stat}_intvty" for stat in ("mean", "median", "std", "p90", "p99"))
# vLLM's whole-server throughputs (tokens or requests per second)
SERVER_KEYS = ("output_throughput", "total_token_throughput", "request_throughput")
RESULT_KEYS = frozenset((*SECONDS_KEYS, *MS_KEYS, *PER_GPU_KEYS, *INTERACTIVITY_KEYS, *SERVER_KEYS))
INFERENCEX_RANGE_RATIO = 0.8  # InferenceX runs benchmark_serving with --random-range-ratio 0.8 (see the README)


@dataclass(frozen=True)
class PoolLayout:
    """One pool of a disaggregated run as published (InferenceX's ``prefill_*`` / ``decode_*`` keys): each
    worker's ``tp``, ``ep`` and attention data-parallelism, the pool's ``workers`` and its accelerators in all
    (``num_prefill_gpu`` / ``num_decode_gpu``)."""

    tp: int | None
    ep: int
    dp_attention: bool
    workers: int
    chips: int | None

    @property
    def chips_per_worker(self) -> int | None:
        """The pool's accelerators over its workers (None when the record does not give the pool's count)."""
        return self.chips // self.workers if self.chips is not None else None


@dataclass(frozen=True)
class ServingRecord:
    """One serving-benchmark run as published: what ran, how it was loaded, and its results (by the record's
    own result keys, in the record's units)."""

    id: str
    format: str  # "inferencex" (a run of InferenceX), "agg_bmk" (its keys, another run) or "vllm"
    hw: str
    instance: str | None
    chips: int | None
    model: str
    framework: str
    engine_version: str | None  # framework_version, or the container image's tag (vllm/vllm-openai:v0.11.2)
    precision: str
    spec_decoding: str
    acceptance_length: float | None  # speculative decoding: mean tokens per verification step, as published
    draft_tokens: int | None  # speculative decoding: tokens drafted per step (num_speculative_tokens)
    draft_model: str | None  # a separate draft model's Hugging Face id
    disagg: bool
    input_tokens: float  # mean prompt tokens
    output_tokens: float  # mean output tokens
    concurrency: int | None  # closed loop: clients
    request_rate: float | None  # open loop: requests per second
    tp: int | None
    ep: int
    dp: int  # independent replicas behind one endpoint
    dp_attention: bool
    max_num_seqs: int | None
    max_num_batched_tokens: int | None
    num_prompts: int | None
    results: tuple[tuple[str, float], ...]
    assumptions: tuple[str, ...]
    index: int  # position in its file
    # disaggregated runs: each pool's layout (InferenceX's prefill_* / decode_* keys); None when not given
    prefill: PoolLayout | None = None
    decode: PoolLayout | None = None
    multinode: bool = False  # is_multinode: the deployment spans instances

    @property
    def group(self) -> str:
        """hardware × engine, the unit left out in cross-validation."""
        return f"{self.hw}×{self.framework}"


@dataclass(frozen=True)
class RecordSet:
    """The records of one file, those skipped as malformed (with ``skip_bad_rows``), and the file's digest."""

    records: tuple[ServingRecord, ...]
    bad: tuple[tuple[str, str], ...]  # (record id or position, what is wrong)
    path: str
    sha256: str
    format: str


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key} must be a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{key} must be a number, got {value!r}") from None


def _int(raw: Mapping[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    number = _number(key, value)
    if not math.isfinite(number) or number < 1 or number != int(number):
        raise ValueError(f"{key} must be a positive whole number, got {value!r}")
    return int(number)


def _float(raw: Mapping[str, Any], key: str) -> float | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    number = _number(key, value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{key} must be a finite, non-negative number, got {value!r}")
    return number


def is_vllm(raw: Mapping[str, Any]) -> bool:
    """vLLM's --save-result: results in milliseconds and whole-server throughputs, no ``isl``."""
    return any(k in raw for k in MS_KEYS) and "isl" not in raw


def _record_id(raw: Mapping[str, Any], index: int) -> str:
    """The record's ``id``; else a stable one from what identifies the run."""
    if raw.get("id") not in (None, ""):
        return str(raw["id"])
    parts = [
        str(raw.get(k))
        for k in ("run_id", "hw", "framework", "model", "precision", "isl", "osl", "tp", "ep", "conc")
        if raw.get(k) not in (None, "")
    ]
    if raw.get("dp_attention") not in (None, "", False, "false"):
        parts.append("dpa")
    if raw.get("spec_decoding") not in (None, "", "none"):
        parts.append(str(raw["spec_decoding"]))
    if _bool(raw.get("disagg", False)):
        parts.append("disagg")
    return "/".join([*parts, f"#{index}"]) if parts else f"record #{index}"


def _inferencex_run(raw: Mapping[str, Any]) -> bool:
    """A run of InferenceX itself (its records carry the engine's container ``image`` or ``infmax_model_prefix``),
    so benchmarked as InferenceX benchmarks: lengths in [0.8·L, L], 10 prompts per client, max_num_seqs = conc."""
    return "image" in raw or "infmax_model_prefix" in raw


def _lengths(raw: Mapping[str, Any], vllm: bool, notes: list[str]) -> tuple[float, float]:
    """Mean prompt and output tokens."""
    if vllm:
        done = _int(raw, "completed")
        total_in, total_out = _float(raw, "total_input_tokens"), _float(raw, "total_output_tokens")
        if done and total_in and total_out:
            return total_in / done, total_out / done
        raise ValueError("needs completed, total_input_tokens and total_output_tokens (vLLM --save-result keys)")
    isl, osl = _float(raw, "isl"), _float(raw, "osl")
    if not isl or not osl:
        raise ValueError("needs isl and osl (prompt and output tokens)")
    ratio = _float(raw, "random_range_ratio")
    if ratio is None and "isl_std" not in raw and _inferencex_run(raw):
        ratio = INFERENCEX_RANGE_RATIO  # an InferenceX run: lengths uniform in [0.8·L, L]
    if ratio is not None and ratio < 1.0:
        notes.append(f"lengths uniform in [{ratio:g}·L, L]: means {(1 + ratio) / 2:g}·isl and ·osl")
        return isl * (1 + ratio) / 2, osl * (1 + ratio) / 2
    return isl, osl


def _engine_version(raw: Mapping[str, Any]) -> str | None:
    if raw.get("framework_version"):
        return str(raw["framework_version"]).strip()
    image = str(raw.get("image") or "")
    tag = image.rsplit(":", 1)[1] if ":" in image else ""
    return tag or None


def _acceptance_length(raw: Mapping[str, Any]) -> float | None:
    """``acceptance_length``: at least 1 token (the target's own token is always kept)."""
    tau = _float(raw, "acceptance_length")
    if tau is not None and tau < 1.0:
        raise ValueError(f"acceptance_length must be at least 1 token per verification step, got {tau!r}")
    return tau


def _pool(raw: Mapping[str, Any], pool: str) -> PoolLayout | None:
    """The ``pool`` (``prefill`` or ``decode``) of a disaggregated record, None when it gives none of its keys."""
    keys = (*(f"{pool}_{k}" for k in ("tp", "ep", "dp_attention", "num_workers")), f"num_{pool}_gpu")
    if all(raw.get(k) in (None, "") for k in keys):
        return None
    return PoolLayout(
        tp=_int(raw, f"{pool}_tp"),
        ep=_int(raw, f"{pool}_ep") or 1,
        dp_attention=_bool(raw.get(f"{pool}_dp_attention", False)),
        workers=_int(raw, f"{pool}_num_workers") or 1,
        chips=_int(raw, f"num_{pool}_gpu"),
    )


def parse_record(raw: Any, index: int) -> ServingRecord:
    """One record; a malformed one raises ``ValueError`` saying what is wrong."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"a record is a JSON object, got {type(raw).__name__}")
    vllm = is_vllm(raw)
    notes: list[str] = []
    inp, out = _lengths(raw, vllm, notes)
    conc = _int(raw, "max_concurrency" if vllm and "conc" not in raw else "conc")
    # vLLM writes request_rate "inf" when requests go out as fast as the concurrency allows (a closed loop)
    unbounded = str(raw.get("request_rate", "")).strip().lower() in ("inf", "infinity")
    rate = None if unbounded else _float(raw, "request_rate")
    if rate == 0:
        raise ValueError("request_rate must be positive")
    if conc is None and rate is None:
        raise ValueError("needs conc (closed-loop clients) or request_rate (an open loop)")
    results: list[tuple[str, float]] = []
    for key, value in raw.items():
        if key in RESULT_KEYS and value is not None:
            number = _float(raw, key)
            if number is not None:
                results.append((key, number))
    if not results:
        raise ValueError("has no result key (mean_ttft, mean_tpot, output_tput_per_gpu, mean_ttft_ms, ...)")
    hw = str(raw.get("hw") or raw.get("accelerator") or "").strip()
    return ServingRecord(
        id=_record_id(raw, index),
        format="vllm" if vllm else "inferencex" if _inferencex_run(raw) else "agg_bmk",
        hw=hw,
        instance=str(raw["instance"]).strip() if raw.get("instance") else None,
        chips=_int(raw, "chips"),
        model=str(raw.get("model") or raw.get("model_id") or "").strip(),
        framework=str(raw.get("framework") or raw.get("backend") or "").strip().lower(),
        engine_version=_engine_version(raw),
        precision=str(raw.get("precision") or "").strip().lower(),
        spec_decoding=str(raw.get("spec_decoding") or "none").strip().lower(),
        acceptance_length=_acceptance_length(raw),
        draft_tokens=_int(raw, "num_speculative_tokens" if "num_speculative_tokens" in raw else "draft_tokens"),
        draft_model=str(raw["draft_model"]).strip() if raw.get("draft_model") else None,
        disagg=_bool(raw.get("disagg", False)),
        input_tokens=inp,
        output_tokens=out,
        concurrency=conc,
        request_rate=rate if conc is None else None,
        tp=_int(raw, "tp"),
        ep=_int(raw, "ep") or 1,
        dp=_int(raw, "dp") or 1,
        dp_attention=_bool(raw.get("dp_attention", False)),
        max_num_seqs=_int(raw, "max_num_seqs"),
        max_num_batched_tokens=_int(raw, "max_num_batched_tokens"),
        num_prompts=_int(raw, "num_prompts"),
        results=tuple(results),
        assumptions=tuple(notes),
        index=index,
        prefill=_pool(raw, "prefill"),
        decode=_pool(raw, "decode"),
        multinode=_bool(raw.get("is_multinode", False)),
    )


def _documents(text: str, where: str) -> list[Any]:
    """A JSON list, one object, or JSON Lines."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as first:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        try:
            return [json.loads(ln) for ln in lines]
        except json.JSONDecodeError:
            raise ConfigError(
                f"{where}: not JSON ({first.msg} at line {first.lineno}); serving records are a JSON list "
                "(InferenceX agg_bmk.json), one object (vLLM --save-result) or JSON Lines",
                field="path",
            ) from None
    return doc if isinstance(doc, list) else [doc]


def looks_like_serving_records(path: str | Path) -> bool:
    """Whether ``path`` is a serving-benchmark JSON file (by name: .json, .jsonl, .json.gz)."""
    name = Path(path).name.lower()
    return name.endswith((".json", ".jsonl", ".json.gz", ".jsonl.gz"))


def parse_records(docs: list[Any], where: str, *, skip_bad_rows: bool = False) -> RecordSet:
    """Records from parsed JSON; a malformed one is an error naming it, or skipped and counted."""
    records: list[ServingRecord] = []
    bad: list[tuple[str, str]] = []
    for i, raw in enumerate(docs):
        try:
            records.append(parse_record(raw, i))
        except ValueError as exc:
            name = _record_id(raw, i) if isinstance(raw, Mapping) else f"record #{i}"
            if not skip_bad_rows:
                raise ConfigError(
                    f"{where}: record {name}: {exc}; fix it or pass skip_bad_rows to skip such records",
                    field="skip_bad_rows",
                ) from None
            bad.append((name, str(exc)))
    kinds = {r.format for r in records}
    return RecordSet(
        records=tuple(records),
        bad=tuple(bad),
        path=where,
        sha256="",
        format=kinds.pop() if len(kinds) == 1 else "mixed" if kinds else "none",
    )


def load_records(path: str | Path, *, skip_bad_rows: bool = False) -> RecordSet:
    """Read a serving-benchmark file (see the module docstring)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read serving records ({exc.strerror}); check the path", field="path") from None
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    parsed = parse_records(_documents(data.decode("utf-8-sig"), str(p)), str(p), skip_bad_rows=skip_bad_rows)
    return RecordSet(parsed.records, parsed.bad, str(p), hashlib.sha256(raw).hexdigest(), parsed.format)


def shipped_inferencex() -> RecordSet:
    """The 1,622 InferenceX runs shipped with the package (validate/data/inferencex/README.md)."""
    from importlib import resources

    return load_records(
        Path(str(resources.files("chipfleet.validate") / "data" / "inferencex" / "inferencex_runs.json.gz"))
    )


def shipped_datasets() -> dict[str, Path]:
    """The datasets shipped with the package by name: ``calibration`` (calibration.csv), ``inferencex`` (its runs)
    and each serving-record file under validate/data/serving by its stem (``nvidia_nim_h100_llama33_70b`` ...)."""
    from importlib import resources

    data = Path(str(resources.files("chipfleet.validate") / "data"))
    named = {"calibration": data / "calibration.csv", "inferencex": data / "inferencex" / "inferencex_runs.json.gz"}
    named.update({p.name.removesuffix(".json"): p for p in sorted((data / "serving").glob("*.json"))})
    return named


def resolve_dataset(data: str | Path) -> Path:
    """``data`` as a file: an existing path as given, else the shipped dataset of that name (:func:`shipped_datasets`).

    A value that is neither, and has no file suffix or folder, is taken as a misspelt name: the error lists the
    closest names. Anything else is returned as given, for its reader to report.
    """
    p = Path(data)
    named = shipped_datasets()
    if p.exists() or (str(data) not in named and (p.suffix or len(p.parts) > 1)):
        return p
    if str(data) in named:
        return named[str(data)]
    hint = did_you_mean(str(data), named)
    raise ConfigError(
        f"{str(data)!r} is neither a file nor a shipped dataset"
        + (f"; did you mean {', '.join(hint)}?" if hint else "")
        + f" The shipped datasets: {', '.join(named)}.",
        field="path",
    )
