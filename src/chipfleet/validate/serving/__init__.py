"""Serving under load: the closed-loop model, serving-benchmark records and their validation."""

from chipfleet.validate.serving.calibrate import EngineFit, ServingCalibration, calibrate_serving
from chipfleet.validate.serving.closed_loop import ClosedLoad, ClosedLoopResult, closed_loop, first_wave_ttft_s
from chipfleet.validate.serving.estimate import ClosedLoopEstimate, estimate_closed_loop
from chipfleet.validate.serving.open_loop import OpenLoad, OpenLoopResult, open_loop
from chipfleet.validate.serving.predict import RecordSkip, ServingCase, map_record, metric_value, predict_case
from chipfleet.validate.serving.records import (
    RecordSet,
    ServingRecord,
    load_records,
    looks_like_serving_records,
    parse_records,
    resolve_dataset,
    shipped_datasets,
    shipped_inferencex,
)
from chipfleet.validate.serving.runner import (
    GroupSummary,
    MetricSummary,
    ServingReport,
    ServingRow,
    ServingSkipped,
    summarize_by,
    validate_serving,
)

__all__ = [
    "ClosedLoad",
    "ClosedLoopEstimate",
    "ClosedLoopResult",
    "EngineFit",
    "GroupSummary",
    "MetricSummary",
    "OpenLoad",
    "OpenLoopResult",
    "RecordSet",
    "RecordSkip",
    "ServingCalibration",
    "ServingCase",
    "ServingRecord",
    "ServingReport",
    "ServingRow",
    "ServingSkipped",
    "calibrate_serving",
    "closed_loop",
    "estimate_closed_loop",
    "first_wave_ttft_s",
    "load_records",
    "looks_like_serving_records",
    "map_record",
    "metric_value",
    "open_loop",
    "parse_records",
    "predict_case",
    "resolve_dataset",
    "shipped_datasets",
    "shipped_inferencex",
    "summarize_by",
    "validate_serving",
]
