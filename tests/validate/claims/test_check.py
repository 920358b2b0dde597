"""Headline vendor claims (calibration.csv rows GT0166-GT0171) checked against the catalog and the model.

The numbers asserted here are catalog facts (published peaks) and invariants of the check, not outputs of
the performance model, which is still being calibrated.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from rich.console import Console

from chipfleet.catalog import Basis, Catalog, Precision, load_catalog
from chipfleet.exceptions import ConfigError
from chipfleet.report.claims import claims_table, evidence_tables
from chipfleet.validate.claims.check import (
    CLAIMS,
    VERDICTS,
    ClaimCheck,
    ServingGrid,
    TrainingGrid,
    check_ceiba,
    check_claims,
    check_inferentia,
    check_trainium,
    claim,
)

SMALL_TRAINING = TrainingGrid(models=("llama-3-8b",), chips=(16,), precisions=(Precision.BF16,))
SMALL_SERVING = ServingGrid(models=("llama-2-7b",), precisions=(Precision.BF16,), shapes=((128, 128),), batches=(1, 8))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(use_env=False)


@pytest.fixture(scope="module")
def checks(catalog: Catalog) -> dict[str, ClaimCheck]:
    return {c.id: c for c in check_claims(catalog)}


def _rows(check: ClaimCheck, kind: str) -> list[dict[str, object]]:
    return [r for r in check.evidence if r["kind"] == kind]


def test_every_headline_claim_is_checked(checks: dict[str, ClaimCheck]) -> None:
    assert set(checks) == {c.id for c in CLAIMS}
    assert set(checks) == {
        "inf2-throughput",
        "inf2-latency",
        "trn2-training-speed",
        "trn2-energy-efficiency",
        "ceiba-exaflops",
    }
    row_ids = {rid for c in checks.values() for rid in c.row_ids}
    assert row_ids == {f"GT{n:04d}" for n in range(166, 172)}


def test_claim_values_match_the_calibration_rows() -> None:
    # calibration.csv: GT0166 throughput_ratio_up_to 4, GT0167 latency_reduction_ratio_up_to 10,
    # GT0168 training_speedup_up_to 4, GT0169 energy_efficiency_ratio_up_to 2, GT0170 ai_exaflops 65,
    # GT0171 accelerator_count 16384.
    assert claim("inf2-throughput").value == 4
    assert claim("inf2-latency").value == 10
    assert claim("trn2-training-speed").value == 4
    assert claim("trn2-energy-efficiency").value == 2
    assert claim("ceiba-exaflops").value == 65
    assert claim("ceiba-exaflops").accelerator_count == 16384


def test_unknown_claim_says_which_exist() -> None:
    with pytest.raises(ConfigError, match="inf2-throughput"):
        claim("inf3-throughput")


def test_verdicts_are_from_the_allowed_set(checks: dict[str, ClaimCheck]) -> None:
    assert set(VERDICTS) == {"holds", "holds only when", "not supported by published specs"}
    for c in checks.values():
        assert c.verdict in VERDICTS
        assert c.conditions and c.verdict_detail


@pytest.mark.parametrize(
    ("claim_id", "ratio_key", "kind"),
    [
        ("inf2-throughput", "throughput_ratio", "sweep"),
        ("inf2-latency", "request_latency_ratio", "sweep"),
        ("trn2-training-speed", "speedup", "training"),
        ("trn2-energy-efficiency", "energy_efficiency_ratio", "training"),
    ],
)
def test_ratio_verdicts_follow_the_evidence(
    checks: dict[str, ClaimCheck], claim_id: str, ratio_key: str, kind: str
) -> None:
    c = checks[claim_id]
    ratios = [float(r[ratio_key]) for r in _rows(c, kind) if r[ratio_key] is not None]  # type: ignore[arg-type]
    assert ratios, "the default grid must have cases that fit both generations"
    assert c.model_value == pytest.approx(max(ratios))
    reached = [x for x in ratios if x >= c.claim_value]
    expected = (
        "holds" if len(reached) == len(ratios) else "holds only when" if reached else "not supported by published specs"
    )
    assert c.verdict == expected


def test_ceiba_fp8_sparse_total_is_16384_times_twice_the_dense_fp8_peak(
    checks: dict[str, ClaimCheck], catalog: Catalog
) -> None:
    c = checks["ceiba-exaflops"]
    dense_fp8 = catalog.chip("gh200").peak_flops_per_s(Precision.FP8)
    assert dense_fp8 is not None
    expected_e = 16384 * 2 * dense_fp8 / 1e18  # 16,384 x 3,958 TFLOPS = 64.8 EF
    row = next(r for r in _rows(c, "peak") if r["precision"] == "fp8" and r["sparsity"] == "2:4 structured")
    assert float(row["total_e"]) == pytest.approx(expected_e, rel=0.01)  # type: ignore[arg-type]
    assert c.model_value == pytest.approx(expected_e, rel=0.01)
    assert c.model_value == pytest.approx(c.claim_value, rel=0.05)  # "about 65"
    assert c.verdict == "holds only when"
    assert "fp8" in c.conditions and "sparsity" in c.conditions


def test_ceiba_dense_bf16_is_a_quarter_of_the_claim(checks: dict[str, ClaimCheck], catalog: Catalog) -> None:
    c = checks["ceiba-exaflops"]
    bf16 = catalog.chip("gh200").peak_flops_per_s(Precision.BF16)
    assert bf16 is not None
    row = next(r for r in _rows(c, "peak") if r["precision"] == "bf16" and r["sparsity"] == "dense")
    assert float(row["total_e"]) == pytest.approx(16384 * bf16 / 1e18)  # type: ignore[arg-type]
    assert float(row["total_e"]) < c.claim_value / 3  # type: ignore[arg-type]
    # no dense FLOPS figure reproduces the claim
    for r in _rows(c, "peak"):
        if r["sparsity"] == "dense" and r["is_flops"]:
            assert abs(float(r["total_e"]) / c.claim_value - 1) > 0.05  # type: ignore[arg-type]


def test_ceiba_sparse_factor_agrees_with_the_sparse_figure_quoted_in_the_catalog(
    checks: dict[str, ClaimCheck],
) -> None:
    # h200's fp8 note: "NVIDIA quotes 3958 with sparsity" for the same 1979 TFLOPS dense Hopper figure.
    row = next(
        r for r in _rows(checks["ceiba-exaflops"], "peak") if r["precision"] == "fp8" and r["sparsity"] != "dense"
    )
    assert row["sparse_over_dense_quoted"] == pytest.approx(2.0, rel=0.01)


def test_trainium_bf16_spec_ratio_is_the_catalog_ratio(checks: dict[str, ClaimCheck], catalog: Catalog) -> None:
    trn1 = catalog.chip("trainium1").peak_flops_per_s(Precision.BF16)
    trn2 = catalog.chip("trainium2").peak_flops_per_s(Precision.BF16)
    assert trn1 is not None and trn2 is not None
    for claim_id in ("trn2-training-speed", "trn2-energy-efficiency"):
        spec = next(r for r in _rows(checks[claim_id], "spec") if r["quantity"] == "bf16 dense peak")
        assert spec["new_over_old"] == pytest.approx(trn2 / trn1)  # 667 / 190 = 3.51
        assert spec["old_chip"] == "trainium1" and spec["new_chip"] == "trainium2"


def test_inferentia_spec_rows_come_from_the_catalog(checks: dict[str, ClaimCheck], catalog: Catalog) -> None:
    inf1, inf2 = catalog.chip("inferentia1"), catalog.chip("inferentia2")
    spec = {r["quantity"]: r for r in _rows(checks["inf2-throughput"], "spec")}
    assert spec["memory bandwidth"]["new_over_old"] == pytest.approx(inf2.memory_bytes_per_s / inf1.memory_bytes_per_s)
    assert spec["memory per chip"]["old_si"] == inf1.memory_bytes


def test_a_7b_model_in_bf16_does_not_fit_one_inferentia1_chip(checks: dict[str, ClaimCheck]) -> None:
    # 6.7 B parameters x 2 bytes = 13.5 GB > Inferentia1's 8 GiB (catalog) of device memory.
    fit = next(
        r
        for r in _rows(checks["inf2-throughput"], "fit")
        if r["model"] == "llama-2-7b" and r["weight_precision"] == "bf16"
    )
    assert fit["inf1_min_chips_for_weights"] == 2
    assert fit["inf2_min_chips_for_weights"] == 1
    one_chip = [
        r
        for r in _rows(checks["inf2-throughput"], "sweep")
        if r["model"] == "llama-2-7b" and r["weight_precision"] == "bf16" and r["inf1_instance"] == "inf1.xlarge"
    ]
    assert one_chip and not any(r["inf1_fits"] for r in one_chip)
    assert all(r["throughput_ratio"] is None for r in one_chip)


def test_inferentia_ratios_are_the_ratios_of_the_rows(catalog: Catalog) -> None:
    throughput, latency = check_inferentia(catalog, SMALL_SERVING)
    for r in _rows(throughput, "sweep"):
        if r["throughput_ratio"] is None:
            continue
        assert r["throughput_ratio"] == pytest.approx(
            float(r["inf2_output_tokens_per_s_per_chip"]) / float(r["inf1_output_tokens_per_s_per_chip"])  # type: ignore[arg-type]
        )
        assert r["request_latency_ratio"] == pytest.approx(
            float(r["inf1_request_latency_s"]) / float(r["inf2_request_latency_s"])  # type: ignore[arg-type]
        )
    assert latency.evidence == throughput.evidence


def test_trainium_speedup_is_the_tokens_per_s_ratio(catalog: Catalog) -> None:
    speed, _ = check_trainium(catalog, SMALL_TRAINING)
    (row,) = _rows(speed, "training")
    assert row["trn1_fits"] and row["trn2_fits"]
    assert row["speedup"] == pytest.approx(float(row["trn2_tokens_per_s"]) / float(row["trn1_tokens_per_s"]))  # type: ignore[arg-type]
    assert row["region"] is not None  # both generations priced in one region, so PUE cancels


def test_energy_efficiency_is_not_validated_while_tdps_are_estimates(
    checks: dict[str, ClaimCheck], catalog: Catalog
) -> None:
    assert catalog.chip("trainium1").tdp.basis is Basis.ESTIMATE
    assert catalog.chip("trainium2").tdp.basis is Basis.ESTIMATE
    c = checks["trn2-energy-efficiency"]
    assert c.validated is False
    assert "estimate" in c.verdict_detail
    assert any("trainium2 TDP" in a and "estimate" in a for a in c.assumptions)
    spread = [r for r in _rows(c, "training") if r["energy_efficiency_ratio_tdp_favourable"] is not None]
    assert spread
    for r in spread:
        lo, mid, hi = (
            float(r["energy_efficiency_ratio_tdp_unfavourable"]),  # type: ignore[arg-type]
            float(r["energy_efficiency_ratio"]),  # type: ignore[arg-type]
            float(r["energy_efficiency_ratio_tdp_favourable"]),  # type: ignore[arg-type]
        )
        assert lo < mid < hi


def test_validated_only_with_stated_tdps_and_validated_families(catalog: Catalog) -> None:
    chips = dict(catalog.chips)
    families = dict(catalog.families)
    for name in ("trainium1", "trainium2"):
        chip = chips[name]
        chips[name] = chip.model_copy(update={"tdp": chip.tdp.model_copy(update={"basis": Basis.STATED})})
        fam = families[chip.family]
        families[fam.name] = fam.model_copy(update={"validated": True})
    speed, energy = check_trainium(replace(catalog, chips=chips), SMALL_TRAINING)
    assert speed.validated is False and energy.validated is False  # families still unvalidated
    speed, energy = check_trainium(replace(catalog, chips=chips, families=families), SMALL_TRAINING)
    assert speed.validated is True and energy.validated is True


def test_as_dict_is_json_serializable(checks: dict[str, ClaimCheck]) -> None:
    text = json.dumps([c.as_dict() for c in checks.values()], allow_nan=False)
    back = json.loads(text)
    assert {d["id"] for d in back} == set(checks)
    for d in back:
        assert d["verdict"] in VERDICTS
        assert isinstance(d["evidence"], list) and d["evidence"]
        assert d["model_value"] is None or math.isfinite(d["model_value"])


def test_ceiba_check_is_pure_in_the_catalog(catalog: Catalog) -> None:
    gh200 = catalog.chip("gh200")
    fp8 = gh200.peak_dense[Precision.FP8]
    halved = gh200.model_copy(
        update={"peak_dense": {**gh200.peak_dense, Precision.FP8: fp8.model_copy(update={"value": fp8.value / 2})}}
    )
    c = check_ceiba(replace(catalog, chips={**catalog.chips, "gh200": halved}))
    assert c.verdict == "not supported by published specs"


def test_tables_render(checks: dict[str, ClaimCheck]) -> None:
    console = Console(record=True, width=200)
    console.print(claims_table(list(checks.values())))
    for c in checks.values():
        tables = evidence_tables(c)
        assert tables
        for t in tables:
            console.print(t)
    text = console.export_text()
    assert "holds only when" in text and "GT0170" in text


def test_a_verdict_on_a_family_without_measurements_says_so(catalog: Catalog) -> None:
    """Trainium2's family with no rows of its own (here: its documented priors): the verdict sentence names it."""
    priors = load_catalog(use_env=False, calibrated=False)
    assert priors.family("aws-neuron-v3").calibration is None
    for c in check_trainium(priors, SMALL_TRAINING):
        assert c.verdict_detail.startswith("Uncalibrated: ")
        assert "aws-neuron-v3 (trainium2): no measurements of its own" in c.verdict_detail
        assert any(u.startswith("aws-neuron-v3") for u in c.uncalibrated)
        assert c.validated is False


