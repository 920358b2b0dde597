"""Predict a mapped measurement with the performance model, for any set of efficiency parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from chipfleet.catalog import Catalog
from chipfleet.economics.costing import instance_power_w
from chipfleet.exceptions import ChipfleetError
from chipfleet.perf.hardware import Efficiency, Hardware, hardware_for
from chipfleet.perf.inference import ServingConfig, estimate_inference, inference_memory, max_batch, resolve_tp
from chipfleet.perf.training import (
    Parallelism,
    Recompute,
    check_parallelism,
    choose_parallelism,
    training_memory,
    training_step,
)
from chipfleet.sim.fleet import Node, Pool
from chipfleet.sim.kernel import Simulation
from chipfleet.sim.serving import ServeOptions, ServingSystem, replica_shape
from chipfleet.traces.schema import RequestTrace
from chipfleet.validate.mapping import Case, InferCase, Skip, TrainCase

LATENCY_METRICS = frozenset(
    {"ttft_ms", "ttft_ms_p50", "tpot_ms", "tpot_ms_p50", "ttft_ms_p50_server", "tpot_ms_p50_server"}
)
SERVER_REPLAY_REQUESTS = 2000  # Poisson arrivals per replay: p50s settle well within this many
UTILIZATION_METRICS = frozenset({"mfu", "hfu", "tflops_per_gpu"})
TIME_LIKE_METRICS = LATENCY_METRICS | {"gpu_hours"}
MAX_THROUGHPUT_BATCH = 8192  # CUDA-graph batch sizes stop at 8192 in TensorRT-LLM's max-throughput runs


def metric_kind(metric: str) -> str:
    """The error band a metric belongs to: latency, utilization or throughput."""
    if metric in LATENCY_METRICS:
        return "latency"
    if metric in UTILIZATION_METRICS:
        return "utilization"
    return "throughput"


@dataclass(frozen=True)
class Prepared:
    """A case with every discrete choice made (split, tp, batch), so only efficiencies vary in a fit."""

    case: Case
    hardware: Hardware
    parallelism: Parallelism | None = None
    tp: int | None = None
    batch: int | None = None
    copies: int | None = None  # inference: model copies of tp chips whose throughput the row reports
    notes: tuple[str, ...] = ()
    catalog: Catalog | None = field(default=None, compare=False, repr=False)  # server replays build a pool

    @property
    def replayed(self) -> bool:
        """A Server-scenario row, predicted by replaying its load in the request-level simulator."""
        return isinstance(self.case, InferCase) and self.case.server_rate_per_s is not None

    @property
    def assumptions(self) -> tuple[str, ...]:
        return (*self.case.assumptions, *self.notes)

    @property
    def family(self) -> str:
        return self.hardware.family

    @property
    def metric(self) -> str:
        return self.case.row.metric

    @property
    def kind(self) -> str:
        return metric_kind(self.metric)


def prepare(case: Case, catalog: Catalog) -> Prepared | Skip:
    """Choose the split (training) or tp and batch (inference) with the catalog's current efficiencies."""
    hw = hardware_for(catalog, case.instance)
    if isinstance(case, TrainCase):
        try:
            choice = choose_parallelism(case.model, case.setup, hw, case.instances, dict(case.fixed))
        except ChipfleetError as exc:
            return Skip(f"invalid split: {exc}", in_scope=True)
        if choice is not None:
            return Prepared(case=case, hardware=hw, parallelism=choice.step.parallelism)
        if hw.max_instances is not None and case.instances > hw.max_instances:
            return Skip(
                f"{case.instances} × {hw.instance} exceeds the {hw.max_instances} the catalog offers in one "
                "cluster or pod (multi-pod runs over the data-centre network are not modelled)",
                in_scope=True,
            )
        if not {"tp", "pp", "dp"} <= set(case.fixed):
            return Skip(
                f"no split of {case.model.name} over {case.instances} × {hw.instance} fits in memory", in_scope=True
            )
        # The published run used this split, so it ran: time it even though our memory model disagrees.
        try:
            par = Parallelism(**{"recompute": Recompute.FULL, **case.fixed})  # type: ignore[arg-type]
            check_parallelism(case.model, case.setup, par, hw, case.instances)
        except ChipfleetError as exc:
            return Skip(f"invalid split: {exc}", in_scope=True)
        mem = training_memory(case.model, case.setup, par, hw)
        note = (
            f"chipfleet's memory model puts this split at {mem.total_bytes / 1e9:.0f} GB per chip "
            f"(> {mem.available_bytes / 1e9:.0f} GB); timed as published with full recompute"
        )
        return Prepared(case=case, hardware=hw, parallelism=par, notes=(note,))
    notes: list[str] = []
    probe = case.config(batch=case.batch or 1)
    try:
        tp, _ = resolve_tp(case.model, probe, hw)
    except ChipfleetError as exc:
        if case.tp is None:
            return Skip(f"does not fit: {exc}", in_scope=True)
        tp = case.tp
        notes.append(f"memory model says tp={tp} does not fit; timed as published")
    batch = case.batch
    if batch is None:
        batch = min(MAX_THROUGHPUT_BATCH, max_batch(case.model, probe, hw, tp))
        if batch < 1:
            return Skip("no batch fits in memory", in_scope=True)
    if case.chips < tp:
        return Skip(f"the row's {case.chips} chips cannot hold one tp={tp} replica", in_scope=True)
    copies = case.copies
    if copies is None:
        copies = case.chips // tp
        if copies > 1:
            notes.append(f"model copies not stated: the row's {case.chips} chips ÷ tp={tp} = {copies} copies assumed")
    elif copies * tp > case.chips:
        return Skip(f"{copies} model copies × tp={tp} need more than the row's {case.chips} chips", in_scope=True)
    imem = inference_memory(case.model, case.config(batch=batch, tp=tp), hw, tp)
    if not imem.fits:
        notes.append(
            f"memory model puts batch {batch} at {imem.total_bytes / 1e9:.0f} GB per chip "
            f"(> {imem.available_bytes / 1e9:.0f} GB); timed as published"
        )
    if case.server_rate_per_s is not None:
        try:
            replica_shape(case.model, hw, ServeOptions(tp=tp, precision=case.precision))
        except ChipfleetError as exc:
            return Skip(f"server replay: {exc}", in_scope=True)
    return Prepared(case=case, hardware=hw, tp=tp, batch=batch, copies=copies, notes=tuple(notes), catalog=catalog)


