"""KV-cache transfer between a prefill worker and a decode worker (disaggregated serving): the link and its time.

A disaggregated deployment prefills a prompt on one worker and decodes it on another, so the prompt's KV cache
(every layer's keys and values, a linear-attention layer's recurrent state) moves between them once per request.
The link depends on where the two workers sit (:func:`kv_link`):

- ``same instance``: both on one machine (prefill on some of its chips, decode on the others); the chip-to-chip
  fabric inside the instance (NVLink, xGMI, NeuronLink).
- ``scale-up domain``: on two instances of one scale-up domain (a GB200/GB300 NVL72 rack, a Trainium UltraServer,
  a TPU ICI slice); the chip-to-chip fabric again.
- ``RDMA scale-out``: on two instances in one region whose catalog records give a scale-out fabric (EFA,
  InfiniBand, RoCE); GPUDirect/Neuron RDMA, as NIXL, Mooncake's transfer engine and NxD's disaggregated inference
  use it.
- ``data-centre network``: instances in one region without a scale-out figure; the front-end network (TCP).

Pools in different clouds or regions have no link fit for this (a KV cache is megabytes per request and must arrive
within a TTFT): :func:`kv_link` refuses them.

A transfer of ``S`` bytes takes ``latency + S / B``, ``B`` the slower end's bandwidth for the chips of one
worker: ``min(c_p, c_d) · b_chip`` on a chip-to-chip fabric (each chip sends its own shard of the cache to one
peer), ``min(c_p·s_p/n_p, c_d·s_d/n_d)`` over a scale-out fabric or network of ``s`` per instance of ``n``
chips (a worker gets its chips' share of the instance's NICs), times the family's collective efficiency.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chipfleet.catalog import Catalog, Instance, Precision
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import hardware_for
from chipfleet.workloads import ModelArch

# TCP over a cloud's front-end network: one round trip inside an availability zone is 50-100 µs, and a transfer
# needs one before its first byte. An estimate (chipfleet maintainers, 2026-12-06), not a measurement.
NETWORK_LATENCY_S = 100e-6


class LinkKind(StrEnum):
    """Where a prefill worker and a decode worker sit relative to each other (module docstring)."""

    SAME_INSTANCE = "same instance"
    SCALE_UP = "scale-up domain"
    RDMA = "RDMA scale-out"
    NETWORK = "data-centre network"


@dataclass(frozen=True)
class KvLink:
    """The link one KV-cache transfer crosses: its kind, bandwidth (bytes/s, one direction, for one transfer
    between one prefill and one decode worker) and fixed latency per transfer, with how they were derived."""

    kind: LinkKind
    bytes_per_s: float
    latency_s: float
    description: str

    def transfer_s(self, nbytes: float) -> float:
        """``latency + S / B``: seconds to move ``nbytes`` (0 bytes: nothing moves, no time)."""
        if nbytes <= 0:
            return 0.0
        return self.latency_s + nbytes / self.bytes_per_s


def kv_transfer_bytes(model: ModelArch, prompt_tokens: int, kv_precision: Precision) -> float:
    """Bytes of one prompt's cache a prefill worker hands to a decode worker: the KV cache of ``prompt_tokens``
    tokens in ``kv_precision`` (:meth:`ModelArch.kv_cache_bytes`: sliding and chunked layers capped at their
    span, MLA's latent, a linear-attention layer's recurrent state once)."""
    if prompt_tokens < 0:
        raise ConfigError(f"prompt_tokens must be non-negative, got {prompt_tokens}", field="input_tokens")
    return model.kv_cache_bytes(prompt_tokens, kv_precision.bytes)


def shares_scale_up_domain(catalog: Catalog, prefill: Instance | str, decode: Instance | str, chips: int) -> bool:
    """Whether two pools of one instance type, ``chips`` accelerators in all, fit in one scale-up domain larger
    than an instance (an NVL72 rack of 4-GPU instances, a Trainium UltraServer): the instance's record says how many
    instances its fabric joins; slices of one board (p5.4xlarge, 1 of an NVL8's GPUs) share none."""
    p = catalog.instance(prefill) if isinstance(prefill, str) else prefill
    d = catalog.instance(decode) if isinstance(decode, str) else decode
    if p.name != d.name:
        return False
    reach = hardware_for(catalog, p).scale_up_chips  # the instances one fabric joins (Instance.scale_up_instances)
    return reach is not None and reach > p.chips and chips <= reach


def _where(inst: Instance, region: str | None) -> str:
    return f"{inst.name} ({inst.cloud.value}{', ' + region if region else ''})"


def kv_link(
    catalog: Catalog,
    prefill: Instance | str,
    decode: Instance | str,
    *,
    prefill_chips: int,
    decode_chips: int,
    prefill_region: str | None = None,
    decode_region: str | None = None,
    same_instance: bool = False,
    scale_up: bool = False,
) -> KvLink:
    """The link between a prefill worker of ``prefill_chips`` chips on ``prefill`` and a decode worker of
    ``decode_chips`` chips on ``decode`` (module docstring). ``same_instance``: both workers on one machine;
    ``scale_up``: on instances of one scale-up domain (:func:`shares_scale_up_domain`). A :class:`ConfigError`
    (field ``decode``) when the pools are in different clouds or regions, or when the catalog has no bandwidth
    for the link."""
    p = catalog.instance(prefill) if isinstance(prefill, str) else prefill
    d = catalog.instance(decode) if isinstance(decode, str) else decode
    for name, chips, inst in (("prefill", prefill_chips, p), ("decode", decode_chips, d)):
        if chips < 1 or chips > inst.chips * (inst.max_instances or 1 << 20):
            raise ConfigError(f"a {name} worker of {chips} chips does not fit on {inst.name}", field=name)
    if p.cloud is not d.cloud or (prefill_region and decode_region and prefill_region.lower() != decode_region.lower()):
        raise ConfigError(
            f"no link between the prefill pool on {_where(p, prefill_region)} and the decode pool on "
            f"{_where(d, decode_region)}: a KV cache moves once per request and must arrive within its TTFT, which "
            "only a link inside one region and cloud allows; put both pools in one region",
            field="decode",
        )
    hp, hd = hardware_for(catalog, p), hardware_for(catalog, d)
    eff = min(hp.eff.collective, hd.eff.collective)
    fabric = min(prefill_chips, decode_chips)
    if same_instance or scale_up:
        if same_instance and p.name != d.name:
            raise ConfigError(f"prefill on {p.name} and decode on {d.name} cannot share one instance", field="decode")
        per_chip = min(hp.intra_link_bytes_per_s, hd.intra_link_bytes_per_s)
        if scale_up:  # between instances of the domain: the chip's fabric, not the instance's own links
            chip = catalog.chip(p.chip)
            per_chip = chip.link_bandwidth.si if chip.link_bandwidth is not None else 0.0
        if not per_chip > 0 or per_chip == float("inf"):
            raise ConfigError(
                f"{p.name} has no chip-to-chip bandwidth in the catalog to move KV caches over; add it in an overlay",
                field="decode",
            )
        kind = LinkKind.SAME_INSTANCE if same_instance else LinkKind.SCALE_UP
        fab = catalog.chip(p.chip).scale_up
        name = fab.fabric if fab is not None else "chip-to-chip links"
        return KvLink(
            kind=kind,
            bytes_per_s=fabric * per_chip * eff,
            latency_s=max(hp.eff.intra_latency_s, hd.eff.intra_latency_s),
            description=f"{name}: {fabric} chips × {per_chip / 1e9:,.0f} GB/s × {eff:.2f} efficiency",
        )
    if p.scaleout is not None and d.scaleout is not None:
        ends = (prefill_chips * p.scaleout.si / p.chips, decode_chips * d.scaleout.si / d.chips)
        return KvLink(
            kind=LinkKind.RDMA,
            bytes_per_s=min(ends) * eff,
            latency_s=max(hp.eff.inter_latency_s, hd.eff.inter_latency_s),
            description=(
                f"scale-out fabric: min({ends[0] / 1e9:,.1f}, {ends[1] / 1e9:,.1f}) GB/s for the workers' chips "
                f"× {eff:.2f} efficiency (both ends speaking one transfer library, e.g. NIXL over EFA/RDMA)"
            ),
        )
    # One end without a scale-out fabric: TCP over the front-end networks (a fabric-only record stands in for its
    # end's network, an upper bound).
    p_net, d_net = p.network or p.scaleout, d.network or d.scaleout
    if p_net is None or d_net is None:
        missing = " and ".join(inst.name for inst, net in ((p, p_net), (d, d_net)) if net is None)
        raise ConfigError(
            f"the catalog has no network bandwidth for {missing}, so a KV-cache transfer to or from it cannot be "
            "timed; add its network or scaleout figure in an overlay",
            field="decode",
        )
    ends = (prefill_chips * p_net.si / p.chips, decode_chips * d_net.si / d.chips)
    return KvLink(
        kind=LinkKind.NETWORK,
        bytes_per_s=min(ends) * eff,
        latency_s=NETWORK_LATENCY_S,
        description=(
            f"front-end network (TCP): min({ends[0] / 1e9:,.2f}, {ends[1] / 1e9:,.2f}) GB/s for the workers' chips "
            f"× {eff:.2f} efficiency"
        ),
    )
