"""Serving engines (vLLM, SGLang, TensorRT-LLM, NxD Inference, JetStream) as an input: batching defaults and overheads.

An :class:`EngineProfile` says how an engine batches by default (``max_num_seqs``, ``max_num_batched_tokens``,
chunked prefill, graph capture), which chip families it runs on, and what it adds per batching iteration on top of
the chip family's fitted overheads::

    engine overhead per iteration = iteration_overhead_s + per_seq_overhead_s · sequences in the iteration

and what it adds once to each request's time to first token, outside the batching iterations (tokenization, the
scheduler's admission, an eager prefill path)::

    TTFT = model TTFT + first_token_overhead_s

An engine that streams tokens in chunks of ``k`` iterations (``stream_interval``) may also hold the first token
back: ``first_token_stream_share`` is the share of the ``k − 1`` iterations it waits on average (0 for an engine
that sends the first token as soon as it exists), so ``TTFT += share · (k − 1) · TPOT`` while the request's last
token, and so its end-to-end latency, is not delayed.

The profiles are data (``perf/data/engines.yaml``, each figure with its source) registered in :data:`ENGINES`, one
:class:`chipfleet.registry.Registry`. :func:`engine_profile` reads what a user types: a name or another tool's name
for it (InferenceX's ``trt``, ``dynamo-sglang``, ``atom``), optionally with a version, ``vllm@0.11.2``; a version
older than a profile's ``versions`` entry takes that entry's defaults. The ``default`` profile has no caps and no
overheads, so a result without ``--engine`` is the result chipfleet gave before engines existed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from chipfleet.exceptions import ConfigError, UnknownNameError
from chipfleet.registry import Registry, lookup_key

SCHEMA_VERSION = 1
DEFAULT_ENGINE_NAME = "default"
_VERSION = re.compile(r"^\d+(\.\d+)*")
_OVERRIDABLE = ("max_num_seqs", "max_num_batched_tokens", "chunked_prefill", "graph_capture", "graph_max_batch")


@dataclass(frozen=True)
class VersionOverride:
    """Defaults of releases older than ``before`` (a dotted version), with the source that says so."""

    before: str
    changes: tuple[tuple[str, Any], ...]
    source: str


@dataclass(frozen=True)
class EngineProfile:
    """One serving engine as the performance model sees it (see the module docstring)."""

    name: str
    description: str
    max_num_seqs: int | None  # None: no cap of the engine's own, the KV cache decides
    max_num_batched_tokens: int | None  # None: prompts are prefilled whole
    chunked_prefill: bool
    graph_capture: bool  # CUDA graphs / compiled graphs for decode
    graph_max_batch: int | None
    chip_families: tuple[str, ...]  # efficiency-family prefixes it runs on; empty: any
    iteration_overhead_s: float
    per_seq_overhead_s: float
    overheads: str  # "prior" or "calibrated"
    sources: tuple[str, ...]
    as_of: str
    aliases: tuple[str, ...] = ()
    versions: tuple[VersionOverride, ...] = ()
    version: str | None = None  # the release asked for, when one was
    calibration: str = ""  # how calibrated overheads were fitted: data, method, cross-validated error
    first_token_overhead_s: float = 0.0  # added once to each request's TTFT, not to the chip's busy time
    first_token_stream_share: float = 0.0  # share of a stream interval's k − 1 iterations the first token waits

    def first_token_iterations(self, stream_interval: float) -> float:
        """Iterations the first token waits when tokens stream ``stream_interval`` at a time (module docstring)."""
        return self.first_token_stream_share * max(stream_interval - 1.0, 0.0)

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_ENGINE_NAME

    def overhead_s(self, seqs: float) -> float:
        """``iteration_overhead_s + per_seq_overhead_s · seqs``: what the engine adds to one iteration of ``seqs``
        sequences (0 when no sequence runs)."""
        if seqs <= 0:
            return 0.0
        return self.iteration_overhead_s + self.per_seq_overhead_s * seqs

    def runs_on(self, family: str) -> bool:
        """Whether the engine serves on chips of efficiency family ``family`` (any, when it lists none)."""
        return not self.chip_families or any(family.startswith(prefix) for prefix in self.chip_families)

    def batching(
        self,
        max_seqs: int | None,
        max_batch_tokens: int | None,
        chunked_prefill: bool | None,
        fallback: tuple[int, int],
    ) -> tuple[int, int, bool]:
        """(sequences, token budget, chunked prefill) a replica runs with: what the user set, else this engine's
        default, else ``fallback`` (chipfleet's own sequences and token budget; chunked prefill on for the
        engine-neutral profile, as the simulator always ran)."""
        seqs = max_seqs or self.max_num_seqs or fallback[0]
        tokens = max_batch_tokens or self.max_num_batched_tokens or fallback[1]
        chunked = chunked_prefill if chunked_prefill is not None else (self.chunked_prefill or self.is_default)
        return seqs, tokens, chunked

    def require_chip(self, chip: str, family: str) -> None:
        """Nothing when the engine serves on ``chip`` (of efficiency family ``family``), else a
        :class:`ConfigError` naming the chip families it runs on (field ``engine``)."""
        if not self.runs_on(family):
            where = ", ".join(f + "*" if f.endswith("-") else f for f in self.chip_families)
            raise ConfigError(
                f"engine {self} does not run on {chip} ({family}); it runs on {where} chips", field="engine"
            )

    def at_version(self, version: str) -> EngineProfile:
        """This profile as release ``version`` ran it: the defaults of every ``versions`` entry it predates."""
        if not _VERSION.match(version):
            raise ConfigError(
                f"engine version {version!r} must start with a dotted number, e.g. 0.11.2", field="engine"
            )
        out = replace(self, version=version)
        for override in self.versions:
            if _version_key(version) < _version_key(override.before):
                out = replace(out, **dict(override.changes))
        return out


@dataclass(frozen=True)
class SpecDecode:
    """Speculative decoding or multi-token prediction (MTP): ``draft_tokens`` (k) drafted per step and verified
    in one pass of the target model, ``acceptance_length`` (τ) tokens emitted per step on average, the target's
    own (bonus) token included, so ``1 ≤ τ ≤ k + 1``. A draft step costs ``draft_layers / L`` of a target
    decode step (MTP and EAGLE draft with one layer); the draft's weights add ``draft_layers`` layers."""

    acceptance_length: float
    draft_tokens: int = 1
    draft_layers: float = 1.0
    method: str = "mtp"

    def __post_init__(self) -> None:
        k = self.draft_tokens
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 16:
            raise ConfigError(f"draft_tokens must be an integer from 1 to 16, got {k!r}", field="draft_tokens")
        tau = self.acceptance_length
        if not isinstance(tau, int | float) or not 1.0 <= tau <= k + 1:
            raise ConfigError(
                f"acceptance_length must be between 1 and draft_tokens + 1 = {k + 1} (tokens per verification "
                f"step, the bonus token included), got {tau!r}",
                field="acceptance_length",
            )
        if not isinstance(self.draft_layers, int | float) or not 0.0 <= self.draft_layers <= 1024:
            raise ConfigError(f"draft_layers must be in [0, 1024], got {self.draft_layers!r}", field="draft_layers")


