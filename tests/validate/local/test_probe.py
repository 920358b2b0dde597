"""Kernel-probe records and the M½ fit (pure numpy: no torch needed)."""

from __future__ import annotations

import pytest

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError
from chipfleet.validate.local.probe import AttentionPoint, BandwidthPoint, GemmPoint, fit_half_rows


def test_fit_half_rows_recovers_a_known_curve() -> None:
    curve = [(m, m / (m + 48.0)) for m in (1, 4, 16, 64, 256, 1024, 4096)]
    half, rms = fit_half_rows(curve)
    assert half == pytest.approx(48.0, rel=1e-3)
    assert rms < 1e-6
    assert fit_half_rows([(m, 1.0) for m in (1, 64, 1024)])[0] == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(ConfigError):
        fit_half_rows([])


def test_points_count_what_their_docstrings_say() -> None:
    g = GemmPoint(Precision.BF16, m=4, k=8, n=16, kind="skinny", time_s=2.0)
    assert g.flops == 2 * 4 * 8 * 16 and g.flops_per_s == g.flops / 2.0 and g.shape == "4x8x16"
    assert BandwidthPoint("copy", tensor_bytes=100, time_s=1.0).bytes_per_s == 200.0  # read + write
    assert BandwidthPoint("add", tensor_bytes=100, time_s=1.0).bytes_per_s == 300.0  # two reads + a write
    causal = AttentionPoint(Precision.BF16, batch=2, heads=4, seq=8, head_dim=16, causal=True, time_s=1.0)
    full = AttentionPoint(Precision.BF16, batch=2, heads=4, seq=8, head_dim=16, causal=False, time_s=1.0)
    assert full.flops == 4 * 2 * 4 * 8 * 8 * 16 and causal.flops == full.flops / 2
