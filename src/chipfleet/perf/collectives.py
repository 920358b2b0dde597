"""Latency–bandwidth (α–β) cost of ring collectives, as nccl-tests PERFORMANCE.md defines them.

For ``n`` ranks, message ``S`` bytes per rank, per-rank one-direction bandwidth ``B`` (already scaled by
the family's collective efficiency) and per-hop latency ``α``:

- all-reduce:      2·(n−1)/n · S/B + 2·(n−1)·α
- reduce-scatter:  (n−1)/n · S/B + (n−1)·α      (S is the full, unscattered buffer)
- all-gather:      (n−1)/n · S/B + (n−1)·α      (S is the full, gathered buffer)
- all-to-all:      (n−1)/n · S/B + (n−1)·α      (S is what one rank sends in total)
- point-to-point:  S/B + α

Hierarchical collectives that span instances are bounded by the per-chip share of the instance's
scale-out bandwidth (EFA, InfiniBand, ICI), which the caller passes as ``B``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Collective(StrEnum):
    ALL_REDUCE = "all-reduce"
    REDUCE_SCATTER = "reduce-scatter"
    ALL_GATHER = "all-gather"
    ALL_TO_ALL = "all-to-all"
    P2P = "p2p"


@dataclass(frozen=True)
class Link:
    """An effective link: per-rank one-direction bandwidth (efficiency applied) and per-hop latency."""

    bytes_per_s: float
    latency_s: float


def collective_time_s(kind: Collective, ranks: int, message_bytes: float, link: Link) -> float:
    """Time of one collective of ``message_bytes`` over ``ranks`` ranks on ``link`` (formulas above)."""
    if ranks <= 1 or message_bytes <= 0:
        return 0.0
    n = ranks
    s_over_b = message_bytes / link.bytes_per_s
    if kind is Collective.ALL_REDUCE:
        return 2 * (n - 1) / n * s_over_b + 2 * (n - 1) * link.latency_s
    if kind is Collective.P2P:
        return s_over_b + link.latency_s
    return (n - 1) / n * s_over_b + (n - 1) * link.latency_s
