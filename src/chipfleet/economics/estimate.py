"""End-to-end estimates: a performance result joined with its cost, energy and carbon."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from chipfleet.catalog import Catalog, Pricing
from chipfleet.economics.costing import Footprint, footprint, pick_price
from chipfleet.economics.spot import (
    CHECKPOINT_BYTES_PER_PARAM,
    SpotModel,
    spot_capacity_caveat,
    spot_stops_sentence,
)
from chipfleet.economics.uncertainty import speed_band, speed_range, time_range
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.hardware import Hardware, hardware_for
from chipfleet.perf.inference import InferenceResult, ServingConfig, estimate_inference
from chipfleet.perf.training import (
    MAX_CHIPS,
    Parallelism,
    TrainingSetup,
    TrainingStep,
    check_cluster,
    check_fixed_fields,
    check_parallelism,
    check_training_tokens,
    choose_parallelism,
    count_splits,
    min_chips_to_fit,
    training_memory,
    training_step,
)

PARALLELISM_FIELDS = ("tp", "pp", "dp", "cp", "ep", "zero", "micro_batch", "recompute", "sequence_parallel")


@dataclass(frozen=True)
class TrainingEstimate:
    """A training run on one instance type: its step (split, time, memory), footprint and uncertainty band."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("time_s", "failure_free_time_s", "ranges", "assumptions")

    model: str
    instance: str
    chip: str
    instances: int
    tokens: float
    step: TrainingStep
    footprint: Footprint
    parallelism_chosen: bool
    validated: bool
    band: tuple[float, float] | None = None  # speed factors from the family's cross-validated error
    spot_overhead: float = 0.0  # share of time added by spot interruptions (0 unless on spot)
    spot_interruptions: float = 0.0  # expected times the whole job is stopped over the run (0 unless on spot)
    spot_model: str | None = None  # SpotModel.describe() when on spot
    caveats: tuple[str, ...] = ()  # what the figures include of spot and what they leave out

    @property
    def time_s(self) -> float:
        """Wall time of the run, spot interruptions included (``failure_free_time_s × (1 + spot_overhead)``)."""
        return self.footprint.time_s

    @property
    def failure_free_time_s(self) -> float:
        return self.time_s / (1.0 + self.spot_overhead)

    @property
    def ranges(self) -> dict[str, list[float] | None]:
        """10th-90th percentile ranges: speeds scale with the band, times (and cost, energy) inversely."""
        fp = self.footprint
        return {
            "time_s": time_range(self.time_s, self.band),
            "step_time_s": time_range(self.step.step_time_s, self.band),
            "tokens_per_s": speed_range(self.step.tokens_per_s, self.band),
            "mfu": speed_range(self.step.mfu, self.band),
            "cost_usd": time_range(fp.cost_usd, self.band),
            "energy_kwh": time_range(fp.energy_kwh, self.band),
            "co2_kg": None if fp.co2_kg is None else time_range(fp.co2_kg, self.band),
        }

    @property
    def assumptions(self) -> list[str]:
        """Every assumption behind the estimate: the step's, the footprint's, the spot model and the band."""
        return [
            *self.step.assumptions,
            *self.footprint.assumptions,
            *([self.spot_model] if self.spot_model else []),
            _band_note(self.band, self.validated),
        ]


def _band_note(band: tuple[float, float] | None, validated: bool) -> str:
    if band is None:
        return "no uncertainty band: this chip family's efficiency has not been calibrated"
    text = (
        f"ranges: 10th-90th percentile of leave-one-source-out errors, measured speed "
        f"{band[0]:.2f}-{band[1]:.2f} × predicted"
    )
    return text if validated else text + " (family not validated on its own measurements: pooled band)"


