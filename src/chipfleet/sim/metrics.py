"""Streaming metrics: latency histograms and windowed time series, flat in memory however many requests."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass
class LogHistogram:
    """Counts in log-spaced bins from ``low`` to ``high`` (values outside go to the end bins).

    With 200 bins per decade a percentile is exact to ±0.6 % of its value; memory is fixed.
    """

    low: float = 1e-6
    high: float = 1e6
    bins_per_decade: int = 200
    counts: NDArray[np.int64] = field(init=False)
    total: int = 0
    sum: float = 0.0
    max: float = 0.0

    def __post_init__(self) -> None:
        self._log_low = math.log10(self.low)
        n = round((math.log10(self.high) - self._log_low) * self.bins_per_decade) + 1
        self.counts = np.zeros(n, dtype=np.int64)

    def add(self, value: float, count: int = 1) -> None:
        i = int((math.log10(max(value, self.low)) - self._log_low) * self.bins_per_decade)
        self.counts[min(max(i, 0), len(self.counts) - 1)] += count
        self.total += count
        self.sum += value * count
        if value > self.max:
            self.max = value

    def add_many(self, values: NDArray[np.float64]) -> None:
        if not len(values):
            return
        idx = ((np.log10(np.maximum(values, self.low)) - self._log_low) * self.bins_per_decade).astype(np.int64)
        np.add.at(self.counts, np.clip(idx, 0, len(self.counts) - 1), 1)
        self.total += len(values)
        self.sum += float(values.sum())
        self.max = max(self.max, float(values.max()))

    def merge(self, other: LogHistogram) -> None:
        self.counts += other.counts
        self.total += other.total
        self.sum += other.sum
        self.max = max(self.max, other.max)

    def _edge(self, i: int) -> float:
        return 10 ** (self._log_low + (i + 0.5) / self.bins_per_decade)

    def percentile(self, q: float) -> float:
        """The value below which ``q`` % of the samples lie (bin centre); NaN when empty."""
        if self.total == 0:
            return math.nan
        target = q / 100.0 * self.total
        i = int(np.searchsorted(np.cumsum(self.counts), max(target, 1e-9)))
        return self._edge(min(i, len(self.counts) - 1))

    def fraction_below(self, threshold: float) -> float:
        if self.total == 0:
            return math.nan
        i = int((math.log10(max(threshold, self.low)) - self._log_low) * self.bins_per_decade)
        return float(self.counts[: max(i, 0)].sum()) / self.total

    @property
    def mean(self) -> float:
        return self.sum / self.total if self.total else math.nan

    def cdf(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(values, cumulative fraction) over non-empty bins, for plotting."""
        nz = np.nonzero(self.counts)[0]
        if not len(nz):
            return np.zeros(0), np.zeros(0)
        cum = np.cumsum(self.counts)[nz] / self.total
        values = 10 ** (self._log_low + (nz + 0.5) / self.bins_per_decade)
        return values, cum

    def summary(self) -> dict[str, float]:
        return {
            "count": float(self.total),
            "mean": self.mean,
            "p50": self.percentile(50),
            "p90": self.percentile(90),
            "p99": self.percentile(99),
            "max": self.max if self.total else math.nan,
        }


@dataclass
class WindowSeries:
    """A value accumulated into fixed time windows (e.g. busy seconds per minute), grown on demand."""

    window_s: float
    values: list[float] = field(default_factory=list)

    def add(self, start: float, end: float, rate: float = 1.0) -> None:
        """Add ``rate × overlap`` to every window that [start, end) overlaps."""
        if end <= start:
            return
        w = self.window_s
        i0, i1 = int(start // w), int(end // w)
        if len(self.values) <= i1:
            self.values.extend([0.0] * (i1 + 1 - len(self.values)))
        if i0 == i1:
            self.values[i0] += rate * (end - start)
            return
        self.values[i0] += rate * ((i0 + 1) * w - start)
        for i in range(i0 + 1, i1):
            self.values[i] += rate * w
        self.values[i1] += rate * (end - i1 * w)

    def set(self, time: float, value: float) -> None:
        """Record a level (e.g. queue length) at ``time``: the window keeps its maximum."""
        i = int(time // self.window_s)
        if len(self.values) <= i:
            self.values.extend([0.0] * (i + 1 - len(self.values)))
        if value > self.values[i]:
            self.values[i] = value


@dataclass
class WindowMeans:
    """The mean of values observed at instants, per fixed time window (e.g. the TTFT of the requests whose first
    token came in each minute): latency over time in memory that grows with the windows, not the requests."""

    window_s: float
    sums: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    def add(self, time: float, value: float) -> None:
        i = int(time // self.window_s)
        if len(self.sums) <= i:
            grow = i + 1 - len(self.sums)
            self.sums.extend([0.0] * grow)
            self.counts.extend([0] * grow)
        self.sums[i] += value
        self.counts[i] += 1

    def merge(self, other: WindowMeans) -> None:
        n = max(len(self.sums), len(other.sums))
        self.sums.extend([0.0] * (n - len(self.sums)))
        self.counts.extend([0] * (n - len(self.counts)))
        for i, (v, c) in enumerate(zip(other.sums, other.counts, strict=True)):
            self.sums[i] += v
            self.counts[i] += c

    def means(self) -> list[float | None]:
        """Per window, the mean of its values; None for a window with none."""
        return [v / c if c else None for v, c in zip(self.sums, self.counts, strict=True)]
