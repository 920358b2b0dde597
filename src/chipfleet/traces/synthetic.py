"""Synthetic traces: Poisson, bursty (gamma) and diurnal arrivals, with token-length distributions.

Every generator takes an explicit ``numpy.random.Generator`` and draws, in order, the arrival times, then the
input lengths, then the output lengths, so the same seed gives the same trace. The first arrival is at time 0
(the schema's convention); later ones follow the chosen process.

Length distributions are small frozen records with a text form used on the command line::

    "fixed:1024"                       every request 1,024 tokens ("1024" or "1k" alone mean the same)
    "uniform:128,2k"                   whole numbers in [128, 2048] (also "uniform:low=128,high=2048")
    "lognormal:mean=1000,sigma=1"      any two of mean, median, sigma; optional max=..., e.g. max=8k
    "trace:azure-conv"                 resample a trace's input (or output, by role) lengths
    "trace:azure-conv:output"          ... naming the field; job traces offer :chips and :duration

Token counts (the ``input`` and ``output`` roles) are read by :func:`chipfleet.units.parse_tokens`, as every
token option is: ``k`` = 1024 and ``M`` = 1024² (``2k`` = 2048, ``max=8k`` = 8192). Job chips and durations (whole
seconds) are plain numbers: a ``k`` there would be a token convention applied to something else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal, cast, get_args

import numpy as np
from numpy.typing import NDArray

from chipfleet.exceptions import ConfigError, did_you_mean
from chipfleet.traces.registry import load_trace
from chipfleet.traces.schema import MAX_REQUEST_TOKENS, JobTrace, RequestTrace
from chipfleet.units import parse_token_amount

LengthField = Literal["input", "output", "chips", "duration"]
MAX_GENERATED = 10_000_000
"""Most arrivals one generator call makes (about 240 MB of arrays for a request trace). Estimate: far above the
largest public LLM trace we know of (BurstGPT, about 5.3M requests) and what one process simulates in minutes;
a rate times duration beyond it is almost always a unit slip."""
_FORMS = (
    "fixed:1024, uniform:128,2k, lognormal:mean=1000,sigma=1 (any two of mean, median, sigma; optional max=, e.g. "
    "max=8k), trace:azure-conv[:input|output], trace:philly:chips|duration; token counts read k = 1024"
)
_TOKEN_ROLES: tuple[LengthField, ...] = ("input", "output")


@dataclass(frozen=True)
class FixedLength:
    """Every draw is ``tokens``."""

    tokens: int
    type: ClassVar[str] = "fixed"

    def __post_init__(self) -> None:
        if not 1 <= self.tokens <= MAX_REQUEST_TOKENS:
            raise ConfigError(f"fixed length must be between 1 and {MAX_REQUEST_TOKENS:,} tokens, got {self.tokens}.")

    @property
    def mean_tokens(self) -> float:
        return float(self.tokens)

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.int64]:
        return np.full(n, self.tokens, dtype=np.int64)

    def spec(self) -> str:
        return f"fixed:{self.tokens}"


@dataclass(frozen=True)
class UniformLength:
    """Whole numbers drawn uniformly from ``[low, high]`` inclusive."""

    low: int
    high: int
    type: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        if not 1 <= self.low <= self.high <= MAX_REQUEST_TOKENS:
            raise ConfigError(
                f"uniform length needs 1 <= low <= high <= {MAX_REQUEST_TOKENS:,} tokens, "
                f"got low={self.low}, high={self.high}."
            )

    @property
    def mean_tokens(self) -> float:
        return (self.low + self.high) / 2

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.int64]:
        return rng.integers(self.low, self.high + 1, size=n, dtype=np.int64)

    def spec(self) -> str:
        return f"uniform:{self.low},{self.high}"


@dataclass(frozen=True)
class LognormalLength:
    """``round(exp(N(ln median, sigma²)))``, clipped to ``[1, max_tokens]``.

    mean = median * exp(sigma² / 2) before rounding and clipping, so any two of mean, median and sigma fix it.
    Without ``max_tokens`` draws are clipped at ``MAX_REQUEST_TOKENS`` (10M, the largest published context window).
    """

    median_tokens: float
    sigma: float
    max_tokens: int | None = None
    type: ClassVar[str] = "lognormal"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.median_tokens) and 0 < self.median_tokens <= MAX_REQUEST_TOKENS):
            raise ConfigError(
                f"lognormal median must be > 0 and at most {MAX_REQUEST_TOKENS:,} tokens, got {self.median_tokens}."
            )
        if not (math.isfinite(self.sigma) and 0 <= self.sigma <= 10):
            raise ConfigError(
                f"lognormal sigma must be between 0 and 10, got {self.sigma} (published LLM length distributions "
                "fit sigma of about 0.5 to 2)."
            )
        if self.max_tokens is not None and not 1 <= self.max_tokens <= MAX_REQUEST_TOKENS:
            raise ConfigError(
                f"lognormal max must be between 1 and {MAX_REQUEST_TOKENS:,} tokens, got {self.max_tokens}."
            )

    @classmethod
    def from_mean(cls, mean_tokens: float, sigma: float, max_tokens: int | None = None) -> LognormalLength:
        """The lognormal with this mean (before rounding/clipping) and sigma."""
        if not (math.isfinite(mean_tokens) and 0 < mean_tokens <= MAX_REQUEST_TOKENS):
            raise ConfigError(
                f"lognormal mean must be > 0 and at most {MAX_REQUEST_TOKENS:,} tokens, got {mean_tokens}."
            )
        if not (math.isfinite(sigma) and 0 <= sigma <= 10):
            raise ConfigError(f"lognormal sigma must be between 0 and 10, got {sigma}.")
        return cls(mean_tokens / math.exp(sigma**2 / 2), sigma, max_tokens)

    @classmethod
    def from_mean_median(
        cls, mean_tokens: float, median_tokens: float, max_tokens: int | None = None
    ) -> LognormalLength:
        """The lognormal with this mean and median (a lognormal's mean is at least its median)."""
        if not (math.isfinite(mean_tokens) and median_tokens > 0 and mean_tokens >= median_tokens):
            raise ConfigError(
                f"lognormal needs mean >= median > 0, got mean={mean_tokens}, median={median_tokens} "
                "(a right-skewed length distribution has its mean above its median)."
            )
        return cls(median_tokens, math.sqrt(2 * math.log(mean_tokens / median_tokens)), max_tokens)

    @property
    def mean_tokens(self) -> float:
        return self.median_tokens * math.exp(self.sigma**2 / 2)

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.int64]:
        draws = np.rint(rng.lognormal(math.log(self.median_tokens), self.sigma, size=n))
        upper = float(self.max_tokens if self.max_tokens is not None else MAX_REQUEST_TOKENS)
        return np.clip(draws, 1.0, upper).astype(np.int64)

    def spec(self) -> str:
        tail = f",max={self.max_tokens}" if self.max_tokens is not None else ""
        return f"lognormal:median={self.median_tokens:g},sigma={self.sigma:g}{tail}"


