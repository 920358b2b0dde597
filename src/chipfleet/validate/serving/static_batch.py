"""Static batching: a batch's requests are context-encoded together, then decoded together to the last token.

Transformers NeuronX outside vLLM (its own ``sample``/``generate`` loop, as in the Neuron SDK's published Inf2 and
Trn1 decoder tables) runs one static batch at a time: the ``b`` prompts of a batch are encoded in one
context-encoding pass, then every sequence decodes one token per step until the batch's ``O`` tokens are out, and
only then does the next batch start (continuous batching needs its vLLM integration). With ``t`` the replica's
:class:`chipfleet.perf.iteration.IterationModel`:

- ``T_pre = t(0 decodes, b·I prompt tokens attending b·I²/2 keys, b finishing)``: the batch's context encoding;
- decode step ``k`` (``k = 0 … O − 2``) runs ``b`` sequences over ``b·(I + k)`` cached keys: ``T_k``;
- ``TTFT = T_pre + c`` (``c`` the engine's first-token overhead), ``TPOT = mean_k T_k``, the median ITL a decode
  step at the mean context;
- a batch takes ``T_b = T_pre + Σ_k T_k``; ``N`` clients fill batches of ``b = min(N, S)`` (``S`` the batch limit,
  the sequence cap and the KV room at the full context ``I + O``) and queue for ``⌈N/b⌉ − 1`` batches on
  average before their own: throughput ``N / (⌈N/b⌉·T_b)`` requests per second, the queue wait added to TTFT.

Lengths are the record's means; bucket padding (prompts padded to the compiled context length) is left out.
"""

from __future__ import annotations

import math

import numpy as np

from chipfleet.exceptions import ChipfleetError
from chipfleet.perf.batching import ReplicaLimits
from chipfleet.perf.engines import engine_profile
from chipfleet.perf.iteration import IterationModel
from chipfleet.validate.serving.closed_loop import ClosedLoad, ClosedLoopResult

# Engines that run static batches. Transformers NeuronX batches statically unless run under vLLM: "Transformers
# NeuronX is integrated with vLLM to enable continuous batching" (AWS Neuron SDK docs, Transformers NeuronX
# Developer Guide for Continuous Batching,
# https://awsdocs-neuron.readthedocs-hosted.com/en/latest/archive/transformers-neuronx/transformers-neuronx-developer-guide-for-continuous-batching.html,
# read 2026-12-06); its performance tables are batch runs of its own sampling loop
# (validate/data/serving/README.md).
STATIC_BATCH_ENGINES = frozenset({"transformers-neuronx"})


def static_batch_size(limits: ReplicaLimits, load: ClosedLoad) -> int:
    """Sequences of one batch: the clients, at most the sequence cap and the sequences the KV cache holds at the
    full context ``I + O`` (at least 1)."""
    cap = int(np.max(limits.max_seqs))
    room = int(limits.kv_capacity_tokens // max(1, math.ceil(load.input_tokens + load.output_tokens)))
    return max(1, min(load.clients, cap, room))


def static_batch(
    it: IterationModel, limits: ReplicaLimits, load: ClosedLoad, first_token_s: float = 0.0
) -> ClosedLoopResult:
    """The closed loop of ``load.clients`` clients on a static-batching replica (see the module docstring)."""
    prompt, out = load.input_tokens, load.output_tokens
    b = static_batch_size(limits, load)
    tokens = max(1, round(b * prompt))
    t_pre = it.time(0, 0.0, tokens, b * prompt * prompt / 2.0, 0.0, b)[0]
    steps = max(1, math.ceil(out - 1.0))
    times, _ = it.decode_block(b, b * prompt, steps)
    tpot = float(np.mean(times))
    t_batch = t_pre + float(np.sum(times))
    waves = math.ceil(load.clients / b)
    queue = (waves - 1) * t_batch
    rate = load.clients / (waves * t_batch + load.think_time_s)
    ttft = t_pre + first_token_s + queue
    mid, _ = it.decode_block(b, b * (prompt + out / 2.0), 1)
    return ClosedLoopResult(
        clients=load.clients,
        throughput_rps=rate,
        decoding=b * (t_batch - t_pre) / t_batch,
        in_engine=float(b),
        queue_wait_s=queue,
        ttft_steady_s=ttft,
        ttft_mean_s=ttft,
        tpot_mean_s=tpot,
        e2e_mean_s=ttft + (out - 1.0) * tpot,
        decode_iteration_s=float(mid[0]),
        prefill_share=t_pre / t_batch,
        saturated=waves > 1,
        input_tokens_per_s=rate * prompt,
        output_tokens_per_s=rate * out,
    )


def runs_static_batches(framework: str) -> bool:
    """Whether the record's engine (by name or alias) batches statically (:data:`STATIC_BATCH_ENGINES`)."""
    try:
        return engine_profile(framework).name in STATIC_BATCH_ENGINES
    except ChipfleetError:
        return False
