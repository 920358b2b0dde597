"""Job traces written by hand for the training-simulator tests."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from chipfleet.traces.schema import JobTrace


def jobs(submit: ArrayLike, chips: ArrayLike, duration: ArrayLike) -> JobTrace:
    """Jobs submitted at ``submit`` seconds, each a gang of ``chips`` for ``duration`` reference seconds."""
    return JobTrace(
        name="hand",
        submit_s=np.asarray(submit, dtype=float),
        chips=np.asarray(chips, dtype=np.int64),
        duration_s=np.asarray(duration, dtype=float),
        source="written in the test",
    )