@dataclass(frozen=True, eq=False)
class EmpiricalLength:
    """Draws with replacement from observed lengths (a trace's input or output tokens, or job chips/durations)."""

    values: NDArray[np.int64]
    label: str
    type: ClassVar[str] = "trace"

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.int64, copy=True)
        if values.ndim != 1 or values.size == 0:
            raise ConfigError(f"empirical length {self.label!r} needs a non-empty 1-D list of lengths.")
        if np.any(values < 1):
            raise ConfigError(f"empirical length {self.label!r}: every length must be >= 1.")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)

    @property
    def mean_tokens(self) -> float:
        return float(np.mean(self.values))

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.int64]:
        return rng.choice(self.values, size=n, replace=True)

    def spec(self) -> str:
        return self.label


LengthDist = FixedLength | UniformLength | LognormalLength | EmpiricalLength


def empirical_length(trace: RequestTrace | JobTrace, field: LengthField, label: str | None = None) -> EmpiricalLength:
    """Resample one field of a trace: ``input``/``output`` tokens of requests, ``chips``/``duration`` of jobs."""
    label = label or f"trace:{trace.name}:{field}"
    if isinstance(trace, RequestTrace):
        request_fields: dict[str, NDArray[np.int64]] = {"input": trace.input_tokens, "output": trace.output_tokens}
        if field not in request_fields:
            raise ConfigError(f"{trace.name!r} is a request trace: use field input or output, not {field!r}.")
        values = request_fields[field]
        if field == "input":
            values = values[values >= 1]  # a zero-token prompt cannot be a generated length
        return EmpiricalLength(values, label)
    if field == "chips":
        return EmpiricalLength(trace.chips, label)
    if field == "duration":
        return EmpiricalLength(np.maximum(np.rint(trace.duration_s), 1).astype(np.int64), label)
    raise ConfigError(f"{trace.name!r} is a job trace: use field chips or duration, not {field!r}.")


