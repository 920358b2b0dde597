"""Regenerate the transcripts of the CLI tour and the README from real runs of the commands they show.

A transcript is a marker comment naming the command, then a fenced block::

    <!-- run: chipfleet catalog chips --vendor aws -->
    ```
    $ chipfleet catalog chips --vendor aws
    ...what the command printed...
    ```

``python scripts/docs_transcripts.py`` (``make transcripts``) runs every marked command and rewrites its block;
``--check`` rewrites nothing and exits 1 naming the blocks that no longer match (tests/docs/test_transcripts.py
does the same per block). A command may end in ``| head -n N`` or ``| tail -n N`` to show only the first or
last N lines of its output. ``<!-- run slow: ... -->`` marks a command that takes long: the test runs it only
with the slow tests.

Output is made the same on every machine: commands run at a fixed terminal width, without colour, without
the user's ``CHIPFLEET_*`` settings, in a scratch folder (so output paths are relative), and the wall-clock times
a command reports about itself are not compared (``WALL_CLOCK``). A successful command's
progress lines on stderr are left out; a failing one shows its message and exit status.

A Python example (a ``python`` block) followed by a paragraph "prints" and a ``text`` block is run the same way,
and the text block is what it prints.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = (ROOT / "docs" / "cli.md", ROOT / "README.md")
WIDTH = 170  # columns the commands see ($COLUMNS): the widest tables (the demo's) fit whole
PROMPT_WIDTH = 110  # where a long command line wraps, with shell continuation lines
PIPE = re.compile(r"^(?P<command>.+?) \| (?P<end>head|tail) -n (?P<lines>[1-9][0-9]*)$")
TIMEOUT_S = 600
# Wall-clock times a command reports about itself (the serving planner's "solved in 3.62 s, replay 6.11 s"):
# the page shows one run's figures, and a block still matches when only these differ.
# "solved in 1.56 s", ", replay 2.30 s": a line may wrap between the words and the time
WALL_CLOCK = re.compile(r"(solved in|, replay)(\s+)\d+(?:\.\d+)? s")

MARKER = re.compile(
    r"^<!-- run(?P<slow> slow)?: (?P<command>[^\n]+?) -->\n```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)


EXAMPLE = re.compile(
    r"^```python\n(?P<code>.*?)^```\n\nprints\n\n```text\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL
)
"""A Python example followed by "prints" and a text block: the block is what the example prints."""


@dataclass(frozen=True)
class Transcript:
    """One marked block of a page: the command, whether it is slow, and the text the page holds for it."""

    page: Path
    command: str
    slow: bool
    body: str
    start: int  # character offsets of the block's body in the page
    end: int

    @property
    def name(self) -> str:
        return f"{self.page.name}: {self.command}"


def transcripts(page: Path) -> Iterator[Transcript]:
    """The marked blocks of ``page``, in order."""
    text = page.read_text(encoding="utf-8")
    for m in MARKER.finditer(text):
        yield Transcript(page, m["command"], bool(m["slow"]), m["body"], m.start("body"), m.end("body"))


@dataclass(frozen=True)
class Example:
    """A Python example of a page and the output the page shows for it."""

    page: Path
    code: str
    body: str
    start: int  # character offsets of the output block's body in the page
    end: int


def examples(page: Path) -> Iterator[Example]:
    """The Python examples of ``page`` that show their output, in order."""
    text = page.read_text(encoding="utf-8")
    for m in EXAMPLE.finditer(text):
        yield Example(page, m["code"], m["body"], m.start("body"), m.end("body"))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIPFLEET_")}  # no user overlay or settings
    env.update(COLUMNS=str(WIDTH), LINES="50", NO_COLOR="1", TERM="dumb", PYTHONWARNINGS="ignore", LC_ALL="C.UTF-8")
    return env


def run_python(code: str) -> str:
    """What ``code`` prints (stdout; its stderr too when it fails), run in a fresh interpreter."""
    with tempfile.TemporaryDirectory(prefix="chipfleet-docs-") as scratch:
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=scratch, env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S
        )
    return done.stdout + (done.stderr if done.returncode != 0 else "")


def _prompt(command: str) -> str:
    """``$ command``, wrapped before PROMPT_WIDTH with continuation lines, never between an option and its value."""
    head = PIPE.match(command)
    tokens = shlex.split(head["command"] if head else command)
    groups: list[str] = []
    for i, tok in enumerate(tokens):
        if groups and not tok.startswith("-") and tokens[i - 1].startswith("-"):
            groups[-1] += " " + shlex.quote(tok)
        else:
            groups.append(shlex.quote(tok))
    lines = [groups[0]]
    for g in groups[1:]:
        if len(lines[-1]) + 1 + len(g) > PROMPT_WIDTH - 6:
            lines.append(g)
        else:
            lines[-1] += " " + g
    if head:
        lines[-1] += f" | {head['end']} -n {head['lines']}"
    return "$ " + " \\\n    ".join(lines) + "\n"


@functools.cache
def _output(argv: tuple[str, ...]) -> tuple[int, str]:
    """Exit status and what a reader needs of ``chipfleet argv...``: its stdout, and stderr when it failed (a
    successful command's progress lines, "fitting ... on 26 rows", are left out). Cached: several blocks may
    show parts of one command's output."""
    entry = "import sys; from chipfleet.cli import run; sys.argv[0] = 'chipfleet'; run()"
    with tempfile.TemporaryDirectory(prefix="chipfleet-docs-") as scratch:
        done = subprocess.run(
            [sys.executable, "-c", entry, *argv[1:]],
            cwd=scratch,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    return done.returncode, done.stdout + (done.stderr if done.returncode != 0 else "")


def run(command: str) -> str:
    """The transcript body of ``command`` (a ``chipfleet ...`` line): the prompt, then what it printed."""
    head = PIPE.match(command)  # `chipfleet ... | head -n N` (or tail -n N): the first (last) N lines it prints
    argv = shlex.split(head["command"] if head else command)
    if not argv or argv[0] != "chipfleet":
        raise ValueError(f"a transcript runs chipfleet commands only, not {command!r}")
    status, text = _output(tuple(argv))
    lines = text.splitlines()
    if head:
        n = int(head["lines"])
        lines = lines[:n] if head["end"] == "head" else lines[-n:]
    out = "".join(line.rstrip() + "\n" for line in lines)
    if status != 0:
        out += f"$ echo $?\n{status}\n"
    return _prompt(command) + out


def same(printed: str, shown: str) -> bool:
    """Whether ``printed`` matches the ``shown`` transcript, wall-clock times aside."""
    return WALL_CLOCK.sub(r"\1\2<time>", printed) == WALL_CLOCK.sub(r"\1\2<time>", shown)


def regenerate(page: Path) -> list[str]:
    """Run every marked command of ``page`` and rewrite its block; the names of the blocks that changed."""
    text = page.read_text(encoding="utf-8")
    changed: list[str] = []
    blocks: list[tuple[int, int, str, str]] = [(t.start, t.end, t.name, run(t.command)) for t in transcripts(page)]
    blocks += [(e.start, e.end, f"{page.name}: Python example", run_python(e.code)) for e in examples(page)]
    for start, end, name, body in sorted(blocks, reverse=True):  # from the end, so earlier offsets stay valid
        if not same(body, text[start:end]):
            changed.append(name)
            text = text[:start] + body + text[end:]
    page.write_text(text, encoding="utf-8")
    return changed[::-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 if a block is out of date")
    parser.add_argument("pages", nargs="*", type=Path, default=list(PAGES))
    args = parser.parse_args(argv)
    stale: list[str] = []
    for page in args.pages:
        if args.check:
            stale += [t.name for t in transcripts(page) if not same(run(t.command), t.body)]
            stale += [f"{page.name}: Python example" for e in examples(page) if not same(run_python(e.code), e.body)]
        else:
            for name in regenerate(page):
                print(f"updated {name}")
    for name in stale:
        print(f"out of date: {name}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
