"""`chipfleet estimate`: one training run or one serving configuration, in time, money, energy and carbon."""

from __future__ import annotations

from typing import Annotated

import typer

from chipfleet.catalog import Precision, Pricing
from chipfleet.cli import output
from chipfleet.cli.options import (
    MAX_INSTANCES,
    CheapestRegionOpt,
    EngineOpt,
    InterruptionsOpt,
    JsonOpt,
    ModelConfigOpt,
    ModelOpt,
    PricingOpt,
    SeqLenOpt,
    State,
    WeightPrecisionOpt,
    float_opt,
    group,
    model_arch,
    tokens_opt,
    training_tokens,
    weight_precision,
)
from chipfleet.exceptions import ConfigError
from chipfleet.perf.engines import SpecDecode, default_spec, engine_profile
from chipfleet.perf.inference import ServingConfig
from chipfleet.perf.training import Recompute, TrainingSetup
from chipfleet.report import tables
from chipfleet.workloads import ModelArch

estimate_app = group("Estimate one training run or one serving configuration.")


def _fixed(**kw: object) -> dict[str, object]:
    return {k: v for k, v in kw.items() if v is not None}


@estimate_app.command("train")
def estimate_train(
    instance: Annotated[str, typer.Option(help="Instance type, e.g. p5.48xlarge or trn1.32xlarge.")],
    instances: Annotated[int, typer.Option(min=1, max=MAX_INSTANCES, help="Number of instances.")],
    tokens: Annotated[float, training_tokens("Training tokens, decimal: 1T = 10¹², 300B.")],
    model: ModelOpt = None,
    model_config: ModelConfigOpt = None,
    tp: Annotated[int | None, typer.Option(min=1, max=65536, help="Tensor-parallel degree (chips).")] = None,
    pp: Annotated[int | None, typer.Option(min=1, max=65536, help="Pipeline-parallel degree.")] = None,
    dp: Annotated[int | None, typer.Option(min=1, max=1 << 20, help="Data-parallel degree.")] = None,
    cp: Annotated[int | None, typer.Option(min=1, max=65536, help="Context-parallel degree.")] = None,
    ep: Annotated[int | None, typer.Option(min=1, max=65536, help="Expert-parallel degree (MoE).")] = None,
    zero: Annotated[int | None, typer.Option(min=0, max=3, help="ZeRO stage 0-3.")] = None,
    micro_batch: Annotated[int | None, typer.Option(min=1, max=1 << 20, help="Micro-batch (sequences).")] = None,
    recompute: Annotated[Recompute | None, typer.Option(case_sensitive=False, help="Activation recomputation.")] = None,
    global_batch: Annotated[int, typer.Option(min=1, max=1 << 24, help="Global batch (sequences per step).")] = 1024,
    seq_len: SeqLenOpt = 4096,
    precision: Annotated[
        Precision, typer.Option(case_sensitive=False, help="Compute precision (bf16, fp8, ...).")
    ] = Precision.BF16,
    region: CheapestRegionOpt = None,
    pricing: PricingOpt = Pricing.ON_DEMAND,
    interruptions_per_month: InterruptionsOpt = 0.20,
    as_json: JsonOpt = False,
) -> None:
    """Time, cost, energy and CO2 of one training run; parallelism is chosen where not given. On spot the time
    and cost include the job's interruptions (the planner's model)."""
    from chipfleet.economics import SpotModel, estimate_training

    arch = model_arch(model, model_config)
    setup = TrainingSetup(model=arch, seq_len=seq_len, global_batch=global_batch, precision=precision)
    fixed = _fixed(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, zero=zero, micro_batch=micro_batch, recompute=recompute)
    est = estimate_training(
        State.catalog(),
        setup,
        instance,
        instances,
        tokens,
        fixed=fixed,
        region=region,
        pricing=pricing,
        spot=SpotModel(interruptions_per_month=interruptions_per_month),
    )
    output.record_result(est)
    if as_json:
        output.emit_json(est)
        return
    output.show(tables.training_table(est))
    for caveat in est.caveats:
        output.show(f"[yellow]caveat[/yellow] {caveat}")


def speculative(model: str, mtp: bool, acceptance_length: float | None, draft_tokens: int) -> SpecDecode | None:
    """--acceptance-length (with --draft-tokens) or --mtp's published setting for the model; None: no drafting."""
    if acceptance_length is not None:
        method = "mtp" if mtp else "draft"
        return SpecDecode(acceptance_length=acceptance_length, draft_tokens=draft_tokens, method=method)
    if not mtp:
        return None
    spec = default_spec(model)
    if spec is None:
        raise ConfigError(f"no MTP acceptance length is published for {model}; give acceptance_length", field="mtp")
    return spec


