"""Disaggregated serving simulation: prefill workers and decode workers (xPyD) joined by a KV-cache link.

A request joins a prefill worker's queue (the router's choice, after the engine's first-token overhead), which runs
prefill-only iterations: its queued prompts, chunked to the worker's token budget and sequence limit, each prompt's
KV cache held on the worker from admission until it has left. When a prompt's last chunk ends, the pass has computed
the first output token; the router picks a decode worker, which reserves KV room for the whole request (prompt and
output: a decode worker never preempts, since a dropped request would need a new prefill); requests wait, in order,
for that room. With room reserved the cache moves over the link between the pools
(:func:`chipfleet.perf.kv_transfer.kv_link`; workers of one instance type in one scale-up domain use its fabric),
``S = kv_transfer_bytes(model, prompt)`` bytes taking ``latency + S / B``; each prefill worker's share of the link is
a FIFO server, so transfers from one worker queue behind each other. When the cache lands the request joins the
decode worker's batch at its next iteration, which runs decode-only iterations (steady stretches advance ``k``
iterations in one event, cut short when a request joins, as in the aggregated simulator).

**The first token.** The prefill pass computes it, but the client receives it through the decode side: vLLM's
disaggregated proxy (``tests/v1/kv_connector/nixl_integration/toy_proxy_server.py``, read 2026-12-06) sends the
prefill worker the request with ``max_tokens=1`` and ``stream=False``, then streams the response from the decode
worker once the cache is there; SGLang's PD router and Dynamo's frontend likewise stream from the decode side. So a
request's TTFT is its arrival to its cache landing on the decode worker: queue + prefill + waiting for decode room
+ transfer; a lone request on idle pools has ``TTFT = prefill + transfer`` and ``TPOT`` = one decode iteration of
the decode worker (``tests/sim/serving/test_disagg.py``). A request whose prompt + output cannot fit a decode
worker's KV cache at all, or whose prompt cannot fit a prefill worker's, is a :class:`DoesNotFitError` before the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from chipfleet.catalog import Catalog, Pricing
from chipfleet.economics.ledger import Charge, effective_pue, node_charge
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.inference import ServingConfig, resolve_tp
from chipfleet.perf.iteration import IterationModel
from chipfleet.perf.kv_transfer import KvLink, kv_link, shares_scale_up_domain
from chipfleet.sim.fleet import FleetSpec, Node, Pool
from chipfleet.sim.kernel import Simulation
from chipfleet.sim.metrics import WindowSeries
from chipfleet.sim.serving.disagg_results import DisaggResult, LinkReport, PoolReport
from chipfleet.sim.serving.disagg_routers import DisaggRouter, PoolView, make_disagg_router
from chipfleet.sim.serving.disagg_workers import HOLDER, _Decode, _Prefill, _Req, _Shape, _Stats
from chipfleet.sim.serving.pools import DisaggOptions, PoolSpec
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import ModelArch


def _view(n: int, capacity: int) -> PoolView:
    return PoolView(
        outstanding=np.zeros(n, dtype=np.int64),
        outstanding_tokens=np.zeros(n, dtype=np.int64),
        kv_capacity_tokens=np.full(n, capacity, dtype=np.int64),
        kv_free_tokens=np.full(n, capacity, dtype=np.int64),
    )


class _System:
    def __init__(self, sim: Simulation, model: ModelArch, trace: RequestTrace, pool: Pool,
                 shapes: tuple[_Shape, _Shape], link: KvLink, router: DisaggRouter,
                 opts: DisaggOptions) -> None:  # fmt: skip
        self.sim, self.model, self.trace, self.pool, self.link, self.router, self.opts = (
            sim, model, trace, pool, link, router, opts
        )  # fmt: skip
        self.stats = _Stats()
        self.shapes = shapes
        p, d = shapes
        self.pview, self.dview = _view(len(p.slots), p.kv_capacity), _view(len(d.slots), d.kv_capacity)
        self.prefill = [_Prefill(i, p, s, self, self.pview) for i, s in enumerate(p.slots)]
        self.decode = [_Decode(i, d, s, self, self.dview) for i, s in enumerate(d.slots)]
        self.context_window = model.max_position_embeddings
        self.beyond = ((trace.input_tokens + trace.output_tokens) > self.context_window).tolist()
        self.beyond_context = 0
        self.progress: Callable[[int, int], None] | None = None
        # requests waiting per pool (prefill: not yet admitted; decode: for KV room), the window keeping its most
        self.queued = [0, 0]
        self.queue_series = (WindowSeries(opts.window_s), WindowSeries(opts.window_s))
        self.link_series = WindowSeries(opts.window_s)  # seconds the prefill workers' link shares were busy

    def waiting(self, pool: int, delta: int) -> None:
        """``delta`` requests left (−) pool ``pool``'s (0 prefill, 1 decode) waiting line; its level noted."""
        self.queued[pool] += delta
        self.queue_series[pool].set(self.sim.now, float(self.queued[pool]))

    def start(self) -> None:
        if len(self.trace):
            self.sim.schedule(float(self.trace.arrival_s[0]), lambda: self._arrive(0), priority=1)

    def _arrive(self, i: int) -> None:
        trace = self.trace
        n = len(trace)
        if i + 1 < n:
            self.sim.schedule(float(trace.arrival_s[i + 1]), lambda: self._arrive(i + 1), priority=1)
        if self.progress is not None and (i + 1) % 10_000 == 0:
            self.progress(i + 1, n)
        if self.beyond[i]:
            self.beyond_context += 1
            return
        inp, out = int(trace.input_tokens[i]), int(trace.output_tokens[i])
        w = self.router.prefill(inp, out, self.pview, self.sim.rng)
        req = _Req(rid=i, arrival=self.sim.now, input=inp, output=out, prefill_left=inp, generated=0,
                   first_token=math.nan, prefilled=math.nan, worker=w)  # fmt: skip
        self.prefill[w].enqueue(req)

    def to_decode(self, req: _Req) -> None:
        self.decode[self.router.decode(req.input, req.output, self.dview, self.sim.rng)].route(req)


