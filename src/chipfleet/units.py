"""The one parser of the quantities a user types: durations, token lengths, amounts, rates and dollars.

Every option of every command reads its quantities here, so one text means one thing everywhere:

- **Durations need a unit**: ``ms``, ``s``, ``min``, ``h``, ``d``, ``w`` (``500ms``, ``30s``, ``5min``, ``12h``,
  ``30d``, ``2w``). A bare number is an error, because ``30`` meant days in one place and seconds in another;
  the message suggests the units. Only a bare ``0`` is read where zero is allowed (it is zero in any unit).
- **Token lengths** (one request's prompt or output, a sequence, a batch's token budget, bucket edges) are whole
  numbers where ``k`` = 1024 and ``M`` = 1024², as "a 2k context" and "8k tokens" mean (and as the serving
  planner's bucket labels print them): ``2k`` = 2048, ``128k`` = 131,072.
- **Amounts** (training tokens, counts) are decimal, SI: ``k`` = 10³, ``M`` = 10⁶, ``B`` or ``G`` = 10⁹,
  ``T`` = 10¹², ``P`` = 10¹⁵: ``1T``, ``300B``, ``2.5M``, ``15k``; leading ``~`` and trailing ``+`` are not
  accepted here (a user's option is exact).
- **Rates** are an amount per time unit: ``2/s``, ``120/min``, ``7.2k/h``, ``2 req/s``; the result is per second.
- **Dollars** are an amount with an optional ``$``: ``2M``, ``$500k``, ``1,500``.

Each function raises :class:`~chipfleet.exceptions.ConfigError` (a ``ValueError``) naming the option, what was
wrong and a form that works; NaN, infinity, negative numbers and (unless allowed) zero are refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from chipfleet.exceptions import ConfigError

_NUMBER = r"([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)"

DURATION_UNITS_S: dict[str, float] = {
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "w": 7 * 86400.0,
    "week": 7 * 86400.0,
    "weeks": 7 * 86400.0,
}
"""Seconds per duration unit (``m`` is refused: minutes or milliseconds? write ``min`` or ``ms``)."""

SI_SUFFIX: dict[str, float] = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}
"""Decimal multipliers of amounts (training tokens, counts, dollars)."""

LENGTH_SUFFIX: dict[str, int] = {"": 1, "k": 1024, "K": 1024, "M": 1024**2}
"""Binary multipliers of token lengths: 2k = 2048 tokens."""

RATE_UNITS_S: dict[str, float] = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "hr": 3600.0, "d": 86400.0}
"""Seconds per time unit of a rate's denominator."""

_DURATION = re.compile(rf"^{_NUMBER}\s*([a-zA-Z]*)$")
_AMOUNT = re.compile(rf"^{_NUMBER}\s*([a-zA-Z]?)$")
_RATE = re.compile(rf"^{_NUMBER}\s*([a-zA-Z]?)\s*(?:req(?:uests)?|jobs?|r)?\s*/\s*([a-zA-Z]+)$")


def _clean(text: object) -> str:
    return str(text).strip()


def _bounded(value: float, text: str, what: str, *, allow_zero: bool, max_value: float | None, unit: str) -> float:
    if not math.isfinite(value):
        raise ConfigError(f"{what} {text!r} is too large to be a number; give a finite value")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{what} must be {'zero or more' if allow_zero else 'positive'}, got {text!r}")
    if max_value is not None and value > max_value:
        raise ConfigError(f"{what} {text!r} is more than the largest accepted, {max_value:g}{unit}; give less")
    return value


def parse_duration(text: str, what: str, *, allow_zero: bool = False, max_s: float | None = None) -> float:
    """Seconds in ``text``, which needs a unit: ``500ms``, ``30s``, ``5min``, ``12h``, ``30d``, ``2w``.

    A bare number is refused (its unit would be a guess); where ``allow_zero``, a bare ``0`` is zero.
    ``max_s`` caps the value (an error above it, never a silent clamp).
    """
    t = _clean(text)
    m = _DURATION.match(t)
    if not m:
        raise ConfigError(
            f"cannot read {what} {text!r} as a duration; write a number and a unit (ms, s, min, h, d, w), e.g. "
            "500ms, 30s, 5min, 12h, 30d"
        )
    number, unit = m.group(1), m.group(2)
    if unit == "":
        if allow_zero and float(number) == 0:
            return 0.0
        raise ConfigError(
            f"{what} {text!r} has no unit; write {number}ms, {number}s, {number}min, {number}h or {number}d"
        )
    scale = DURATION_UNITS_S.get(unit.lower() if unit.lower() != "m" else unit)
    if scale is None:
        hint = " (m is ambiguous: write min for minutes or ms for milliseconds)" if unit.lower() == "m" else ""
        raise ConfigError(f"{what} {text!r} has an unknown unit {unit!r}{hint}; use ms, s, min, h, d or w")
    return _bounded(float(number) * scale, t, what, allow_zero=allow_zero, max_value=max_s, unit=" s")


