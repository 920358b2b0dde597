"""Typed, frozen records of the catalog: chips, efficiency families, instances, prices and regions.

Every figure is a :class:`Figure`: the value and unit as the source states them, the source, the date
(``as_of``) and whether it is stated by the source, derived from stated figures, or our own estimate.
``Figure.si`` converts to SI once; records expose unit-named float properties (``memory_bytes``) for the
model to use.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chipfleet.catalog.units import Dimension, to_si
from chipfleet.exceptions import CatalogError

SCHEMA_VERSION = 1

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
Slug = Annotated[str, Field(pattern=_SLUG.pattern, description="lowercase slug: trainium2, p5.48xlarge")]


class Precision(StrEnum):
    """Numeric formats for compute and for stored weights, activations and KV cache.

    ``nvfp4`` and ``mxfp4`` are block-scaled 4-bit floats (E2M1 elements): NVFP4 shares one FP8 (E4M3) scale
    per 16 elements, MXFP4 (OCP Microscaling) one E8M0 scale per 32 elements. ``bytes`` counts the scales.
    """

    FP32 = "fp32"
    TF32 = "tf32"
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"
    INT4 = "int4"
    NVFP4 = "nvfp4"
    MXFP4 = "mxfp4"

    @property
    def bytes(self) -> float:
        """Bytes per element when stored in this format, block scales included.

        Block-scaled formats: (element bits + scale bits / block size) / 8, so NVFP4 (4 + 8/16) / 8 = 0.5625
        and MXFP4 (4 + 8/32) / 8 = 0.53125. NVFP4's one FP32 scale per tensor is left out (4 bytes per tensor).
        INT4 stays 0.5: its group scales depend on the quantizer (GPTQ/AWQ group size) and are not counted.
        """
        return _PRECISION_BYTES[self]

    @property
    def block_scaled(self) -> bool:
        """True for the 4-bit floats whose elements share a per-block scale (NVFP4, MXFP4)."""
        return self in FP4_FORMATS

    @property
    def weight_only(self) -> bool:
        """True for integer formats served as weight-only quantization: weights are stored narrow and
        dequantized, matmuls run in a 16-bit float (GPTQ/AWQ-style int4, and int8 weights on Neuron)."""
        return self in (Precision.INT8, Precision.INT4)


FP4_FORMATS: frozenset[Precision] = frozenset({Precision.NVFP4, Precision.MXFP4})
"""The block-scaled 4-bit float formats."""

# (element bits, scale bits, elements per scale): NVFP4 = E2M1 elements with a UE4M3 scale per 16 (NVIDIA
# Model Optimizer / Intel Neural Compressor NVFP4 tables), MXFP4 = E2M1 elements with an E8M0 scale per 32
# (OCP Microscaling Formats (MX) v1.0 spec, as implemented in CUDA/Modular/TE docs). Sources in docs/data.md.
_BLOCK_FORMATS: dict[Precision, tuple[int, int, int]] = {
    Precision.NVFP4: (4, 8, 16),
    Precision.MXFP4: (4, 8, 32),
}

_PRECISION_BYTES = {
    Precision.FP32: 4.0,
    Precision.TF32: 4.0,
    Precision.BF16: 2.0,
    Precision.FP16: 2.0,
    Precision.FP8: 1.0,
    Precision.INT8: 1.0,
    Precision.INT4: 0.5,
    **{p: (bits + scale_bits / block) / 8 for p, (bits, scale_bits, block) in _BLOCK_FORMATS.items()},
}


class Basis(StrEnum):
    """How a figure was obtained."""

    STATED = "stated"  # the source states this number
    DERIVED = "derived"  # computed from stated numbers (the note shows how)
    ESTIMATE = "estimate"  # our own documented estimate (the note shows the reasoning)
    MEASURED = "measured"  # measured by chipfleet itself (calibrate --local); the note says how


class Pricing(StrEnum):
    ON_DEMAND = "on-demand"
    SPOT = "spot"
    RESERVED = "reserved"


class Cloud(StrEnum):
    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"
    NVIDIA = "nvidia"  # DGX Cloud, sold by NVIDIA and hosted in partner clouds
    OCI = "oci"  # Oracle Cloud Infrastructure
    DIGITALOCEAN = "digitalocean"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class Source(_Frozen):
    """Where figures come from: a URL or ``owner/repo@commit:path``, and the date it describes."""

    ref: str = Field(min_length=3)
    as_of: str = Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
    title: str = ""
    license: str = ""


_Finite = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Figure(_Frozen):
    """One sourced number. ``value``/``unit`` are as the source gives them; ``si`` is in SI units."""

    dimension: ClassVar[Dimension] = Dimension.RATIO
    positive: ClassVar[bool] = False
    """True for physical figures that cannot be zero (bandwidth, FLOP/s, bytes, power, price, counts)."""

    value: float = Field(ge=0, allow_inf_nan=False, description="finite and >= 0 (> 0 where `positive`)")
    unit: str
    source: str = Field(min_length=1, description="id of an entry in the file's `sources` table")
    source_ref: str = Field(default="", description="filled by the loader from the sources table")
    as_of: str = Field(default="", description="defaults to the source's date")
    basis: Basis = Basis.STATED
    note: str = ""
    spread: tuple[_Finite, _Finite] | None = Field(
        default=None, description="low and high in the same unit, where the source gives a range"
    )

    @model_validator(mode="after")
    def _check(self) -> Figure:
        try:
            to_si(self.value, self.unit, self.dimension)
        except CatalogError as exc:  # pydantic reports ValueErrors with the field's location
            raise ValueError(str(exc)) from None
        if self.positive and self.value <= 0:
            raise ValueError(f"{self.value:g} {self.unit}: a {self.dimension.value} figure must be greater than 0")
        if not self.as_of:
            raise ValueError(f"figure from source {self.source!r} has no as_of date")
        if self.basis is not Basis.STATED and not self.note:
            raise ValueError(f"a {self.basis.value} figure must say how it was obtained in `note`")
        if self.spread is not None and self.spread[0] > self.spread[1]:
            raise ValueError("spread must be (low, high)")
        return self

    @property
    def si(self) -> float:
        """The value in the SI unit of this figure's dimension."""
        return to_si(self.value, self.unit, self.dimension)

    def quoted(self) -> str:
        return f"{self.value:g} {self.unit}"


