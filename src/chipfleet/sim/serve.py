"""Request-level serving simulation: continuous batching per replica, routers, KV cache, prefix reuse.

Each replica runs vLLM-style iterations: the decode tokens of every running request plus prefill work
(whole prompts, or chunks of them with chunked prefill) up to a token budget, with KV-cache capacity
checked on admission and preemption (recompute) when decode growth overflows it. An iteration's time comes
from the performance model (:func:`chipfleet.perf.inference.phase_time`, the same roofline as
``estimate serve``), so one request alone reproduces the model's TTFT and TPOT.

Steady decoding is not simulated token by token: when a replica has nothing to prefill it advances its whole
batch through ``k`` decode iterations in one event, ``k`` bounded by the next completion and the KV headroom;
an arrival at that replica cuts the block at the iteration in flight. Metrics stream into fixed-size
histograms and windowed series, so memory does not grow with the number of finished requests.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chipfleet.catalog import Catalog, Precision, Pricing
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.hardware import Hardware
from chipfleet.perf.inference import (
    ServingConfig,
    expected_experts_touched,
    kv_bytes_per_token_per_chip,
    resolve_tp,
    weight_bytes_per_chip,
    workspace_bytes_per_chip,
)
from chipfleet.perf.kernels import attention_precision, elementwise_bytes_per_token
from chipfleet.sim.fleet import FleetSpec, Node, Pool
from chipfleet.sim.kernel import Simulation, Timer
from chipfleet.sim.metrics import LogHistogram, WindowSeries
from chipfleet.sim.routers import FleetView, Router, make_router
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import ModelArch

ACTIVATION_BYTES = 2.0


@dataclass(frozen=True)
class ServeOptions:
    """How each replica batches. Defaults follow vLLM's scheduler (V1: chunked prefill, 8192-token budget,
    256 sequences)."""

    max_batch_tokens: int = 8192
    max_seqs: int = 256
    chunked_prefill: bool = True
    prefix_cache: bool = True  # used when the trace carries block hashes
    tp: int | None = None  # chips per replica; None: the fewest that hold the model
    precision: Precision = Precision.BF16
    slo_ttft_s: float | None = None
    slo_tpot_s: float | None = None
    window_s: float = 60.0
    max_decode_block: int = 4096

    def __post_init__(self) -> None:
        if self.max_batch_tokens < 1 or self.max_seqs < 1:
            raise ConfigError("max_batch_tokens and max_seqs must be positive")


@dataclass
class _Request:
    __slots__ = ("arrival", "first_token", "generated", "hashes", "input", "kv", "output", "prefill_left", "rid")
    rid: int
    arrival: float
    input: int
    output: int
    hashes: tuple[int, ...] | None
    prefill_left: int
    generated: int
    kv: int  # tokens of this request held in the KV cache
    first_token: float


@dataclass
class _Stats:
    ttft: LogHistogram = field(default_factory=LogHistogram)
    tpot: LogHistogram = field(default_factory=LogHistogram)
    e2e: LogHistogram = field(default_factory=LogHistogram)
    completed: int = 0
    output_tokens: int = 0
    slo_met: int = 0
    preemptions: int = 0
    prefix_hit_tokens: int = 0

    def merge(self, other: _Stats) -> None:
        for h in ("ttft", "tpot", "e2e"):
            getattr(self, h).merge(getattr(other, h))
        self.completed += other.completed
        self.output_tokens += other.output_tokens
        self.slo_met += other.slo_met
        self.preemptions += other.preemptions
        self.prefix_hit_tokens += other.prefix_hit_tokens


class IterationModel:
    """Time of one batching iteration on a replica: the performance model's roofline
    (:func:`chipfleet.perf.inference.phase_time`) with its constants folded once, because the simulator
    evaluates it hundreds of thousands of times. ``tests/sim/test_serve.py`` checks it against
    ``phase_time`` itself."""

    def __init__(self, model: ModelArch, hw: Hardware, tp: int, precision: Precision) -> None:
        self.model, self.hw, self.tp = model, hw, tp
        self.cfg = ServingConfig(
            model=model, batch=1, input_tokens=1, output_tokens=1, tp=tp, weight_precision=precision
        )
        L = model.n_layers
        self.linear_flops_per_token = 2.0 * L * model.params_per_layer_active / tp
        self.logit_flops = 2.0 * model.vocab_size * model.hidden_size / tp
        self.attn_coeff = 2.0 * 2.0 * L * model.n_heads * model.head_dim / tp  # FLOPs per (query token × key)
        self.kv_bytes = kv_bytes_per_token_per_chip(model, tp, self.cfg.kv_dtype)
        self.ew_bytes = elementwise_bytes_per_token(model, precision) * L / tp
        self.expert_bytes = model.params_mlp_per_expert * L * precision.bytes / tp
        self.weight_bytes = weight_bytes_per_chip(model, tp, precision)
        self.ar_bytes = model.hidden_size * ACTIVATION_BYTES
        eff = hw.eff
        self._peak = hw.peak(precision) * eff.compute
        self._attn_peak = hw.peak(attention_precision(precision)) * eff.compute
        self._half = eff.compute_half_rows
        self._bw = hw.memory_bytes_per_s * eff.memory
        self._overhead = L * eff.layer_overhead_s + eff.step_overhead_s
        link_bw = hw.link_bytes_per_s(tp, span_instances=False) * eff.collective
        lat = hw.latency_s(span_instances=False)
        # 2 all-reduces per layer: 2·(t−1)/t·S/B + 2·(t−1)·α each (chipfleet.perf.collectives)
        self._comm_per_byte = 2 * L * 2 * (tp - 1) / tp / link_bw if tp > 1 else 0.0
        self._comm_fixed = 2 * L * 2 * (tp - 1) * lat if tp > 1 else 0.0
        self._decode: dict[int, tuple[float, float, float, float, float]] = {}

    def _weights(self, tokens: int) -> float:
        m = self.model
        if not m.is_moe:
            return self.weight_bytes
        return self.weight_bytes - (m.n_experts - expected_experts_touched(m, tokens)) * self.expert_bytes

    def _comm(self, tokens: int) -> float:
        return self._comm_per_byte * tokens * self.ar_bytes + self._comm_fixed if tokens else 0.0

    def time(
        self, decode: int, decode_ctx: float, prefill: int, prefill_keys: float, prefix_read: float, finishing: int
    ) -> tuple[float, float]:
        """(iteration seconds, busy seconds).

        ``decode`` requests generate one token each over ``decode_ctx`` cached tokens in all; ``prefill``
        prompt tokens run, attending ``prefill_keys`` (query, key) pairs in all (a chunk of c tokens after a
        cached prefix of p attends c·p + c²/2) and reading ``prefix_read`` cached prefix tokens' KV;
        ``finishing`` prompts complete and compute first-token logits. Bytes and FLOPs as in
        :func:`chipfleet.perf.inference.prefill_time` and :func:`decode_step_time`.
        """
        tokens = decode + prefill
        eta = tokens / (tokens + self._half)
        flops = tokens * self.linear_flops_per_token + (decode + finishing) * self.logit_flops
        compute = flops / (self._peak * eta) + self.attn_coeff * (decode_ctx + prefill_keys) / (self._attn_peak * eta)
        bytes_ = self._weights(tokens) + self.kv_bytes * (decode_ctx + prefix_read + prefill) + self.ew_bytes * tokens
        busy = max(compute, bytes_ / self._bw)
        return busy + self._comm(tokens) + self._overhead, busy

    def decode_block(self, n: int, ctx0: float, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Times and busy times of ``k`` decode iterations of ``n`` requests whose cached keys start at
        ``ctx0`` and grow by ``n`` per iteration: each is max(compute, memory) + comm + overhead, both terms
        linear in the cached keys."""
        coeffs = self._decode.get(n)
        if coeffs is None:
            eta = n / (n + self._half)
            c0 = n * (self.linear_flops_per_token + self.logit_flops) / (self._peak * eta)
            c1 = self.attn_coeff / (self._attn_peak * eta)
            m0 = (self._weights(n) + self.ew_bytes * n) / self._bw
            m1 = self.kv_bytes / self._bw
            coeffs = (c0, c1, m0, m1, self._comm(n) + self._overhead)
            self._decode[n] = coeffs
        c0, c1, m0, m1, fixed = coeffs
        ctx = ctx0 + n * np.arange(k, dtype=np.float64)
        busy = np.maximum(c0 + c1 * ctx, m0 + m1 * ctx)
        return busy + fixed, busy


