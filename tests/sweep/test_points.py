"""Point ids: a stable hash of a point's inputs, the same in any process; named outputs by dotted paths."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
