"""Training planner: the cheapest, fastest or greenest way to train a model, with its Pareto front.

For every instance type that can run the job the planner evaluates, in bulk (numpy arrays of splits, see
:mod:`chipfleet.perf.training_batch`), every instance count up to the chip limit and every tensor,
pipeline (with interleaving), data, context and expert split, ZeRO stage, micro-batch, recompute mode and
precision the chip supports. It keeps, for each instance type, count and precision, the fastest split that
fits in memory; prices it in every allowed region and pricing model (on-demand, spot with interruption
overhead, reserved at its commitment's hourly rate), and ranks what meets the deadline and budget by the objective.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

import numpy as np

from chipfleet.catalog import Catalog, Instance, Precision, Price, Pricing, default_catalog
from chipfleet.economics.costing import instance_power_w
from chipfleet.economics.spot import (
    CHECKPOINT_BYTES_PER_PARAM,
    LARGE_SPOT_CHIPS,
    SpotModel,
    spot_capacity_caveat,
    spot_stops_sentence,
)
from chipfleet.economics.uncertainty import speed_band, time_range
from chipfleet.exceptions import ChipfleetError, ConfigError
from chipfleet.perf.hardware import Hardware, hardware_for
from chipfleet.perf.training import (
    MAX_CHIPS,
    Parallelism,
    check_training_tokens,
    flops_per_token_parts,
    split_at,
    split_grid,
)
from chipfleet.perf.training_batch import elementwise, evaluate, peaks
from chipfleet.workloads import ModelArch

__all__ = [
    "CHECKPOINT_BYTES_PER_PARAM",
    "LARGE_SPOT_CHIPS",
    "InfeasiblePlanError",
    "Objective",
    "PricingChoice",
    "RatioFactor",
    "SpotModel",
    "TrainConstraints",
    "TrainOption",
    "TrainPlan",
    "explain",
    "instance_counts",
    "pareto_front",
    "pricing_caveats",
    "ratio_factors",
    "spot_caveats",
    "train",
]

J_PER_KWH = 3.6e6


class Objective(StrEnum):
    COST = "cost"
    TIME = "time"
    ENERGY = "energy"
    CO2 = "co2"


class PricingChoice(StrEnum):
    """Which prices the planner may use: one pricing model, or ``any`` (on-demand, spot and reserved, each option
    saying which)."""

    ON_DEMAND = "on-demand"
    SPOT = "spot"
    RESERVED = "reserved"
    ANY = "any"

    @property
    def pricings(self) -> tuple[Pricing, ...]:
        if self is PricingChoice.ANY:
            return (Pricing.ON_DEMAND, Pricing.SPOT, Pricing.RESERVED)
        return (Pricing(self.value),)


class InfeasiblePlanError(ChipfleetError):
    """Nothing meets the constraints; the message names the binding constraint and what would be needed.

    ``binding`` is one of ``filters`` (no instance type allowed), ``memory``, ``deadline``, ``max_chips`` or
    ``budget``; ``field`` the :class:`TrainConstraints` field to change, where one is."""

    def __init__(self, message: str, binding: str, rejected: dict[str, int], *, field: str | None = None) -> None:
        self.binding = binding
        self.rejected = rejected
        super().__init__(message, field=field)


@dataclass(frozen=True)
class TrainConstraints:
    deadline_s: float | None = None
    budget_usd: float | None = None
    max_chips: int = 4096
    clouds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    instances: tuple[str, ...] = ()
    pricing: PricingChoice = PricingChoice.ON_DEMAND
    precisions: tuple[Precision, ...] = ()  # empty: bf16 and, where the chip has it, fp8

    def __post_init__(self) -> None:
        if self.deadline_s is not None and not (math.isfinite(self.deadline_s) and self.deadline_s > 0):
            raise ConfigError(
                f"deadline_s must be a positive, finite duration in seconds; got {self.deadline_s!r}",
                field="deadline_s",
            )
        if self.budget_usd is not None and not (math.isfinite(self.budget_usd) and self.budget_usd > 0):
            raise ConfigError(
                f"budget_usd must be a positive, finite amount in USD; got {self.budget_usd!r}", field="budget_usd"
            )
        chips = self.max_chips
        if isinstance(chips, bool) or not isinstance(chips, int) or not 1 <= chips <= MAX_CHIPS:
            raise ConfigError(
                f"max_chips must be a whole number from 1 to {MAX_CHIPS:,} (chipfleet's ceiling on one cluster, "
                f"~10× the largest announced training clusters); got {chips!r}",
                field="max_chips",
            )
        if not isinstance(self.pricing, PricingChoice):
            choices = ", ".join(p.value for p in PricingChoice)
            raise ConfigError(f"pricing must be a PricingChoice ({choices}); got {self.pricing!r}", field="pricing")


@dataclass(frozen=True)
class TrainOption:
    """One way to run the job: where, on what, split how, and what it takes."""

    instance: str
    cloud: str
    chip: str
    instances: int
    parallelism: Parallelism
    precision: Precision
    region: str
    pricing: Pricing
    step_time_s: float
    time_s: float
    cost_usd: float
    energy_kwh: float
    co2_kg: float | None
    mfu: float
    breakdown: dict[str, float]
    memory_bytes: float
    price_usd_per_h: float
    spot_overhead: float
    validated: bool
    band: tuple[float, float] | None
    family: str  # the efficiency family whose calibration sets the speed
    power_w: float  # IT power per instance at the modelled busy share
    pue_ratio: float  # of the region
    grid_gco2_per_kwh: float | None  # of the region; None where unknown
    spot_interruptions: float  # expected times the whole job is stopped (0 on on-demand)
    price_term: str = ""  # a reserved price's commitment (Price.term), e.g. '1yr reservation'; empty otherwise
    family_status: str | None = None  # why the family is not validated (Catalog.family_status); None if it is

    __json_properties__: ClassVar[tuple[str, ...]] = ("chips", "bound", "pricing_label", "ranges")

    @property
    def pricing_label(self) -> str:
        """The pricing model in words, with a reserved price's term: 'reserved, 3yr all upfront (…)'."""
        return f"{self.pricing.value}, {self.price_term}" if self.price_term else self.pricing.value

    @property
    def chips(self) -> int:
        return self.parallelism.chips

    @property
    def price_usd_per_chip_h(self) -> float:
        return self.price_usd_per_h * self.instances / self.chips

    @property
    def bound(self) -> str:
        return max(self.breakdown, key=lambda k: self.breakdown[k]).removesuffix("_s")

    def objective_value(self, objective: Objective) -> float:
        value = {
            Objective.COST: self.cost_usd,
            Objective.TIME: self.time_s,
            Objective.ENERGY: self.energy_kwh,
            Objective.CO2: self.co2_kg if self.co2_kg is not None else math.inf,
        }[objective]
        return value

    @property
    def ranges(self) -> dict[str, list[float] | None]:
        """Time, cost and energy as [low, high] from the family's cross-validated speed band (None: no band)."""
        return {
            "time_s": time_range(self.time_s, self.band),
            "cost_usd": time_range(self.cost_usd, self.band),
            "energy_kwh": time_range(self.energy_kwh, self.band),
        }