def predict(prep: Prepared, eff: Efficiency | None = None) -> float:
    """The row's metric predicted with ``eff`` (default: the catalog's), in the row's units."""
    hw = prep.hardware if eff is None else replace(prep.hardware, eff=eff)
    case = prep.case
    metric = case.row.metric
    if isinstance(case, TrainCase):
        assert prep.parallelism is not None
        step = training_step(case.model, case.setup, prep.parallelism, hw, case.instances)
        chips = prep.parallelism.chips
        if metric == "sequences_per_s":
            return case.setup.global_batch / step.step_time_s
        if metric in ("tokens_per_s_per_gpu", "tokens_per_s_per_chip"):
            return step.tokens_per_s / chips
        if metric == "mfu":
            return step.mfu
        if metric == "hfu":
            return step.hfu
        if metric == "tflops_per_gpu":
            # Achieved model FLOP/s per chip; sources that count recomputation (BLOOM) say so in notes.
            per_token = (
                step.flops.hardware_per_token if "recompute" in case.row.notes.lower() else step.flops.model_per_token
            )
            return per_token * step.tokens_per_s / chips / 1e12
        if metric == "gpu_hours":
            assert case.tokens is not None
            return case.tokens / step.tokens_per_s * chips / 3600.0
        raise ValueError(f"no training prediction for {metric}")
    assert isinstance(case, InferCase) and prep.tp is not None and prep.batch is not None
    if case.server_rate_per_s is not None:
        return _replay_server(prep, hw)
    cfg: ServingConfig = case.config(batch=prep.batch, tp=prep.tp)
    res = estimate_inference(cfg, hw, check_memory=False)
    assert prep.copies is not None
    system = res.output_tokens_per_s_per_replica * prep.copies
    if metric in ("output_tokens_per_s", "tokens_per_s_offline"):
        return system
    if metric == "output_tokens_per_s_per_gpu":
        return system / case.chips
    if metric == "samples_per_s_offline":
        return system / case.output_tokens
    if metric in ("ttft_ms", "ttft_ms_p50"):
        return res.ttft_s * 1e3
    if metric in ("tpot_ms", "tpot_ms_p50"):
        return res.tpot_s * 1e3
    if metric == "prefill_tokens_per_s":
        return prep.batch * case.input_tokens / res.ttft_s
    raise ValueError(f"no inference prediction for {metric}")


def _replay_server(prep: Prepared, hw: Hardware) -> float:
    """p50 TTFT or TPOT (ms) of an MLPerf Server run: Poisson arrivals at the run's offered rate, replayed in
    the request-level simulator on the row's model copies (``prep.copies`` replicas of tp chips), every request at the
    benchmark's mean lengths (the length distributions are not in chipfleet's records)."""
    case = prep.case
    assert isinstance(case, InferCase) and case.server_rate_per_s is not None and prep.catalog is not None
    instance = case.instance
    assert prep.copies is not None and prep.tp is not None
    serving = prep.copies * prep.tp  # chips of the copies that serve; the rest of the row's chips idle
    if serving < instance.chips:  # part of an instance: only those chips serve
        instance = instance.model_copy(update={"chips": serving})
    power = instance_power_w(prep.catalog, case.instance)
    nodes = [Node(i, instance, hw, power, 0.0) for i in range(math.ceil(serving / instance.chips))]
    rng = np.random.default_rng(0)
    arrivals = np.cumsum(rng.exponential(1.0 / case.server_rate_per_s, SERVER_REPLAY_REQUESTS))
    n = SERVER_REPLAY_REQUESTS
    trace = RequestTrace(
        name=f"{case.row.id}-replay",
        arrival_s=arrivals - arrivals[0],
        input_tokens=np.full(n, case.input_tokens, dtype=np.int64),
        output_tokens=np.full(n, case.output_tokens, dtype=np.int64),
        source=f"Poisson at {case.server_rate_per_s:g}/s (the run's offered load)",
        license="generated",
        skipped_rows=0,
    )
    sim = Simulation(seed=0)
    opts = ServeOptions(tp=prep.tp, precision=case.precision)
    system = ServingSystem(sim, case.model, trace, Pool(prep.catalog, nodes), nodes, options=opts)
    system.start()
    sim.run()
    result = system.result(max(sim.now, float(trace.arrival_s[-1])), fleet=instance.name, seed=0)
    summary = result.ttft_s if case.row.metric.startswith("ttft") else result.tpot_s
    return summary["p50"] * 1e3
