"""How fast each instance type runs a trace job: the speed matrix of the job-level training simulation.

A job trace (Philly) gives, per job, the chips ``g`` it asked for and the run time ``D`` it took on the
trace's own hardware. It does not say what model it trained, so every job is converted with one reference
workload:

- **The reference instance type** ``R`` (a parameter; default: the slowest *accelerator* type of the fleet
  by modelled per-chip throughput, CPU types only when the fleet has no accelerator) is where ``D`` is taken
  to have been measured. Its relative speed is 1.
- **The per-chip speed of a type** ``X`` is the modelled training throughput, tokens/s per chip, of the
  reference workload (default: llama-2-7b, sequence 4,096, global batch 4 Mi tokens = 1,024 sequences, bf16)
  on one instance of ``X``, split by :func:`chipfleet.perf.choose_parallelism` (the fastest split that fits).
  A type whose one instance cannot hold the workload is modelled on the fewest instances, a power of two up
  to 64 (or the type's ``max_instances``), on which a split fits; a type on which none fits raises
  :class:`ConfigError`.
- **Relative speed** ``r_X = speed_X / speed_R``. A job that took ``D`` seconds on ``g`` reference chips
  takes ``D · speed_R / speed_X = D / r_X`` seconds on ``g`` chips of ``X``. The same ratio is used for every
  job and every chip count (no per-job speedups, no scaling loss across instances: a job keeps the ``g``
  chips it asked for; chipfleet's training model is not consulted per job).
- **Work** is counted in reference seconds at the job's own chip count (``D``); a running job on ``X``
  advances ``r_X`` of them per second. ``g · D`` is its work in reference chip-seconds.
- **Chips, not GPUs or cores**: one trace GPU is one chip of ``X`` (one Trainium chip, two NeuronCores; one
  TPU chip), as the catalog counts chips.
- **Whole instances**: a job gets ``ceil(g / chips_per_instance_X)`` instances of one type (gang scheduling).
  When ``g`` is not a multiple of the instance's chips, the surplus chips are held but idle: they are paid
  for (the instance's whole price), draw idle power, count as *allocated* but not *busy* in utilization, and
  do not make the job faster (no elastic re-scaling, unlike Pollux or Sia).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chipfleet.catalog import Catalog, Precision
from chipfleet.exceptions import ConfigError, UnknownNameError
from chipfleet.perf import TrainingSetup, choose_parallelism, hardware_for
from chipfleet.perf.training import min_chips_to_fit
from chipfleet.workloads import get_model

CUSTOM_SILICON_VENDORS = frozenset({"aws", "google", "microsoft"})
"""Chip vendors whose chips are a cloud's own silicon (Trainium, Inferentia, Graviton, TPU, Maia)."""

_MAX_MODELLED_INSTANCES = 64


@dataclass(frozen=True)
class ReferenceWorkload:
    """The training job whose modelled throughput sets each instance type's speed."""

    model: str = "llama-2-7b"
    seq_len: int = 4096
    global_batch_tokens: int = 4 * 2**20
    precision: Precision = Precision.BF16

    def __post_init__(self) -> None:
        if self.seq_len < 1 or self.global_batch_tokens < self.seq_len:
            raise ConfigError(
                f"reference workload: seq_len ({self.seq_len}) must be >= 1 and global_batch_tokens "
                f"({self.global_batch_tokens}) at least one sequence"
            )

    @property
    def global_batch(self) -> int:
        """Sequences per optimizer step."""
        return self.global_batch_tokens // self.seq_len

    def describe(self) -> str:
        return f"{self.model}, seq {self.seq_len}, batch {self.global_batch} seqs, {self.precision.value}"


@dataclass(frozen=True)
class TypeSpeed:
    """One instance type's speed: modelled tokens/s per chip (None for a hand-made matrix) and relative."""

    instance: str
    relative_speed: float
    tokens_per_s_per_chip: float | None = None
    modelled_instances: int = 1
    parallelism: str = ""


@dataclass(frozen=True)
class ThroughputMatrix:
    """Instance type → speed relative to the reference type (see the module docstring for the conversion)."""

    reference: str
    speeds: tuple[TypeSpeed, ...]
    workload: ReferenceWorkload | None = None

    def __post_init__(self) -> None:
        names = [s.instance for s in self.speeds]
        if len(set(names)) != len(names):
            raise ConfigError(f"throughput matrix lists an instance type twice: {names}")
        for s in self.speeds:
            if not (math.isfinite(s.relative_speed) and s.relative_speed > 0):
                raise ConfigError(f"relative speed of {s.instance} must be a finite number > 0, got {s.relative_speed}")

    @classmethod
    def from_relative(cls, speeds: Mapping[str, float], reference: str | None = None) -> ThroughputMatrix:
        """A hand-made matrix, e.g. ``{"p4d.24xlarge": 1.0, "p5.48xlarge": 2.0}`` (tests, what-ifs).

        Speeds are divided by the reference's (default: the slowest type), so the reference's is 1.
        """
        if not speeds:
            raise ConfigError("a throughput matrix needs at least one instance type")
        for name, v in speeds.items():
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"speed of {name} must be a finite number > 0, got {v}")
        ref = reference if reference is not None else min(speeds, key=lambda k: (speeds[k], k))
        if ref not in speeds:
            raise UnknownNameError("instance", ref, speeds)
        return cls(ref, tuple(TypeSpeed(name, float(v) / float(speeds[ref])) for name, v in speeds.items()))

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(s.instance for s in self.speeds)

    def speed(self, instance: str) -> TypeSpeed:
        for s in self.speeds:
            if s.instance == instance:
                return s
        raise UnknownNameError("instance", instance, self.types)

    def relative(self, instance: str) -> float:
        """``r_X``: reference seconds of work done per second on ``instance``."""
        return self.speed(instance).relative_speed

    def run_time_s(self, reference_duration_s: float, instance: str) -> float:
        """``D / r_X``: how long a job that took ``D`` s on the reference type takes on ``instance``."""
        return reference_duration_s / self.relative(instance)


