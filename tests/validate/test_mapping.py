"""Mapping published rows onto models, chips, instances, splits and precisions — from the columns alone."""

from __future__ import annotations

import dataclasses

import pytest

from chipfleet.catalog import Catalog, Precision
from chipfleet.validate.dataset import Measurement, shipped_measurements
from chipfleet.validate.mapping import (
    InferCase,
    Skip,
    TrainCase,
    map_row,
    parse_parallelism,
    parse_token_count,
    server_rates,
)
from chipfleet.validate.predict import Prepared, predict, prepare


def row(**kw: object) -> Measurement:
    base: dict[str, object] = {
        "id": "T1",
        "kind": "train",
        "source": "example/repo:docs/table.csv@abc",
        "model": "Llama-2-70B pre-training",
        "params_b": 70.0,
        "accelerator": "NVIDIA H100 SXM 80GB",
        "accel_count": 64,
        "instance_or_system": "DGX-H100 (8 nodes)",
        "precision": "BF16",
        "framework": "",
        "parallelism": "tp=4,pp=4,dp=4",
        "seq_len": 4096,
        "batch": "128",
        "input_len": "",
        "output_len": "",
        "metric": "tokens_per_s_per_gpu",
        "value": 1000.0,
        "notes": "",
        "line": 2,
    }
    base.update(kw)
    return Measurement(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Llama-3.1-8B pre-training", "llama-3.1-8b"),
        ("LLAMA2-70B pretraining", "llama-2-70b"),
        ("LLaMA 7B (Llama-2-7b)", "llama-2-7b"),
        ("Llama 2 13B", "llama-2-13b"),
        ("GPT3-175B pretraining", "gpt-3-175b"),
        ("GPT-J 6B (MLPerf gptj-99, CNN/DailyMail)", "gpt-j-6b"),
        ("Mixtral-8x7B (MLPerf mixtral-8x7b)", "mixtral-8x7b"),
        ("opt-66b", "opt-66b"),
        ("BLOOM 176B pretraining", "bloom-176b"),
        ("MaxText synthetic LLM 128B (global_parameter_scale=128)", "maxtext-128b"),
        ("Nemotron-340B pretraining", "nemotron-4-340b"),
    ],
)
def test_model_names_map_to_the_zoo(cat: Catalog, text: str, slug: str) -> None:
    case = map_row(row(model=text), cat)
    assert not isinstance(case, Skip), case
    assert case.model.name == slug


@pytest.mark.parametrize(
    ("text", "chip"),
    [
        ("NVIDIA H100 SXM 80GB", "h100-sxm"),
        ("NVIDIA H200 SXM 141GB", "h200"),
        ("AWS Trainium1", "trainium1"),
        ("Google TPU v6e (Trillium)", "tpu-v6e"),
        ("NVIDIA A100 SXM 40GB", "a100-40gb"),
        ("NVIDIA A100 (SXM, variant not stated)", "a100-80gb"),
    ],
)
def test_accelerators_map_to_chips(cat: Catalog, text: str, chip: str) -> None:
    case = map_row(row(accelerator=text, accel_count=64, parallelism=""), cat)
    assert not isinstance(case, Skip), case
    assert case.chip.name == chip


def test_unknown_accelerator_is_skipped_in_scope(cat: Catalog) -> None:
    skip = map_row(row(accelerator="Intel Gaudi 3"), cat)  # GB200 was the example until the catalog gained it
    assert isinstance(skip, Skip) and skip.in_scope and "Gaudi 3" in skip.reason


def test_neuroncore_degrees_become_chips(cat: Catalog) -> None:
    trn1 = cat.chip("trainium1")
    fixed, notes = parse_parallelism("tp=32,dp=32,pp=1,zero1 (degrees over NeuronCores; 2 NeuronCores per chip)", trn1)
    assert fixed["tp"] == 16 and fixed["dp"] == 32 and fixed["zero"] == 1
    assert notes and "16 chips" in notes[0]
    trn2 = cat.chip("trainium2")
    fixed2, _ = parse_parallelism("tp=64 (logical NeuronCores, LNC=2)", trn2)
    assert fixed2["tp"] == 16  # 8 physical cores per chip, 2 per logical core


def test_gpu_degrees_are_kept(cat: Catalog) -> None:
    fixed, notes = parse_parallelism("tp=4,pp=8,cp=2,vp=6,dp=4", cat.chip("h100-sxm"))
    assert fixed == {"tp": 4, "pp": 8, "cp": 2, "virtual_stages": 6, "dp": 4}
    assert notes == []


def test_training_case(cat: Catalog) -> None:
    case = map_row(row(notes="Microbatch 1, AdamW"), cat)
    assert isinstance(case, TrainCase)
    assert case.instance.name == "p5.48xlarge" and case.instances == 8
    assert case.fixed["micro_batch"] == 1
    assert case.setup.global_batch == 128 and case.setup.seq_len == 4096


