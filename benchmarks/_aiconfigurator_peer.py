"""Asks NVIDIA AIConfigurator for its best serving configuration; the peer of chipfleet's serving planner.

Runs inside the benchmark's own virtual environment (``benchmarks/.venv-aiconfigurator``, with
``aiconfigurator==0.12.0`` and ``aiconfigurator-core==0.12.0``), never the project's: it imports
``aiconfigurator`` only, not chipfleet. Reads one JSON job from ``argv[1]`` (a JSON string, or a path to a
JSON file), or from stdin when no argument is given::

    {"model": "llama-3.1-8b", "system": "h100_sxm", "total_gpus": 8, "isl": 1024, "osl": 256,
     "ttft_ms": 1000, "tpot_ms": 50, "backend": "trtllm"}

Optional keys: ``precision`` ("auto", the checkpoint's own dtypes, default; "bf16"; "fp8", which sets the
modes AIConfigurator infers for an NVIDIA ModelOpt FP8 checkpoint: fp8_static GEMMs, FP8 KV cache, FP8
FMHA), ``backend_version`` (a perf-database version or "current"/"previous"/"next"; default current),
``database_mode`` ("SILICON", default, "HYBRID", "EMPIRICAL", "SOL"), ``disagg`` (also search
disaggregated serving; default true), ``agg_tp`` (a list of TP sizes the agg search may use, e.g. ``[2]`` to
match a published TP2 row; default 1, 2, 4, 8 with pp 1) and ``top_n`` (alternatives listed per mode; default 3).

Prints one JSON object on stdout and nothing else: the best aggregated configuration AIConfigurator picks
(and the best disaggregated one), with its predicted throughput and latencies, plus the package and
perf-database versions. All logging goes to stderr. On any error it prints ``{"error": "..."}`` and exits 1.

This is the programmatic form of ``aiconfigurator cli default``: one agg and one disagg Task built as
``aiconfigurator.cli.main.build_default_tasks`` builds them, run through the public
``aiconfigurator.cli.api.cli_exp`` (which, unlike ``cli_default``, accepts quant-mode overrides). Only model
configs shipped inside ``aiconfigurator_core/model_configs`` are accepted, so nothing is fetched from the
Hugging Face Hub; the perf databases are the parquet files shipped in ``aiconfigurator_core/systems/data``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from importlib import metadata, resources
from pathlib import Path
from typing import Any

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_var] = "1"
os.environ.setdefault("AICONFIGURATOR_LOG_LEVEL", "WARNING")
os.environ.setdefault("NO_COLOR", "1")

# Short names for the models this benchmark compares; any Hugging Face id shipped in
# aiconfigurator_core/model_configs is accepted as well.
MODEL_ALIASES: dict[str, str] = {
    "llama-3-8b": "meta-llama/Meta-Llama-3.1-8B",
    "llama-3.1-8b": "meta-llama/Meta-Llama-3.1-8B",
    "llama-3-70b": "meta-llama/Meta-Llama-3.1-70B",
    "llama-3.1-70b": "meta-llama/Meta-Llama-3.1-70B",
    "llama-3.1-70b-fp8": "nvidia/Llama-3.1-70B-Instruct-FP8",
    "llama-3-405b": "meta-llama/Meta-Llama-3.1-405B",
    "llama-3.1-405b": "meta-llama/Meta-Llama-3.1-405B",
}

# Task quant-mode fields per precision. "fp8" mirrors what AIConfigurator infers from an NVIDIA ModelOpt
# FP8 checkpoint (aiconfigurator_core.sdk.models.helpers._infer_quant_modes_from_raw_config).
PRECISIONS: dict[str, dict[str, str]] = {
    "auto": {},
    "bf16": {
        "gemm_quant_mode": "bfloat16",
        "moe_quant_mode": "bfloat16",
        "kvcache_quant_mode": "bfloat16",
        "fmha_quant_mode": "bfloat16",
    },
    "fp8": {
        "gemm_quant_mode": "fp8_static",
        "moe_quant_mode": "fp8",
        "kvcache_quant_mode": "fp8",
        "fmha_quant_mode": "fp8",
    },
}

REQUIRED_KEYS = ("model", "isl", "osl", "ttft_ms", "tpot_ms")


def _read_job(argv: list[str]) -> dict[str, Any]:
    if len(argv) > 1:
        arg = argv[1]
        text = Path(arg).read_text(encoding="utf-8") if not arg.lstrip().startswith("{") else arg
    else:
        text = sys.stdin.read()
    job = json.loads(text)
    if not isinstance(job, dict):
        raise ValueError("the job must be a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in job]
    if missing:
        raise ValueError(f"missing job keys: {', '.join(missing)}")
    return job


def _model_configs_dir() -> Path:
    return Path(str(resources.files("aiconfigurator_core") / "model_configs"))


def _shipped_models() -> list[str]:
    suffix = "_config.json"
    names = (p.name for p in _model_configs_dir().glob(f"*{suffix}") if not p.name.endswith("_hf_quant_config.json"))
    return sorted(name[: -len(suffix)].replace("--", "/", 1) for name in names)


def _resolve_model(name: str) -> str:
    hf_id = MODEL_ALIASES.get(name.lower(), name)
    if not (_model_configs_dir() / f"{hf_id.replace('/', '--')}_config.json").is_file():
        raise ValueError(
            f"model {name!r} is not shipped with aiconfigurator-core (offline only); "
            f"aliases: {sorted(MODEL_ALIASES)}; shipped Llama ids: "
            f"{[m for m in _shipped_models() if 'llama' in m.lower()]}"
        )
    return hf_id


def _check_system(system: str, backend: str, database_mode: str) -> None:
    """Fails early, with the list of shipped systems, where SILICON mode has no perf database to read."""
    from aiconfigurator_core.sdk.perf_database import get_supported_databases

    if database_mode != "SILICON":
        return
    supported: dict[str, dict[str, list[str]]] = get_supported_databases()
    if backend not in supported.get(system, {}):
        shipped = {name: sorted(backends) for name, backends in sorted(supported.items())}
        raise ValueError(f"no {backend} perf database for system {system!r}; shipped: {shipped}")


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Sends everything written to stdout, by Python or by the compiled engine, to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _experiments(job: dict[str, Any], model_path: str) -> dict[str, Any]:
    precision = str(job.get("precision", "auto")).lower()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    quant = PRECISIONS[precision]
    system = str(job.get("system", "h100_sxm"))
    backend = str(job.get("backend", "trtllm"))
    version = job.get("backend_version")
    common: dict[str, Any] = {
        "isl": int(job["isl"]),
        "osl": int(job["osl"]),
        "prefix": 0,
        "ttft": float(job["ttft_ms"]),
        "tpot": float(job["tpot_ms"]),
        "total_gpus": int(job.get("total_gpus", 8)),
        "database_mode": str(job.get("database_mode", "SILICON")).upper(),
    }
    agg: dict[str, Any] = {
        **common,
        "serving_mode": "agg",
        "model_path": model_path,
        "system_name": system,
        "backend_name": backend,
        "backend_version": version,
        **quant,
    }
    if job.get("agg_tp") is not None:
        tps = [int(tp) for tp in (job["agg_tp"] if isinstance(job["agg_tp"], list) else [job["agg_tp"]])]
        agg["agg_tp_candidates"] = tps
        agg["agg_num_gpu_candidates"] = tps  # dense models: GPUs per worker = tp x pp, pp = 1
    config: dict[str, Any] = {"exps": ["agg"], "agg": agg}
    if bool(job.get("disagg", True)) and common["total_gpus"] >= 2:
        disagg: dict[str, Any] = {**common, "serving_mode": "disagg"}
        for role in ("prefill", "decode"):
            disagg[f"{role}_model_path"] = model_path
            disagg[f"{role}_system_name"] = system
            disagg[f"{role}_backend_name"] = backend
            disagg[f"{role}_backend_version"] = version
            disagg.update({f"{role}_{key}": value for key, value in quant.items()})
        config["exps"].append("disagg")
        config["disagg"] = disagg
    return config


def _num(value: Any) -> float | int | None:
    """A JSON-safe number from a pandas cell."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else round(number, 3)


