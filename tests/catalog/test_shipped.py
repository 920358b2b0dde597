"""The shipped catalog: complete, sourced, in SI units after conversion, and consistent."""

from __future__ import annotations

import re

import pytest

from chipfleet.catalog import FP4_FORMATS, Basis, Catalog, Cloud, Precision, Pricing, load_catalog
from chipfleet.catalog.schema import iter_figures

REQUIRED_CHIPS = [
    "trainium1",
    "trainium2",
    "inferentia1",
    "inferentia2",
    "graviton2",
    "graviton3",
    "graviton4",
    "a10g",
    "l4",
    "l40s",
    "a100-40gb",
    "a100-80gb",
    "h100-sxm",
    "h100-pcie",
    "h100-nvl",
    "h200",
    "gh200",
    "b200",
    "tpu-v4",
    "tpu-v5e",
    "tpu-v5p",
    "tpu-v6e",
    "maia-100",
    "mi300x",
    # 2025-26 parts (issue 12)
    "b300",
    "gb200",
    "gb300",
    "mi325x",
    "mi355x",
    "trainium3",
    "tpu7x",
]
REQUIRED_INSTANCE_PREFIXES = (
    "trn1.",
    "trn1n.",
    "trn2.",
    "inf1.",
    "inf2.",
    "p4d.",
    "p4de.",
    "p5.",
    "p5e.",
    "p5en.",
    "g5.",
    "g6.",
    "g6e.",
    "c7g.",
    "c8g.",
    "m7g.",
    "a3-",
    "tpu-",
    "standard_nd96isr_h100_v5",
)


def test_required_chips_present(cat: Catalog) -> None:
    assert set(REQUIRED_CHIPS) <= set(cat.chips)


@pytest.mark.parametrize("prefix", REQUIRED_INSTANCE_PREFIXES)
def test_required_instances_present(cat: Catalog, prefix: str) -> None:
    assert any(n.startswith(prefix) for n in cat.instances), prefix


def test_every_figure_has_a_source_and_a_date(cat: Catalog) -> None:
    records = [*cat.chips.values(), *cat.instances.values(), *cat.regions.values(), *cat.families.values()]
    records += list(cat.clouds.values())
    n = 0
    for rec in records:
        for fig in iter_figures(rec):
            n += 1
            assert fig.source_ref, (rec, fig)
            assert re.match(r"^\d{4}(-\d{2}(-\d{2})?)?$", fig.as_of), (rec, fig)
            if fig.basis is not Basis.STATED:
                assert fig.note, f"{fig} is {fig.basis.value} without saying how"
    assert n > 300


def test_slugs_are_lowercase(cat: Catalog) -> None:
    for table in (cat.chips, cat.instances, cat.regions, cat.families):
        for name in table:
            assert name == name.lower() and " " not in name


def test_units_convert_once_at_the_boundary(cat: Catalog) -> None:
    h100 = cat.chip("h100-sxm")
    # NVIDIA H100 SXM: 989 dense BF16 TFLOPS, 3.35 TB/s, 700 W (nvidia.com H100 page); memory as the driver
    # reports it, 81559 MiB (EC2), i.e. NVIDIA's "80 GB" is binary.
    assert h100.peak_flops_per_s(Precision.BF16) == pytest.approx(989e12)
    assert h100.memory_bytes == pytest.approx(81559 * 2**20)
    assert h100.memory_bytes_per_s == pytest.approx(3.35e12)
    assert h100.tdp_w == pytest.approx(700)
    # AWS states Trainium1 memory in GiB: 32 GiB = 34.36 GB.
    assert cat.chip("trainium1").memory_bytes == pytest.approx(32 * 2**30)


def test_every_accelerator_has_bf16_memory_and_power(cat: Catalog) -> None:
    for chip in cat.chips.values():
        assert chip.tdp_w > 0
        assert chip.memory_bytes_per_s > 0
        if chip.kind == "accelerator":
            assert chip.peak_flops_per_s(Precision.BF16), chip.name
            assert chip.memory_bytes and chip.memory_bytes > 1e9


