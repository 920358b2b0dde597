"""Test hardware built by hand from plain floats, so perf tests do not depend on the catalog's instance files.

Figures (per chip) follow the shipped chips.yaml / families.yaml at the time of writing:

- H100-like: NVIDIA H100 SXM datasheet — 989 TFLOP/s dense bf16, 1979 fp8, 80 GB HBM3 at 3.35 TB/s,
  NVLink4 450 GB/s per direction, 700 W; p5.48xlarge-like 8 chips and 3200 Gbps EFA (50 GB/s per chip).
  Efficiency: the ``nvidia-hopper`` family priors (η 0.803, M½ 128, η_mem 0.85, η_coll 0.80, 10 µs/layer,
  1 ms/step, α 2 µs intra / 10 µs inter, idle 0.113 TDP).
- Trainium1-like: Neuron docs — 190 TFLOP/s bf16, 32 GiB at 820 GiB/s, 2 NeuronCores per chip, NeuronLink
  192 GB/s per direction, 185 W (estimate); trn1.32xlarge-like 16 chips and 800 Gbps EFA.
- Inferentia2-like: the same die on a 12-chip inf2.48xlarge-like instance (the NeuronCore mapping case).
"""

from __future__ import annotations

from dataclasses import replace

from chipfleet.catalog import Precision
from chipfleet.perf.hardware import Efficiency, Hardware

HOPPER_EFF = Efficiency(
    compute=0.803,
    compute_half_rows=128.0,
    memory=0.85,
    collective=0.80,
    layer_overhead_s=10e-6,
    step_overhead_s=1e-3,
    intra_latency_s=2e-6,
    inter_latency_s=10e-6,
    idle_power_fraction=0.113,
)

NEURON_EFF = Efficiency(
    compute=0.816,
    compute_half_rows=128.0,
    memory=0.85,
    collective=0.75,
    layer_overhead_s=15e-6,
    step_overhead_s=2e-3,
    intra_latency_s=3e-6,
    inter_latency_s=15e-6,
    idle_power_fraction=0.113,
)

H100_LIKE = Hardware(
    instance="test.h100x8",
    chip="h100-like",
    family="nvidia-hopper",
    validated=False,
    chips_per_instance=8,
    cores_per_chip=1,
    peak_flops_per_s={Precision.BF16: 989e12, Precision.FP16: 989e12, Precision.FP8: 1979e12},
    memory_bytes=80e9,
    memory_bytes_per_s=3.35e12,
    intra_link_bytes_per_s=450e9,
    scaleout_bytes_per_s_per_chip=3200e9 / 8 / 8,
    tdp_w=700.0,
    max_instances=None,
    eff=HOPPER_EFF,
)

TRN1_LIKE = Hardware(
    instance="test.trn1x16",
    chip="trainium1-like",
    family="aws-neuron-v2",
    validated=False,
    chips_per_instance=16,
    cores_per_chip=2,
    peak_flops_per_s={Precision.BF16: 190e12, Precision.FP16: 190e12, Precision.FP8: 190e12},
    memory_bytes=32 * 2**30,
    memory_bytes_per_s=820 * 2**30,
    intra_link_bytes_per_s=192e9,
    scaleout_bytes_per_s_per_chip=800e9 / 8 / 16,
    tdp_w=185.0,
    max_instances=None,
    eff=NEURON_EFF,
    pads_attention_heads=True,
)

INF2_LIKE = replace(TRN1_LIKE, instance="test.inf2x12", chip="inferentia2-like", chips_per_instance=12)


def scaled(hw: Hardware, *, flops: float = 1.0, memory_bw: float = 1.0) -> Hardware:
    """``hw`` with every peak FLOP/s multiplied by ``flops`` and the HBM bandwidth by ``memory_bw``."""
    return replace(
        hw,
        peak_flops_per_s={p: v * flops for p, v in hw.peak_flops_per_s.items()},
        memory_bytes_per_s=hw.memory_bytes_per_s * memory_bw,
    )
