"""This machine as a catalog overlay: typed catalog records built from a :class:`LocalMeasurement`.

:func:`local_overlay` returns a :class:`CatalogFile` (a source, an efficiency family, a chip and the instance
``local``), every figure saying whether it was measured or estimated and how. It goes to
:func:`chipfleet.catalog.loader.build_catalog` in memory (:func:`catalog_with_local`), or to a YAML file a user
loads later (:func:`write_local_overlay`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from chipfleet.catalog import Basis, Catalog, Chip, Cloud, EfficiencyFamily, Figure, Instance, Source, load_catalog
from chipfleet.catalog.schema import (
    BandwidthFigure,
    BytesFigure,
    CatalogFile,
    CountFigure,
    FlopsFigure,
    RatioFigure,
    SecondsFigure,
    WattsFigure,
)
from chipfleet.serialize import atomic_write_text
from chipfleet.validate.local.bench import LocalMeasurement
from chipfleet.validate.local.probe import fit_half_rows

INSTANCE = "local"
TORCH_DEVICE_NOTE = "torch device: "
"""Prefix of the chip note that records which torch device the figures were measured on."""
MEASURED_BY = "measured on this machine by chipfleet calibrate --local"
"""The ``ref`` of the overlay's source."""

# CPU power figures (Cloud Carbon Footprint's AWS averages, the same numbers the shipped clouds.yaml cites).
CCF_CPU_MAX_W_PER_VCPU = 3.5
CCF_CPU_IDLE_W_PER_VCPU = 0.74
# GPU idle fraction: CCF's A100 min/max watts 46 / 407 (as the shipped nvidia families use).
CCF_GPU_IDLE_FRACTION = 46.0 / 407.0

F = TypeVar("F", bound=Figure)


@dataclass(frozen=True)
class _Figures:
    """Makes the overlay's figures: all from one source, dated the day of the measurement."""

    source: str
    as_of: str

    def __call__(self, kind: type[F], value: float, unit: str, basis: Basis, note: str, digits: int = 4) -> F:
        """A ``kind`` figure of ``value`` rounded to ``digits`` significant digits (a measurement is no more
        precise than that)."""
        rounded = float(f"{value:.{digits}g}")
        return kind(value=rounded, unit=unit, source=self.source, as_of=self.as_of, basis=basis, note=note)


def _vendor(meas: LocalMeasurement) -> tuple[Literal["amd", "nvidia"], str | None]:
    """The schema's vendor for this device, and a note where the schema has no right entry."""
    if meas.is_gpu:
        name = meas.device_name.lower()
        if "amd" in name or "instinct" in name or "radeon" in name:
            return "amd", None
        return "nvidia", None
    if meas.cpu_vendor == "AuthenticAMD":
        return "amd", None
    return "amd", (
        f"vendor: the catalog schema lists no vendor for this CPU ({meas.cpu_vendor}); 'amd' is a "
        "placeholder, not a statement"
    )


def _power(meas: LocalMeasurement, fig: _Figures) -> tuple[WattsFigure, RatioFigure]:
    """(tdp figure, idle_power_fraction figure), both documented estimates."""
    if meas.is_gpu:
        if meas.power_limit_w is not None:
            tdp = fig(
                WattsFigure,
                meas.power_limit_w,
                "W",
                Basis.ESTIMATE,
                f"the board power limit nvidia-smi reports ({meas.power_limit_w:g} W), taken as the TDP",
            )
        else:
            tdp = fig(
                WattsFigure,
                300.0,
                "W",
                Basis.ESTIMATE,
                "nvidia-smi did not answer; 300 W is a placeholder for a data-centre PCIe/SXM GPU (low confidence)",
            )
        idle = fig(
            RatioFigure,
            CCF_GPU_IDLE_FRACTION,
            "ratio",
            Basis.ESTIMATE,
            "Cloud Carbon Footprint A100 min/max watts 46 / 407, as the shipped NVIDIA families use",
            digits=3,
        )
        return tdp, idle
    n = meas.threads
    tdp = fig(
        WattsFigure,
        n * CCF_CPU_MAX_W_PER_VCPU,
        "W",
        Basis.ESTIMATE,
        f"{n} logical CPUs x {CCF_CPU_MAX_W_PER_VCPU} W: Cloud Carbon Footprint's AWS average per vCPU at "
        "100 % load (the coefficient the shipped clouds.yaml cites); the package's own TDP is not readable here",
    )
    idle = fig(
        RatioFigure,
        CCF_CPU_IDLE_W_PER_VCPU / CCF_CPU_MAX_W_PER_VCPU,
        "ratio",
        Basis.ESTIMATE,
        f"Cloud Carbon Footprint AWS per-vCPU watts at 0 % / 100 % load: {CCF_CPU_IDLE_W_PER_VCPU} / "
        f"{CCF_CPU_MAX_W_PER_VCPU}",
        digits=3,
    )
    return tdp, idle


