"""The workers of a disaggregated serving simulation: prefill workers (prefill-only iterations, the KV cache held
until it has left) and decode workers (decode-only iterations over the requests whose caches have landed), with the
request and per-pool statistics they keep. :mod:`chipfleet.sim.serving.disagg` wires them to the link, the routers
and the clock."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from chipfleet.perf.iteration import IterationModel
from chipfleet.perf.kv_transfer import kv_transfer_bytes
from chipfleet.sim.fleet import Node
from chipfleet.sim.kernel import Timer
from chipfleet.sim.metrics import LogHistogram, WindowSeries
from chipfleet.sim.serving.disagg_routers import PoolView
from chipfleet.sim.serving.pools import PoolSpec

if TYPE_CHECKING:  # the system drives its workers, which report back to it
    from chipfleet.sim.serving.disagg import _System

HOLDER = "serve"


@dataclass
class _Req:
    __slots__ = ("arrival", "first_token", "generated", "input", "output", "prefill_left", "prefilled", "rid", "worker")
    rid: int
    arrival: float
    input: int
    output: int
    prefill_left: int
    generated: float  # tokens so far; fractional under speculative decoding (τ per iteration on average)
    first_token: float
    prefilled: float  # when its prompt's last chunk ended
    worker: int  # its prefill worker


@dataclass
class _Stats:
    ttft: LogHistogram = field(default_factory=LogHistogram)
    tpot: LogHistogram = field(default_factory=LogHistogram)
    e2e: LogHistogram = field(default_factory=LogHistogram)
    queue: LogHistogram = field(default_factory=LogHistogram)
    decode_wait: LogHistogram = field(default_factory=LogHistogram)
    transfer: LogHistogram = field(default_factory=LogHistogram)
    completed: int = 0
    output_tokens: int = 0
    slo_met: int = 0
    transfers: int = 0
    bytes_moved: float = 0.0
    link_busy_s: float = 0.0


@dataclass(frozen=True)
class _Shape:
    """A pool's workers: chips each, their iteration model, KV-cache tokens each, batch limits, and nodes."""

    spec: PoolSpec
    tp: int
    it: IterationModel
    kv_capacity: int
    max_seqs: int
    max_batch_tokens: int
    slots: tuple[tuple[tuple[Node, int], ...], ...]  # per worker: (node, chips on it)


class _Worker:
    """What prefill and decode workers share: the timer, busy-time accounting and the router's view entry."""

    def __init__(self, index: int, shape: _Shape, slot: tuple[tuple[Node, int], ...], system: _System,
                 view: PoolView) -> None:  # fmt: skip
        self.index, self.shape, self.slot, self.system, self.view = index, shape, slot, system, view
        self.sim = system.sim
        self.it = shape.it
        self.kv_used = 0
        self.busy = False
        self.busy_chip_s = 0.0
        self.series = WindowSeries(system.opts.window_s)

    def _account(self, start: float, busy_s: float) -> None:
        for node, chips in self.slot:
            self.system.pool.ledger.add_busy(node.id, HOLDER, busy_s * chips)
        self.busy_chip_s += busy_s * self.shape.tp
        now = self.sim.now
        if now > start:
            self.series.add(start, now, busy_s / (now - start))

    def _kv(self, delta: int) -> None:
        self.kv_used += delta
        self.view.kv_free_tokens[self.index] = self.shape.kv_capacity - self.kv_used


