"""Property-based test of the CLI under bad input (issue 10): numeric options and crafted trace/overlay files.

For every generated command line ``chipfleet.cli.main(argv)`` must either

- exit 0 with finite output (``--json``: strict JSON, no NaN/Infinity anywhere; tables: no ``nan``/``inf`` word), or
- exit 2 with exactly one message (one line on stderr, or ``{"error": {...}}`` on stdout with ``--json``)

and never raise, print a traceback, or exit with another code. Values are drawn from integers (0, negatives,
huge), floats (nan, inf, 1e308, -0.0), and strings ("30", "1e400", "", "abc", unit suffixes), one or two options
per case on top of a valid, cheap base command (tiny traces, ``--requests`` small, ``--max-rounds 0``).

Each case's outcome is counted; benchmarks/fuzz_cli.py runs this module with ``CHIPFLEET_FUZZ_SUMMARY`` set to
collect the counts (and ``CHIPFLEET_FUZZ_SCALE`` to run more examples) and prints them. Nothing here measures or
asserts time.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import traceback
import types
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from chipfleet.cli import main

SCALE = float(os.environ.get("CHIPFLEET_FUZZ_SCALE", "1"))
SUMMARY_PATH = os.environ.get("CHIPFLEET_FUZZ_SUMMARY")
RECORD_ONLY = SUMMARY_PATH is not None  # the benchmark counts every outcome instead of stopping at the first failure
HANG_S = float(os.environ.get("CHIPFLEET_FUZZ_HANG_S", "0"))  # the benchmark's hang guard (0: none in tests)

OUTCOMES: Counter[tuple[str, str]] = Counter()  # (group, outcome) -> cases
FINDINGS: list[dict[str, str]] = []

REQ_HEADER = "t,in,out"
REQ_MAPPING = "arrival=t,input=in,output=out"
TINY_REQUESTS = "t,in,out\n0,100,20\n0.5,200,10\n1.0,50,30\n1.2,300,5\n2.0,120,40\n"
TINY_JOBS = (
    "timestamp,num_gpus,duration\n2017-10-01 00:00:00,1,60\n2017-10-01 00:00:10,2,120\n2017-10-01 00:01:00,8,30\n"
)
OVERLAY = """schema_version: 1
sources:
  mine: {{ref: "fuzz", as_of: "2026-10-01"}}
regions:
  - {{name: my-region, cloud: aws, location: test, pue: {{value: {pue}, unit: ratio, source: mine}}}}
instances:
  - name: my.box
    cloud: aws
    chip: h100-sxm
    chips: {chips}
    prices:
      - {{region: my-region, pricing: on-demand, value: {price}, unit: USD/h, source: mine}}
"""


# --- values ---------------------------------------------------------------------------------------------------------

WORDS = [
    *("30", "1e400", "", "abc", "nan", "inf", "-inf", "NaN", "-0", "-0.0", "0", "1", "-1", "-3", " 7 ", "1e308"),
    *("-1e308", "1e-320", "2**63", "9223372036854775808", "0x10", "1_000", "1,5", "five", "\U0001f4a5", "30s"),
    *("30d", "500ms", "-5min", "1e9h", "0s", "2k", "1e30k", "1M", "1T", "15T+", "~15T", "k", "ms", "1/0", "1e-9"),
]


def _number_text(x: float) -> str:
    return repr(x)


INTS = st.one_of(
    st.sampled_from([0, -1, 1, 2, -3, 2**31, 2**63, 10**30, 10**400]),
    st.integers(min_value=-(10**12), max_value=10**12),
).map(str)
FLOATS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324, 1e-9]),
    st.floats(allow_nan=True, allow_infinity=True),
).map(_number_text)
PLAUSIBLE = st.integers(min_value=1, max_value=64).map(str)  # so that valid paths are exercised too
VALUES = st.one_of(st.sampled_from(WORDS), INTS, FLOATS, PLAUSIBLE)
UNIT_SUFFIX = st.sampled_from(["", "s", "ms", "min", "h", "d", "k", "M", "T", "/s", "tok"])
WITH_UNITS = st.one_of(VALUES, st.tuples(st.one_of(INTS, FLOATS), UNIT_SUFFIX).map(lambda t: t[0] + t[1]))


# --- commands -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A valid, cheap base command line and the numeric options to perturb."""

    name: str
    base: tuple[str, ...]
    options: tuple[str, ...]
    examples: int