@dataclass
class _Block:
    t0: float
    cum: np.ndarray  # cumulative iteration end times from t0
    busy: np.ndarray
    k: int
    decoders: list[_Request]


class Replica:
    """One model replica (``tp`` chips of a node) running continuous batching."""

    def __init__(
        self,
        index: int,
        node: Node,
        chips: int,
        it: IterationModel,
        kv_capacity: int,
        opts: ServeOptions,
        sim: Simulation,
        stats: _Stats,
        block_tokens: int | None,
        view: FleetView,
        waiting_total: list[int],
    ) -> None:
        self.index, self.node, self.chips, self.it = index, node, chips, it
        self.kv_capacity, self.opts, self.sim = kv_capacity, opts, sim
        self.stats = stats  # this replica's instance type's; merged into the fleet's at the end
        self.waiting: deque[_Request] = deque()
        self.running: list[_Request] = []
        self.kv_used = 0
        self.busy = False
        self.timer = Timer(sim, self._on_end)
        self.block: _Block | None = None
        self.plan: tuple[list[tuple[_Request, int]], list[_Request], float, float] | None = None
        self.busy_series = WindowSeries(opts.window_s)
        self.block_tokens = block_tokens
        self.cache: OrderedDict[int, None] = OrderedDict()
        self.cache_blocks = kv_capacity // block_tokens if block_tokens else 0
        self.rejected = 0
        self.view = view  # the router's arrays: this replica keeps its own entry current
        self.waiting_total = waiting_total  # one shared counter for the fleet's queue length

    @property
    def instance(self) -> str:
        return self.node.instance.name

    @property
    def outstanding(self) -> int:
        return len(self.waiting) + len(self.running)

    # ------------------------------------------------------------------ arrivals
    def enqueue(self, req: _Request) -> None:
        if req.input + req.output > self.kv_capacity:
            self.rejected += 1  # can never fit in this replica's KV cache
            return
        self.waiting.append(req)
        self.waiting_total[0] += 1
        self.view.outstanding[self.index] += 1
        if not self.busy:
            self._start()
        elif self.block is not None:
            self._cut_block()

    def _cut_block(self) -> None:
        b = self.block
        assert b is not None
        done = int(np.searchsorted(b.cum, self.sim.now - b.t0, side="right"))
        k = min(b.k, done + 1)
        if k < b.k:
            b.k = k
            self.timer.arm(b.t0 + float(b.cum[k - 1]))

    # ------------------------------------------------------------------ scheduling
    def _prefix_hits(self, req: _Request) -> int:
        if not (self.opts.prefix_cache and req.hashes and self.block_tokens):
            return 0
        hits = 0
        for h in req.hashes:
            if h not in self.cache:
                break
            self.cache.move_to_end(h)
            hits += 1
        # At least the last prompt token runs, to produce the first output token's logits.
        return min(hits * self.block_tokens, req.input - 1)

    def _remember(self, req: _Request) -> None:
        if not (self.opts.prefix_cache and req.hashes and self.cache_blocks):
            return
        for h in req.hashes:
            self.cache[h] = None
            self.cache.move_to_end(h)
        while len(self.cache) > self.cache_blocks:
            self.cache.popitem(last=False)

    def _start(self) -> None:
        opts = self.opts
        decoders = [r for r in self.running if r.prefill_left == 0]
        budget = opts.max_batch_tokens - (len(decoders) if opts.chunked_prefill else 0)
        chunks: list[tuple[_Request, int]] = []
        for r in self.running:
            if r.prefill_left > 0 and budget > 0:
                c = min(r.prefill_left, budget) if opts.chunked_prefill else r.prefill_left
                chunks.append((r, c))
                budget -= c
        while self.waiting and len(self.running) < opts.max_seqs and budget > 0:
            r = self.waiting[0]
            ctx = r.input + r.generated
            if self.kv_used + ctx > self.kv_capacity:
                break
            if not opts.chunked_prefill and chunks and r.prefill_left > budget:
                break
            self.waiting.popleft()
            self.waiting_total[0] -= 1
            if r.generated == 0:
                hit = self._prefix_hits(r)
                r.prefill_left -= hit
                self.stats.prefix_hit_tokens += hit
            self.running.append(r)
            r.kv = ctx
            self.kv_used += ctx
            c = min(r.prefill_left, budget) if opts.chunked_prefill else r.prefill_left
            chunks.append((r, c))
            budget -= c
        if chunks and not opts.chunked_prefill:
            decoders = []  # vLLM V0: prefill iterations do not carry decodes
        if not chunks and not decoders:
            self.busy = False
            return
        self.busy = True
        if not chunks:
            self._start_block(decoders)
            return
        prefill = sum(c for _, c in chunks)
        done = [r.input + r.generated - r.prefill_left for r, _ in chunks]  # context already cached
        keys = sum(c * p + c * c / 2.0 for (_, c), p in zip(chunks, done, strict=True))
        finishing = sum(1 for r, c in chunks if c == r.prefill_left)
        dctx = float(sum(r.kv for r in decoders))
        t, busy = self.it.time(len(decoders), dctx, prefill, keys, float(sum(done)), finishing)
        self.plan = (chunks, decoders, busy, self.sim.now)
        self.timer.arm(self.sim.now + t)

    def _start_block(self, decoders: list[_Request]) -> None:
        n = len(decoders)
        k = min(r.output - r.generated for r in decoders)
        headroom = (self.kv_capacity - self.kv_used) // n
        k = max(1, min(k, headroom, self.opts.max_decode_block))
        times, busy = self.it.decode_block(n, float(sum(r.kv for r in decoders)), k)
        self.block = _Block(t0=self.sim.now, cum=np.cumsum(times), busy=busy, k=k, decoders=decoders)
        if self.waiting:
            self._cut_block()  # someone is waiting (for KV room): only one iteration at a time
        self.timer.arm(self.sim.now + float(self.block.cum[self.block.k - 1]))

    # ------------------------------------------------------------------ iteration end
    def _account(self, start: float, busy_s: float) -> None:
        now = self.sim.now
        self.node.busy_chip_s += busy_s * self.chips
        if now > start:
            self.busy_series.add(start, now, busy_s / (now - start))

    def _on_end(self) -> None:
        now = self.sim.now
        if self.block is not None:
            b, self.block = self.block, None
            k = b.k
            self._account(b.t0, float(b.busy[:k].sum()))
            for r in b.decoders:
                r.generated += k
                r.kv += k
            self.kv_used += k * len(b.decoders)
            self._finish_done(now)
        else:
            assert self.plan is not None
            chunks, decoders, busy, start = self.plan
            self.plan = None
            for r, c in chunks:
                r.prefill_left -= c
                if r.prefill_left == 0:
                    r.generated += 1
                    r.kv += 1
                    self.kv_used += 1
                    if math.isnan(r.first_token):
                        r.first_token = now
                        wait = now - r.arrival
                        self.stats.ttft.add(wait)
            for r in decoders:
                r.generated += 1
                r.kv += 1
                self.kv_used += 1
            self._account(start, busy)
            self._finish_done(now)
        self._preempt_if_full()
        self._start()

    def _finish_done(self, now: float) -> None:
        keep = []
        for r in self.running:
            if r.prefill_left == 0 and r.generated >= r.output:
                self.kv_used -= r.kv
                self._remember(r)
                e2e = now - r.arrival
                tpot = (now - r.first_token) / (r.output - 1) if r.output > 1 else math.nan
                st = self.stats
                st.e2e.add(e2e)
                if r.output > 1:
                    st.tpot.add(tpot)
                st.completed += 1
                st.output_tokens += r.output
                if self._meets_slo(r.first_token - r.arrival, tpot):
                    st.slo_met += 1
            else:
                keep.append(r)
        self.view.outstanding[self.index] -= len(self.running) - len(keep)
        self.running = keep

    def _meets_slo(self, ttft: float, tpot: float) -> bool:
        o = self.opts
        ok_ttft = o.slo_ttft_s is None or ttft <= o.slo_ttft_s
        ok_tpot = o.slo_tpot_s is None or math.isnan(tpot) or tpot <= o.slo_tpot_s
        return ok_ttft and ok_tpot

    def _preempt_if_full(self) -> None:
        while self.kv_used > self.kv_capacity and len(self.running) > 1:
            victim = self.running.pop()  # the most recently admitted, as vLLM does
            self.kv_used -= victim.kv
            victim.kv = 0
            victim.prefill_left = victim.input + victim.generated  # recompute its context
            self.waiting.appendleft(victim)
            self.waiting_total[0] += 1
            self.stats.preemptions += 1


