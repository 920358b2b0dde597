"""Inferentia2 vs Inferentia1 (GT0166 up to 4x throughput, GT0167 up to 10x lower latency) over a serving grid."""

from __future__ import annotations

import math
from dataclasses import dataclass

from chipfleet.catalog import Catalog, Precision
from chipfleet.exceptions import DoesNotFitError
from chipfleet.perf import ServingConfig, estimate_inference, hardware_for
from chipfleet.perf.hardware import Hardware
from chipfleet.perf.inference import InferenceResult, valid_tp_degrees, weight_bytes_per_chip
from chipfleet.validate.claims.evidence import (
    EvidenceRow,
    FitRow,
    ServingSide,
    SweepRow,
    WeightsFit,
    chip_spec_rows,
    ratio,
)
from chipfleet.validate.claims.published import claim
from chipfleet.validate.claims.verdict import ClaimCheck, family_basis, ratio_verdict, with_family_status
from chipfleet.workloads import ModelArch, get_model


@dataclass(frozen=True)
class ServingGrid:
    """The Inferentia sweep: every model × weight precision × (input, output) shape × batch × pair.

    Pairs are (Inf1 instance, Inf2 instance); throughput is compared per chip so unequal chip counts
    (16 on inf1.24xlarge, 12 on inf2.48xlarge) are comparable. Each side uses its best tensor-parallel degree:
    the most tokens/s per chip for throughput, the shortest request for latency.
    """

    models: tuple[str, ...] = ("gpt-j-6b", "llama-2-7b", "llama-2-13b")
    precisions: tuple[Precision, ...] = (Precision.BF16, Precision.INT8)
    # (input, output) tokens: decode-heavy, prefill-heavy, and prefill only (the closest decoder analogue
    # of the encoder/classification work Inf1 was built for).
    shapes: tuple[tuple[int, int], ...] = ((128, 128), (1024, 32), (512, 1))
    batches: tuple[int, ...] = (1, 8, 32, 128)
    pairs: tuple[tuple[str, str], ...] = (("inf1.xlarge", "inf2.xlarge"), ("inf1.24xlarge", "inf2.48xlarge"))


SERVING_GRID = ServingGrid()

METRICS = {"inf2-throughput": "throughput_ratio", "inf2-latency": "request_latency_ratio"}
"""The sweep ratio each Inferentia claim is judged on."""


def request_latency_s(r: InferenceResult, output_tokens: int) -> float:
    """``TTFT + (output − 1)·TPOT``: one request from arrival to its last token."""
    return r.ttft_s + (output_tokens - 1) * r.tpot_s


def _dominant_bound(r: InferenceResult, output_tokens: int) -> str:
    """The bound of the phase that takes most of a request: prefill or the decode iterations."""
    decode_s = (output_tokens - 1) * r.tpot_s
    phase = r.prefill if r.prefill.time_s >= decode_s else r.decode
    name = "prefill" if phase is r.prefill else "decode"
    return f"{name} {phase.bound}"


def best_side(
    instance: str, model: ModelArch, hw: Hardware, precision: Precision, shape: tuple[int, int], batch: int
) -> ServingSide:
    """``instance``'s best tensor-parallel degree for the case: by tokens/s per chip and by request latency."""
    results: list[InferenceResult] = []
    for tp in valid_tp_degrees(model, hw):
        cfg = ServingConfig(
            model=model, batch=batch, input_tokens=shape[0], output_tokens=shape[1], tp=tp, weight_precision=precision
        )
        try:
            results.append(estimate_inference(cfg, hw))
        except DoesNotFitError:
            continue
    if not results:
        return ServingSide(instance=instance, chips=hw.chips_per_instance, fits=False)
    thr = max(results, key=lambda r: r.output_tokens_per_s_per_replica / r.tp)
    lat = min(results, key=lambda r: request_latency_s(r, shape[1]))
    return ServingSide(
        instance=instance,
        chips=hw.chips_per_instance,
        fits=True,
        tp_for_throughput=thr.tp,
        output_tokens_per_s_per_chip=thr.output_tokens_per_s_per_replica / thr.tp,
        output_tokens_per_s_per_instance=thr.output_tokens_per_s,
        throughput_bound=_dominant_bound(thr, shape[1]),
        tp_for_latency=lat.tp,
        ttft_s=lat.ttft_s,
        tpot_s=lat.tpot_s,
        request_latency_s=request_latency_s(lat, shape[1]),
        latency_bound=_dominant_bound(lat, shape[1]),
    )