def test_dense_peaks_are_ordered_sensibly(cat: Catalog) -> None:
    for chip in cat.chips.values():
        bf16 = chip.peak_flops_per_s(Precision.BF16)
        fp8 = chip.peak_flops_per_s(Precision.FP8)
        fp32 = chip.peak_flops_per_s(Precision.FP32)
        if bf16 and fp8:
            assert fp8 >= bf16, chip.name
        if bf16 and fp32:
            assert bf16 >= fp32, chip.name
        for fp4 in (chip.peak_flops_per_s(p) for p in FP4_FORMATS):
            if fp4:
                assert fp8 and fp4 >= fp8, chip.name  # no chip computes in FP4 without FP8


def test_fp4_chips_are_the_ones_vendors_say(cat: Catalog) -> None:
    fp4 = {c.name for c in cat.chips.values() if set(c.peak_dense) & FP4_FORMATS}
    assert fp4 == {"b200", "b300", "gb200", "gb300", "mi355x", "trainium3"}
    # AMD CDNA4 and Trainium3 compute in OCP MXFP4 only; Blackwell takes both block formats.
    assert Precision.NVFP4 not in cat.chip("mi355x").peak_dense
    assert Precision.NVFP4 not in cat.chip("trainium3").peak_dense
    for name in ("b200", "b300", "gb200", "gb300"):
        chip = cat.chip(name)
        assert chip.peak_dense[Precision.NVFP4].si == chip.peak_dense[Precision.MXFP4].si
    # Trainium3 states MXFP4 at its MXFP8 rate, with no 2x for FP4.
    trn3 = cat.chip("trainium3")
    assert trn3.peak_flops_per_s(Precision.MXFP4) == trn3.peak_flops_per_s(Precision.FP8)


def test_formats_follow_from_peaks_and_stated_weight_only_kernels(cat: Catalog) -> None:
    for chip in cat.chips.values():
        assert set(chip.activation_precisions) <= set(chip.weight_precisions), chip.name
        assert not set(chip.weight_only) & set(chip.peak_dense), chip.name  # weight-only means no peak
        assert Precision.INT4 in chip.weight_precisions  # served as weight-only everywhere, as before
        for field, listed in (("weight_only", chip.weight_only), ("kv_cache", chip.kv_cache)):
            if listed:
                assert any(n.startswith(f"{field}:") for n in chip.notes), f"{chip.name}: {field} needs its source"
    h100 = cat.chip("h100-sxm")
    assert Precision.NVFP4 in h100.weight_precisions and Precision.NVFP4 not in h100.activation_precisions
    assert Precision.NVFP4 not in cat.chip("inferentia2").weight_precisions
    assert Precision.FP8 in cat.chip("b200").kv_cache_precisions
    assert Precision.FP8 not in cat.chip("a100-80gb").kv_cache_precisions
    assert Precision.NVFP4 in cat.chip("gb300").kv_cache_precisions
    assert Precision.NVFP4 not in cat.chip("h200").kv_cache_precisions


def test_scale_up_domains_hold_their_instances(cat: Catalog) -> None:
    for inst in cat.instances.values():
        chip = cat.chip(inst.chip)
        if chip.scale_up is not None:
            assert inst.chips <= chip.scale_up.domain_chips, inst.name
    # Instances whose scale-out is the scale-up fabric span exactly one domain at most.
    for name, chips in (("p6e-gb200.36xlarge", 72), ("trn2u.48xlarge", 64)):
        inst = cat.instance(name)
        assert inst.max_instances is not None and inst.chips * inst.max_instances == chips
        domain = cat.chip(inst.chip).scale_up
        assert domain is not None and domain.domain_chips == chips
    for name in ("gb200", "gb300"):
        nvl72 = cat.chip(name).scale_up
        assert nvl72 is not None and nvl72.domain_chips == 72 and "NVL72" in nvl72.fabric


