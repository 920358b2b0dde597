"""Planner speed benchmark: training configurations evaluated per second, next to ``llm-analysis``.

Prints, in one run:

* the wall time of one full ``chipfleet.plan.train`` over every catalog instance type for Llama 3 70B (the
  target is under 2 s) and the configurations per second it evaluates;
* the rate of chipfleet's bulk evaluator (:func:`chipfleet.perf.training_batch.evaluate`) on a fixed set of
  configurations: every split chipfleet's grid holds for 16 × p4de.24xlarge (128 × A100 80GB) without
  pipeline interleaving (llm-analysis has no such knob), i.e. each (tp, pp, dp, micro-batch, ZeRO stage,
  recompute mode);
* the per-configuration rate of the ``llm-analysis`` package (PyPI ``llm-analysis``, cli99/llm-analysis) on
  exactly those configurations, and the ratio.

llm-analysis is installed from PyPI into the benchmark's own virtual environment
(``benchmarks/.venv-llm-analysis``, created on the first run and reused after) and timed in a subprocess with
that environment's Python (``benchmarks/_llm_analysis_peer.py``); it is never installed into the project's
environment. It runs offline: the model config is passed in, derived from chipfleet's own ``llama-3-70b``,
and the GPU config (``a100-sxm-80gb``) ships inside the package. If it cannot be installed or run, the
benchmark says why and still prints chipfleet's figures.

Run: ``.venv/bin/python benchmarks/plan_train.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _peer_venv import PeerVenv

from chipfleet import plan
from chipfleet.catalog import Precision, default_catalog
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.training import flops_per_token_parts, split_grid
from chipfleet.perf.training_batch import RECOMPUTE_CODES, elementwise, evaluate, peaks
from chipfleet.workloads import ModelArch, get_model

HERE = Path(__file__).resolve().parent
PEER_SCRIPT = HERE / "_llm_analysis_peer.py"
PEER_PACKAGE = "llm-analysis"

MODEL = "llama-3-70b"
TOKENS = 2e12
SEQ_LEN = 4096
INSTANCE = "p4de.24xlarge"  # 8 × A100 SXM 80GB
PEER_GPU = "a100-sxm-80gb"  # llm_analysis/gpu_configs/a100-sxm-80gb.json
INSTANCES = 16  # 128 GPUs
TARGET_S = 2.0

# chipfleet recompute code -> llm-analysis ActivationRecomputation level (llm_analysis/analysis.py:
# NONE = 0, SELECTIVE = 1 (Korthikanti et al.: recompute the attention core), FULL = 2 (store each layer's
# input, re-run its forward)). chipfleet's modes are the same three, so the mapping is the identity.
RECOMPUTE_TO_PEER = {
    RECOMPUTE_CODES["none"]: 0,
    RECOMPUTE_CODES["selective"]: 1,
    RECOMPUTE_CODES["full"]: 2,
}
# ZeRO stages map one to one onto llm-analysis's DSZeRO (0-3); chipfleet's grid uses 1 and 3.


def _rate(n: float, seconds: float) -> str:
    r = n / seconds
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if r >= div:
            return f"{r / div:.3g}{suffix}"
    return f"{r:.3g}"


def best_of(fn: Callable[[], Any], repeats: int = 3, number: int = 1) -> float:
    """Warm up once, then the best of ``repeats`` mean times of ``number`` calls (seconds per call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def peer_model_config(model: ModelArch) -> dict[str, Any]:
    """llm-analysis ``ModelConfig`` fields for a chipfleet model (passed in, so no Hugging Face download).

    llm-analysis counts 2·h·ffn MLP weights and FLOPs (two matrices, no gate), so a gated (SwiGLU) MLP is given
    as ``ffn = 1.5 × ffn_size``, which makes its weights and FLOPs those of the three matrices.
    """
    ffn = model.ffn_size * (1.5 if model.gated_mlp else 1.0)
    return {
        "name": model.name,
        "num_layers": model.n_layers,
        "n_head": model.n_heads,
        "hidden_dim": model.hidden_size,
        "vocab_size": model.vocab_size,
        "max_seq_len": model.max_position_embeddings,
        "num_key_value_heads": model.n_kv_heads,
        "ffn_embed_dim": int(ffn),
        "expansion_ratio": ffn / model.hidden_size,
        "model_type": model.family,
    }


# ----------------------------------------------------------------------------- the peer's environment
PEER = PeerVenv(".venv-llm-analysis", (PEER_PACKAGE,), "llm_analysis.analysis", install_timeout_s=150.0)


def run_peer(request: dict[str, Any]) -> dict[str, Any]:
    return PEER.run(PEER_SCRIPT, request, timeout_s=120.0)


# ----------------------------------------------------------------------------- the benchmark
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-peer", action="store_true", help="skip llm-analysis (chipfleet's figures only)")
    args = ap.parse_args()

    model = get_model(MODEL)
    catalog = default_catalog()

    # 1. One full plan over every catalog instance type.
    last: list[plan.TrainPlan] = []

    def full_plan() -> None:
        last[:] = [plan.train(model, TOKENS, catalog=catalog, seq_len=SEQ_LEN)]

    plan_s = best_of(full_plan, repeats=3, number=1)
    p = last[0]
    verdict = "met" if plan_s < TARGET_S else "NOT met"
    print(
        f"chipfleet full plan ({MODEL}, all instance types): {p.evaluated} configs in {plan_s:.2f} s "
        f"= {_rate(p.evaluated, plan_s)} configs/s  [target < {TARGET_S:g} s: {verdict}]"
    )

    # 2. The bulk evaluator on a fixed set: 16 × p4de.24xlarge, every split without interleaving (vp = 1).
    inst = catalog.instance(INSTANCE)
    hw = hardware_for(catalog, inst)
    global_batch = p.global_batch
    grid = split_grid(model, hw, INSTANCES, SEQ_LEN)
    keep = (grid.vp == 1) & (grid.cp == 1) & (grid.ep == 1)
    splits = grid.take(keep)
    peak, attn_peak = peaks(hw, Precision.BF16)
    ew = elementwise(model, Precision.BF16)
    fpt = flops_per_token_parts(model, SEQ_LEN)

    def bulk() -> Any:
        return evaluate(model, hw, splits, INSTANCES, SEQ_LEN, global_batch, peak, attn_peak, ew, fpt)

    n = len(splits)
    bulk_s = best_of(bulk, repeats=3, number=max(1, 20_000 // n))
    res = bulk()
    cf_fits = res.valid & res.fits
    gpus = INSTANCES * hw.chips_per_instance
    label = f"{INSTANCES} × {INSTANCE}, {gpus} GPUs, bf16, seq {SEQ_LEN}, batch {global_batch}"
    print(
        f"chipfleet bulk evaluator ({n} configs: {label}): {n} configs in {bulk_s * 1e3:.2f} ms "
        f"= {_rate(n, bulk_s)} configs/s"
    )

    # 3. llm-analysis on exactly those configurations.
    if args.no_peer:
        print("llm-analysis: skipped (--no-peer); no comparison")
        return 0
    why = PEER.ensure()
    peer: dict[str, Any] | None = None
    if why is None:
        configs = [
            [int(splits.tp[i]), int(splits.pp[i]), int(splits.dp[i]), int(splits.micro_batch[i]),
             int(splits.zero[i]), RECOMPUTE_TO_PEER[int(splits.recompute[i])]]
            for i in range(n)
        ]  # fmt: skip
        request = {
            "model": peer_model_config(model),
            "gpu": PEER_GPU,
            "seq_len": SEQ_LEN,
            "global_batch": global_batch,
            "repeats": 3,
            "configs": configs,
        }
        try:
            peer = run_peer(request)
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
            why = str(e)
    if peer is None:
        print(f"llm-analysis: NOT RUN, no comparison: {why}")
        return 0

    peer_s = peer["best_s"]
    per = peer_s / peer["n"]
    print(
        f"llm-analysis {peer['version']} (same {peer['n']} configs, {PEER_GPU}, one LLMAnalysis + .training() each): "
        f"{peer['n']} configs in {peer_s:.2f} s = {_rate(peer['n'], peer_s)} configs/s ({per * 1e3:.2f} ms/config)"
        + (f"; {peer['errors']} raised" if peer["errors"] else "")
    )
    peer_rate = peer["n"] / peer_s
    print(f"ratio chipfleet bulk / llm-analysis: {(n / bulk_s) / peer_rate:,.0f}x")
    print(f"ratio chipfleet full plan / llm-analysis: {(p.evaluated / plan_s) / peer_rate:,.0f}x")

    # Not a speed figure: how the two models' verdicts on the same configurations compare.
    la_fits = np.array(peer["fits"], dtype=bool)
    both = int((cf_fits & la_fits).sum())
    print(
        f"fit in memory (same {n} configs): chipfleet {int(cf_fits.sum())} (of {int(res.valid.sum())} valid), "
        f"llm-analysis {int(la_fits.sum())}, both {both}; params counted: chipfleet "
        f"{model.params_total / 1e9:.1f}B, llm-analysis {peer['num_params_total'] / 1e9:.1f}B"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
