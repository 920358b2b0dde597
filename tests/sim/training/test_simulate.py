"""simulate_training from a fleet spec and options, as serving runs; and the simulate train command."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError
from chipfleet.serialize import dumps
from chipfleet.sim.fleet import FleetSpec, Pool
from chipfleet.sim.training import (
    ThroughputMatrix,
    TrainingOptions,
    run_cluster,
    simulate_training,
    throughput_matrix,
)

from .jobs import jobs

MIXED = "p5.48xlarge:2,trn1.32xlarge:2"


def test_simulate_training_builds_its_pool_and_matrix(cat: Catalog) -> None:
    """From a fleet spec: the same result as a pool and a matrix built by hand and run with run_cluster."""
    trace = jobs([0, 0, 5, 30], [8, 16, 1, 4], [600, 900, 60, 300])
    spec = FleetSpec.parse(MIXED)
    res = simulate_training(trace, spec, cat, policy="sjf", seed=3)
    matrix = throughput_matrix(cat, ["p5.48xlarge", "trn1.32xlarge"])
    by_hand = run_cluster(trace, Pool.build(cat, spec), "sjf", matrix, seed=3)
    assert dumps(res) == dumps(by_hand)
    assert res.matrix == matrix and res.policy == "sjf" and res.completed == 4


def test_training_options(cat: Catalog) -> None:
    trace = jobs([0, 0], [8, 8], [100, 100])
    spec = FleetSpec.parse("p5.48xlarge:1,trn1.32xlarge:1")
    ref = simulate_training(trace, spec, cat, options=TrainingOptions(reference="p5.48xlarge"))
    assert ref.matrix.reference == "p5.48xlarge" and ref.matrix.relative("p5.48xlarge") == 1.0
    cut = simulate_training(trace, spec, cat, options=TrainingOptions(until_s=50.0, pue=1.5, window_s=10.0))
    assert cut.span_s == 50.0 and cut.window_s == 10.0 and {t.pue for t in cut.types} == {1.5}
    given = ThroughputMatrix.from_relative({"p5.48xlarge": 2.0, "trn1.32xlarge": 1.0})
    fixed = simulate_training(trace, spec, cat, matrix=given, options=TrainingOptions(reference="p5.48xlarge"))
    assert fixed.matrix is given  # a matrix the caller computed once wins over reference/workload
    bad: list[tuple[Callable[[], TrainingOptions], str]] = [
        (lambda: TrainingOptions(until_s=0.0), "until_s"),
        (lambda: TrainingOptions(window_s=-1.0), "window_s"),
        (lambda: TrainingOptions(pue=0.5), "pue"),
    ]
    for make, name in bad:
        with pytest.raises(ConfigError) as err:
            make()
        assert err.value.field == name and name in str(err.value)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from chipfleet.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_train_reads_a_job_file_through_mapping(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--mapping names a job file's columns and units, as for simulate serve and plan serve."""
    path = tmp_path / "jobs.csv"
    path.write_text("ts,gpus,runtime\n0,8,60\n30,4,2\n")
    code, out, err = _cli(capsys, "simulate", "train", "--fleet", "p5.48xlarge:1", "--trace", str(path),
                          "--mapping", "submit=ts,chips=gpus,duration=runtime,duration_unit=min", "--json")  # fmt: skip
    assert code == 0, err
    d = json.loads(out)
    assert d["jobs"] == 2 and d["completed"] == 2
    assert d["makespan_s"] == pytest.approx(3600 + 120)  # 60 min, then the 2-minute job waits for the node
    code, _, err = _cli(capsys, "simulate", "train", "--fleet", "p5.48xlarge:1", "--trace", str(path))
    assert code == 2 and "--mapping" in err and "submit=" in err
    code, _, err = _cli(capsys, "simulate", "train", "--fleet", "p5.48xlarge:1", "--trace", str(path),
                        "--mapping", "submit=ts,chips=gpus,duraton=runtime")  # fmt: skip
    assert code == 2 and "duration" in err and len(err.strip().splitlines()) == 1


def test_simulate_train_refuses_a_trace_no_job_fits(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "jobs.csv"
    path.write_text("submit,chips,duration\n0,64,3600\n")
    mapping = "submit=submit,chips=chips,duration=duration"
    code, out, err = _cli(capsys, "simulate", "train", "--fleet", "p5.48xlarge:1", "--trace", str(path),
                          "--mapping", mapping)  # fmt: skip
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "64 chips" in err and "most chips are 8" in err and "p5.48xlarge:8" in err
    path.write_text("submit,chips,duration\n0,64,3600\n1,8,60\n")
    code, out, err = _cli(capsys, "simulate", "train", "--fleet", "p5.48xlarge:1", "--trace", str(path),
                          "--mapping", mapping, "--json")  # fmt: skip
    assert code == 0, err
    d = json.loads(out)
    assert (d["completed"], d["unplaceable"]["jobs"], d["unfinished"]) == (1, 1, 0)
