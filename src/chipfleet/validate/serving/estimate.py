"""One replica under a closed loop of N clients, from names: what ``estimate serve --concurrency N`` prints."""

from __future__ import annotations

from dataclasses import dataclass

from chipfleet.catalog import Catalog, Precision
from chipfleet.perf.batching import ReplicaLimits
from chipfleet.perf.engines import DEFAULT_ENGINE, EngineProfile, SpecDecode
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.iteration import IterationModel
from chipfleet.sim.serving import ServeOptions, replica_shape
from chipfleet.validate.serving.closed_loop import ClosedLoad, ClosedLoopResult, closed_loop
from chipfleet.workloads import ModelArch


@dataclass(frozen=True)
class ClosedLoopEstimate:
    """A replica of ``model`` on ``instance`` (``tp`` chips) under ``clients`` closed-loop clients."""

    model: str
    instance: str
    engine: str
    tp: int
    precision: Precision
    max_seqs: int
    max_batch_tokens: int
    kv_capacity_tokens: int
    input_tokens: int
    output_tokens: int
    ep: int
    dp_attention: bool
    spec: SpecDecode | None
    result: ClosedLoopResult


def estimate_closed_loop(
    catalog: Catalog,
    model: ModelArch,
    instance: str,
    *,
    clients: int,
    input_tokens: int,
    output_tokens: int,
    tp: int | None = None,
    precision: Precision = Precision.BF16,
    max_seqs: int | None = None,
    max_batch_tokens: int | None = None,
    think_time_s: float = 0.0,
    engine: EngineProfile | None = None,
    ep: int = 1,
    dp_attention: bool = False,
    spec: SpecDecode | None = None,
) -> ClosedLoopEstimate:
    """Steady-state throughput, mean TTFT and TPOT of one replica with ``clients`` clients, each sending its
    next request ``think_time_s`` after its last one completes (:func:`closed_loop`); the replica's
    ``max_seqs`` (and KV cache) makes the rest queue. ``tp`` None: the fewest chips that hold the model.
    ``engine``: its per-iteration overhead, and its batching defaults where ``max_seqs``/``max_batch_tokens``
    are None (else 256 sequences, 8192 tokens). ``ep``/``dp_attention`` lay an MoE replica out with experts over
    ``ep`` ranks and data-parallel attention (its KV room from that layout's weights and cache per chip);
    ``spec`` decodes speculatively (TPOT = iteration / acceptance length, the draft's weights take KV room)."""
    hw = hardware_for(catalog, instance)
    eng = engine or DEFAULT_ENGINE
    max_seqs, max_batch_tokens, _ = eng.batching(max_seqs, max_batch_tokens, None, (256, 8192))
    opts = ServeOptions(tp=tp, precision=precision, max_seqs=max_seqs, max_batch_tokens=max_batch_tokens, engine=eng)
    tp_used, kv = replica_shape(model, hw, opts)
    it = IterationModel(
        model, hw, tp_used, precision, engine=eng, ep=ep if model.is_moe else 1, dp_attention=dp_attention, spec=spec
    )
    kv = it.kv_room_tokens(max_batch_tokens)
    load = ClosedLoad(clients, float(input_tokens), float(output_tokens), think_time_s=think_time_s)
    return ClosedLoopEstimate(
        model=model.name,
        instance=hw.instance,
        engine=eng.name,
        tp=tp_used,
        precision=precision,
        max_seqs=max_seqs,
        max_batch_tokens=max_batch_tokens,
        kv_capacity_tokens=kv,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        ep=it.cfg.ep,
        dp_attention=dp_attention,
        spec=spec,
        result=closed_loop(it, ReplicaLimits(max_batch_tokens, max_seqs, kv), load, eng.first_token_overhead_s),
    )
