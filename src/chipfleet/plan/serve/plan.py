"""Serving planner: the cheapest (or least-energy) mix of instances that serves a workload within p90 SLOs.

1. **Buckets.** The workload's requests are grouped by prompt and output length (powers of two for prompts,
   of four for outputs, by default); each bucket keeps its arrival rate and length moments. The fleet is
   sized for the trace's busy rate, :func:`peak_factor` times the mean (bursts longer than the TTFT SLO
   would otherwise push requests past it).
2. **Capacity.** For every allowed instance type and serving configuration (chips per replica, weight
   precision, sequence limit) the continuous-batching model of :mod:`chipfleet.perf.batching` gives, per
   bucket, the highest request rate one replica sustains with p90 TTFT and TPOT within the SLOs (0 where it
   cannot meet them at any load, or the requests do not fit its KV cache).
3. **Mix.** A mixed-integer program (HiGHS through :func:`scipy.optimize.milp`), after Griggs et al. 2024
   ("Mélange"), chooses integer instance counts ``n_k`` and the share ``x_bk`` of each bucket routed to each
   configuration: ``min Σ price_k·n_k`` (or facility power) subject to ``Σ_k x_bk = 1`` for every bucket and
   ``Σ_b x_bk·λ_b / cap_bk ≤ replicas_k·n_k`` for every configuration, with at most one configuration per
   instance type (so a type's replicas are interchangeable and the routing table names types). The sum over
   buckets is optimistic when one replica serves long and short prompts together, so each type's share is
   checked against the capacity model of its actual bucket mixture (:func:`mixture_headroom`) and, where it
   exceeds it, that type's capacity is scaled down and the program solved again. Each replica's sequence
   limit (max batch) is set to what its KV cache holds at its traffic's full context
   (:func:`chipfleet.perf.batching.kv_safe_max_seqs`), so that a burst queues rather than preempts.
4. **Replay.** The trace is replayed through the request-level simulator (:mod:`chipfleet.sim.serving.simulate`) with
   that mix and a size-aware router following the routing table. Where the replay's fleet p90 TTFT or TPOT
   misses an SLO, the capacity of each instance type that misses is scaled down by ``TIGHTEN_STEP`` and the
   program is solved again, up to ``max_rounds`` times; every round is reported. The best single instance
   type goes through the same steps; when its replayed fleet is cheaper (or alone meets the SLOs) it is the
   plan, so a plan never costs more than the best single type computed the same way.

Cost is the instances' hourly price; energy is instance power (chips idle to TDP with their busy share, plus
the host, as :class:`chipfleet.economics.costing.PowerModel`) times the region's PUE.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import coo_array

from chipfleet.catalog import Catalog, Instance, Precision, Pricing, default_catalog
from chipfleet.economics.costing import instance_power_w
from chipfleet.exceptions import ConfigError, DoesNotFitError, InfeasibleServeError
from chipfleet.perf.batching import (
    ReplicaLimits,
    SizeClass,
    capacity_within_slo,
    kv_safe_max_seqs,
    operating_curve,
)
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.inference import valid_tp_degrees
from chipfleet.perf.iteration import IterationModel
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.serving.routers import SizeAware
from chipfleet.sim.serving.simulate import ServeOptions, ServeResult, replica_shape, simulate_serving
from chipfleet.traces.schema import RequestTrace
from chipfleet.traces.synthetic import diurnal_rate_per_s
from chipfleet.workloads import ModelArch

TIGHTEN_STEP = 0.8  # capacity kept by an instance type whose replay missed an SLO, per round
OPEN_EDGE = 1 << 62  # upper edge of the last bucket
DEFAULT_INPUT_EDGES = tuple(2**k for k in range(8, 18))  # 256 ... 128k prompt tokens
DEFAULT_OUTPUT_EDGES = (64, 256, 1024, 4096)
HOURS = 24
MIN_CAPACITY_RPS = 1e-6  # below this a configuration is taken not to serve a bucket (about 3 requests a month)
SETTLE_ROUNDS = 8  # re-solves while a type's bucket mixture exceeds its modelled capacity
DESIGN_QUANTILE = 0.95  # plan for the rate that all but the busiest 5 % of requests arrive under
FLEET_QUANTILE = 0.9  # the SLOs are fleet-level p90s: the replay judges the p90 over all requests
TAIL_SHARE = 0.02  # share of requests the plan may serve best effort (each counted as missing the SLOs)
# Seconds from launching an instance to serving: 525 s end to end for Qwen3-8B on ml.g6.2xlarge with the
# container image pulled from ECR (333 s) and weights from S3 in parallel. Source: AWS Machine Learning Blog,
# "Introducing container caching in Amazon SageMaker AI for faster model scaling", 2026-06-17 (read at
# https://aihub.hkuspace.hku.hk/2026/06/17/introducing-container-caching-in-amazon-sagemaker-ai-for-faster-model-scaling/).
# Used as the billed warm-up of every instance an hourly plan adds; larger models load longer (an assumption).
DEFAULT_STARTUP_S = 525.0
STARTUP_SOURCE = (
    "525 s per instance started: SageMaker scale-out of Qwen3-8B on ml.g6.2xlarge without container caching "
    "(AWS Machine Learning Blog, 2026-06-17); taken for every model and instance type (an assumption)"
)


class ServeObjective(StrEnum):
    COST = "cost"
    ENERGY = "energy"


@dataclass(frozen=True)
class ServeSLO:
    """p90 time to first token and p90 time per output token, in seconds."""

    ttft_p90_s: float
    tpot_p90_s: float

    def __post_init__(self) -> None:
        for name, v in (("--slo-ttft-p90", self.ttft_p90_s), ("--slo-tpot-p90", self.tpot_p90_s)):
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"{name} must be a positive duration, e.g. 1s or 50ms; got {v!r}")


@dataclass(frozen=True)
class ServeConstraints:
    """What the planner may use. Empty tuples mean: everything that fits."""

    instances: tuple[str, ...] = ()
    clouds: tuple[str, ...] = ()
    region: str | None = None  # None: each instance type at its cheapest region for ``pricing``
    pricing: Pricing = Pricing.ON_DEMAND
    precisions: tuple[Precision, ...] = (Precision.BF16,)
    tp: tuple[int, ...] = ()  # chips per replica; empty: every degree that holds the model
    max_seqs: tuple[int, ...] = (256,)  # sequence limits per replica to consider (vLLM's default is 256)
    max_batch_tokens: int = 8192
    max_instances_per_type: int = 512

    def __post_init__(self) -> None:
        if not self.precisions:
            raise ConfigError("give at least one --precision")
        if not self.max_seqs or any(m < 1 for m in self.max_seqs):
            raise ConfigError("--max-batch values must be positive integers, e.g. 64,256")
        if any(t < 1 for t in self.tp):
            raise ConfigError("--tp values must be positive integers")
        if self.max_batch_tokens < 16:
            raise ConfigError("--max-batch-tokens must be at least 16")
        if self.max_instances_per_type < 1:
            raise ConfigError("--max-instances must be at least 1")


def planning_quantile(tail_share: float) -> float:
    """The latency percentile each bucket served within the SLOs is planned at, ``1 − (0.1 − s)/(1 − s)``.

    The replay judges the fleet's p90: at most 10 % of all requests may exceed an SLO. When a share ``s`` of
    the requests is served best effort (each counted as a miss), the other ``1 − s`` may miss at most
    ``0.1 − s`` of all requests, i.e. a ``(0.1 − s)/(1 − s)`` share of their own: with ``s`` = 2 % they are
    planned at their p91.8. ``s`` = 0 gives the p90.
    """
    miss = 1.0 - FLEET_QUANTILE
    if not (math.isfinite(tail_share) and 0.0 <= tail_share < miss):
        raise ConfigError(f"the best-effort share must be in [0, {miss:g}), got {tail_share!r}")
    return 1.0 - (miss - tail_share) / (1.0 - tail_share)


@dataclass(frozen=True)
class Excluded:
    """Requests left out of the plan: longer than the model's context window, or than every allowed replica's
    KV cache (prompt + output tokens, as a server admits them)."""

    requests: int  # all left out
    share: float  # of the workload's requests
    longest_tokens: int  # the longest prompt + output among them
    kv_limit_tokens: int  # the largest KV cache of any allowed configuration
    reason: str  # each cause with its count, '; '-joined
    context_window_tokens: int = 0  # the model's context window (max_position_embeddings); 0: not recorded
    beyond_context: int = 0  # of ``requests``, those longer than the context window

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def without_requests(trace: RequestTrace, drop: NDArray[np.bool_]) -> RequestTrace:
    """``trace`` without the requests where ``drop`` is true, re-based to start at 0."""
    keep = ~np.asarray(drop, dtype=bool)
    arrival = trace.arrival_s[keep]
    hashes = None if trace.hash_ids is None else tuple(h for h, k in zip(trace.hash_ids, keep, strict=True) if k)
    return replace(
        trace,
        arrival_s=arrival - arrival[0] if arrival.size else arrival,
        input_tokens=trace.input_tokens[keep],
        output_tokens=trace.output_tokens[keep],
        hash_ids=hashes,
    )


# ----------------------------------------------------------------------------- buckets
@dataclass(frozen=True)
class Bucket:
    """Requests whose prompt is in (input_lo, input_hi] and output in (output_lo, output_hi] tokens."""

    input_lo: int
    input_hi: int
    output_lo: int
    output_hi: int
    requests: int
    rate_per_s: float
    input_mean: float
    input_sq_mean: float
    input_p90: float
    output_mean: float
    output_p90: float
    context_max: int = 0  # the longest prompt + output in the bucket: a replica it goes to must hold it

    @property
    def label(self) -> str:
        return f"in {_edge(self.input_lo)}–{_edge(self.input_hi)}, out {_edge(self.output_lo)}–{_edge(self.output_hi)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "input_tokens": [self.input_lo, None if self.input_hi == OPEN_EDGE else self.input_hi],
            "output_tokens": [self.output_lo, None if self.output_hi == OPEN_EDGE else self.output_hi],
            "requests": self.requests,
            "rate_per_s": self.rate_per_s,
            "input_mean": self.input_mean,
            "input_p90": self.input_p90,
            "output_mean": self.output_mean,
            "output_p90": self.output_p90,
        }


def _edge(tokens: int) -> str:
    if tokens == OPEN_EDGE:
        return "∞"
    if tokens >= 1024 and tokens % 1024 == 0:
        return f"{tokens // 1024}k"
    return str(tokens)


def bucketize(
    trace: RequestTrace,
    input_edges: Sequence[int] = DEFAULT_INPUT_EDGES,
    output_edges: Sequence[int] = DEFAULT_OUTPUT_EDGES,
) -> tuple[Bucket, ...]:
    """Group the trace's requests by length; the rate of a bucket is its count over the trace's span."""
    if len(trace) < 2 or trace.duration_s <= 0:
        raise ConfigError(f"trace {trace.name!r} needs at least two requests over a positive span to give a rate")
    for name, edges in (("input", input_edges), ("output", output_edges)):
        if any(e < 1 for e in edges) or list(edges) != sorted(set(edges)):
            raise ConfigError(f"{name} bucket edges must be increasing positive token counts, got {list(edges)}")
    span = trace.duration_s * len(trace) / (len(trace) - 1)  # n arrivals over n − 1 gaps: the mean rate is n/span
    inp = trace.input_tokens.astype(np.float64)
    out = trace.output_tokens.astype(np.float64)
    in_e = [0, *input_edges, OPEN_EDGE]
    out_e = [0, *output_edges, OPEN_EDGE]
    in_idx = np.searchsorted(np.array(in_e[1:-1]), inp, side="left")
    out_idx = np.searchsorted(np.array(out_e[1:-1]), out, side="left")
    buckets = []
    for i in range(len(in_e) - 1):
        for j in range(len(out_e) - 1):
            mask = (in_idx == i) & (out_idx == j)
            n = int(mask.sum())
            if not n:
                continue
            bi, bo = np.maximum(inp[mask], 1.0), out[mask]
            buckets.append(
                Bucket(
                    input_lo=in_e[i],
                    input_hi=in_e[i + 1],
                    output_lo=out_e[j],
                    output_hi=out_e[j + 1],
                    requests=n,
                    rate_per_s=n / span,
                    input_mean=float(bi.mean()),
                    input_sq_mean=float((bi**2).mean()),
                    input_p90=float(np.percentile(bi, 90)),
                    output_mean=float(bo.mean()),
                    output_p90=float(np.percentile(bo, 90)),
                    context_max=int((inp[mask] + bo).max()),
                )
            )
    return tuple(buckets)


def _size_classes(buckets: Sequence[Bucket]) -> SizeClass:
    return SizeClass(
        input_mean=np.array([b.input_mean for b in buckets]),
        input_sq_mean=np.array([b.input_sq_mean for b in buckets]),
        input_p90=np.array([b.input_p90 for b in buckets]),
        output_mean=np.array([b.output_mean for b in buckets]),
    )


# ----------------------------------------------------------------------------- configurations
@dataclass(frozen=True)
class Deployment:
    """One serving configuration of an instance type, with its capacity for every bucket."""

    instance: str
    cloud: str
    chip: str
    tp: int
    precision: Precision
    max_seqs: int
    replicas_per_instance: int
    kv_capacity_tokens: int
    region: str
    pricing: Pricing
    price_usd_per_h: float
    pue: float
    grid_gco2_per_kwh: float | None
    static_power_w: float  # per instance: chips idle plus the host
    busy_power_w_per_chip: float  # TDP − idle
    validated: bool
    capacity_per_replica: tuple[float, ...]  # requests/s per bucket within the SLOs (0: cannot)
    busy_fraction: tuple[float, ...]  # chips' busy share at that rate
    ttft_p90_s: tuple[float, ...]  # modelled at that rate
    tpot_p90_s: tuple[float, ...]
    best_ttft_p90_s: tuple[float, ...]  # lowest modelled p90 at any load
    best_tpot_p90_s: tuple[float, ...]
    # Served best effort (no latency bound): the highest stable rate within the sequence and KV limits, per
    # bucket (0: its requests do not fit), and the chips' busy share there. Empty: not evaluated.
    best_effort_capacity: tuple[float, ...] = ()
    best_effort_busy_fraction: tuple[float, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.instance} tp={self.tp} {self.precision.value} max-batch {self.max_seqs}"

    def capacity(self, bucket: int, best_effort: bool = False) -> float:
        """Requests/s of ``bucket`` one replica sustains within the SLOs (or, best effort, at all)."""
        if not best_effort:
            return self.capacity_per_replica[bucket]
        return self.best_effort_capacity[bucket] if self.best_effort_capacity else 0.0

    def busy_j_per_request(self, bucket: int, best_effort: bool = False) -> float:
        """Energy above idle that one request of ``bucket`` costs at the modelled operating point."""
        cap = self.capacity(bucket, best_effort)
        busy = (self.best_effort_busy_fraction if best_effort else self.busy_fraction)[bucket] if cap > 0 else 0.0
        return busy * self.tp * self.busy_power_w_per_chip / cap if cap > 0 else math.inf

    def options(self, slo: ServeSLO, max_batch_tokens: int, max_seqs: int) -> ServeOptions:
        return ServeOptions(
            max_batch_tokens=max_batch_tokens,
            max_seqs=max_seqs,
            tp=self.tp,
            precision=self.precision,
            slo_ttft_s=slo.ttft_p90_s,
            slo_tpot_s=slo.tpot_p90_s,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "cloud": self.cloud,
            "chip": self.chip,
            "tp": self.tp,
            "precision": self.precision.value,
            "max_batch": self.max_seqs,
            "replicas_per_instance": self.replicas_per_instance,
            "kv_capacity_tokens": self.kv_capacity_tokens,
            "region": self.region,
            "pricing": self.pricing.value,
            "price_usd_per_h": self.price_usd_per_h,
            "validated": self.validated,
            "capacity_per_replica_rps": list(self.capacity_per_replica),
        }


def _allowed(catalog: Catalog, c: ServeConstraints, rejected: Counter[str]) -> list[Instance]:
    wanted = {n.lower() for n in c.instances}
    for name in wanted:
        catalog.instance(name)  # a typo says "did you mean"
    if c.region is not None:
        catalog.region(c.region)
    out = []
    for inst in catalog.instances.values():
        if wanted and inst.name not in wanted:
            continue
        if not wanted and catalog.chip(inst.chip).kind != "accelerator":
            continue  # CPU instances only when named
        if c.clouds and inst.cloud.value not in c.clouds:
            continue
        if inst.price(c.region, c.pricing) is None:
            rejected[f"no {c.pricing.value} price{' in ' + c.region if c.region else ''}"] += 1
            continue
        out.append(inst)
    return out


TP_MISMATCH = "no --tp value is a valid degree of it (tp must divide its chips and, on GPUs, the query heads)"


def no_deployment_reason(model: ModelArch, catalog: Catalog, c: ServeConstraints, rejected: Counter[str]) -> str:
    """Why :func:`deployments` found nothing: the real reason, not a count of nothing.

    With ``--tp`` values that divide no allowed instance's chips (or, on GPUs, the model's query heads), it lists
    the chip counts the allowed instances have and the degrees that would work; otherwise the rejection counts.
    """
    allowed = _allowed(catalog, c, Counter())
    if not allowed:
        reasons = "; ".join(f"{k}: {n}" for k, n in rejected.items()) or "no instance type matched"
        return (
            f"no allowed instance type has a price to plan with ({reasons}); check --instances, --clouds, --region "
            "and --pricing"
        )
    asked = ", ".join(str(t) for t in c.tp)
    if c.tp and rejected.get(TP_MISMATCH, 0) == len(allowed):
        chips = sorted({hardware_for(catalog, inst).chips_per_instance for inst in allowed})
        works: dict[int, list[str]] = {}
        for inst in allowed:
            for t in valid_tp_degrees(model, hardware_for(catalog, inst)):
                works.setdefault(t, []).append(inst.name)
        valid = ", ".join(f"{t} ({works[t][0]}{' …' if len(works[t]) > 1 else ''})" for t in sorted(works))
        return (
            f"no allowed instance type can run {model.name} at --tp {asked}: a replica's tp must divide the chips "
            f"of one instance (and, on GPUs, {model.name}'s {model.n_heads} query heads), and the allowed instances "
            f"have {', '.join(str(n) for n in chips)} chips; tp values that would work: {valid}. Give one of those "
            "or drop --tp to let the planner choose"
        )
    reasons = "; ".join(f"{k}: {n}" for k, n in rejected.items() if n) or "no configuration was tried"
    return (
        f"no allowed instance type can hold {model.name} ({reasons}); check --instances, --clouds, --region, "
        f"--pricing, --precision{' and --tp' if c.tp else ''}"
    )


def deployments(
    model: ModelArch,
    buckets: Sequence[Bucket],
    slo: ServeSLO,
    catalog: Catalog,
    constraints: ServeConstraints,
    rejected: Counter[str] | None = None,
    quantile: float = FLEET_QUANTILE,
) -> list[Deployment]:
    """Every allowed (instance type, tp, precision, max batch) that holds the model, with its capacities:
    within the SLOs at the latency percentile ``quantile`` (:func:`planning_quantile`), and best effort."""
    rejected = rejected if rejected is not None else Counter()
    loads = _size_classes(buckets)
    out = []
    for inst in _allowed(catalog, constraints, rejected):
        hw = hardware_for(catalog, inst)
        price = inst.price(constraints.region, constraints.pricing)
        assert price is not None  # _allowed checked
        region = catalog.region(price.region)
        power = instance_power_w(catalog, inst)
        degrees = [t for t in valid_tp_degrees(model, hw) if not constraints.tp or t in constraints.tp]
        if not degrees:
            rejected[TP_MISMATCH] += 1
        for prec in constraints.precisions:
            for tp in degrees:
                for seqs in constraints.max_seqs:
                    opts = ServeOptions(max_batch_tokens=constraints.max_batch_tokens, max_seqs=seqs, tp=tp,
                                        precision=prec)  # fmt: skip
                    try:
                        _, kv = replica_shape(model, hw, opts)
                    except (DoesNotFitError, ConfigError):
                        rejected["model does not fit at that tp"] += 1
                        continue
                    it = IterationModel(model, hw, tp, prec)
                    safe = kv_safe_max_seqs(seqs, kv, loads)
                    limits = ReplicaLimits(constraints.max_batch_tokens, safe, kv)
                    curve = operating_curve(it, limits, loads, quantile)
                    cap = capacity_within_slo(curve, slo.ttft_p90_s, slo.tpot_p90_s)
                    anyhow = capacity_within_slo(curve, math.inf, math.inf)
                    # Every request of a bucket must fit the cache of a replica it is sent to (the runtime
                    # rejects one that cannot).
                    too_long = np.array([b.context_max > kv for b in buckets])
                    if not np.any(cap.rate_per_s > 0):
                        rejected["meets the SLOs for no bucket"] += 1
                    out.append(
                        Deployment(
                            instance=inst.name,
                            cloud=inst.cloud.value,
                            chip=inst.chip,
                            tp=tp,
                            precision=prec,
                            max_seqs=seqs,
                            replicas_per_instance=hw.chips_per_instance // tp,
                            kv_capacity_tokens=kv,
                            region=region.name,
                            pricing=price.pricing,
                            price_usd_per_h=price.usd_per_h,
                            pue=region.pue_ratio,
                            grid_gco2_per_kwh=region.grid_gco2_per_kwh,
                            static_power_w=power.power_w(0.0),
                            busy_power_w_per_chip=power.chip_tdp_w - power.chip_idle_w,
                            validated=hw.validated,
                            capacity_per_replica=_floats(np.where(too_long, 0.0, cap.rate_per_s)),
                            busy_fraction=_floats(cap.busy_fraction),
                            ttft_p90_s=_floats(cap.ttft_p90_s),
                            tpot_p90_s=_floats(cap.tpot_p90_s),
                            best_ttft_p90_s=_floats(cap.best_ttft_p90_s),
                            best_tpot_p90_s=_floats(cap.best_tpot_p90_s),
                            best_effort_capacity=_floats(np.where(too_long, 0.0, anyhow.rate_per_s)),
                            best_effort_busy_fraction=_floats(anyhow.busy_fraction),
                        )
                    )
    return out


def _floats(a: NDArray[np.float64]) -> tuple[float, ...]:
    return tuple(float(v) for v in a)


# ----------------------------------------------------------------------------- the mixed-integer program
@dataclass(frozen=True)
class MixEntry:
    """How many instances of one configuration, and what they carry."""

    deployment: Deployment
    count: int
    bucket_shares: tuple[float, ...]  # share of each bucket's requests routed here
    load: float  # planned requests ÷ capacity (the capacity as the program saw it)
    busy_fraction: float  # chips' modelled busy share at the planned load
    max_seqs: int  # sequence limit per replica: what its KV cache holds at its traffic's full context
    best_effort_shares: tuple[float, ...] = ()  # of bucket_shares, the part served best effort (counted as misses)

    @property
    def cost_usd_per_h(self) -> float:
        return self.count * self.deployment.price_usd_per_h

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.deployment.as_dict(),
            "count": self.count,
            "replicas": self.count * self.deployment.replicas_per_instance,
            "cost_usd_per_h": self.cost_usd_per_h,
            "load": self.load,
            "busy_fraction": self.busy_fraction,
            "max_batch": self.max_seqs,
        }


@dataclass(frozen=True)
class Mix:
    """A fleet that serves every bucket: the instances, how requests are routed, and what it costs."""

    entries: tuple[MixEntry, ...]
    buckets: tuple[Bucket, ...]
    cost_usd_per_h: float
    power_w: float  # facility power at the planned load (× PUE)
    output_tokens_per_s: float
    input_tokens_per_s: float
    co2_kg_per_h: float | None

    @property
    def usd_per_million_output_tokens(self) -> float:
        return self.cost_usd_per_h / 3600.0 / self.output_tokens_per_s * 1e6

    @property
    def usd_per_million_tokens(self) -> float:
        """Per million tokens read or written (prompt plus output)."""
        return self.cost_usd_per_h / 3600.0 / (self.output_tokens_per_s + self.input_tokens_per_s) * 1e6

    @property
    def j_per_output_token(self) -> float:
        return self.power_w / self.output_tokens_per_s

    @property
    def instances(self) -> dict[str, int]:
        return {e.deployment.instance: e.count for e in self.entries}

    def describe(self) -> str:
        return " + ".join(f"{e.count} × {e.deployment.instance}" for e in self.entries)

    def objective_value(self, objective: ServeObjective) -> float:
        return self.cost_usd_per_h if objective is ServeObjective.COST else self.power_w

    def _shares(self, bucket: int) -> dict[str, float]:
        return {e.deployment.instance: e.bucket_shares[bucket] for e in self.entries if e.bucket_shares[bucket] > 1e-9}

    def best_effort_by_bucket(self) -> tuple[float, ...]:
        """Per bucket, the share of its requests served best effort (planned to miss the SLOs)."""
        return tuple(
            sum(e.best_effort_shares[b] for e in self.entries if e.best_effort_shares) for b in range(len(self.buckets))
        )

    @property
    def best_effort_share(self) -> float:
        """The share of all requests served best effort, by request count."""
        total = sum(b.requests for b in self.buckets)
        return sum(s * b.requests for s, b in zip(self.best_effort_by_bucket(), self.buckets, strict=True)) / total

    def routing(self) -> dict[tuple[int, int], dict[str, float]]:
        """The size-aware router's table: (input edge, output edge) → {instance type: share}."""
        table: dict[tuple[int, int], dict[str, float]] = {}
        for b, bucket in enumerate(self.buckets):
            shares = self._shares(b)
            total = sum(shares.values())
            table[(bucket.input_hi, bucket.output_hi)] = {k: v / total for k, v in shares.items()}
        return table

    def as_dict(self) -> dict[str, Any]:
        return {
            "fleet": self.describe(),
            "entries": [e.as_dict() for e in self.entries],
            "cost_usd_per_h": self.cost_usd_per_h,
            "usd_per_million_output_tokens": self.usd_per_million_output_tokens,
            "usd_per_million_tokens": self.usd_per_million_tokens,
            "power_w": self.power_w,
            "j_per_output_token": self.j_per_output_token,
            "co2_kg_per_h": self.co2_kg_per_h,
            "output_tokens_per_s": self.output_tokens_per_s,
            "routing": [{"bucket": bucket.label, "shares": self._shares(b)} for b, bucket in enumerate(self.buckets)],
            "best_effort_share": self.best_effort_share,
            "best_effort": [
                {"bucket": bucket.label, "requests": bucket.requests, "share_of_bucket": s}
                for bucket, s in zip(self.buckets, self.best_effort_by_bucket(), strict=True)
                if s > 1e-9
            ],
        }


