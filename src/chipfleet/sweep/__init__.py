"""Sweeps: scenario studies over the inputs of estimate / plan / simulate, run on local processes or a Ray cluster,
every finished point stored in the run store (resumable), reported with sensitivity, break-even and Pareto fronts."""

from chipfleet.sweep.points import Point, point_id, points, sweep_id
from chipfleet.sweep.spec import SweepSpec, load_spec, parse_spec

__all__ = ["Point", "SweepSpec", "load_spec", "parse_spec", "point_id", "points", "sweep_id"]
