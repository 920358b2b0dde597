"""Rich tables for `calibrate --local` (what this machine measured) and `validate --local` (model vs real)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from chipfleet.report import units as u
from chipfleet.validate.local import LocalMeasurement, LocalValidation, fit_half_rows


def _gflops(x: float) -> str:
    return f"{x / 1e9:,.1f}"


def measurement_summary_table(meas: LocalMeasurement) -> Table:
    """The figures that go into the overlay: peaks, bandwidth, fitted M½, fixed costs."""
    t = Table(title=escape(f"{meas.device_name} ({meas.device}), PyTorch {meas.torch_version}, {meas.threads} threads"))
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("how", overflow="fold")
    for p, peak in meas.peak_flops_per_s.items():
        g = meas.best_gemm(p)
        t.add_row(f"peak {p.value}", f"{_gflops(peak)} GFLOP/s", f"fastest GEMM {g.shape}")
    bw = meas.best_bandwidth
    t.add_row(
        "memory bandwidth",
        f"{bw.bytes_per_s / 1e9:,.1f} GB/s",
        f"{bw.kernel}, {bw.tensor_bytes / 2**20:,.0f} MiB fp32 tensors",
    )
    half, rms = fit_half_rows(meas.gemm_fraction_curve())
    t.add_row("compute_half_rows M½", f"{half:,.1f}", f"{meas.best_precision.value} skinny GEMMs, rms {rms:.3f}")
    t.add_row("layer overhead", u.duration(meas.layer_overhead_s), "one 64-wide block, 1 token")
    t.add_row("step overhead", u.duration(meas.step_overhead_s), "tiny model minus its block")
    t.add_row("training step fixed cost", u.duration(meas.train_step_overhead_s), "reported only")
    if meas.device_memory_bytes is not None:
        t.add_row("device memory", u.gigabytes(meas.device_memory_bytes), "torch.cuda")
    t.add_row("host memory", u.gigabytes(meas.host_memory_bytes), "MemTotal")
    t.add_row("measured in", u.duration(meas.wall_s), "quick" if meas.quick else "full")
    return t


def gemm_table(meas: LocalMeasurement) -> Table:
    """Every GEMM timed, with its rate and its fraction of that precision's peak."""
    peaks = meas.peak_flops_per_s
    t = Table(title="GEMMs (torch.mm, M x K x N)")
    for col in ("precision", "kind", "M x K x N", "time", "GFLOP/s", "of peak"):
        t.add_column(col, justify="left" if col in ("precision", "kind", "M x K x N") else "right")
    for g in meas.gemm:
        t.add_row(
            g.precision.value,
            g.kind,
            g.shape,
            u.duration(g.time_s),
            _gflops(g.flops_per_s),
            f"{100 * g.flops_per_s / peaks[g.precision]:.0f} %",
        )
    return t


def bandwidth_table(meas: LocalMeasurement) -> Table:
    t = Table(title="Memory bandwidth (STREAM-like, fp32)")
    for col in ("kernel", "tensor", "bytes moved", "time", "GB/s"):
        t.add_column(col, justify="left" if col == "kernel" else "right")
    for b in meas.bandwidth:
        t.add_row(
            b.kernel,
            f"{b.tensor_bytes / 2**20:,.0f} MiB",
            f"{b.bytes_moved / 2**20:,.0f} MiB",
            u.duration(b.time_s),
            f"{b.bytes_per_s / 1e9:,.1f}",
        )
    return t


def attention_table(meas: LocalMeasurement) -> Table:
    """SDPA rates next to the GEMM peak: the model charges attention FLOPs at the GEMM rate."""
    peaks = meas.peak_flops_per_s
    t = Table(title="Attention (scaled_dot_product_attention)")
    for col in ("precision", "shape", "time", "GFLOP/s", "of GEMM peak"):
        t.add_column(col, justify="left" if col in ("precision", "shape") else "right")
    for a in meas.attention:
        t.add_row(
            a.precision.value,
            a.shape,
            u.duration(a.time_s),
            _gflops(a.flops_per_s),
            f"{100 * a.flops_per_s / peaks[a.precision]:.0f} %",
        )
    return t


def measurement_tables(meas: LocalMeasurement) -> list[Table]:
    """All tables of a measurement, summary first."""
    return [measurement_summary_table(meas), gemm_table(meas), bandwidth_table(meas), attention_table(meas)]


def validation_table(val: LocalValidation) -> Table:
    """Predicted vs measured per phase, with APE and the model's bound."""
    t = Table(
        title=escape(
            f"{val.model.name} ({val.params / 1e6:,.1f} M params, {val.precision.value}) on {val.chip} "
            f"({val.device}, {val.threads} threads): model vs PyTorch"
        )
    )
    for col in ("phase", "shape", "predicted", "measured", "APE", "pred/meas", "model bound"):
        t.add_column(col, justify="left" if col in ("phase", "shape", "model bound") else "right")
    for p in val.phases:
        t.add_row(
            p.phase,
            p.shape,
            u.duration(p.predicted_s),
            u.duration(p.measured_s),
            f"{100 * p.ape:.0f} %",
            f"{p.ratio:.2f}",
            p.bound,
        )
    t.add_section()
    t.add_row("mean", "", "", "", f"{100 * val.mape:.0f} %", "", "")
    return t


def validation_breakdown_table(val: LocalValidation) -> Table:
    """The model's breakdown of each phase (seconds per term), to see which term is off."""
    t = Table(title="Model breakdown per phase")
    t.add_column("phase")
    t.add_column("term")
    t.add_column("time", justify="right")
    for p in val.phases:
        first = True
        for term, secs in p.breakdown.items():
            t.add_row(p.phase if first else "", term.removesuffix("_s"), u.duration(secs))
            first = False
        t.add_section()
    return t