def solve_mix(
    deps: Sequence[Deployment],
    buckets: Sequence[Bucket],
    objective: ServeObjective = ServeObjective.COST,
    *,
    factors: dict[str, float] | None = None,
    rate_scale: float = 1.0,
    traffic_scale: float | None = None,
    max_instances_per_type: int = 512,
    time_limit_s: float = 60.0,
    tail_share: float = 0.0,
) -> Mix | None:
    """The optimal mix (module docstring, step 3), or None when the configurations cannot serve every bucket.

    ``factors`` scales each instance type's capacity (the replay's tightening); the fleet is sized for every
    bucket's rate × ``rate_scale`` (a busy-window rate, an hour of a daily curve) and carries, on average, its
    rate × ``traffic_scale`` (default ``rate_scale``), which sets tokens served and busy energy.

    With ``tail_share`` > 0 a share ``y_bk`` of a bucket may be served best effort on a configuration that
    holds it, at that configuration's best-effort capacity, subject to ``Σ_bk y_bk·λ_b/Σλ ≤ tail_share``: the
    request-weighted share planned to miss the SLOs (:func:`planning_quantile` plans the rest to leave room).
    """
    factors = factors or {}
    rates = np.array([b.rate_per_s for b in buckets]) * rate_scale
    k_n = len(deps)
    # (buckets, configs): requests/s per instance, within the SLOs (False) and best effort (True)
    caps = {
        be: np.array([[d.capacity(b, be) * d.replicas_per_instance * factors.get(d.instance, 1.0) for d in deps]
                      for b in range(len(buckets))])
        for be in (False, True)
    }  # fmt: skip
    kinds = (False, True) if tail_share > 0 else (False,)
    pairs = [
        (b, k, be)
        for be in kinds
        for b in range(len(buckets))
        for k in range(k_n)
        if caps[be][b, k] >= MIN_CAPACITY_RPS
    ]
    served = {b for b, _, _ in pairs}
    if len(served) < len(buckets) or rates.sum() <= 0:
        return None
    n_pairs = len(pairs)
    # Variables: n_k (integers), z_k (binary: configuration k is used), x_bk and y_bk (shares).
    n_vars = 2 * k_n + n_pairs
    upper = np.zeros(k_n)
    for b, k, be in pairs:
        upper[k] += rates[b] / caps[be][b, k]
    upper = np.minimum(np.ceil(upper + 1e-9), max_instances_per_type)
    cost = np.zeros(n_vars)
    for k, d in enumerate(deps):
        cost[k] = d.price_usd_per_h if objective is ServeObjective.COST else d.static_power_w * d.pue
    if objective is ServeObjective.ENERGY:
        for p, (b, k, be) in enumerate(pairs):
            cost[2 * k_n + p] = rates[b] * deps[k].busy_j_per_request(b, be) * deps[k].pue
    # A whisper of the other objective breaks ties between equally good mixes.
    for k, d in enumerate(deps):
        cost[k] += 1e-6 * (d.static_power_w if objective is ServeObjective.COST else d.price_usd_per_h)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    r = 0
    for b in range(len(buckets)):  # every bucket routed in full
        for p, (pb, _, _) in enumerate(pairs):
            if pb == b:
                rows.append(r)
                cols.append(2 * k_n + p)
                vals.append(1.0)
        lo.append(1.0)
        hi.append(1.0)
        r += 1
    for k in range(k_n):  # load within the instances bought
        for p, (b, pk, be) in enumerate(pairs):
            if pk == k:
                rows.append(r)
                cols.append(2 * k_n + p)
                vals.append(rates[b] / caps[be][b, k])
        rows.append(r)
        cols.append(k)
        vals.append(-1.0)
        lo.append(-np.inf)
        hi.append(0.0)
        r += 1
    for k in range(k_n):  # n_k > 0 only if configuration k is chosen
        rows += [r, r]
        cols += [k, k_n + k]
        vals += [1.0, -float(upper[k])]
        lo.append(-np.inf)
        hi.append(0.0)
        r += 1
    by_type: dict[str, list[int]] = {}
    for k, d in enumerate(deps):
        by_type.setdefault(d.instance, []).append(k)
    for ks in by_type.values():  # one configuration per instance type
        if len(ks) > 1:
            for k in ks:
                rows.append(r)
                cols.append(k_n + k)
                vals.append(1.0)
            lo.append(-np.inf)
            hi.append(1.0)
            r += 1
    if tail_share > 0:  # the requests served best effort stay within the fleet's allowance
        for p, (b, _, be) in enumerate(pairs):
            if be:
                rows.append(r)
                cols.append(2 * k_n + p)
                vals.append(rates[b] / rates.sum())
        lo.append(-np.inf)
        hi.append(tail_share)
        r += 1
    a = coo_array((vals, (rows, cols)), shape=(r, n_vars)).tocsr()
    integrality = np.concatenate([np.ones(2 * k_n), np.zeros(n_pairs)])
    ub = np.concatenate([upper, np.ones(k_n), np.ones(n_pairs)])
    with _native_stdout_silenced():
        res = milp(
            cost,
            integrality=integrality,
            bounds=(np.zeros(n_vars), ub),
            constraints=LinearConstraint(a, np.array(lo), np.array(hi)),
            options={"time_limit": time_limit_s, "mip_rel_gap": 1e-6},
        )
    if res.x is None:
        return None
    counts = np.rint(res.x[:k_n]).astype(int)
    shares = {be: np.zeros((len(buckets), k_n)) for be in (False, True)}
    for p, (b, k, be) in enumerate(pairs):
        shares[be][b, k] += max(0.0, float(res.x[2 * k_n + p]))
    traffic = rates / rate_scale * (rate_scale if traffic_scale is None else traffic_scale)
    return _mix(deps, buckets, counts, shares, rates, traffic, caps)


