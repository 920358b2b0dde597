"""The iteration roofline over arrays is the scalar one, element by element."""

from __future__ import annotations

import numpy as np
import pytest

from chipfleet.catalog import Catalog, Precision
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.iteration import IterationModel
from chipfleet.workloads import get_model


@pytest.mark.parametrize(
    ("model_name", "instance", "tp", "precision"),
    [
        ("llama-3-8b", "g6e.xlarge", 1, Precision.BF16),
        ("llama-3-70b", "p5.48xlarge", 4, Precision.FP8),
        ("mixtral-8x7b", "p4de.24xlarge", 8, Precision.BF16),
    ],
)
def test_times_matches_time(cat: Catalog, model_name: str, instance: str, tp: int, precision: Precision) -> None:
    it = IterationModel(get_model(model_name), hardware_for(cat, instance), tp, precision)
    rng = np.random.default_rng(1)
    decode = rng.integers(0, 200, 50).astype(float)
    prefill = rng.integers(0, 6000, 50).astype(float)
    prefill[:5] = 0.0  # decode-only iterations
    ctx = decode * rng.integers(10, 4000, 50)
    keys = prefill * rng.integers(1, 3000, 50)
    finishing = rng.integers(0, 4, 50).astype(float)
    t, busy = it.times(decode, ctx, prefill, keys, finishing)
    for i in range(50):
        ts, bs = it.time(int(decode[i]), ctx[i], int(prefill[i]), keys[i], 0.0, int(finishing[i]))
        assert t[i] == pytest.approx(ts, rel=1e-12) and busy[i] == pytest.approx(bs, rel=1e-12)


def test_tensor_parallel_without_link_bandwidth_is_a_clear_error(cat: Catalog) -> None:
    hw = hardware_for(cat, "tpu-v4-8")
    assert hw.intra_link_bytes_per_s == 0  # the catalog has no ICI figure for this type
    with pytest.raises(ConfigError, match="no chip-to-chip bandwidth"):
        IterationModel(get_model("llama-3-8b"), hw, 2, Precision.BF16)
    IterationModel(get_model("llama-3-8b"), hw, 1, Precision.BF16)  # one chip needs no link
