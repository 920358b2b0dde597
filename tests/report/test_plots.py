"""The demo chart, built in memory: legend, 10-90 % error bars, † marker, pricing in the title, the fleet panel."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from chipfleet.catalog import Catalog, Pricing
from chipfleet.demo import DemoResult, serving_estimates, training_estimates
from chipfleet.report.plots import BAND_LABEL, UNVALIDATED, demo_figure, maker


@pytest.fixture(scope="module")
def result(cat: Catalog) -> DemoResult:
    training, t_skip = training_estimates(cat, ("trn2.48xlarge", "p5.48xlarge", "tpu-v5p-8"))
    serving, s_skip = serving_estimates(cat, ("inf2.48xlarge", "p5.48xlarge"))
    return DemoResult(training, serving, t_skip, s_skip, serving_plan=None, serving_plan_skipped="not run in test")


@pytest.fixture(scope="module")
def fig(result: DemoResult) -> Any:
    return demo_figure(result)


def _texts(fig: Any) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def test_title_is_not_stale_and_names_the_pricing(fig: Any) -> None:
    title = fig._suptitle.get_text()
    assert "priors until calibrated" not in title
    assert "on-demand prices" in title


def test_colour_legend_names_the_makers_and_the_markers(fig: Any) -> None:
    assert fig.legends, "the figure has a legend"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "AWS silicon (Trainium, Inferentia)" in labels and "NVIDIA GPU" in labels and "Google TPU" in labels
    assert any(BAND_LABEL in label for label in labels)
    assert any(label.startswith(UNVALIDATED) for label in labels)


def test_bars_carry_10_90_error_bars(fig: Any, result: DemoResult) -> None:
    from matplotlib.container import BarContainer, ErrorbarContainer

    train_ax = fig.axes[0]
    errorbars = [c for c in train_ax.containers if isinstance(c, ErrorbarContainer)]
    bars = [c for c in train_ax.containers if isinstance(c, BarContainer)]
    assert errorbars and bars
    # The error bar of each row spans its 10-90 % range of days to train.
    segments = errorbars[0].lines[2][0].get_segments()
    for seg, e in zip(segments, result.training, strict=True):
        rng = e.ranges["time_s"]
        assert rng is not None
        assert sorted(x for x, _ in seg) == pytest.approx([rng[0] / 86400, rng[1] / 86400])
    for ax in fig.axes[1:4]:
        assert any(isinstance(c, ErrorbarContainer) for c in ax.containers), ax.get_title()


def test_unvalidated_family_is_marked(fig: Any, result: DemoResult) -> None:
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    for e, tick in zip(result.training, ticks, strict=True):
        assert tick.endswith(UNVALIDATED) == (not e.validated), tick
    assert any(not e.validated for e in result.training), "trn2 (aws-neuron-v3) has no measurements of its own"


def test_pricing_appears_in_labels_when_rows_differ(cat: Catalog) -> None:
    od, _ = training_estimates(cat, ("p5.48xlarge",), Pricing.ON_DEMAND)
    sp, _ = training_estimates(cat, ("p5e.48xlarge",), Pricing.SPOT)
    texts = _texts(demo_figure(DemoResult(od + sp, [], serving_plan=None)).axes[0])
    assert any("(on-demand)" in t for t in texts) and any("(spot)" in t for t in texts)


def test_skipped_plan_says_why(fig: Any) -> None:
    assert any("serving plan skipped: not run in test" in t for t in _texts(fig.axes[4]))


def test_maker_colours() -> None:
    assert maker("trainium2")[0].startswith("AWS") and maker("inferentia2")[0].startswith("AWS")
    assert maker("tpu-v5p")[0] == "Google TPU" and maker("h100-sxm")[0] == "NVIDIA GPU"


def test_charts_leave_the_process_matplotlib_state_alone() -> None:
    """A chart is drawn and rendered without pyplot and without choosing the process's backend (a user's notebook
    or GUI keeps its own); a fresh interpreter, so no other test's pyplot import hides a regression."""
    code = """
import sys
import matplotlib
matplotlib.use("svg")
from chipfleet.report.charts import subplots, to_png
fig, ax = subplots(figsize=(2, 2))
ax.plot([0, 1], [1, 0])
png = to_png(fig)
assert png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", png[:8]
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert "matplotlib.pyplot" not in sys.modules
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
