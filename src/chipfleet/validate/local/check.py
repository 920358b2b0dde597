"""Check the model on this machine: predictions for instance ``local`` against a real PyTorch decoder.

:func:`validate_local` times a small decoder-only transformer (random weights, no download) with
:func:`chipfleet.validate.local.bench.time_decoder` and compares each phase with the model's prediction for the
instance ``local`` of the measured overlay: ``APE = |predicted − measured| / measured``. Nothing here prints.

The whole flow, each step a plain function returning a frozen record: :func:`measure_local` (bench) →
:func:`local_overlay` (overlay, typed catalog records) → :func:`validate_local` (here).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from chipfleet.catalog import Catalog, Chip, Precision, load_catalog
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import Hardware, hardware_for
from chipfleet.perf.inference import ServingConfig, decode_step_time, prefill_time
from chipfleet.perf.training import Parallelism, Recompute, TrainingSetup, training_step
from chipfleet.validate.local.bench import (
    DecoderTimings,
    LocalMeasurement,
    LocalShapes,
    default_local_model,
    time_decoder,
)
from chipfleet.validate.local.machine import TORCH_PRECISIONS
from chipfleet.validate.local.overlay import INSTANCE, TORCH_DEVICE_NOTE, catalog_with_local
from chipfleet.workloads.models import ModelArch

TRAINING_APE_SANITY_BOUND = 2.0  # benchmarks/local_validation.py checks it: a sanity bound, not a target


@dataclass(frozen=True)
class PhaseComparison:
    """One phase: the model's prediction next to the measured time (median of ``samples_s``)."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("ape", "ratio")

    phase: str  # "training step", "prefill", "decode step"
    shape: str
    predicted_s: float
    measured_s: float
    samples_s: tuple[float, ...]
    bound: str
    breakdown: Mapping[str, float] = field(default_factory=dict)

    @property
    def ape(self) -> float:
        """Absolute percentage error as a fraction: ``|predicted − measured| / measured``."""
        return abs(self.predicted_s - self.measured_s) / self.measured_s

    @property
    def ratio(self) -> float:
        """predicted ÷ measured (> 1: the model is pessimistic)."""
        return self.predicted_s / self.measured_s