def _skinny_width(meas: LocalMeasurement) -> int:
    p = meas.best_precision
    widths = {g.k for g in meas.gemm if g.precision is p and g.kind == "skinny"}
    return max(widths) if widths else 0


def _family(meas: LocalMeasurement, fig: _Figures) -> EfficiencyFamily:
    """η_max = 1 and η_mem = 1 by construction, M½ fitted to the skinny GEMMs, the measured fixed costs;
    collective efficiency and latencies are placeholders (one chip runs no collectives)."""
    best = meas.best_precision
    curve = meas.gemm_fraction_curve(best)
    half_rows, rms = fit_half_rows(curve)
    rows = ", ".join(f"{m}:{eta:.2f}" for m, eta in curve)
    width = _skinny_width(meas)
    _, idle = _power(meas, fig)
    measured = Basis.MEASURED
    return EfficiencyFamily(
        name=meas.chip_name,
        description=f"this machine ({meas.device_name}, {meas.device}) with PyTorch {meas.torch_version}, "
        "eager mode; measured by chipfleet calibrate --local",
        compute_efficiency=fig(
            RatioFigure,
            1.0,
            "ratio",
            measured,
            "1 by construction: peak_dense is the fastest GEMM measured here, so the largest GEMMs reach it",
        ),
        compute_half_rows=fig(
            CountFigure,
            half_rows,
            "count",
            measured,
            f"least-squares fit of eta(M) = M/(M+M_half) to {len(curve)} {best.value} GEMMs M x {width} x "
            f"{width} (M:eta {rows}); rms residual {rms:.3f}",
            digits=3,
        ),
        memory_efficiency=fig(
            RatioFigure, 1.0, "ratio", measured, "1 by construction: memory_bandwidth is the rate measured here"
        ),
        collective_efficiency=fig(
            RatioFigure,
            1.0,
            "ratio",
            Basis.ESTIMATE,
            "placeholder: one local chip runs no collectives, so it is never used",
        ),
        layer_overhead=fig(
            SecondsFigure,
            meas.layer_overhead_s * 1e6,
            "us",
            measured,
            "median forward of one 64-wide transformer block on 1 token (norms, GQA attention, SwiGLU), "
            f"faster of {meas.passes} passes: framework dispatch and launch cost per layer",
            digits=3,
        ),
        step_overhead=fig(
            SecondsFigure,
            meas.step_overhead_s * 1e3,
            "ms",
            measured,
            "median forward of a tiny one-layer model on 1 token (embedding, norm, head, argmax) minus its "
            f"block; a tiny training step's fixed cost was {meas.train_step_overhead_s * 1e3:.3g} ms "
            "(not used: one field serves both)",
            digits=3,
        ),
        intra_latency=fig(SecondsFigure, 0.0, "us", Basis.ESTIMATE, "placeholder: one chip, no collectives"),
        inter_latency=fig(SecondsFigure, 0.0, "us", Basis.ESTIMATE, "placeholder: one instance, no collectives"),
        idle_power_fraction=idle,
    )


