"""Times ``llm-analysis`` on a list of training configurations; run by ``benchmarks/plan_train.py``.

Runs inside the benchmark's own virtual environment (``benchmarks/.venv-llm-analysis``), never the project's:
it imports ``llm_analysis`` only, not chipfleet. Reads one JSON object on stdin::

    {"model": {ModelConfig fields}, "gpu": "a100-sxm-80gb", "seq_len": 4096, "global_batch": 1024,
     "repeats": 3, "configs": [[tp, pp, dp, micro_batch, zero_stage, recompute_level], ...]}

and prints one JSON object on stdout: the package version, the best wall time of ``repeats`` passes over all
the configurations, and per configuration whether it fits in memory and its modelled step time. Each
configuration is one ``LLMAnalysis(...)`` construction plus one ``.training(...)`` call, which is what the
package's own ``llm_analysis.analysis.train`` entry point does per configuration (minus its by-name config
lookup). The model config is passed in, so nothing is fetched from the Hugging Face Hub.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from importlib.metadata import version
from typing import Any


def main() -> int:
    req = json.load(sys.stdin)
    # llm_analysis logs through a logger literally named "__name__" (llm_analysis/logger.py) at INFO and
    # WARNING for every call; silence it. Its messages are still formatted (f-strings), as in normal use.
    logging.getLogger("__name__").setLevel(logging.CRITICAL)
    from llm_analysis.analysis import ActivationRecomputation, DSZeRO, LLMAnalysis
    from llm_analysis.config import DtypeConfig, ModelConfig, ParallelismConfig, get_gpu_config_by_name

    logging.getLogger("__name__").setLevel(logging.CRITICAL)
    model = ModelConfig(**req["model"])
    gpu = get_gpu_config_by_name(req["gpu"])
    dtype = DtypeConfig()  # w16a16e16: bf16/fp16 weights and activations
    seq_len, global_batch = int(req["seq_len"]), int(req["global_batch"])
    configs = [tuple(int(x) for x in c) for c in req["configs"]]

    def one(tp: int, pp: int, dp: int, mb: int, zero: int, rc: int) -> dict[str, Any]:
        analysis = LLMAnalysis(model, gpu, dtype, ParallelismConfig(tp_size=tp, pp_size=pp, dp_size=dp))
        out: dict[str, Any] = analysis.training(
            batch_size_per_gpu=mb,
            global_batch_size=global_batch,
            seq_len=seq_len,
            activation_recomputation=ActivationRecomputation(rc),
            ds_zero=DSZeRO(zero),
            flash_attn=True,
            mlp_gated_linear_units=True,
        )
        return out

    def run_all() -> tuple[list[dict[str, Any] | None], int]:
        results: list[dict[str, Any] | None] = []
        errors = 0
        for c in configs:
            try:
                results.append(one(*c))
            except Exception:  # an assertion in the package: counted, still timed
                results.append(None)
                errors += 1
        return results, errors

    run_all()  # warm-up
    best = float("inf")
    results: list[dict[str, Any] | None] = []
    errors = 0
    for _ in range(max(1, int(req.get("repeats", 3)))):
        t0 = time.perf_counter()
        results, errors = run_all()
        best = min(best, time.perf_counter() - t0)
    first = next((r for r in results if r is not None), None)
    json.dump(
        {
            "version": version("llm-analysis"),
            "n": len(configs),
            "best_s": best,
            "errors": errors,
            "num_params_total": first["num_params_total"] if first else None,
            "fits": [r is not None and r["memory_left_per_gpu"] >= 0 for r in results],
            "memory_per_gpu": [None if r is None else r["(weight+op_state+grad+act)_memory_per_gpu"] for r in results],
            "step_s": [None if r is None else r["latency_per_iter"] for r in results],
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