def tokens_per_s_per_chip(catalog: Catalog, instance: str, workload: ReferenceWorkload) -> tuple[float, int, str]:
    """(tokens/s per chip, instances modelled, split) of ``workload`` on the fewest instances that hold it."""
    model = get_model(workload.model)
    setup = TrainingSetup(
        model, seq_len=workload.seq_len, global_batch=workload.global_batch, precision=workload.precision
    )
    hw = hardware_for(catalog, instance)
    cap = min(_MAX_MODELLED_INSTANCES, hw.max_instances or _MAX_MODELLED_INSTANCES)
    # One instance, else powers of two (batch and layer counts divide best by them) from the fewest
    # instances whose memory can hold the training state at all.
    least = math.ceil(min_chips_to_fit(model, setup, hw) / hw.chips_per_instance)
    tried = [1] + [n for n in (2**k for k in range(1, 7)) if least <= n <= cap]
    for n in tried:
        choice = choose_parallelism(model, setup, hw, n)
        if choice is not None:
            step = choice.step
            return step.tokens_per_s / (n * hw.chips_per_instance), n, step.parallelism.short()
    raise ConfigError(
        f"the reference workload ({workload.describe()}) has no valid split that fits on {instance} "
        f"(tried {tried} instances); pick a smaller reference model or drop {instance} from the fleet",
        field="fleet",
    )


def throughput_matrix(
    catalog: Catalog,
    types: Iterable[str],
    *,
    workload: ReferenceWorkload | None = None,
    reference: str | None = None,
) -> ThroughputMatrix:
    """The speed of each instance type in ``types`` relative to ``reference`` (module docstring).

    ``reference`` defaults to the slowest accelerator type among ``types`` (all types when none is an
    accelerator). It is a pure function and keeps no cache: a caller that needs the same matrix many times
    (a sweep, a benchmark) computes it once and passes it on (``simulate_training(..., matrix=...)``).
    """
    wl = workload if workload is not None else ReferenceWorkload()
    names = tuple(dict.fromkeys(catalog.instance(t).name for t in types))
    if not names:
        raise ConfigError("a throughput matrix needs at least one instance type")
    if reference is not None:
        reference = catalog.instance(reference).name
    ref_names = names if reference is None else (*names, reference)
    modelled = {name: tokens_per_s_per_chip(catalog, name, wl) for name in dict.fromkeys(ref_names)}
    return _relative(catalog, names, modelled, wl, reference)


def trainable_matrix(
    catalog: Catalog, types: Iterable[str], *, workload: ReferenceWorkload | None = None
) -> ThroughputMatrix:
    """The throughput matrix over those of ``types`` that can train the reference workload at all (in a mixed
    fleet the others, e.g. Inferentia, only serve); each type is modelled once."""
    wl = workload if workload is not None else ReferenceWorkload()
    names = tuple(dict.fromkeys(catalog.instance(t).name for t in types))
    modelled = {}
    for name in names:
        try:
            modelled[name] = tokens_per_s_per_chip(catalog, name, wl)
        except ConfigError:
            continue
    if not modelled:
        raise ConfigError(
            f"none of {', '.join(names)} can train the reference workload; add a training type", field="fleet"
        )
    return _relative(catalog, tuple(modelled), modelled, wl, None)


def _relative(
    catalog: Catalog,
    names: tuple[str, ...],
    modelled: Mapping[str, tuple[float, int, str]],
    wl: ReferenceWorkload,
    reference: str | None,
) -> ThroughputMatrix:
    """``r_X = speed_X / speed_R`` from modelled (tokens/s per chip, instances, split) per type."""
    if reference is None:
        accel = [n for n in names if catalog.chip_of(n).kind == "accelerator"] or list(names)
        reference = min(accel, key=lambda n: (modelled[n][0], n))
    ref_speed = modelled[reference][0]
    speeds = tuple(
        TypeSpeed(
            instance=name,
            relative_speed=modelled[name][0] / ref_speed,
            tokens_per_s_per_chip=modelled[name][0],
            modelled_instances=modelled[name][1],
            parallelism=modelled[name][2],
        )
        for name in names
    )
    return ThroughputMatrix(reference, speeds, wl)
