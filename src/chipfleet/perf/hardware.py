"""The hardware a model runs on, flattened from the catalog into the floats the pure model functions use."""

from __future__ import annotations

import math
from dataclasses import dataclass

from chipfleet.catalog import Catalog, Chip, EfficiencyFamily, Instance, Precision
from chipfleet.exceptions import ConfigError

# Device memory the model cannot use: runtime context, allocator fragmentation, workspaces.
# Our estimate: PyTorch/CUDA and Neuron runtimes typically leave ~90-95 % usable; we take 95 %.
USABLE_MEMORY_FRACTION = 0.95


@dataclass(frozen=True)
class Efficiency:
    """The family parameters, in SI floats (see :class:`chipfleet.catalog.EfficiencyFamily`)."""

    compute: float
    compute_half_rows: float
    memory: float
    collective: float
    layer_overhead_s: float
    step_overhead_s: float
    intra_latency_s: float
    inter_latency_s: float
    idle_power_fraction: float

    @classmethod
    def from_family(cls, fam: EfficiencyFamily) -> Efficiency:
        return cls(
            compute=fam.compute_efficiency.si,
            compute_half_rows=fam.compute_half_rows.si,
            memory=fam.memory_efficiency.si,
            collective=fam.collective_efficiency.si,
            layer_overhead_s=fam.layer_overhead.si,
            step_overhead_s=fam.step_overhead.si,
            intra_latency_s=fam.intra_latency.si,
            inter_latency_s=fam.inter_latency.si,
            idle_power_fraction=fam.idle_power_fraction.si,
        )

    def gemm_fraction(self, rows: float) -> float:
        """Achieved fraction of peak for a GEMM with ``rows`` rows: η_max · M / (M + M½)."""
        return self.compute * rows / (rows + self.compute_half_rows)


_WIDE_FLOATS = (Precision.BF16, Precision.FP16, Precision.FP32)


def _ladder(p: Precision) -> tuple[Precision, ...]:
    """The formats activations in ``p`` move to, in order, on a chip without a ``p`` peak."""
    return ((Precision.FP8,) if p.block_scaled else ()) + _WIDE_FLOATS


@dataclass(frozen=True)
class ResolvedPrecision:
    """How one (weights, activations) pair runs on one chip (:meth:`Hardware.resolve_precision`)."""

    weights: Precision
    activations: Precision
    compute: Precision
    weight_only: bool
    """True when the matrix units cannot take the weights as stored and kernels dequantize them to ``compute``."""

    @property
    def weight_bytes(self) -> float:
        """Bytes per stored weight element, block scales included."""
        return self.weights.bytes


@dataclass(frozen=True)
class Hardware:
    """One instance type as the model sees it: per-chip rates, links and power, plus efficiency."""

    instance: str
    chip: str
    family: str
    validated: bool
    chips_per_instance: int
    cores_per_chip: int
    peak_flops_per_s: dict[Precision, float]
    memory_bytes: float
    memory_bytes_per_s: float
    intra_link_bytes_per_s: float
    scaleout_bytes_per_s_per_chip: float
    tdp_w: float
    max_instances: int | None
    eff: Efficiency
    # The serving runtime pads query heads to a multiple of its tensor-parallel ranks and replicates KV heads
    # (NxD Inference on Neuron); without it, tp must divide the heads (vLLM, TensorRT-LLM).
    pads_attention_heads: bool = False
    # Formats the chip's stacks can store weights and the KV cache in (Chip.weight_precisions, kv_cache_precisions);
    # empty: not stated, every format accepted.
    weight_precisions: frozenset[Precision] = frozenset()
    kv_cache_precisions: frozenset[Precision] = frozenset()
    # Chips the intra link reaches from this instance (its own NVL8 board, an NVL72 rack of several instances, a
    # Trn2 UltraServer ...); None: the chip states no scale-up domain.
    scale_up_chips: int | None = None

    @property
    def usable_memory_bytes(self) -> float:
        return self.memory_bytes * USABLE_MEMORY_FRACTION

    @property
    def idle_w(self) -> float:
        return self.tdp_w * self.eff.idle_power_fraction

    def compute_precision(self, wanted: Precision, activations: Precision | None = None) -> Precision:
        """The precision matmuls run in for weights stored as ``wanted`` (see :meth:`resolve_precision`)."""
        return self.resolve_precision(wanted, activations, check_weights=False).compute

    def resolve_precision(
        self, weights: Precision, activations: Precision | None = None, *, check_weights: bool = True
    ) -> ResolvedPrecision:
        """How weights stored as ``weights`` and activations in ``activations`` run on this chip.

        - activations: as given, or, when None, the weight format where the chip computes in it (W8A8 FP8,
          W4A4 NVFP4), else the first 16/32-bit float the chip computes in (weight-only: W8A16, W4A16).
          int8/int4 weights are always weight-only (GPTQ/AWQ-style, Neuron's int8 weights). Activations in a
          format the chip has no peak for move up the ladder FP4 → FP8 → BF16 → FP16 → FP32.
        - compute: the wider (more bytes) of the weight and activation formats when the matrix units take the
          weights as stored (a mixed FP4 × FP8 MMA runs at the FP8 rate), else the activation format: the
          weights are dequantized to it on the fly (``weight_only``).
        - weight bytes per element: ``weights.bytes``, block scales included (NVFP4 0.5625, MXFP4 0.53125).

        ``check_weights`` refuses an FP4 weight format the chip's stacks cannot read (not in
        ``weight_precisions``); 8- to 32-bit formats dequantize anywhere, as before. The hot paths
        (:meth:`peak`) skip the check.
        """
        if check_weights and weights.block_scaled and self.weight_precisions and weights not in self.weight_precisions:
            can = ", ".join(p.value for p in Precision if p in self.weight_precisions)
            raise ConfigError(
                f"{self.chip} cannot hold {weights.value} weights: neither its matrix units nor its serving stacks' "
                f"kernels read that format (its weight formats: {can})",
                field="weight_precision",
            )
        if activations is not None and activations.weight_only:
            raise ConfigError(
                f"{activations.value} is served as a weight-only format; activations take a float format "
                "(fp8, bf16, fp16, nvfp4, mxfp4)",
                field="activation_precision",
            )
        native = weights in self.peak_flops_per_s and not weights.weight_only
        if activations is None:
            act = weights if native else self._first(_WIDE_FLOATS)
        else:
            act = activations if activations in self.peak_flops_per_s else self._first(_ladder(activations))
        # Weights the matrix units take meet the activations at the wider format; others are dequantized to them.
        compute = weights if native and weights.bytes >= act.bytes else act
        return ResolvedPrecision(weights=weights, activations=act, compute=compute, weight_only=not native)

    def check_kv_cache(self, precision: Precision) -> Precision:
        """``precision`` if the chip's stacks can store the KV cache in it, else a ConfigError (field
        ``kv_precision``). Like weights, only FP4 formats are checked: 8- to 32-bit caches are stored anywhere
        (an FP8 or INT8 cache on a chip without such units is dequantized in the attention kernel)."""
        if precision.block_scaled and self.kv_cache_precisions and precision not in self.kv_cache_precisions:
            can = ", ".join(p.value for p in Precision if p in self.kv_cache_precisions)
            raise ConfigError(
                f"{self.chip} cannot hold a {precision.value} KV cache (its KV-cache formats: {can})",
                field="kv_precision",
            )
        return precision

    def _first(self, candidates: tuple[Precision, ...]) -> Precision:
        for p in candidates:
            if p in self.peak_flops_per_s:
                return p
        raise ConfigError(f"{self.chip} lists no usable peak FLOP/s")

    def peak(self, precision: Precision) -> float:
        return self.peak_flops_per_s[self.compute_precision(precision)]

    def link_bytes_per_s(self, ranks: int, span_instances: bool) -> float:
        """Per-chip one-direction bandwidth of the slowest link a group of ``ranks`` crosses."""
        if ranks <= 1:
            return float("inf")
        return self.scaleout_bytes_per_s_per_chip if span_instances else self.intra_link_bytes_per_s

    def latency_s(self, span_instances: bool) -> float:
        return self.eff.inter_latency_s if span_instances else self.eff.intra_latency_s