def _version_key(version: str) -> tuple[int, ...]:
    match = _VERSION.match(version)
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


def _optional_int(record: dict[str, Any], key: str, origin: str) -> int | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{origin}: {key} must be a positive integer or null, got {value!r}", field=key)
    return value


def _seconds(record: dict[str, Any], key: str, origin: str) -> float:
    value = record.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ConfigError(f"{origin}: {key} must be seconds in [0, 1), got {value!r}", field=key)
    return float(value)


def _share(record: dict[str, Any], key: str, origin: str) -> float:
    value = record.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{origin}: {key} must be a share in [0, 1], got {value!r}", field=key)
    return float(value)


def profile_from_record(record: dict[str, Any], origin: str) -> EngineProfile:
    """One ``engines:`` entry as an :class:`EngineProfile`; a :class:`ConfigError` names what is wrong."""
    name = record.get("name")
    if not isinstance(name, str):
        raise ConfigError(f"{origin}: an engine needs a name", field="name")
    where = f"{origin}: engine {name!r}"
    sources = record.get("sources")
    if not sources or not all(isinstance(s, str) for s in sources):
        raise ConfigError(f"{where} needs its sources (URLs or documents with a date)", field="sources")
    overheads = record.get("overheads", "prior")
    if overheads not in ("prior", "calibrated"):
        raise ConfigError(f"{where}: overheads must be 'prior' or 'calibrated', got {overheads!r}", field="overheads")
    fitted = record.get("first_token_overhead_s") or record.get("first_token_stream_share")
    if (overheads == "calibrated" or fitted) and not record.get("calibration"):
        raise ConfigError(
            f"{where}: calibrated overheads need their calibration (data, method, error)", field="overheads"
        )
    versions = []
    for entry in record.get("versions") or ():
        before = str(entry.get("before", ""))
        if not _VERSION.match(before) or not entry.get("source"):
            raise ConfigError(f"{where}: each versions entry needs a dotted 'before' and a 'source'", field="versions")
        changes = tuple((k, v) for k, v in entry.items() if k in _OVERRIDABLE)
        versions.append(VersionOverride(before=before, changes=changes, source=str(entry["source"])))
    return EngineProfile(
        name=name,
        description=str(record.get("description", "")),
        max_num_seqs=_optional_int(record, "max_num_seqs", where),
        max_num_batched_tokens=_optional_int(record, "max_num_batched_tokens", where),
        chunked_prefill=bool(record.get("chunked_prefill", False)),
        graph_capture=bool(record.get("graph_capture", False)),
        graph_max_batch=_optional_int(record, "graph_max_batch", where),
        chip_families=tuple(str(f) for f in record.get("chip_families") or ()),
        iteration_overhead_s=_seconds(record, "iteration_overhead_s", where),
        per_seq_overhead_s=_seconds(record, "per_seq_overhead_s", where),
        overheads=str(overheads),
        sources=tuple(sources),
        as_of=str(record.get("as_of", "")),
        aliases=tuple(str(a) for a in record.get("aliases") or ()),
        versions=tuple(versions),
        calibration=str(record.get("calibration", "")),
        first_token_overhead_s=_seconds(record, "first_token_overhead_s", where),
        first_token_stream_share=_share(record, "first_token_stream_share", where),
    )


