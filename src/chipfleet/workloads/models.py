"""Transformer architectures as frozen records: exact parameter counts, KV-cache size, attention FLOPs.

Notation (as in MODELING.md): ``L`` layers, ``h`` hidden size, ``a`` attention heads, ``a_kv`` key/value
heads, ``d`` head size, ``f`` FFN size (per expert), ``V`` vocabulary, ``E`` experts, ``k`` experts per
token. Parameter counts are exact integers: every weight matrix, bias vector and norm weight is counted,
so they match the tensor sizes of the published checkpoint (see ``published_params``).

Today's architectures add optional structure, each off by default so older records keep their counts:
mixture-of-experts layers with shared experts, leading dense layers and interleaving (DeepSeek, Llama 4),
multi-head latent attention (MLA: DeepSeek, Kimi), multi-token-prediction modules counted apart from the
served weights, sliding-window and chunked attention layers mixed with full attention (gpt-oss, Gemma,
Llama 4), attention sinks and Q/K norms, linear-attention layers (MiniMax's lightning attention, Qwen3-Next and
Qwen3.5's Gated DeltaNet) that keep a fixed state per sequence instead of a KV cache, and gated attention (an
output gate computed by the query projection: Qwen3-Next, Qwen3.5).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

SLUG_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
_SLUG = re.compile(SLUG_PATTERN)

ModelSlug = Annotated[str, Field(pattern=SLUG_PATTERN, description="lowercase slug: llama-3-70b")]

Family = Literal[
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "gpt2",
    "gpt3",
    "gptj",
    "gpt_neox",
    "opt",
    "bloom",
    "bert",
    "palm",
    "nemotron",
    "maxtext",
    "qwen3",
    "qwen2_moe",
    "qwen3_moe",
    "deepseek",
    "kimi",
    "gpt_oss",
    "llama4",
    "gemma2",
    "gemma3",
    "glm4_moe",
    "minimax",
    "qwen3_next",
    "qwen3_5",
    "qwen3_5_moe",
    "phi3",
]

AttentionKind = Literal["full", "sliding", "chunked", "linear"]
"""How far back a layer attends: every earlier token, the last ``sliding_window`` tokens, the tokens of its
own ``attention_chunk_size`` block (Llama 4's chunked local attention), or all of them through a fixed-size
state instead of a KV cache (``linear``: MiniMax's lightning attention or Gated DeltaNet, ``LinearAttention``)."""

LinearAttention = Literal["lightning", "gated_deltanet"]
"""Layout of a ``linear`` layer: MiniMax's lightning attention (``n_heads`` heads of ``head_dim``, a ``d × d``
state per head) or Gated DeltaNet (Yang et al. 2024; Qwen3-Next, Qwen3.5: ``linear_num_key_heads`` query/key
heads of ``linear_key_head_dim``, ``linear_num_value_heads`` value heads of ``linear_value_head_dim``, a short
causal convolution over Q, K and V, and a ``d_k × d_v`` state per value head)."""

ActiveConvention = Literal["all", "without_input_embedding", "without_embeddings"]
"""What a published active-parameter count includes: everything a token uses (Mixtral, Qwen, Llama 4), all
but the input embedding (gpt-oss, DeepSeek), or neither the input embedding nor the output head (GLM)."""

QKNorm = Literal["none", "head", "layer"]
"""Norms on queries and keys: none, one RMSNorm of size ``d`` shared by the heads (Qwen3, Gemma 3, GLM-4.5),
or one over the whole Q and K projections, ``(a + a_kv)·d`` weights (MiniMax-M2)."""

# Fields that describe a record (who, where from), not the network; ``ModelArch.architecture`` omits them.
RECORD_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "display_name",
        "family",
        "aliases",
        "published_params",
        "published_params_rounding",
        "published_params_active",
        "published_params_active_rounding",
        "published_active_counts",
        "params_vision",
        "native_weight_precision",
        "native_expert_weight_precision",
        "source",
        "as_of",
        "notes",
    }
)


# Upper bounds on a model's shape, so an absurd config.json (1e9 layers) is a clear error rather than an
# hour-long search or a meaningless price. Each is far above every published LLM (our choice, stated with
# the largest published figure it was checked against, 2026-12); raise a bound here if a real model needs it.
MODEL_SHAPE_LIMITS: dict[str, tuple[int, str]] = {
    "n_layers": (4096, "about 30× the deepest published LLMs (PaLM 540B: 118, Llama 3.1 405B: 126)"),
    "hidden_size": (1 << 20, "about 50× the widest published LLMs (PaLM 540B and Nemotron-4 340B: 18,432)"),
    "n_heads": (1 << 14, "about 64× the most published attention heads (Llama 3.1 405B and MaxText 1T: 128-256)"),
    "head_dim": (1 << 14, "far above published head sizes (64-256)"),
    "ffn_size": (1 << 22, "about 50× the widest published FFNs (PaLM 540B: 73,728)"),
    "vocab_size": (1 << 24, "about 64× the largest published vocabularies (~256k, PaLM, Gemma)"),
    "n_experts": (1 << 14, "8× the most experts published (Switch-C: 2,048)"),
    "kv_lora_rank": (1 << 16, "128× the published MLA latents (DeepSeek-V2/V3, Kimi-K2: 512)"),
    "max_position_embeddings": (1 << 27, "about 13× the longest advertised context (10M tokens, Llama 4 Scout)"),
}