class _Prefill(_Worker):
    """A prefill worker: prefill-only iterations of its queued prompts, then each cache out over its link share."""

    def __init__(self, index: int, shape: _Shape, slot: tuple[tuple[Node, int], ...], system: _System,
                 view: PoolView) -> None:  # fmt: skip
        super().__init__(index, shape, slot, system, view)
        self.timer = Timer(self.sim, self._on_end)
        self.waiting: deque[_Req] = deque()
        self.running: list[_Req] = []
        self.plan: tuple[list[tuple[_Req, int]], float, float] | None = None
        self.link_free_at = 0.0  # the FIFO server of this worker's share of the link
        self.prefilled = 0

    def enqueue(self, req: _Req) -> None:
        self.view.outstanding[self.index] += 1
        self.view.outstanding_tokens[self.index] += req.input
        delay = self.system.opts.first_token_overhead_s
        if delay > 0:
            self.sim.after(delay, lambda: self._join(req), priority=1)
        else:
            self._join(req)

    def _join(self, req: _Req) -> None:
        self.waiting.append(req)
        self.system.queued[0] += 1
        if not self.busy:
            self._start()
        self.system.waiting(0, 0)  # the level once an idle worker has admitted what it can

    def _start(self) -> None:
        shape = self.shape
        budget = shape.max_batch_tokens
        chunks: list[tuple[_Req, int]] = []
        for r in self.running:
            if budget <= 0:
                break
            c = min(r.prefill_left, budget)
            chunks.append((r, c))
            budget -= c
        while self.waiting and len(self.running) < shape.max_seqs and budget > 0:
            r = self.waiting[0]
            if self.kv_used + r.input > shape.kv_capacity:
                break
            self.waiting.popleft()
            self.system.waiting(0, -1)
            self.system.stats.queue.add(self.sim.now - r.arrival - self.system.opts.first_token_overhead_s)
            self.running.append(r)
            self._kv(r.input)
            c = min(r.prefill_left, budget)
            chunks.append((r, c))
            budget -= c
        if not chunks:
            self.busy = False
            return
        self.busy = True
        prefill = sum(c for _, c in chunks)
        done = [r.input - r.prefill_left for r, _ in chunks]
        keys = sum(c * p + c * c / 2.0 for (_, c), p in zip(chunks, done, strict=True))
        finishing = sum(1 for r, c in chunks if c == r.prefill_left)
        t, busy = self.it.time(0, 0.0, prefill, keys, float(sum(done)), finishing)
        self.plan = (chunks, busy, self.sim.now)
        self.timer.arm(self.sim.now + t)

    def _on_end(self) -> None:
        assert self.plan is not None
        chunks, busy, start = self.plan
        self.plan = None
        now = self.sim.now
        self._account(start, busy)
        finished: list[_Req] = []
        for r, c in chunks:
            r.prefill_left -= c
            self.view.outstanding_tokens[self.index] -= c
            if r.prefill_left == 0:
                r.generated = 1  # the pass computed the first output token
                r.prefilled = now
                finished.append(r)
        if finished:
            self.running = [r for r in self.running if r.prefill_left > 0]
            self.prefilled += len(finished)
        for r in finished:
            self.system.to_decode(r)
        self._start()

    def send(self, req: _Req, decode: _Decode) -> None:
        """Move ``req``'s cache to ``decode`` once this worker's earlier transfers are done (a FIFO server)."""
        system = self.system
        nbytes = kv_transfer_bytes(system.model, req.input, self.it.cfg.kv_dtype)
        start = max(self.sim.now, self.link_free_at)
        duration = system.link.transfer_s(nbytes)
        self.link_free_at = start + duration
        st = system.stats
        st.transfers += 1
        st.bytes_moved += nbytes
        st.link_busy_s += duration
        system.link_series.add(start, self.link_free_at)
        st.transfer.add(self.link_free_at - self.sim.now)
        self.sim.schedule(self.link_free_at, lambda: self._landed(req, decode))

    def _landed(self, req: _Req, decode: _Decode) -> None:
        self._kv(-req.input)
        self.view.outstanding[self.index] -= 1
        decode.land(req)
        if self.waiting and not self.busy:
            self._start()  # KV room freed for a prompt that waited for it