def _commands(req: Path, jobs: Path) -> dict[str, Command]:
    serve_trace = ("--trace", str(req), "--mapping", REQ_MAPPING)
    return {
        "estimate train": Command(
            "estimate train",
            (
                "estimate",
                "train",
                "--model",
                "llama-3-8b",
                "--instance",
                "p5.48xlarge",
                "--instances",
                "2",
                "--tokens",
                "1e9",
            ),
            (
                "--instances",
                "--tokens",
                "--tp",
                "--pp",
                "--dp",
                "--cp",
                "--ep",
                "--zero",
                "--micro-batch",
                "--global-batch",
                "--seq-len",
            ),
            30,
        ),
        "estimate serve": Command(
            "estimate serve",
            ("estimate", "serve", "--model", "llama-3-8b", "--instance", "inf2.48xlarge"),
            ("--batch", "--input-tokens", "--output-tokens", "--tp"),
            25,
        ),
        "plan train": Command(
            "plan train",
            (
                "plan",
                "train",
                "--model",
                "llama-3-8b",
                "--tokens",
                "1e10",
                "--top",
                "1",
                "--instances",
                "p5.48xlarge,trn1.32xlarge",
            ),
            (
                "--tokens",
                "--deadline",
                "--budget",
                "--max-chips",
                "--top",
                "--seq-len",
                "--global-batch",
                "--interruptions-per-month",
                "--restart-min",
            ),
            12,
        ),
        "plan serve": Command(
            "plan serve",
            (
                "plan",
                "serve",
                "--model",
                "llama-3-8b",
                *serve_trace,
                "--max-rounds",
                "0",
                "--instances",
                "inf2.xlarge,g6e.xlarge",
                "--slo-ttft-p90",
                "2s",
                "--slo-tpot-p90",
                "100ms",
            ),
            (
                "--requests",
                "--rate-scale",
                "--slo-ttft-p90",
                "--slo-tpot-p90",
                "--tp",
                "--max-batch",
                "--max-batch-tokens",
                "--max-instances",
                "--peak-window",
                "--max-rounds",
                "--peak-to-trough",
                "--startup-time",
                "--seed",
            ),
            12,
        ),
        "plan serve --rate": Command(
            "plan serve --rate",
            (
                "plan",
                "serve",
                "--model",
                "llama-3-8b",
                "--rate",
                "0.5/s",
                "--duration",
                "20s",
                "--input-tokens",
                "fixed:100",
                "--output-tokens",
                "fixed:20",
                "--requests",
                "5",
                "--max-rounds",
                "0",
                "--instances",
                "inf2.xlarge",
                "--slo-ttft-p90",
                "2s",
                "--slo-tpot-p90",
                "100ms",
            ),
            ("--rate", "--duration", "--requests", "--input-tokens", "--output-tokens", "--seed"),
            10,
        ),
        "simulate serve": Command(
            "simulate serve",
            ("simulate", "serve", "--model", "llama-3-8b", "--fleet", "g6e.xlarge:1", *serve_trace),
            (
                "--seed",
                "--requests",
                "--rate-scale",
                "--tp",
                "--max-batch-tokens",
                "--max-seqs",
                "--slo-ttft-p90",
                "--slo-tpot-p90",
                "--fleet",
            ),
            20,
        ),
        "simulate train": Command(
            "simulate train",
            ("simulate", "train", "--fleet", "p5.48xlarge:1", "--trace", str(jobs)),
            ("--seed", "--jobs", "--rate-scale", "--fleet"),
            15,
        ),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Command]]:
    folder = tmp_path_factory.mktemp("fuzz")
    req, jobs = folder / "req.csv", folder / "jobs.csv"
    req.write_text(TINY_REQUESTS)
    jobs.write_text(TINY_JOBS)
    yield _commands(req, jobs)
    if SUMMARY_PATH:
        Path(SUMMARY_PATH).write_text(
            json.dumps({"outcomes": [[g, o, n] for (g, o), n in sorted(OUTCOMES.items())], "findings": FINDINGS})
        )


# --- the property ---------------------------------------------------------------------------------------------------

_LABEL = re.compile(r"^(error|does not fit): ")
_NONFINITE_WORD = re.compile(r"(?<![\w.])-?(nan|inf|infinity)(?![\w.])", re.IGNORECASE)


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite JSON constant {name}")


