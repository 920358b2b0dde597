"""The serving system: replicas of one model on a pool's nodes, a router and a trace's arrivals on one clock."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
from numpy.typing import NDArray

from chipfleet.economics.ledger import Charge, effective_pue, node_charge
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import Hardware
from chipfleet.perf.inference import ServingConfig, resolve_tp
from chipfleet.perf.iteration import IterationModel
from chipfleet.sim.fleet import Node, Pool
from chipfleet.sim.kernel import Simulation
from chipfleet.sim.metrics import LogHistogram, WindowSeries
from chipfleet.sim.serving.replica import HOLDER, LatencyStats, Replica, ServeOptions, SimRequest
from chipfleet.sim.serving.results import ServeResult, TypeReport
from chipfleet.sim.serving.routers import FleetView, Router, make_router
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import ModelArch


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
        concurrency: int | None = None,
        think_time_s: float = 0.0,
    ) -> None:
        opts = self.opts = options or ServeOptions()
        if concurrency is not None and (isinstance(concurrency, bool) or concurrency < 1):
            raise ConfigError(f"concurrency must be a positive number of clients, got {concurrency!r}",
                              field="concurrency")  # fmt: skip
        if not (math.isfinite(think_time_s) and think_time_s >= 0):
            raise ConfigError(f"think_time_s must be ≥ 0 seconds, got {think_time_s!r}", field="think_time_s")
        # Closed loop: `concurrency` clients send the trace's requests in order (its arrival times unused),
        # each client its next request `think_time_s` after its last one completes.
        self.concurrency, self.think_time_s = concurrency, think_time_s
        self._issued = 0
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
        self.type_stats: dict[str, LatencyStats] = {}
        self.meta: dict[str, tuple[int, int]] = {}
        slots: list[tuple[Node, int, IterationModel, int]] = []
        self.type_opts: dict[str, ServeOptions] = {}
        for node in nodes:
            name = node.instance.name
            if name not in self.meta:
                self.type_opts[name] = by_type.get(name, opts)
                self.meta[name] = replica_shape(model, node.hw, self.type_opts[name])
                self.type_stats[name] = LatencyStats(self.opts.window_s)
            tp, cap = self.meta[name]
            it = IterationModel(model, node.hw, tp, self.type_opts[name].precision, engine=self.type_opts[name].engine)
            slots += [(node, tp, it, cap)] * (node.chips // tp)
        self.view = FleetView(
            instance=[node.instance.name for node, _, _, _ in slots],
            outstanding=np.full(len(slots), FleetView.CLOSED, dtype=np.int64),
            kv_capacity_tokens=np.array([cap for _, _, _, cap in slots], dtype=np.int64),
        )
        self.waiting_total = [0]
        self.replicas = [
            Replica(i, node, tp, it, cap, self.type_opts[node.instance.name], sim,
                    self.type_stats[node.instance.name], trace.block_tokens, self.view, self.waiting_total, pool.ledger)
            for i, (node, tp, it, cap) in enumerate(slots)
        ]  # fmt: skip
        self.nodes = list(nodes)
        self._by_node: dict[int, list[Replica]] = {}
        for r in self.replicas:
            self._by_node.setdefault(r.node.id, []).append(r)
        self._held: dict[int, None] = {}  # nodes serving holds now (open or draining); tenures are in the ledger
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
            self._held[node.id] = None
            self.pool.ledger.hold(node.id, HOLDER, self.sim.now)
        for r in self._by_node[node.id]:
            r.draining = False
            self.view.outstanding[r.index] = r.outstanding

    def drain(self, node: Node, on_free: Callable[[Node], None]) -> None:
        """Stop routing to ``node``; once its requests are done, release it and call ``on_free(node)``."""
        if node.id not in self._held:
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
                del self._held[node_id]
                self.pool.ledger.release(node_id, HOLDER, self.sim.now)
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
        return [n for n in self.nodes if n.id in self._held]

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
        """Schedule the trace's first arrival, or each closed-loop client's first request, all at the start
        (call once, before ``sim.run``)."""
        if self.concurrency is not None:
            for r in self.replicas:
                r.on_complete = self._client_done
            for _ in range(self.concurrency):
                self._issue(0.0)
            return
        if len(self.trace):
            self.sim.schedule(float(self.trace.arrival_s[0]), lambda: self._arrive(0), priority=1)

    def _issue(self, delay_s: float) -> None:
        """A closed-loop client sends the trace's next request after ``delay_s`` (none left: it stops)."""
        i = self._issued
        if i >= len(self.trace):
            return
        self._issued += 1
        self.sim.schedule(self.sim.now + delay_s, lambda: self._arrive(i), priority=1)
        if self.progress is not None and (i + 1) % 10_000 == 0:
            self.progress(i + 1, len(self.trace))

    def _client_done(self, req: SimRequest) -> None:
        self._issue(self.think_time_s)

    def _arrive(self, i: int) -> None:
        sim, trace = self.sim, self.trace
        if self._beyond_context[i]:
            self.beyond_context += 1  # refused on arrival, as a server refuses it
            if self.concurrency is None:
                self._next(i)
            else:
                self._issue(self.think_time_s)
            return
        inp, out = int(trace.input_tokens[i]), int(trace.output_tokens[i])
        hashes = trace.hash_ids
        req = SimRequest(
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
        if self.concurrency is None:
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
        return self.pool.ledger.held_s(node.id, HOLDER, span)

    def result(self, span: float, *, fleet: str, seed: int) -> ServeResult:
        """Summarise the run up to ``span`` seconds: cost, energy and carbon of the nodes while serving held
        them, each with its own region's PUE and grid intensity (from the pool's ledger)."""
        ledger = self.pool.ledger
        opts = self.opts
        stats = LatencyStats(opts.window_s)
        for st in self.type_stats.values():
            stats.merge(st)
        by_type = []
        util_series: dict[str, list[float]] = {}
        charge = Charge()
        for name, st in self.type_stats.items():
            reps = [r for r in self.replicas if r.instance == name]
            chip_s = sum(r.chips * self.held_node_s(r.node, span) for r in reps)
            busy = sum(ledger.busy_chip_s(node.id, span, HOLDER) for node in self.nodes if node.instance.name == name)
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
        times = [
            (node.rate, self.held_node_s(node, span), ledger.busy_chip_s(node.id, span, HOLDER)) for node in self.nodes
        ]
        for rate, held, busy in times:
            charge += node_charge(rate, held, busy)
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
            ttft_series=stats.ttft_windows.means(),
            tpot_series=stats.tpot_windows.means(),
            window_s=opts.window_s,
            cost_usd=charge.cost_usd,
            energy_kwh=charge.energy_kwh,
            pue=effective_pue(times),
            co2_kg=charge.co2_kg,
            events=self.sim.events_run,
            histograms={"ttft": stats.ttft, "tpot": stats.tpot, "e2e": stats.e2e, "queue": stats.queue},
            beyond_context=self.beyond_context,
            context_window_tokens=self.context_window,
        )


def replica_shape(model: ModelArch, hw: Hardware, opts: ServeOptions) -> tuple[int, int]:
    """(chips per replica, KV-cache tokens per replica) of ``model`` on ``hw``; raises if the KV has no room."""
    tp = _replica_tp(model, hw, opts)
    return tp, IterationModel(model, hw, tp, opts.precision, engine=opts.engine).kv_room_tokens(opts.max_batch_tokens)


def _slo(st: LatencyStats, opts: ServeOptions) -> float | None:
    if opts.slo_ttft_s is None and opts.slo_tpot_s is None:
        return None
    return st.slo_met / st.completed if st.completed else math.nan
