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

    @property
    def usable_memory_bytes(self) -> float:
        return self.memory_bytes * USABLE_MEMORY_FRACTION

    @property
    def idle_w(self) -> float:
        return self.tdp_w * self.eff.idle_power_fraction

    def compute_precision(self, wanted: Precision) -> Precision:
        """The precision matmuls run in: ``wanted`` if the chip has it, else bf16/fp16.

        int8 and int4 are treated as weight-only quantization (GPTQ/AWQ-style, and Neuron's int8 weights):
        weights are stored narrow and dequantized, matmuls run in bf16.
        """
        if wanted in (Precision.INT8, Precision.INT4):
            wanted = Precision.BF16
        if wanted in self.peak_flops_per_s:
            return wanted
        for fallback in (Precision.BF16, Precision.FP16, Precision.FP32):
            if fallback in self.peak_flops_per_s:
                return fallback
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
    )
