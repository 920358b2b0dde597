"""Serving engine profiles: the shipped data, names and aliases, versions, overheads, published speculative settings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chipfleet.exceptions import ConfigError, UnknownNameError
from chipfleet.perf.engines import (
    DEFAULT_ENGINE,
    ENGINES,
    EngineProfile,
    SpecDecode,
    default_spec,
    engine_names,
    engine_profile,
    fit_first_token_overhead,
    fit_overheads,
    parse_engines,
    published_specs,
    register_engine,
)

URL_OR_DOC = ("http", "chipfleet", "DeepSeek")


@pytest.mark.parametrize("name", ENGINES.names())
def test_every_engine_is_described_sourced_and_found_case_insensitively(name: str) -> None:
    profile = ENGINES.get(name)
    assert len(ENGINES.description(name)) >= 10 and "\n" not in ENGINES.description(name)
    assert profile.sources and all(s.startswith(URL_OR_DOC) for s in profile.sources)
    assert "2026" in profile.as_of
    assert engine_profile(name.upper()) is profile
    assert profile.overheads in ("prior", "calibrated")
    for override in profile.versions:
        assert override.source.startswith("http")


def test_every_engine_the_issue_names_is_there() -> None:
    assert {"vllm", "sglang", "trtllm", "nxdi", "jetstream"} <= set(ENGINES.names())


@pytest.mark.parametrize(
    ("typed", "engine"),
    [
        ("trt", "trtllm"),
        ("dynamo-trt", "trtllm"),
        ("dynamo-sglang", "sglang"),
        ("sglang-disagg", "sglang"),
        ("dynamo-vllm", "vllm"),
        ("atom", "vllm"),
        (" SGLang ", "sglang"),
    ],
)
def test_inferencex_framework_names_map_to_their_engine(typed: str, engine: str) -> None:
    assert engine_profile(typed).name == engine
    assert typed.strip().lower() in engine_names()


def test_a_version_is_kept_and_older_releases_take_their_defaults() -> None:
    new = engine_profile("vllm@0.11.2")
    assert str(new) == "vllm@0.11.2"
    assert (new.max_num_seqs, new.chunked_prefill) == (engine_profile("vllm").max_num_seqs, True)
    old = engine_profile("vllm@0.7.3")
    assert old.max_num_seqs == 256 and not old.chunked_prefill and old.max_num_batched_tokens is None
    assert engine_profile("vllm@0.8.0").max_num_seqs == new.max_num_seqs  # "before 0.8.0" excludes 0.8.0
    with pytest.raises(ConfigError) as err:
        engine_profile("vllm@latest")
    assert err.value.field == "engine"


def test_an_unknown_engine_suggests_the_closest() -> None:
    with pytest.raises(UnknownNameError) as err:
        engine_profile("vlm")
    assert "vllm" in err.value.suggestions


def test_the_default_engine_changes_nothing() -> None:
    d = engine_profile(None)
    assert d is DEFAULT_ENGINE and d.is_default
    assert d.max_num_seqs is None and d.max_num_batched_tokens is None and not d.chunked_prefill
    assert d.overhead_s(1) == 0.0 and d.overhead_s(10_000) == 0.0
    assert d.runs_on("anything-at-all")


def test_overhead_is_fixed_plus_per_sequence() -> None:
    e = replace(engine_profile("sglang"), iteration_overhead_s=2e-3, per_seq_overhead_s=5e-6)
    assert e.overhead_s(100) == pytest.approx(2e-3 + 100 * 5e-6, rel=1e-15)
    assert e.overhead_s(0) == 0.0  # an iteration that runs nothing is not an iteration


def test_engines_run_on_their_chips_only() -> None:
    assert engine_profile("trtllm").runs_on("nvidia-hopper")
    assert not engine_profile("trtllm").runs_on("amd-cdna3")
    assert engine_profile("sglang").runs_on("amd-cdna3")
    assert engine_profile("nxdi").runs_on("aws-neuron-v2") and not engine_profile("nxdi").runs_on("google-tpu")
    assert engine_profile("jetstream").runs_on("google-tpu")


def test_a_malformed_engine_file_is_refused_naming_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="schema_version"):
        parse_engines("engines: []", "mine.yaml")
    with pytest.raises(ConfigError, match="sources") as err:
        parse_engines("schema_version: 1\nengines:\n  - name: mine\n", "mine.yaml")
    assert err.value.field == "sources"
    with pytest.raises(ConfigError, match="max_num_seqs"):
        parse_engines("schema_version: 1\nengines:\n  - {name: mine, sources: [x], max_num_seqs: 0}\n", "m.yaml")
    with pytest.raises(ConfigError, match="iteration_overhead_s"):
        parse_engines("schema_version: 1\nengines:\n  - {name: m, sources: [x], iteration_overhead_s: 2}\n", "m")


def test_a_taken_alias_is_refused_and_nothing_is_registered() -> None:
    before = len(ENGINES)
    clash: EngineProfile = replace(engine_profile("vllm"), name="mine", aliases=("trt",))
    with pytest.raises(ConfigError, match="trt"):
        register_engine(clash)
    assert len(ENGINES) == before and "mine" not in ENGINES


# ===================================================================== speculative decoding settings
def test_spec_decode_checks_its_acceptance_length() -> None:
    assert SpecDecode(acceptance_length=3.0, draft_tokens=2).acceptance_length == 3.0
    with pytest.raises(ConfigError) as err:
        SpecDecode(acceptance_length=2.5, draft_tokens=1)  # at most k + 1 tokens per verification
    assert err.value.field == "acceptance_length"
    with pytest.raises(ConfigError):
        SpecDecode(acceptance_length=0.9)
    with pytest.raises(ConfigError) as err:
        SpecDecode(acceptance_length=1.5, draft_tokens=0)
    assert err.value.field == "draft_tokens"


def test_deepseek_mtp_takes_the_published_acceptance() -> None:
    """DeepSeek-V3 report §5.4.3: the second token is accepted 85-90 % of the time, one MTP draft token."""
    spec = default_spec("deepseek-r1-0528")
    assert spec is not None and spec.draft_tokens == 1
    assert 1.85 <= spec.acceptance_length <= 1.90
    assert default_spec("deepseek-v3") == spec
    assert default_spec("llama-3-70b") is None
    assert all(e.source and e.derivation for e in published_specs())


def test_batching_limits_come_from_the_user_then_the_engine_then_chipfleet() -> None:
    fallback = (256, 8192)
    assert DEFAULT_ENGINE.batching(None, None, None, fallback) == (256, 8192, True)  # the simulator as it was
    vllm = engine_profile("vllm")
    assert vllm.batching(None, None, None, fallback) == (vllm.max_num_seqs, vllm.max_num_batched_tokens, True)
    assert vllm.batching(64, 2048, False, fallback) == (64, 2048, False)
    jet = engine_profile("jetstream")  # no caps of its own, prompts prefilled whole
    assert jet.batching(None, None, None, fallback) == (256, 8192, False)


def test_require_chip_names_the_families_an_engine_runs_on() -> None:
    engine_profile("sglang").require_chip("mi300x", "amd-cdna3")
    with pytest.raises(ConfigError, match=r"nvidia-\*, amd-\*") as err:
        engine_profile("sglang").require_chip("trainium2", "aws-neuron-v3")
    assert err.value.field == "engine"


# ===================================================================== fitting the overheads
def test_fit_recovers_overheads_that_explain_the_residuals_exactly() -> None:
    d = [1.0, 8.0, 32.0, 64.0, 128.0]
    measured = [0.01 + 0.001 * i for i in range(5)]
    residual = [1e-3 + 1e-5 * x for x in d]
    a, b = fit_overheads(residual, d, measured)
    assert a == pytest.approx(1e-3, rel=1e-6) and b == pytest.approx(1e-5, rel=1e-6)


def test_fit_is_never_negative_and_ignores_a_lone_outlier() -> None:
    d = [4.0, 16.0, 64.0, 128.0]
    assert fit_overheads([-2e-3] * 4, d, [0.01] * 4) == (0.0, 0.0)  # an engine cannot take time away
    many = [4.0, 8.0, 16.0, 32.0, 64.0, 128.0]
    residual = [2e-3, 2e-3, 0.5, 2e-3, 2e-3, 2e-3]  # one badly predicted run among six
    a, b = fit_overheads(residual, many, [0.02] * 6)  # least absolute error: the outlier does not pull the fit
    assert (a, b) == (pytest.approx(2e-3, rel=1e-6), pytest.approx(0.0, abs=1e-12))
    assert fit_overheads([], [], []) == (0.0, 0.0)


def test_calibrated_overheads_say_how_they_were_fitted() -> None:
    for name in ENGINES.names():
        p = ENGINES.get(name)
        assert p.overheads == "prior" or "fitted" in p.calibration
        assert p.iteration_overhead_s >= 0 and p.per_seq_overhead_s >= 0
    with pytest.raises(ConfigError, match="calibration"):
        parse_engines("schema_version: 1\nengines:\n  - {name: m, sources: [x], overheads: calibrated}\n", "m")


def test_first_token_fit_is_the_relative_error_median_and_never_negative() -> None:
    # a constant delay on every run is found exactly, whatever the TTFTs around it
    measured = [0.1, 0.4, 1.5, 3.0]
    assert fit_first_token_overhead([0.03] * 4, measured) == pytest.approx(0.03)
    # one badly predicted run does not move it (least absolute, not least squares)
    assert fit_first_token_overhead([0.03, 0.03, 0.03, 2.0], measured) == pytest.approx(0.03)
    # the fit minimises Σ|r − c| / measured: no other value does better
    r, m = [0.01, 0.05, 0.2, -0.1], [0.05, 0.3, 2.0, 0.5]
    c = fit_first_token_overhead(r, m)

    def cost(x: float) -> float:
        return sum(abs(ri - x) / mi for ri, mi in zip(r, m, strict=True))

    assert all(cost(c) <= cost(x) + 1e-12 for x in [i / 1000 for i in range(-100, 300)])
    assert fit_first_token_overhead([-0.05, -0.02], [1.0, 1.0]) == 0.0
    assert fit_first_token_overhead([], []) == 0.0


def test_a_shipped_first_token_overhead_is_a_documented_calibration() -> None:
    for name in ENGINES.names():
        p = ENGINES.get(name)
        assert 0.0 <= p.first_token_overhead_s < 1.0
        if p.first_token_overhead_s > 0:
            assert "first_token_overhead_s" in p.calibration and "leave-one-hardware-out" in p.calibration
    assert DEFAULT_ENGINE.first_token_overhead_s == 0.0


def test_a_first_token_overhead_without_its_calibration_is_refused() -> None:
    doc = (
        "schema_version: 1\nengines:\n  - name: x\n    sources: ['https://x (read 2026-12-06)']\n"
        "    first_token_overhead_s: 0.02\n"
    )
    with pytest.raises(ConfigError) as err:
        parse_engines(doc, "test")
    assert err.value.field == "overheads"
    (ok,) = parse_engines(doc + "    calibration: 'fitted on test data'\n", "test")
    assert ok.first_token_overhead_s == 0.02


def test_a_first_token_held_back_waits_its_share_of_the_stream_interval() -> None:
    doc = (
        "schema_version: 1\nengines:\n  - name: x\n    sources: ['https://x (read 2026-12-06)']\n"
        "    first_token_stream_share: 0.5\n"
    )
    with pytest.raises(ConfigError) as err:  # a shipped share needs its calibration note too
        parse_engines(doc, "test")
    assert err.value.field == "overheads"
    (x,) = parse_engines(doc + "    calibration: 'checked on test data'\n", "test")
    assert x.first_token_iterations(20) == pytest.approx(9.5)
    assert x.first_token_iterations(1) == 0.0  # every token streamed at once: nothing held back
    assert DEFAULT_ENGINE.first_token_iterations(20) == 0.0
    assert engine_profile("trtllm").first_token_stream_share > 0  # documented in engines.yaml
    assert engine_profile("sglang").first_token_iterations(10) == 0.0  # SGLang sends its first token at once
    bad = doc.replace("0.5", "1.5") + "    calibration: 'x'\n"
    with pytest.raises(ConfigError, match=r"share in \[0, 1\]"):
        parse_engines(bad, "test")