@contextmanager
def _native_stdout_silenced() -> Iterator[None]:
    """Some HiGHS builds print solver-internal notes straight to file descriptor 1 even with ``disp`` off;
    they would corrupt ``--json`` output, so the descriptor points at the null device during a solve."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no descriptor 1 (an embedded interpreter): nothing to protect
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def _mix(
    deps: Sequence[Deployment],
    buckets: Sequence[Bucket],
    counts: NDArray[np.int_],
    by_kind: dict[bool, NDArray[np.float64]],
    rates: NDArray[np.float64],
    traffic: NDArray[np.float64],
    caps: dict[bool, NDArray[np.float64]],
) -> Mix:
    """The mix the program chose: load against the ``rates`` it was sized for; tokens, busy energy and carbon
    from the ``traffic`` it carries on average. ``by_kind`` and ``caps``: shares and capacities within the
    SLOs (False) and best effort (True)."""
    entries = []
    power = cost = co2 = 0.0
    has_co2 = True
    shares = by_kind[False] + by_kind[True]
    for k, d in enumerate(deps):
        n = int(counts[k])
        if n <= 0:
            continue
        used = 0.0
        busy_j_per_s = 0.0
        for be, part in by_kind.items():
            with np.errstate(divide="ignore", invalid="ignore"):
                used += float(np.where(caps[be][:, k] > 0, part[:, k] * rates / caps[be][:, k], 0.0).sum())
            busy_j_per_s += sum(
                part[b, k] * traffic[b] * d.busy_j_per_request(b, be) for b in range(len(buckets)) if part[b, k] > 0
            )
        load = used / n
        watts = (n * d.static_power_w + busy_j_per_s) * d.pue
        power += watts
        cost += n * d.price_usd_per_h
        if d.grid_gco2_per_kwh is None:
            has_co2 = False
        else:
            co2 += watts / 1000.0 * d.grid_gco2_per_kwh / 1000.0
        chips = n * d.replicas_per_instance * d.tp
        blend = mixture(buckets, shares[:, k] * traffic)
        seqs = kv_safe_max_seqs(d.max_seqs, d.kv_capacity_tokens, blend)
        entries.append(
            MixEntry(
                deployment=d,
                count=n,
                bucket_shares=tuple(float(s) for s in shares[:, k]),
                load=load,
                busy_fraction=min(1.0, busy_j_per_s / (chips * d.busy_power_w_per_chip)) if chips else 0.0,
                max_seqs=int(seqs[0]),
                best_effort_shares=tuple(float(s) for s in by_kind[True][:, k]),
            )
        )
    out_tps = float(sum(b.output_mean * r for b, r in zip(buckets, traffic, strict=True)))
    in_tps = float(sum(b.input_mean * r for b, r in zip(buckets, traffic, strict=True)))
    entries.sort(key=lambda e: -e.cost_usd_per_h)
    return Mix(tuple(entries), tuple(buckets), cost, power, out_tps, in_tps, co2 if has_co2 else None)


def best_single_type(
    deps: Sequence[Deployment],
    buckets: Sequence[Bucket],
    objective: ServeObjective,
    solve: Callable[[Sequence[Deployment]], Mix | None] | None = None,
    **kw: Any,
) -> Mix | None:
    """The best fleet of one instance type, solved the same way as the mix (``solve``; default
    :func:`solve_mix` with ``kw``); None when no one type serves every bucket."""
    solver = solve or (lambda ds: solve_mix(ds, buckets, objective, **kw))
    best: Mix | None = None
    for name in dict.fromkeys(d.instance for d in deps):
        mix = solver([d for d in deps if d.instance == name])
        if mix is not None and (best is None or mix.objective_value(objective) < best.objective_value(objective)):
            best = mix
    return best


# ----------------------------------------------------------------------------- replay
@dataclass(frozen=True)
class ReplayRound:
    """One solve-and-replay: the mix, what the simulator measured, and what was tightened for the next."""

    round: int
    fleet: str
    cost_usd_per_h: float
    ttft_s: dict[str, float]
    tpot_s: dict[str, float]
    slo_attainment: float | None
    meets_slo: bool
    missed_by: dict[str, str]  # instance type -> which p90 it missed
    factors: dict[str, float]  # capacity factors this round was solved with

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def replay(
    model: ModelArch,
    trace: RequestTrace,
    mix: Mix,
    slo: ServeSLO,
    catalog: Catalog,
    constraints: ServeConstraints,
    *,
    seed: int = 0,
) -> ServeResult:
    """Replay ``trace`` on ``mix`` in the request-level simulator, routed by the mix's routing table."""
    entries = [e for e in mix.entries if e.count > 0]
    spec = FleetSpec(tuple((e.deployment.instance, e.count) for e in entries))
    by_type = {
        e.deployment.instance: e.deployment.options(slo, constraints.max_batch_tokens, e.max_seqs) for e in entries
    }
    base = ServeOptions(max_batch_tokens=constraints.max_batch_tokens, slo_ttft_s=slo.ttft_p90_s,
                        slo_tpot_s=slo.tpot_p90_s)  # fmt: skip
    router = SizeAware(table=mix.routing())
    return simulate_serving(
        model, trace, spec, catalog, router=router, options=base, options_by_type=by_type, seed=seed,
        pricing=constraints.pricing, region=constraints.region,
    )  # fmt: skip


