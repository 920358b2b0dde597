"""A small decoder-only transformer in plain PyTorch, built from a :class:`ModelArch` (random weights).

The same :class:`ModelArch` feeds chipfleet's performance model, so the network timed here is the network
predicted there: every weight the record counts exists here and nothing else does
(:func:`count_parameters` equals ``ModelArch.params_total``; the tests check it).

Supported: pre-norm decoders with RMSNorm or LayerNorm, rotary positions (or learned positions), grouped-query
attention through ``scaled_dot_product_attention``, SwiGLU or GELU MLPs, optional biases, tied or untied head.
Not supported (raises :class:`ConfigError`): encoders, mixture-of-experts, GPT-J's parallel block, embedding
norms, token-type embeddings and poolers.

Imported only by :mod:`chipfleet.validate.local.check`, and only when PyTorch is installed (``chipfleet[torch]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from chipfleet.exceptions import ConfigError
from chipfleet.workloads.models import ModelArch

ROPE_THETA = 10_000.0


def check_buildable(arch: ModelArch) -> None:
    """Raise :class:`ConfigError` naming the first feature of ``arch`` this builder does not implement."""
    unsupported = {
        "an encoder (kind: encoder)": arch.kind != "decoder",
        "mixture-of-experts (n_experts > 1)": arch.is_moe,
        "a parallel attention/MLP block (parallel_attn_mlp)": arch.parallel_attn_mlp,
        "an embedding norm (embedding_norm)": arch.embedding_norm,
        "token-type embeddings (type_vocab_size)": arch.type_vocab_size > 0,
        "a pooler": arch.pooler,
        "a block without two norms (norms_per_layer != 2)": arch.norms_per_layer != 2,
        "multi-head latent attention (kv_lora_rank)": arch.is_mla,
        "sliding-window or chunked attention layers (attention_pattern)": any(
            kind != "full" for kind in arch.attention_pattern
        ),
        "attention sinks (attention_sinks)": arch.attention_sinks,
        "query/key norms (qk_norm)": arch.qk_norm != "none",
    }
    for what, present in unsupported.items():
        if present:
            raise ConfigError(
                f"{arch.name} has {what}, which the local validation model does not build; "
                f"use a Llama-style decoder (the default of validate_local)"
            )


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x²) + ε) · w`` (Zhang & Sennrich 2019): ``h`` weights."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def _norm(arch: ModelArch) -> nn.Module:
    return RMSNorm(arch.hidden_size) if arch.norm == "rmsnorm" else nn.LayerNorm(arch.hidden_size)


@dataclass
class KVCache:
    """Preallocated keys and values of every layer: ``[layers, batch, kv_heads, max_len, head_dim]`` each."""

    keys: Tensor
    values: Tensor
    length: int = 0

    @classmethod
    def empty(cls, arch: ModelArch, batch: int, max_len: int, dtype: torch.dtype, device: torch.device) -> KVCache:
        shape = (arch.n_layers, batch, arch.n_kv_heads, max_len, arch.head_dim)
        return cls(
            keys=torch.empty(shape, dtype=dtype, device=device),
            values=torch.empty(shape, dtype=dtype, device=device),
        )


def _rope_tables(head_dim: int, max_len: int, device: torch.device) -> tuple[Tensor, Tensor]:
    inv = 1.0 / (ROPE_THETA ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(max_len, device=device, dtype=torch.float32), inv)
    return angles.cos(), angles.sin()


def _apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate pairs (first half, second half) of the head dimension, as Llama's ``rotate_half``."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c = cos.to(x.dtype)
    s = sin.to(x.dtype)
    return torch.cat((x1 * c - x2 * s, x2 * c + x1 * s), dim=-1)


class Attention(nn.Module):
    def __init__(self, arch: ModelArch) -> None:
        super().__init__()
        h, a, kv, d = arch.hidden_size, arch.n_heads, arch.n_kv_heads, arch.head_dim
        self.n_heads, self.n_kv_heads, self.head_dim = a, kv, d
        self.wq = nn.Linear(h, a * d, bias=arch.attention_bias)
        self.wk = nn.Linear(h, kv * d, bias=arch.attention_bias)
        self.wv = nn.Linear(h, kv * d, bias=arch.attention_bias)
        self.wo = nn.Linear(a * d, h, bias=arch.attention_out_bias)

    def forward(
        self, x: Tensor, rope: tuple[Tensor, Tensor] | None, cache: KVCache | None, layer: int, start: int
    ) -> Tensor:
        b, s, _ = x.shape
        q = self.wq(x).view(b, s, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(b, s, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(b, s, self.n_kv_heads, self.head_dim).transpose(1, 2)
        if rope is not None:
            cos, sin = rope[0][start : start + s], rope[1][start : start + s]
            q, k = _apply_rope(q, cos, sin), _apply_rope(k, cos, sin)
        if cache is not None:
            cache.keys[layer, :, :, start : start + s] = k
            cache.values[layer, :, :, start : start + s] = v
            k = cache.keys[layer, :, :, : start + s]
            v = cache.values[layer, :, :, : start + s]
        # One new token attends to every cached key (no mask); a prompt from position 0 is causal.
        causal = s > 1
        if causal and start != 0:
            raise ConfigError("chunked prefill onto a non-empty cache is not implemented")
        gqa = self.n_kv_heads != self.n_heads
        mixed = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)
        out: Tensor = self.wo(mixed.transpose(1, 2).reshape(b, s, self.n_heads * self.head_dim))
        return out


class MLP(nn.Module):
    """SwiGLU ``w2(silu(w1 x) · w3 x)`` when ``gated_mlp``, else ``w2(gelu(w1 x))``."""

    def __init__(self, arch: ModelArch) -> None:
        super().__init__()
        h, f = arch.hidden_size, arch.ffn_size
        self.w1 = nn.Linear(h, f, bias=arch.mlp_bias)
        self.w2 = nn.Linear(f, h, bias=arch.mlp_bias)
        self.w3 = nn.Linear(h, f, bias=arch.mlp_bias) if arch.gated_mlp else None

    def forward(self, x: Tensor) -> Tensor:
        inner = F.silu(self.w1(x)) * self.w3(x) if self.w3 is not None else F.gelu(self.w1(x))
        out: Tensor = self.w2(inner)
        return out


class Block(nn.Module):
    def __init__(self, arch: ModelArch) -> None:
        super().__init__()
        self.attn_norm = _norm(arch)
        self.attn = Attention(arch)
        self.mlp_norm = _norm(arch)
        self.mlp = MLP(arch)

    def forward(
        self, x: Tensor, rope: tuple[Tensor, Tensor] | None, cache: KVCache | None, layer: int, start: int
    ) -> Tensor:
        x = x + self.attn(self.attn_norm(x), rope, cache, layer, start)
        out: Tensor = x + self.mlp(self.mlp_norm(x))
        return out


class Decoder(nn.Module):
    """Token embedding (+ learned positions), ``L`` pre-norm blocks, final norm, output head."""

    def __init__(self, arch: ModelArch, max_len: int | None = None) -> None:
        super().__init__()
        check_buildable(arch)
        self.arch = arch
        self.max_len = max_len or arch.max_position_embeddings
        self.embed = nn.Embedding(arch.vocab_size, arch.hidden_size)
        self.pos = (
            nn.Embedding(arch.max_position_embeddings + arch.position_embedding_offset, arch.hidden_size)
            if arch.learned_position_embeddings
            else None
        )
        self.layers = nn.ModuleList(Block(arch) for _ in range(arch.n_layers))
        self.norm = _norm(arch) if arch.final_norm else nn.Identity()
        self.head = nn.Linear(arch.hidden_size, arch.vocab_size, bias=arch.lm_head_bias)
        if arch.tied_embeddings:
            self.head.weight = self.embed.weight
        self._rope: tuple[Tensor, Tensor] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Random weights, N(0, 0.02) as GPT-2 and Llama initialise (the values do not change the timing)."""
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def rope(self, device: torch.device) -> tuple[Tensor, Tensor] | None:
        if self.pos is not None:
            return None
        if self._rope is None or self._rope[0].device != device:
            self._rope = _rope_tables(self.arch.head_dim, self.max_len, device)
        return self._rope

    def forward(self, tokens: Tensor, cache: KVCache | None = None, last_only: bool = False) -> Tensor:
        """Logits ``[b, s, V]`` (``[b, 1, V]`` with ``last_only``); with ``cache``, append to it."""
        start = cache.length if cache is not None else 0
        s = tokens.shape[1]
        if start + s > self.max_len:
            raise ConfigError(f"{start + s} tokens exceed the model's {self.max_len}-token window")
        x = self.embed(tokens)
        if self.pos is not None:
            x = x + self.pos(torch.arange(start, start + s, device=tokens.device))
        rope = self.rope(tokens.device)
        for i, layer in enumerate(self.layers):
            x = layer(x, rope, cache, i, start)
        if cache is not None:
            cache.length = start + s
        if last_only:
            x = x[:, -1:]
        out: Tensor = self.head(self.norm(x))
        return out


def count_parameters(module: nn.Module) -> int:
    """Distinct parameters (a tied head counts once), comparable with ``ModelArch.params_total``."""
    return sum(p.numel() for p in module.parameters())


def tiny_block_arch(base: ModelArch) -> ModelArch:
    """A one-layer, 64-wide version of ``base`` whose forward pass is all fixed cost (dispatch, launch)."""
    heads = 2
    kv = 1 if base.n_kv_heads != base.n_heads else heads
    return base.model_copy(
        update={
            "name": f"{base.name}-overhead-probe",
            "n_layers": 1,
            "hidden_size": 64,
            "n_heads": heads,
            "n_kv_heads": kv,
            "head_dim": 32,
            "ffn_size": 128,
            "vocab_size": 64,
        }
    )
