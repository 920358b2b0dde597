"""Streaming metrics: log histogram percentiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chipfleet.sim.metrics import LogHistogram
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
