"""SplitwiseSim's profiled iteration times and GPU power (DGX-A100/H100) against chipfleet's iteration and power models.

The shipped table (``data/splitwise/perf_model.csv``, its README gives the source) holds five repeats of each
configuration: a batch of ``batch`` prompts of ``prompt_size`` tokens prefilled at once, then decoded together
for up to ``token_size`` tokens, with the mean prefill and decode iteration times, the run's end-to-end time and
the GPUs' average and peak power as fractions of TDP. A run is read as the median of its repeats.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.optimize import least_squares

from chipfleet.catalog import Catalog, Precision
from chipfleet.economics.costing import LoadPowerCurve, instance_power_w
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import Hardware, hardware_for
from chipfleet.perf.inference import ServingConfig, inference_memory
from chipfleet.perf.iteration import IterationModel
from chipfleet.perf.kernels import OVERLAP_EXPONENT, HostDispatch
from chipfleet.workloads import ModelArch, get_model

Phase = Literal["prefill", "decode"]
PHASES: tuple[Phase, Phase] = ("prefill", "decode")

# The profiled servers as chipfleet instances with the same chips and links: DGX-A100 (8 × A100 SXM 80GB,
# NVSwitch) is p4de.24xlarge's node, DGX-H100 (8 × H100 SXM, NVSwitch) p5.48xlarge's. The power-capped H100
# rows (h100-80gb-pcap) run at a lower clock chipfleet does not model: left out.
INSTANCES = {"a100-80gb": "p4de.24xlarge", "h100-80gb": "p5.48xlarge"}
MODELS = {"llama2-70b": "llama-2-70b", "bloom-176b": "bloom-176b"}
# The profiles ran fp16 weights and activations (Splitwise, ISCA 2024, section III).
PRECISION = Precision.FP16
COLUMNS = (
    "model",
    "hardware",
    "prompt_size",
    "batch_size",
    "token_size",
    "peak_power",
    "average_power",
    "prompt_time",
    "token_time",
    "e2e_time",
    "tensor_parallel",
)


@dataclass(frozen=True)
class ProfileRun:
    """One profiled configuration: the median of its repeats, times in seconds, power as a fraction of TDP
    (``None`` where the table has no measurement, written there as 0)."""

    model: str
    hardware: str
    tp: int
    prompt_tokens: int
    batch: int
    max_output_tokens: int
    prefill_s: float
    decode_s: float
    e2e_s: float
    average_power_fraction: float | None
    peak_power_fraction: float | None
    repeats: int

    @property
    def output_tokens(self) -> float:
        """Tokens generated per sequence, from the times: ``1 + (e2e − prefill) / decode`` (the prefill emits
        the first). Runs stop early at the model's end of text or context, so this, not ``token_size``, is what
        ran."""
        return 1.0 + (self.e2e_s - self.prefill_s) / self.decode_s

    @property
    def mean_context_tokens(self) -> float:
        """Cached tokens per sequence at the mean decode iteration: ``prompt + output/2``."""
        return self.prompt_tokens + self.output_tokens / 2.0

    def measured_s(self, phase: Phase) -> float:
        return self.prefill_s if phase == "prefill" else self.decode_s


def default_path() -> Path:
    """The shipped table."""
    return Path(str(resources.files("chipfleet.validate") / "data" / "splitwise" / "perf_model.csv"))


def _fraction(text: str) -> float | None:
    v = float(text)
    return v if v > 0 else None


def read_profiles(path: Path | None = None) -> tuple[ProfileRun, ...]:
    """Read ``perf_model.csv`` (the shipped copy by default) into one :class:`ProfileRun` per configuration,
    sorted by model, hardware, tp, prompt, batch and output length. A missing column or a non-number is a
    :class:`ConfigError` naming the line."""
    src = path or default_path()
    groups: dict[tuple[str, str, int, int, int, int], list[dict[str, float]]] = {}
    with src.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ConfigError(f"{src}: missing columns {', '.join(missing)}", field="path")
        for line, row in enumerate(reader, start=2):
            try:
                key = (
                    row["model"],
                    row["hardware"],
                    int(row["tensor_parallel"]),
                    int(row["prompt_size"]),
                    int(row["batch_size"]),
                    int(row["token_size"]),
                )
                values = {c: float(row[c]) for c in COLUMNS[5:10]}
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{src}, line {line}: {exc}", field="path") from exc
            groups.setdefault(key, []).append(values)
    runs = []
    for key, reps in sorted(groups.items()):

        def med(c: str, reps: list[dict[str, float]] = reps) -> float:
            return statistics.median(r[c] for r in reps)

        runs.append(
            ProfileRun(
                model=key[0],
                hardware=key[1],
                tp=key[2],
                prompt_tokens=key[3],
                batch=key[4],
                max_output_tokens=key[5],
                prefill_s=med("prompt_time") / 1e3,
                decode_s=med("token_time") / 1e3,
                e2e_s=med("e2e_time") / 1e3,
                average_power_fraction=_fraction(str(med("average_power"))),
                peak_power_fraction=_fraction(str(med("peak_power"))),
                repeats=len(reps),
            )
        )
    return tuple(runs)


@dataclass(frozen=True)
class Setup:
    """A run as chipfleet sees it."""

    model: ModelArch
    hw: Hardware


def setup(run: ProfileRun, catalog: Catalog) -> Setup | None:
    """The model and hardware of ``run``; ``None`` when chipfleet does not express it: a server it has no
    instance for (the power-capped H100), or a batch whose KV cache does not fit (the engine then ran it in
    parts, preempting sequences, so its times are not one batch's)."""
    if run.hardware not in INSTANCES or run.model not in MODELS:
        return None
    model, hw = get_model(MODELS[run.model]), hardware_for(catalog, INSTANCES[run.hardware])
    out = max(1, round(run.output_tokens))
    cfg = ServingConfig(
        model=model, batch=run.batch, input_tokens=run.prompt_tokens, output_tokens=out, tp=run.tp,
        weight_precision=PRECISION,
    )  # fmt: skip
    if not inference_memory(model, cfg, hw, run.tp).fits:
        return None
    return Setup(model, hw)


@dataclass(frozen=True)
class Predicted:
    """chipfleet's prefill and decode iteration of a run: times and device-busy times in seconds."""

    prefill_s: float
    prefill_busy_s: float
    decode_s: float
    decode_busy_s: float

    def time_s(self, phase: Phase) -> float:
        return self.prefill_s if phase == "prefill" else self.decode_s

    def run_s(self, output_tokens: float) -> float:
        """The whole run: one prefill then ``output − 1`` decode iterations."""
        return self.prefill_s + (output_tokens - 1.0) * self.decode_s

    def busy_fraction(self, output_tokens: float) -> float:
        """Share of the run the GPUs compute or stream memory."""
        busy = self.prefill_busy_s + (output_tokens - 1.0) * self.decode_busy_s
        return busy / self.run_s(output_tokens)


def predict(run: ProfileRun, where: Setup, host: HostDispatch | None = None) -> Predicted:
    """The prefill of ``batch × prompt`` tokens (causal keys ``b·p²/2``, every prompt finishing) and the decode
    iteration of ``batch`` sequences at the mean context, by :class:`IterationModel` with ``host`` dispatch."""
    it = IterationModel(where.model, where.hw, run.tp, PRECISION, host=host)
    b, p = run.batch, run.prompt_tokens
    pre = it.time(0, 0.0, b * p, b * p * p / 2.0, 0.0, b)
    dec = it.time(b, b * run.mean_context_tokens, 0, 0.0, 0.0, 0)
    return Predicted(prefill_s=pre[0], prefill_busy_s=pre[1], decode_s=dec[0], decode_busy_s=dec[1])


@dataclass(frozen=True)
class IterationError:
    """One run's one phase: measured and predicted iteration seconds."""

    run: ProfileRun
    phase: Phase
    measured_s: float
    predicted_s: float

    @property
    def error(self) -> float:
        """Signed relative error ``predicted / measured − 1``."""
        return self.predicted_s / self.measured_s - 1.0

    @property
    def ape(self) -> float:
        """Absolute percentage error, as a fraction."""
        return abs(self.error)


def iteration_errors(
    runs: Iterable[ProfileRun], predicted: Callable[[ProfileRun], Predicted | None]
) -> list[IterationError]:
    """Both phases of every run ``predicted`` expresses (``None``: left out)."""
    out = []
    for run in runs:
        pred = predicted(run)
        if pred is None:
            continue
        for phase in PHASES:
            out.append(IterationError(run, phase, run.measured_s(phase), pred.time_s(phase)))
    return out


def median_ape_by(
    errors: Iterable[IterationError], key: Callable[[IterationError], tuple[str | int, ...]]
) -> dict[tuple[str | int, ...], tuple[float, float, int]]:
    """Per group: (median APE, median signed error, rows), groups sorted."""
    groups: dict[tuple[str | int, ...], list[IterationError]] = {}
    for e in errors:
        groups.setdefault(key(e), []).append(e)
    return {
        k: (statistics.median(e.ape for e in v), statistics.median(e.error for e in v), len(v))
        for k, v in sorted(groups.items())
    }


# Starting point of the host-dispatch fit: ~20 eager kernels per layer at ~15 us of Python and launch each,
# ~0.3 ms of scheduling and sampling per sequence, ~20 ms of prompt set-up; all positive.
_HOST_START = np.array([3e-4, 3e-4, 2e-2])


def fit_host_dispatch(runs: Sequence[tuple[ProfileRun, Setup]], exponent: float = OVERLAP_EXPONENT) -> HostDispatch:
    """Fit :class:`HostDispatch` (per layer, per sequence, per prefill) on ``runs`` of one host: least squares
    on the log of predicted / measured over both phases, with a soft-L1 loss (scale 10 %) so a few odd rows
    do not steer it. The device roofline and its family parameters stay as calibrated."""
    if not runs:
        raise ConfigError("no profiled runs to fit host dispatch on", field="runs")

    def residuals(x: np.ndarray) -> list[float]:
        layer, seq, pre = (float(v) for v in np.abs(x))
        host = HostDispatch(layer_s=layer, sequence_s=seq, prefill_s=pre, overlap_exponent=exponent)
        res = []
        for run, where in runs:
            pred = predict(run, where, host)
            res += [math.log(pred.time_s(ph) / run.measured_s(ph)) for ph in PHASES]
        return res

    sol = least_squares(residuals, _HOST_START, x_scale=_HOST_START, loss="soft_l1", f_scale=0.1)
    layer, seq, pre = (float(v) for v in np.abs(sol.x))
    return HostDispatch(layer_s=layer, sequence_s=seq, prefill_s=pre, overlap_exponent=exponent)


def expressed(runs: Iterable[ProfileRun], catalog: Catalog) -> list[tuple[ProfileRun, Setup]]:
    """The runs chipfleet expresses, with their setups (:func:`setup`)."""
    out = []
    for run in runs:
        where = setup(run, catalog)
        if where is not None:
            out.append((run, where))
    return out


def fit_per_hardware(
    runs: Sequence[tuple[ProfileRun, Setup]], exponent: float = OVERLAP_EXPONENT
) -> dict[str, HostDispatch]:
    """One :class:`HostDispatch` per profiled server (its host CPU and engine), fitted on its runs."""
    return {
        hw: fit_host_dispatch([r for r in runs if r[0].hardware == hw], exponent)
        for hw in sorted({r[0].hardware for r in runs})
    }


@dataclass(frozen=True)
class HeldOut:
    """Leave-one-TP-out: the host dispatch fitted without ``tp`` and the errors on ``tp``'s runs."""

    tp: int
    fitted: dict[str, HostDispatch]
    errors: list[IterationError]


def leave_one_tp_out(runs: Sequence[tuple[ProfileRun, Setup]], exponent: float = OVERLAP_EXPONENT) -> list[HeldOut]:
    """For each TP degree: fit on the other degrees' runs, predict this one's."""
    out = []
    for tp in sorted({r[0].tp for r in runs}):
        fitted = fit_per_hardware([r for r in runs if r[0].tp != tp], exponent)
        test = [r for r in runs if r[0].tp == tp]
        errs = [
            IterationError(run, ph, run.measured_s(ph), predict(run, where, fitted.get(run.hardware)).time_s(ph))
            for run, where in test
            for ph in PHASES
        ]
        out.append(HeldOut(tp, fitted, errs))
    return out


# Power under load ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerPoint:
    """A run with measured average GPU power: the predicted busy fraction and power, and the energy per
    generated token, measured and predicted (GPU power only: the table measures the GPUs)."""

    run: ProfileRun
    busy_fraction: float
    measured_fraction: float
    predicted_fraction: float
    measured_j_per_token: float
    predicted_j_per_token: float

    @property
    def power_error(self) -> float:
        return self.predicted_fraction / self.measured_fraction - 1.0

    @property
    def j_per_token_error(self) -> float:
        return self.predicted_j_per_token / self.measured_j_per_token - 1.0


def power_points(
    runs: Sequence[tuple[ProfileRun, Setup]],
    catalog: Catalog,
    hosts: dict[str, HostDispatch] | None,
    curve: LoadPowerCurve | None,
) -> list[PowerPoint]:
    """Each run with a measured average power and a prompt within the model's context: chipfleet's run time
    and busy fraction (``hosts`` per server, ``None``: the roofline alone) and its chip power (``curve``,
    ``None``: the catalog's idle-to-TDP line, :class:`chipfleet.economics.costing.PowerModel`), against the
    measurement. Prompts beyond the model's
    context (8192 tokens for Llama-2-70B's 4096) are left out: their recorded average power, 0.17-0.18 of TDP,
    is below what every other run of the same server draws even while waiting, so the reading is not one of
    that run."""
    out = []
    for run, where in runs:
        if run.average_power_fraction is None or run.prompt_tokens > where.model.max_position_embeddings:
            continue
        pred = predict(run, where, None if hosts is None else hosts.get(run.hardware))
        n = run.output_tokens
        u = pred.busy_fraction(n)
        tdp = where.hw.tdp_w
        if curve is None:
            power = instance_power_w(catalog, catalog.instance(where.hw.instance))
            frac = (power.chip_idle_w + (power.chip_tdp_w - power.chip_idle_w) * u) / power.chip_tdp_w
        else:
            frac = curve.fraction(u)
        tokens = run.batch * n
        out.append(
            PowerPoint(
                run=run,
                busy_fraction=u,
                measured_fraction=run.average_power_fraction,
                predicted_fraction=frac,
                measured_j_per_token=run.average_power_fraction * tdp * run.tp * run.e2e_s / tokens,
                predicted_j_per_token=frac * tdp * run.tp * pred.run_s(n) / tokens,
            )
        )
    return out


def fit_power_curve(points: Sequence[PowerPoint]) -> LoadPowerCurve:
    """Fit :class:`LoadPowerCurve` ``floor + slope·u`` to the measured average power fractions by least squares
    on the log ratio, soft-L1 (scale 5 %) so a few odd readings do not steer it; ``points`` carry chipfleet's
    busy fractions."""
    if len(points) < 2:
        raise ConfigError("fitting a power curve needs at least two runs with measured power", field="points")
    u = np.array([p.busy_fraction for p in points])
    y = np.array([p.measured_fraction for p in points])

    def residuals(x: np.ndarray) -> np.ndarray:
        return np.asarray(np.log(np.minimum(1.0, np.abs(x[0]) + np.abs(x[1]) * u) / y))

    sol = least_squares(residuals, np.array([0.2, 0.6]), loss="soft_l1", f_scale=0.05)
    return LoadPowerCurve(floor_fraction=float(abs(sol.x[0])), slope=float(abs(sol.x[1])))