# --- parsing the text form -----------------------------------------------------------------------------------------


def _number(kind: str, key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{kind}: {key}={text!r} is not a number. Forms: {_FORMS}.") from None
    if not math.isfinite(value):
        raise ConfigError(f"{kind}: {key} must be finite, got {text!r}.")
    return value


def _amount(kind: str, key: str, text: str, role: LengthField) -> float:
    """A number of the role's unit: tokens (k = 1024, via :func:`parse_token_amount`) or a plain number."""
    if role not in _TOKEN_ROLES:
        return _number(kind, key, text)
    # zero and the upper bound are left to the distribution's record, whose message gives the valid range
    return parse_token_amount(text, f"{kind} {key}", allow_zero=True)


def _whole(kind: str, key: str, text: str, role: LengthField = "input") -> int:
    value = _amount(kind, key, text, role)
    if value != int(value):
        unit = "tokens (k = 1024)" if role in _TOKEN_ROLES else "chips" if role == "chips" else "seconds"
        raise ConfigError(f"{kind}: {key} must be a whole number of {unit}, got {text!r}.")
    return int(value)


def _params(kind: str, body: str, keys: tuple[str, ...], positional: tuple[str, ...] = ()) -> dict[str, str]:
    out: dict[str, str] = {}
    parts = [p.strip() for p in body.split(",")] if body.strip() else []
    for i, part in enumerate(parts):
        if "=" in part:
            key, _, value = part.partition("=")
            key = key.strip().lower()
        elif i < len(positional) and len(out) == i:  # positional values come first
            key, value = positional[i], part
        else:
            raise ConfigError(f"{kind}: cannot read {part!r}; write key=value ({', '.join(keys)}). Forms: {_FORMS}.")
        if key not in keys:
            hint = did_you_mean(key, keys)
            suggestion = f" Did you mean {', '.join(hint)}?" if hint else ""
            raise ConfigError(f"{kind}: unknown parameter {key!r}.{suggestion} Known: {', '.join(keys)}.")
        if key in out:
            raise ConfigError(f"{kind}: {key} given twice.")
        out[key] = value.strip()
    return out


def _parse_fixed(body: str, role: LengthField) -> LengthDist:
    params = _params("fixed", body, ("tokens",), ("tokens",))
    if "tokens" not in params:
        raise ConfigError(f"fixed needs a length, e.g. fixed:1024. Forms: {_FORMS}.")
    return FixedLength(_whole("fixed", "tokens", params["tokens"], role))


def _parse_uniform(body: str, role: LengthField) -> LengthDist:
    params = _params("uniform", body, ("low", "high"), ("low", "high"))
    if set(params) != {"low", "high"}:
        raise ConfigError(f"uniform needs low and high, e.g. uniform:128,2048. Forms: {_FORMS}.")
    return UniformLength(_whole("uniform", "low", params["low"], role), _whole("uniform", "high", params["high"], role))


def _parse_lognormal(body: str, role: LengthField) -> LengthDist:
    params = _params("lognormal", body, ("mean", "median", "sigma", "max"))
    cap = _whole("lognormal", "max", params["max"], role) if "max" in params else None
    given = {
        k: _number("lognormal", k, v) if k == "sigma" else _amount("lognormal", k, v, role)
        for k, v in params.items()
        if k != "max"
    }
    if len(given) != 2:
        raise ConfigError(
            f"lognormal needs exactly two of mean, median, sigma (got {', '.join(sorted(given)) or 'none'}), "
            "e.g. lognormal:mean=1000,sigma=1 or lognormal:mean=1000,median=700."
        )
    if "sigma" in given and "median" in given:
        return LognormalLength(given["median"], given["sigma"], cap)
    if "sigma" in given:
        return LognormalLength.from_mean(given["mean"], given["sigma"], cap)
    return LognormalLength.from_mean_median(given["mean"], given["median"], cap)


def _parse_trace(body: str, role: LengthField) -> LengthDist:
    name, field_name = body.strip(), role
    head, sep, tail = name.rpartition(":")
    if sep and tail in get_args(LengthField):
        name, field_name = head, cast(LengthField, tail)
    if not name:
        raise ConfigError(f"trace needs a trace name, e.g. trace:azure-conv. Forms: {_FORMS}.")
    trace = load_trace(name)
    if isinstance(trace, JobTrace) and field_name in ("input", "output"):
        raise ConfigError(f"{name!r} is a job trace: write trace:{name}:chips or trace:{name}:duration.")
    return empirical_length(trace, field_name, f"trace:{name}:{field_name}")


_PARSERS: Mapping[str, Callable[[str, LengthField], LengthDist]] = {
    "fixed": _parse_fixed,
    "uniform": _parse_uniform,
    "lognormal": _parse_lognormal,
    "trace": _parse_trace,
}


def parse_length_dist(text: str, *, role: LengthField = "input") -> LengthDist:
    """A length distribution from its text form (see the module docstring); ``role`` picks a trace's field."""
    raw = text.strip()
    if not raw:
        raise ConfigError(f"empty length distribution. Forms: {_FORMS}.")
    kind, sep, body = raw.partition(":")
    kind = kind.strip().lower()
    if not sep and raw[0] in "0123456789.+-":  # a bare number is a fixed length: its own error says what is wrong
        return FixedLength(_whole("fixed", "tokens", raw, role))
    parser = _PARSERS.get(kind)
    if parser is None:
        hint = did_you_mean(kind, _PARSERS)
        suggestion = f" Did you mean {', '.join(hint)}?" if hint else ""
        raise ConfigError(f"unknown length distribution {text!r}.{suggestion} Forms: {_FORMS}.")
    return parser(body, role)


def _dist(value: LengthDist | str, role: LengthField) -> LengthDist:
    return parse_length_dist(value, role=role) if isinstance(value, str) else value


# --- arrival processes ----------------------------------------------------------------------------------------------


def _check_size(n: int | None, duration_s: float | None) -> None:
    if (n is None) == (duration_s is None):
        raise ConfigError("give exactly one of n (number of arrivals) or duration_s (seconds to generate).")
    if n is not None and not 0 <= n <= MAX_GENERATED:
        raise ConfigError(f"n must be between 0 and {MAX_GENERATED:,} arrivals, got {n}.")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s >= 0):
        raise ConfigError(f"duration_s must be a finite number >= 0, got {duration_s}.")


