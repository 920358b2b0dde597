"""`measure_local` with the real PyTorch on this machine's CPU (no mocks): structure, signs, consistency.

Nothing here depends on the machine's speed or load: never wall time, overheads or how close a prediction lands.
Those are measurements, and live in benchmarks/local_validation.py.
"""

from __future__ import annotations

import math

import pytest

from chipfleet.catalog import Precision
from chipfleet.validate.local import LocalMeasurement, LocalShapes, default_local_model, time_decoder

pytestmark = [pytest.mark.torch, pytest.mark.slow]


def test_quick_measurement_is_positive_and_consistent(measurement: LocalMeasurement) -> None:
    assert measurement.device == "cpu"
    assert measurement.threads >= 1
    assert Precision.FP32 in measurement.precisions and Precision.BF16 in measurement.precisions
    for g in measurement.gemm:
        assert g.time_s > 0 and math.isfinite(g.flops_per_s) and g.flops_per_s > 0
    for p, peak in measurement.peak_flops_per_s.items():
        assert peak == max(g.flops_per_s for g in measurement.gemm if g.precision is p)
    assert measurement.best_precision in measurement.peak_flops_per_s
    assert all(b.bytes_per_s > 0 for b in measurement.bandwidth)
    assert measurement.memory_bytes_per_s > 0
    assert all(a.flops_per_s > 0 for a in measurement.attention)
    assert math.isfinite(measurement.layer_overhead_s) and measurement.layer_overhead_s > 0
    assert math.isfinite(measurement.step_overhead_s) and measurement.step_overhead_s >= 0
    curve = measurement.gemm_fraction_curve()
    assert len(curve) >= 4 and all(0 < eta <= 1 for _, eta in curve)
    assert math.isfinite(measurement.compute_half_rows) and measurement.compute_half_rows >= 0
    assert measurement.host_memory_bytes > 2**30
    assert math.isfinite(measurement.wall_s) and measurement.wall_s > 0


def test_time_decoder_gives_one_sample_per_repeat() -> None:
    pytest.importorskip("torch")
    tiny = LocalShapes(train_batch=1, seq_len=16, serve_batch=1, input_tokens=16, output_tokens=2, repeats=2, warmup=1)
    arch = default_local_model().model_copy(update={"n_layers": 1, "hidden_size": 64, "head_dim": 8, "vocab_size": 97})
    t = time_decoder(arch, tiny, "cpu", Precision.FP32)
    assert t.device == "cpu" and t.params == arch.params_total
    for samples in (t.train_step_s, t.prefill_s, t.decode_step_s):
        assert len(samples) == tiny.repeats and all(s > 0 and math.isfinite(s) for s in samples)