class FlopsFigure(Figure):
    dimension = Dimension.FLOPS
    positive = True


class BytesFigure(Figure):
    dimension = Dimension.BYTES
    positive = True


class BandwidthFigure(Figure):
    dimension = Dimension.BYTES_PER_S
    positive = True


class WattsFigure(Figure):
    dimension = Dimension.WATTS
    positive = True


class SecondsFigure(Figure):
    dimension = Dimension.SECONDS


class RatioFigure(Figure):
    dimension = Dimension.RATIO


class CountFigure(Figure):
    dimension = Dimension.COUNT
    positive = True


class CarbonFigure(Figure):
    dimension = Dimension.GCO2_PER_KWH


class WattsPerGBFigure(Figure):
    dimension = Dimension.W_PER_GB


class CalibrationInfo(_Frozen):
    """Provenance of fitted efficiency parameters."""

    data: str = Field(description="file the parameters were fitted on")
    data_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    date: str
    rows: int = Field(ge=0, description="rows of this family used in the fit")
    sources: int = Field(ge=0, description="distinct sources among those rows")
    method: str
    fallback: str = Field(default="", description="how a family without data got its values")


class EfficiencyFamily(_Frozen):
    """Achieved-vs-peak parameters shared by a chip family and its software stack.

    The six fitted parameters (issue 3 fits them; the defaults are documented priors):

    - ``compute_efficiency`` η_max: achievable fraction of dense peak FLOP/s on large GEMMs.
    - ``compute_half_rows`` M½: GEMM rows (tokens per chip per matmul) at which the achieved fraction is
      half of η_max; η(M) = η_max · M / (M + M½).
    - ``memory_efficiency`` η_mem: achievable fraction of peak memory bandwidth for streaming reads.
    - ``collective_efficiency`` η_coll: achieved collective bus bandwidth ÷ link bandwidth.
    - ``layer_overhead`` t_layer: fixed time per transformer layer per forward pass (launch, sync).
    - ``step_overhead`` t_step: fixed time per training step or decode iteration (framework, host).

    Not fitted: link latencies (α of the collective model) and the idle power fraction.
    """

    name: Slug
    description: str
    compute_efficiency: RatioFigure
    compute_half_rows: CountFigure
    memory_efficiency: RatioFigure
    collective_efficiency: RatioFigure
    layer_overhead: SecondsFigure
    step_overhead: SecondsFigure
    intra_latency: SecondsFigure
    inter_latency: SecondsFigure
    idle_power_fraction: RatioFigure
    validated: bool = Field(default=False, description="true once fitted and cross-validated on measurements")
    calibration: CalibrationInfo | None = None
    error_bands: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="per metric kind (throughput, latency, utilization): speed factors (low, high) such that "
        "the measured speed (throughput, or 1/latency) lay within [low, high] × the predicted speed for the "
        "10th-90th percentile of cross-validated rows",
    )

    FITTED: ClassVar[tuple[str, ...]] = (
        "compute_efficiency",
        "compute_half_rows",
        "memory_efficiency",
        "collective_efficiency",
        "layer_overhead",
        "step_overhead",
    )

    def calibration_status(self) -> str | None:
        """What this family's efficiencies rest on when they are not validated, as a phrase without a verb
        (write ``f"{family}: {status}"``); ``None`` when the family is validated (fitted on its own
        measurements and cross-validated).

        Read from the calibration record ``chipfleet calibrate`` writes (families_calibrated.yaml):

        - rows > 0: "fitted on only N rows from M source(s), not cross-validated";
        - no rows: "no measurements of its own (efficiencies: F)", F the record's ``fallback`` (how the values
          were set, e.g. "geometric mean of aws accelerator's fitted families (…)"), or, with no calibration
          record at all, "as written in the catalog files, not fitted".
        """
        if self.validated:
            return None
        cal = self.calibration
        if cal is not None and cal.rows > 0:
            return (
                f"fitted on only {cal.rows} row{'s' if cal.rows != 1 else ''} from {cal.sources} "
                f"source{'s' if cal.sources != 1 else ''}, not cross-validated"
            )
        if cal is not None and cal.fallback:
            how = re.sub(r"^no measurements(;| and)\s*", "", cal.fallback)
        else:
            how = "as written in the catalog files, not fitted"
        return f"no measurements of its own (efficiencies: {how})"

    @model_validator(mode="after")
    def _bounds(self) -> EfficiencyFamily:
        for field in (
            "compute_efficiency",
            "memory_efficiency",
            "collective_efficiency",
            "idle_power_fraction",
        ):
            if not 0 < getattr(self, field).si <= 1:
                raise ValueError(f"{field} must be in (0, 1]")
        return self


