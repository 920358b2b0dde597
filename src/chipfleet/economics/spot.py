"""Expected time and cost on spot capacity: interruptions, checkpoints and restarts (Young 1974, Daly 2006).

Lives in ``economics`` so that one model serves both ``chipfleet estimate train --pricing spot``
(:func:`chipfleet.economics.estimate_training`) and the planner (``chipfleet.plan`` re-exports :class:`SpotModel`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chipfleet.exceptions import ConfigError

HOURS_PER_MONTH = 730.0
S_PER_MONTH = HOURS_PER_MONTH * 3600.0
MAX_INTERRUPTIONS_PER_MONTH = HOURS_PER_MONTH
"""Exclusive ceiling of ``interruptions_per_month``: one reclaim per instance-hour (730 hours in a month).
It is far beyond any reported spot market (AWS's worst Spot Instance Advisor bucket is ">20 %" a month), and a
synchronous job of several instances at that rate spends nearly all its time restarting; the CLI options use
the same bound."""
CHECKPOINT_BYTES_PER_PARAM = 16.0
"""Checkpoint size per parameter: the 16 bytes of mixed-precision Adam state (bf16 weights and gradients, fp32
master weights and both moments; Rajbhandari et al. 2020, "ZeRO"). A slight over-estimate: a checkpoint need not
keep the gradients (14 bytes)."""


@dataclass(frozen=True)
class SpotModel:
    """How often spot capacity is taken back and what recovering costs.

    - ``interruptions_per_month``: the chance one instance is interrupted in a month. AWS's Spot Instance
      Advisor reports it in buckets (<5 %, 5-10 %, 10-15 %, 15-20 %, >20 % per month; bucket edges as quoted
      by sparecores.com, 2024-04-16); the default 0.20 is the edge of the worst bucket, our assumption for
      large accelerator instances, which see the most demand.
    - ``checkpoint_write_bytes_per_s``: per instance, to durable storage (our estimate: 1 GB/s).
    - ``restart_s``: to reacquire capacity, restart the job and load the checkpoint (our estimate: 10 min).

    A training job is synchronous: every step needs every instance, so the job stops when *any* of its
    instances is reclaimed. With ``N`` instances interrupted independently, the job's interruption rate is
    ``N ×`` the per-instance rate (:meth:`job_interruptions_per_s`). The model assumes the lost capacity is
    regained within ``restart_s``; it does not model waiting for ``N`` spot instances to be free at once.
    """

    interruptions_per_month: float = 0.20
    checkpoint_write_bytes_per_s: float = 1e9
    restart_s: float = 600.0

    def __post_init__(self) -> None:
        rate = self.interruptions_per_month
        if not (math.isfinite(rate) and 0 <= rate < MAX_INTERRUPTIONS_PER_MONTH):
            raise ConfigError(
                f"interruptions_per_month must be ≥ 0 and < {MAX_INTERRUPTIONS_PER_MONTH:g} (one per instance-hour; "
                f"a rate, e.g. 0.2 for a 20 % chance per month), got {self.interruptions_per_month!r}"
            )
        if not (math.isfinite(self.checkpoint_write_bytes_per_s) and self.checkpoint_write_bytes_per_s > 0):
            raise ConfigError(f"checkpoint_write_bytes_per_s must be > 0, got {self.checkpoint_write_bytes_per_s!r}")
        if not (math.isfinite(self.restart_s) and self.restart_s >= 0):
            raise ConfigError(f"restart_s must be ≥ 0 (e.g. 600 for 10 minutes), got {self.restart_s!r}")

    def job_interruptions_per_s(self, instances: int) -> float:
        """``λ = instances × interruptions_per_month / seconds per month``: a synchronous job stops when any
        one of its instances is reclaimed, so its rate grows with the number of instances."""
        return self.interruptions_per_month / S_PER_MONTH * instances

    def expected_interruptions(self, instances: int, time_s: float) -> float:
        """Expected number of times a synchronous job of ``instances`` is stopped over ``time_s`` of wall time."""
        return self.job_interruptions_per_s(instances) * time_s

    def overhead_factor(self, instances: int, checkpoint_bytes: float) -> float:
        """Expected wall time ÷ failure-free time, first-order Young/Daly.

        With ``λ = instances · rate`` interruptions per second for the whole job, checkpoint time
        ``C = checkpoint_bytes / (instances · write rate)`` and the optimal interval ``τ = √(2C/λ)``, each
        second of work costs ``C/τ`` in checkpoints and ``λ·(τ/2 + R)`` in lost work and restarts:
        factor = ``1 + C/τ + λ·(τ/2 + R)``. ``inf`` when that reaches the failure-free rate (no progress).
        """
        lam = self.job_interruptions_per_s(instances)
        if lam <= 0:
            return 1.0
        c = checkpoint_bytes / (instances * self.checkpoint_write_bytes_per_s)
        tau = math.sqrt(2.0 * c / lam)
        overhead = c / tau + lam * (tau / 2.0 + self.restart_s)
        return math.inf if overhead >= 1.0 else 1.0 + overhead

    def describe(self) -> str:
        """The model in one line, for a plan's assumptions."""
        return (
            f"spot interruptions: each instance reclaimed with probability {self.interruptions_per_month:.0%} per "
            f"month; a synchronous job of N instances stops when any one is (N × that rate); checkpoints at the "
            f"Young/Daly interval at {self.checkpoint_write_bytes_per_s / 1e9:g} GB/s per instance; "
            f"{self.restart_s / 60:g} min to restart (capacity assumed regained within it)"
        )


LARGE_SPOT_CHIPS = 256
"""Chips from which a spot job carries the capacity caveat (our threshold: 32 eight-GPU instances)."""


def spot_stops_sentence(spot: SpotModel, instance: str, instances: int, interruptions: float, overhead: float) -> str:
    """How often a synchronous spot job of ``instances`` stops and what that adds, in one sentence.

    ``interruptions`` is the expected number of stops over the run and ``overhead`` the share of time added
    (:meth:`SpotModel.overhead_factor` − 1); both are already in the job's time and cost.
    """
    per_day = spot.job_interruptions_per_s(instances) * 86400.0
    which = "its instance is" if instances == 1 else f"any of its {instances} instances is"
    return (
        f"{instances} × {instance} on spot is one synchronous job: it stops whenever {which} "
        f"reclaimed ({spot.interruptions_per_month:.0%} per instance-month × "
        f"{instances} = {per_day:.2f} stops a day, about {interruptions:,.0f} over the run); the "
        f"checkpoints, lost work and {spot.restart_s / 60:g}-minute restarts add {overhead:.1%} to its "
        "time and cost."
    )


def spot_capacity_caveat(instance: str, instances: int, chips: int) -> str | None:
    """What the spot model leaves out for a large job (from :data:`LARGE_SPOT_CHIPS` chips), else None: whether
    ``instances`` spot instances can be had at once, and kept."""
    if chips < LARGE_SPOT_CHIPS:
        return None
    return (
        f"Not modelled: whether {instances} spot {instance} instances ({chips} chips) can be had at "
        "once and kept; large accelerator spot pools often cannot, and a job that waits for capacity takes "
        "longer than shown. Compare with on-demand pricing before relying on a spot job of this size."
    )
