"""Streaming metrics: log histogram percentiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chipfleet.sim.metrics import LogHistogram, WindowMeans
from chipfleet.workloads import get_model

MODEL = get_model("llama-3-8b")


def test_log_histogram_percentiles() -> None:
    rng = np.random.default_rng(0)
    values = rng.lognormal(-3, 1, 50_000)
    h = LogHistogram()
    h.add_many(values)
    for q in (50, 90, 99):
        assert h.percentile(q) == pytest.approx(float(np.percentile(values, q)), rel=0.015)
    assert h.mean == pytest.approx(float(values.mean()))
    assert h.fraction_below(float(np.median(values))) == pytest.approx(0.5, abs=0.01)
    assert math.isnan(LogHistogram().percentile(50))


def test_window_means_average_each_window_and_merge() -> None:
    a = WindowMeans(10.0)
    for t, v in ((1.0, 2.0), (9.9, 4.0), (25.0, 1.0)):
        a.add(t, v)
    assert a.means() == [3.0, None, 1.0]  # the window [10, 20) saw nothing
    b = WindowMeans(10.0)
    b.add(31.0, 5.0)
    b.add(5.0, 6.0)
    a.merge(b)
    assert a.means() == [4.0, None, 1.0, 5.0] and a.counts == [3, 0, 1, 1]