class _Decode(_Worker):
    """A decode worker: decode-only iterations of the requests whose caches have landed on it."""

    def __init__(self, index: int, shape: _Shape, slot: tuple[tuple[Node, int], ...], system: _System,
                 view: PoolView) -> None:  # fmt: skip
        super().__init__(index, shape, slot, system, view)
        self.timer = Timer(self.sim, self._on_end)
        self.pending: deque[_Req] = deque()  # prefilled, waiting for KV room here
        self.reserved = 0  # requests with room reserved (in transfer or running)
        self.running: list[_Req] = []
        self.joining: list[_Req] = []
        self.block: tuple[float, np.ndarray, np.ndarray, int, list[_Req]] | None = None
        self.decoded = 0

    def route(self, req: _Req) -> None:
        self.view.outstanding[self.index] += 1
        self.view.outstanding_tokens[self.index] += req.output - 1
        self.pending.append(req)
        self.system.queued[1] += 1
        self._reserve()
        self.system.waiting(1, 0)

    def _reserve(self) -> None:
        shape = self.shape
        while self.pending and self.reserved < shape.max_seqs:
            r = self.pending[0]
            need = r.input + r.output
            if self.kv_used + need > shape.kv_capacity:
                break
            self.pending.popleft()
            self.system.waiting(1, -1)
            self.reserved += 1
            self._kv(need)
            self.system.stats.decode_wait.add(self.sim.now - r.prefilled)
            self.system.prefill[r.worker].send(r, self)

    def land(self, req: _Req) -> None:
        now = self.sim.now
        req.first_token = now
        self.system.stats.ttft.add(now - req.arrival)
        if req.generated >= req.output:
            self._complete(req, now)
            self._reserve()
            return
        self.joining.append(req)
        if not self.busy:
            self._start()
        elif self.block is not None:
            t0, cum, busy, k, decoders = self.block
            done = int(np.searchsorted(cum, now - t0, side="right"))
            cut = min(k, done + 1)
            if cut < k:
                self.block = (t0, cum, busy, cut, decoders)
                self.timer.arm(t0 + float(cum[cut - 1]))

    def _start(self) -> None:
        if self.joining:
            self.running += self.joining
            self.joining = []
        if not self.running:
            self.busy = False
            return
        self.busy = True
        n = len(self.running)
        tau = self.it.tokens_per_step
        k = math.ceil(min(r.output - r.generated for r in self.running) / tau)
        k = max(1, min(k, self.system.opts.max_decode_block))
        ctx = float(sum(r.input + r.generated for r in self.running))
        times, busy = self.it.decode_block(n, ctx, k)
        cum = np.cumsum(times)
        self.block = (self.sim.now, cum, busy, k, self.running)
        self.timer.arm(self.sim.now + float(cum[k - 1]))

    def _on_end(self) -> None:
        assert self.block is not None
        t0, _, busy, k, decoders = self.block
        self.block = None
        now = self.sim.now
        self._account(t0, float(busy[:k].sum()))
        gain = k * self.it.tokens_per_step
        keep = []
        for r in decoders:
            before = r.generated
            r.generated += gain
            left = max(0, math.ceil(r.output - r.generated))
            self.view.outstanding_tokens[self.index] -= math.ceil(r.output - before) - left
            if r.generated >= r.output - 1e-9:
                self._complete(r, now)
            else:
                keep.append(r)
        self.running = keep
        self._reserve()
        self._start()

    def _complete(self, r: _Req, now: float) -> None:
        self.reserved -= 1
        self._kv(-(r.input + r.output))
        self.view.outstanding[self.index] -= 1
        self.decoded += 1
        st, opts = self.system.stats, self.system.opts
        tpot = (now - r.first_token) / (r.output - 1) if r.output > 1 else math.nan
        st.e2e.add(now - r.arrival)
        if r.output > 1:
            st.tpot.add(tpot)
        st.completed += 1
        st.output_tokens += r.output
        ttft = r.first_token - r.arrival
        if (opts.slo_ttft_s is None or ttft <= opts.slo_ttft_s) and (
            opts.slo_tpot_s is None or math.isnan(tpot) or tpot <= opts.slo_tpot_s
        ):
            st.slo_met += 1
