"""Shared matplotlib plumbing: a headless backend and figures rendered to PNG bytes."""

from __future__ import annotations

import io
from typing import Any


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend (no display on servers and in CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_png(fig: Any, dpi: int = 110, tight: bool = True) -> bytes:
    """Render ``fig`` to PNG bytes and close it; ``tight`` applies a tight layout first (off where the figure
    has laid itself out, e.g. around a figure legend)."""
    if tight:
        fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    pyplot().close(fig)
    return buf.getvalue()
