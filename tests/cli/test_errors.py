"""Errors reach the CLI user in the CLI's terms: a library field is named as the option that set it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import typer.main

from chipfleet.cli import app, main
from chipfleet.cli.errors import COMMAND_FLAGS, FLAGS, flags_for, invoked
from chipfleet.exceptions import ConfigError

PLAN_SERVE = [
    "plan", "serve", "--model", "llama-3-8b", "--rate", "1/s", "--input-tokens", "1k", "--output-tokens", "100",
    "--slo-ttft-p90", "1s", "--slo-tpot-p90", "50ms",
]  # fmt: skip


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> dict[str, Any]:
    subs = getattr(cmd, "commands", None)
    if not subs:
        return {" ".join(path): cmd}
    return {k: v for name, sub in subs.items() for k, v in _commands(sub, (*path, name)).items()}


def _options(cmd: Any) -> set[str]:
    return {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}


COMMANDS = _commands(typer.main.get_command(app))


def test_every_mapped_flag_is_an_option_of_a_command() -> None:
    every = set().union(*(_options(c) for c in COMMANDS.values()))
    assert FLAGS and not {flag for flag in FLAGS.values() if flag not in every}
    for path, names in COMMAND_FLAGS.items():
        assert path in COMMANDS, path
        assert set(names.values()) <= _options(COMMANDS[path]), path


def test_a_command_maps_only_the_options_it_has() -> None:
    assert flags_for("plan serve", COMMANDS["plan serve"])["max_seqs"] == "--max-batch"
    assert flags_for("simulate serve", COMMANDS["simulate serve"])["max_seqs"] == "--max-seqs"
    assert "precision" not in flags_for("validate", COMMANDS["validate"])  # validate has no --precision


def test_the_invoked_command_is_found_past_the_root_options() -> None:
    root = typer.main.get_command(app)
    path, cmd = invoked(root, ["--catalog", "plan", "plan", "serve", "--tp", "1"])
    assert path == "plan serve" and _options(cmd) == _options(COMMANDS["plan serve"])
    assert invoked(root, ["validate", "--data", "x.csv"])[0] == "validate"


@pytest.mark.parametrize("as_json", [False, True])
def test_a_library_field_reaches_the_user_as_its_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    def refuse(*args: object) -> None:
        raise ConfigError("ttft_p90_s must be more than 0 s, got -1", field="ttft_p90_s")

    monkeypatch.setattr("chipfleet.cli.plan_serve.workload", refuse)
    code = main([*PLAN_SERVE, *(["--json"] if as_json else [])])
    out, err = capsys.readouterr()
    message = json.loads(out)["error"]["message"] if as_json else err
    assert code == 2 and "--slo-ttft-p90 must be more than 0 s" in message and "ttft_p90_s" not in message


def test_the_serving_planners_own_check_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*PLAN_SERVE, "--max-batch-tokens", "8"])
    err = capsys.readouterr().err
    assert code == 2 and "--max-batch-tokens must be at least 16" in err


NOISY = """
import os, sys
from chipfleet.cli import main
from chipfleet.cli.options import State
load = State.catalog.__func__
def noisy(cls):
    os.write(1, b"HiGHS note written to descriptor 1\\n")  # what a native solver does
    return load(cls)
State.catalog = classmethod(noisy)
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("as_json", [False, True])
def test_output_is_not_corrupted_by_native_writes_to_descriptor_1(as_json: bool) -> None:
    args = ["catalog", "regions", *(["--json"] if as_json else [])]
    done = subprocess.run([sys.executable, "-c", NOISY, *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "HiGHS" not in done.stdout and "us-east-1" in done.stdout
    if as_json:
        assert json.loads(done.stdout)


def test_the_noisy_writer_really_writes_to_descriptor_1() -> None:
    """Without the CLI's guard the note reaches stdout: what proves the test above tests the guard."""
    script = NOISY.replace("sys.exit(main(sys.argv[1:]))", "State.catalog(); sys.exit(0)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert "HiGHS note" in done.stdout


def test_concurrency_refuses_the_layout_options_it_does_not_model(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["estimate", "serve", "--model", "gpt-oss-120b", "--instance", "p5.48xlarge", "--concurrency", "8"]
    assert main([*args, "--pp", "2", "--batch", "4"]) == 2
    err = capsys.readouterr().err
    assert "--pp" in err and "--batch" in err and "does not model" in err