def _layout(model: ModelArch, catalog: Catalog, spec: PoolSpec, opts: DisaggOptions, role: str,
            nodes: list[Node]) -> _Shape:  # fmt: skip
    """Workers of one pool: chips each (``spec.tp`` or the fewest that hold the model and a token budget's KV and
    workspace), KV-cache tokens each (free memory per chip after weights, the decode pool's speculative draft
    (``draft_layers`` target layers) and workspace ÷ KV bytes per token per chip), and the nodes each worker sits
    on."""
    inst = catalog.instance(spec.instance)
    hw = hardware_for(catalog, inst)
    budget = spec.max_batch_tokens or opts.max_batch_tokens
    cfg = ServingConfig(model=model, batch=1, input_tokens=budget, output_tokens=1, tp=spec.tp,
                        weight_precision=opts.precision, ep=spec.ep, dp_attention=spec.dp_attention)  # fmt: skip
    try:
        tp, _ = resolve_tp(model, cfg, hw)
        draft = opts.spec if role == "decode" else None
        it = IterationModel(model, hw, tp, opts.precision, engine=opts.engine, ep=spec.ep,
                            dp_attention=spec.dp_attention, spec=draft)  # fmt: skip
        cap = it.kv_room_tokens(budget)
    except ConfigError as err:
        raise ConfigError(f"the {role} pool on {inst.name}: {err}", field=role) from err
    except DoesNotFitError as err:  # say which pool, and name its option rather than --tp
        err.args = (f"the {role} pool on {inst.name}: {err}",)
        err.field = role
        raise
    per_node = inst.chips
    slots: list[tuple[tuple[Node, int], ...]] = []
    if tp <= per_node:
        for node in nodes:
            slots += [((node, tp),)] * (per_node // tp)
    else:
        span = tp // per_node
        if len(nodes) % span:
            raise ConfigError(
                f"a {role} worker of tp={tp} spans {span} instances of {inst.name}; the pool's {len(nodes)} "
                f"instances are not a multiple of {span}",
                field=role,
            )
        slots = [tuple((n, per_node) for n in nodes[i : i + span]) for i in range(0, len(nodes), span)]
    return _Shape(spec, tp, it, cap, spec.max_seqs or opts.max_seqs, budget, tuple(slots))


def _regions(
    catalog: Catalog, prefill: PoolSpec, decode: PoolSpec, pricing: Pricing
) -> tuple[str | None, str | None, str]:
    """Each pool's pricing region, and a note when the catalog forced an assumption.

    A region given for a pool: that pool there, and the other there too unless it has its own (two different
    regions: :func:`kv_link` refuses them). None given: the region where both are priced at the least cost for the
    pools' counts; where the catalog prices them in no common region, each pool at its cheapest region, the
    deployment assumed to run in one region (a note says so: a catalog lists a few regions per type, not every
    region that offers it)."""
    if prefill.region or decode.region:
        return prefill.region or decode.region, decode.region or prefill.region, ""
    p, d = catalog.instance(prefill.instance), catalog.instance(decode.instance)
    costs: dict[str, float] = {}
    for region in set(p.regions) & set(d.regions):
        pp, dp = p.price(region, pricing), d.price(region, pricing)
        if pp is not None and dp is not None:
            costs[region] = pp.usd_per_h * prefill.count + dp.usd_per_h * decode.count
    if costs:
        best = min(costs, key=lambda r: (costs[r], r))
        return best, best, ""
    note = (
        f"the catalog prices {p.name} and {d.name} in no common region; each pool is priced at its cheapest region "
        "and the pools are assumed to run in one region (give region=... on a pool to fix it)"
    )
    return None, None, note


def simulate_disaggregated(
    model: ModelArch,
    trace: RequestTrace,
    prefill: PoolSpec,
    decode: PoolSpec,
    catalog: Catalog,
    options: DisaggOptions | None = None,
    *,
    seed: int = 0,
    pricing: Pricing = Pricing.ON_DEMAND,
    progress: Callable[[int, int], None] | None = None,
) -> DisaggResult:
    """Replay ``trace`` against a prefill pool and a decode pool of ``model`` (the module docstring): TTFT, TPOT,
    E2E, SLO attainment, each pool's utilisation, the link's transfers, bytes and utilisation, cost and energy.

    Refused before the run, each saying which pool and why: a pool whose model does not fit, a request whose
    prompt + output exceeds a decode worker's KV cache (or whose prompt a prefill worker's), pools with no link
    between them (other cloud or region), an unknown instance type."""
    opts = options or DisaggOptions()
    if model.kind != "decoder":
        raise ConfigError(f"{model.name} is an encoder; serving simulation covers decoder LMs")
    rp, rd, note = _regions(catalog, prefill, decode, pricing)
    p_inst, d_inst = catalog.instance(prefill.instance), catalog.instance(decode.instance)
    # the link first: pools with none between them are refused before their layouts are worked out
    kv_link(catalog, p_inst, d_inst, prefill_chips=1, decode_chips=1, prefill_region=rp, decode_region=rd)
    pool = Pool.build(catalog, FleetSpec(((prefill.instance, prefill.count),)), pricing, rp)
    other = Pool.build(catalog, FleetSpec(((decode.instance, decode.count),)), pricing, rd)
    for node in other.nodes:
        node.id = len(pool.nodes)
        pool.nodes.append(node)
    p_nodes, d_nodes = pool.nodes[: prefill.count], pool.nodes[prefill.count :]
    p_shape = _layout(model, catalog, prefill, opts, "prefill", p_nodes)
    d_shape = _layout(model, catalog, decode, opts, "decode", d_nodes)
    chips = prefill.count * p_inst.chips + decode.count * d_inst.chips
    link = kv_link(
        catalog, p_inst, d_inst, prefill_chips=p_shape.tp, decode_chips=d_shape.tp, prefill_region=rp,
        decode_region=rd, scale_up=shares_scale_up_domain(catalog, p_inst, d_inst, chips),
    )  # fmt: skip
    inside = (trace.input_tokens + trace.output_tokens) <= model.max_position_embeddings
    if inside.any():
        longest = int((trace.input_tokens + trace.output_tokens)[inside].max())
        prompt = int(trace.input_tokens[inside].max())
        for role, shape, need, what in (
            ("prefill", p_shape, prompt, "longest prompt"),
            ("decode", d_shape, longest, "longest request (prompt + output)"),
        ):
            if need > shape.kv_capacity:
                kv = shape.it.kv_bytes
                raise DoesNotFitError(
                    f"the {what} of {trace.name} needs {need:,} tokens of KV cache, but a {role} worker "
                    f"({shape.tp} chip{'s' if shape.tp > 1 else ''} of {shape.spec.instance}) holds "
                    f"{shape.kv_capacity:,}.",
                    needed_bytes=need * kv,
                    available_bytes=shape.kv_capacity * kv,
                    suggestion=f"give the {role} pool more chips per worker (tp=...) or an instance with more memory",
                    field=role,
                )
    router = make_disagg_router(opts.router)
    sim = Simulation(seed=seed)
    system = _System(sim, model, trace, pool, (p_shape, d_shape), link, router, opts)
    system.progress = progress
    for node in pool.nodes:
        pool.allocate([node], f"serve:{node.id}")
        pool.ledger.hold(node.id, HOLDER, 0.0)
    system.start()
    sim.run()
    n = len(trace)
    if progress is not None:
        progress(n, n)
    span = max(sim.now, float(trace.arrival_s[-1]) if n else 0.0)
    rp = rp or pool.nodes[0].region
    rd = rd or pool.nodes[-1].region
    return _result(system, span, seed, rp, rd, (note,) if note else ())


def _pool_report(role: str, shape: _Shape, workers: list[_Prefill] | list[_Decode], region: str | None, span: float,
                 window_s: float, queue: WindowSeries) -> PoolReport:  # fmt: skip
    chips = shape.tp * len(workers)
    length = max((len(w.series.values) for w in workers), default=0)
    series = np.zeros(length)
    for w in workers:
        series[: len(w.series.values)] += np.array(w.series.values)
    done = sum(w.prefilled if isinstance(w, _Prefill) else w.decoded for w in workers)
    return PoolReport(
        role=role,
        instance=shape.spec.instance,
        instances=shape.spec.count,
        region=region,
        workers=len(workers),
        tp=shape.tp,
        ep=shape.spec.ep,
        dp_attention=shape.spec.dp_attention,
        max_seqs=shape.max_seqs,
        max_batch_tokens=shape.max_batch_tokens,
        kv_capacity_tokens=shape.kv_capacity,
        requests=done,
        utilization=sum(w.busy_chip_s for w in workers) / (chips * span) if span else 0.0,
        utilization_series=list(series / (len(workers) * window_s)) if workers else [],
        queue_series=list(queue.values),
    )


def _result(
    system: _System, span: float, seed: int, rp: str | None, rd: str | None, notes: tuple[str, ...]
) -> DisaggResult:
    st, opts, ledger = system.stats, system.opts, system.pool.ledger
    p_shape, d_shape = system.shapes
    times = [(n.rate, ledger.held_s(n.id, HOLDER, span), ledger.busy_chip_s(n.id, span, HOLDER))
             for n in system.pool.nodes]  # fmt: skip
    charge = Charge()
    for rate, held, busy in times:
        charge += node_charge(rate, held, busy)
    link = system.link
    slo = None
    if opts.slo_ttft_s is not None or opts.slo_tpot_s is not None:
        slo = st.slo_met / st.completed if st.completed else math.nan
    n = len(system.trace)
    return DisaggResult(
        model=system.model.name,
        trace=system.trace.name,
        prefill=p_shape.spec.describe(),
        decode=d_shape.spec.describe(),
        router=opts.router.strip().lower(),
        seed=seed,
        requests=n,
        completed=st.completed,
        rejected=0,
        span_s=span,
        ttft_s=st.ttft.summary(),
        tpot_s=st.tpot.summary(),
        e2e_s=st.e2e.summary(),
        queue_wait_s=st.queue.summary(),
        decode_wait_s=st.decode_wait.summary(),
        slo_attainment=slo,
        output_tokens_per_s=st.output_tokens / span if span else 0.0,
        requests_per_s=st.completed / span if span else 0.0,
        pools=(
            _pool_report("prefill", p_shape, system.prefill, rp, span, opts.window_s, system.queue_series[0]),
            _pool_report("decode", d_shape, system.decode, rd, span, opts.window_s, system.queue_series[1]),
        ),
        link=LinkReport(
            kind=link.kind.value,
            description=link.description,
            bytes_per_s=link.bytes_per_s,
            latency_s=link.latency_s,
            transfers=st.transfers,
            bytes_moved=st.bytes_moved,
            transfer_s=st.transfer.summary(),
            utilization=st.link_busy_s / (len(system.prefill) * span) if span else 0.0,
            utilization_series=[v / (len(system.prefill) * opts.window_s) for v in system.link_series.values],
        ),
        window_s=opts.window_s,
        cost_usd=charge.cost_usd,
        energy_kwh=charge.energy_kwh,
        pue=effective_pue(times),
        events=system.sim.events_run,
        co2_kg=charge.co2_kg,
        beyond_context=system.beyond_context,
        context_window_tokens=system.context_window,
        notes=notes,
        histograms={"ttft": st.ttft, "tpot": st.tpot, "e2e": st.e2e, "queue": st.queue, "transfer": st.transfer},
    )