def _chip(meas: LocalMeasurement, fig: _Figures) -> Chip:
    """Peak per measured precision (the fastest GEMM), the fastest copy/add as memory bandwidth; GPU memory as
    torch reports it, or on the CPU ``kind: cpu`` with the cores this process may use."""
    peak_dense = {}
    for p in meas.precisions:
        g = meas.best_gemm(p)
        n_shapes = sum(1 for x in meas.gemm if x.precision is p)
        peak_dense[p] = fig(
            FlopsFigure,
            g.flops_per_s / 1e12,
            "TFLOPS",
            Basis.MEASURED,
            f"fastest of {n_shapes} torch.mm shapes (M x K x N): {g.shape}; median of timed blocks, faster of "
            f"{meas.passes} passes",
        )
    bw = meas.best_bandwidth
    bandwidth = fig(
        BandwidthFigure,
        bw.bytes_per_s / 1e9,
        "GB/s",
        Basis.MEASURED,
        f"fastest STREAM-like kernel: {bw.kernel} on fp32 tensors of {bw.tensor_bytes / 2**20:.0f} MiB "
        f"(bytes read + written / time; median of timed blocks, faster of {meas.passes} passes)",
    )
    tdp, _ = _power(meas, fig)
    vendor, vendor_note = _vendor(meas)
    notes = [
        f"{TORCH_DEVICE_NOTE}{meas.device}",
        f"measured {meas.measured_on} by chipfleet calibrate --local ({'quick' if meas.quick else 'full'}) with "
        f"PyTorch {meas.torch_version}, {meas.threads} threads",
        "a measured local machine, not a product: peaks are what PyTorch eager reaches here, not datasheet peaks",
    ]
    if vendor_note:
        notes.append(vendor_note)
    memory: dict[str, Any] = {}
    if meas.device_memory_bytes is not None:
        memory["memory"] = fig(
            BytesFigure,
            meas.device_memory_bytes / 2**30,
            "GiB",
            Basis.MEASURED,
            "total_memory as torch.cuda reports it",
        )
    else:
        memory["cores"] = fig(
            CountFigure, meas.threads, "count", Basis.MEASURED, "CPU cores this process may use (sched_getaffinity)"
        )
    return Chip(
        name=meas.chip_name,
        display_name=f"{meas.device_name} (this machine)",
        vendor=vendor,
        kind="accelerator" if meas.is_gpu else "cpu",
        family=meas.chip_name,
        peak_dense=peak_dense,
        memory_bandwidth=bandwidth,
        tdp=tdp,
        core_type=meas.device_name,
        notes=tuple(notes),
        **memory,
    )


def _instance(meas: LocalMeasurement, fig: _Figures) -> Instance:
    """One chip, this machine's logical CPUs and RAM, no prices (time estimates only)."""
    return Instance(
        name=INSTANCE,
        cloud=Cloud.AWS,
        chip=meas.chip_name,
        chips=1,
        vcpus=meas.cpu_count,
        host_memory=fig(
            BytesFigure,
            meas.host_memory_bytes / 2**30,
            "GiB",
            Basis.MEASURED,
            "MemTotal of /proc/meminfo (or sysconf)",
        ),
        notes=(
            "this machine, not an AWS instance: `cloud: aws` only because the catalog schema requires a cloud",
            "no prices: use it for time estimates and `validate --local`, not for cost",
        ),
    )


def local_overlay(meas: LocalMeasurement) -> CatalogFile:
    """A catalog overlay describing this machine: source, family, chip ``local-cpu`` / ``local-<gpu>`` and
    instance ``local``, as typed records (see :func:`_family`, :func:`_chip`, :func:`_instance`)."""
    sid = f"{meas.chip_name}-measured"
    source = Source(
        ref=MEASURED_BY,
        as_of=meas.measured_on,
        title=f"PyTorch {meas.torch_version} on {meas.device_name} ({meas.device}, {meas.threads} threads, "
        f"{'quick' if meas.quick else 'full'} run)",
    )
    fig = _Figures(sid, meas.measured_on)
    return CatalogFile(
        schema_version=1,
        sources={sid: source},
        families=(_family(meas, fig),),
        chips=(_chip(meas, fig),),
        instances=(_instance(meas, fig),),
    )


def overlay_document(overlay: CatalogFile) -> dict[str, Any]:
    """``overlay`` as the plain mapping a catalog YAML file holds: the fields it was built with, JSON types,
    figures without the ``source_ref`` the loader fills in from the sources table."""
    doc: dict[str, Any] = _without_source_refs(overlay.model_dump(mode="json", exclude_unset=True))
    return doc


def _without_source_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_source_refs(v) for k, v in node.items() if k != "source_ref"}
    if isinstance(node, list):
        return [_without_source_refs(v) for v in node]
    return node


def write_local_overlay(meas: LocalMeasurement, path: str | os.PathLike[str]) -> Path:
    """Write :func:`local_overlay` as YAML to ``path`` (parents created); returns the path.

    The file is written atomically (:func:`chipfleet.serialize.atomic_write_text`: temp file, fsync, rename), so a
    failure never leaves a partial overlay and never damages one that is already there.
    """
    out = Path(path)
    header = (
        f"# chipfleet catalog overlay for this machine, written by `chipfleet calibrate --local` on "
        f"{meas.measured_on}.\n# Load it with --catalog {out.name} (or CHIPFLEET_CATALOG); the instance is "
        f"'{INSTANCE}'.\n"
    )
    doc = overlay_document(local_overlay(meas))
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)
    atomic_write_text(out, header + body)
    return out


def catalog_with_local(meas: LocalMeasurement) -> Catalog:
    """The shipped catalog plus this measurement's overlay, in memory (no env-var overlays, no file written)."""
    return load_catalog([local_overlay(meas)], use_env=False)
