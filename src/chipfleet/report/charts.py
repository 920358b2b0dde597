"""Shared matplotlib plumbing: figures built as objects, without pyplot, and rendered to PNG bytes.

A library must not choose the process's matplotlib backend (``matplotlib.use``) nor keep figures in pyplot's
global registry: a user's notebook or GUI keeps its own. A :class:`~matplotlib.figure.Figure` made directly
belongs to nobody and renders to PNG through Agg whatever the backend is; it is freed like any other object.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # matplotlib loads only when a chart is drawn: commands that draw none start faster
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure


def figure(figsize: tuple[float, float]) -> Figure:
    """A new, unmanaged figure of ``figsize`` inches (width, height)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **kwargs: Any) -> tuple[Figure, Any]:
    """A new, unmanaged figure and its grid of axes, as ``pyplot.subplots`` returns them (one Axes, or an array)."""
    fig = figure(figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def colormap(name: str) -> Colormap:
    """The registered colormap ``name`` (e.g. "tab10"), without going through pyplot."""
    import matplotlib

    return matplotlib.colormaps[name]


def to_png(fig: Figure, dpi: int = 110, tight: bool = True) -> bytes:
    """Render ``fig`` to PNG bytes; ``tight`` applies a tight layout first (off where the figure has laid itself
    out, e.g. around a figure legend)."""
    if tight:
        fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
