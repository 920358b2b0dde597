"""Pure cost, power, energy and carbon functions, with every assumption stated."""

from __future__ import annotations

from dataclasses import dataclass

from chipfleet.catalog import Catalog, Instance, Price, Pricing, Region

J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class LoadPowerCurve:
    """A chip's power while it serves, as a fraction of TDP: ``f(u) = min(1, floor + slope·u)``.

    ``u`` is the share of time the chip computes or streams memory. A chip that holds a loaded model and
    iterates keeps its clocks and HBM up between kernels, so it draws ``floor`` above its parked idle even while
    it waits on the host; the slope is what busy time adds. Fitted on measured GPU power under load
    (:func:`chipfleet.validate.splitwise.fit_power_curve`).
    """

    floor_fraction: float
    slope: float

    def fraction(self, busy_fraction: float) -> float:
        """``min(1, floor + slope·u)`` with ``u`` clipped to [0, 1]."""
        u = min(1.0, max(0.0, busy_fraction))
        return min(1.0, self.floor_fraction + self.slope * u)


# A100 SXM 80GB serving Llama-2-70B (fp16, TP 2-8, eager engine) on DGX-A100: fitted on the average GPU power
# SplitwiseSim's authors measured (Mutinifni/splitwise-sim@8f99e7dc data/perf_model.csv, MIT, read 2026-12-06)
# against chipfleet's busy fraction of each run, by chipfleet.validate.splitwise.fit_power_curve;
# benchmarks/splitwise_bench.py prints the fit and its error. A waiting chip draws 0.28 of TDP, a fully
# busy one 0.84 (memory-bound decode; compute-bound prefill peaks at TDP).
SPLITWISE_A100_LOAD_POWER = LoadPowerCurve(floor_fraction=0.2845, slope=0.5546)


@dataclass(frozen=True)
class PowerModel:
    """Power of one instance: accelerators from idle to TDP with their busy share, plus the host.

    ``P = n_chips · (P_idle + (TDP − P_idle) · u) + P_host``, ``P_idle = idle_fraction · TDP``, ``u`` the
    share of time the chips compute or stream memory; ``P_host`` from the cloud's per-vCPU and per-GB
    coefficients (Cloud Carbon Footprint) at their stated host load.

    With ``load`` (a :class:`LoadPowerCurve`; default ``None`` keeps the line above) the chips serve a loaded
    model throughout: ``P = n_chips · TDP · min(1, floor + slope·u) + P_host``.
    """

    chips: int
    chip_tdp_w: float
    chip_idle_w: float
    host_w: float
    host_note: str
    load: LoadPowerCurve | None = None

    def power_w(self, busy_fraction: float) -> float:
        u = min(1.0, max(0.0, busy_fraction))
        if self.load is not None:
            return self.chips * self.chip_tdp_w * self.load.fraction(u) + self.host_w
        return self.chips * (self.chip_idle_w + (self.chip_tdp_w - self.chip_idle_w) * u) + self.host_w

    def energy_j(self, span_s: float, busy_chip_s: float) -> float:
        """Energy over ``span_s`` with ``busy_chip_s`` chip-seconds busy (capped at every chip busy throughout).

        ``E = (n_chips · P_idle + P_host) · span + (TDP − P_idle) · min(busy, n_chips · span)``; with ``load``,
        ``E = (n_chips · floor · TDP + P_host) · span + slope · TDP · min(busy, n_chips · span)`` (its cap at
        TDP not applied: the line, not the clipped curve, integrates over a span).
        """
        busy = min(busy_chip_s, self.chips * span_s)
        if self.load is not None:
            floor_w = self.chips * self.load.floor_fraction * self.chip_tdp_w
            return (floor_w + self.host_w) * span_s + self.load.slope * self.chip_tdp_w * busy
        return (self.chips * self.chip_idle_w + self.host_w) * span_s + (self.chip_tdp_w - self.chip_idle_w) * busy