@dataclass(frozen=True)
class TrainPlan:
    model: str
    tokens: float
    seq_len: int
    global_batch: int
    objective: Objective
    constraints: TrainConstraints
    options: tuple[TrainOption, ...]  # ranked by the objective, best first
    pareto: tuple[TrainOption, ...]  # time × cost, fastest first
    pareto_energy: tuple[TrainOption, ...]  # time × cost × energy
    rejected: dict[str, int]
    evaluated: int
    explanation: str
    assumptions: tuple[str, ...] = field(default=())
    caveats: tuple[str, ...] = field(default=())  # what the numbers do not cover, e.g. large jobs on spot

    @property
    def best(self) -> TrainOption:
        return self.options[0]


# ----------------------------------------------------------------------------- search space
def instance_counts(chips_per_instance: int, max_chips: int, max_instances: int | None) -> list[int]:
    """1, 2, 3, 4, 6, 8, 12, 16, ... instances (powers of two and 1.5×), within the chip and cluster limits."""
    limit = max_chips // chips_per_instance
    if max_instances is not None:
        limit = min(limit, max_instances)
    out: set[int] = set()
    k = 1
    while k <= limit:
        out.add(k)
        if k * 3 // 2 <= limit and k >= 2:
            out.add(k * 3 // 2)
        k *= 2
    return sorted(out)


# ----------------------------------------------------------------------------- the planner
@dataclass(frozen=True)
class _Candidate:
    """The fastest fitting split for one instance type, count and precision (before pricing)."""

    instance: Instance
    hw: Hardware
    instances: int
    precision: Precision
    parallelism: Parallelism
    step_time_s: float
    mfu: float
    busy: float
    breakdown: dict[str, float]
    memory_bytes: float


def _allowed_instances(catalog: Catalog, c: TrainConstraints) -> tuple[list[Instance], Counter[str]]:
    rejected: Counter[str] = Counter()
    wanted = {n.lower() for n in c.instances}
    for name in wanted:
        catalog.instance(name)  # a typo says "did you mean"
    for region in c.regions:
        catalog.region(region)
    out = []
    for inst in catalog.instances.values():
        chip = catalog.chip(inst.chip)
        if wanted and inst.name not in wanted:
            continue
        if not wanted and chip.kind != "accelerator":
            continue  # CPUs only when asked for by name
        if c.clouds and inst.cloud.value not in c.clouds:
            continue
        if not _prices(inst, c):
            rejected["no price for the allowed regions and pricing"] += 1
            continue
        out.append(inst)
    return out, rejected


def _prices(inst: Instance, c: TrainConstraints) -> list[Price]:
    kinds = c.pricing.pricings
    return [p for p in inst.prices if p.pricing in kinds and (not c.regions or p.region in c.regions)]


def _candidates(
    model: ModelArch, catalog: Catalog, inst: Instance, c: TrainConstraints, seq_len: int, global_batch: int
) -> tuple[list[_Candidate], Counter[str], int]:
    hw = hardware_for(catalog, inst)
    chip = catalog.chip(inst.chip)
    precisions = c.precisions or (Precision.BF16, Precision.FP8)
    precisions = tuple(p for p in precisions if p in chip.peak_dense)
    fpt = flops_per_token_parts(model, seq_len)
    out: list[_Candidate] = []
    rejected: Counter[str] = Counter()
    evaluated = 0
    for n in instance_counts(inst.chips, c.max_chips, inst.max_instances):
        splits = split_grid(model, hw, n, seq_len)
        if not len(splits):
            continue
        for prec in precisions:
            peak, attn_peak = peaks(hw, prec)
            res = evaluate(model, hw, splits, n, seq_len, global_batch, peak, attn_peak, elementwise(model, prec), fpt)
            evaluated += len(splits)
            ok = res.valid & res.fits
            rejected["invalid split (divisibility, links)"] += int((~res.valid).sum())
            rejected["does not fit in memory"] += int((res.valid & ~res.fits).sum())
            if not ok.any():
                continue
            times = np.where(ok, res.step_time_s, np.inf)
            i = int(np.argmin(times))
            out.append(
                _Candidate(
                    instance=inst,
                    hw=hw,
                    instances=n,
                    precision=prec,
                    parallelism=split_at(splits, i),
                    step_time_s=float(res.step_time_s[i]),
                    mfu=float(res.mfu[i]),
                    busy=float(res.busy_fraction[i]),
                    breakdown={k: float(v[i]) for k, v in res.breakdown.items()},
                    memory_bytes=float(res.memory_total_bytes[i]),
                )
            )
            rejected["slower split of the same instance count"] += int(ok.sum()) - 1
    return out, rejected, evaluated


def _priced(
    model: ModelArch, catalog: Catalog, cand: _Candidate, c: TrainConstraints, steps: int, spot: SpotModel
) -> list[TrainOption]:
    inst = cand.instance
    power = instance_power_w(catalog, inst)
    watts = power.power_w(cand.busy)
    fam = catalog.family(cand.hw.family)
    band = speed_band(fam, "throughput")
    status = catalog.family_status(fam)
    base_time = steps * cand.step_time_s
    out = []
    for price in _prices(inst, c):
        region = catalog.region(price.region)
        factor = 1.0
        interruptions = 0.0
        if price.pricing is Pricing.SPOT:
            factor = spot.overhead_factor(cand.instances, model.params_total * CHECKPOINT_BYTES_PER_PARAM)
            if not math.isfinite(factor):
                continue
        time_s = base_time * factor
        if price.pricing is Pricing.SPOT:
            interruptions = spot.expected_interruptions(cand.instances, time_s)
        energy_kwh = watts * cand.instances * time_s * region.pue_ratio / J_PER_KWH
        grid = region.grid_gco2_per_kwh
        out.append(
            TrainOption(
                instance=inst.name,
                cloud=inst.cloud.value,
                chip=inst.chip,
                instances=cand.instances,
                parallelism=cand.parallelism,
                precision=cand.precision,
                region=region.name,
                pricing=price.pricing,
                step_time_s=cand.step_time_s,
                time_s=time_s,
                cost_usd=price.usd_per_h * cand.instances * time_s / 3600.0,
                energy_kwh=energy_kwh,
                co2_kg=None if grid is None else energy_kwh * grid / 1000.0,
                mfu=cand.mfu,
                breakdown=cand.breakdown,
                memory_bytes=cand.memory_bytes,
                price_usd_per_h=price.usd_per_h,
                spot_overhead=factor - 1.0,
                validated=fam.validated,
                band=band,
                family=cand.hw.family,
                power_w=watts,
                pue_ratio=region.pue_ratio,
                grid_gco2_per_kwh=grid,
                spot_interruptions=interruptions,
                price_term=price.term if price.pricing is Pricing.RESERVED else "",
                family_status=status,
            )
        )
    return out


def pareto_front(options: Sequence[TrainOption], keys: Sequence[str]) -> list[TrainOption]:
    """Options no other option beats on every key (lower is better), sorted by the first key."""
    if not options:
        return []
    pts = np.array([[getattr(o, k) if getattr(o, k) is not None else math.inf for k in keys] for o in options])
    order = np.lexsort(pts.T[::-1])
    front: list[int] = []
    for i in order:
        # Sorted by the keys, a point is on the front unless one already kept is at least as good everywhere
        # (an identical point, e.g. the same price in another region, is kept once).
        if not any(np.all(pts[j] <= pts[i]) for j in front):
            front.append(int(i))
    return [options[i] for i in front]


def train(
    model: ModelArch,
    tokens: float,
    *,
    catalog: Catalog | None = None,
    seq_len: int = 4096,
    global_batch: int | None = None,
    constraints: TrainConstraints | None = None,
    objective: Objective = Objective.COST,
    top: int = 10,
    spot: SpotModel | None = None,
) -> TrainPlan:
    """Plan the training of ``model`` on ``tokens`` tokens (see the module docstring).

    ``global_batch`` defaults to about 4M tokens per step. Raises :class:`InfeasiblePlanError` naming the
    binding constraint when nothing meets them.
    """
    cat = catalog or default_catalog()
    c = constraints or TrainConstraints()
    spot = spot or SpotModel()
    check_training_tokens(tokens)  # the same bound as estimate_training and the CLI's --tokens
    if model.kind != "decoder":
        raise ConfigError(f"{model.name} is an encoder; the training planner covers decoder LMs")
    batch = global_batch or max(1, round(4 * 2**20 / seq_len))
    steps = math.ceil(tokens / (batch * seq_len))
    allowed, rejected = _allowed_instances(cat, c)
    if not allowed:
        offer = ""
        if c.pricing is not PricingChoice.ANY:
            have = [i.name for i in cat.instances_with_pricing(Pricing(c.pricing.value))]
            listing = ", ".join(have[:12]) + (f" and {len(have) - 12} more" if len(have) > 12 else "")
            offer = f"; instances with {c.pricing.value} prices: {listing or 'none'}"
        raise InfeasiblePlanError(
            "no instance type is allowed: check the constraints' instances, clouds, regions and pricing "
            f"(rejected: {dict(rejected) or 'none matched'}){offer}",
            binding="filters",
            rejected=dict(rejected),
        )
    candidates: list[_Candidate] = []
    evaluated = 0
    for inst in allowed:
        cands, rej, n = _candidates(model, cat, inst, c, seq_len, batch)
        candidates += cands
        rejected.update(rej)
        evaluated += n
    priced = [o for cand in candidates for o in _priced(model, cat, cand, c, steps, spot)]
    feasible = []
    for o in priced:
        if c.deadline_s is not None and o.time_s > c.deadline_s:
            rejected["misses the deadline"] += 1
        elif c.budget_usd is not None and o.cost_usd > c.budget_usd:
            rejected["over budget"] += 1
        elif objective is Objective.CO2 and o.co2_kg is None:
            rejected["no grid carbon intensity for the region"] += 1
        else:
            feasible.append(o)
    if not feasible:
        raise _infeasible(model, tokens, c, priced, candidates, dict(rejected), steps)
    ranked = sorted(feasible, key=lambda o: (o.objective_value(objective), o.time_s, o.instance))
    options = _one_per_instance_type(ranked, top)
    pareto = pareto_front(feasible, ("time_s", "cost_usd"))
    pareto3 = pareto_front(feasible, ("time_s", "cost_usd", "energy_kwh"))
    return TrainPlan(
        model=model.name,
        tokens=tokens,
        seq_len=seq_len,
        global_batch=batch,
        objective=objective,
        constraints=c,
        options=tuple(options),
        pareto=tuple(pareto),
        pareto_energy=tuple(pareto3),
        rejected=dict(rejected),
        evaluated=evaluated,
        explanation=explain(options, objective),
        assumptions=PLAN_ASSUMPTIONS + ((spot.describe(),) if Pricing.SPOT in c.pricing.pricings else ()),
        caveats=spot_caveats([*options, *pareto], spot) + pricing_caveats([*options, *pareto]),
    )


def _one_per_instance_type(ranked: list[TrainOption], top: int) -> list[TrainOption]:
    """The best option of each instance type first (so the table compares chips), then the rest."""
    seen: set[str] = set()
    firsts: list[TrainOption] = []
    rest: list[TrainOption] = []
    for o in ranked:
        (rest if o.instance in seen else firsts).append(o)
        seen.add(o.instance)
    return (firsts + rest)[:top] if top > 0 else firsts + rest


@dataclass(frozen=True)
class RatioFactor:
    """One factor of how much worse one option is than another on an objective (``ratio`` > 1: worse)."""

    name: str  # chip_time, cluster_size, spot, price, power, pue, grid
    ratio: float
    detail: str  # the two values compared, in words

    @property
    def weight(self) -> float:
        return abs(math.log(self.ratio)) if self.ratio > 0 and math.isfinite(self.ratio) else math.inf


_FACTOR_LABEL = {
    "chip_time": "chip-time per step",
    "cluster_size": "cluster size",
    "spot": "spot interruptions",
    "price": "price per chip-hour",
    "power": "power per chip",
    "pue": "PUE",
    "grid": "grid carbon intensity",
}


def _chip_power_w(o: TrainOption) -> float:
    return o.power_w * o.instances / o.chips


def ratio_factors(other: TrainOption, best: TrainOption, objective: Objective) -> list[RatioFactor]:
    """Factors whose product is ``other ÷ best`` on ``objective`` (both from the same plan, so the same steps).

    With time = steps × step time × spot factor, every objective splits into per-chip and per-region terms:

    - time = (chip-seconds per step ÷ chips) × spot factor
    - cost = chip-seconds per step × spot factor × $ per chip-hour
    - energy = chip-seconds per step × spot factor × W per chip × PUE
    - co2 = energy × grid gCO2e/kWh

    so ``other/best`` is the product of the ratios of those terms (chip-time per step measures per-chip speed:
    the higher it is, the less each chip delivers).
    """
    chip_time = (other.step_time_s * other.chips) / (best.step_time_s * best.chips)
    factors = [
        RatioFactor(
            "chip_time",
            chip_time,
            f"each {other.chip} delivers {1 / chip_time:.2f}× the throughput of a {best.chip} at this job",
        ),
    ]
    if objective is Objective.TIME:
        factors.append(RatioFactor("cluster_size", best.chips / other.chips, f"{other.chips} vs {best.chips} chips"))
    spot = (1.0 + other.spot_overhead) / (1.0 + best.spot_overhead)
    factors.append(
        RatioFactor("spot", spot, f"+{other.spot_overhead:.1%} vs +{best.spot_overhead:.1%} time lost to interruptions")
    )
    if objective is Objective.COST:
        factors.append(
            RatioFactor(
                "price",
                other.price_usd_per_chip_h / best.price_usd_per_chip_h,
                f"${other.price_usd_per_chip_h:.2f} {other.pricing.value} in {other.region} vs "
                f"${best.price_usd_per_chip_h:.2f} {best.pricing.value} in {best.region}",
            )
        )
    if objective in (Objective.ENERGY, Objective.CO2):
        factors.append(
            RatioFactor(
                "power", _chip_power_w(other) / _chip_power_w(best),
                f"{_chip_power_w(other):.0f} W vs {_chip_power_w(best):.0f} W per chip with its host share",
            )
        )  # fmt: skip
        factors.append(
            RatioFactor(
                "pue",
                other.pue_ratio / best.pue_ratio,
                f"{other.region} {other.pue_ratio:.3g} vs {best.region} {best.pue_ratio:.3g}",
            )
        )
    if objective is Objective.CO2 and other.grid_gco2_per_kwh is not None and best.grid_gco2_per_kwh:
        factors.append(
            RatioFactor(
                "grid",
                other.grid_gco2_per_kwh / best.grid_gco2_per_kwh,
                f"{other.region} {other.grid_gco2_per_kwh:.0f} vs {best.region} {best.grid_gco2_per_kwh:.0f} gCO2e/kWh",
            )
        )
    return factors


def _dominant_reason(f: RatioFactor, other: TrainOption, best: TrainOption) -> str:
    if f.name == "grid":
        return f"the grid of {other.region} vs {best.region} (a region effect, not the chip)"
    if f.name == "pue":
        return f"the data-centre PUE of {other.region} vs {best.region} (a region effect, not the chip)"
    if f.name == "price":
        if other.pricing is not best.pricing:
            return f"the price per chip-hour ({other.pricing.value} vs {best.pricing.value} pricing)"
        return "the price per chip-hour"
    if f.name == "chip_time":
        return f"per-chip speed ({other.chip} vs {best.chip})"
    if f.name == "spot":
        return "time lost to spot interruptions"
    return _FACTOR_LABEL[f.name]


def _unvalidated_note(options: Sequence[TrainOption]) -> str:
    """A sentence naming each chip of ``options`` whose efficiency family is not validated (†) and what its
    efficiencies rest on instead (:meth:`Catalog.family_status`: no measurements of its own, or fitted on too
    few rows to cross-validate); empty when every family is validated."""
    chips = sorted({(o.chip, o.family, o.family_status) for o in options if not o.validated}, key=lambda t: t[:2])
    if not chips:
        return ""
    names = " and ".join(
        f"{chip} † (family {family}: {status or 'not validated on its own measurements'})"
        for chip, family, status in chips
    )
    its = "its" if len(chips) == 1 else "their"
    return (
        f" This verdict relies on {names}; {its} efficiency is not validated on {its} own measurements, so the "
        "comparison is unconfirmed."
    )


def explain(options: Sequence[TrainOption], objective: Objective) -> str:
    """Why the top option wins, and why the best option on another chip loses, factor by factor.

    The ratio to the runner-up is split into factors that multiply to it exactly (:func:`ratio_factors`); the
    sentence lists those that differ from 1 by at least 1 %, largest first, and names the dominant one (a region
    effect is called one). A verdict that rests on a family without its own measurements says so (†).
    """
    if not options:
        return ""
    best = options[0]
    total = sum(best.breakdown.values())
    share = best.breakdown[f"{best.bound}_s"] / total
    text = (
        f"{best.instances} × {best.instance} ({best.precision.value}, {best.parallelism.describe()}) wins on "
        f"{objective.value}: its step is {share:.0%} {best.bound}, at {best.mfu:.0%} MFU and "
        f"${best.price_usd_per_chip_h:.2f} per chip-hour ({best.pricing_label}, {best.region})."
    )
    other = next((o for o in options[1:] if o.chip != best.chip), None)
    if other is None:
        return text + _unvalidated_note([best])
    best_value = best.objective_value(objective)
    other_value = other.objective_value(objective)
    if not (math.isfinite(best_value) and math.isfinite(other_value) and best_value > 0):
        return text + _unvalidated_note([best, other])
    ratio = other_value / best_value
    factors = sorted(ratio_factors(other, best, objective), key=lambda f: -f.weight)
    shown = [f for f in factors if abs(f.ratio - 1.0) >= 0.01]
    head = (
        f" The best other chip, {other.instances} × {other.instance} ({other.pricing_label}, {other.region}), is "
        f"{ratio:.2f}× worse on {objective.value}"
    )
    if not shown:
        return text + head + ": every factor is within 1 %." + _unvalidated_note([best, other])
    parts = " × ".join(f"{f.ratio:.2f}× {_FACTOR_LABEL[f.name]} ({f.detail})" for f in shown)
    dominant = shown[0]
    tail = f"; mostly {_dominant_reason(dominant, other, best)}"
    if dominant.name == "chip_time" and other.bound != best.bound:
        other_share = other.breakdown[f"{other.bound}_s"] / sum(other.breakdown.values())
        tail += f": its step is {other_share:.0%} {other.bound}"
    return text + head + f" = {parts}{tail}." + _unvalidated_note([best, other])


def spot_caveats(options: Sequence[TrainOption], spot: SpotModel) -> tuple[str, ...]:
    """What the spot figures of the listed options leave out, for the largest job among them on spot.

    The expected interruptions and their lost time are in the option's time and cost (:class:`SpotModel`);
    whether ``N`` spot instances can be had at once, and kept, is not modelled: above
    :data:`LARGE_SPOT_CHIPS` chips the caveat says so.
    """
    on_spot = [o for o in options if o.pricing is Pricing.SPOT]
    if not on_spot:
        return ()
    big = max(on_spot, key=lambda o: (o.chips, o.spot_interruptions))
    shown = [on_spot[0]] if on_spot[0] is options[0] else []  # the chosen option, when it is on spot
    shown += [big] if big not in shown else []
    out = [spot_stops_sentence(spot, o.instance, o.instances, o.spot_interruptions, o.spot_overhead) for o in shown]
    capacity = spot_capacity_caveat(big.instance, big.instances, big.chips)
    return (*out, *([capacity] if capacity else []))


def pricing_caveats(options: Sequence[TrainOption]) -> tuple[str, ...]:
    """What a reserved option's cost means: the commitment's hourly rate times the run's hours.

    A reservation or savings plan is bought for its whole term (a year, three years, a month's subscription);
    the option's cost counts only the hours of this run, so it holds only if the capacity is used for the rest
    of the term (other jobs, other teams). One sentence naming the terms of the listed reserved options.
    """
    reserved = [o for o in options if o.pricing is Pricing.RESERVED]
    if not reserved:
        return ()
    terms = sorted({f"{o.instance}: {o.price_term}" for o in reserved})
    return (
        "reserved prices are the hourly rate of a commitment bought for its whole term ("
        + "; ".join(terms)
        + "); the cost shown is that rate × this run's hours, true only if the capacity is used for the rest "
        "of the term. A run alone on it pays for the whole term.",
    )


def _infeasible(
    model: ModelArch,
    tokens: float,
    c: TrainConstraints,
    priced: list[TrainOption],
    candidates: list[_Candidate],
    rejected: dict[str, int],
    steps: int,
) -> InfeasiblePlanError:
    if not candidates:
        state = model.params_total * CHECKPOINT_BYTES_PER_PARAM / 1e9
        return InfeasiblePlanError(
            f"{model.name} fits on no allowed instance type within max_chips {c.max_chips}: its weights, "
            f"gradients and Adam states alone are {state:,.0f} GB. Raise max_chips or allow chips with more memory.",
            binding="memory",
            rejected=rejected,
            field="max_chips",
        )
    lines = []
    binding = "deadline"
    if c.deadline_s is not None:
        fastest = min(priced, key=lambda o: o.time_s) if priced else None
        if fastest is not None and fastest.time_s > c.deadline_s:
            # Per-chip throughput of the fastest option, scaled linearly: a lower bound on what is needed.
            need = math.ceil(fastest.chips * fastest.time_s / c.deadline_s)
            lines.append(
                f"the deadline of {c.deadline_s / 86400:.1f} days needs ≥ {need} {fastest.chip} chips at the "
                f"per-chip speed of the fastest plan found ({fastest.instances} × {fastest.instance}, "
                f"{fastest.time_s / 86400:.1f} days); max_chips is {c.max_chips}"
            )
            binding = "deadline" if need <= c.max_chips * 8 else "max_chips"
            if c.budget_usd is not None:
                per_chip_h = fastest.price_usd_per_chip_h
                allows = int(c.budget_usd / (per_chip_h * c.deadline_s / 3600.0))
                lines.append(f"the budget of ${c.budget_usd:,.0f} allows {allows} of them for that long")
    if c.budget_usd is not None and not lines:
        on_time = [o for o in priced if c.deadline_s is None or o.time_s <= c.deadline_s]
        cheapest = min(on_time or priced, key=lambda o: o.cost_usd)
        binding = "budget"
        lines.append(
            f"the cheapest plan{' that meets the deadline' if c.deadline_s else ''} costs "
            f"${cheapest.cost_usd:,.0f} ({cheapest.instances} × {cheapest.instance}, {cheapest.pricing.value}, "
            f"{cheapest.region}), above the budget of ${c.budget_usd:,.0f}"
        )
    if not lines:
        lines.append("no option meets the constraints")
    return InfeasiblePlanError(
        f"no plan meets the constraints: {'; '.join(lines)}.",
        binding=binding,
        rejected=rejected,
        field=_BINDING_FIELD.get(binding),
    )


_BINDING_FIELD = {"deadline": "deadline_s", "max_chips": "max_chips", "budget": "budget_usd"}
"""The TrainConstraints field each binding constraint of :func:`_infeasible` is set by."""


PLAN_ASSUMPTIONS: tuple[str, ...] = (
    "time = steps × modelled step time (chipfleet.perf.training); global batch fixed, about 4M tokens by default",
    "per instance type, count and precision the fastest split that fits is kept; splits: TP within an "
    "instance, PP dividing the layers, interleaving 1/2/4, micro-batch 1-8, ZeRO 1 or 3, three recompute modes",
    "spot: expected time includes checkpoints, lost work and restarts (Young/Daly; "
    "chipfleet.economics.spot.SpotModel); a job of N instances is interrupted N times as often as one instance",
    "energy = instance power (chips idle→TDP by busy share, plus host) × time × region PUE; CO2 = energy × "
    "annual grid intensity",
)