# ----------------------------------------------------------------------------- time-varying load
@dataclass(frozen=True)
class HourlyPlan:
    """A mix per hour of a daily load curve, against one static fleet sized for the peak hour."""

    multipliers: tuple[float, ...]  # each hour's rate ÷ the workload's
    curve_source: str
    mixes: tuple[Mix, ...]
    static: Mix  # the peak hour's mix, kept all day
    startup_s: float = 0.0  # billed warm-up of every instance started (launch, image, weights)
    startup_source: str = ""

    def starts(self) -> tuple[dict[str, int], ...]:
        """Instances started at the top of each hour: ``max(0, n_h − n_{h−1})`` per type, the day repeating
        (hour 0 follows hour 23)."""
        out = []
        for h, mix in enumerate(self.mixes):
            before = self.mixes[h - 1].instances
            out.append({k: n - before.get(k, 0) for k, n in mix.instances.items() if n > before.get(k, 0)})
        return tuple(out)

    @property
    def instance_usd_per_day(self) -> float:
        return sum(m.cost_usd_per_h for m in self.mixes)

    @property
    def churn_usd_per_day(self) -> float:
        """Σ over hours and types of instances started × hourly price × ``startup_s`` (billed, not serving)."""
        prices = {e.deployment.instance: e.deployment.price_usd_per_h for m in self.mixes for e in m.entries}
        return sum(n * prices[k] for hour in self.starts() for k, n in hour.items()) * self.startup_s / 3600.0

    @property
    def autoscaled_usd_per_day(self) -> float:
        """Instance-hours of the hourly mixes plus the churn of starting instances."""
        return self.instance_usd_per_day + self.churn_usd_per_day

    @property
    def static_usd_per_day(self) -> float:
        return self.static.cost_usd_per_h * HOURS

    @property
    def savings(self) -> float:
        return 1.0 - self.autoscaled_usd_per_day / self.static_usd_per_day

    def as_dict(self) -> dict[str, Any]:
        return {
            "curve_source": self.curve_source,
            "hours": [
                {
                    "hour": h,
                    "multiplier": m,
                    "fleet": mix.describe(),
                    "cost_usd_per_h": mix.cost_usd_per_h,
                    "instances_started": started,
                }
                for h, (m, mix, started) in enumerate(zip(self.multipliers, self.mixes, self.starts(), strict=True))
            ],
            "instance_startup_s": self.startup_s,
            "startup_source": self.startup_source,
            "instances_started_per_day": sum(sum(h.values()) for h in self.starts()),
            "instance_usd_per_day": self.instance_usd_per_day,
            "churn_usd_per_day": self.churn_usd_per_day,
            "autoscaled_usd_per_day": self.autoscaled_usd_per_day,
            "static_fleet": self.static.describe(),
            "static_usd_per_day": self.static_usd_per_day,
            "autoscaling_savings": self.savings,
        }