def _check_expected(rate_per_s: float, duration_s: float | None) -> None:
    """Refuse a rate × duration that would generate more than :data:`MAX_GENERATED` arrivals (before any work)."""
    if duration_s is not None and rate_per_s * duration_s > MAX_GENERATED:
        raise ConfigError(
            f"{rate_per_s:g}/s for {duration_s:g} s would generate about {rate_per_s * duration_s:.3g} arrivals, "
            f"more than the {MAX_GENERATED:,} one trace may hold; lower the rate or shorten the duration "
            "(check their units)."
        )


def _check_rate(rate_per_s: float, what: str = "rate_per_s") -> None:
    if not (math.isfinite(rate_per_s) and rate_per_s > 0):
        raise ConfigError(f"{what} must be a finite number > 0, got {rate_per_s}.")


def _renewal(
    gaps: Callable[[int], NDArray[np.float64]], rate_per_s: float, n: int | None, duration_s: float | None
) -> NDArray[np.float64]:
    """Arrival times of a renewal process started by an arrival at 0: ``n`` of them, or all before ``duration_s``."""
    if n is not None:
        if n == 0:
            return np.zeros(0)
        return np.concatenate(([0.0], np.cumsum(gaps(n - 1))))
    assert duration_s is not None
    expected = rate_per_s * duration_s
    chunk = int(expected + 6 * math.sqrt(expected) + 16)
    times = np.zeros(1)
    while times[-1] < duration_s:
        times = np.concatenate((times, times[-1] + np.cumsum(gaps(chunk))))
    return times[times < duration_s] if duration_s > 0 else times[:0]


