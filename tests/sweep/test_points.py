"""Point ids: a stable hash of a point's inputs, the same in any process; named outputs by dotted paths."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.sweep.points import Missing, PriceRule, pick, pick_outputs, point_id, points, sweep_id
from chipfleet.sweep.spec import parse_spec

SPEC = {
    "name": "ids",
    "command": "estimate serve",
    "fixed": {"model": "llama-3-8b"},
    "axes": {"instance": ["inf2.48xlarge", "p5.48xlarge"], "batch": [8, 16]},
    "prices": {"custom": {"instances": "inf*", "values": [0.5, 1.0]}},
    "outputs": {"usd": "cost_usd_per_million_tokens"},
}


def test_a_point_id_is_the_sha256_of_its_inputs_and_the_same_in_another_process() -> None:
    here = [p.point_id for p in points(parse_spec(SPEC))]
    code = (
        "from chipfleet.sweep.points import points; from chipfleet.sweep.spec import parse_spec; "
        f"print(' '.join(p.point_id for p in points(parse_spec({SPEC!r}))))"
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert here == there and len(set(here)) == 8 and all(len(i) == 64 for i in here)


def test_ids_change_with_any_input_and_not_with_the_order_options_are_given_in() -> None:
    rule = (PriceRule("inf*", (), 0.5),)
    a = point_id("estimate serve", {"model": "m", "batch": 8}, rule)
    assert a == point_id("estimate serve", {"batch": 8, "model": "m"}, rule)
    assert a != point_id("estimate serve", {"model": "m", "batch": 9}, rule)
    assert a != point_id("estimate train", {"model": "m", "batch": 8}, rule)
    assert a != point_id("estimate serve", {"model": "m", "batch": 8}, (PriceRule("inf*", (), 0.6),))


def test_the_sweep_id_ignores_the_report_section_but_not_the_catalog() -> None:
    s = parse_spec(SPEC)
    t = parse_spec({**SPEC, "name": "renamed", "report": {"pareto": [{"x": "usd", "y": "usd"}]}})
    assert sweep_id(s, "h1") == sweep_id(t, "h1") != sweep_id(s, "h2")
    assert len(sweep_id(s, "h1")) == 32


def test_points_carry_their_coordinates_and_bundles_set_several_options() -> None:
    s = parse_spec(
        {
            **SPEC,
            "axes": {
                "setup": [
                    {"label": "small", "instance": "inf2.48xlarge", "batch": 4},
                    {"label": "big", "instance": "p5.48xlarge", "batch": 64},
                ]
            },
        }
    )
    first = next(points(s))
    assert first.coords == {"setup": "small", "prices.custom": 0.5}
    assert first.options == {"model": "llama-3-8b", "instance": "inf2.48xlarge", "batch": 4}
    assert first.prices == (PriceRule("inf*", (), 0.5),)


RESULT = {
    "a": {"b": [1, 2, {"c": 3}]},
    "types": [{"instance": "p5.48xlarge", "cost": 10}, {"instance": "x", "cost": 2}],
}


@pytest.mark.parametrize(
    ("path", "value"),
    [("a.b.0", 1), ("a.b[1]", 2), ("a.b.2.c", 3), ("a.b.-1.c", 3), ("types[instance=P5.48xlarge].cost", 10)],
)
def test_dotted_paths_pick_keys_indexes_and_items_by_field(path: str, value: object) -> None:
    assert pick(RESULT, path) == value


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("a.z", r"no key 'z' at a \(keys there: b\)"),
        ("a.b.7", "not an index of the 3-item list"),
        ("a.b.0.c", "is a value"),
        ("types[instance=y]", "no item with instance=y"),
    ],
)
def test_a_path_that_leads_nowhere_says_where_it_stopped(path: str, why: str) -> None:
    with pytest.raises(Missing, match=why):
        pick(RESULT, path)


def test_outputs_take_the_first_path_that_exists() -> None:
    picked, missing = pick_outputs(RESULT, {"x": ["nope", "a.b.0"], "y": ["gone"]})
    assert picked == {"x": 1, "y": None} and list(missing) == ["y"]


def test_random_sampling_past_2_to_the_63_combinations_draws_each_axis_on_its_own() -> None:
    axis = {"from": 0.5, "to": 1.5, "num": 100_000}
    prices = {f"p{i}": {"instances": "inf*", "values": axis} for i in range(4)}  # 10^20 combinations
    spec = parse_spec({**SPEC, "prices": prices, "sampling": {"method": "random", "points": 20, "seed": 1}})
    assert (spec.grid_size() or 0) > 2**63
    drawn = list(points(spec))
    assert len(drawn) == 20 == len({p.point_id for p in drawn}) and [p.seq for p in drawn] == list(range(20))
    assert all(0.5 <= p.coords[f"prices.p{i}"] <= 1.5 for p in drawn for i in range(4))
    assert [p.point_id for p in drawn] == [p.point_id for p in points(spec)]  # seeded: the same draws again


def test_random_draws_give_distinct_points_and_too_few_distinct_ones_are_refused() -> None:
    # an integer range without num is drawn with replacement: 4 batches x 2 instances = 8 distinct points at most
    axes = {"instance": ["inf2.48xlarge", "p5.48xlarge"], "batch": {"from": 1, "to": 4, "integer": True}}
    spec = parse_spec({**SPEC, "axes": axes, "prices": {}, "sampling": {"method": "random", "points": 8, "seed": 2}})
    drawn = list(points(spec))
    assert len(drawn) == spec.size() == 8 == len({p.point_id for p in drawn})
    assert [p.seq for p in drawn] == list(range(8))
    too_many = parse_spec({**SPEC, "axes": axes, "prices": {}, "sampling": {"method": "random", "points": 12}})
    with pytest.raises(ConfigError, match=r"asked for 12 distinct points, found 8 in \d+ random draws"):
        list(points(too_many))