def instance_power_w(catalog: Catalog, instance: Instance, load: LoadPowerCurve | None = None) -> PowerModel:
    """The instance's :class:`PowerModel`: its chips' TDP and idle power (the family's idle fraction), the host
    from the cloud's coefficients, and ``load`` passed on (``None``: the idle-to-TDP line)."""
    chip = catalog.chip(instance.chip)
    fam = catalog.family(chip.family)
    idle = chip.tdp_w * fam.idle_power_fraction.si
    cloud = catalog.clouds.get(instance.cloud.value)
    if cloud is not None and instance.vcpus is not None and instance.host_memory_bytes is not None:
        host = cloud.host_power_w(instance.vcpus, instance.host_memory_bytes)
        note = f"host {host:.0f} W from {instance.vcpus} vCPUs and {instance.host_memory_bytes / 2**30:.0f} GiB (CCF)"
    else:
        host = 0.0
        note = f"host power not counted: the catalog has no vCPU/memory figure for {instance.name}"
    if chip.kind == "cpu":
        # For CPU instances the chip TDP already is the host's processor power; count only DRAM on top.
        host = (
            0.0
            if cloud is None or instance.host_memory_bytes is None
            else (instance.host_memory_bytes / 1e9 * cloud.memory_w_per_gb.si)
        )
        note = f"CPU instance: socket TDP plus DRAM {host:.0f} W"
    return PowerModel(
        chips=instance.chips, chip_tdp_w=chip.tdp_w, chip_idle_w=idle, host_w=host, host_note=note, load=load
    )


def pick_price(catalog: Catalog, instance: Instance | str, region: str | None, pricing: Pricing) -> Price:
    """The price to use: in ``region`` if given, else the cheapest region with that pricing.

    Delegates to :meth:`Catalog.require_price`, so a miss is a :class:`ConfigError` that lists this instance's
    prices and the instances that do have a ``pricing`` price (reserved prices are few), and a misspelt region
    says "did you mean".
    """
    return catalog.require_price(instance, region, pricing)


@dataclass(frozen=True)
class Footprint:
    """Money, energy and carbon of running ``instances`` for ``time_s``; its JSON (:mod:`chipfleet.serialize`)
    carries the price and region records whole, each figure with its source."""

    time_s: float
    instances: int
    price: Price
    region: Region
    avg_power_w: float  # per instance, IT power
    cost_usd: float
    energy_kwh: float  # facility energy (IT × PUE)
    co2_kg: float | None
    assumptions: tuple[str, ...]


def footprint(
    catalog: Catalog,
    instance: Instance,
    instances: int,
    time_s: float,
    busy_fraction: float,
    price: Price,
) -> Footprint:
    """Cost = price × instances × hours. Energy = IT power × instances × time × PUE. CO2 = energy × grid.

    The grid intensity is the region's annual average (location-based, direct emissions); no renewable
    certificates, no embodied emissions.
    """
    region = catalog.region(price.region)
    power = instance_power_w(catalog, instance)
    avg_w = power.power_w(busy_fraction)
    hours = time_s / 3600.0
    cost = price.usd_per_h * instances * hours
    energy_kwh = avg_w * instances * time_s * region.pue_ratio / J_PER_KWH
    grid = region.grid_gco2_per_kwh
    co2 = None if grid is None else energy_kwh * grid / 1000.0
    assumptions = (
        f"price {price.usd_per_h:.4g} USD/h ({price.pricing.value}, {price.region}, as of {price.as_of})",
        f"power per instance {avg_w:.0f} W at busy fraction {busy_fraction:.2f}: "
        f"{power.chips} × ({power.chip_idle_w:.0f} W idle → {power.chip_tdp_w:.0f} W TDP); {power.host_note}",
        f"PUE {region.pue_ratio:.3g} ({region.name})",
        (
            f"grid {grid:.0f} gCO2e/kWh ({region.name}, annual average, location-based)"
            if grid is not None
            else f"no grid carbon intensity for {region.name}: CO2 not computed"
        ),
    )
    return Footprint(
        time_s=time_s,
        instances=instances,
        price=price,
        region=region,
        avg_power_w=avg_w,
        cost_usd=cost,
        energy_kwh=energy_kwh,
        co2_kg=co2,
        assumptions=assumptions,
    )