class ModelArch(BaseModel):
    """One transformer architecture: shapes, which optional weights exist, and where the figures come from.

    Derived defaults (filled in when a field is omitted, or given as 0 / null):

    - ``n_kv_heads`` = ``n_heads`` (multi-head attention; fewer KV heads is grouped-query attention);
    - ``head_dim`` = ``hidden_size // n_heads`` (must divide exactly unless ``head_dim`` is given);
    - ``attention_out_bias`` = ``attention_bias`` (Qwen2 has Q/K/V biases but no output bias).

    Layer structure: pre-norm decoders have ``norms_per_layer=2`` and a ``final_norm``; GPT-J's parallel
    block shares one norm (``norms_per_layer=1``); BERT is post-norm with two norms per layer, a norm after
    the embeddings (``embedding_norm``) and none at the end. BERT is counted as ``BertModel`` (encoder plus
    pooler, no pre-training heads).

    Layers need not be alike. An MoE model's layer ``i`` has experts unless it is one of the
    ``first_k_dense_layers`` or off the ``moe_layer_interval`` (``layer_is_moe``); dense layers have an MLP of
    ``dense_ffn_size``, MoE layers ``n_experts`` routed experts of ``ffn_size`` and ``n_shared_experts`` of
    ``shared_expert_ffn_size``. Each layer's attention span follows ``attention_pattern`` (``layer_attention``).
    So ``params_layers`` sums the layers and ``params_per_layer`` is their mean. With MLA
    (``kv_lora_rank > 0``), ``head_dim`` is the query/key head ``qk_nope_head_dim + qk_rope_head_dim`` and the
    cache holds the latent. Counts against a model card: ``params_published_basis`` (plus a vision tower) and
    ``params_active_as_published`` (the card's convention); MTP modules: ``params_mtp``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # identity
    name: ModelSlug
    display_name: str = Field(min_length=1)
    family: Family
    kind: Literal["decoder", "encoder"]
    aliases: tuple[str, ...] = Field(default=(), description="other names get_model accepts (HF repo ids)")

    # shapes
    n_layers: PositiveInt
    hidden_size: PositiveInt
    n_heads: PositiveInt
    n_kv_heads: NonNegativeInt = Field(default=0, description="0 or omitted: n_heads")
    head_dim: NonNegativeInt = Field(default=0, description="0 or omitted: hidden_size // n_heads")
    ffn_size: PositiveInt = Field(description="FFN inner size f (per expert for MoE)")
    vocab_size: PositiveInt
    gated_mlp: bool = Field(description="gated unit (SwiGLU): 3·h·f weights; else 2·h·f")
    n_experts: PositiveInt = 1
    experts_top_k: PositiveInt = 1

    # mixture-of-experts structure (defaults: every layer is the same, no shared experts)
    n_shared_experts: NonNegativeInt = Field(default=0, description="experts every token uses, per MoE layer")
    shared_expert_ffn_size: NonNegativeInt = Field(default=0, description="0 or omitted: ffn_size")
    shared_expert_gate: bool = Field(default=False, description="a sigmoid gate h→1 on the shared expert (Qwen2-MoE)")
    dense_ffn_size: NonNegativeInt = Field(
        default=0, description="FFN size of the dense (non-MoE) layers of an MoE model; 0 or omitted: ffn_size"
    )
    first_k_dense_layers: NonNegativeInt = Field(default=0, description="leading dense layers (DeepSeek: 3)")
    moe_layer_interval: PositiveInt = Field(
        default=1, description="layer i (from 0) is MoE when (i+1) is a multiple of this (Llama 4 Maverick: 2)"
    )
    router_bias: bool = Field(default=False, description="router has a bias of E (gpt-oss; DeepSeek-V3's correction)")

    # multi-head latent attention (DeepSeek-V2/V3); kv_lora_rank 0 means ordinary attention
    kv_lora_rank: NonNegativeInt = Field(default=0, description="MLA: width of the cached KV latent")
    q_lora_rank: NonNegativeInt = Field(default=0, description="MLA: width of the query latent; 0 = full-rank Q")
    qk_rope_head_dim: NonNegativeInt = Field(default=0, description="MLA: rotary part of a query/key head")
    qk_nope_head_dim: NonNegativeInt = Field(default=0, description="MLA: non-rotary part of a query/key head")
    v_head_dim: NonNegativeInt = Field(default=0, description="MLA: value head size")

    # attention span per layer
    attention_pattern: tuple[AttentionKind, ...] = Field(
        default=(), description="kinds of layers 0, 1, ... repeated cyclically; empty: every layer full"
    )
    sliding_window: NonNegativeInt = Field(default=0, description="tokens a 'sliding' layer sees")
    attention_chunk_size: NonNegativeInt = Field(default=0, description="block size of a 'chunked' layer")
    attention_sinks: bool = Field(default=False, description="a learned sink logit per head and layer (gpt-oss)")
    qk_norm: QKNorm = "none"
    attention_output_gate: bool = Field(
        default=False, description="gated attention: the Q projection also yields a sigmoid gate of a·d (Qwen3.5)"
    )

    # linear-attention layers' layout (used by the 'linear' layers of attention_pattern)
    linear_attention: LinearAttention = "lightning"
    linear_num_key_heads: NonNegativeInt = Field(default=0, description="Gated DeltaNet: query/key heads")
    linear_num_value_heads: NonNegativeInt = Field(default=0, description="Gated DeltaNet: value heads (states)")
    linear_key_head_dim: NonNegativeInt = Field(default=0, description="Gated DeltaNet: query/key head size d_k")
    linear_value_head_dim: NonNegativeInt = Field(default=0, description="Gated DeltaNet: value head size d_v")
    linear_conv_kernel: NonNegativeInt = Field(default=0, description="Gated DeltaNet: causal conv1d width")

    # multi-token prediction modules (DeepSeek-V3, GLM-4.5): in the checkpoint, not in the served model
    mtp_layers: NonNegativeInt = Field(default=0, description="MTP modules; counted in params_mtp, not params_total")

    # embeddings and head
    tied_embeddings: bool = Field(description="output head shares the input embedding matrix")
    max_position_embeddings: PositiveInt
    learned_position_embeddings: bool
    position_embedding_offset: NonNegativeInt = Field(
        default=0, description="extra learned position rows (OPT stores max_position_embeddings + 2)"
    )
    type_vocab_size: NonNegativeInt = Field(default=0, description="token-type (segment) embeddings: BERT 2")
    embedding_norm: bool = Field(default=False, description="a norm right after the embeddings (BLOOM, BERT)")
    lm_head_bias: bool = Field(default=False, description="untied output head has a bias (GPT-J)")
    pooler: bool = Field(default=False, description="BERT pooler: dense h→h with bias")

    # layers
    norm: Literal["layernorm", "rmsnorm"]
    norms_per_layer: NonNegativeInt = Field(default=2, description="2 pre-norm; 4 with Gemma's post-norms")
    final_norm: bool = True
    attention_bias: bool = Field(description="biases on the Q, K, V (and by default O) projections")
    attention_out_bias: bool = Field(default=False, description="omitted: same as attention_bias")
    mlp_bias: bool
    parallel_attn_mlp: bool = Field(default=False, description="attention and MLP read the same input (GPT-J)")

    # provenance
    published_params: PositiveInt | None = Field(description="total parameter count the source states")
    published_params_rounding: PositiveInt = Field(
        default=1,
        description="the published count is rounded to a multiple of this: 1 for an exact count, "
        "10**9 for a nominal '13B', 10**8 for '175.0B'",
    )
    published_params_active: PositiveInt | None = Field(
        default=None, description="parameters per token the source states (MoE), if it states them"
    )
    published_params_active_rounding: PositiveInt = Field(
        default=1, description="the published active count is rounded (Qwen: truncated) to a multiple of this"
    )
    published_active_counts: ActiveConvention = Field(
        default="all", description="what the source's active count includes (params_active_as_published)"
    )
    params_vision: NonNegativeInt = Field(
        default=0, description="weights of a multimodal checkpoint's vision encoder and projector (not served for text)"
    )
    native_weight_precision: str = Field(
        default="", description="precision of the published checkpoint's weights: bf16, fp8, nvfp4, mxfp4"
    )
    native_expert_weight_precision: str = Field(
        default="", description="precision of its routed experts when it differs (gpt-oss: mxfp4); empty: the same"
    )
    source: str = Field(min_length=3, description="URL of the published config, model card or paper")
    as_of: str = Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
    notes: str = ""

    @model_validator(mode="before")
    @classmethod
    def _fill_derived_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        heads = out.get("n_heads")
        hidden = out.get("hidden_size")
        if not out.get("n_kv_heads"):
            out["n_kv_heads"] = heads
        nope, rope = out.get("qk_nope_head_dim"), out.get("qk_rope_head_dim")
        if out.get("kv_lora_rank") and not out.get("head_dim") and isinstance(nope, int) and isinstance(rope, int):
            out["head_dim"] = nope + rope  # an MLA query/key head is its non-rotary and rotary parts
        if not out.get("head_dim") and isinstance(heads, int) and isinstance(hidden, int) and heads > 0:
            if hidden % heads:
                raise ValueError(f"hidden_size {hidden} is not divisible by n_heads {heads}; give head_dim explicitly")
            out["head_dim"] = hidden // heads
        if out.get("attention_out_bias") is None:
            out["attention_out_bias"] = out.get("attention_bias", False)
        return out

    @model_validator(mode="after")
    def _check(self) -> ModelArch:
        for field_name, (limit, why) in MODEL_SHAPE_LIMITS.items():
            value = getattr(self, field_name)
            if value > limit:
                raise ValueError(
                    f"{field_name} = {value} is above chipfleet's ceiling of {limit} ({why}); "
                    "check the config, or raise MODEL_SHAPE_LIMITS if a real model needs more"
                )
        if self.n_kv_heads <= 0 or self.head_dim <= 0:
            raise ValueError("n_kv_heads and head_dim must be positive")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"n_heads {self.n_heads} must be a multiple of n_kv_heads {self.n_kv_heads} "
                "(each KV head serves a whole group of query heads)"
            )
        if self.experts_top_k > self.n_experts:
            raise ValueError(
                f"experts_top_k {self.experts_top_k} exceeds n_experts {self.n_experts}: a token cannot "
                "use more experts than exist"
            )
        if self.position_embedding_offset and not self.learned_position_embeddings:
            raise ValueError("position_embedding_offset only applies to learned_position_embeddings")
        if self.norms_per_layer > 4:
            raise ValueError(f"norms_per_layer is {self.norms_per_layer}; a block has at most 4 norms (Gemma)")
        self._check_structure()
        if self.lm_head_bias and self.tied_embeddings:
            raise ValueError("lm_head_bias needs an untied output head (tied_embeddings: false)")
        if self.kind == "encoder" and self.n_experts > 1:
            raise ValueError("mixture-of-experts encoders are not modeled")
        return self

    def _check_structure(self) -> None:
        """The optional MoE, MLA, attention-span and MTP fields are consistent with each other."""
        moe_only = {
            "n_shared_experts": self.n_shared_experts,
            "first_k_dense_layers": self.first_k_dense_layers,
            "router_bias": self.router_bias,
            "shared_expert_gate": self.shared_expert_gate,
        }
        for field_name, value in moe_only.items():
            if value and not self.is_moe:
                raise ValueError(f"{field_name} applies to mixture-of-experts models only (n_experts > 1)")
        if self.is_moe and self.n_moe_layers == 0:
            raise ValueError(
                f"no layer is MoE: first_k_dense_layers {self.first_k_dense_layers} and moe_layer_interval "
                f"{self.moe_layer_interval} leave none of the {self.n_layers} layers with experts"
            )
        mla = (self.q_lora_rank, self.qk_rope_head_dim, self.qk_nope_head_dim, self.v_head_dim)
        if self.is_mla:
            if not (self.qk_rope_head_dim and self.qk_nope_head_dim and self.v_head_dim):
                raise ValueError("MLA (kv_lora_rank > 0) needs qk_rope_head_dim, qk_nope_head_dim and v_head_dim")
            if self.head_dim != self.qk_rope_head_dim + self.qk_nope_head_dim:
                raise ValueError("with MLA, head_dim is qk_nope_head_dim + qk_rope_head_dim")
            if (
                self.attention_bias
                or self.qk_norm != "none"
                or self.attention_sinks
                or "linear" in self.attention_pattern
            ):
                raise ValueError(
                    "MLA is modeled without attention biases, Q/K norms, sinks or linear layers (as DeepSeek)"
                )
        elif any(mla):
            raise ValueError("q_lora_rank, qk_rope_head_dim, qk_nope_head_dim and v_head_dim need kv_lora_rank > 0")
        if "sliding" in self.attention_pattern and not self.sliding_window:
            raise ValueError("attention_pattern has 'sliding' layers: give sliding_window")
        if "chunked" in self.attention_pattern and not self.attention_chunk_size:
            raise ValueError("attention_pattern has 'chunked' layers: give attention_chunk_size")
        self._check_linear_layout()
        if self.mtp_layers and self.kind != "decoder":
            raise ValueError("mtp_layers apply to decoders only")

    def _check_linear_layout(self) -> None:
        """Gated DeltaNet needs its four shapes and a conv width, and value heads in whole groups per key head."""
        shapes = {
            "linear_num_key_heads": self.linear_num_key_heads,
            "linear_num_value_heads": self.linear_num_value_heads,
            "linear_key_head_dim": self.linear_key_head_dim,
            "linear_value_head_dim": self.linear_value_head_dim,
            "linear_conv_kernel": self.linear_conv_kernel,
        }
        if self.linear_attention == "lightning":
            given = [k for k, v in shapes.items() if v]
            if given:
                raise ValueError(f"{', '.join(given)} apply to linear_attention 'gated_deltanet' only")
            return
        missing = [k for k, v in shapes.items() if not v]
        if missing:
            raise ValueError(f"linear_attention 'gated_deltanet' needs {', '.join(missing)}")
        if self.linear_num_value_heads % self.linear_num_key_heads:
            raise ValueError(
                f"linear_num_value_heads {self.linear_num_value_heads} must be a multiple of linear_num_key_heads "
                f"{self.linear_num_key_heads} (each query/key head serves a whole group of value heads)"
            )
        if "linear" not in self.attention_pattern:
            raise ValueError("linear_attention 'gated_deltanet' needs 'linear' layers in attention_pattern")

    # ----------------------------------------------------------------- layer structure
    @property
    def is_mla(self) -> bool:
        """True for multi-head latent attention (``kv_lora_rank > 0``)."""
        return self.kv_lora_rank > 0

    def layer_is_moe(self, layer: int) -> bool:
        """Whether layer ``layer`` (from 0) has experts: past ``first_k_dense_layers`` and on the interval.

        Llama 4 and Qwen2-MoE's rule: layer ``i`` is MoE when ``(i + 1) % moe_layer_interval == 0``.
        """
        if not 0 <= layer < self.n_layers:
            raise ValueError(f"layer {layer} is outside 0..{self.n_layers - 1}")
        return self.is_moe and layer >= self.first_k_dense_layers and (layer + 1) % self.moe_layer_interval == 0

    @property
    def n_moe_layers(self) -> int:
        """Layers with experts: all of them for a uniform MoE (Mixtral), 58 of 61 for DeepSeek-V3."""
        return sum(self.layer_is_moe(i) for i in range(self.n_layers))

    @property
    def n_dense_layers(self) -> int:
        """Layers with one dense MLP: ``L − n_moe_layers``."""
        return self.n_layers - self.n_moe_layers

    def layer_attention(self, layer: int) -> AttentionKind:
        """The attention span of layer ``layer`` (from 0): ``attention_pattern[layer mod len]``, else full."""
        if not 0 <= layer < self.n_layers:
            raise ValueError(f"layer {layer} is outside 0..{self.n_layers - 1}")
        return self.attention_pattern[layer % len(self.attention_pattern)] if self.attention_pattern else "full"

    def layer_attention_counts(self) -> dict[AttentionKind, int]:
        """How many layers attend fully, through a sliding window, in chunks and linearly."""
        counts: dict[AttentionKind, int] = {"full": 0, "sliding": 0, "chunked": 0, "linear": 0}
        for i in range(self.n_layers):
            counts[self.layer_attention(i)] += 1
        return counts

    def _span_cap(self, kind: AttentionKind) -> int | None:
        """Most tokens a layer of this kind keeps and attends to; ``None`` for full attention (and linear,
        which keeps no tokens at all: see :meth:`linear_state_elements`)."""
        caps = {"sliding": self.sliding_window, "chunked": self.attention_chunk_size}
        return caps.get(kind)

    # ----------------------------------------------------------------- building blocks
    @property
    def is_moe(self) -> bool:
        """True for a mixture-of-experts model (more than one expert per MLP)."""
        return self.n_experts > 1

    @property
    def params_norm(self) -> int:
        """Weights of one norm: ``2·h`` for LayerNorm (scale and bias), ``h`` for RMSNorm (scale)."""
        return (2 if self.norm == "layernorm" else 1) * self.hidden_size

    @property
    def params_attention_per_layer(self) -> int:
        """Attention weights of one layer (the same in every layer).

        ``h·a·d`` (Q) + ``2·h·a_kv·d`` (K, V) + ``a·d·h`` (O), plus biases ``a·d + 2·a_kv·d`` on Q, K, V when
        ``attention_bias`` and ``h`` on O when ``attention_out_bias``; Q/K norms add ``2·d`` (per head) or
        ``(a + a_kv)·d`` (per layer), attention sinks ``a`` and an output gate (``attention_output_gate``: the Q
        projection is ``h·2·a·d``) ``h·a·d``. MLA (``r_q``, ``r_kv`` the latent ranks,
        ``d_n``, ``d_r``, ``d_v`` the head parts): Q ``h·r_q + r_q + r_q·a·(d_n + d_r)`` (or ``h·a·(d_n + d_r)``
        without a query latent), KV down ``h·(r_kv + d_r) + r_kv``, KV up ``r_kv·a·(d_n + d_v)``, O ``a·d_v·h``
        (the ``+ r`` terms are the latents' RMSNorms).
        """
        h, a = self.hidden_size, self.n_heads
        if self.is_mla:
            d_qk, r_q, r_kv = self.head_dim, self.q_lora_rank, self.kv_lora_rank
            q = h * r_q + r_q + r_q * a * d_qk if r_q else h * a * d_qk
            kv = h * (r_kv + self.qk_rope_head_dim) + r_kv + r_kv * a * (self.qk_nope_head_dim + self.v_head_dim)
            return q + kv + a * self.v_head_dim * h
        q, kv = a * self.head_dim, self.n_kv_heads * self.head_dim
        weights = h * q + 2 * h * kv + q * h
        biases = (q + 2 * kv if self.attention_bias else 0) + (h if self.attention_out_bias else 0)
        norms = {"none": 0, "head": 2 * self.head_dim, "layer": q + kv}[self.qk_norm]
        gate = h * q if self.attention_output_gate else 0
        return weights + biases + norms + gate + (a if self.attention_sinks else 0)

    @property
    def params_linear_attention_per_layer(self) -> int:
        """Weights of one lightning (linear) attention layer, MiniMax's layout: Q/K/V ``h·3·a·d``, output gate
        ``h·a·d``, output ``a·d·h`` and an RMSNorm of ``a·d`` (``MiniMaxLightningAttention``): ``5·h·a·d + a·d``.

        Gated DeltaNet (``Qwen3NextGatedDeltaNet``), with ``k = H_k·d_k``, ``v = H_v·d_v``: ``in_proj_qkvz``
        ``h·(2k + 2v)`` (Q, K, V and the output gate z), ``in_proj_ba`` ``h·2·H_v`` (β and the decay's input),
        the depthwise conv1d ``(2k + v)·K`` (no bias), ``A_log`` and ``dt_bias`` ``2·H_v``, the gated RMSNorm
        ``d_v`` (shared by the heads) and ``out_proj`` ``v·h``.
        """
        if self.linear_attention == "gated_deltanet":
            h, n_v = self.hidden_size, self.linear_num_value_heads
            k = self.linear_num_key_heads * self.linear_key_head_dim
            v = n_v * self.linear_value_head_dim
            projections = h * (2 * k + 2 * v) + h * 2 * n_v + v * h
            conv = self._linear_conv_channels * self.linear_conv_kernel
            return projections + conv + 2 * n_v + self.linear_value_head_dim
        width = self.n_heads * self.head_dim
        return 5 * self.hidden_size * width + width

    @property
    def params_attention_layers(self) -> int:
        """Attention weights of all layers: softmax layers at ``params_attention_per_layer``, linear ones at
        ``params_linear_attention_per_layer``."""
        linear = self.layer_attention_counts()["linear"]
        return (self.n_layers - linear) * self.params_attention_per_layer + linear * (
            self.params_linear_attention_per_layer
        )

    def _mlp(self, f: int) -> int:
        h = self.hidden_size
        if self.gated_mlp:
            return 3 * h * f + (2 * f + h if self.mlp_bias else 0)
        return 2 * h * f + (f + h if self.mlp_bias else 0)

    @property
    def params_mlp_per_expert(self) -> int:
        """MLP weights of one routed expert (the whole MLP of a dense model).

        Gated (SwiGLU): ``3·h·f``, plus biases ``2·f + h`` when ``mlp_bias``; otherwise ``2·h·f`` plus biases
        ``f + h``.
        """
        return self._mlp(self.ffn_size)

    @property
    def params_dense_mlp(self) -> int:
        """The MLP of a dense layer: ``params_mlp_per_expert`` at ``dense_ffn_size`` (else ``ffn_size``)."""
        return self._mlp(self.dense_ffn_size or self.ffn_size)

    @property
    def params_shared_experts_per_layer(self) -> int:
        """Shared experts of one MoE layer: ``n_shared`` × MLP at ``shared_expert_ffn_size``, + ``h`` gate."""
        if not self.n_shared_experts:
            return 0
        gate = self.hidden_size if self.shared_expert_gate else 0
        return self.n_shared_experts * self._mlp(self.shared_expert_ffn_size or self.ffn_size) + gate

    @property
    def params_router_per_layer(self) -> int:
        """MoE router (gate) of one MoE layer: ``h·E`` (+ ``E`` with ``router_bias``); 0 for a dense model."""
        if not self.is_moe:
            return 0
        return self.hidden_size * self.n_experts + (self.n_experts if self.router_bias else 0)

    @property
    def params_norms_per_layer(self) -> int:
        """Norm weights inside one layer: ``norms_per_layer`` × ``params_norm``."""
        return self.norms_per_layer * self.params_norm

    # ----------------------------------------------------------------- counts
    @property
    def params_moe_layer(self) -> int:
        """All weights of one MoE layer: attention + norms + ``E`` × expert + shared experts + router."""
        return (
            self.params_attention_per_layer
            + self.params_norms_per_layer
            + self.n_experts * self.params_mlp_per_expert
            + self.params_shared_experts_per_layer
            + self.params_router_per_layer
        )

    @property
    def params_moe_layer_active(self) -> int:
        """Weights of one MoE layer a token uses: attention + norms + ``k`` × expert + shared + router."""
        return (
            self.params_attention_per_layer
            + self.params_norms_per_layer
            + self.experts_top_k * self.params_mlp_per_expert
            + self.params_shared_experts_per_layer
            + self.params_router_per_layer
        )

    @property
    def params_dense_layer(self) -> int:
        """All weights of one dense layer: attention + norms + dense MLP."""
        return self.params_attention_per_layer + self.params_norms_per_layer + self.params_dense_mlp

    @property
    def params_layers(self) -> int:
        """Weights of all ``L`` layers: ``n_moe·moe_layer + n_dense·dense_layer`` (the ``*_layer`` figures have
        softmax attention; linear-attention layers swap theirs, ``params_attention_layers``)."""
        swap = self.params_attention_layers - self.n_layers * self.params_attention_per_layer
        return self.n_moe_layers * self.params_moe_layer + self.n_dense_layers * self.params_dense_layer + swap

    @property
    def params_layers_active(self) -> int:
        """Weights of all layers one token uses: ``n_moe·moe_layer_active + n_dense·dense_layer`` (+ the same
        swap of linear-attention layers as ``params_layers``)."""
        swap = self.params_attention_layers - self.n_layers * self.params_attention_per_layer
        active = self.n_moe_layers * self.params_moe_layer_active + self.n_dense_layers * self.params_dense_layer
        return active + swap

    @property
    def params_routed_experts(self) -> int:
        """Weights of every routed expert of every MoE layer, ``n_moe·E·P_expert``: the part a checkpoint may
        store in another precision (``native_expert_weight_precision``: gpt-oss's MXFP4) and that expert
        parallelism shards; ``params_total − params_routed_experts`` is the rest (bf16 for gpt-oss)."""
        return self.n_moe_layers * self.n_experts * self.params_mlp_per_expert if self.is_moe else 0

    @property
    def params_per_layer(self) -> float:
        """Weights of one layer, the mean over layers: ``params_layers / L`` (exact when every layer is alike)."""
        return self.params_layers / self.n_layers

    @property
    def params_per_layer_active(self) -> float:
        """Weights of one layer a token uses, the mean over layers: ``params_layers_active / L``."""
        return self.params_layers_active / self.n_layers

    @property
    def params_embedding(self) -> int:
        """Input embeddings: token ``V·h`` + learned positions ``(P + offset)·h`` + token types ``T·h``.

        ``P`` is ``max_position_embeddings`` when ``learned_position_embeddings`` (rotary and ALiBi models
        have none); the embedding norm is counted in ``params_outside_layers``, not here.
        """
        h = self.hidden_size
        positions = (
            (self.max_position_embeddings + self.position_embedding_offset) if self.learned_position_embeddings else 0
        )
        return (self.vocab_size + positions + self.type_vocab_size) * h

    @property
    def params_lm_head(self) -> int:
        """Output head: 0 when tied to the input embedding, else ``V·h`` (+ ``V`` bias for GPT-J)."""
        if self.tied_embeddings:
            return 0
        return self.vocab_size * self.hidden_size + (self.vocab_size if self.lm_head_bias else 0)

    @property
    def params_outside_layers(self) -> int:
        """Norms and pooler outside the layers: embedding norm + final norm + pooler ``h·h + h``."""
        norms = (int(self.embedding_norm) + int(self.final_norm)) * self.params_norm
        pooler = self.hidden_size * self.hidden_size + self.hidden_size if self.pooler else 0
        return norms + pooler

    @property
    def params_total(self) -> int:
        """All served parameters: ``embedding + layers + outside_layers + lm_head`` (every MoE expert).

        MTP modules are not served weights and are counted apart (``params_mtp``, ``params_checkpoint``).
        """
        return self.params_embedding + self.params_layers + self.params_outside_layers + self.params_lm_head

    @property
    def params_active(self) -> int:
        """Parameters one token uses: ``embedding + layers_active + outside_layers + lm_head``.

        Only the top-``k`` routed experts of each MoE layer count (shared experts and the router count);
        embeddings and the head count as for a dense model, which is the convention behind Mixtral's
        published 12.9B active (``published_active_counts`` says what a source's count leaves out). Equal to
        ``params_total`` for a dense model. FLOPs follow this count, memory follows
        ``params_total``.
        """
        return self.params_embedding + self.params_layers_active + self.params_outside_layers + self.params_lm_head

    @property
    def params_mtp(self) -> int:
        """Weights of the multi-token-prediction modules (DeepSeek-V3's layout), shared embedding/head excluded.

        Each module is one more decoder layer (an MoE layer when the model has experts) plus two input norms
        and the output norm (``3`` norms) and the projection ``2h → h`` (``2·h²``).
        """
        if not self.mtp_layers:
            return 0
        layer = self.params_moe_layer if self.is_moe else self.params_dense_layer
        return self.mtp_layers * (layer + 3 * self.params_norm + 2 * self.hidden_size * self.hidden_size)

    @property
    def params_checkpoint(self) -> int:
        """Parameters of the published checkpoint: ``params_total + params_mtp + params_vision``."""
        return self.params_total + self.params_mtp + self.params_vision

    @property
    def params_published_basis(self) -> int:
        """The total as model cards state it: served weights plus a multimodal checkpoint's vision tower."""
        return self.params_total + self.params_vision

    @property
    def params_active_without_embedding(self) -> int:
        """``params_active − embedding``: the active count as gpt-oss's and DeepSeek's model cards state it."""
        return self.params_active - self.params_embedding

    @property
    def params_active_as_published(self) -> int:
        """``params_active`` under the source's convention (``published_active_counts``)."""
        if self.published_active_counts == "without_input_embedding":
            return self.params_active_without_embedding
        if self.published_active_counts == "without_embeddings":
            head = self.params_lm_head or self.vocab_size * self.hidden_size
            return self.params_active_without_embedding - head
        return self.params_active

    def flops_per_token_forward(self, context_len: int, causal: bool = True) -> float:
        """Forward FLOPs of one token: ``2·(layers_active + V·h)`` for the matmuls plus attention.

        The ``2·N`` term counts the weights a token uses (the embedding lookup is no matmul, the output head
        is); attention is :meth:`attention_flops_per_token_forward`.
        """
        matmul = 2.0 * (self.params_layers_active + self.vocab_size * self.hidden_size)
        return matmul + self.attention_flops_per_token_forward(context_len, causal)

    # ----------------------------------------------------------------- inference quantities
    def kv_elements_per_token_per_layer(self, kv_heads: float | None = None) -> float:
        """Cached elements per token in one layer: ``2·a_kv·d`` (K and V), or MLA's ``r_kv + d_r``.

        ``kv_heads`` is the number of KV heads one shard stores (default ``a_kv``); MLA's latent and rotary
        key are shared by every head, so every tensor-parallel shard keeps the whole ``r_kv + d_r``.
        """
        if self.is_mla:
            return float(self.kv_lora_rank + self.qk_rope_head_dim)
        heads = self.n_kv_heads if kv_heads is None else kv_heads
        return 2.0 * heads * self.head_dim

    def kv_cache_elements_per_token(self, context_len: int | None = None, kv_heads: float | None = None) -> float:
        """Cached elements per token over all layers, the mean over a sequence of ``context_len`` tokens.

        ``Σ_layers e·min(c, cap)/c`` with ``e`` from :meth:`kv_elements_per_token_per_layer` and ``cap`` a
        sliding layer's window or a chunked layer's chunk (full layers: no cap). ``context_len`` ``None``
        (or 0): no cap, the figure for a sequence no longer than any window: ``L·e``.
        """
        e = self.kv_elements_per_token_per_layer(kv_heads)
        counts = self.layer_attention_counts()
        if not context_len:
            return (self.n_layers - counts["linear"]) * e
        if context_len < 0:
            raise ValueError(f"context_len must be non-negative, got {context_len}")
        total = self.linear_state_elements / context_len  # a linear layer's state, spread over the sequence
        for kind, count in counts.items():
            if kind != "linear":
                cap = self._span_cap(kind)
                total += count * e * (min(context_len, cap) / context_len if cap else 1.0)
        return total

    @property
    def linear_state_elements_per_layer(self) -> int:
        """Elements of the state one sequence keeps in one linear-attention layer, whatever its length.

        Lightning attention: a ``d × d`` key-value state per head, ``a·d·d``. Gated DeltaNet: a ``d_k × d_v``
        state per value head, ``H_v·d_k·d_v``, plus the causal convolution's last ``K − 1`` inputs of Q, K and
        V, ``(2·H_k·d_k + H_v·d_v)·(K − 1)`` (the ``conv_state`` vLLM and SGLang keep beside the
        ``ssm_state``); Qwen3.5-397B-A17B: 64·128·128 + 12,288·3 = 1,085,440.
        """
        if self.linear_attention == "gated_deltanet":
            state = self.linear_num_value_heads * self.linear_key_head_dim * self.linear_value_head_dim
            return state + self._linear_conv_channels * (self.linear_conv_kernel - 1)
        return self.n_heads * self.head_dim * self.head_dim

    @property
    def linear_state_elements(self) -> int:
        """Elements of the recurrent state one sequence keeps in all linear-attention layers, whatever its
        length: ``n_linear · linear_state_elements_per_layer``; 0 without linear layers."""
        return self.layer_attention_counts()["linear"] * self.linear_state_elements_per_layer

    @property
    def _linear_conv_channels(self) -> int:
        """Channels of Gated DeltaNet's causal convolution: Q, K and V, ``2·H_k·d_k + H_v·d_v``."""
        keys = self.linear_num_key_heads * self.linear_key_head_dim
        return 2 * keys + self.linear_num_value_heads * self.linear_value_head_dim

    def kv_cache_bytes_per_token(self, bytes_per_element: float, context_len: int | None = None) -> float:
        """Bytes of K and V cached per token over all layers: ``2·L·a_kv·d·bytes_per_element``.

        (Pope et al. 2022.) E.g. Llama-3-70B in bf16: 2·80·8·128·2 = 327,680 bytes. MLA caches the latent
        and the rotary key, ``L·(r_kv + d_r)·bytes`` (DeepSeek-V3 in bf16: 61·576·2 = 70,272 bytes); an FP8
        cache (1 byte) halves bf16 (2 bytes). With ``context_len``, sliding-window and chunked layers hold at
        most their window, so the mean per token falls as the context grows
        (:meth:`kv_cache_elements_per_token`). Meaningful for decoders; an encoder keeps no cache.
        """
        if bytes_per_element <= 0:
            raise ValueError(f"bytes_per_element must be positive, got {bytes_per_element}")
        return self.kv_cache_elements_per_token(context_len) * bytes_per_element

    def kv_cache_bytes(self, context_len: int, bytes_per_element: float) -> float:
        """Bytes of KV cache one sequence of ``context_len`` tokens holds: ``c`` × the mean per token."""
        if context_len < 0:
            raise ValueError(f"context_len must be non-negative, got {context_len}")
        return context_len * self.kv_cache_bytes_per_token(bytes_per_element, context_len or None)

    def _keys_attended(self, kind: AttentionKind, c: int, causal: bool) -> float:
        """Keys one token attends to in a layer of this kind (the mean over ``c`` positions when ``causal``).

        Full: ``c`` (causal ``c/2``). Sliding window ``W``: ``min(c, W)`` (causal: ``c/2`` up to ``W``, then
        ``W − W²/2c``). Chunks of ``C``: the position within its chunk, ``((c−1) mod C) + 1`` (causal, with
        ``c = n·C + r``: ``(n·C²/2 + r²/2)/c``).
        """
        cap = self._span_cap(kind)
        if c == 0:
            return 0.0
        if cap is None:
            return c / 2.0 if causal else float(c)
        if kind == "sliding":
            if not causal:
                return float(min(c, cap))
            return c / 2.0 if c <= cap else cap - cap * cap / (2.0 * c)
        if not causal:
            return float((c - 1) % cap + 1)
        n, r = divmod(c, cap)
        return (n * cap * cap / 2.0 + r * r / 2.0) / c

    def attention_flops_per_token_forward(self, context_len: int, causal: bool = True) -> float:
        """Forward attention FLOPs of one token: ``4·L·c·a·d``, halved for ``causal`` averaging.

        Counts ``QKᵀ`` (``2·a·d·c`` per layer: a multiply and an add per element) and ``softmax·V`` (the
        same), so ``2·2·L·c·a·d`` for a token that attends to ``c = context_len`` keys. The projections are
        in the ``2·N`` parameter term, not here; softmax and masking are not counted. In general each layer
        costs ``2·a·(d_qk + d_v)`` per key it attends to: MLA's heads have ``d_qk = d_n + d_r`` and
        ``d_v`` (counted unabsorbed, as engines run prefill); sliding-window and chunked layers attend to
        fewer keys (:meth:`_keys_attended`); a linear-attention layer costs a fixed amount per token at any
        context (:attr:`linear_flops_per_token_per_layer`).

        Convention for ``causal``:

        - ``causal=True`` (default): the average per token over a causally-masked sequence of length ``c``
          (prefill, training), where token ``i`` attends to ``i`` keys, so the mean is about ``c/2`` and the
          result is ``2·L·c·a·d``. Multiplied by ``c`` tokens it gives MODELING.md's prefill term
          ``2·L·c²·h`` (with ``a·d = h``). This assumes kernels that skip the masked half (FlashAttention);
          sources that count the full square (e.g. Kaplan's ``12·L·s·h`` for training) use ``causal=False``.
        - ``causal=False``: every token attends to all ``c`` keys: bidirectional encoders, the non-causal
          accounting, and one decode step with ``c`` tokens already in the KV cache.
        """
        if context_len < 0:
            raise ValueError(f"context_len must be non-negative, got {context_len}")
        d_v = self.v_head_dim if self.is_mla else self.head_dim
        per_key = 2.0 * self.n_heads * (self.head_dim + d_v)
        counts = self.layer_attention_counts()
        keys = sum(
            count * self._keys_attended(kind, context_len, causal)
            for kind, count in counts.items()
            if count and kind != "linear"
        )
        linear = counts["linear"] * self.linear_flops_per_token_per_layer if context_len else 0.0
        return per_key * keys + linear

    @property
    def linear_flops_per_token_per_layer(self) -> float:
        """Forward FLOPs of one token's state work in one linear layer, whatever the context.

        Lightning attention updates its ``d × d`` state per head and reads it with the query: ``2·2·a·d²``.
        Gated DeltaNet also reads the state with the key before its rank-1 delta update, so three
        ``d_k × d_v`` products per value head: ``3·2·H_v·d_k·d_v`` (the decay, the convolution and the gate
        are elementwise and not counted, like softmax).
        """
        if self.linear_attention == "gated_deltanet":
            return 6.0 * self.linear_num_value_heads * self.linear_key_head_dim * self.linear_value_head_dim
        return 4.0 * self.n_heads * self.head_dim * self.head_dim

    # ----------------------------------------------------------------- comparison
    def architecture(self) -> dict[str, Any]:
        """The fields that define the network (shapes and weights), without name, family or provenance."""
        return {k: v for k, v in self.model_dump().items() if k not in RECORD_FIELDS}


def is_slug(name: str) -> bool:
    """Whether ``name`` is a valid model slug (lowercase letters, digits, '.', '_', '-')."""
    return bool(_SLUG.match(name))