# ----------------------------------------------------------------------------- the run
@dataclass(frozen=True)
class TypeReport:
    instance: str
    replicas: int
    tp: int
    kv_capacity_tokens: int
    completed: int
    ttft_s: dict[str, float]
    tpot_s: dict[str, float]
    e2e_s: dict[str, float]
    utilization: float
    slo_attainment: float | None
    preemptions: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ServeResult:
    """What a serving simulation measured; the histograms stay available for plots."""

    model: str
    trace: str
    fleet: str
    router: str
    seed: int
    requests: int
    completed: int
    rejected: int
    span_s: float
    ttft_s: dict[str, float]
    tpot_s: dict[str, float]
    e2e_s: dict[str, float]
    slo_attainment: float | None
    output_tokens_per_s: float
    requests_per_s: float
    preemptions: int
    prefix_hit_tokens: int
    by_type: tuple[TypeReport, ...]
    utilization_series: dict[str, list[float]]
    queue_series: list[float]
    window_s: float
    cost_usd: float
    energy_kwh: float
    pue: float
    events: int
    histograms: dict[str, LogHistogram] = field(repr=False, compare=False, default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "histograms"}
        d["by_type"] = [t.as_dict() for t in self.by_type]
        d["cost_usd_per_million_tokens"] = (
            self.cost_usd / (self.output_tokens_per_s * self.span_s) * 1e6 if self.output_tokens_per_s else None
        )
        return d