class ScaleUp(_Frozen):
    """A chip's scale-up domain: the chips its chip-to-chip fabric joins (an NVLink NVL8 board or NVL72 rack,
    AMD's xGMI platform, a NeuronLink UltraServer, a TPU ICI pod). The per-chip bandwidth is the chip's
    ``link_bandwidth``; an instance smaller than the domain reaches the rest through its ``scaleout``."""

    fabric: str = Field(min_length=2, description="the fabric and its generation: 'NVLink5 (NVL72)', 'xGMI'")
    domain: CountFigure = Field(description="chips in one scale-up domain")
    topology: str = Field(default="", description="switched, all-to-all, 2D torus, 3D torus ...")

    @property
    def domain_chips(self) -> int:
        return int(self.domain.si)


class Chip(_Frozen):
    """One accelerator or CPU, per chip (a Trainium2 chip, one H100 GPU, one Graviton socket).

    Precisions: ``peak_dense`` lists the formats the chip's matrix units compute in, which are also the formats
    its activations can take. Weights can also be stored in the ``weight_only`` formats (dequantized to a compute
    format by the serving stack's kernels) and always in int8/int4 (weight-only, as before); the KV cache in
    the 8-to-32-bit float compute formats and the ``kv_cache`` formats.
    """

    name: Slug
    display_name: str
    vendor: Literal["aws", "nvidia", "google", "microsoft", "amd"]
    kind: Literal["accelerator", "cpu"]
    family: Slug
    launch_year: int | None = None
    peak_dense: dict[Precision, FlopsFigure] = Field(min_length=1, description="dense (no sparsity) peak")
    memory: BytesFigure | None = Field(default=None, description="device memory; None for CPUs (host memory)")
    memory_bandwidth: BandwidthFigure
    link_bandwidth: BandwidthFigure | None = Field(
        default=None, description="chip-to-chip bandwidth per chip, one direction"
    )
    tdp: WattsFigure
    cores: CountFigure | None = None
    core_type: str = ""
    weight_only: tuple[Precision, ...] = Field(
        default=(),
        description="formats weights can be stored in without a matching peak: the stack dequantizes them to a "
        "compute format (vLLM's Marlin FP8/FP4 kernels on Ampere/Ada/Hopper)",
    )
    kv_cache: tuple[Precision, ...] = Field(
        default=(), description="KV-cache formats beyond the 8-to-32-bit float compute formats"
    )
    scale_up: ScaleUp | None = Field(default=None, description="the scale-up domain its link_bandwidth spans")
    availability: str = Field(
        default="",
        description="where the chip can be rented, when no public instance carries it (shown by `catalog chips` "
        "and in the error for an estimate on it)",
    )
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _accelerators_have_memory(self) -> Chip:
        if self.kind == "accelerator" and self.memory is None:
            raise ValueError("an accelerator needs `memory`")
        return self

    @property
    def memory_bytes(self) -> float | None:
        return None if self.memory is None else self.memory.si

    @property
    def memory_bytes_per_s(self) -> float:
        return self.memory_bandwidth.si

    @property
    def link_bytes_per_s(self) -> float | None:
        return None if self.link_bandwidth is None else self.link_bandwidth.si

    @property
    def tdp_w(self) -> float:
        return self.tdp.si

    def peak_flops_per_s(self, precision: Precision) -> float | None:
        """Dense peak for ``precision``; None where the chip has no such mode."""
        fig = self.peak_dense.get(precision)
        return None if fig is None else fig.si

    @property
    def precisions(self) -> tuple[Precision, ...]:
        """The compute formats: those with a dense peak, in :class:`Precision` order."""
        return tuple(p for p in Precision if p in self.peak_dense)

    @property
    def activation_precisions(self) -> tuple[Precision, ...]:
        """Formats activations can take into the matrix units: the compute formats (int8/int4 excluded: chipfleet
        serves them as weight-only)."""
        return tuple(p for p in self.precisions if not p.weight_only)

    @property
    def weight_precisions(self) -> tuple[Precision, ...]:
        """Formats weights can be stored in: compute formats, ``weight_only`` formats, and int8/int4."""
        have = {*self.peak_dense, *self.weight_only, Precision.INT8, Precision.INT4}
        return tuple(p for p in Precision if p in have)

    @property
    def kv_cache_precisions(self) -> tuple[Precision, ...]:
        """Formats the KV cache can be stored in: the 16- and 32-bit float formats the chip computes in, FP8 where
        it computes in FP8, and the listed ``kv_cache`` formats."""
        floats = (Precision.FP32, Precision.BF16, Precision.FP16, Precision.FP8)
        have = {*(p for p in self.peak_dense if p in floats), *self.kv_cache}
        return tuple(p for p in Precision if p in have)

    @model_validator(mode="after")
    def _formats_are_distinct(self) -> Chip:
        for name, listed in (("weight_only", self.weight_only), ("kv_cache", self.kv_cache)):
            if len(set(listed)) != len(listed):
                raise ValueError(f"{name} lists a format twice")
        return self