def estimate_training(
    catalog: Catalog,
    setup: TrainingSetup,
    instance: str,
    instances: int,
    tokens: float,
    fixed: dict[str, object] | None = None,
    region: str | None = None,
    pricing: Pricing = Pricing.ON_DEMAND,
    spot: SpotModel | None = None,
) -> TrainingEstimate:
    """Time, cost, energy and CO2 of training ``setup.model`` on ``tokens`` tokens.

    ``fixed`` holds the parallelism fields the user gave (tp, pp, dp, cp, ep, zero, micro_batch,
    recompute); the rest are chosen to minimise step time among splits that fit. Raises
    :class:`DoesNotFitError` with what would fit when nothing does.

    time = steps × step time × spot factor; on spot the factor is :meth:`SpotModel.overhead_factor` for the
    whole synchronous job (``instances`` × the per-instance interruption rate, checkpoints of
    ``CHECKPOINT_BYTES_PER_PARAM`` per parameter), the same model the planner uses; elsewhere 1. Cost, energy
    and CO2 follow the longer time. ``spot`` defaults to :class:`SpotModel`'s defaults.
    """
    check_training_tokens(tokens)
    inst = catalog.instance(instance)
    hw = hardware_for(catalog, inst)
    check_cluster(hw, instances)
    fixed = {k: v for k, v in (fixed or {}).items() if v is not None}
    unknown = set(fixed) - {*PARALLELISM_FIELDS, "virtual_stages"}
    if unknown:
        raise ConfigError(f"unknown parallelism field(s) {sorted(unknown)}")
    price = pick_price(catalog, inst, region, pricing)  # fail early, before the search
    spot = (spot or SpotModel()) if price.pricing is Pricing.SPOT else None
    spot_factor = 1.0 if spot is None else _spot_factor(spot, setup, inst.name, instances)  # early too
    complete = {"tp", "pp", "dp"} <= set(fixed)
    check_fixed_fields(setup.model, setup, hw, instances, fixed)
    if complete:
        par = Parallelism(**fixed)  # type: ignore[arg-type]
        check_parallelism(setup.model, setup, par, hw, instances)
        mem = training_memory(setup.model, setup, par, hw)
        if not mem.fits:
            raise _does_not_fit(catalog, setup, instance, instances, mem.total_bytes, mem.available_bytes, par)
        step = training_step(setup.model, setup, par, hw, instances)
    else:
        choice = choose_parallelism(setup.model, setup, hw, instances, fixed)
        if choice is None:
            valid, _ = count_splits(setup.model, setup, hw, instances, fixed)
            if not valid:
                given = ", ".join(f"{k}={v}" for k, v in fixed.items()) or "no fixed fields"
                raise ConfigError(
                    f"no split of {instances * hw.chips_per_instance} chips ({instances} × {instance}) is valid "
                    f"with {given}: tp must divide the heads and stay in one instance, tp·pp·dp·cp must equal the "
                    f"chips, dp·micro_batch must divide the global batch {setup.global_batch}; change the fixed "
                    "fields, instances or global_batch",
                    field="global_batch",
                )
            raise _does_not_fit(
                catalog, setup, instance, instances, float("nan"), hw.usable_memory_bytes, None, fixed=fixed
            )
        step = choice.step
    steps = math.ceil(tokens / (setup.global_batch * setup.seq_len))
    failure_free_s = steps * step.step_time_s
    time_s = failure_free_s * spot_factor
    interruptions, spot_note = 0.0, None
    caveats: tuple[str, ...] = ()
    if spot is not None:
        interruptions = spot.expected_interruptions(instances, time_s)
        spot_note = spot.describe()
        capacity = spot_capacity_caveat(inst.name, instances, instances * hw.chips_per_instance)
        caveats = (
            spot_stops_sentence(spot, inst.name, instances, interruptions, spot_factor - 1.0),
            *([capacity] if capacity else []),
        )
    busy = (step.breakdown["compute_s"] + step.breakdown["memory_s"] + step.breakdown["optimizer_s"]) / step.step_time_s
    fp = footprint(catalog, inst, instances, time_s, busy, price)
    return TrainingEstimate(
        model=setup.model.name,
        instance=inst.name,
        chip=inst.chip,
        instances=instances,
        tokens=tokens,
        step=step,
        footprint=fp,
        parallelism_chosen=not complete,
        validated=hw.validated,
        band=speed_band(catalog.family(hw.family), "throughput"),
        spot_overhead=spot_factor - 1.0,
        spot_interruptions=interruptions,
        spot_model=spot_note,
        caveats=caveats,
    )


def _spot_factor(spot: SpotModel, setup: TrainingSetup, instance: str, instances: int) -> float:
    """Expected wall time ÷ failure-free time of a synchronous spot job (:meth:`SpotModel.overhead_factor`); a
    ConfigError when the interruptions leave no progress (the Young/Daly overhead reaches the failure-free rate)."""
    factor = spot.overhead_factor(instances, setup.model.params_total * CHECKPOINT_BYTES_PER_PARAM)
    if not math.isfinite(factor):
        raise ConfigError(
            f"on spot, {instances} × {instance} at {spot.interruptions_per_month:g} interruptions per "
            f"instance-month stops so often (the whole job, {instances} × that rate) that checkpoints, lost work "
            f"and restarts take all its time: it would never finish. Use fewer instances, on-demand pricing, or "
            f"a lower interruptions_per_month",
            field="interruptions_per_month",
        )
    return factor


def _does_not_fit(
    catalog: Catalog,
    setup: TrainingSetup,
    instance: str,
    instances: int,
    needed: float,
    available: float,
    par: Parallelism | None,
    fixed: dict[str, object] | None = None,
) -> DoesNotFitError:
    hw = hardware_for(catalog, instance)
    model = setup.model
    if par is not None:
        alt = choose_parallelism(model, setup, hw, instances)
        fits = f"this split fits: {alt.step.parallelism.describe()}" if alt else None
        hint = fits or _more_instances_hint(setup, hw, instances)
        return DoesNotFitError(
            f"{model.name} with {par.describe()} needs {needed / 1e9:.1f} GB per chip; {hw.chip} has "
            f"{available / 1e9:.1f} GB usable.",
            needed_bytes=needed,
            available_bytes=available,
            suggestion=hint,
        )
    fixed = fixed or {}
    alt = choose_parallelism(model, setup, hw, instances) if fixed else None
    if alt is not None:
        given = ", ".join(f"{k}={v}" for k, v in fixed.items())
        hint = f"without {given}, this split fits: {alt.step.parallelism.describe()}"
    else:
        hint = _more_instances_hint(setup, hw, instances, fixed)
    state = model.params_total * 16 / 1e9
    return DoesNotFitError(
        f"no split of {model.name} ({state:.0f} GB of weights, gradients and Adam states) over {instances} × "
        f"{instance} ({instances * hw.chips_per_instance} chips of {available / 1e9:.1f} GB usable) fits in memory.",
        needed_bytes=state * 1e9,
        available_bytes=available * instances * hw.chips_per_instance,
        suggestion=hint,
    )