def _all_finite(node: Any) -> bool:
    if isinstance(node, float):
        return math.isfinite(node)
    if isinstance(node, dict):
        return all(_all_finite(v) for v in node.values())
    if isinstance(node, list):
        return all(_all_finite(v) for v in node)
    return True


def classify(code: int | None, out: str, err: str, raised: BaseException | None, as_json: bool) -> tuple[str, str]:
    """``(outcome, why)``: outcome is ``exit 0``, ``exit 2``, ``crash`` or ``nonsense``."""
    if raised is not None:
        return "crash", "".join(traceback.format_exception_only(raised)).strip()
    if "Traceback (most recent call last)" in out + err:
        return "crash", "traceback printed"
    if code == 0:
        if as_json:
            try:
                data = json.loads(out, parse_constant=_reject_constant)
            except ValueError as exc:
                return "nonsense", f"exit 0 but stdout is not strict JSON ({exc})"
            if isinstance(data, dict) and "error" in data:
                return "nonsense", "exit 0 with an error object"
            if not _all_finite(data):
                return "nonsense", "exit 0 with a non-finite number"
        elif found := _NONFINITE_WORD.search(out):
            line = out[out.rfind("\n", 0, found.start()) + 1 : out.find("\n", found.end())].strip()
            return "nonsense", f"exit 0 but the output shows {found.group(0)!r}: {line[:200]}"
        return "exit 0", ""
    if code == 2:
        if as_json and out.strip():
            try:
                data = json.loads(out, parse_constant=_reject_constant)
            except ValueError as exc:
                return "crash", f"exit 2 but stdout is not strict JSON ({exc})"
            message = data.get("error", {}).get("message") if isinstance(data, dict) else None
            if not (isinstance(message, str) and message.strip()):
                return "crash", "exit 2 without an error message"
            return "exit 2", ""
        lines = [line for line in err.splitlines() if line.strip()]
        # One message: one labelled line ("error: ..." or "does not fit: ..."), perhaps followed by indented
        # detail lines (a catalog error lists its fields so); other lines are progress notes printed before it.
        labelled = [i for i, line in enumerate(lines) if _LABEL.match(line)]
        if len(labelled) != 1:
            return "crash", f"exit 2 with {len(labelled)} error messages on stderr (one expected): {lines[-3:]}"
        if any(not line[:1].isspace() for line in lines[labelled[0] + 1 :]):
            return "crash", f"exit 2 with text after the error message: {lines[-3:]}"
        return "exit 2", ""
    return "crash", f"exit code {code}"


class _CaseHang(BaseException):
    """Raised by the benchmark's hang guard (a BaseException, so no ``except Exception`` in the code swallows it)."""


@contextlib.contextmanager
def _hang_guard() -> Iterator[None]:
    """With ``CHIPFLEET_FUZZ_HANG_S`` set (benchmarks/fuzz_cli.py), interrupt a case that runs that long."""
    if HANG_S <= 0:
        yield
        return

    def on_alarm(signum: int, frame: types.FrameType | None) -> None:
        raise _CaseHang

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_case(
    capsys: pytest.CaptureFixture[str], group: str, argv: list[str], as_json: bool
) -> tuple[str, str, str, str]:
    """Run one command line in-process; record and return ``(outcome, why, stdout, stderr)``."""
    args = [*argv, "--json"] if as_json else list(argv)
    capsys.readouterr()
    code: int | None = None
    raised: BaseException | None = None
    hung = False
    with _hang_guard():
        try:
            code = main(args)
        except _CaseHang:
            hung = True
        except BaseException as exc:  # a crash is what this test looks for
            if isinstance(exc, KeyboardInterrupt):
                raise
            raised = exc
    out, err = capsys.readouterr()
    outcome, why = (
        ("hang", f"ran past the {HANG_S:g} s hang guard") if hung else classify(code, out, err, raised, as_json)
    )
    OUTCOMES[(group, outcome)] += 1
    if outcome in ("crash", "nonsense", "hang"):
        FINDINGS.append({"group": group, "argv": " ".join(args), "outcome": outcome, "why": why[:300]})
        if not RECORD_ONLY:
            message = err.strip()[-800:] or out.strip()[-800:]
            pytest.fail(f"{outcome}: chipfleet {' '.join(args)}\n{why}\n{message}", pytrace=False)
    return outcome, why, out, err


def _with(base: tuple[str, ...], changes: list[tuple[str, str]]) -> list[str]:
    """``base`` with each option set to its new value (replaced where the base already has it)."""
    argv = list(base)
    for option, value in changes:
        if option in argv:
            argv[argv.index(option) + 1] = value
        else:
            argv += [option, value]
    return argv