class Price(Figure):
    """An hourly price of one instance in one region under one pricing model."""

    dimension = Dimension.USD_PER_H
    positive = True

    region: Slug
    pricing: Pricing
    term: str = Field(
        default="",
        description="reserved / savings-plan prices: the commitment, e.g. '1yr no upfront', "
        "'3yr all upfront (EC2 Instance Savings Plan)'; empty for on-demand and spot",
    )

    @model_validator(mode="after")
    def _term(self) -> Price:
        if self.pricing is Pricing.RESERVED and not self.term.strip():
            raise ValueError("a reserved price must state its `term` (e.g. '1yr no upfront', '3yr all upfront')")
        return self

    @property
    def usd_per_h(self) -> float:
        return self.si


class Instance(_Frozen):
    """A rentable machine: a cloud instance type, a TPU slice host, or a VM size."""

    name: Slug
    cloud: Cloud
    chip: Slug
    chips: int = Field(gt=0, description="accelerators per instance (CPU sockets for CPU-only instances)")
    vcpus: int | None = Field(default=None, gt=0)
    host_memory: BytesFigure | None = None
    network: BandwidthFigure | None = Field(default=None, description="front-end network, whole instance")
    scaleout: BandwidthFigure | None = Field(
        default=None, description="bandwidth to other instances for collectives (EFA, ICI, InfiniBand)"
    )
    intra_link: BandwidthFigure | None = Field(
        default=None, description="per-chip one-direction bandwidth inside the instance; default: the chip's"
    )
    max_instances: int | None = Field(default=None, gt=0, description="largest cluster or slice offered")
    scale_up_instances: int = Field(
        default=1,
        gt=0,
        description="instances one chip-to-chip fabric joins (18 p6e-gb200.36xlarge in a GB200 NVL72 rack); 1: "
        "the fabric stays inside the instance, as on a slice of an 8-GPU board (p5.4xlarge)",
    )
    prices: tuple[Price, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def host_memory_bytes(self) -> float | None:
        return None if self.host_memory is None else self.host_memory.si

    @property
    def scaleout_bytes_per_s(self) -> float | None:
        fig = self.scaleout or self.network
        return None if fig is None else fig.si

    def price(self, region: str | None = None, pricing: Pricing = Pricing.ON_DEMAND) -> Price | None:
        """The newest price for ``pricing`` in ``region`` (any region, cheapest, when None).

        Region names match case-insensitively (``US-East-1`` is ``us-east-1``), as catalog lookups do.
        """
        key = None if region is None else region.strip().lower()
        candidates = [p for p in self.prices if p.pricing is pricing and (key is None or p.region == key)]
        if not candidates:
            return None
        if key is None:
            return min(candidates, key=lambda p: (p.usd_per_h, p.region))
        return max(candidates, key=lambda p: p.as_of)

    def prices_for(self, pricing: Pricing) -> tuple[Price, ...]:
        return tuple(p for p in self.prices if p.pricing is pricing)

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted({p.region for p in self.prices}))