def _more_instances_hint(
    setup: TrainingSetup, hw: Hardware, instances: int, fixed: dict[str, object] | None = None
) -> str:
    """A larger instance count at which the search (honouring ``fixed``) finds a split that fits.

    Bounded: at most four counts are searched, from the fewest whose memory could hold the training state
    (:func:`min_chips_to_fit`) and the next powers of two (batch and layer counts divide best by them), up to
    the instance's cluster limit and ``MAX_CHIPS``.
    """
    least = max(instances + 1, math.ceil(min_chips_to_fit(setup.model, setup, hw) / hw.chips_per_instance))
    pow2 = 1 << (least - 1).bit_length()
    cap = min(hw.max_instances or MAX_CHIPS, MAX_CHIPS // hw.chips_per_instance)
    for n in sorted({least, pow2, 2 * pow2, 4 * pow2}):
        if n > cap:
            break
        choice = choose_parallelism(setup.model, setup, hw, n, fixed)
        if choice is not None:
            return f"use {n} × {hw.instance}: {choice.step.parallelism.describe()} fits"
    return "use a chip with more memory, a shorter sequence or a smaller model; no larger count searched fits"


@dataclass(frozen=True)
class ServingEstimate:
    """A serving configuration on one instance type: latency, throughput, and one instance-hour's footprint."""

    __json_properties__: ClassVar[tuple[str, ...]] = (
        "cost_usd_per_million_tokens",
        "energy_j_per_token",
        "co2_g_per_million_tokens",
        "ranges",
        "assumptions",
    )

    model: str
    instance: str
    chip: str
    config: ServingConfig
    result: InferenceResult
    footprint: Footprint  # one instance for one hour
    validated: bool
    throughput_band: tuple[float, float] | None = None
    latency_band: tuple[float, float] | None = None

    @property
    def ranges(self) -> dict[str, list[float] | None]:
        """10th-90th percentile ranges: latencies scale with the latency band, throughput (and cost, energy per
        token) with the throughput band."""
        r = self.result
        return {
            "ttft_s": time_range(r.ttft_s, self.latency_band),
            "tpot_s": time_range(r.tpot_s, self.latency_band),
            "output_tokens_per_s": speed_range(r.output_tokens_per_s, self.throughput_band),
            "cost_usd_per_million_tokens": time_range(self.cost_usd_per_million_tokens, self.throughput_band),
            "energy_j_per_token": time_range(self.energy_j_per_token, self.throughput_band),
        }

    @property
    def cost_usd_per_million_tokens(self) -> float:
        return self.footprint.price.usd_per_h / 3600.0 / self.result.output_tokens_per_s * 1e6

    @property
    def energy_j_per_token(self) -> float:
        """Facility energy (IT power × PUE) per output token."""
        return self.footprint.energy_kwh * 3.6e6 / (self.result.output_tokens_per_s * self.footprint.time_s)

    @property
    def co2_g_per_million_tokens(self) -> float | None:
        """Grams of CO2e per million output tokens: ``co2_kg × 1000 / (tokens/s × time_s) × 1e6``; None where the
        region has no grid intensity."""
        fp = self.footprint
        if fp.co2_kg is None:
            return None
        return fp.co2_kg * 1000 / (self.result.output_tokens_per_s * fp.time_s) * 1e6

    @property
    def assumptions(self) -> list[str]:
        """Every assumption behind the estimate: the inference model's, the footprint's and the band."""
        return [*self.result.assumptions, *self.footprint.assumptions, _band_note(self.throughput_band, self.validated)]


def estimate_serving(
    catalog: Catalog,
    cfg: ServingConfig,
    instance: str,
    region: str | None = None,
    pricing: Pricing = Pricing.ON_DEMAND,
) -> ServingEstimate:
    """Latency, throughput, $ per million output tokens and J per token of ``cfg`` on one instance."""
    inst = catalog.instance(instance)
    hw = hardware_for(catalog, inst)
    price = pick_price(catalog, inst, region, pricing)
    result = estimate_inference(cfg, hw)
    fp = footprint(catalog, inst, 1, 3600.0, result.busy_fraction, price)
    return ServingEstimate(
        model=cfg.model.name,
        instance=inst.name,
        chip=inst.chip,
        config=cfg,
        result=result,
        footprint=fp,
        validated=hw.validated,
        throughput_band=speed_band(catalog.family(hw.family), "throughput"),
        latency_band=speed_band(catalog.family(hw.family), "latency"),
    )
