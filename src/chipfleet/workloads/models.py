"""Transformer architectures as frozen records: exact parameter counts, KV-cache size, attention FLOPs.

Notation (as in MODELING.md): ``L`` layers, ``h`` hidden size, ``a`` attention heads, ``a_kv`` key/value
heads, ``d`` head size, ``f`` FFN size (per expert), ``V`` vocabulary, ``E`` experts, ``k`` experts per
token. Parameter counts are exact integers: every weight matrix, bias vector and norm weight is counted,
so they match the tensor sizes of the published checkpoint (see ``published_params``).
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
]

# Fields that describe a record (who, where from), not the network; ``ModelArch.architecture`` omits them.
RECORD_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "display_name",
        "family",
        "aliases",
        "published_params",
        "published_params_rounding",
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
    norms_per_layer: NonNegativeInt = 2
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
        if self.norms_per_layer > 2:
            raise ValueError(f"norms_per_layer is {self.norms_per_layer}; a block has at most 2 norms")
        if self.lm_head_bias and self.tied_embeddings:
            raise ValueError("lm_head_bias needs an untied output head (tied_embeddings: false)")
        if self.kind == "encoder" and self.n_experts > 1:
            raise ValueError("mixture-of-experts encoders are not modeled")
        return self

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
        """Attention weights of one layer.

        ``h·a·d`` (Q) + ``2·h·a_kv·d`` (K, V) + ``a·d·h`` (O), plus biases ``a·d + 2·a_kv·d`` on Q, K, V when
        ``attention_bias`` and ``h`` on O when ``attention_out_bias``.
        """
        h, q, kv = self.hidden_size, self.n_heads * self.head_dim, self.n_kv_heads * self.head_dim
        weights = h * q + 2 * h * kv + q * h
        biases = (q + 2 * kv if self.attention_bias else 0) + (h if self.attention_out_bias else 0)
        return weights + biases

    @property
    def params_mlp_per_expert(self) -> int:
        """MLP weights of one expert (the whole MLP of a dense model).

        Gated (SwiGLU): ``3·h·f``, plus biases ``2·f + h`` when ``mlp_bias``; otherwise ``2·h·f`` plus biases
        ``f + h``.
        """
        h, f = self.hidden_size, self.ffn_size
        if self.gated_mlp:
            return 3 * h * f + (2 * f + h if self.mlp_bias else 0)
        return 2 * h * f + (f + h if self.mlp_bias else 0)

    @property
    def params_router_per_layer(self) -> int:
        """MoE router (gate) of one layer: ``h·E`` without bias, as in Mixtral; 0 for a dense model."""
        return self.hidden_size * self.n_experts if self.is_moe else 0

    @property
    def params_norms_per_layer(self) -> int:
        """Norm weights inside one layer: ``norms_per_layer`` × ``params_norm``."""
        return self.norms_per_layer * self.params_norm

    # ----------------------------------------------------------------- counts
    @property
    def params_per_layer(self) -> int:
        """All weights of one layer: attention + norms + ``E`` × MLP + router."""
        return (
            self.params_attention_per_layer
            + self.params_norms_per_layer
            + self.n_experts * self.params_mlp_per_expert
            + self.params_router_per_layer
        )

    @property
    def params_per_layer_active(self) -> int:
        """Weights of one layer that one token uses: attention + norms + ``k`` × MLP + router."""
        return (
            self.params_attention_per_layer
            + self.params_norms_per_layer
            + self.experts_top_k * self.params_mlp_per_expert
            + self.params_router_per_layer
        )

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
        """All parameters: ``embedding + L·per_layer + outside_layers + lm_head`` (every MoE expert)."""
        return (
            self.params_embedding
            + self.n_layers * self.params_per_layer
            + self.params_outside_layers
            + self.params_lm_head
        )

    @property
    def params_active(self) -> int:
        """Parameters one token uses: ``embedding + L·per_layer_active + outside_layers + lm_head``.

        Only the top-``k`` experts of each MoE layer count (the router counts); embeddings and the head count
        as for a dense model, which is the convention behind Mixtral's published 12.9B active. Equal to
        ``params_total`` for a dense model. FLOPs follow this count, memory follows ``params_total``.
        """
        return (
            self.params_embedding
            + self.n_layers * self.params_per_layer_active
            + self.params_outside_layers
            + self.params_lm_head
        )

    # ----------------------------------------------------------------- inference quantities
    def kv_cache_bytes_per_token(self, bytes_per_element: float) -> float:
        """Bytes of K and V cached per token over all layers: ``2·L·a_kv·d·bytes_per_element``.

        (Pope et al. 2022.) E.g. Llama-3-70B in bf16: 2·80·8·128·2 = 327,680 bytes. Meaningful for decoders;
        an encoder keeps no cache between requests.
        """
        if bytes_per_element <= 0:
            raise ValueError(f"bytes_per_element must be positive, got {bytes_per_element}")
        return 2.0 * self.n_layers * self.n_kv_heads * self.head_dim * bytes_per_element

    def attention_flops_per_token_forward(self, context_len: int, causal: bool = True) -> float:
        """Forward attention FLOPs of one token: ``4·L·c·a·d``, halved for ``causal`` averaging.

        Counts ``QKᵀ`` (``2·a·d·c`` per layer: a multiply and an add per element) and ``softmax·V`` (the
        same), so ``2·2·L·c·a·d`` for a token that attends to ``c = context_len`` keys. The projections are
        in the ``2·N`` parameter term, not here; softmax and masking are not counted.

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
        full = 2.0 * 2.0 * self.n_layers * context_len * self.n_heads * self.head_dim
        return full / 2.0 if causal else full

    # ----------------------------------------------------------------- comparison
    def architecture(self) -> dict[str, Any]:
        """The fields that define the network (shapes and weights), without name, family or provenance."""
        return {k: v for k, v in self.model_dump().items() if k not in RECORD_FIELDS}


def is_slug(name: str) -> bool:
    """Whether ``name`` is a valid model slug (lowercase letters, digits, '.', '_', '-')."""
    return bool(_SLUG.match(name))