def test_every_unvalidated_family_is_named_in_the_verdict(checks: dict[str, ClaimCheck], catalog: Catalog) -> None:
    used = {
        "inf2-throughput": ("inferentia1", "inferentia2"),
        "inf2-latency": ("inferentia1", "inferentia2"),
        "trn2-training-speed": ("trainium1", "trainium2"),
        "trn2-energy-efficiency": ("trainium1", "trainium2"),
    }
    for cid, chips in used.items():
        for chip in chips:
            fam = catalog.family_of(catalog.chip(chip))
            named = f"{fam.name} ({chip})" in checks[cid].verdict_detail
            assert named is (not fam.validated), (cid, fam.name)


def test_the_verdict_uses_the_catalogs_wording_of_each_familys_status(catalog: Catalog) -> None:
    """The shipped Trainium2 family is fitted on a few rows, not validated: the verdict says so, not 'no
    measurements of its own' (the wording is Catalog.family_status's, one for every layer)."""
    fam = catalog.family("aws-neuron-v3")
    assert not fam.validated and fam.calibration is not None and fam.calibration.rows > 0
    for c in check_trainium(catalog, SMALL_TRAINING):
        sentence = f"aws-neuron-v3 (trainium2): fitted on only {fam.calibration.rows} rows"
        assert sentence in c.verdict_detail
        assert "aws-neuron-v3 (trainium2): no measurements" not in c.verdict_detail
        assert f"aws-neuron-v3 ({catalog.family_status(fam)})" in " ".join(c.assumptions)


def test_a_verdict_on_validated_families_has_no_uncalibrated_sentence(catalog: Catalog) -> None:
    families = dict(catalog.families)
    for name in ("trainium1", "trainium2"):
        fam = families[catalog.chip(name).family]
        families[fam.name] = fam.model_copy(update={"validated": True})
    for c in check_trainium(replace(catalog, families=families), SMALL_TRAINING):
        assert not c.uncalibrated and "Uncalibrated" not in c.verdict_detail
