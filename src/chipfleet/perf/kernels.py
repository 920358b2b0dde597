"""Per-layer work that is not a weight matmul: element-wise HBM traffic and where attention runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
from numpy.typing import NDArray

from chipfleet.catalog import Precision
from chipfleet.workloads.models import ModelArch

# Overlap of host dispatch with device work: p-norm exponent of :func:`overlapped_s`. 1 would add the two
# (no overlap), infinity take the larger (perfect overlap). 3 has the lowest leave-one-TP-out error on
# SplitwiseSim's Llama-2-70B profiles of the exponents 2, 3, 4, 6 (benchmarks/splitwise_bench.py prints them).
OVERLAP_EXPONENT = 3.0

ACT_BYTES = 2.0  # activations are bf16 between kernels
FP8_CAST_BYTES = 3.0  # read a bf16 element, write its fp8 copy


def elementwise_bytes_per_token(model: ModelArch, precision: Precision) -> float:
    """Forward HBM traffic of one layer per token outside the weight matmuls (bytes), op by op.

    With ``q = a·d`` and ``kv = a_kv·d`` (bf16 activations, 2 bytes per element):

    - 2 norms, each reads and writes ``h``: ``8·h``
    - 2 residual adds, each reads ``2h`` and writes ``h``: ``12·h``
    - rotary embedding on q and k (rotary models), read + write: ``4·(q + kv)``
    - attention core (fused, FlashAttention-style) reads q, k, v and writes the output: ``2·(2q + 2kv)``
    - MLP activation per active expert: SwiGLU reads ``2f`` and writes ``f`` (``6·f``), GeLU reads and
      writes ``f`` (``4·f``)
    - FP8 (Transformer Engine-style): each linear input is cast bf16 → fp8 (3 bytes per element): the
      QKV and fc1 inputs (``h`` each), the output projection input (``q``) and fc2 input (``f`` per expert)

    Backward moves about twice the forward traffic. Our own op-by-op count; kernels that fuse more move less.
    """
    h, q, kv = model.hidden_size, model.n_heads * model.head_dim, model.n_kv_heads * model.head_dim
    k = model.experts_top_k
    f = model.ffn_size
    bytes_ = 8.0 * h + 12.0 * h + ACT_BYTES * (2 * q + 2 * kv)
    if not model.learned_position_embeddings:
        bytes_ += 4.0 * (q + kv)
    bytes_ += (6.0 if model.gated_mlp else 4.0) * f * k
    if precision is Precision.FP8:
        bytes_ += FP8_CAST_BYTES * (2 * h + q + f * k)
    return bytes_


# Attainable rate of a mixture-of-experts layer's routed-expert GEMMs (grouped GEMMs with the router, top-k,
# permute and un-permute kernels around them) as a fraction of a dense GEMM's at the same rows and precision.
# Fitted on the shipped InferenceX closed-loop runs (gpt-oss-120b, DeepSeek-R1; validate/data/inferencex, SemiAnalysis
# InferenceX nightly runs Dec 2025 - Jan 2026) by chipfleet.validate.serving.moe_fit.fit_grouped_gemm_fraction: least
# median APE of the prefill slope (mean TTFT of 8k prompts minus that of 1k prompts, same configuration, <= 16
# clients), which cancels what TTFT holds whatever the prompt; 0.2 on all runs (35 % slope error, 66 % at the dense
# rate), 0.15-0.25 in the folds that leave one hardware x engine group out. An estimate derived from those runs.
# Why it is not a tokens-per-expert effect: gpt-oss-120b on H100/H200 (vLLM, tp 2-8) prefills about 3x slower than
# the dense roofline both at 1k prompts (29 tokens per expert) and at 8k prompts (230 per expert, far past the
# GEMM half-rate rows), so the loss is a constant fraction, not an M/(M + M_half) one.
GROUPED_GEMM_FRACTION = 0.2


def routed_expert_flops_per_token(model: ModelArch) -> float:
    """FLOPs of the routed experts one token runs, ``2·k·P_expert·L_moe`` (0 for a dense model)."""
    if not model.is_moe:
        return 0.0
    return 2.0 * model.experts_top_k * model.params_mlp_per_expert * model.n_moe_layers


def routed_extra_flops_per_token(model: ModelArch, grouped_fraction: float = GROUPED_GEMM_FRACTION) -> float:
    """FLOPs one token adds, timed at the chip's attainable dense rate ``η_max·peak`` (not scaled by the
    small-batch fraction ``M/(M + M½)``), so the routed experts run at ``g`` of the dense rate once their GEMMs
    are compute-bound: ``(1/g − 1)·F_routed`` (:func:`routed_expert_flops_per_token`; ``g`` is
    :data:`GROUPED_GEMM_FRACTION`). A routed GEMM of ``n`` rows then takes
    ``F_routed·n/(η_max·peak)·(1/g + M½/n)``: slower where it computes (long prefills, large batches), the same
    where weight streaming bounds it (a small decode batch). 0 for a dense model."""
    return (1.0 / grouped_fraction - 1.0) * routed_expert_flops_per_token(model)


def attention_precision(precision: Precision) -> Precision:
    """Attention scores and mix run in bf16 even in FP8 and FP4 training and serving (FP8 and NVFP4/MXFP4 apply
    to the linear layers in Transformer Engine and TensorRT-LLM's default recipes); other precisions run as given."""
    narrow = (Precision.FP8, Precision.INT8, Precision.INT4, Precision.NVFP4, Precision.MXFP4)
    return Precision.BF16 if precision in narrow else precision


@dataclass(frozen=True)
class HostDispatch:
    """Host (CPU) time to issue one iteration's kernels when the engine runs eagerly, without CUDA graphs.

    An eager engine's Python and the driver launch every kernel of every layer, then schedule the batch and
    sample each sequence, so an iteration cannot finish before
    ``host_s = L·layer_s + n_seq·sequence_s + [prefill]·prefill_s``; the device works while the host issues,
    so the two overlap (:func:`overlapped_s`). Graph-captured engines (CUDA graphs, XLA, Neuron) replay a
    whole iteration at once and have no such floor: they leave it ``None``. The three times belong to an
    engine on a host CPU; :mod:`chipfleet.validate.splitwise` fits them on SplitwiseSim's profiles. ML.ENERGY
    reports the same mechanism in its measurements: at small batches CPU-side overheads bottleneck vLLM and
    raise energy per token (https://ml.energy/blog/measurement/energy/llm-inference-energy-a-longitudinal-analysis,
    read 2026-12-06).
    """

    layer_s: float
    sequence_s: float
    prefill_s: float
    overlap_exponent: float = OVERLAP_EXPONENT

    def time_s(self, layers: int, sequences: float, prefill: bool) -> float:
        """``L·layer_s + n_seq·sequence_s`` plus ``prefill_s`` when the iteration runs prompt tokens."""
        return layers * self.layer_s + sequences * self.sequence_s + (self.prefill_s if prefill else 0.0)


@overload
def overlapped_s(device_s: float, host_s: float, exponent: float = ...) -> float: ...
@overload
def overlapped_s(
    device_s: NDArray[np.float64], host_s: float | NDArray[np.float64], exponent: float = ...
) -> NDArray[np.float64]: ...
def overlapped_s(
    device_s: float | NDArray[np.float64], host_s: float | NDArray[np.float64], exponent: float = OVERLAP_EXPONENT
) -> float | NDArray[np.float64]:
    """Time of an iteration whose device work ``device_s`` overlaps host dispatch ``host_s``:
    ``(device^p + host^p)^(1/p)``, ``p = exponent``. A smooth maximum: the larger term dominates, and
    when both are alike the sum of each kernel's own maximum exceeds the maximum of the sums."""
    p = exponent
    both = np.power(np.power(device_s, p) + np.power(host_s, p), 1.0 / p)
    return both if isinstance(both, np.ndarray) else float(both)


# The eager serving stack SplitwiseSim's authors profiled in 2023 (no CUDA graphs), per server, keyed by the
# profiled chip: fitted on the Llama-2-70B runs (TP 2, 4, 8) of Mutinifni/splitwise-sim@8f99e7dc
# data/perf_model.csv (MIT; shipped in chipfleet/validate/data/splitwise, read 2026-12-06) by
# chipfleet.validate.splitwise.fit_per_hardware; benchmarks/splitwise_bench.py prints the fit and its
# leave-one-TP-out error. They hold for that engine on those servers' hosts, not for graph-captured engines.
SPLITWISE_HOST_DISPATCH: dict[str, HostDispatch] = {
    "a100-80gb": HostDispatch(layer_s=470.1e-6, sequence_s=392.5e-6, prefill_s=25.41e-3),  # DGX-A100
    "h100-80gb": HostDispatch(layer_s=301.5e-6, sequence_s=312.5e-6, prefill_s=17.35e-3),  # DGX-H100
}
