"""Serving configurations and their capacities: every allowed (instance type, tp, precision, max batch) that
holds the model, the request rate one replica sustains per bucket within the SLOs (and best effort), and the
check that every bucket has a configuration to go to."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from chipfleet.catalog import Catalog, Instance, Precision, Pricing
from chipfleet.economics.costing import instance_power_w
from chipfleet.exceptions import ConfigError, DoesNotFitError, InfeasibleServeError
from chipfleet.perf.batching import Capacity, ReplicaLimits, capacity_within_slo, kv_safe_max_seqs, operating_curve
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.inference import valid_tp_degrees
from chipfleet.perf.iteration import IterationModel
from chipfleet.plan.serve.buckets import LENGTH_CAP_ADVICE, Bucket, size_classes
from chipfleet.plan.serve.spec import FLEET_QUANTILE, ServeConstraints, ServeSLO
from chipfleet.sim.serving import ServeOptions, replica_shape
from chipfleet.workloads import ModelArch


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


TP_MISMATCH = "no tp value is a valid degree of it (tp must divide its chips and, on GPUs, the query heads)"


def no_deployment_reason(model: ModelArch, catalog: Catalog, c: ServeConstraints, rejected: Counter[str]) -> str:
    """Why :func:`deployments` found nothing: the real reason, not a count of nothing.

    With ``tp`` values that divide no allowed instance's chips (or, on GPUs, the model's query heads), it lists
    the chip counts the allowed instances have and the degrees that would work; otherwise the rejection counts.
    """
    allowed = _allowed(catalog, c, Counter())
    if not allowed:
        reasons = "; ".join(f"{k}: {n}" for k, n in rejected.items()) or "no instance type matched"
        return (
            f"no allowed instance type has a price to plan with ({reasons}); check the constraints' instances, "
            "clouds, region and pricing"
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
            f"no allowed instance type can run {model.name} at tp {asked}: a replica's tp must divide the chips "
            f"of one instance (and, on GPUs, {model.name}'s {model.n_heads} query heads), and the allowed instances "
            f"have {', '.join(str(n) for n in chips)} chips; tp values that would work: {valid}. Give one of those "
            "or leave tp empty to let the planner choose"
        )
    reasons = "; ".join(f"{k}: {n}" for k, n in rejected.items() if n) or "no configuration was tried"
    return (
        f"no allowed instance type can hold {model.name} ({reasons}); check the constraints' instances, clouds, "
        f"region, pricing, precisions{' and tp' if c.tp else ''}"
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
    loads = size_classes(buckets)
    out = []
    for inst in _allowed(catalog, constraints, rejected):
        hw = hardware_for(catalog, inst)
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
                    limits = ReplicaLimits(constraints.max_batch_tokens, kv_safe_max_seqs(seqs, kv, loads), kv)
                    curve = operating_curve(IterationModel(model, hw, tp, prec), limits, loads, quantile)
                    cap = capacity_within_slo(curve, slo.ttft_p90_s, slo.tpot_p90_s)
                    if not np.any(cap.rate_per_s > 0):
                        rejected["meets the SLOs for no bucket"] += 1
                    anyhow = capacity_within_slo(curve, math.inf, math.inf)
                    out.append(_deployment(catalog, inst, constraints, (tp, prec, seqs), kv, buckets, cap, anyhow))
    return out


def _deployment(
    catalog: Catalog,
    inst: Instance,
    constraints: ServeConstraints,
    config: tuple[int, Precision, int],
    kv: int,
    buckets: Sequence[Bucket],
    cap: Capacity,
    anyhow: Capacity,
) -> Deployment:
    """One configuration of ``inst`` (``config``: tp, precision, max batch; ``kv`` tokens of cache per replica)
    with its price, power and capacities within the SLOs (``cap``) and best effort (``anyhow``)."""
    tp, precision, max_seqs = config
    hw = hardware_for(catalog, inst)
    price = inst.price(constraints.region, constraints.pricing)
    assert price is not None  # _allowed checked
    region = catalog.region(price.region)
    power = instance_power_w(catalog, inst)
    # Every request of a bucket must fit the cache of a replica it is sent to (the runtime rejects one that cannot).
    too_long = np.array([b.context_max > kv for b in buckets])
    return Deployment(
        instance=inst.name,
        cloud=inst.cloud.value,
        chip=inst.chip,
        tp=tp,
        precision=precision,
        max_seqs=max_seqs,
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


def _floats(a: NDArray[np.float64]) -> tuple[float, ...]:
    return tuple(float(v) for v in a)


def check_every_bucket_served(
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
            + " Relax the SLOs (ttft_p90_s, tpot_p90_s), allow more instance types or a lower precision, "
            + LENGTH_CAP_ADVICE
            + ".",
            bad,
        )
