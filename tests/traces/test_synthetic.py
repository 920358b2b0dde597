"""Synthetic generators (rates, burstiness, diurnal shape, determinism) and length distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chipfleet.exceptions import ConfigError, UnknownNameError
from chipfleet.traces import (
    EmpiricalLength,
    FixedLength,
    JobTrace,
    LognormalLength,
    RequestTrace,
    UniformLength,
    diurnal,
    empirical_length,
    gamma_bursty,
    load_trace,
    parse_length_dist,
    poisson,
    poisson_jobs,
)
from chipfleet.traces.synthetic import diurnal_rate_per_s

SEED = 20240601


def rng(seed: int = SEED) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- arrival processes ---------------------------------------------------------------------------------------------


def test_poisson_rate_over_100k_arrivals() -> None:
    t = poisson(8.0, n=100_000, input_dist="fixed:100", output_dist="fixed:10", rng=rng())
    assert len(t) == 100_000 and t.arrival_s[0] == 0.0
    assert t.rate_per_s == pytest.approx(8.0, rel=0.02)
    gaps = np.diff(t.arrival_s)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.02)  # exponential gaps
    assert t.input_tokens.tolist()[:3] == [100, 100, 100]


def test_poisson_for_a_duration() -> None:
    t = poisson(5.0, duration_s=20_000, input_dist="1", output_dist="1", rng=rng())
    assert t.arrival_s.max() < 20_000
    assert len(t) == pytest.approx(100_000, rel=0.02)
    assert len(poisson(5.0, duration_s=0, input_dist="1", output_dist="1", rng=rng())) == 0
    assert len(poisson(5.0, n=0, input_dist="1", output_dist="1", rng=rng())) == 0


@pytest.mark.parametrize("cv", [0.5, 1.0, 2.0, 4.0])
def test_gamma_cv_and_rate(cv: float) -> None:
    t = gamma_bursty(3.0, cv, n=100_000, input_dist="1", output_dist="1", rng=rng())
    gaps = np.diff(t.arrival_s)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.05)
    assert t.rate_per_s == pytest.approx(3.0, rel=0.05)


def test_diurnal_peak_to_trough_and_mean_rate() -> None:
    period_s, ratio, mean = 1_000.0, 4.0, 20.0
    t = diurnal(mean, ratio, period_s, duration_s=200 * period_s, input_dist="1", output_dist="1", rng=rng())
    assert len(t) / (200 * period_s) == pytest.approx(mean, rel=0.02)
    phase = (t.arrival_s % period_s) / period_s
    half_width = 0.025
    trough = np.count_nonzero((phase < half_width) | (phase > 1 - half_width))
    peak = np.count_nonzero(np.abs(phase - 0.5) < half_width)
    a = (ratio - 1) / (ratio + 1)
    shrink = math.sin(math.pi * 2 * half_width) / (math.pi * 2 * half_width)  # averaging over the window
    expected = (1 + a * shrink) / (1 - a * shrink)
    assert peak / trough == pytest.approx(expected, rel=0.08)
    assert expected == pytest.approx(ratio, rel=0.02)


def test_diurnal_peak_time_and_count_mode() -> None:
    t = diurnal(10.0, 3.0, 100.0, peak_s=25.0, n=50_000, input_dist="1", output_dist="1", rng=rng())
    assert len(t) == 50_000
    phase = t.arrival_s % 100.0
    near_peak = np.count_nonzero(np.abs(phase - 25.0) < 5)
    near_trough = np.count_nonzero(np.abs(phase - 75.0) < 5)
    assert near_peak > 2.5 * near_trough
    rates = diurnal_rate_per_s(np.array([25.0, 75.0]), 10.0, 3.0, 100.0, 25.0)
    assert rates[0] / rates[1] == pytest.approx(3.0)
    assert rates.mean() == pytest.approx(10.0)


def test_flat_diurnal_is_poisson() -> None:
    t = diurnal(5.0, 1.0, n=50_000, input_dist="1", output_dist="1", rng=rng())
    gaps = np.diff(t.arrival_s)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize(
    "make",
    [
        lambda g: poisson(2.0, n=1_000, input_dist="lognormal:mean=500,sigma=1", output_dist="uniform:1,50", rng=g),
        lambda g: gamma_bursty(2.0, 3.0, duration_s=500, input_dist="fixed:3", output_dist="trace:azure-code", rng=g),
        lambda g: diurnal(2.0, 5.0, 600.0, n=1_000, input_dist="uniform:1,9", output_dist="1", rng=g),
        lambda g: poisson_jobs(0.1, n=500, chips_dist="trace:philly:chips", job_duration_dist="fixed:60", rng=g),
    ],
)
def test_same_seed_same_trace(make: object) -> None:
    build = make  # type: ignore[assignment]
    a, b, c = build(rng(1)), build(rng(1)), build(rng(2))  # type: ignore[operator]
    times = "arrival_s" if isinstance(a, RequestTrace) else "submit_s"
    assert np.array_equal(getattr(a, times), getattr(b, times))
    assert not np.array_equal(getattr(a, times), getattr(c, times))
    if isinstance(a, RequestTrace):
        assert np.array_equal(a.input_tokens, b.input_tokens) and np.array_equal(a.output_tokens, b.output_tokens)
    assert a.source == b.source and a.license == "generated"


def test_generator_argument_errors() -> None:
    kw: dict[str, object] = {"input_dist": "1", "output_dist": "1", "rng": rng()}
    with pytest.raises(ConfigError, match="exactly one of n"):
        poisson(1.0, n=5, duration_s=5.0, **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="exactly one of n"):
        poisson(1.0, **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="rate_per_s must be"):
        poisson(0.0, n=5, **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cv must be"):
        gamma_bursty(1.0, 0.0, n=5, **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="peak_to_trough must be >= 1"):
        diurnal(1.0, 0.5, n=5, **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n must be between 0 and"):
        poisson(1.0, n=-1, **kw)  # type: ignore[arg-type]
    # Bounded before any work: these would otherwise allocate terabytes or loop forever.
    with pytest.raises(ConfigError, match=r"would generate about 1e\+12 arrivals"):
        poisson(1e6, duration_s=1e6, **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="would generate"):
        poisson_jobs(1e300, duration_s=1.0, job_duration_dist="5", rng=rng())
    with pytest.raises(ConfigError, match="would generate"):
        diurnal(1e9, 2.0, duration_s=86_400.0, **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="peak_s must be a finite"):
        diurnal(1.0, 2.0, peak_s=math.nan, n=5, **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cv must be a finite number between"):
        gamma_bursty(1.0, 1e200, n=5, **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="10-year"):  # gaps of 1e300 s: refused by the trace's span bound
        poisson(1e-300, n=3, **kw)  # type: ignore[arg-type]


def test_lognormal_draws_are_capped_at_the_token_bound() -> None:
    wide = LognormalLength(5_000_000.0, 10.0)
    draws = wide.sample(2000, rng())
    assert draws.min() >= 1 and draws.max() == 10_000_000


def test_poisson_jobs() -> None:
    j = poisson_jobs(
        0.5, n=20_000, chips_dist="uniform:1,8", job_duration_dist="lognormal:median=600,sigma=1", rng=rng()
    )
    assert isinstance(j, JobTrace)
    assert j.rate_per_s == pytest.approx(0.5, rel=0.03)
    assert j.chips.min() >= 1 and j.chips.max() <= 8
    assert np.median(j.duration_s) == pytest.approx(600, rel=0.05)


# --- length distributions ----------------------------------------------------------------------------------------


def test_parse_forms() -> None:
    assert parse_length_dist("fixed:1024") == FixedLength(1024)
    assert parse_length_dist(" 512 ") == FixedLength(512)
    assert parse_length_dist("fixed:tokens=8") == FixedLength(8)
    assert parse_length_dist("uniform:128,2048") == UniformLength(128, 2048)
    assert parse_length_dist("uniform:low=1,high=2") == UniformLength(1, 2)
    assert parse_length_dist("lognormal:median=700,sigma=0.5") == LognormalLength(700, 0.5)
    by_mean = parse_length_dist("lognormal:mean=1000,sigma=1,max=8192")
    assert isinstance(by_mean, LognormalLength) and by_mean.max_tokens == 8192
    assert by_mean.mean_tokens == pytest.approx(1000)
    assert by_mean.median_tokens == pytest.approx(1000 / math.exp(0.5))
    both = parse_length_dist("lognormal:mean=1000,median=700")
    assert isinstance(both, LognormalLength) and both.mean_tokens == pytest.approx(1000)
    for dist in (FixedLength(3), UniformLength(2, 9), LognormalLength(700, 0.5, 4000)):
        assert parse_length_dist(dist.spec()) == dist


def test_token_counts_read_k_as_1024_like_every_token_option() -> None:
    """--input-tokens 1k, uniform:128,2k and max=8k read k = 1024, as chipfleet.units.parse_tokens does."""
    assert parse_length_dist("1k") == FixedLength(1024)
    assert parse_length_dist("fixed:2k") == FixedLength(2048)
    assert parse_length_dist("uniform:128,2k") == UniformLength(128, 2048)
    assert parse_length_dist("uniform:low=0.5k,high=1M") == UniformLength(512, 1024**2)
    capped = parse_length_dist("lognormal:mean=1500,sigma=1,max=8k")
    assert isinstance(capped, LognormalLength) and capped.max_tokens == 8192
    assert capped.mean_tokens == pytest.approx(1500)
    by_k = parse_length_dist("lognormal:mean=1.5k,median=1k", role="output")
    assert isinstance(by_k, LognormalLength)
    assert by_k.mean_tokens == pytest.approx(1536) and by_k.median_tokens == pytest.approx(1024)
    assert parse_length_dist("lognormal:median=700.5,sigma=0.5") == LognormalLength(700.5, 0.5)


def test_job_chips_and_durations_stay_plain_numbers() -> None:
    """k = 1024 is the token convention; chips and seconds of a job distribution are plain numbers."""
    assert parse_length_dist("fixed:3600", role="duration") == FixedLength(3600)
    with pytest.raises(ConfigError, match="not a number"):
        parse_length_dist("fixed:1k", role="chips")
    with pytest.raises(ConfigError, match="whole number of seconds"):
        parse_length_dist("uniform:1.5,9", role="duration")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty length distribution"),
        ("gaussian:mean=3", "unknown length distribution"),
        ("fixd:3", "Did you mean fixed"),
        ("fixed:0", "between 1 and 10,000,000 tokens"),
        ("fixed:1.5", "whole number of tokens"),
        ("fixed:abc", "cannot read fixed tokens 'abc' as a token length"),
        ("fixed:1.3k", "whole number of tokens"),
        ("fixed:2x", "cannot read fixed tokens '2x'"),
        ("fixed:-5", "cannot read"),
        ("0", "fixed length must be between 1 and"),  # a bare number is a fixed length, not an unknown form
        ("-5", "cannot read fixed tokens '-5'"),
        ("2.5", "whole number"),
        ("uniform:1k,2G", "cannot read uniform high '2G'"),
        ("lognormal:mean=1.5k,sigma=1,max=8q", "cannot read lognormal max '8q'"),
        ("uniform:5", "needs low and high"),
        ("uniform:9,2", "low <= high"),
        ("lognormal:mean=1000", "exactly two of mean, median, sigma"),
        ("lognormal:mean=1000,median=700,sigma=1", "exactly two"),
        ("lognormal:mean=500,median=700", "mean >= median"),
        ("lognormal:mean=1,sgma=1", "Did you mean sigma"),
        ("lognormal:mean=1,mean=2", "given twice"),
        ("trace:", "needs a trace name"),
        ("trace:philly", "job trace"),
        ("trace:azure-conv:chips", "request trace"),
        ("fixed:1e30", "between 1 and 10,000,000 tokens"),
        ("fixed:1e400", "finite"),
        ("uniform:1,1e12", "high <= 10,000,000"),
        ("lognormal:mean=1e300,sigma=1", "at most 10,000,000 tokens"),
        ("lognormal:median=1000,sigma=nan", "must be finite"),
        ("lognormal:median=1000,sigma=1e6", "sigma must be between 0 and 10"),
        ("lognormal:median=1000,sigma=1,max=1e12", "max must be between 1 and"),
        ("lognormal:mean=inf,median=5", "cannot read lognormal mean 'inf'"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_length_dist(text)


def test_unknown_trace_in_length_dist() -> None:
    with pytest.raises(UnknownNameError, match="azure-conv"):
        parse_length_dist("trace:azure-cnv")


def test_sampling() -> None:
    g = rng()
    assert FixedLength(7).sample(3, g).tolist() == [7, 7, 7]
    u = UniformLength(2, 4).sample(10_000, g)
    assert set(u.tolist()) == {2, 3, 4} and u.dtype == np.int64
    ln = LognormalLength.from_mean(1_000, 1.0).sample(200_000, g)
    assert ln.mean() == pytest.approx(1_000, rel=0.02) and ln.min() >= 1
    capped = LognormalLength(1_000, 2.0, max_tokens=1_500).sample(10_000, g)
    assert capped.max() == 1_500


def test_empirical_from_traces_uses_the_role() -> None:
    conv = load_trace("azure-conv")
    assert isinstance(conv, RequestTrace)
    out = parse_length_dist("trace:azure-conv", role="output")
    inp = parse_length_dist("trace:azure-conv")
    assert isinstance(out, EmpiricalLength) and isinstance(inp, EmpiricalLength)
    assert np.array_equal(out.values, conv.output_tokens) and out.spec() == "trace:azure-conv:output"
    assert np.array_equal(inp.values, conv.input_tokens)
    explicit = parse_length_dist("trace:azure-conv:output", role="input")
    assert isinstance(explicit, EmpiricalLength) and np.array_equal(explicit.values, conv.output_tokens)
    sample = out.sample(100_000, rng())
    assert sample.mean() == pytest.approx(conv.output_tokens.mean(), rel=0.02)
    assert set(np.unique(sample)) <= set(np.unique(conv.output_tokens))
    t = poisson(1.0, n=10, input_dist="trace:azure-conv", output_dist="trace:azure-conv", rng=rng())
    assert "trace:azure-conv:input" in t.source and "trace:azure-conv:output" in t.source
    philly = load_trace("philly")
    assert isinstance(philly, JobTrace)
    assert empirical_length(philly, "chips").values.max() == 128
    with pytest.raises(ConfigError, match="non-empty"):
        EmpiricalLength(np.zeros(0, dtype=np.int64), "empty")