def parse_count(
    text: str, what: str, *, allow_zero: bool = False, integer: bool = False, max_value: float | None = None
) -> float:
    """An amount with an optional decimal suffix: ``1T`` = 10¹², ``300B``, ``2.5M``, ``15k`` = 15,000, ``1e12``.

    ``integer`` requires a whole number (returned as a float; ``int()`` it).
    """
    t = _clean(text).replace(",", "").replace("_", "")
    m = _AMOUNT.match(t)
    if not m or m.group(2) not in SI_SUFFIX:
        raise ConfigError(
            f"cannot read {what} {text!r}; write a number with an optional k (10³), M (10⁶), B (10⁹) or T (10¹²) "
            "suffix, e.g. 1T, 300B, 2.5M"
        )
    value = _bounded(
        float(m.group(1)) * SI_SUFFIX[m.group(2)], t, what, allow_zero=allow_zero, max_value=max_value, unit=""
    )
    if integer and value != math.floor(value):
        raise ConfigError(f"{what} takes a whole number, got {text!r}")
    return value


def parse_token_amount(text: str, what: str, *, allow_zero: bool = False, max_tokens: float | None = None) -> float:
    """A number of tokens that may be fractional (a distribution's mean or median), ``k`` = 1024, ``M`` = 1024²:
    ``1500``, ``1.5k`` = 1536, ``700.5``. Use :func:`parse_tokens` where a whole length is meant."""
    t = _clean(text).replace(",", "").replace("_", "")
    m = _AMOUNT.match(t)
    if not m or m.group(2) not in LENGTH_SUFFIX:
        raise ConfigError(
            f"cannot read {what} {text!r} as a token length; write a whole number, k = 1024 tokens, e.g. 512, 2k, 128k"
        )
    return _bounded(
        float(m.group(1)) * LENGTH_SUFFIX[m.group(2)], t, what, allow_zero=allow_zero, max_value=max_tokens, unit=""
    )


def parse_tokens(text: str, what: str, *, allow_zero: bool = False, max_tokens: int | None = None) -> int:
    """A token length, a whole number where ``k`` = 1024 and ``M`` = 1024²: ``512``, ``2k`` = 2048, ``1.5k``."""
    value = parse_token_amount(text, what, allow_zero=allow_zero, max_tokens=max_tokens)
    if value != math.floor(value):
        raise ConfigError(f"{what} takes whole tokens (k = 1024), got {text!r} = {value:g}")
    return int(value)


def parse_token_list(text: str, what: str, *, max_tokens: int | None = None) -> tuple[int, ...]:
    """Comma-separated token lengths: ``'512,2k,8k'`` → (512, 2048, 8192)."""
    parts = [p for p in _clean(text).split(",") if p.strip()]
    if not parts:
        raise ConfigError(f"{what} is empty; give comma-separated token lengths, e.g. 512,2k,8k")
    return tuple(parse_tokens(p, what, max_tokens=max_tokens) for p in parts)


def parse_rate(text: str, what: str, *, max_per_s: float | None = None) -> float:
    """Events per second from an amount per time unit: ``2/s``, ``120/min`` = 2/s, ``7.2k/h`` = 2/s."""
    t = _clean(text)
    m = _RATE.match(t)
    if not m or m.group(2) not in SI_SUFFIX or m.group(3).lower() not in RATE_UNITS_S:
        bare = re.fullmatch(_NUMBER, t)
        hint = f" ({t} per what? write {t}/s or {t}/min)" if bare else ""
        raise ConfigError(f"cannot read {what} {text!r} as a rate{hint}; write a number per unit, e.g. 2/s, 120/min")
    value = float(m.group(1)) * SI_SUFFIX[m.group(2)] / RATE_UNITS_S[m.group(3).lower()]
    return _bounded(value, t, what, allow_zero=False, max_value=max_per_s, unit="/s")


def parse_usd(text: str, what: str, *, max_usd: float | None = None) -> float:
    """Dollars: ``2M``, ``$500k``, ``1,500``, ``2.5e6`` (decimal suffixes as :func:`parse_count`)."""
    return parse_count(_clean(text).removeprefix("$").strip(), what, max_value=max_usd)


def parse_float(
    text: str,
    what: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """A finite plain number within [``low``, ``high``] (``low_open``: strictly above ``low``); NaN and ∞ refused."""
    t = _clean(text)
    if not re.fullmatch(r"[+-]?" + _NUMBER, t):
        raise ConfigError(f"cannot read {what} {text!r}; give a plain number, e.g. 1.5")
    value = float(t)
    if not math.isfinite(value):
        raise ConfigError(f"{what} {text!r} is too large; give a finite number")
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(f"{what} must be {'more than' if low_open else 'at least'} {low:g}, got {text!r}")
    if high is not None and value > high:
        raise ConfigError(f"{what} must be at most {high:g}, got {text!r}")
    return value


def option_parser(parse: Callable[..., object], what: str, **bounds: object) -> Callable[[str], object]:
    """``parse`` bound to an option's name and limits, as a one-argument parser for the CLI."""

    def _parse(text: str) -> object:
        return parse(text, what, **bounds)

    _parse.__name__ = f"parse_{what.strip('-').replace('-', '_')}"
    return _parse
