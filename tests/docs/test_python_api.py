"""docs/python-api.md's examples run, in order, as one script (each block builds on the ones before it)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"


def test_the_page_has_examples_that_build_on_each_other() -> None:
    blocks = re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 3 and "load_catalog()" in blocks[0]


@pytest.mark.slow  # plans a serving fleet and simulates a mixed fleet: half a minute
def test_the_examples_run(tmp_path: Path) -> None:
    code = "\n".join(re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL))
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("\n") >= 5, done.stdout  # every block prints something
