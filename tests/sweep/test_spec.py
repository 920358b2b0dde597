"""The sweep spec: validated with errors that name the key path, grid and random counts, ranges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.sweep.points import points
from chipfleet.sweep.spec import Range, load_spec, parse_spec

BASE: dict[str, Any] = {
    "name": "t",
    "command": "estimate train",
    "fixed": {"model": "llama-3-8b", "tokens": "10B"},
    "axes": {"instances": [1, 2, 4], "instance": ["trn1.32xlarge", "p5.48xlarge"]},
    "outputs": {"cost_usd": "footprint.cost_usd"},
}


def spec(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (spec(axes={"instances": [1, 1]}), r"axes: instances: the value '1' appears twice"),
        (spec(axes={"instances": []}), r"axes: instances: give a non-empty list"),
        (spec(command="estimate"), r"command: .*an estimate, plan or simulate command"),
        (spec(command="runs list"), r"command: .*an estimate, plan or simulate command"),
        (spec(outputs={}), r"outputs: .*outputs must map names to dotted paths"),
        (spec(outputs={"Cost": "a.b"}), r"output name 'Cost' must be lower case"),
        (spec(sampling={"method": "random"}), r"sampling: random sampling needs `points`"),
        (spec(sampling={"method": "grid", "points": 3}), r"sampling: `points` is for random sampling"),
        (spec(axes={"instances": {"from": 4, "to": 1, "num": 3}}), r"axes.instances.*`to` \(1\) must be greater"),
        (spec(prices={"trn": {"instances": "trn*", "values": [0, 1]}}), r"prices.trn.values: .*finite and > 0"),
        (spec(prices={"trn": {"instances": "trn*", "value": [1]}}), r"prices.trn.value: unknown key"),
        (spec(axis={"x": [1]}), r"axis: unknown key"),
        (
            spec(report={"break_even": [{"output": "cost", "across": "instances", "between": "instance"}]}),
            r"report.break_even\[0\].output: no output 'cost'",
        ),
        (
            spec(report={"pareto": [{"x": "cost_usd", "y": "cost_usd", "where": {"zone": 1}}]}),
            r"report.pareto\[0\].where: no axis 'zone'",
        ),
        (spec(command=None), r"give `command:`"),
        (
            spec(command=None, axes={"w": [{"command": "estimate train"}, {"instance": "x"}]}),
            r"axes.w\[1\]: give a `command` in every value",
        ),
        (spec(fixed={"model": {"a": 1}}), r"fixed: model: give a number, text"),
        (["not", "a", "mapping"], r"a sweep spec is a mapping"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_key_path(data: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_spec(data, "s.yaml")


def test_option_names_are_read_in_any_spelling() -> None:
    s = parse_spec(spec(fixed={"--global-batch": 512, "seq-len": "4k"}, axes={"micro-batch": [1, 2]}))
    assert s.fixed == {"global_batch": 512, "seq_len": "4k"}
    assert list(s.axes) == ["micro_batch"]


def test_grid_counts_every_combination_and_random_draws_the_points_asked() -> None:
    grid = parse_spec(spec(prices={"trn": {"instances": "trn*", "values": [0.5, 1.0]}}))
    assert grid.size() == 3 * 2 * 2 == len(list(points(grid)))
    rnd = parse_spec(spec(sampling={"method": "random", "points": 5, "seed": 3}))
    drawn = list(points(rnd))
    assert len(drawn) == 5 and len({p.point_id for p in drawn}) == 5  # discrete axes: drawn without replacement
    assert [p.point_id for p in drawn] == [p.point_id for p in points(rnd)]  # same seed, same points
    other = parse_spec(spec(sampling={"method": "random", "points": 5, "seed": 4}))
    assert [p.point_id for p in points(other)] != [p.point_id for p in drawn]


def test_random_sampling_of_more_points_than_the_grid_holds_is_refused() -> None:
    rnd = parse_spec(spec(sampling={"method": "random", "points": 7}))
    with pytest.raises(ConfigError, match="more than the 6 distinct combinations"):
        list(points(rnd))


def test_a_continuous_range_draws_within_its_bounds() -> None:
    s = parse_spec(
        spec(
            axes={"instances": {"from": 1, "to": 64, "log": True, "integer": True}},
            sampling={"method": "random", "points": 50, "seed": 1},
        )
    )
    values = [p.options["instances"] for p in points(s)]
    assert len(values) == 50 and all(isinstance(v, int) and 1 <= v <= 64 for v in values)
    assert s.grid_size() is None


def test_range_grids_are_even_or_geometric() -> None:
    assert Range.model_validate({"from": 0.5, "to": 1.5, "num": 3}).grid() == [0.5, 1.0, 1.5]
    assert Range.model_validate({"from": 1, "to": 100, "num": 3, "log": True}).grid() == pytest.approx([1, 10, 100])
    assert Range.model_validate({"from": 1, "to": 8, "num": 8, "integer": True}).grid() == list(range(1, 9))


def test_load_spec_reports_yaml_errors_with_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML"):
        load_spec(bad)
    with pytest.raises(ConfigError, match=r"cannot read the sweep spec"):
        load_spec(tmp_path / "missing.yaml")


def test_the_shipped_examples_are_valid() -> None:
    examples = sorted((Path(__file__).parents[2] / "examples").glob("sweep_*.yaml"))
    assert len(examples) >= 2
    for path in examples:
        s = load_spec(path)
        assert s.size() > 0 and s.outputs