def _replica_tp(model: ModelArch, hw: Hardware, opts: ServeOptions) -> int:
    """Fewest chips whose memory holds the weights plus one full token budget of KV and workspace."""
    cfg = ServingConfig(
        model=model,
        batch=1,
        input_tokens=opts.max_batch_tokens,
        output_tokens=1,
        tp=opts.tp,
        weight_precision=opts.precision,
    )
    tp, _ = resolve_tp(model, cfg, hw)
    return tp


def simulate_serving(
    model: ModelArch,
    trace: RequestTrace,
    fleet: FleetSpec,
    catalog: Catalog,
    *,
    router: str | Router = "least-outstanding",
    options: ServeOptions | None = None,
    seed: int = 0,
    pricing: Pricing = Pricing.ON_DEMAND,
    region: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ServeResult:
    """Replay ``trace`` against a fleet of replicas of ``model`` (see the module docstring)."""
    opts = options or ServeOptions()
    if model.kind != "decoder":
        raise ConfigError(f"{model.name} is an encoder; serving simulation covers decoder LMs")
    pool = Pool.build(catalog, fleet, pricing, region)
    sim = Simulation(seed=seed)
    rt = make_router(router) if isinstance(router, str) else router
    type_stats: dict[str, _Stats] = {}
    replicas: list[Replica] = []
    meta: dict[str, tuple[int, int]] = {}
    view = FleetView(
        instance=[], outstanding=np.zeros(0, dtype=np.int64), kv_capacity_tokens=np.zeros(0, dtype=np.int64)
    )
    waiting_total = [0]
    slots: list[tuple[Node, int, IterationModel, int]] = []
    for node in pool.nodes:
        name = node.instance.name
        if name not in meta:
            tp = _replica_tp(model, node.hw, opts)
            it_probe = IterationModel(model, node.hw, tp, opts.precision)
            free = node.hw.usable_memory_bytes - it_probe.weight_bytes
            free -= workspace_bytes_per_chip(model, tp, 1, opts.max_batch_tokens)
            cap = int(free // it_probe.kv_bytes)
            if cap < 1:
                raise DoesNotFitError(
                    f"{model.name} with tp={tp} leaves no KV-cache room on {name}.",
                    needed_bytes=it_probe.weight_bytes,
                    available_bytes=node.hw.usable_memory_bytes,
                    suggestion="use more chips per replica (--tp), a lower precision, or a smaller --max-batch-tokens",
                )
            meta[name] = (tp, cap)
            type_stats[name] = _Stats()
        tp, cap = meta[name]
        it = IterationModel(model, node.hw, tp, opts.precision)
        pool.allocate([node], f"serve:{node.id}")
        slots += [(node, tp, it, cap)] * (node.chips // tp)
    view.instance = [node.instance.name for node, _, _, _ in slots]
    view.outstanding = np.zeros(len(slots), dtype=np.int64)
    view.kv_capacity_tokens = np.array([cap for _, _, _, cap in slots], dtype=np.int64)
    for i, (node, tp, it, cap) in enumerate(slots):
        replicas.append(
            Replica(i, node, tp, it, cap, opts, sim, type_stats[node.instance.name], trace.block_tokens,
                    view, waiting_total)
        )  # fmt: skip
    queue = WindowSeries(opts.window_s)
    n = len(trace)
    arrivals, inputs, outputs = trace.arrival_s, trace.input_tokens, trace.output_tokens
    hashes = trace.hash_ids

    def arrive(i: int) -> None:
        inp, out = int(inputs[i]), int(outputs[i])
        req = _Request(
            rid=i,
            arrival=sim.now,
            input=inp,
            output=out,
            hashes=hashes[i] if hashes is not None else None,
            prefill_left=inp,
            generated=0,
            kv=0,
            first_token=math.nan,
        )
        replicas[rt.choose(inp, out, view, sim.rng)].enqueue(req)
        queue.set(sim.now, float(waiting_total[0]))
        if i + 1 < n:
            sim.schedule(float(arrivals[i + 1]), lambda: arrive(i + 1), priority=1)
        if progress is not None and (i + 1) % 10_000 == 0:
            progress(i + 1, n)

    if n:
        sim.schedule(float(arrivals[0]), lambda: arrive(0), priority=1)
    sim.run()
    if progress is not None:
        progress(n, n)
    stats = _Stats()
    for st in type_stats.values():
        stats.merge(st)
    span = max(sim.now, float(arrivals[-1]) if n else 0.0)
    region_name = region or _price_region(pool, pricing)
    pue = catalog.region(region_name).pue_ratio if region_name else 1.0
    rejected = sum(r.rejected for r in replicas)
    by_type = []
    for name, st in type_stats.items():
        reps = [r for r in replicas if r.instance == name]
        chip_s = sum(r.chips for r in reps) * span
        busy = sum(node.busy_chip_s for node in {id(r.node): r.node for r in reps}.values())
        by_type.append(
            TypeReport(
                instance=name,
                replicas=len(reps),
                tp=meta[name][0],
                kv_capacity_tokens=meta[name][1],
                completed=st.completed,
                ttft_s=st.ttft.summary(),
                tpot_s=st.tpot.summary(),
                e2e_s=st.e2e.summary(),
                utilization=busy / chip_s if chip_s else 0.0,
                slo_attainment=_slo(st, opts),
                preemptions=st.preemptions,
            )
        )
    util_series: dict[str, list[float]] = {}
    for name in type_stats:
        reps = [r for r in replicas if r.instance == name]
        length = max((len(r.busy_series.values) for r in reps), default=0)
        series = np.zeros(length)
        for r in reps:
            series[: len(r.busy_series.values)] += np.array(r.busy_series.values)
        util_series[name] = list(series / (len(reps) * opts.window_s)) if reps else []
    return ServeResult(
        model=model.name,
        trace=trace.name,
        fleet=fleet.describe(),
        router=router if isinstance(router, str) else type(router).__name__,
        seed=seed,
        requests=n,
        completed=stats.completed,
        rejected=rejected,
        span_s=span,
        ttft_s=stats.ttft.summary(),
        tpot_s=stats.tpot.summary(),
        e2e_s=stats.e2e.summary(),
        slo_attainment=_slo(stats, opts),
        output_tokens_per_s=stats.output_tokens / span if span else 0.0,
        requests_per_s=stats.completed / span if span else 0.0,
        preemptions=stats.preemptions,
        prefix_hit_tokens=stats.prefix_hit_tokens,
        by_type=tuple(by_type),
        utilization_series=util_series,
        queue_series=queue.values,
        window_s=opts.window_s,
        cost_usd=pool.cost_usd(span),
        energy_kwh=pool.energy_kwh(span, pue),
        pue=pue,
        events=sim.events_run,
        histograms={"ttft": stats.ttft, "tpot": stats.tpot, "e2e": stats.e2e},
    )


def _slo(st: _Stats, opts: ServeOptions) -> float | None:
    if opts.slo_ttft_s is None and opts.slo_tpot_s is None:
        return None
    return st.slo_met / st.completed if st.completed else math.nan


def _price_region(pool: Pool, pricing: Pricing) -> str | None:
    for node in pool.nodes:
        price = node.instance.price(None, pricing)
        if price is not None:
            return price.region
    return None
