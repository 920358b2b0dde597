"""The CLI tour's transcripts still match what the commands print (docs never drift; SimPy's doc tests the model).

A failure means the output changed: if the change is intended, regenerate the page with ``make transcripts``
(scripts/docs_transcripts.py) and commit it with the change.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "docs_transcripts.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_transcripts", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


docs = _load()
BLOCKS = [t for page in docs.PAGES for t in docs.transcripts(page)]
EXAMPLES = [e for page in docs.PAGES for e in docs.examples(page)]


def _group(command: str) -> str:
    """The command without its `| head -n N`, as a name every xdist worker derives alike."""
    return re.sub(r"[^a-z0-9]+", "-", command.split(" | ")[0].lower()).strip("-")


def test_the_tour_has_transcripts() -> None:
    """The marker syntax still matches the pages (a typo in it would silently leave every block unchecked)."""
    assert len(BLOCKS) >= 10
    assert any(t.command.startswith("chipfleet demo") and t.slow for t in BLOCKS)
    for t in BLOCKS:
        assert t.body.startswith("$ chipfleet "), t.name


@pytest.mark.parametrize(
    "block",
    [
        # One xdist group per command: blocks showing parts of one command's output share its (cached) run.
        pytest.param(t, id=t.command, marks=[pytest.mark.xdist_group(_group(t.command))] + [pytest.mark.slow] * t.slow)
        for t in BLOCKS
    ],
)
def test_transcript_matches_the_command(block: Any) -> None:
    printed = docs.run(block.command)
    if not docs.same(printed, block.body):
        assert printed == block.body, f"{block.name} is out of date: run `make transcripts`"  # shows the diff


def test_the_readme_python_example_runs_and_prints_what_the_readme_shows() -> None:
    readme = [e for e in EXAMPLES if e.page.name == "README.md"]
    assert len(readme) == 1 and len(readme[0].code.splitlines()) <= 12, "the README has one short Python example"
    assert readme[0].body, "the README shows what its example prints"
    assert docs.run_python(readme[0].code) == readme[0].body, "README.md's example is out of date: make transcripts"


def test_wall_clock_times_are_not_compared() -> None:
    line = "90 configurations evaluated, capacities and mix solved in {} s, replay {} s."
    assert docs.same(line.format("3.62", "6.11"), line.format("3.06", "5.46"))
    assert not docs.same("p90 TTFT 1.06 s", "p90 TTFT 1.07 s")  # a modelled time is compared
    assert docs.same("solved in 2.28 s, replay\n1.80 s; met", "solved in 2.31 s, replay\n1.62 s; met")  # wrapped


def test_the_readme_stays_short() -> None:
    assert len((docs.ROOT / "README.md").read_bytes()) <= 10_000


def test_the_prompt_wraps_between_options_never_inside_one() -> None:
    command = "chipfleet plan serve " + " ".join(f"--option-{i} value-{i}" for i in range(12))
    lines = docs._prompt(command).splitlines()
    assert len(lines) > 1 and all(len(line) <= docs.PROMPT_WIDTH for line in lines)
    for line in lines[1:]:
        assert line.startswith("    --option-"), line
    assert " ".join(line.rstrip(" \\").strip() for line in lines)[2:] == command