@estimate_app.command("serve")
def estimate_serve(
    instance: Annotated[str, typer.Option(help="Instance type, e.g. inf2.48xlarge.")],
    model: ModelOpt = None,
    model_config: ModelConfigOpt = None,
    batch: Annotated[int, typer.Option(min=1, max=1 << 20, help="Concurrent sequences per replica.")] = 1,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1 << 20,
            help="Closed loop: N clients, each sending its next request when its last completes; the replica's "
            "sequence limit (the engine's, else 256) makes the rest queue (steady-state throughput, mean TTFT "
            "and TPOT).",
        ),
    ] = None,
    input_tokens: Annotated[
        int,
        typer.Option(
            metavar="TOKENS", parser=tokens_opt("--input-tokens"), help="Prompt length in tokens (2k = 2048)."
        ),
    ] = 1024,
    output_tokens: Annotated[
        int, typer.Option(metavar="TOKENS", parser=tokens_opt("--output-tokens"), help="Generated tokens (1k = 1024).")
    ] = 256,
    tp: Annotated[
        int | None, typer.Option(min=1, max=65536, help="Chips per replica (NeuronCores accepted on Neuron).")
    ] = None,
    precision: WeightPrecisionOpt = None,
    kv_precision: Annotated[Precision | None, typer.Option(case_sensitive=False, help="KV-cache precision.")] = None,
    engine: EngineOpt = None,
    ep: Annotated[int, typer.Option(min=1, max=65536, help="Expert-parallel ranks among the tp chips (MoE).")] = 1,
    dp_attention: Annotated[bool, typer.Option(help="Data-parallel attention over the tp chips (MoE).")] = False,
    pp: Annotated[int, typer.Option(min=1, max=1024, help="Pipeline stages of tp chips (may span instances).")] = 1,
    mtp: Annotated[bool, typer.Option(help="Speculative decoding with the model's published MTP setting.")] = False,
    acceptance_length: Annotated[
        float | None,
        typer.Option(
            metavar="TOKENS",
            parser=float_opt("--acceptance-length", 1.0, 17.0, low_open=False),
            help="Speculative decoding: tokens emitted per verification step, the bonus token included.",
        ),
    ] = None,
    draft_tokens: Annotated[int, typer.Option(min=1, max=16, help="Speculative decoding: draft tokens per step.")] = 1,
    region: CheapestRegionOpt = None,
    pricing: PricingOpt = Pricing.ON_DEMAND,
    as_json: JsonOpt = False,
) -> None:
    """Latency, throughput, $ per million tokens and energy of serving a model on one instance."""
    from chipfleet.economics import estimate_serving

    weights = weight_precision(precision, model)
    if concurrency is not None:
        _closed_loop_models_only(
            batch=batch != 1, kv_precision=kv_precision is not None, pp=pp != 1,
        )  # fmt: skip
        arch_ = model_arch(model, model_config)
        spec_ = speculative(arch_.name, mtp, acceptance_length, draft_tokens)
        _closed_loop(
            arch_, instance, concurrency, input_tokens, output_tokens, tp, weights, engine, as_json, ep, dp_attention,
            spec_,
        )  # fmt: skip
        return
    arch = model_arch(model, model_config)
    cfg = ServingConfig(
        model=arch,
        batch=batch,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        tp=tp,
        weight_precision=weights,
        kv_precision=kv_precision,
        engine=engine_profile(engine),
        ep=ep,
        dp_attention=dp_attention,
        pp=pp,
        spec=speculative(arch.name, mtp, acceptance_length, draft_tokens),
    )
    est = estimate_serving(State.catalog(), cfg, instance, region=region, pricing=pricing)
    output.record_result(est)
    if as_json:
        output.emit_json(est)
    else:
        output.show(tables.serving_table(est))


def _closed_loop_models_only(**given: bool) -> None:
    """--concurrency's closed-loop model times one replica (tensor, expert and attention data-parallel, speculative
    decoding included): refuse, rather than silently drop, the options it does not model yet."""
    dropped = [f"--{name.replace('_', '-')}" for name, on in given.items() if on]
    if dropped:
        raise ConfigError(
            f"--concurrency estimates one replica under closed-loop load and does not model "
            f"{', '.join(dropped)}; drop {'it' if len(dropped) == 1 else 'them'}, or estimate that layout at a fixed "
            "batch without --concurrency"
        )


def _closed_loop(
    arch: ModelArch, instance: str, clients: int, inp: int, out: int, tp: int | None, precision: Precision,
    engine: str | None, as_json: bool, ep: int = 1, dp_attention: bool = False, spec: SpecDecode | None = None,
) -> None:  # fmt: skip
    """estimate serve --concurrency: one replica under a closed loop (validate.serving.estimate_closed_loop)."""
    from chipfleet.validate.serving import estimate_closed_loop

    est = estimate_closed_loop(
        State.catalog(), arch, instance, clients=clients, input_tokens=inp, output_tokens=out, tp=tp,
        precision=precision, engine=engine_profile(engine), ep=ep, dp_attention=dp_attention, spec=spec,
    )  # fmt: skip
    output.record_result(est)
    if as_json:
        output.emit_json(est)
        return
    r = est.result
    output.show(
        f"{est.model} on {est.instance} (tp={est.tp}, {est.precision.value}), {clients} closed-loop clients, "
        f"{inp}+{out} tokens: {r.throughput_rps:.3g} requests/s, {r.output_tokens_per_s:,.0f} output tokens/s; "
        f"mean TTFT {r.ttft_steady_s * 1e3:,.1f} ms (queue {r.queue_wait_s * 1e3:,.1f} ms), "
        f"mean TPOT {r.tpot_mean_s * 1e3:.2f} ms, {r.decoding:.1f} sequences decoding"
        + (f"; {spec.method} at acceptance length {spec.acceptance_length:g}" if spec is not None else "")
        + (" [sequence or KV limit reached: extra clients queue]" if r.saturated else "")
    )
