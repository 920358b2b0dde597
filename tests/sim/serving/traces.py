"""Small request traces the serving-simulator tests build: given arrivals and sizes, or Poisson."""

from __future__ import annotations

import numpy as np

from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import get_model

MODEL = get_model("llama-3-8b")


def trace(arrival: np.ndarray, inp: np.ndarray, out: np.ndarray, hashes: tuple[tuple[int, ...], ...] | None = None,
          block: int | None = None) -> RequestTrace:  # fmt: skip
    return RequestTrace(
        name="test",
        arrival_s=arrival - arrival[0],
        input_tokens=inp.astype(np.int64),
        output_tokens=out.astype(np.int64),
        hash_ids=hashes,
        block_tokens=block,
        source="generated in the test",
        license="n/a",
        skipped_rows=0,
    )


def poisson(n: int, rate: float, inp: int, out: int, seed: int = 0) -> RequestTrace:
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1 / rate, n))
    return trace(arr, np.full(n, inp), np.full(n, out))