def parse_engines(text: str, origin: str) -> list[EngineProfile]:
    """The profiles of an engines YAML document ``{schema_version, engines: [...]}``."""
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(f"{origin}: expected schema_version {SCHEMA_VERSION} and an engines list", field="engines")
    return [profile_from_record(r, origin) for r in doc.get("engines") or ()]


ENGINES: Registry[EngineProfile] = Registry("engine")
"""Every engine profile by name (``chipfleet.registry``): what ``--engine`` accepts, aliases aside."""

_ALIASES: dict[str, str] = {}


def register_engine(profile: EngineProfile) -> EngineProfile:
    """Register ``profile`` and its aliases; a taken name or alias is refused."""
    for alias in profile.aliases:
        ENGINES.check_name(alias)
        if alias in _ALIASES or alias in ENGINES:
            raise ConfigError(f"engine alias {alias!r} of {profile.name!r} is already taken", field="aliases")
    ENGINES.register(profile.name, profile, description=profile.description)
    _ALIASES.update(dict.fromkeys(profile.aliases, profile.name))
    return profile


@cache
def _load_shipped() -> None:
    text = resources.files("chipfleet.perf").joinpath("data/engines.yaml").read_text(encoding="utf-8")
    for profile in parse_engines(text, "perf/data/engines.yaml"):
        register_engine(profile)


_load_shipped()


def engine_names() -> list[str]:
    """Every name ``--engine`` accepts: profiles and aliases, sorted."""
    return sorted({*ENGINES.names(), *_ALIASES})


def engine_profile(spec: str | EngineProfile | None = None) -> EngineProfile:
    """The profile ``spec`` names: ``"vllm"``, ``"SGLang"``, another tool's name (``"dynamo-trt"`` is TensorRT-LLM),
    with an optional ``@version`` (``"vllm@0.11.2"``); ``None`` is the ``default`` profile. A miss raises
    :class:`UnknownNameError` with "did you mean"."""
    if isinstance(spec, EngineProfile):
        return spec
    if spec is None:
        return ENGINES.get(DEFAULT_ENGINE_NAME)
    name, _, version = spec.partition("@")
    key = lookup_key(name)
    key = _ALIASES.get(key, key)
    if key not in ENGINES:
        raise UnknownNameError("engine", name.strip(), engine_names())
    profile = ENGINES.get(key)
    return profile.at_version(version.strip()) if version.strip() else profile


