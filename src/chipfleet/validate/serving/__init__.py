"""Serving under load: the closed-loop model, serving-benchmark records and their validation."""

from chipfleet.validate.serving.closed_loop import ClosedLoad, ClosedLoopResult, closed_loop, first_wave_ttft_s

__all__ = ["ClosedLoad", "ClosedLoopResult", "closed_loop", "first_wave_ttft_s"]
