"""Every error chipfleet raises on purpose: each says what is wrong, why, and how to fix it."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping


class ChipfleetError(Exception):
    """Base of all chipfleet errors; the CLI turns these into exit code 2 and the API into a 4xx.

    Messages speak the library's language: a bad argument is named as the Python parameter or field it came in
    (``ttft_p90_s``), and ``field`` carries that name, so a front end can say it in its own terms (the CLI maps
    fields to its flags, see :func:`renamed`).
    """

    def __init__(self, *args: object, field: str | None = None) -> None:
        super().__init__(*args)
        self.field = field


def renamed(err: ChipfleetError, names: Mapping[str, str]) -> str:
    """``err``'s message with its fields named the front end's way (the CLI: field → ``--flag``).

    ``err.field`` is replaced wherever it stands as a whole word (also in backquotes); so is any other mapped name
    with an underscore in it (``ttft_p90_s``), which cannot be an ordinary word, for messages that name several
    fields ("relax ttft_p90_s or tpot_p90_s"). Plain-word names (``tp``, ``strict``) are replaced only as the
    error's own field.
    """
    message = str(err)
    wanted = [n for n in names if n == err.field or "_" in n]
    for name in sorted(wanted, key=len, reverse=True):  # longest first: max_batch_tokens before max_batch
        message = re.sub(rf"`?(?<![\w.-]){re.escape(name)}(?![\w-])`?", names[name], message)
    return message


class CatalogError(ChipfleetError):
    """A catalog data file (shipped or user overlay) is malformed or inconsistent."""


class UnknownNameError(ChipfleetError, KeyError):
    """A lookup by name missed; the message suggests the closest names."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = did_you_mean(name, known)
        hint = f" Did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        listing = _LISTINGS.get(kind, "chipfleet catalog --help")
        super().__init__(f"unknown {kind} {name!r}.{hint} `{listing}` lists them all.")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


_LISTINGS = {
    "chip": "chipfleet catalog chips",
    "instance": "chipfleet catalog instances",
    "region": "chipfleet catalog regions",
    "family": "chipfleet catalog families",
    "record": "chipfleet catalog chips|instances|regions|families",
    "model": "chipfleet models list",
    "benchmark": "chipfleet models benchmarks",
    "trace": "chipfleet traces list",
    "router": "chipfleet simulate routers",
    "policy": "chipfleet simulate policies",
    "sharing policy": "chipfleet simulate sharing",
    "engine": "chipfleet estimate serve --help",
}


class ConfigError(ChipfleetError, ValueError):
    """A workload, parallelism or request is invalid (bad degree, impossible split, ...)."""


class NotFoundError(ChipfleetError, KeyError):
    """A stored item (a saved run) is not there: the message names what was asked for and how to list what is."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DoesNotFitError(ChipfleetError):
    """A configuration does not fit in memory; carries the numbers and what would fit."""

    def __init__(
        self, message: str, *, needed_bytes: float, available_bytes: float, suggestion: str, field: str | None = None
    ) -> None:
        self.needed_bytes = needed_bytes
        self.available_bytes = available_bytes
        self.suggestion = suggestion
        super().__init__(f"{message} Suggestion: {suggestion}", field=field)


class InfeasibleServeError(ChipfleetError):
    """No allowed instance serves some requests within the SLOs; names the buckets and the best latency seen."""

    def __init__(self, message: str, buckets: list[str], *, field: str | None = None) -> None:
        self.buckets = buckets
        super().__init__(message, field=field)


class ModelConfigError(ChipfleetError):
    """A model architecture record or Hugging Face config.json cannot be used."""


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space: messages are one line."""
    return " ".join(text.split())


def yaml_error_line(origin: object, exc: Exception) -> str:
    """A PyYAML parse error as one line: where (line, column) and what, without PyYAML's source excerpt.

    Duck-typed on PyYAML's ``MarkedYAMLError`` attributes, so this module needs no YAML import.
    """
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return f"{origin}: not valid YAML: {one_line(str(exc))}"
    what = one_line(getattr(exc, "problem", None) or "syntax error")
    context = getattr(exc, "context", None)
    if context:
        ctx = getattr(exc, "context_mark", None)
        at = f" (line {ctx.line + 1}, column {ctx.column + 1})" if ctx is not None else ""
        what = f"{what} ({one_line(context)}{at})"
    return (
        f"{origin}: not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {what}; "
        "fix the YAML there (indentation, brackets, quotes)"
    )


def did_you_mean(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Closest known names to a miss, by similarity and by shared prefix/substring."""
    known_list = list(known)
    lowered = name.lower()
    close = difflib.get_close_matches(lowered, known_list, n=n, cutoff=0.5)
    for k in known_list:
        if len(close) >= n:
            break
        if k not in close and lowered and (lowered in k or k in lowered):
            close.append(k)
    return close
