"""`chipfleet models`: the model zoo and imported Hugging Face configs, with their parameter counts."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from chipfleet.cli import output
from chipfleet.cli.options import JsonOpt, ModelConfigOpt, group, model_arch
from chipfleet.workloads import ModelArch, implied_weight_precision, list_models

models_app = group("The model zoo (architectures and parameter counts).")


def _record(m: ModelArch) -> dict[str, Any]:
    """The architecture's fields and its computed parameter counts, layer mix and KV cache per token."""
    return {
        **m.model_dump(mode="json"),
        "params_total": m.params_total,
        "params_active": m.params_active,
        "params_mtp": m.params_mtp,
        "params_checkpoint": m.params_checkpoint,
        "n_moe_layers": m.n_moe_layers,
        "kv_cache_bytes_per_token_bf16": m.kv_cache_bytes_per_token(2.0),
    }


def _experts(m: ModelArch) -> str:
    """``8/256+1s ×58``: routed top-k of E, shared experts, and how many layers are MoE when not all."""
    if not m.is_moe:
        return "—"
    shared = f"+{m.n_shared_experts}s" if m.n_shared_experts else ""
    layers = f" ×{m.n_moe_layers}" if m.n_moe_layers != m.n_layers else ""
    return f"{m.experts_top_k}/{m.n_experts}{shared}{layers}"


def _attention(m: ModelArch) -> str:
    """``MLA``, ``GQA``/``MHA``, with the sliding or chunked layers per pattern (``sliding 1:1 w128``)."""
    kind = "MLA" if m.is_mla else ("MHA" if m.n_kv_heads == m.n_heads else "GQA")
    counts = m.layer_attention_counts()
    if counts["sliding"]:
        kind += f" sliding {counts['sliding']}/{m.n_layers} w{m.sliding_window}"
    if counts["chunked"]:
        kind += f" chunked {counts['chunked']}/{m.n_layers} w{m.attention_chunk_size}"
    if counts["linear"]:
        kind += f" linear {counts['linear']}/{m.n_layers}"
    return kind


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """List the zoo with computed and published parameter counts."""
    ms = list_models()
    if as_json:
        output.emit_json([_record(m) for m in ms])
        return
    t = Table(title="Model zoo")
    cols = ("name", "layers", "hidden", "heads/kv", "attention", "ffn", "vocab", "experts", "params", "active")
    for col in (*cols, "published"):
        t.add_column(col, justify="left" if col == "name" else "right")
    for m in ms:
        t.add_row(
            m.name,
            str(m.n_layers),
            str(m.hidden_size),
            f"{m.n_heads}/{m.n_kv_heads}",
            _attention(m),
            str(m.ffn_size),
            str(m.vocab_size),
            _experts(m),
            f"{m.params_total / 1e9:.2f}B",
            f"{m.params_active / 1e9:.2f}B" if m.is_moe else "—",
            f"{m.published_params / 1e9:.2f}B" if m.published_params else "—",
        )
    output.show(t)


@models_app.command("show")
def models_show(
    name: Annotated[str | None, typer.Argument(help="Zoo model name.")] = None,
    model_config: ModelConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one architecture (zoo name or imported config.json) and its parameter counts."""
    arch = model_arch(name, model_config)
    data = _record(arch)
    if name is not None and model_config is None:  # a quantized repo id says its weight precision
        data["implied_weight_precision"] = implied_weight_precision(name)
    if as_json:
        output.emit_json(data)
        return
    linear = arch.layer_attention_counts()["linear"] > 0
    for k, v in data.items():
        if linear or not k.startswith("linear_"):  # a model without linear-attention layers: their shape is moot
            output.show(f"[bold]{k}[/bold]: {v}")