def _settings(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=max(1, round(examples * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure reports its command line as drawn,
    )  # and the run stays bounded (each case is a whole CLI invocation)


def _check_command(capsys: pytest.CaptureFixture[str], files: dict[str, Command], name: str) -> Callable[[], None]:
    """A hypothesis test over ``name``'s numeric options (built per command: each has its own option list)."""
    cmd = files[name]

    @_settings(cmd.examples)
    @given(
        changes=st.lists(st.tuples(st.sampled_from(cmd.options), WITH_UNITS), min_size=1, max_size=2),
        as_json=st.booleans(),
    )
    def check(changes: list[tuple[str, str]], as_json: bool) -> None:
        run_case(capsys, name, _with(cmd.base, changes), as_json)

    runner: Callable[[], None] = check  # @given supplies both arguments
    return runner


COMMAND_NAMES = [
    "estimate train",
    "estimate serve",
    "plan train",
    "plan serve",
    "plan serve --rate",
    "simulate serve",
    "simulate train",
]


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_base_commands_succeed(capsys: pytest.CaptureFixture[str], files: dict[str, Command], name: str) -> None:
    """The unperturbed base lines exit 0, so the property below does not pass vacuously on a broken base."""
    outcome, why, out, err = run_case(capsys, f"{name} (base)", list(files[name].base), True)
    assert outcome == "exit 0", (why, out[-500:], err[-500:])


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_numeric_options_exit_0_or_2(capsys: pytest.CaptureFixture[str], files: dict[str, Command], name: str) -> None:
    _check_command(capsys, files, name)()


# --- crafted files ----------------------------------------------------------------------------------------------


def _csv_row(cells: list[str]) -> str:
    return ",".join(cells)


ROWS = st.lists(st.lists(VALUES, min_size=2, max_size=4), min_size=0, max_size=5)


@st.composite
def trace_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A small request-trace file: CSV or JSONL, good or bad header, rows of adversarial cells, or raw bytes."""
    kind = draw(st.sampled_from(["csv", "jsonl", "bytes", "good-then-bad"]))
    if kind == "bytes":
        return "req.csv", draw(st.binary(max_size=200))
    rows = draw(ROWS)
    if kind == "jsonl":
        lines = []
        for row in rows:
            keys = ["t", "in", "out", "x"][: len(row)]
            if draw(st.booleans()):
                lines.append(json.dumps(dict(zip(keys, row, strict=True))))
            else:
                lines.append(draw(st.sampled_from(["[1, 2, 3]", "7", '"t"', "{", "null", '{"t": 1e400}'])))
        return "req.jsonl", ("\n".join(lines) + "\n").encode()
    header = draw(st.sampled_from([REQ_HEADER, "t,in", "", "t,in,out,x", "T,IN,OUT"]))
    body = "\n".join(_csv_row(r) for r in rows)
    if kind == "good-then-bad":
        body = TINY_REQUESTS.split("\n", 1)[1] + body
    return "req.csv", f"{header}\n{body}\n".encode()


@_settings(40)
@given(
    file=trace_files(),
    command=st.sampled_from(["simulate", "plan"]),
    skip=st.booleans(),
    as_json=st.booleans(),
)
def test_crafted_trace_files_exit_0_or_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    file: tuple[str, bytes],
    command: str,
    skip: bool,
    as_json: bool,
) -> None:
    path = tmp_path_factory.mktemp("trace") / file[0]
    path.write_bytes(file[1])
    trace = ("--trace", str(path), "--mapping", REQ_MAPPING, *(("--skip-bad-rows",) if skip else ()))
    if command == "simulate":
        argv = ["simulate", "serve", "--model", "llama-3-8b", "--fleet", "g6e.xlarge:1", *trace]
    else:
        argv = ["plan", "serve", "--model", "llama-3-8b", *trace, "--max-rounds", "0", "--instances", "inf2.xlarge",
                "--slo-ttft-p90", "2s", "--slo-tpot-p90", "100ms"]  # fmt: skip
    run_case(capsys, "trace files", argv, as_json)


@_settings(20)
@given(
    mapping=st.one_of(
        st.sampled_from(
            [
                "",
                ",",
                "=",
                "arrival",
                "arrival=t",
                "arrival=t,input=in",
                "arrival==t,input=in,output=out",
                "arrival=t,input=in,output=out,time_unit=eons",
                "arrival=t,input=in,output=out,time_unit=MS",
                "submit=t,chips=in,duration=out",
                "arrival=t,input=in,output=out,block_tokens=1e400",
                "arrival=t,input=in,output=out,hash_ids=x",
                "arrival=nope,input=in,output=out",
                "arrival=t,input=in,output=out,arrival=in",
            ]
        ),
        st.text(max_size=40),
    ),
    as_json=st.booleans(),
)
def test_mapping_option_exit_0_or_2(
    capsys: pytest.CaptureFixture[str], files: dict[str, Command], mapping: str, as_json: bool
) -> None:
    argv = _with(files["simulate serve"].base, [("--mapping", mapping)])
    run_case(capsys, "--mapping", argv, as_json)


@_settings(15)
@given(
    jobs=st.lists(st.tuples(st.sampled_from(["2017-10-01 00:00:00", "0001-01-01", "9999-12-31 23:59:59", "", "x",
                                             "2017-10-01T00:00:10"]), VALUES, VALUES), min_size=0, max_size=4),
    as_json=st.booleans(),
)  # fmt: skip
def test_crafted_job_files_exit_0_or_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    files: dict[str, Command],
    jobs: list[tuple[str, str, str]],
    as_json: bool,
) -> None:
    path = tmp_path_factory.mktemp("jobs") / "jobs.csv"
    path.write_text("timestamp,num_gpus,duration\n" + "".join(f"{t},{c},{d}\n" for t, c, d in jobs))
    argv = _with(files["simulate train"].base, [("--trace", str(path))])
    run_case(capsys, "job files", argv, as_json)


@st.composite
def overlays(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["values", "values", "values", "bytes", "deep", "aliases"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        depth = draw(st.integers(min_value=50, max_value=20_000))
        return ("schema_version: 1\nchips: " + "[" * depth + "]" * depth + "\n").encode()
    if kind == "aliases":
        lines = ["schema_version: 1", "x0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9]"]
        for i in range(1, draw(st.integers(min_value=1, max_value=9))):
            lines.append(f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
        return ("\n".join(lines) + "\n").encode()
    return OVERLAY.format(pue=draw(VALUES) or "1.2", chips=draw(VALUES) or "8", price=draw(VALUES) or "40").encode()


@_settings(20)
@given(overlay=overlays(), as_json=st.booleans())
def test_crafted_overlays_exit_0_or_2(
    capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory, overlay: bytes, as_json: bool
) -> None:
    path = tmp_path_factory.mktemp("overlay") / "overlay.yaml"
    path.write_bytes(overlay)
    argv = ["--catalog", str(path), "estimate", "serve", "--model", "llama-3-8b", "--instance", "my.box", "--region",
            "my-region"]  # fmt: skip
    run_case(capsys, "overlay files", argv, as_json)


def test_classify_catches_what_it_must() -> None:
    """The oracle itself: a crash, a traceback, NaN in JSON, a multi-line error and odd exit codes all fail it."""
    assert classify(0, '{"a": 1.5}', "", None, True) == ("exit 0", "")
    assert classify(2, '{"error": {"type": "ConfigError", "message": "bad"}}', "", None, True) == ("exit 2", "")
    assert classify(2, "", "error: bad --tp\n", None, False) == ("exit 2", "")
    assert classify(0, '{"a": NaN}', "", None, True)[0] == "nonsense"
    assert classify(0, '{"a": Infinity}', "", None, True)[0] == "nonsense"
    assert classify(0, "cost  nan $/h", "", None, False)[0] == "nonsense"
    assert classify(0, "inf2.48xlarge  1.5e+03", "", None, False)[0] == "exit 0"
    assert classify(None, "", "", ZeroDivisionError("x"), False)[0] == "crash"
    assert classify(2, "", "Traceback (most recent call last):\n  ...", None, False)[0] == "crash"
    assert classify(2, "", "error: one\nerror: two\n", None, False)[0] == "crash"
    assert classify(2, "", "error: bad record:\n  field cloud: no\n", None, False)[0] == "exit 2"
    assert classify(2, "", "bucketing 5 requests\nerror: bad --tp\n", None, False)[0] == "exit 2"
    assert classify(2, "", "bad --tp\n", None, False)[0] == "crash"
    assert classify(2, "", "error: bad --tp\nmore text\n", None, False)[0] == "crash"
    assert classify(1, "", "error: x", None, False)[0] == "crash"