@dataclass(frozen=True)
class LocalValidation:
    """The model's predictions for instance ``local`` against real PyTorch runs on it."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("mape",)

    device: str
    device_name: str
    chip: str
    model: ModelArch
    params: int  # parameters of the torch model (equal to model.params_total)
    precision: Precision
    torch_version: str
    threads: int
    shapes: LocalShapes
    phases: tuple[PhaseComparison, ...]
    wall_s: float

    @property
    def mape(self) -> float:
        return sum(p.ape for p in self.phases) / len(self.phases)

    def phase(self, name: str) -> PhaseComparison:
        for p in self.phases:
            if p.phase == name:
                return p
        raise ConfigError(f"no phase {name!r}; phases: {', '.join(p.phase for p in self.phases)}")


def _local_catalog(source: LocalMeasurement | Catalog | str | os.PathLike[str]) -> Catalog:
    if isinstance(source, LocalMeasurement):
        return catalog_with_local(source)
    if isinstance(source, Catalog):
        return source
    return load_catalog([Path(source)], use_env=False)


def _device_of(chip: Chip) -> str:
    for note in chip.notes:
        if note.startswith(TORCH_DEVICE_NOTE):
            return note[len(TORCH_DEVICE_NOTE) :].strip()
    return "cpu"


def _best_torch_precision(hw: Hardware) -> Precision:
    usable = {p: f for p, f in hw.peak_flops_per_s.items() if p in TORCH_PRECISIONS}
    if not usable:
        raise ConfigError(f"{hw.chip} lists no fp32, bf16 or fp16 peak; measure this machine again (measure_local)")
    return max(usable, key=lambda p: usable[p])


def validate_local(
    source: LocalMeasurement | Catalog | str | os.PathLike[str],
    model: ModelArch | None = None,
    quick: bool = False,
    *,
    shapes: LocalShapes | None = None,
    precision: Precision | None = None,
) -> LocalValidation:
    """Time a real training step, prefill and decode step of ``model`` here and compare with the model.

    ``source``: a :class:`LocalMeasurement`, an overlay path written by :func:`write_local_overlay`, or a
    catalog that already holds instance ``local``. ``model`` defaults to :func:`default_local_model`.
    Runs on the device the overlay was measured on, in ``precision`` (default: the chip's fastest measured
    precision), the same precision in PyTorch and in the model. The phases are those of
    :func:`chipfleet.validate.local.bench.time_decoder`; the predictions those of :func:`predict_phases`.
    """
    t_start = time.perf_counter()
    arch = model or default_local_model()
    sh = shapes or (LocalShapes.quick() if quick else LocalShapes())
    cat = _local_catalog(source)
    hw = hardware_for(cat, INSTANCE)
    chip = cat.chip_of(INSTANCE)
    prec = precision or _best_torch_precision(hw)
    if prec not in hw.peak_flops_per_s:
        raise ConfigError(
            f"{chip.name} has no measured {prec.value} peak; measured: {', '.join(hw.peak_flops_per_s)}",
            field="precision",
        )
    timings = time_decoder(arch, sh, _device_of(chip), prec)
    return LocalValidation(
        device=timings.device,
        device_name=chip.display_name,
        chip=chip.name,
        model=arch,
        params=timings.params,
        precision=prec,
        torch_version=timings.torch_version,
        threads=timings.threads,
        shapes=sh,
        phases=predict_phases(arch, hw, sh, prec, timings),
        wall_s=time.perf_counter() - t_start,
    )


def predict_phases(
    arch: ModelArch, hw: Hardware, shapes: LocalShapes, precision: Precision, timings: DecoderTimings
) -> tuple[PhaseComparison, ...]:
    """The model's prediction of each timed phase, next to the measured median.

    - training step vs ``training_step`` with tp = pp = dp = 1, one micro-batch of the whole batch, no recompute;
    - prefill vs ``prefill_time`` (logits of the last token only, as the model counts);
    - decode step vs ``decode_step_time`` at the mean context ``input + output/2`` (chipfleet's TPOT convention).
    """
    sh = shapes
    setup = TrainingSetup(model=arch, seq_len=sh.seq_len, global_batch=sh.train_batch, precision=precision)
    par = Parallelism(
        tp=1, pp=1, dp=1, micro_batch=sh.train_batch, recompute=Recompute.NONE, sequence_parallel=False, zero=0
    )
    step = training_step(arch, setup, par, hw, instances=1)
    cfg = ServingConfig(
        model=arch,
        batch=sh.serve_batch,
        input_tokens=sh.input_tokens,
        output_tokens=sh.output_tokens,
        tp=1,
        weight_precision=precision,
        kv_precision=precision,
    )
    pre = prefill_time(arch, hw, 1, sh.serve_batch, sh.input_tokens, cfg)
    context = sh.input_tokens + sh.output_tokens / 2
    dec = decode_step_time(arch, hw, 1, sh.serve_batch, context, cfg)
    return (
        PhaseComparison(
            phase="training step",
            shape=f"{sh.train_batch} x {sh.seq_len} tokens, AdamW",
            predicted_s=step.step_time_s,
            measured_s=statistics.median(timings.train_step_s),
            samples_s=timings.train_step_s,
            bound=step.bound.removesuffix("_s"),
            breakdown={k: v for k, v in step.breakdown.items() if v > 0},
        ),
        PhaseComparison(
            phase="prefill",
            shape=f"{sh.serve_batch} x {sh.input_tokens} tokens",
            predicted_s=pre.time_s,
            measured_s=statistics.median(timings.prefill_s),
            samples_s=timings.prefill_s,
            bound=pre.bound,
            breakdown=pre.breakdown,
        ),
        PhaseComparison(
            phase="decode step",
            shape=f"{sh.serve_batch} seqs at context {context:g} (mean of {sh.output_tokens} steps)",
            predicted_s=dec.time_s,
            measured_s=statistics.median(timings.decode_step_s),
            samples_s=timings.decode_step_s,
            bound=dec.bound,
            breakdown=dec.breakdown,
        ),
    )
