"""The sweep report's charts (PNG, matplotlib): sensitivity of each output to each axis, break-even curves with
their crossing marked, and Pareto fronts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chipfleet.sweep.report import SweepReport

MAX_PANELS = 6


def _safe(name: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "_", name.lower()).strip("_")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_all(rep: SweepReport, out: Path) -> list[Path]:
    return [*sensitivity_charts(rep, out), *break_even_charts(rep, out), *pareto_charts(rep, out)]


def sensitivity_charts(rep: SweepReport, out: Path) -> list[Path]:
    plt = _plt()
    written: list[Path] = []
    # one figure per output, or per output and command where the sweep runs several (Sensitivity.label)
    for label in dict.fromkeys(s.label for s in rep.sensitivity):
        items = [s for s in rep.sensitivity if s.label == label][:MAX_PANELS]
        fig, axs = plt.subplots(1, len(items), figsize=(3.6 * len(items), 3.4), squeeze=False)
        for ax, s in zip(axs[0], items, strict=False):
            keys = list(s.means)
            try:
                order = sorted(keys, key=float)
                xs: list[Any] = [float(k) for k in order]
                ax.plot(xs, [s.means[k] for k in order], marker="o")
            except ValueError:
                ax.bar(range(len(keys)), [s.means[k] for k in keys])
                ax.set_xticks(range(len(keys)), keys, rotation=30, ha="right", fontsize=7)
            ax.set_title(f"{s.axis} (spread {s.spread:.0%})", fontsize=9)
            ax.set_ylabel(f"mean {s.output}", fontsize=8)
        fig.suptitle(f"{rep.name}: sensitivity of {label}", fontsize=10)
        fig.tight_layout()
        path = out / f"sensitivity_{_safe(label)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def break_even_charts(rep: SweepReport, out: Path) -> list[Path]:
    plt = _plt()
    written: list[Path] = []
    by_kind: dict[tuple[str, str, str], list[Any]] = {}
    for c in rep.crossings:
        by_kind.setdefault((c.output, c.across, c.between), []).append(c)
    for (o, across, between), items in by_kind.items():
        items = items[:MAX_PANELS]
        fig, axs = plt.subplots(1, len(items), figsize=(4.2 * len(items), 3.6), squeeze=False)
        for ax, c in zip(axs[0], items, strict=False):
            for name, pts in c.curves.items():
                ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=name)
            if c.at is not None:
                ax.axvline(c.at, color="grey", linestyle="--")
                ax.annotate(f"break-even {c.at:.3g}", (c.at, ax.get_ylim()[1]), fontsize=8, ha="center", va="top")
            ax.set_xlabel(across, fontsize=8)
            ax.set_ylabel(o, fontsize=8)
            ax.set_title(", ".join(f"{k}={v}" for k, v in c.group.items()) or f"{c.a} vs {c.b}", fontsize=8)
            ax.legend(fontsize=7, title=between, title_fontsize=7)
        fig.suptitle(f"{rep.name}: {o} across {across}", fontsize=10)
        fig.tight_layout()
        path = out / f"break_even_{_safe(o)}_{_safe(across)}_{_safe(between)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def pareto_charts(rep: SweepReport, out: Path) -> list[Path]:
    plt = _plt()
    written: list[Path] = []
    for f in rep.fronts:
        sx = 1.0 if f.minimize_x else -1.0
        sy = 1.0 if f.minimize_y else -1.0
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        ax.scatter(
            [sx * x for x, _ in f.all_xy], [sy * y for _, y in f.all_xy], s=10, color="lightgrey", label="all points"
        )
        ax.plot([p[f.x] for p in f.points], [p[f.y] for p in f.points], marker="o", color="C3", label="Pareto front")
        ax.set_xlabel(f.x)
        ax.set_ylabel(f.y)
        ax.legend(fontsize=8)
        ax.set_title(f"{rep.name}: Pareto front", fontsize=10)
        fig.tight_layout()
        path = out / f"pareto_{_safe(f.x)}_{_safe(f.y)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
