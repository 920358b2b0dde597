"""Fuzz the CLI with the property test's strategies and print how every case ended.

Runs tests/test_cli_properties.py in this process with ``CHIPFLEET_FUZZ_SUMMARY`` set, so each case is counted
instead of stopping at the first failure, and prints one row per command group: cases, exit 0 (finite output),
exit 2 (one clean message), crash (an exception, a traceback, another exit code, or several messages), nonsense
(exit 0 with NaN/Infinity or invalid JSON), hang (a case running past ``--hang-s``, default 120 s: a guard so a
hang is counted, not a timing figure). Then every crash/nonsense/hang case with its command line.

    python benchmarks/fuzz_cli.py              # the test's own example counts (a couple of minutes on 2 cores)
    python benchmarks/fuzz_cli.py --scale 3    # three times as many examples per command
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST = ROOT / "tests" / "test_cli_properties.py"
COLUMNS = ("exit 0", "exit 2", "crash", "nonsense", "hang")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every test's max_examples")
    parser.add_argument("--hang-s", type=float, default=120.0, help="count a case running this long as a hang")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chipfleet-fuzz-") as tmp:
        summary = Path(tmp) / "summary.json"
        os.environ["CHIPFLEET_FUZZ_SUMMARY"] = str(summary)
        os.environ["CHIPFLEET_FUZZ_SCALE"] = str(args.scale)
        os.environ["CHIPFLEET_FUZZ_HANG_S"] = str(args.hang_s)
        code = pytest.main([str(TEST), "-q", "-p", "no:cacheprovider", "-W", "ignore"])
        if not summary.exists():
            print(f"no summary written (pytest exit {code})")
            return 1
        data = json.loads(summary.read_text())
    counts: dict[str, dict[str, int]] = {}
    for group, outcome, n in data["outcomes"]:
        counts.setdefault(group, dict.fromkeys(COLUMNS, 0))[outcome] = n
    print(f"\n{'group':<26} {'cases':>6} " + " ".join(f"{c:>8}" for c in COLUMNS))
    total = dict.fromkeys(COLUMNS, 0)
    for group in sorted(counts):
        row = counts[group]
        for c in COLUMNS:
            total[c] += row[c]
        print(f"{group:<26} {sum(row.values()):>6} " + " ".join(f"{row[c]:>8}" for c in COLUMNS))
    print(f"{'all':<26} {sum(total.values()):>6} " + " ".join(f"{total[c]:>8}" for c in COLUMNS))
    for finding in data["findings"]:
        print(f"\n{finding['outcome']}: chipfleet {finding['argv']}\n  {finding['why']}")
    return 0 if not data["findings"] else 1


if __name__ == "__main__":
    sys.exit(main())