def _requests(
    arrival_s: NDArray[np.float64],
    input_dist: LengthDist | str,
    output_dist: LengthDist | str,
    rng: np.random.Generator,
    name: str,
    source: str,
) -> RequestTrace:
    inp, out = _dist(input_dist, "input"), _dist(output_dist, "output")
    n = arrival_s.size
    return RequestTrace(
        name=name,
        arrival_s=arrival_s,
        input_tokens=inp.sample(n, rng),
        output_tokens=out.sample(n, rng),
        source=f"synthetic: {source}, input {inp.spec()}, output {out.spec()}",
        license="generated",
    )


def poisson(
    rate_per_s: float,
    *,
    n: int | None = None,
    duration_s: float | None = None,
    input_dist: LengthDist | str,
    output_dist: LengthDist | str,
    rng: np.random.Generator,
    name: str | None = None,
) -> RequestTrace:
    """Poisson arrivals (exponential gaps, mean ``1 / rate_per_s``): ``n`` requests, or those before ``duration_s``."""
    _check_rate(rate_per_s)
    _check_size(n, duration_s)
    _check_expected(rate_per_s, duration_s)
    scale = 1.0 / rate_per_s
    arrivals = _renewal(lambda k: rng.exponential(scale, size=k), rate_per_s, n, duration_s)
    return _requests(
        arrivals, input_dist, output_dist, rng, name or f"poisson-{rate_per_s:g}rps", f"poisson {rate_per_s:g}/s"
    )


def gamma_bursty(
    rate_per_s: float,
    cv: float,
    *,
    n: int | None = None,
    duration_s: float | None = None,
    input_dist: LengthDist | str,
    output_dist: LengthDist | str,
    rng: np.random.Generator,
    name: str | None = None,
) -> RequestTrace:
    """Gamma inter-arrival gaps with mean ``1 / rate_per_s`` and coefficient of variation ``cv``.

    shape k = 1 / cv², scale = 1 / (rate k): cv = 1 is Poisson, cv > 1 bursty, cv < 1 more regular than Poisson.
    """
    _check_rate(rate_per_s)
    if not (math.isfinite(cv) and 1e-3 <= cv <= 1e3):
        raise ConfigError(
            f"cv must be a finite number between 0.001 and 1000 (1 = Poisson, > 1 bursty; published LLM traces "
            f"measure about 1 to 4), got {cv}."
        )
    _check_size(n, duration_s)
    _check_expected(rate_per_s, duration_s)
    shape = 1.0 / cv**2
    scale = 1.0 / (rate_per_s * shape)
    arrivals = _renewal(lambda k: rng.gamma(shape, scale, size=k), rate_per_s, n, duration_s)
    label = f"gamma {rate_per_s:g}/s cv={cv:g}"
    return _requests(arrivals, input_dist, output_dist, rng, name or f"gamma-{rate_per_s:g}rps-cv{cv:g}", label)


def diurnal_rate_per_s(
    t_s: NDArray[np.float64], mean_rate_per_s: float, peak_to_trough: float, period_s: float, peak_s: float
) -> NDArray[np.float64]:
    """λ(t) = mean (1 + a cos(2π (t - peak_s) / period_s)), a = (r - 1) / (r + 1), so λmax / λmin = r."""
    a = (peak_to_trough - 1.0) / (peak_to_trough + 1.0)
    rate: NDArray[np.float64] = mean_rate_per_s * (1.0 + a * np.cos(2.0 * np.pi * (t_s - peak_s) / period_s))
    return rate