def inferentia_sweep(catalog: Catalog, grid: ServingGrid = SERVING_GRID) -> list[SweepRow]:
    """One row per grid case: each side's best configuration and the Inf2 ÷ Inf1 ratios (None when a side
    does not fit). Throughput ratio = tokens/s per chip; latency ratios = Inf1 time ÷ Inf2 time."""
    rows: list[SweepRow] = []
    for old_name, new_name in grid.pairs:
        old_hw, new_hw = hardware_for(catalog, old_name), hardware_for(catalog, new_name)
        for model_name in grid.models:
            model = get_model(model_name)
            for precision in grid.precisions:
                for shape in grid.shapes:
                    for batch in grid.batches:
                        old = best_side(old_name, model, old_hw, precision, shape, batch)
                        new = best_side(new_name, model, new_hw, precision, shape, batch)
                        rows.append(
                            SweepRow(
                                pair=f"{old_name} vs {new_name}",
                                model=model_name,
                                weight_precision=precision.value,
                                input_tokens=shape[0],
                                output_tokens=shape[1],
                                batch=batch,
                                inf1=old,
                                inf2=new,
                                throughput_ratio=ratio(
                                    new.output_tokens_per_s_per_chip, old.output_tokens_per_s_per_chip
                                ),
                                ttft_ratio=ratio(old.ttft_s, new.ttft_s),
                                tpot_ratio=ratio(old.tpot_s, new.tpot_s),
                                request_latency_ratio=ratio(old.request_latency_s, new.request_latency_s),
                            )
                        )
    return rows


def fit_rows(catalog: Catalog, grid: ServingGrid = SERVING_GRID) -> list[FitRow]:
    """Chips needed just to hold each model's weights, per generation: Inf1's 8 GiB per chip in action."""
    old_name, new_name = grid.pairs[-1]

    def fit(instance: str, model: ModelArch, precision: Precision) -> WeightsFit:
        hw = hardware_for(catalog, instance)
        weights = weight_bytes_per_chip(model, 1, precision)
        return WeightsFit(
            instance=instance,
            weights_bytes=weights,
            usable_bytes_per_chip=hw.usable_memory_bytes,
            min_chips_for_weights=math.ceil(weights / hw.usable_memory_bytes),
        )

    return [
        FitRow(
            model=name,
            weight_precision=p.value,
            inf1=fit(old_name, get_model(name), p),
            inf2=fit(new_name, get_model(name), p),
        )
        for name in grid.models
        for p in grid.precisions
    ]


def check_inferentia(catalog: Catalog, grid: ServingGrid = SERVING_GRID) -> list[ClaimCheck]:
    """GT0166 (up to 4x throughput) and GT0167 (up to 10x lower latency), Inferentia2 vs Inferentia1."""
    old_chip = catalog.chip_of(grid.pairs[0][0])
    new_chip = catalog.chip_of(grid.pairs[0][1])
    sweep = inferentia_sweep(catalog, grid)
    evidence: list[EvidenceRow] = [
        *chip_spec_rows(old_chip, new_chip, (Precision.BF16, Precision.INT8)),
        *fit_rows(catalog, grid),
        *sweep,
    ]
    families = {f.name: f for f in (catalog.family_of(old_chip), catalog.family_of(new_chip))}.values()
    assumptions = (
        "each side at its best tensor-parallel degree within one instance (a replica per tp chips); "
        "throughput compared per chip, latency per request (TTFT + (output − 1)·TPOT)",
        "int8 means int8-stored weights dequantized to bf16 matmuls (chipfleet's serving model)",
        "efficiency families " + ", ".join(sorted(family_basis(f) for f in families)),
        "the blog states no workload; the grid spans decode-heavy and prefill-heavy LLM shapes only "
        "(no CNN/BERT encoders, which chipfleet's serving model does not cover)",
    )
    checks = []
    for claim_id, metric in METRICS.items():
        spec = claim(claim_id)
        ratios = [float(v) for r in sweep if (v := getattr(r, metric)) is not None]
        checks.append(
            ClaimCheck.of(
                spec,
                model_value=max(ratios) if ratios else None,
                verdict=ratio_verdict(ratios, spec.value) if ratios else "not supported by published specs",
                metric=metric,
                evidence=evidence,
                assumptions=assumptions,
                validated=all(f.validated for f in families),
            )
        )
    return with_family_status(checks, (old_chip, new_chip), catalog)