def test_instances_reference_known_chips_and_regions(cat: Catalog) -> None:
    for inst in cat.instances.values():
        assert inst.chip in cat.chips
        for p in inst.prices:
            assert p.region in cat.regions
            assert p.usd_per_h > 0
            if p.spread is not None:
                assert p.spread[0] <= p.value <= p.spread[1]


def test_training_instances_have_prices(cat: Catalog) -> None:
    for name in ("trn1.32xlarge", "trn2.48xlarge", "p4d.24xlarge", "p5.48xlarge", "tpu-v5p-8", "inf2.48xlarge"):
        inst = cat.instance(name)
        assert inst.price(None, Pricing.ON_DEMAND) or inst.price(None, Pricing.SPOT), name


def test_regions_have_pue_and_grid_where_used(cat: Catalog) -> None:
    used = {p.region for i in cat.instances.values() for p in i.prices}
    for name in used:
        region = cat.region(name)
        assert 1.0 <= region.pue_ratio < 2.0
        assert region.grid_gco2_per_kwh is not None and region.grid_gco2_per_kwh >= 0, name


def test_every_chip_family_has_parameters(cat: Catalog) -> None:
    for chip in cat.chips.values():
        fam = cat.family(chip.family)
        assert 0 < fam.compute_efficiency.si <= 1
        assert 0 < fam.memory_efficiency.si <= 1
        # Every family went through calibration (fitted, borrowed or kept), and says which.
        assert fam.calibration is not None, fam.name
        assert fam.error_bands, fam.name
        if fam.validated:  # validated means fitted on its own rows and checked out of sample
            assert fam.calibration.rows > 0 and not fam.calibration.fallback, fam.name
        if fam.calibration.fallback:
            assert not fam.validated, fam.name


def test_priors_are_documented_estimates() -> None:
    priors = load_catalog(use_env=False, calibrated=False)
    for fam in priors.families.values():
        assert not fam.validated and fam.calibration is None
        assert fam.compute_efficiency.note


def test_cloud_host_power(cat: Catalog) -> None:
    aws = cat.cloud("aws")
    # CCF: 0.74-3.5 W per vCPU at 50 % load, 0.392 W per GB of DRAM.
    expected = 192 * (0.74 + (3.5 - 0.74) * 0.5) + 2048 * 2**30 / 1e9 * 0.392
    assert aws.host_power_w(192, 2048 * 2**30) == pytest.approx(expected)


# Instance sizes users ask for (issue 10), each with a sourced on-demand price.
ASKED_FOR = (
    "g5.2xlarge",
    "g5.4xlarge",
    "g5.8xlarge",
    "g5.24xlarge",
    "g6e.2xlarge",
    "g6e.12xlarge",
    "g6e.24xlarge",
    "p5.4xlarge",
    "p6-b200.48xlarge",
    "tpu-v5litepod-8",
    "tpu-v6e-4",
    "standard_nd96isr_h100_v5",
    "standard_nd96isr_h200_v5",
    "standard_nd96isr_mi300x_v5",
    # issue 12
    "p6-b300.48xlarge",
    "a4-highgpu-8g",
    "standard_nd128isr_ndr_gb200_v6",
    "bm.gpu.mi355x.8",  # OCI
    "gpu-mi325x8-2048gb",  # DigitalOcean
)


@pytest.mark.parametrize("name", ASKED_FOR)
def test_asked_for_instances_are_priced(cat: Catalog, name: str) -> None:
    price = cat.instance(name).price(None, Pricing.ON_DEMAND)
    assert price is not None and price.usd_per_h > 0 and price.source_ref and price.as_of


def test_every_cloud_has_a_priced_instance(cat: Catalog) -> None:
    priced = {i.cloud for i in cat.instances.values() if i.prices}
    assert {c for c in Cloud} <= priced