class Region(_Frozen):
    """A cloud region: data-centre PUE and the carbon intensity of its grid."""

    name: Slug
    cloud: Cloud
    location: str
    pue: RatioFigure
    grid_intensity: CarbonFigure | None = None
    grid_zone: str = ""

    @model_validator(mode="after")
    def _pue_at_least_one(self) -> Region:
        if self.pue.si < 1.0:
            raise ValueError("pue is total facility energy ÷ IT energy and cannot be below 1")
        return self

    @property
    def pue_ratio(self) -> float:
        return self.pue.si

    @property
    def grid_gco2_per_kwh(self) -> float | None:
        return None if self.grid_intensity is None else self.grid_intensity.si


class CloudPower(_Frozen):
    """Host (CPU and DRAM) power coefficients of one cloud, for the host share of instance power.

    Host power = vCPUs · (idle + (max − idle) · u_cpu) + host GB · memory coefficient.
    """

    name: Cloud
    cpu_idle_w_per_vcpu: WattsFigure
    cpu_max_w_per_vcpu: WattsFigure
    memory_w_per_gb: WattsPerGBFigure
    host_cpu_utilization: RatioFigure = Field(description="assumed host CPU load while accelerators work")

    def host_power_w(self, vcpus: int, host_memory_bytes: float) -> float:
        idle = self.cpu_idle_w_per_vcpu.si
        peak = self.cpu_max_w_per_vcpu.si
        u = self.host_cpu_utilization.si
        return vcpus * (idle + (peak - idle) * u) + host_memory_bytes / 1e9 * self.memory_w_per_gb.si


class CatalogFile(_Frozen):
    """The layout of one catalog data file (shipped or overlay), after source resolution."""

    schema_version: Literal[1]
    license: str = ""
    attribution: str = ""
    sources: dict[str, Source] = Field(default_factory=dict)
    families: tuple[EfficiencyFamily, ...] = ()
    chips: tuple[Chip, ...] = ()
    instances: tuple[Instance, ...] = ()
    regions: tuple[Region, ...] = ()
    clouds: tuple[CloudPower, ...] = ()


RECORD_KINDS: tuple[str, ...] = ("families", "chips", "instances", "regions", "clouds")


def record_model(kind: str) -> type[BaseModel]:
    models: dict[str, type[BaseModel]] = {
        "families": EfficiencyFamily,
        "chips": Chip,
        "instances": Instance,
        "regions": Region,
        "clouds": CloudPower,
    }
    return models[kind]


def iter_figures(obj: Any) -> list[Figure]:
    """Every Figure inside a record (used by provenance checks and `catalog show`)."""
    found: list[Figure] = []
    if isinstance(obj, Figure):
        found.append(obj)
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            found.extend(iter_figures(getattr(obj, name)))
    elif isinstance(obj, dict):
        for v in obj.values():
            found.extend(iter_figures(v))
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            found.extend(iter_figures(v))
    return found
