"""`chipfleet models`: the model zoo and imported Hugging Face configs, with their parameter counts."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from chipfleet.cli import output
from chipfleet.cli.options import JsonOpt, ModelConfigOpt, group, model_arch
from chipfleet.workloads import ModelArch, list_models

models_app = group("The model zoo (architectures and parameter counts).")


def _record(m: ModelArch) -> dict[str, Any]:
    """The architecture's fields and its computed parameter counts."""
    return {**m.model_dump(mode="json"), "params_total": m.params_total, "params_active": m.params_active}


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """List the zoo with computed and published parameter counts."""
    ms = list_models()
    if as_json:
        output.emit_json([_record(m) for m in ms])
        return
    t = Table(title="Model zoo")
    for col in ("name", "layers", "hidden", "heads/kv", "ffn", "vocab", "experts", "params", "published"):
        t.add_column(col, justify="left" if col == "name" else "right")
    for m in ms:
        t.add_row(
            m.name,
            str(m.n_layers),
            str(m.hidden_size),
            f"{m.n_heads}/{m.n_kv_heads}",
            str(m.ffn_size),
            str(m.vocab_size),
            f"{m.experts_top_k}/{m.n_experts}" if m.is_moe else "—",
            f"{m.params_total / 1e9:.2f}B",
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
    data = _record(model_arch(name, model_config))
    if as_json:
        output.emit_json(data)
    else:
        for k, v in data.items():
            output.show(f"[bold]{k}[/bold]: {v}")