def test_every_chip_has_an_instance_or_says_why_not(cat: Catalog) -> None:
    for chip in cat.chips.values():
        carriers = cat.instances_of(chip)
        if not carriers:
            assert chip.availability, f"{chip.name}: no instance carries it and the record does not say why"
        else:
            assert not chip.availability or "no " not in chip.availability.lower(), chip.name
    assert not cat.instances_of("maia-100") and cat.chip("maia-100").availability
    assert cat.instances_of("mi300x") and cat.instances_of("b200")
    assert {i.name for i in cat.instances_of("gb200")} == {"p6e-gb200.36xlarge", "standard_nd128isr_ndr_gb200_v6"}


def test_reserved_prices_state_their_term(cat: Catalog) -> None:
    reserved = [p for i in cat.instances.values() for p in i.prices_for(Pricing.RESERVED)]
    assert len(reserved) >= 3
    for p in reserved:
        assert p.term and p.source_ref and p.as_of
        assert "yr" in p.term or "month" in p.term, p.term


def test_reserved_is_cheaper_per_hour_than_on_demand_where_both_exist(cat: Catalog) -> None:
    for inst in cat.instances.values():
        for p in inst.prices_for(Pricing.RESERVED):
            od = inst.price(p.region, Pricing.ON_DEMAND)
            if od is not None:
                assert p.usd_per_h < od.usd_per_h, (inst.name, p.region)


def test_trainium2_price_is_dated_and_explained(cat: Catalog) -> None:
    trn2 = cat.instance("trn2.48xlarge")
    od = trn2.price(None, Pricing.ON_DEMAND)
    spot = trn2.price(None, Pricing.SPOT)
    assert od is not None and od.as_of and "v8" in od.note  # says what the newer snapshot shows
    assert spot is not None and spot.as_of >= "2025-08"


def test_dgx_cloud_is_an_instance(cat: Catalog) -> None:
    dgx = cat.instance("dgx-cloud-h100")
    assert dgx.cloud is Cloud.NVIDIA and dgx.chip == "h100-sxm"
    price = dgx.price(None, Pricing.RESERVED)
    # 36,999 USD per month at launch, / 730 h.
    assert price is not None and price.usd_per_h == pytest.approx(36999 / 730, rel=1e-4)


@pytest.mark.parametrize("chip", ["h100-sxm", "h200", "b200", "mi300x", "mi325x", "mi355x"])
def test_inferencex_chips_have_a_priced_eight_gpu_instance(cat: Catalog, chip: str) -> None:
    """InferenceX runs these chips as 8-GPU nodes: a run is predicted only on an instance that carries one."""
    carriers = [i for i in cat.instances_of(chip) if i.chips >= 8 and i.price(None, Pricing.ON_DEMAND) is not None]
    assert carriers, chip
    assert "no " not in cat.chip(chip).availability.lower()


def test_amd_instances_of_the_new_clouds(cat: Catalog) -> None:
    oci = cat.instance("bm.gpu.mi355x.8")
    do = cat.instance("gpu-mi325x8-2048gb")
    assert (oci.cloud, oci.chip, oci.chips) == (Cloud.OCI, "mi355x", 8)
    assert (do.cloud, do.chip, do.chips) == (Cloud.DIGITALOCEAN, "mi325x", 8)
    oci_price = oci.price(None, Pricing.ON_DEMAND)
    do_price = do.price(None, Pricing.ON_DEMAND)
    assert oci_price is not None and do_price is not None
    # Priced per GPU-hour by the clouds: OCI 8.60 (price-list part B111758), DigitalOcean 3.80.
    assert oci_price.usd_per_h == pytest.approx(8 * 8.60) and oci_price.basis is Basis.DERIVED
    assert do_price.usd_per_h == pytest.approx(8 * 3.80)
    for price in (oci_price, do_price):
        region = cat.region(price.region)
        assert region.pue_ratio >= 1.0 and region.grid_gco2_per_kwh is not None and region.pue.basis is Basis.ESTIMATE
    assert cat.region(oci_price.region).cloud is Cloud.OCI and cat.region(do_price.region).cloud is Cloud.DIGITALOCEAN
