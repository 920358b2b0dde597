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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from chipfleet.catalog import Catalog, Precision, Pricing
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.hardware import Hardware
from chipfleet.perf.inference import ServingConfig, resolve_tp, workspace_bytes_per_chip
from chipfleet.perf.iteration import IterationModel
from chipfleet.sim.fleet import FleetSpec, Node, Pool
from chipfleet.sim.kernel import Simulation, Timer
from chipfleet.sim.metrics import LogHistogram, WindowSeries
from chipfleet.sim.serving.routers import FleetView, Router, make_router
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import ModelArch


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
        if self.tp is not None and self.tp < 1:
            raise ConfigError(f"tp (chips per replica) must be at least 1, got {self.tp}")
        for name in ("slo_ttft_s", "slo_tpot_s"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a positive, finite number of seconds (or None), got {value!r}")
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ConfigError(f"window_s must be a positive, finite number of seconds, got {self.window_s!r}")


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
    queue: LogHistogram = field(default_factory=LogHistogram)  # arrival to first admission into a batch
    # TTFT minus the request's TTFT alone on its replica: the delay load adds (queueing and batching)
    ttft_excess: LogHistogram = field(default_factory=LogHistogram)
    completed: int = 0
    output_tokens: int = 0
    slo_met: int = 0
    preemptions: int = 0
    prefix_hit_tokens: int = 0

    def merge(self, other: _Stats) -> None:
        for h in ("ttft", "tpot", "e2e", "queue", "ttft_excess"):
            getattr(self, h).merge(getattr(other, h))
        self.completed += other.completed
        self.output_tokens += other.output_tokens
        self.slo_met += other.slo_met
        self.preemptions += other.preemptions
        self.prefix_hit_tokens += other.prefix_hit_tokens


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
        self.busy_chip_s = 0.0  # this replica's own, apart from the node's (which training also adds to)
        self.draining = False  # closed to new requests: finishing what it has
        self.track_load_delay = False  # record TTFT − TTFT alone (an extra model call per request; opt-in)
        self.on_idle: Callable[[], None] | None = None

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
                if r.prefill_left == r.input:  # first admission, not a re-admission after preemption
                    self.stats.queue.add(self.sim.now - r.arrival)
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
        self.busy_chip_s += busy_s * self.chips
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
                        if self.track_load_delay:
                            self.stats.ttft_excess.add(wait - self.it.alone_ttft_s(r.input))
            for r in decoders:
                r.generated += 1
                r.kv += 1
                self.kv_used += 1
            self._account(start, busy)
            self._finish_done(now)
        self._preempt_if_full()
        self._start()
        if self.draining and not self.busy and self.on_idle is not None:
            self.on_idle()

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
    queue_wait_s: dict[str, float]  # arrival to first admission into a batch
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
    beyond_context: int = 0  # refused on arrival: prompt + output longer than the model's context window
    context_window_tokens: int = 0  # the model's context window (max_position_embeddings)

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


class ServingSystem:
    """Replicas of one model on some of a pool's nodes, a router and a trace's arrivals, on a shared clock.

    Every node in ``nodes`` gets its replicas up front (so the router's arrays keep their size), but only
    the nodes in ``open_nodes`` (default: all) are allocated and routed to. A sharing controller grows and
    shrinks the set while the simulation runs: :meth:`open` takes a free node, :meth:`drain` stops routing
    to a node and hands it back to the pool once its requests have finished. Cost and energy count each node
    only while serving held it.
    """

    def __init__(
        self,
        sim: Simulation,
        model: ModelArch,
        trace: RequestTrace,
        pool: Pool,
        nodes: list[Node],
        *,
        router: str | Router = "least-outstanding",
        options: ServeOptions | None = None,
        open_nodes: list[Node] | None = None,
        options_by_type: Mapping[str, ServeOptions] | None = None,
    ) -> None:
        opts = self.opts = options or ServeOptions()
        by_type = dict(options_by_type or {})
        if model.kind != "decoder":
            raise ConfigError(f"{model.name} is an encoder; serving simulation covers decoder LMs")
        if not nodes:
            raise ConfigError("serving has no nodes to run on")
        # A server refuses a request whose prompt + output exceeds the model's context window (vLLM's
        # max_model_len defaults to max_position_embeddings): such requests are counted, never routed.
        self.context_window = model.max_position_embeddings
        context = trace.input_tokens + trace.output_tokens
        self._beyond_context: list[bool] = (context > self.context_window).tolist()
        self.beyond_context = 0
        if len(trace) and all(self._beyond_context):
            raise ConfigError(
                f"nothing to serve: all {len(trace):,} requests of {trace.name} are longer than {model.name}'s "
                f"context window ({self.context_window:,} tokens of prompt and output; the shortest has "
                f"{int(context.min()):,}); use a model with a longer context window or requests within it"
            )
        self.sim, self.model, self.trace, self.pool = sim, model, trace, pool
        self.router = make_router(router) if isinstance(router, str) else router
        self.router_name = router.strip().lower() if isinstance(router, str) else type(router).__name__
        self.type_stats: dict[str, _Stats] = {}
        self.meta: dict[str, tuple[int, int]] = {}
        slots: list[tuple[Node, int, IterationModel, int]] = []
        self.type_opts: dict[str, ServeOptions] = {}
        for node in nodes:
            name = node.instance.name
            if name not in self.meta:
                self.type_opts[name] = by_type.get(name, opts)
                self.meta[name] = replica_shape(model, node.hw, self.type_opts[name])
                self.type_stats[name] = _Stats()
            tp, cap = self.meta[name]
            it = IterationModel(model, node.hw, tp, self.type_opts[name].precision)
            slots += [(node, tp, it, cap)] * (node.chips // tp)
        self.view = FleetView(
            instance=[node.instance.name for node, _, _, _ in slots],
            outstanding=np.full(len(slots), FleetView.CLOSED, dtype=np.int64),
            kv_capacity_tokens=np.array([cap for _, _, _, cap in slots], dtype=np.int64),
        )
        self.waiting_total = [0]
        self.replicas = [
            Replica(i, node, tp, it, cap, self.type_opts[node.instance.name], sim,
                    self.type_stats[node.instance.name], trace.block_tokens, self.view, self.waiting_total)
            for i, (node, tp, it, cap) in enumerate(slots)
        ]  # fmt: skip
        self.nodes = list(nodes)
        self._by_node: dict[int, list[Replica]] = {}
        for r in self.replicas:
            self._by_node.setdefault(r.node.id, []).append(r)
        self._held_since: dict[int, float] = {}
        self._held_s: dict[int, float] = {}
        self._draining: dict[int, Callable[[Node], None]] = {}
        self.queue = WindowSeries(opts.window_s)
        self.progress: Callable[[int, int], None] | None = None
        for node in nodes if open_nodes is None else open_nodes:
            self.open(node)

    # ------------------------------------------------------------------ capacity
    def open(self, node: Node) -> None:
        """Start serving on ``node`` (free in the pool, or one of ours still draining)."""
        if node.id not in self._by_node:
            raise ConfigError(f"node {node.id} ({node.instance.name}) was not given to this serving system")
        if node.id in self._draining:
            del self._draining[node.id]  # still held: just route to it again
        else:
            self.pool.allocate([node], f"serve:{node.id}")
            self._held_since[node.id] = self.sim.now
        for r in self._by_node[node.id]:
            r.draining = False
            self.view.outstanding[r.index] = r.outstanding

    def drain(self, node: Node, on_free: Callable[[Node], None]) -> None:
        """Stop routing to ``node``; once its requests are done, release it and call ``on_free(node)``."""
        if node.id not in self._held_since:
            raise ConfigError(f"node {node.id} is not serving")
        self._draining[node.id] = on_free
        for r in self._by_node[node.id]:
            r.draining = True
            r.on_idle = self._replica_idle
            self.view.outstanding[r.index] = FleetView.CLOSED + r.outstanding
        self._replica_idle()

    def _replica_idle(self) -> None:
        for node_id, on_free in list(self._draining.items()):
            reps = self._by_node[node_id]
            if all(r.outstanding == 0 and not r.busy for r in reps):
                del self._draining[node_id]
                node = reps[0].node
                self._held_s[node_id] = self._held_s.get(node_id, 0.0) + self.sim.now - self._held_since.pop(node_id)
                self.pool.release(f"serve:{node_id}")
                on_free(node)

    def track_load_delay(self) -> None:
        """Also record each request's TTFT minus its TTFT alone (``ttft_excess``), for a capacity controller."""
        for r in self.replicas:
            r.track_load_delay = True

    def can_host(self, node: Node) -> bool:
        return node.id in self._by_node

    def latency_counts(self, metric: str) -> NDArray[np.int64]:
        """Bin counts of every ``ttft``, ``ttft_excess`` or ``queue`` wait so far (a controller differences two
        snapshots to get one interval's distribution)."""
        hists: list[LogHistogram] = [getattr(st, metric) for st in self.type_stats.values()]
        total = np.zeros_like(hists[0].counts)
        for h in hists:
            total += h.counts
        return total

    def replicas_on(self, node: Node) -> int:
        return len(self._by_node.get(node.id, ()))

    @property
    def held_nodes(self) -> list[Node]:
        """Nodes serving holds now, open or draining."""
        return [n for n in self.nodes if n.id in self._held_since]

    @property
    def open_nodes(self) -> list[Node]:
        return [n for n in self.held_nodes if n.id not in self._draining]

    def busy_replica_s(self) -> float:
        """Σ replicas' busy seconds so far (a controller differences it to get recent utilization)."""
        return sum(r.busy_chip_s / r.chips for r in self.replicas)

    def open_replicas(self) -> int:
        return sum(len(self._by_node[n.id]) for n in self.open_nodes)

    @property
    def waiting(self) -> int:
        return self.waiting_total[0]

    # ------------------------------------------------------------------ arrivals
    def start(self) -> None:
        """Schedule the trace's first arrival (call once, before ``sim.run``)."""
        if len(self.trace):
            self.sim.schedule(float(self.trace.arrival_s[0]), lambda: self._arrive(0), priority=1)

    def _arrive(self, i: int) -> None:
        sim, trace = self.sim, self.trace
        if self._beyond_context[i]:
            self.beyond_context += 1  # refused on arrival, as a server refuses it
            self._next(i)
            return
        inp, out = int(trace.input_tokens[i]), int(trace.output_tokens[i])
        hashes = trace.hash_ids
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
        self.replicas[self.router.choose(inp, out, self.view, sim.rng)].enqueue(req)
        self.queue.set(sim.now, float(self.waiting_total[0]))
        self._next(i)

    def _next(self, i: int) -> None:
        """Schedule the arrival after request ``i``."""
        n = len(self.trace)
        if i + 1 < n:
            self.sim.schedule(float(self.trace.arrival_s[i + 1]), lambda: self._arrive(i + 1), priority=1)
        if self.progress is not None and (i + 1) % 10_000 == 0:
            self.progress(i + 1, n)

    # ------------------------------------------------------------------ result
    def held_node_s(self, node: Node, span: float) -> float:
        """Seconds serving held ``node`` up to ``span``."""
        since = self._held_since.get(node.id)
        return self._held_s.get(node.id, 0.0) + (max(0.0, span - since) if since is not None else 0.0)

    def result(self, span: float, *, fleet: str, seed: int, pue: float) -> ServeResult:
        """Summarise the run up to ``span`` seconds (cost and energy of the nodes while serving held them)."""
        opts = self.opts
        stats = _Stats()
        for st in self.type_stats.values():
            stats.merge(st)
        by_type = []
        util_series: dict[str, list[float]] = {}
        cost = joules = 0.0
        for name, st in self.type_stats.items():
            reps = [r for r in self.replicas if r.instance == name]
            chip_s = sum(r.chips * self.held_node_s(r.node, span) for r in reps)
            busy = sum(r.busy_chip_s for r in reps)
            by_type.append(
                TypeReport(
                    instance=name,
                    replicas=len(reps),
                    tp=self.meta[name][0],
                    kv_capacity_tokens=self.meta[name][1],
                    completed=st.completed,
                    ttft_s=st.ttft.summary(),
                    tpot_s=st.tpot.summary(),
                    e2e_s=st.e2e.summary(),
                    utilization=busy / chip_s if chip_s else 0.0,
                    slo_attainment=_slo(st, self.type_opts[name]),
                    preemptions=st.preemptions,
                )
            )
            length = max((len(r.busy_series.values) for r in reps), default=0)
            series = np.zeros(length)
            for r in reps:
                series[: len(r.busy_series.values)] += np.array(r.busy_series.values)
            util_series[name] = list(series / (len(reps) * opts.window_s)) if reps else []
        for node in self.nodes:
            held = self.held_node_s(node, span)
            busy = sum(r.busy_chip_s for r in self._by_node[node.id])
            cost += node.price_usd_per_h * held / 3600.0
            joules += node.power.energy_j(held, busy)
        n = len(self.trace)
        return ServeResult(
            model=self.model.name,
            trace=self.trace.name,
            fleet=fleet,
            router=self.router_name,
            seed=seed,
            requests=n,
            completed=stats.completed,
            rejected=sum(r.rejected for r in self.replicas),
            span_s=span,
            ttft_s=stats.ttft.summary(),
            tpot_s=stats.tpot.summary(),
            e2e_s=stats.e2e.summary(),
            queue_wait_s=stats.queue.summary(),
            slo_attainment=_slo(stats, opts),
            output_tokens_per_s=stats.output_tokens / span if span else 0.0,
            requests_per_s=stats.completed / span if span else 0.0,
            preemptions=stats.preemptions,
            prefix_hit_tokens=stats.prefix_hit_tokens,
            by_type=tuple(by_type),
            utilization_series=util_series,
            queue_series=self.queue.values,
            window_s=opts.window_s,
            cost_usd=cost,
            energy_kwh=joules * pue / 3.6e6,
            pue=pue,
            events=self.sim.events_run,
            histograms={"ttft": stats.ttft, "tpot": stats.tpot, "e2e": stats.e2e, "queue": stats.queue},
            beyond_context=self.beyond_context,
            context_window_tokens=self.context_window,
        )


def replica_shape(model: ModelArch, hw: Hardware, opts: ServeOptions) -> tuple[int, int]:
    """(chips per replica, KV-cache tokens per replica) of ``model`` on ``hw``; raises if the KV has no room."""
    tp = _replica_tp(model, hw, opts)
    it = IterationModel(model, hw, tp, opts.precision)
    free = hw.usable_memory_bytes - it.weight_bytes
    free -= workspace_bytes_per_chip(model, tp, 1, opts.max_batch_tokens)
    cap = int(free // it.kv_bytes)
    if cap < 1:
        raise DoesNotFitError(
            f"{model.name} with tp={tp} leaves no KV-cache room on {hw.instance}.",
            needed_bytes=it.weight_bytes,
            available_bytes=hw.usable_memory_bytes,
            suggestion="use more chips per replica (--tp), a lower precision, or a smaller --max-batch-tokens",
        )
    return tp, cap


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
    options_by_type: Mapping[str, ServeOptions] | None = None,
) -> ServeResult:
    """Replay ``trace`` against a fleet of replicas of ``model`` (see the module docstring).

    ``options_by_type`` gives some instance types their own replica options (chips per replica, precision,
    batch limits); the others, and the fleet's SLO attainment, use ``options``.
    """
    pool = Pool.build(catalog, fleet, pricing, region)
    sim = Simulation(seed=seed)
    system = ServingSystem(
        sim, model, trace, pool, pool.nodes, router=router, options=options, options_by_type=options_by_type
    )
    system.progress = progress
    system.start()
    sim.run()
    n = len(trace)
    if progress is not None:
        progress(n, n)
    span = max(sim.now, float(trace.arrival_s[-1]) if n else 0.0)
    region_name = region or _price_region(pool, pricing)
    pue = catalog.region(region_name).pue_ratio if region_name else 1.0
    return system.result(span, fleet=fleet.describe(), seed=seed, pue=pue)


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
