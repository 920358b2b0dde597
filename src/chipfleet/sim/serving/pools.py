"""A disaggregated deployment's pools: prefill workers and decode workers (xPyD), each with its own layout.

A pool is ``count`` instances of one type cut into workers of ``tp`` chips (``tp`` may fill whole instances: an
expert-parallel group spanning them). Its text form, as ``simulate serve --prefill/--decode`` read it::

    INSTANCE:COUNT[:KEY=VALUE[:KEY=VALUE...]]      e.g. trn2.48xlarge:2   p6-b200.48xlarge:1:tp=4:max-seqs=64

with keys ``tp`` (chips per worker; default the fewest that hold the model), ``ep`` (expert-parallel ranks),
``dp-attention`` (on/off: attention data-parallel), ``max-seqs`` and ``max-batch-tokens`` (the worker's batch
limits; default the run's) and ``region`` (where the pool's instances are rented; default: a region where both
pools are priced, the cheapest).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError
from chipfleet.perf.engines import EngineProfile, SpecDecode

_HEAD = re.compile(r"^\s*([a-z0-9._-]+)\s*:\s*(\d+)\s*$", re.IGNORECASE)
_ON = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False, "no": False}
POOL_KEYS = ("tp", "ep", "dp-attention", "max-seqs", "max-batch-tokens", "region")


@dataclass(frozen=True)
class PoolSpec:
    """One pool of a disaggregated deployment: ``count`` instances of ``instance`` split into workers of ``tp``
    chips (None: the fewest that hold the model), laid out with ``ep``/``dp_attention``; ``max_seqs`` and
    ``max_batch_tokens`` override the run's batch limits for this pool's workers (None: the run's)."""

    instance: str
    count: int
    tp: int | None = None
    ep: int = 1
    dp_attention: bool = False
    max_seqs: int | None = None
    max_batch_tokens: int | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ConfigError(f"a pool needs at least one instance, got {self.count} of {self.instance}")
        for name in ("tp", "ep", "max_seqs", "max_batch_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} of the {self.instance} pool must be at least 1, got {value}", field=name)

    @classmethod
    def parse(cls, text: str, role: str = "pool") -> PoolSpec:
        """``INSTANCE:COUNT[:KEY=VALUE...]`` (module docstring); ``role`` (prefill/decode) names the field."""
        parts = text.split(":")
        m = _HEAD.match(":".join(parts[:2])) if len(parts) >= 2 else None
        if not m:
            raise ConfigError(
                f"cannot read the {role} pool {text.strip()!r}; write INSTANCE:COUNT[:KEY=VALUE...], e.g. "
                "trn2.48xlarge:2 or p6-b200.48xlarge:1:tp=4",
                field=role,
            )
        ints: dict[str, int] = {}
        dp_attention, region = False, None
        for item in parts[2:]:
            key, sep, raw = item.partition("=")
            key, raw = key.strip().lower().replace("_", "-"), raw.strip()
            if not sep or key not in POOL_KEYS or not raw:
                raise ConfigError(
                    f"cannot read {item.strip()!r} in the {role} pool {text.strip()!r}: give KEY=VALUE with KEY "
                    f"one of {', '.join(POOL_KEYS)}",
                    field=role,
                )
            if key == "dp-attention":
                if raw.lower() not in _ON:
                    raise ConfigError(f"dp-attention in the {role} pool takes on or off, got {raw!r}", field=role)
                dp_attention = _ON[raw.lower()]
            elif key == "region":
                region = raw.lower()
            else:
                if not raw.isdigit() or int(raw) < 1:
                    raise ConfigError(f"{key} in the {role} pool must be a whole number ≥ 1, got {raw!r}", field=role)
                ints[key] = int(raw)
        count = int(m.group(2))
        if count < 1:
            raise ConfigError(f"the {role} pool {text.strip()!r} needs a count of at least 1", field=role)
        return cls(
            instance=m.group(1).lower(), count=count, tp=ints.get("tp"), ep=ints.get("ep", 1),
            dp_attention=dp_attention, max_seqs=ints.get("max-seqs"), max_batch_tokens=ints.get("max-batch-tokens"),
            region=region,
        )  # fmt: skip

    def describe(self) -> str:
        parts = [f"{self.instance}:{self.count}"]
        for key in POOL_KEYS:
            value = getattr(self, key.replace("-", "_"))
            default = {"ep": 1, "dp-attention": False}.get(key)
            if value is not None and value != default:
                parts.append(f"{key}={'on' if value is True else value}")
        return ":".join(parts)


@dataclass(frozen=True)
class DisaggOptions:
    """How a disaggregated run batches, routes and is judged. Batch limits default to vLLM's (8192-token budget,
    256 sequences) as :class:`chipfleet.sim.serving.ServeOptions`; a pool's own limits override them.

    ``router``: a :data:`chipfleet.sim.serving.DISAGG_ROUTERS` name. ``spec``: speculative decoding or MTP on the
    decode workers (:class:`chipfleet.perf.engines.SpecDecode`; a decode iteration yields ``τ`` tokens per sequence
    on average, its draft's weights take KV room; prefill passes are unchanged). The KV cache's precision, on both
    pools and over the link, is the performance model's (fp8 with fp8 weights, else bf16, as ``ServingConfig``)."""

    max_batch_tokens: int = 8192
    max_seqs: int = 256
    precision: Precision = Precision.BF16
    router: str = "kv-aware"
    slo_ttft_s: float | None = None
    slo_tpot_s: float | None = None
    window_s: float = 60.0
    max_decode_block: int = 4096
    engine: EngineProfile | None = None
    spec: SpecDecode | None = None

    def __post_init__(self) -> None:
        for name in ("max_batch_tokens", "max_seqs", "max_decode_block"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}", field=name)
        for name in ("slo_ttft_s", "slo_tpot_s"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(
                    f"{name} must be a positive, finite number of seconds (or None), got {value!r}", field=name
                )
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ConfigError(f"window_s must be a positive number of seconds, got {self.window_s!r}", field="window_s")

    @property
    def first_token_overhead_s(self) -> float:
        return self.engine.first_token_overhead_s if self.engine is not None else 0.0