DEFAULT_ENGINE: EngineProfile = engine_profile(None)
"""The engine-neutral profile: no caps, no overheads (today's results)."""


def fit_overheads(
    residual_s: Sequence[float], sequences: Sequence[float], measured_s: Sequence[float]
) -> tuple[float, float]:
    """The engine overheads ``(a, b) ≥ 0`` that best explain what a model without them leaves over:
    ``measured ≈ predicted + a + b·d`` per decode iteration of ``d`` sequences, fitted on the residuals
    ``r = measured − predicted`` by least absolute relative error, ``min Σ |r − a − b·d| / measured``
    (a linear program; robust to a few badly predicted runs, and the error it minimises is the APE the
    validation reports). Non-negative because an engine cannot take time away from the chip."""
    from scipy.optimize import linprog

    r = np.asarray(residual_s, dtype=np.float64)
    d = np.asarray(sequences, dtype=np.float64)
    w = 1.0 / np.asarray(measured_s, dtype=np.float64)
    n = r.size
    if n == 0:
        return 0.0, 0.0
    # variables: a, b, then u_i ≥ |r_i − a − b·d_i|; minimise Σ w_i·u_i
    cost = np.concatenate([[0.0, 0.0], w])
    eye = np.eye(n)
    upper = np.hstack([-np.ones((n, 1)), -d[:, None], -eye])  # r − a − b·d ≤ u
    lower = np.hstack([np.ones((n, 1)), d[:, None], -eye])  # a + b·d − r ≤ u
    res = linprog(
        cost, A_ub=np.vstack([upper, lower]), b_ub=np.concatenate([-r, r]), bounds=[(0, None)] * (n + 2),
        method="highs",
    )  # fmt: skip
    if not res.success:
        raise ConfigError(f"the engine-overhead fit failed: {res.message}")
    return float(res.x[0]), float(res.x[1])


def fit_first_token_overhead(residual_s: Sequence[float], measured_s: Sequence[float]) -> float:
    """The per-request first-token overhead ``c ≥ 0`` that best explains what the model leaves over on mean TTFT:
    ``measured ≈ predicted + c``, by least absolute relative error, ``min Σ |r_i − c| / measured_i`` with
    ``r = measured − predicted``: the median of the residuals weighted by ``1 / measured`` (0 for no data, and
    never negative: an engine cannot answer before the chip has prefilled)."""
    r = np.asarray(residual_s, dtype=np.float64)
    w = 1.0 / np.asarray(measured_s, dtype=np.float64)
    if r.size == 0:
        return 0.0
    order = np.argsort(r)
    cum = np.cumsum(w[order])
    return max(float(r[order][int(np.searchsorted(cum, cum[-1] / 2.0))]), 0.0)


@dataclass(frozen=True)
class PublishedSpec:
    """A published speculative-decoding setting for models whose name matches ``pattern`` (a regular
    expression on the zoo name), with where it comes from and how the acceptance length was derived."""

    pattern: str
    spec: SpecDecode
    source: str
    derivation: str


@cache
def published_specs() -> tuple[PublishedSpec, ...]:
    """The ``speculative:`` entries of the shipped engines file."""
    text = resources.files("chipfleet.perf").joinpath("data/engines.yaml").read_text(encoding="utf-8")
    out = []
    for r in yaml.safe_load(text).get("speculative") or ():
        spec = SpecDecode(
            acceptance_length=float(r["acceptance_length"]),
            draft_tokens=int(r["draft_tokens"]),
            draft_layers=float(r.get("draft_layers", 1.0)),
            method=str(r["method"]),
        )
        out.append(PublishedSpec(str(r["models"]), spec, str(r["source"]), str(r["derivation"])))
    return tuple(out)


def default_spec(model_name: str, method: str = "mtp") -> SpecDecode | None:
    """The published setting of ``method`` for ``model_name`` (e.g. DeepSeek-V3/R1's MTP: one draft token,
    acceptance length 1.875), or None where none is published."""
    for entry in published_specs():
        if entry.spec.method == method and re.search(entry.pattern, model_name.lower()):
            return entry.spec
    return None