def diurnal(
    mean_rate_per_s: float,
    peak_to_trough: float,
    period_s: float = 86_400.0,
    *,
    peak_s: float | None = None,
    n: int | None = None,
    duration_s: float | None = None,
    input_dist: LengthDist | str,
    output_dist: LengthDist | str,
    rng: np.random.Generator,
    name: str | None = None,
) -> RequestTrace:
    """Non-homogeneous Poisson arrivals with a sinusoidal daily cycle, by thinning (Lewis and Shedler, 1979).

    The rate is :func:`diurnal_rate_per_s`: ``mean_rate_per_s`` on average over a period, peaking at ``peak_s``
    (default ``period_s / 2``, so time 0 is the trough) at ``peak_to_trough`` times the trough rate. Candidates
    arrive at the peak rate and each is kept with probability λ(t) / λmax. The first arrival is placed at 0.
    """
    _check_rate(mean_rate_per_s, "mean_rate_per_s")
    if not (math.isfinite(peak_to_trough) and peak_to_trough >= 1):
        raise ConfigError(f"peak_to_trough must be >= 1 (1 = flat), got {peak_to_trough}.")
    if not (math.isfinite(period_s) and period_s > 0):
        raise ConfigError(f"period_s must be > 0, got {period_s}.")
    _check_size(n, duration_s)
    _check_expected(mean_rate_per_s, duration_s)
    if peak_s is not None and not math.isfinite(peak_s):
        raise ConfigError(f"peak_s must be a finite time in seconds, got {peak_s}.")
    peak = period_s / 2 if peak_s is None else peak_s
    a = (peak_to_trough - 1.0) / (peak_to_trough + 1.0)
    max_rate = mean_rate_per_s * (1.0 + a)
    wanted = n if n is not None else None
    accepted: list[NDArray[np.float64]] = [np.zeros(1)] if (n is None or n > 0) else []
    count = len(accepted)
    clock = 0.0
    horizon = duration_s if duration_s is not None else math.inf
    chunk = 4096
    while (wanted is not None and count < wanted) or (wanted is None and clock < horizon):
        candidates = clock + np.cumsum(rng.exponential(1.0 / max_rate, size=chunk))
        keep = rng.random(chunk) * max_rate < diurnal_rate_per_s(
            candidates, mean_rate_per_s, peak_to_trough, period_s, peak
        )
        kept = candidates[keep & (candidates < horizon)]
        accepted.append(kept)
        count += kept.size
        clock = float(candidates[-1])
    arrivals = np.concatenate(accepted) if accepted else np.zeros(0)
    if wanted is not None:
        arrivals = arrivals[:wanted]
    elif duration_s == 0:
        arrivals = arrivals[:0]
    label = f"diurnal mean {mean_rate_per_s:g}/s peak/trough {peak_to_trough:g} period {period_s:g}s peak at {peak:g}s"
    return _requests(arrivals, input_dist, output_dist, rng, name or f"diurnal-{mean_rate_per_s:g}rps", label)


def poisson_jobs(
    rate_per_s: float,
    *,
    n: int | None = None,
    duration_s: float | None = None,
    chips_dist: LengthDist | str = "fixed:1",
    job_duration_dist: LengthDist | str,
    rng: np.random.Generator,
    name: str | None = None,
) -> JobTrace:
    """Poisson job submissions; chips per job and run time (whole seconds) from length distributions.

    ``"trace:philly:chips"`` and ``"trace:philly:duration"`` resample the Philly trace's marginals.
    """
    _check_rate(rate_per_s)
    _check_size(n, duration_s)
    _check_expected(rate_per_s, duration_s)
    scale = 1.0 / rate_per_s
    submits = _renewal(lambda k: rng.exponential(scale, size=k), rate_per_s, n, duration_s)
    chips = _dist(chips_dist, "chips")
    durations = _dist(job_duration_dist, "duration")
    count = submits.size
    return JobTrace(
        name=name or f"poisson-jobs-{rate_per_s:g}ps",
        submit_s=submits,
        chips=chips.sample(count, rng),
        duration_s=durations.sample(count, rng).astype(np.float64),
        source=f"synthetic: poisson jobs {rate_per_s:g}/s, chips {chips.spec()}, duration_s {durations.spec()}",
        license="generated",
    )