def daily_curve(
    trace: RequestTrace, load_curve: Sequence[float] | None = None, peak_to_trough: float = 3.0
) -> tuple[tuple[float, ...], str]:
    """Rate multipliers for the 24 hours of a day, and where they come from.

    ``load_curve`` (24 values) is used as given. Otherwise a trace that spans a day gives its own hourly
    counts ÷ the mean; a shorter one is taken as the daily mean of a sinusoid with ``peak_to_trough``
    (:func:`chipfleet.traces.synthetic.diurnal_rate_per_s`, peak at 12:00) — an assumption, not a measurement.
    """
    if load_curve is not None:
        values = tuple(float(v) for v in load_curve)
        if len(values) != HOURS or any(not (math.isfinite(v) and v >= 0) for v in values) or max(values) <= 0:
            raise ConfigError(f"--load-curve needs {HOURS} non-negative multipliers, one per hour; got {len(values)}")
        return values, "given"
    if trace.duration_s >= HOURS * 3600 * 0.99:
        hours = np.minimum((trace.arrival_s // 3600).astype(int) % HOURS, HOURS - 1)
        counts = np.bincount(hours, minlength=HOURS).astype(float)
        return tuple(float(v) for v in counts / counts.mean()), f"hourly arrivals of {trace.name}"
    if not (math.isfinite(peak_to_trough) and peak_to_trough >= 1):
        raise ConfigError(f"--peak-to-trough must be >= 1 (1 = flat), got {peak_to_trough}")
    mids = (np.arange(HOURS, dtype=np.float64) + 0.5) * 3600.0
    rates = diurnal_rate_per_s(mids, 1.0, peak_to_trough, 86_400.0, 43_200.0)
    return (
        tuple(float(v) for v in rates),
        f"sinusoid with peak/trough {peak_to_trough:g} around the workload's rate (an assumed shape)",
    )


# ----------------------------------------------------------------------------- the planner
@dataclass(frozen=True)
class ServePlan:
    """What :func:`serve` found: the mix, its routing, the single-type baseline, the replay rounds."""

    model: str
    workload: str
    requests: int
    span_s: float
    slo: ServeSLO
    objective: ServeObjective
    buckets: tuple[Bucket, ...]
    design_factor: float  # bucket rates were planned at this multiple of the mean (the busy-window rate)
    peak_window_s: float
    deployments: int  # configurations evaluated
    mix: Mix
    single: Mix | None  # the best one-instance-type fleet, solved and replayed the same way
    rounds: tuple[ReplayRound, ...]  # the mixed program's solve-and-replay rounds
    single_rounds: tuple[ReplayRound, ...]  # the single type's
    chose_single: bool  # the replayed single type came out cheaper (or alone met the SLO), so it is the mix
    replay: ServeResult | None  # the last round's simulation
    hourly: HourlyPlan | None
    solve_s: float  # capacities and the first program
    replay_s: float
    rejected: dict[str, int]
    assumptions: tuple[str, ...] = field(default=())
    excluded: Excluded | None = None  # requests left out: no allowed replica can hold them
    strict: bool = False  # every bucket within the SLOs at its own p90 (the per-bucket rule)
    tail_share: float = 0.0  # the share of requests the program could serve best effort
    planning_quantile: float = FLEET_QUANTILE  # the percentile buckets within the SLOs were planned at
    mixed_alternative: Mix | None = None  # the replayed mix of types set aside when the single type was chosen

    @property
    def one_type(self) -> bool:
        """The plan uses one instance type (the program chose it, or its replay beat the mix)."""
        return len({e.deployment.instance for e in self.mix.entries}) == 1

    @property
    def savings(self) -> float | None:
        """1 − mix ÷ best single type, on the objective (None when no single type can serve it)."""
        if self.single is None:
            return None
        return 1.0 - self.mix.objective_value(self.objective) / self.single.objective_value(self.objective)

    @property
    def meets_slo(self) -> bool | None:
        """Whether the chosen fleet's last replay met both SLOs (None: not replayed)."""
        rounds = self.single_rounds if self.chose_single else self.rounds
        return rounds[-1].meets_slo if rounds else None

    @property
    def tightened(self) -> bool:
        return len(self.rounds) > 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "workload": self.workload,
            "requests": self.requests,
            "span_s": self.span_s,
            "slo": {"ttft_p90_s": self.slo.ttft_p90_s, "tpot_p90_s": self.slo.tpot_p90_s},
            "objective": self.objective.value,
            "buckets": [b.as_dict() for b in self.buckets],
            "design_rate_factor": self.design_factor,
            "peak_window_s": self.peak_window_s,
            "configurations_evaluated": self.deployments,
            "mix": self.mix.as_dict(),
            "best_single_type": None if self.single is None else self.single.as_dict(),
            "savings_vs_single_type": self.savings,
            "replay": None
            if self.replay is None
            else {
                "ttft_s": self.replay.ttft_s,
                "tpot_s": self.replay.tpot_s,
                "slo_attainment": self.replay.slo_attainment,
                "completed": self.replay.completed,
                "rejected": self.replay.rejected,
                "meets_slo": self.meets_slo,
                "by_type": [t.as_dict() for t in self.replay.by_type],
            },
            "rounds": [r.as_dict() for r in self.rounds],
            "single_type_rounds": [r.as_dict() for r in self.single_rounds],
            "chose_single_type": self.chose_single,
            "mixed_alternative": None if self.mixed_alternative is None else self.mixed_alternative.as_dict(),
            "tightened": self.tightened,
            "hourly": None if self.hourly is None else self.hourly.as_dict(),
            "solve_s": self.solve_s,
            "replay_s": self.replay_s,
            "rejected": self.rejected,
            "excluded": None if self.excluded is None else self.excluded.as_dict(),
            "strict": self.strict,
            "best_effort_allowed_share": self.tail_share,
            "best_effort_share": self.mix.best_effort_share,
            "planning_quantile": self.planning_quantile,
            "assumptions": list(self.assumptions),
        }


def serve(
    model: ModelArch,
    trace: RequestTrace,
    slo: ServeSLO,
    *,
    catalog: Catalog | None = None,
    constraints: ServeConstraints | None = None,
    objective: ServeObjective = ServeObjective.COST,
    input_edges: Sequence[int] = DEFAULT_INPUT_EDGES,
    output_edges: Sequence[int] = DEFAULT_OUTPUT_EDGES,
    replay_rounds: int = 4,
    per_hour: bool = False,
    load_curve: Sequence[float] | None = None,
    peak_to_trough: float = 3.0,
    peak_window_s: float | None = None,
    seed: int = 0,
    strict: bool = False,
    tail_share: float = TAIL_SHARE,
    startup_s: float = DEFAULT_STARTUP_S,
    progress: Callable[[str], None] | None = None,
) -> ServePlan:
    """Plan the cheapest (or least-energy) fleet that serves ``trace`` within ``slo`` (module docstring).

    Bucket rates are planned at the trace's busy rate (:func:`peak_factor` over ``peak_window_s``, default
    :func:`default_peak_window_s`; 0: the mean rate).
    ``replay_rounds`` = 0 skips the simulator; otherwise up to that many re-solves follow a replay that misses.
    The best single instance type goes through the same replay, and is the answer when it turns out cheaper.

    The SLOs are fleet-level p90s, as the replay judges them: up to ``tail_share`` of the requests may be
    served best effort (counted as misses) on the cheapest replica that holds them, and the rest are planned
    at :func:`planning_quantile` so that the fleet's p90 holds. Requests no allowed replica's KV cache can hold
    are left out and reported (:class:`Excluded`). ``strict`` keeps the per-bucket rule instead: every bucket
    within the SLOs at its p90, every request held, or :class:`InfeasibleServeError`.
    ``startup_s``: the billed warm-up of each instance an hourly plan starts (``per_hour``).
    ``progress`` is called with a short line at each stage (bucketing, capacities, each solve, each replay).
    """
    cat = catalog or default_catalog()
    c = constraints or ServeConstraints()
    if model.kind != "decoder":
        raise ConfigError(f"{model.name} is an encoder; the serving planner covers decoder LMs")
    if replay_rounds < 0:
        raise ConfigError("--max-rounds must be 0 (no replay) or more")
    if not (math.isfinite(startup_s) and startup_s >= 0):
        raise ConfigError(f"--startup-time must be a duration >= 0, e.g. 525s or 10min; got {startup_s!r}")
    tail = 0.0 if strict else tail_share
    quantile = planning_quantile(tail)

    def say(message: str) -> None:
        if progress is not None:
            progress(message)

    t0 = time.perf_counter()
    original = len(trace)
    window_tokens = model.max_position_embeddings
    context = trace.input_tokens + trace.output_tokens
    beyond = context > window_tokens
    n_beyond = int(beyond.sum())
    longest = int(context.max()) if context.size else 0
    context_reason = (
        f"{n_beyond:,} longer than the model's context window ({model.name} takes at most {window_tokens:,} tokens "
        "of prompt and output; a server refuses longer requests)"
    )
    if n_beyond and (strict or original - n_beyond < 2):
        raise InfeasibleServeError(
            f"{n_beyond:,} of {original:,} requests are longer than {model.name}'s context window ({window_tokens:,} "
            f"tokens of prompt and output; the longest has {longest:,}), and "
            + ("--strict plans every request" if strict else "fewer than 2 would be left to plan")
            + "; use a model with a longer context window, or "
            + LENGTH_CAP_ADVICE,
            [],
        )
    if n_beyond:
        trace = without_requests(trace, beyond)
        say(f"left out {n_beyond:,} requests longer than {model.name}'s context window ({window_tokens:,} tokens)")
    say(f"bucketing {len(trace):,} requests by prompt and output length")
    buckets = bucketize(trace, input_edges, output_edges)
    rejected: Counter[str] = Counter()
    say(f"capacities of every allowed configuration for {len(buckets)} buckets")
    deps = deployments(model, buckets, slo, cat, c, rejected, quantile)
    if not deps:
        raise InfeasibleServeError(no_deployment_reason(model, cat, c, rejected), [])
    excluded = None
    limit = max(d.kv_capacity_tokens for d in deps)
    context = trace.input_tokens + trace.output_tokens
    too_long = context > limit
    n = int(too_long.sum()) if not strict else 0
    reasons = [context_reason] if n_beyond else []
    if n:
        biggest = max(deps, key=lambda d: d.kv_capacity_tokens)
        reasons.append(
            f"{n:,} with prompt + output longer than the largest KV cache of any allowed replica ({limit:,} tokens "
            f"on {biggest.label}); allow larger instances or tp, or use --strict to refuse to plan without them"
        )
    if reasons:
        excluded = Excluded(
            requests=n + n_beyond,
            share=(n + n_beyond) / original,
            longest_tokens=longest,
            kv_limit_tokens=limit,
            reason="; ".join(reasons),
            context_window_tokens=window_tokens,
            beyond_context=n_beyond,
        )
    if n:
        if len(trace) - n < 2:
            raise InfeasibleServeError(
                f"{n:,} of {len(trace):,} requests are longer than every allowed replica's KV cache ({limit:,} "
                "tokens); allow larger instances or tp, " + LENGTH_CAP_ADVICE,
                [],
            )
        trace = without_requests(trace, too_long)
        say(f"left out {n:,} requests no replica can hold; bucketing the other {len(trace):,}")
        buckets = bucketize(trace, input_edges, output_edges)
        rejected = Counter()
        deps = deployments(model, buckets, slo, cat, c, rejected, quantile)
    window = default_peak_window_s(trace, slo) if peak_window_s is None else peak_window_s
    design = peak_factor(trace, window)
    _check_every_bucket_served(deps, buckets, slo, tail)
    planner = _Planner(model, trace, buckets, slo, cat, c, objective, replay_rounds, seed, design, tail, progress)
    mix, factors = planner.solve(deps)
    if mix is None:
        raise InfeasibleServeError(
            f"no mix within --max-instances {c.max_instances_per_type} per type serves the workload; raise it",
            [],
        )
    say("the best single instance type, solved the same way")
    single, single_factors = planner.best_single(deps)
    solve_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    mix, rounds, result, factors = planner.verify(deps, mix, factors)
    single_rounds: tuple[ReplayRound, ...] = ()
    chose_single = False
    mixed_alternative: Mix | None = None
    if single is not None and _same_fleet(single, rounds[0].fleet if rounds else None, mix):
        single, single_rounds = mix, rounds  # the program already chose one type: nothing more to replay
    elif single is not None:
        name = single.entries[0].deployment.instance
        one = [d for d in deps if d.instance == name]
        single, single_rounds, single_result, _ = planner.verify(one, single, single_factors)
        # The single-type fleet is a mix too: when the replay shows it cheaper and sound, it is the answer.
        chose_single = bool(
            single_rounds
            and single_rounds[-1].meets_slo
            and (
                not rounds[-1].meets_slo
                or single.objective_value(objective) < mix.objective_value(objective) * (1.0 - 1e-9)
            )
        )
        if chose_single:
            mixed_alternative = mix
            mix, result = single, single_result
    replay_s = time.perf_counter() - t1
    hourly = None
    if per_hour:
        multipliers, source = daily_curve(trace, load_curve, peak_to_trough)
        mixes = []
        for h, m in enumerate(multipliers):
            say(f"hour {h:02d} of the daily curve ({m:.2f}× the rate)")
            hour_mix, _ = planner.solve(deps, factors, hour=max(m, 1e-9))
            if hour_mix is None:
                raise InfeasibleServeError("an hour of the daily curve cannot be served within --max-instances", [])
            mixes.append(hour_mix)
        peak = int(np.argmax(multipliers))
        startup_source = STARTUP_SOURCE if startup_s == DEFAULT_STARTUP_S else "given (--startup-time)"
        hourly = HourlyPlan(tuple(multipliers), source, tuple(mixes), mixes[peak], startup_s, startup_source)
    return ServePlan(
        model=model.name,
        workload=trace.name,
        requests=original,
        span_s=trace.duration_s,
        slo=slo,
        objective=objective,
        buckets=buckets,
        design_factor=design,
        peak_window_s=window,
        deployments=len(deps),
        mix=mix,
        single=single,
        rounds=rounds,
        single_rounds=single_rounds,
        chose_single=chose_single,
        mixed_alternative=mixed_alternative,
        replay=result,
        hourly=hourly,
        solve_s=solve_s,
        replay_s=replay_s,
        rejected=dict(rejected),
        assumptions=SERVE_PLAN_ASSUMPTIONS,
        excluded=excluded,
        strict=strict,
        tail_share=tail,
        planning_quantile=quantile,
    )


@dataclass(frozen=True)
class _Planner:
    """Solves the program, checks each type's modelled capacity for the mix of buckets it was given, and
    replays; where the check or the replay fails, tightens that type's capacity and solves again."""

    model: ModelArch
    trace: RequestTrace
    buckets: tuple[Bucket, ...]
    slo: ServeSLO
    catalog: Catalog
    constraints: ServeConstraints
    objective: ServeObjective
    max_rounds: int
    seed: int
    design: float  # busy-window rate ÷ mean rate
    tail_share: float = 0.0  # requests that may be served best effort (see solve_mix)
    progress: Callable[[str], None] | None = None

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def solve(
        self, deps: Sequence[Deployment], factors: dict[str, float] | None = None, hour: float = 1.0
    ) -> tuple[Mix | None, dict[str, float]]:
        """The program's mix, re-solved until every type's bucket mixture is within its modelled capacity."""
        factors = dict(factors) if factors else {d.instance: 1.0 for d in deps}
        mix: Mix | None = None
        scale = self.design * hour
        types = sorted({d.instance for d in deps})
        label = f"{len(types)} instance types" if len(types) > 1 else f"{types[0]} alone"
        for attempt in range(SETTLE_ROUNDS):
            self.say(f"solving the mix over {label}, {len(deps)} configurations (pass {attempt + 1})")
            mix = solve_mix(
                deps, self.buckets, self.objective, factors=factors, rate_scale=scale, traffic_scale=hour,
                max_instances_per_type=self.constraints.max_instances_per_type, tail_share=self.tail_share,
            )  # fmt: skip
            if mix is None:
                break
            over: dict[str, float] = {}
            for e in mix.entries:
                headroom = mixture_headroom(
                    self.model, e, self.buckets, self.slo, self.catalog, scale, self.constraints.max_batch_tokens,
                    planning_quantile(self.tail_share),
                )  # fmt: skip
                if headroom < 1.0:
                    over[e.deployment.instance] = headroom
            if not over:
                break
            for name, headroom in over.items():
                factors[name] *= min(0.98, max(0.5, headroom))
        return mix, factors

    def best_single(self, deps: Sequence[Deployment]) -> tuple[Mix | None, dict[str, float]]:
        """The best fleet of one instance type, solved and checked the same way, with its capacity factors."""
        factors: dict[str, dict[str, float]] = {}

        def solve(ds: Sequence[Deployment]) -> Mix | None:
            mix, factors[ds[0].instance] = self.solve(ds)
            return mix

        best = best_single_type(deps, self.buckets, self.objective, solve=solve)
        return best, factors[best.entries[0].deployment.instance] if best is not None else {}

    def verify(
        self, deps: Sequence[Deployment], mix: Mix, factors: dict[str, float]
    ) -> tuple[Mix, tuple[ReplayRound, ...], ServeResult | None, dict[str, float]]:
        """Replay ``mix``; while it misses the SLO (up to ``max_rounds`` times), tighten and re-solve."""
        factors = dict(factors)
        rounds: list[ReplayRound] = []
        result: ServeResult | None = None
        slo = self.slo
        for r in range(self.max_rounds + 1 if self.max_rounds else 0):
            self.say(f"replay round {r + 1}: {mix.describe()} over {len(self.trace):,} requests")
            result = replay(self.model, self.trace, mix, slo, self.catalog, self.constraints, seed=self.seed)
            missed = _misses(result, slo)
            fleet_ok = result.ttft_s["p90"] <= slo.ttft_p90_s and result.tpot_s["p90"] <= slo.tpot_p90_s
            rounds.append(
                ReplayRound(
                    round=r + 1, fleet=mix.describe(), cost_usd_per_h=mix.cost_usd_per_h, ttft_s=result.ttft_s,
                    tpot_s=result.tpot_s, slo_attainment=result.slo_attainment,
                    meets_slo=fleet_ok and not result.rejected, missed_by=missed, factors=dict(factors),
                )
            )  # fmt: skip
            if rounds[-1].meets_slo or r == self.max_rounds:
                break
            for name in missed or mix.instances:
                factors[name] *= TIGHTEN_STEP
            tightened, factors = self.solve(deps, factors)
            if tightened is None:
                break
            mix = tightened
        return mix, tuple(rounds), result, factors


def mixture_headroom(
    model: ModelArch,
    entry: MixEntry,
    buckets: Sequence[Bucket],
    slo: ServeSLO,
    catalog: Catalog,
    rate_scale: float,
    max_batch_tokens: int,
    quantile: float = FLEET_QUANTILE,
) -> float:
    """Modelled capacity of one replica of ``entry`` for the mixture of buckets routed to it, ÷ the rate each
    replica is planned to take (≥ 1: the mixture fits).

    The program adds up per-bucket capacities; a replica that serves long and short prompts together queues
    the short behind the long, which the mixture's moments (E[I²] over all its prompts) show and the sum does
    not. The mixture's p90 prompt is taken as the rate-weighted 90th percentile of its buckets' p90s.

    Requests served best effort are not in the mixture (their latency is not held to the SLOs, and a rare
    very long prompt would dominate its E[I²]); the share of the replicas' capacity they take, by the
    program's additive rule, is taken off the mixture's capacity.
    """
    d = entry.deployment
    best_effort = entry.best_effort_shares or (0.0,) * len(buckets)
    w = np.array(
        [(entry.bucket_shares[b] - best_effort[b]) * buckets[b].rate_per_s * rate_scale for b in range(len(buckets))]
    )
    w = np.maximum(w, 0.0)
    if w.sum() <= 1e-12:
        return math.inf
    replicas = entry.count * d.replicas_per_instance
    taken = (
        sum(
            best_effort[b] * buckets[b].rate_per_s * rate_scale / d.capacity(b, best_effort=True)
            for b in range(len(buckets))
            if best_effort[b] > 0 and d.capacity(b, best_effort=True) > 0
        )
        / replicas
    )
    per_replica = float(w.sum()) / replicas
    it = IterationModel(model, hardware_for(catalog, d.instance), d.tp, d.precision)
    limits = ReplicaLimits(max_batch_tokens, entry.max_seqs, d.kv_capacity_tokens)
    curve = operating_curve(it, limits, mixture(buckets, w), quantile)
    cap = float(capacity_within_slo(curve, slo.ttft_p90_s, slo.tpot_p90_s).rate_per_s[0])
    return cap * max(0.0, 1.0 - taken) / per_replica


def mixture(buckets: Sequence[Bucket], weights: NDArray[np.float64]) -> SizeClass:
    """One size class for requests drawn from ``buckets`` in proportion to ``weights``: mixed moments, and
    the weighted 90th percentile of the buckets' p90 prompts as the mixture's p90 prompt."""
    p = weights / weights.sum()
    p90s = np.array([b.input_p90 for b in buckets])
    order = np.argsort(p90s)
    at = min(int(np.searchsorted(np.cumsum(p[order]), 0.9 - 1e-9)), len(order) - 1)
    return SizeClass(
        input_mean=np.array([p @ np.array([b.input_mean for b in buckets])]),
        input_sq_mean=np.array([p @ np.array([b.input_sq_mean for b in buckets])]),
        input_p90=np.array([p90s[order][at]]),
        output_mean=np.array([p @ np.array([b.output_mean for b in buckets])]),
    )


def default_peak_window_s(trace: RequestTrace, slo: ServeSLO) -> float:
    """``max(5 × the TTFT SLO, 100 ÷ the mean rate)``: our choice, reasoned, not fitted.

    A burst shorter than the TTFT SLO queues and clears within it; one several times longer builds a backlog
    that pushes requests past it, so the fleet is sized for the rate over windows a few SLOs long. Windows
    hold at least 100 requests on average, so that Poisson noise (which the capacity model already counts)
    moves a window's rate by no more than about 10 %.
    """
    return max(5.0 * slo.ttft_p90_s, 100.0 / trace.rate_per_s if trace.rate_per_s > 0 else 0.0)


def peak_factor(trace: RequestTrace, window_s: float, quantile: float = DESIGN_QUANTILE) -> float:
    """The design rate ÷ the mean rate: the request-weighted ``quantile`` of the arrival rate over windows of
    ``window_s`` seconds (so no more than 1 − ``quantile`` of the requests arrive while the rate is higher).

    1 when ``window_s`` is 0 or the trace spans fewer than two whole windows."""
    if window_s < 0:
        raise ConfigError(f"--peak-window must be >= 0 (0 plans for the mean rate), got {window_s:g}")
    if window_s == 0 or trace.duration_s < 2 * window_s:
        return 1.0
    whole = int(trace.duration_s // window_s)
    counts = np.bincount((trace.arrival_s // window_s).astype(int), minlength=whole)[:whole].astype(float)
    order = np.sort(counts)
    cum = np.cumsum(order)
    at = order[int(np.searchsorted(cum, quantile * cum[-1]))]
    return max(1.0, float(at / counts.mean()))


def _same_fleet(single: Mix, first_replayed: str | None, final: Mix) -> bool:
    """The single-type fleet is the one the mix's first round replayed, and the mix never changed from it."""
    return first_replayed == single.describe() == final.describe() and all(
        a.deployment == b.deployment for a, b in zip(single.entries, final.entries, strict=True)
    )


def _misses(result: ServeResult, slo: ServeSLO) -> dict[str, str]:
    out = {}
    for t in result.by_type:
        what = []
        if t.ttft_s.get("p90", 0.0) > slo.ttft_p90_s:
            what.append(f"p90 TTFT {t.ttft_s['p90']:.3g} s")
        if t.tpot_s.get("p90", 0.0) > slo.tpot_p90_s:
            what.append(f"p90 TPOT {t.tpot_s['p90'] * 1e3:.3g} ms")
        if what:
            out[t.instance] = ", ".join(what)
    return out


LENGTH_CAP_ADVICE = (
    "or leave these requests out: drop them from the trace, or, with --rate, cap the lengths with max= "
    "(e.g. --input-tokens lognormal:mean=1500,sigma=1,max=8k, where k = 1024 tokens)"
)


def _check_every_bucket_served(
    deps: Sequence[Deployment], buckets: Sequence[Bucket], slo: ServeSLO, tail_share: float = 0.0
) -> None:
    """Raise unless every bucket meets the SLOs on some configuration, or the buckets that cannot are few
    enough (at most ``tail_share`` of the requests) to be served best effort by a replica that holds them."""
    bad = []
    lines = []
    total = sum(b.requests for b in buckets)
    out_of_reach = [i for i, b in enumerate(buckets) if not any(d.capacity_per_replica[i] > 0 for d in deps)]
    share = sum(buckets[i].requests for i in out_of_reach) / total
    held = all(any(d.capacity(i, best_effort=True) > 0 for d in deps) for i in out_of_reach)
    if not out_of_reach or (tail_share > 0 and share <= tail_share and held):
        return
    for i in out_of_reach:
        b = buckets[i]
        bad.append(b.label)
        fits = [d for d in deps if math.isfinite(d.best_ttft_p90_s[i]) and b.context_max <= d.kv_capacity_tokens]
        if not fits:
            biggest = max(deps, key=lambda d: d.kv_capacity_tokens)
            lines.append(
                f"bucket {b.label} ({b.requests} requests, {b.requests / total:.1%}): its longest request "
                f"({b.context_max:,} tokens of prompt and output) fits no replica's KV cache (largest: "
                f"{biggest.kv_capacity_tokens:,} tokens on {biggest.label}); allow larger instances or tp"
            )
            continue
        ttft = min(fits, key=lambda d: d.best_ttft_p90_s[i])
        tpot = min(fits, key=lambda d: d.best_tpot_p90_s[i])
        parts = []
        if ttft.best_ttft_p90_s[i] > slo.ttft_p90_s:
            parts.append(
                f"the best p90 TTFT is {ttft.best_ttft_p90_s[i]:.3g} s ({ttft.label}) against {slo.ttft_p90_s:.3g} s"
            )
        if tpot.best_tpot_p90_s[i] > slo.tpot_p90_s:
            parts.append(
                f"the best p90 TPOT is {tpot.best_tpot_p90_s[i] * 1e3:.3g} ms ({tpot.label}) against "
                f"{slo.tpot_p90_s * 1e3:.3g} ms"
            )
        if not parts:
            parts.append(
                f"each SLO alone is reachable (p90 TTFT {ttft.best_ttft_p90_s[i]:.3g} s, p90 TPOT "
                f"{tpot.best_tpot_p90_s[i] * 1e3:.3g} ms) but no configuration meets both at once"
            )
        lines.append(f"bucket {b.label} ({b.requests} requests, {b.requests / total:.1%}): " + "; ".join(parts))
    if bad:
        allowance = (
            f" They are {share:.1%} of the requests; the fleet's p90 leaves room to serve at most {tail_share:.1%} "
            "best effort."
            if tail_share > 0
            else ""
        )
        raise InfeasibleServeError(
            "the SLOs are out of reach for some requests on every allowed instance, even at light load: "
            + " | ".join(lines)
            + "."
            + allowance
            + " Relax --slo-ttft-p90/--slo-tpot-p90, allow more instance types or a lower --precision, "
            + LENGTH_CAP_ADVICE
            + ".",
            bad,
        )


SERVE_PLAN_ASSUMPTIONS: tuple[str, ...] = (
    "requests grouped by prompt and output length; each bucket's capacity on a replica from a steady-state "
    "continuous-batching model (chipfleet.perf.batching) on the simulator's iteration roofline",
    "an SLO is met by a bucket on a configuration when its modelled p90 TTFT and p90 TPOT are within it; the "
    "replay checks the fleet's p90 over all requests",
    "capacity adds across buckets on one replica (Mélange's assumption), then each type's bucket mixture is "
    "checked against the model for that mixture; the replay shows what sharing costs",
    "sized for the busy rate: the rate 95 % of requests arrive under, over windows of max(5 × TTFT SLO, 100 "
    "requests' worth) unless --peak-window is given",
    "each replica's max batch is what its KV cache holds at its traffic's full context (no preemption storms)",
    "one configuration per instance type; requests of a bucket split across types by the routing table",
    "price: each instance type's cheapest region for the pricing unless --region is given; energy = instance "
    "power (chips idle→TDP by busy share, plus host) × PUE",
)