def divisors(n: int) -> list[int]:
    """Divisors of ``n ≥ 1`` in increasing order, found up to ``√n``: bounded work for any size, so a loop
    over parallelism candidates built from them is bounded by construction."""
    small = [k for k in range(1, math.isqrt(n) + 1) if n % k == 0]
    return sorted({*small, *(n // k for k in small)})


def hardware_for(catalog: Catalog, instance: Instance | str) -> Hardware:
    """Flatten an instance, its chip and the chip's efficiency family into a :class:`Hardware`."""
    inst = catalog.instance(instance) if isinstance(instance, str) else instance
    chip: Chip = catalog.chip(inst.chip)
    fam = catalog.family(chip.family)
    if chip.memory_bytes is not None:
        memory = chip.memory_bytes
    elif inst.host_memory_bytes is not None:
        memory = inst.host_memory_bytes / inst.chips
    else:
        raise ConfigError(f"{inst.name}: neither the chip nor the instance states a memory size")
    intra = inst.intra_link.si if inst.intra_link is not None else chip.link_bytes_per_s
    scaleout = inst.scaleout_bytes_per_s
    per_chip_scaleout = scaleout / inst.chips if scaleout else 0.0
    if intra is None:
        # Chips with no chip-to-chip link talk through the host; the scale-out share is the best bound.
        intra = per_chip_scaleout
    return Hardware(
        instance=inst.name,
        chip=chip.name,
        family=fam.name,
        validated=fam.validated,
        chips_per_instance=inst.chips,
        # Neuron tools count tensor-parallel ranks in NeuronCores; no other stack splits a chip that way.
        cores_per_chip=int(chip.cores.si) if chip.cores is not None and fam.name.startswith("aws-neuron") else 1,
        peak_flops_per_s={p: f.si for p, f in chip.peak_dense.items()},
        memory_bytes=memory,
        memory_bytes_per_s=chip.memory_bytes_per_s,
        intra_link_bytes_per_s=intra,
        scaleout_bytes_per_s_per_chip=per_chip_scaleout,
        tdp_w=chip.tdp_w,
        max_instances=inst.max_instances,
        eff=Efficiency.from_family(fam),
        pads_attention_heads=fam.name.startswith("aws-neuron"),
        weight_precisions=frozenset(chip.weight_precisions),
        kv_cache_precisions=frozenset(chip.kv_cache_precisions),
        # the chips the fabric reaches from this instance: the instance's, or those of the instances one domain
        # joins (an NVL72 rack of 4-GPU instances), never more than the chip's domain
        scale_up_chips=min(chip.scale_up.domain_chips, inst.chips * inst.scale_up_instances)
        if chip.scale_up is not None
        else None,
    )
