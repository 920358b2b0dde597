"""One serving replica: vLLM-style continuous batching, KV cache, prefix reuse, decode blocks (the mechanism).

Each replica runs iterations of the decode tokens of every running request plus prefill work (whole prompts,
or chunks of them with chunked prefill) up to a token budget, with KV-cache capacity checked on admission and
preemption (recompute) when decode growth overflows it. When a replica has nothing to prefill it advances its
whole batch through ``k`` decode iterations in one event; an arrival at that replica cuts the block at the
iteration in flight.

An engine's per-request first-token overhead (``EngineProfile.first_token_overhead_s``: tokenisation,
scheduling, detokenising the first token) is time the engine spends on a request before it joins the batch: the
request reaches the replica's waiting queue that long after it arrives, so its first token is late by it and its
decode follows as before (its later tokens shift with it: E2E rises by it, TPOT does not). The chips are not
busy for it and no iteration is longer; the router counts the request on its replica from arrival.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from chipfleet.catalog import Precision
from chipfleet.economics.ledger import Ledger
from chipfleet.exceptions import ConfigError
from chipfleet.perf.engines import EngineProfile
from chipfleet.perf.iteration import IterationModel
from chipfleet.sim.fleet import Node
from chipfleet.sim.kernel import Simulation, Timer
from chipfleet.sim.metrics import LogHistogram, WindowMeans, WindowSeries
from chipfleet.sim.serving.routers import FleetView

HOLDER = "serve"  # the ledger holder of serving's node time


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
    # The serving engine's per-iteration and first-token overheads (perf.engines); None: none, the roofline alone.
    engine: EngineProfile | None = None

    @property
    def first_token_overhead_s(self) -> float:
        """The engine's time on each request before it joins the batch (0 without an engine)."""
        return self.engine.first_token_overhead_s if self.engine is not None else 0.0

    def __post_init__(self) -> None:
        for name in ("max_batch_tokens", "max_seqs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}", field=name)
        if self.tp is not None and self.tp < 1:
            raise ConfigError(f"tp (chips per replica) must be at least 1, got {self.tp}", field="tp")
        for name in ("slo_ttft_s", "slo_tpot_s"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(
                    f"{name} must be a positive, finite number of seconds (or None), got {value!r}", field=name
                )
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ConfigError(
                f"window_s must be a positive, finite number of seconds, got {self.window_s!r}", field="window_s"
            )


@dataclass
class SimRequest:
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
class LatencyStats:
    window_s: float = 60.0  # of the latency-over-time series
    ttft: LogHistogram = field(default_factory=LogHistogram)
    tpot: LogHistogram = field(default_factory=LogHistogram)
    e2e: LogHistogram = field(default_factory=LogHistogram)
    # From joining the waiting queue (arrival + the engine's first-token overhead) to first admission into a batch
    queue: LogHistogram = field(default_factory=LogHistogram)
    # TTFT minus the request's TTFT alone on its replica: the delay load adds (queueing and batching)
    ttft_excess: LogHistogram = field(default_factory=LogHistogram)
    completed: int = 0
    output_tokens: int = 0
    slo_met: int = 0
    preemptions: int = 0
    prefix_hit_tokens: int = 0
    # per window: the mean TTFT of the requests whose first token came in it, the mean TPOT of those that finished
    ttft_windows: WindowMeans = field(init=False)
    tpot_windows: WindowMeans = field(init=False)

    def __post_init__(self) -> None:
        self.ttft_windows = WindowMeans(self.window_s)
        self.tpot_windows = WindowMeans(self.window_s)

    def merge(self, other: LatencyStats) -> None:
        for h in ("ttft", "tpot", "e2e", "queue", "ttft_excess", "ttft_windows", "tpot_windows"):
            getattr(self, h).merge(getattr(other, h))
        self.completed += other.completed
        self.output_tokens += other.output_tokens
        self.slo_met += other.slo_met
        self.preemptions += other.preemptions
        self.prefix_hit_tokens += other.prefix_hit_tokens


@dataclass
class DecodeBlock:
    t0: float
    cum: np.ndarray  # cumulative iteration end times from t0
    busy: np.ndarray
    k: int
    decoders: list[SimRequest]


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
        stats: LatencyStats,
        block_tokens: int | None,
        view: FleetView,
        waiting_total: list[int],
        ledger: Ledger,
    ) -> None:
        self.index, self.node, self.chips, self.it = index, node, chips, it
        self.kv_capacity, self.opts, self.sim = kv_capacity, opts, sim
        self.stats = stats  # this replica's instance type's; merged into the fleet's at the end
        self.waiting: deque[SimRequest] = deque()
        self.running: list[SimRequest] = []
        self.kv_used = 0
        self.busy = False
        self.timer = Timer(sim, self._on_end)
        self.block: DecodeBlock | None = None
        self.plan: tuple[list[tuple[SimRequest, int]], list[SimRequest], float, float] | None = None
        self.busy_series = WindowSeries(opts.window_s)
        self.block_tokens = block_tokens
        self.cache: OrderedDict[int, None] = OrderedDict()
        self.cache_blocks = kv_capacity // block_tokens if block_tokens else 0
        self.rejected = 0
        self.view = view  # the router's arrays: this replica keeps its own entry current
        self.waiting_total = waiting_total  # one shared counter for the fleet's queue length
        self.busy_chip_s = 0.0  # this replica's own (the ledger has it by node)
        self.ledger = ledger
        self.draining = False  # closed to new requests: finishing what it has
        self.track_load_delay = False  # record TTFT − TTFT alone (an extra model call per request; opt-in)
        self.on_idle: Callable[[], None] | None = None
        # Called with each request that leaves (completed or refused): a closed loop's client sends its next.
        self.on_complete: Callable[[SimRequest], None] | None = None
        self.first_token_s = opts.first_token_overhead_s
        self.joining = 0  # requests in the engine's first-token overhead, not yet in the waiting queue

    @property
    def instance(self) -> str:
        return self.node.instance.name

    @property
    def outstanding(self) -> int:
        return self.joining + len(self.waiting) + len(self.running)

    # ------------------------------------------------------------------ arrivals
    def enqueue(self, req: SimRequest) -> None:
        if req.input + req.output > self.kv_capacity:
            self.rejected += 1  # can never fit in this replica's KV cache
            if self.on_complete is not None:
                self.on_complete(req)
            return
        self.view.outstanding[self.index] += 1
        if self.first_token_s > 0:
            self.joining += 1
            self.sim.after(self.first_token_s, lambda: self._join(req), priority=1)
        else:
            self._join(req)

    def _join(self, req: SimRequest) -> None:
        """``req`` enters the waiting queue (after the engine's first-token overhead)."""
        if self.first_token_s > 0:
            self.joining -= 1
        self.waiting.append(req)
        self.waiting_total[0] += 1
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
    def _prefix_hits(self, req: SimRequest) -> int:
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

    def _remember(self, req: SimRequest) -> None:
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
        chunks: list[tuple[SimRequest, int]] = []
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
                    self.stats.queue.add(self.sim.now - r.arrival - self.first_token_s)
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

    def _start_block(self, decoders: list[SimRequest]) -> None:
        n = len(decoders)
        k = min(r.output - r.generated for r in decoders)
        headroom = (self.kv_capacity - self.kv_used) // n
        k = max(1, min(k, headroom, self.opts.max_decode_block))
        times, busy = self.it.decode_block(n, float(sum(r.kv for r in decoders)), k)
        self.block = DecodeBlock(t0=self.sim.now, cum=np.cumsum(times), busy=busy, k=k, decoders=decoders)
        if self.waiting:
            self._cut_block()  # someone is waiting (for KV room): only one iteration at a time
        self.timer.arm(self.sim.now + float(self.block.cum[self.block.k - 1]))

    # ------------------------------------------------------------------ iteration end
    def _account(self, start: float, busy_s: float) -> None:
        now = self.sim.now
        self.ledger.add_busy(self.node.id, HOLDER, busy_s * self.chips)
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
                        self.stats.ttft_windows.add(now, wait)
                        if self.track_load_delay:
                            alone = self.it.alone_ttft_s(r.input) + self.first_token_s
                            self.stats.ttft_excess.add(wait - alone)
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
        left: list[SimRequest] = []
        for r in self.running:
            if r.prefill_left == 0 and r.generated >= r.output:
                left.append(r)
                self.kv_used -= r.kv
                self._remember(r)
                e2e = now - r.arrival
                tpot = (now - r.first_token) / (r.output - 1) if r.output > 1 else math.nan
                st = self.stats
                st.e2e.add(e2e)
                if r.output > 1:
                    st.tpot.add(tpot)
                    st.tpot_windows.add(now, tpot)
                st.completed += 1
                st.output_tokens += r.output
                if self._meets_slo(r.first_token - r.arrival, tpot):
                    st.slo_met += 1
            else:
                keep.append(r)
        self.view.outstanding[self.index] -= len(self.running) - len(keep)
        self.running = keep
        if self.on_complete is not None:
            for r in left:
                self.on_complete(r)

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