def test_batch_in_tokens(cat: Catalog) -> None:
    case = map_row(row(batch="16M tokens", seq_len=8192, parallelism="", accel_count=1024), cat)
    assert isinstance(case, TrainCase)
    assert case.setup.global_batch == 2048


def test_inference_case_and_precision(cat: Catalog) -> None:
    r = row(
        kind="infer",
        model="Llama-3-8B",
        accelerator="AWS Inferentia2",
        accel_count=12,
        instance_or_system="inf2.48xlarge (12 Inferentia2 chips / 24 NeuronCores)",
        precision="FP16/BF16 (weights int8)",
        parallelism="tp=24 (NeuronCores)",
        batch="8",
        input_len="2048",
        output_len="2048",
        metric="tpot_ms_p50",
    )
    case = map_row(r, cat)
    assert isinstance(case, InferCase)
    assert case.instance.name == "inf2.48xlarge" and case.tp == 12 and case.batch == 8
    assert case.precision is Precision.INT8
    fp8 = map_row(dataclasses.replace(r, accelerator="NVIDIA H100 SXM 80GB", precision="FP8", parallelism="tp=1",
                                      instance_or_system="DGX H100", accel_count=1), cat)  # fmt: skip
    assert isinstance(fp8, InferCase) and fp8.precision is Precision.FP8


@pytest.mark.parametrize(
    ("metric", "kind", "in_scope"),
    [
        ("time_to_train_min", "train", False),
        ("avg_system_power_w_offline", "infer", False),
        ("ai_exaflops", "claim", False),
    ],
)
def test_out_of_scope_rows(cat: Catalog, metric: str, kind: str, in_scope: bool) -> None:
    skip = map_row(row(metric=metric, kind=kind), cat)
    assert isinstance(skip, Skip) and skip.in_scope is in_scope


def test_server_throughput_rows_are_in_scope_but_not_replayed_without_constraints(cat: Catalog) -> None:
    r = row(kind="infer", model="Llama-2-70B-Chat (MLPerf llama2-70b-99)", metric="tokens_per_s_server",
            source="mlcommons/inference_results_v4.1:x", input_len="1024", output_len="290", batch="")  # fmt: skip
    skip = map_row(r, cat)
    assert isinstance(skip, Skip) and skip.in_scope and "latency constraints" in skip.reason


def server_run(metric: str, value: float, notes: str = "") -> Measurement:
    return row(kind="infer", model="Llama-2-70B-Chat (MLPerf llama2-70b-99)", metric=metric, value=value,
               accelerator="NVIDIA H100 SXM 80GB", accel_count=8, instance_or_system="DGX H100",
               precision="FP8", parallelism="tp=2", source="mlcommons/inference_results_v4.1:run_1",
               input_len="300", output_len="290", batch="", notes=notes)  # fmt: skip


def test_server_latency_rows_take_the_runs_offered_rate(cat: Catalog) -> None:
    rows = [server_run("tokens_per_s_server", 9000.0, "samples/s 31.0; derived mean output ..."),
            server_run("ttft_ms_p50_server", 250.0)]  # fmt: skip
    rates = server_rates(rows)
    assert rates == {"mlcommons/inference_results_v4.1:run_1": 31.0}
    case = map_row(rows[1], cat, rates)
    assert isinstance(case, InferCase) and case.server_rate_per_s == 31.0
    skip = map_row(rows[1], cat)  # without its run's throughput row there is no offered load
    assert isinstance(skip, Skip) and skip.in_scope and "offered rate" in skip.reason


def test_missing_lengths_are_skipped_in_scope(cat: Catalog) -> None:
    r = row(kind="infer", model="Llama 2 7B", metric="tokens_per_s", input_len="", output_len="", batch="20")
    skip = map_row(r, cat)
    assert isinstance(skip, Skip) and skip.in_scope and "lengths" in skip.reason


# ----------------------------------------------------------------------------- notes, token counts, copies
@pytest.mark.parametrize(
    ("notes", "skipped"),
    [
        ("BF16, no speculative decoding. Tutorial trn2-llama3.1-405b-speculative-tutorial.rst: batch 1", False),
        ("Without speculative decoding; batch 1", False),
        ("non-speculative baseline", False),
        ("speculative decoding disabled", False),
        ("Fused speculative decoding, 7 speculative tokens.", True),
        ("vLLM with speculative decoding (EAGLE draft)", True),
    ],
)
def test_negated_speculative_decoding_is_not_read_as_speculative(cat: Catalog, notes: str, skipped: bool) -> None:
    r = row(kind="infer", model="Llama-3-8B", metric="tpot_ms_p50", parallelism="tp=1", accel_count=1,
            instance_or_system="DGX H100", batch="1", input_len="128", output_len="128", notes=notes)  # fmt: skip
    case = map_row(r, cat)
    is_spec_skip = isinstance(case, Skip) and "speculative" in case.reason
    assert is_spec_skip is skipped, case


