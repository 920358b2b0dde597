"""Expected time and cost on spot capacity: interruptions, checkpoints and restarts (Young 1974, Daly 2006)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from chipfleet.exceptions import ConfigError

HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class SpotModel:
    """How often spot capacity is taken back and what recovering costs.

    - ``interruptions_per_month``: the chance one instance is interrupted in a month. AWS's Spot Instance
      Advisor reports it in buckets (<5 %, 5-10 %, 10-15 %, 15-20 %, >20 % per month; bucket edges as quoted
      by sparecores.com, 2024-04-16); the default 0.20 is the edge of the worst bucket, our assumption for
      large accelerator instances, which see the most demand.
    - ``checkpoint_write_bytes_per_s``: per instance, to durable storage (our estimate: 1 GB/s).
    - ``restart_s``: to reacquire capacity, restart the job and load the checkpoint (our estimate: 10 min).
    """

    interruptions_per_month: float = 0.20
    checkpoint_write_bytes_per_s: float = 1e9
    restart_s: float = 600.0

    def __post_init__(self) -> None:
        if not 0 <= self.interruptions_per_month < HOURS_PER_MONTH:
            raise ConfigError("interruptions_per_month must be ≥ 0 (a fraction, e.g. 0.2 for 20 % per month)")
        if self.checkpoint_write_bytes_per_s <= 0 or self.restart_s < 0:
            raise ConfigError("checkpoint_write_bytes_per_s must be > 0 and restart_s ≥ 0")

    def overhead_factor(self, instances: int, checkpoint_bytes: float) -> float:
        """Expected wall time ÷ failure-free time, first-order Young/Daly.

        With ``λ = instances · rate`` interruptions per second for the whole job, checkpoint time
        ``C = checkpoint_bytes / (instances · write rate)`` and the optimal interval ``τ = √(2C/λ)``, each
        second of work costs ``C/τ`` in checkpoints and ``λ·(τ/2 + R)`` in lost work and restarts:
        factor = ``1 + C/τ + λ·(τ/2 + R)``. ``inf`` when that reaches the failure-free rate (no progress).
        """
        lam = self.interruptions_per_month / (HOURS_PER_MONTH * 3600.0) * instances
        if lam <= 0:
            return 1.0
        c = checkpoint_bytes / (instances * self.checkpoint_write_bytes_per_s)
        tau = math.sqrt(2.0 * c / lam)
        overhead = c / tau + lam * (tau / 2.0 + self.restart_s)
        return math.inf if overhead >= 1.0 else 1.0 + overhead
