"""``hardware_for`` on the overlay instances: the figures the perf tests build by hand come out of the catalog.

Lives here because this folder has the catalog fixture; it guards tests/perf/_hardware.py against drifting
from chips.yaml / families.yaml.
"""

from __future__ import annotations

import pytest

from chipfleet.catalog import Catalog, Precision
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.inference import ServingConfig, estimate_inference
from chipfleet.workloads import get_model


def test_h100_instance_flattens_to_datasheet_figures(catalog: Catalog) -> None:
    # NVIDIA H100 SXM: 989 TFLOP/s dense bf16, 81559 MiB (the driver's figure) at 3.35 TB/s, NVLink4 450 GB/s per
    # direction, 700 W; 3200 Gbps EFA over 8 GPUs = 50 GB/s per chip.
    hw = hardware_for(catalog, "test.h100x8")
    assert hw.peak(Precision.BF16) == pytest.approx(989e12)
    assert hw.memory_bytes == pytest.approx(81559 * 2**20)
    assert hw.memory_bytes_per_s == pytest.approx(3.35e12)
    assert hw.intra_link_bytes_per_s == pytest.approx(450e9)
    assert hw.scaleout_bytes_per_s_per_chip == pytest.approx(50e9)
    assert hw.usable_memory_bytes == pytest.approx(0.95 * 81559 * 2**20)
    assert hw.idle_w == pytest.approx(0.113 * 700)


def test_trainium_instance_flattens_to_neuron_figures(catalog: Catalog) -> None:
    # Trainium1: 190 TFLOP/s bf16, 32 GiB at 820 GiB/s, 2 NeuronCores; 800 Gbps EFA over 16 chips.
    hw = hardware_for(catalog, "test.trn1x16")
    assert hw.peak(Precision.BF16) == pytest.approx(190e12)
    assert hw.memory_bytes == pytest.approx(32 * 2**30)
    assert hw.memory_bytes_per_s == pytest.approx(820 * 2**30)
    assert hw.cores_per_chip == 2
    assert hw.scaleout_bytes_per_s_per_chip == pytest.approx(800e9 / 8 / 16)


def test_gpu_streaming_multiprocessors_are_not_tensor_parallel_cores(catalog: Catalog) -> None:
    """tp beyond the chips of a GPU instance must be refused, not read as "NeuronCores".

    chips.yaml gives h100-sxm ``cores: 132`` (SMs); hardware.py:122 turns any accelerator's ``cores`` into
    ``cores_per_chip``, and inference.resolve_tp then reads tp=264 on an 8-GPU instance as "2 chips × 132
    cores". The NeuronCore reading (Neuron docs count tp in cores) only makes sense for Neuron chips.
    """
    hw = hardware_for(catalog, "test.h100x8")
    with pytest.raises(ConfigError, match="exceeds the 8 chips"):
        estimate_inference(ServingConfig(model=get_model("llama-3-8b"), tp=264), hw)
