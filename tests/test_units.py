"""The one parser of durations, token lengths, amounts, rates and dollars (chipfleet.units)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chipfleet.exceptions import ConfigError
from chipfleet.units import (
    DURATION_UNITS_S,
    LENGTH_SUFFIX,
    SI_SUFFIX,
    parse_count,
    parse_duration,
    parse_float,
    parse_rate,
    parse_token_amount,
    parse_token_list,
    parse_tokens,
    parse_usd,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("5min", 300), ("12h", 43200), ("30d", 2_592_000), ("2w", 1_209_600),
     (" 1.5 h ", 5400), ("1e3ms", 1.0), ("2days", 172_800)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text, "--deadline") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["50", "30", "0.05"])
def test_a_bare_number_is_not_a_duration_and_the_message_suggests_units(text: str) -> None:
    with pytest.raises(ConfigError, match=r"--slo-tpot-p90 .* has no unit; write .*ms") as info:
        parse_duration(text, "--slo-tpot-p90")
    assert f"{text}ms" in str(info.value) and f"{text}s" in str(info.value)


@pytest.mark.parametrize("text", ["", "nan", "inf", "infs", "-1s", "0s", "0", "5m", "5 parsecs", "1e400s", "s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--interval"):
        parse_duration(text, "--interval")


def test_m_is_ambiguous() -> None:
    with pytest.raises(ConfigError, match="ambiguous"):
        parse_duration("5m", "--interval")


def test_zero_only_where_allowed_and_a_cap_is_an_error() -> None:
    assert parse_duration("0", "--peak-window", allow_zero=True) == 0.0
    assert parse_duration("0s", "--peak-window", allow_zero=True) == 0.0
    with pytest.raises(ConfigError, match="largest accepted"):
        parse_duration("2w", "--interval", max_s=86400)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1T", 1e12), ("500B", 5e11), ("2.5M", 2.5e6), ("15k", 15e3), ("1e12", 1e12), (" 300 B ", 3e11), ("7", 7.0),
     ("1,000", 1000.0), ("2G", 2e9)],
)  # fmt: skip
def test_parse_count_is_decimal(text: str, value: float) -> None:
    assert parse_count(text, "--tokens") == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "lots", "1X", "-1T", "0", "1TT", "nan", "inf", "1e400", "~15T", "15T+"])
def test_parse_count_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--tokens"):
        parse_count(text, "--tokens")


def test_parse_count_bounds() -> None:
    with pytest.raises(ConfigError, match="largest accepted"):
        parse_count("1e308", "--tokens", max_value=1e17)
    with pytest.raises(ConfigError, match="whole number"):
        parse_count("2.5", "--requests", integer=True)


@pytest.mark.parametrize(("text", "value"), [("512", 512), ("2k", 2048), ("8K", 8192), ("1.5k", 1536),
                                              ("128k", 131072), ("1M", 1 << 20)])  # fmt: skip
def test_token_lengths_read_k_as_1024(text: str, value: int) -> None:
    assert parse_tokens(text, "--input-edges") == value


@pytest.mark.parametrize("text", ["0", "1.3k", "2T", "-5", "nan", "100.5", "2kk"])
def test_parse_tokens_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--seq-len"):
        parse_tokens(text, "--seq-len")


def test_parse_token_list() -> None:
    assert parse_token_list("512,2k, 8k", "--input-edges") == (512, 2048, 8192)
    with pytest.raises(ConfigError, match="empty"):
        parse_token_list(" , ", "--input-edges")


@pytest.mark.parametrize(
    ("text", "per_s"), [("2/s", 2.0), ("120/min", 2.0), ("7.2k/h", 2.0), ("2 req/s", 2.0), ("86400/d", 1.0)]
)
def test_parse_rate(text: str, per_s: float) -> None:
    assert parse_rate(text, "--rate") == pytest.approx(per_s)


@pytest.mark.parametrize("text", ["2", "0/s", "-1/s", "nan/s", "2/parsec", "/s", "inf/s"])
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--rate"):
        parse_rate(text, "--rate")


def test_a_bare_rate_asks_per_what() -> None:
    with pytest.raises(ConfigError, match=r"per what\? write 2/s or 2/min"):
        parse_rate("2", "--rate")


@pytest.mark.parametrize(("text", "usd"), [("2M", 2e6), ("$500k", 5e5), ("1,500", 1500.0), ("$ 3", 3.0)])
def test_parse_usd(text: str, usd: float) -> None:
    assert parse_usd(text, "--budget") == pytest.approx(usd)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999", "x", ""])
def test_parse_float_rejects_non_finite(text: str) -> None:
    with pytest.raises(ConfigError, match="--rate-scale"):
        parse_float(text, "--rate-scale", low=0, low_open=True)


def test_parse_float_bounds() -> None:
    assert parse_float("2.5", "--rate-scale", low=0, low_open=True) == 2.5
    with pytest.raises(ConfigError, match="more than 0"):
        parse_float("0", "--rate-scale", low=0, low_open=True)
    with pytest.raises(ConfigError, match="at most 1"):
        parse_float("1.5", "--x", low=0, high=1)


# ----------------------------------------------------------------------------- round trips
_numbers = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(_numbers, st.sampled_from(sorted(set(DURATION_UNITS_S))))
def test_duration_round_trip(x: float, unit: str) -> None:
    assert parse_duration(f"{x!r}{unit}", "--d") == pytest.approx(x * DURATION_UNITS_S[unit], rel=1e-12)


@given(_numbers, st.sampled_from(sorted(SI_SUFFIX)))
def test_count_round_trip(x: float, suffix: str) -> None:
    assert parse_count(f"{x!r}{suffix}", "--n") == pytest.approx(x * SI_SUFFIX[suffix], rel=1e-12)


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(sorted(LENGTH_SUFFIX)))
def test_tokens_round_trip(n: int, suffix: str) -> None:
    assert parse_tokens(f"{n}{suffix}", "--t") == n * LENGTH_SUFFIX[suffix]


@given(_numbers, st.sampled_from(["s", "min", "h", "d"]))
def test_rate_round_trip(x: float, unit: str) -> None:
    per = {"s": 1, "min": 60, "h": 3600, "d": 86400}[unit]
    assert parse_rate(f"{x!r}/{unit}", "--rate") == pytest.approx(x / per, rel=1e-12)


@given(st.text(max_size=12))
def test_any_text_parses_to_a_finite_positive_number_or_a_clean_error(text: str) -> None:
    for parse in (parse_duration, parse_count, parse_rate, parse_usd):
        try:
            value = parse(text, "--opt")
        except ConfigError as e:
            assert "--opt" in str(e) and "\n" not in str(e)
        else:
            assert math.isfinite(value) and value > 0


def test_parse_token_amount_reads_k_as_1024_and_keeps_fractions() -> None:
    assert parse_token_amount("1.5k", "mean") == 1536.0
    assert parse_token_amount("700.5", "mean") == 700.5
    assert parse_token_amount("0", "mean", allow_zero=True) == 0.0
    for bad in ("nan", "-1", "2G", "1e400"):
        with pytest.raises(ConfigError, match="mean"):
            parse_token_amount(bad, "mean")
    with pytest.raises(ConfigError, match="largest accepted"):
        parse_token_amount("9k", "mean", max_tokens=8192)
