"""Per-layer work that is not a weight matmul: element-wise HBM traffic and where attention runs."""

from __future__ import annotations

from chipfleet.catalog import Precision
from chipfleet.workloads.models import ModelArch

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


def attention_precision(precision: Precision) -> Precision:
    """Attention scores and mix run in bf16 even in FP8 training and serving (FP8 applies to the linear
    layers in Transformer Engine and TensorRT-LLM's default recipes); other precisions run as given."""
    return Precision.BF16 if precision in (Precision.FP8, Precision.INT8, Precision.INT4) else precision