@pytest.mark.parametrize(
    ("text", "tokens", "qualifier"),
    [
        ("Llama 2 70B pretraining (2.0T tokens)", 2.0e12, "exact"),
        ("15T+", 15e12, "at least"),
        ("~15T", 15e12, "approximate"),
        ("pretrained on ~15T tokens", 15e12, "approximate"),
        ("≈ 15T tokens", 15e12, "approximate"),
        ("Token count 15T+ (model card)", 15e12, "at least"),
        ("over 15 trillion tokens", 15e12, "at least"),
        ("1.4 trillion tokens", 1.4e12, "exact"),
        ("4M tokens", 4 * 2**20, "exact"),
    ],
)
def test_token_counts_parse(text: str, tokens: float, qualifier: str) -> None:
    count = parse_token_count(text)
    assert count is not None and count.tokens == pytest.approx(tokens) and count.qualifier == qualifier


def test_a_model_size_is_not_a_token_count() -> None:
    assert parse_token_count("Llama 3.1 405B training") is None
    assert parse_token_count("Llama 2 70B") is None


@pytest.mark.parametrize("written", ["15T+", "~15T"])
def test_gpu_hours_rows_with_qualified_token_counts_are_predicted(cat: Catalog, written: str) -> None:
    r = row(model="Llama 3.1 405B training", accelerator="NVIDIA H100 SXM 80GB", accel_count=None, parallelism="",
            batch="", metric="gpu_hours", value=3.0e7, notes=f"Training tokens {written} (model card)")  # fmt: skip
    case = map_row(r, cat)
    assert isinstance(case, TrainCase), case
    assert case.tokens == pytest.approx(15e12)
    assert any(written in a for a in case.assumptions)


def neuron_row(parallelism: str, notes: str = "") -> Measurement:
    return row(kind="infer", model="Llama-3-8B", accelerator="AWS Inferentia2", accel_count=12,
               instance_or_system="inf2.48xlarge (12 Inferentia2 chips / 24 NeuronCores)", precision="BF16",
               parallelism=parallelism, batch="4", input_len="128", output_len="128",
               metric="output_tokens_per_s", notes=notes)  # fmt: skip


def test_neuron_throughput_is_for_one_copy_unless_the_row_says_more(cat: Catalog) -> None:
    one = map_row(neuron_row("tp=8 (NeuronCores)"), cat)
    assert isinstance(one, InferCase) and one.tp == 4 and one.copies == 1
    assert any("1 assumed" in a and "chips ÷ tp" in a for a in one.assumptions)
    three = map_row(neuron_row("tp=8 (NeuronCores)", notes="3 model copies on the instance"), cat)
    assert isinstance(three, InferCase) and three.copies == 3
    p_one, p_three = prepare(one, cat), prepare(three, cat)
    assert isinstance(p_one, Prepared) and isinstance(p_three, Prepared)
    assert predict(p_three) == pytest.approx(3 * predict(p_one))


def test_gpu_copies_not_stated_are_an_explicit_assumption(cat: Catalog) -> None:
    r = row(kind="infer", model="Llama-3-8B", metric="output_tokens_per_s", parallelism="tp=2", accel_count=8,
            instance_or_system="DGX H100", batch="8", input_len="128", output_len="128")  # fmt: skip
    case = map_row(r, cat)
    assert isinstance(case, InferCase) and case.copies is None
    prep = prepare(case, cat)
    assert isinstance(prep, Prepared) and prep.copies == 4
    assert any("4 copies assumed" in a for a in prep.assumptions)


def test_more_copies_than_chips_is_skipped(cat: Catalog) -> None:
    skip = map_row(neuron_row("tp=8 (NeuronCores)", notes="copies=4"), cat)
    assert isinstance(skip, Skip) and skip.in_scope and "copies" in skip.reason


def test_shipped_trn2_rows_without_speculative_decoding_are_predicted(cat: Catalog) -> None:
    rows = {r.id: r for r in shipped_measurements().rows}
    assert "no speculative decoding" in rows["GT0054"].notes.lower()
    for rid in ("GT0054", "GT0055", "GT0056"):
        assert isinstance(map_row(rows[rid], cat), InferCase), rid
    fused = map_row(rows["GT0051"], cat)  # "Fused speculative decoding, 7 speculative tokens"
    assert isinstance(fused, Skip) and "speculative" in fused.reason


def test_twin_nodes_of_other_clouds_do_not_change_the_modelled_node(cat: Catalog) -> None:
    """p5.48xlarge and Azure's ND H100 v5 are the same 8-GPU node: a system text that names neither stays on
    AWS's (the shipped fit's reference), one that names a cloud gets that cloud's node."""
    assert "standard_nd96isr_h100_v5" in cat.instances
    dgx = map_row(row(instance_or_system="DGX-H100 (8 nodes)"), cat)
    azure = map_row(row(instance_or_system="Azure ND H100 v5 cluster (8 VMs)"), cat)
    assert isinstance(dgx, TrainCase) and dgx.instance.name == "p5.48xlarge"
    assert isinstance(azure, TrainCase) and azure.instance.name == "standard_nd96isr_h100_v5"