def _worker(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    keys = ("tp", "pp", "dp", "moe_tp", "moe_ep", "bs", "workers", "memory")
    worker: dict[str, Any] = {key: _num(row.get(f"{prefix}{key}")) for key in keys if f"{prefix}{key}" in row}
    if "memory" in worker:
        worker["memory_gb_per_gpu"] = worker.pop("memory")
    worker["precision"] = {key: row.get(f"{prefix}{key}") for key in ("gemm", "kvcache", "fmha", "moe", "comm")}
    return worker


def _summary(row: dict[str, Any], total_gpus: int, job: dict[str, Any]) -> dict[str, Any]:
    """The metrics common to agg and disagg rows; concurrency and rates are per replica in AIConfigurator."""
    gpus_per_replica = int(row["num_total_gpus"])
    replicas = total_gpus // gpus_per_replica if gpus_per_replica > 0 else 0
    ttft, tpot = float(row["ttft"]), float(row["tpot"])
    return {
        "gpus_per_replica": gpus_per_replica,
        "replicas": replicas,
        "total_gpus_used": gpus_per_replica * replicas,
        "concurrency_per_replica": _num(row.get("concurrency")),
        "concurrency_total": _num(float(row["concurrency"]) * replicas),
        "tokens_per_s_per_gpu": _num(row.get("tokens/s/gpu")),
        "tokens_per_s_per_gpu_cluster": _num(row.get("tokens/s/gpu_cluster")),
        "tokens_per_s_per_user": _num(row.get("tokens/s/user")),
        "tokens_per_s_total": _num(float(row["tokens/s"]) * replicas),
        "request_rate_total": _num(float(row["request_rate"]) * replicas),
        "ttft_ms": _num(ttft),
        "tpot_ms": _num(tpot),
        "request_latency_ms": _num(row.get("request_latency")),
        "meets_sla": ttft <= float(job["ttft_ms"]) and tpot <= float(job["tpot_ms"]),
    }


def _agg_result(row: dict[str, Any], total_gpus: int, job: dict[str, Any]) -> dict[str, Any]:
    worker = _worker(row)
    result = {key: worker.get(key) for key in ("tp", "pp", "dp")}
    result["batch_size"] = worker.get("bs")
    result["precision"] = worker["precision"]
    result["memory_gb_per_gpu"] = worker.get("memory_gb_per_gpu")
    result.update(_summary(row, total_gpus, job))
    result["backend_version"] = row.get("version")
    return result


def _disagg_result(row: dict[str, Any], total_gpus: int, job: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"prefill": _worker(row, "(p)"), "decode": _worker(row, "(d)")}
    result.update(_summary(row, total_gpus, job))
    result["backend_version"] = row.get("(p)version")
    return result


def _compact(entry: dict[str, Any]) -> dict[str, Any]:
    keys = ("tp", "batch_size", "replicas", "tokens_per_s_per_gpu", "tokens_per_s_per_user", "ttft_ms", "tpot_ms")
    out = {key: entry[key] for key in keys if key in entry}
    if "prefill" in entry:
        for role in ("prefill", "decode"):
            out[role] = {key: entry[role].get(key) for key in ("tp", "workers", "bs")}
    return out


def run(job: dict[str, Any]) -> dict[str, Any]:
    from aiconfigurator.cli.api import cli_exp

    model_path = _resolve_model(str(job["model"]))
    total_gpus = int(job.get("total_gpus", 8))
    top_n = int(job.get("top_n", 3))
    config = _experiments(job, model_path)
    with _stdout_to_stderr():
        _check_system(config["agg"]["system_name"], config["agg"]["backend_name"], config["agg"]["database_mode"])
    started = time.perf_counter()
    with _stdout_to_stderr():
        result = cli_exp(config=config, top_n=top_n)
    elapsed = time.perf_counter() - started

    out: dict[str, Any] = {
        "tool": "aiconfigurator",
        "aiconfigurator_version": metadata.version("aiconfigurator"),
        "aiconfigurator_core_version": metadata.version("aiconfigurator-core"),
        "model_path": model_path,
        "system": config["agg"]["system_name"],
        "backend": config["agg"]["backend_name"],
        "database_mode": config["agg"]["database_mode"],
        "precision_requested": str(job.get("precision", "auto")).lower(),
        "job": job,
    }
    for mode, convert in (("agg", _agg_result), ("disagg", _disagg_result)):
        if mode not in config:
            continue
        frame = result.best_configs.get(mode)
        if frame is None or frame.empty:
            outcome = result.outcomes.get(mode)
            reason = getattr(outcome, "error", None) or "no configuration found (see stderr)"
            if mode == "agg":
                raise RuntimeError(f"agg: {reason}")
            out[mode] = None
            out[f"{mode}_error"] = str(reason)
            continue
        rows = [convert(row, total_gpus, job) for row in frame.to_dict(orient="records")]
        out[mode] = rows[0]
        out[f"{mode}_top"] = [_compact(row) for row in rows]
    out["backend_version"] = out["agg"]["backend_version"]
    out["chosen_mode"] = result.chosen_exp
    out["elapsed_s"] = round(elapsed, 2)
    return out


def main(argv: list[str]) -> int:
    try:
        job = _read_job(argv)
        out = run(job)
    except BaseException as exc:  # the caller reads one JSON line whatever happens
        if isinstance(exc, KeyboardInterrupt):
            raise
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
