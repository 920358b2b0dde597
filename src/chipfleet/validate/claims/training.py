"""Trainium2 vs Trainium1 (GT0168 up to 4x faster training, GT0169 up to 2x energy efficiency) over a training
grid, at the catalog TDPs and at the ends of their spreads."""

from __future__ import annotations

from dataclasses import dataclass, replace

from chipfleet.catalog import Basis, Catalog, Precision, Pricing
from chipfleet.economics import TrainingEstimate, estimate_training
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf import TrainingSetup
from chipfleet.validate.claims.evidence import EvidenceRow, TrainingRow, TrainingSide, chip_spec_rows, ratio
from chipfleet.validate.claims.published import claim
from chipfleet.validate.claims.verdict import ClaimCheck, family_basis, ratio_verdict, with_family_status
from chipfleet.workloads import get_model


@dataclass(frozen=True)
class TrainingGrid:
    """The Trainium sweep: models × chip counts × precisions, old instance vs new, the split chosen by
    chipfleet for each. ``steps`` optimizer steps of ``global_batch × seq_len`` tokens."""

    models: tuple[str, ...] = ("llama-3-8b", "llama-3-70b", "llama-3.1-405b")
    chips: tuple[int, ...] = (16, 512)
    precisions: tuple[Precision, ...] = (Precision.BF16, Precision.FP8)
    old_instance: str = "trn1.32xlarge"
    new_instance: str = "trn2.48xlarge"
    seq_len: int = 4096
    global_batch: int = 1024
    steps: int = 100


TRAINING_GRID = TrainingGrid()

METRICS = {"trn2-training-speed": "speedup", "trn2-energy-efficiency": "energy_efficiency_ratio"}
"""The training-row ratio each Trainium claim is judged on."""


def _with_tdp(catalog: Catalog, chip_name: str, watts_in_figure_unit: float) -> Catalog:
    """``catalog`` with one chip's TDP value replaced (same unit as the figure): for sensitivity only."""
    chip = catalog.chip(chip_name)
    tdp = chip.tdp.model_copy(update={"value": watts_in_figure_unit})
    chips = {**catalog.chips, chip.name: chip.model_copy(update={"tdp": tdp})}
    return replace(catalog, chips=chips)


def _common_region(catalog: Catalog, *instances: str) -> str | None:
    """A region where every instance has an on-demand price (same PUE and grid for a fair energy ratio)."""
    sets = [{p.region for p in catalog.instance(i).prices if p.pricing is Pricing.ON_DEMAND} for i in instances]
    common = sorted(set.intersection(*sets)) if sets else []
    return common[0] if common else None


def _train(
    catalog: Catalog, setup: TrainingSetup, instance: str, chips: int, tokens: float, region: str | None
) -> TrainingEstimate | str:
    per_instance = catalog.instance(instance).chips
    if chips % per_instance:
        return f"{chips} chips is not a whole number of {instance} ({per_instance} chips each)"
    try:
        return estimate_training(catalog, setup, instance, chips // per_instance, tokens, region=region)
    except (DoesNotFitError, ConfigError) as exc:  # ConfigError: e.g. no on-demand price to cost it with
        return str(exc)


def _side(instance: str, est: TrainingEstimate | str, tokens: float) -> TrainingSide:
    if isinstance(est, str):
        return TrainingSide(instance=instance, fits=False, why_not=est)
    s = est.step
    return TrainingSide(
        instance=instance,
        fits=True,
        instances=est.instances,
        parallelism=s.parallelism.describe(),
        tokens_per_s=s.tokens_per_s,
        mfu=s.mfu,
        bound=s.bound,
        s_per_million_tokens=est.time_s / tokens * 1e6,
        energy_kwh_per_million_tokens=est.footprint.energy_kwh / tokens * 1e6,
        avg_power_w_per_instance=est.footprint.avg_power_w,
    )


def _energy_ratio(old: TrainingEstimate | str, new: TrainingEstimate | str, tokens: float) -> float | None:
    """Energy per token, old ÷ new; None when either does not fit."""
    if isinstance(old, str) or isinstance(new, str):
        return None
    return ratio(old.footprint.energy_kwh / tokens, new.footprint.energy_kwh / tokens)


def trainium_sweep(catalog: Catalog, grid: TrainingGrid = TRAINING_GRID) -> list[TrainingRow]:
    """One row per model × chips × precision: both generations' estimates, the speed-up (tokens/s ratio) and
    the energy-efficiency ratio (energy per token, old ÷ new) at the catalog TDPs and at the ends of their
    spreads (the most and least favourable to the new chip)."""
    old_chip = catalog.chip_of(grid.old_instance)
    new_chip = catalog.chip_of(grid.new_instance)
    region = _common_region(catalog, grid.old_instance, grid.new_instance)
    variants: dict[str, Catalog | None] = {"favourable": None, "unfavourable": None}
    if old_chip.tdp.spread is not None and new_chip.tdp.spread is not None:
        (old_lo, old_hi), (new_lo, new_hi) = old_chip.tdp.spread, new_chip.tdp.spread
        variants["favourable"] = _with_tdp(_with_tdp(catalog, old_chip.name, old_hi), new_chip.name, new_lo)
        variants["unfavourable"] = _with_tdp(_with_tdp(catalog, old_chip.name, old_lo), new_chip.name, new_hi)
    tokens = float(grid.steps * grid.global_batch * grid.seq_len)
    rows: list[TrainingRow] = []
    for model_name in grid.models:
        model = get_model(model_name)
        for chips in grid.chips:
            for precision in grid.precisions:
                setup = TrainingSetup(model, seq_len=grid.seq_len, global_batch=grid.global_batch, precision=precision)
                old = _train(catalog, setup, grid.old_instance, chips, tokens, region)
                new = _train(catalog, setup, grid.new_instance, chips, tokens, region)
                both = not isinstance(old, str) and not isinstance(new, str)
                spread: dict[str, float | None] = {}
                for label, variant in variants.items():
                    spread[label] = None
                    if both and variant is not None:
                        spread[label] = _energy_ratio(
                            _train(variant, setup, grid.old_instance, chips, tokens, region),
                            _train(variant, setup, grid.new_instance, chips, tokens, region),
                            tokens,
                        )
                trn1, trn2 = _side(grid.old_instance, old, tokens), _side(grid.new_instance, new, tokens)
                rows.append(
                    TrainingRow(
                        model=model_name,
                        chips=chips,
                        precision=precision.value,
                        seq_len=grid.seq_len,
                        global_batch=grid.global_batch,
                        region=region,
                        trn1=trn1,
                        trn2=trn2,
                        speedup=ratio(trn2.tokens_per_s, trn1.tokens_per_s),
                        energy_efficiency_ratio=_energy_ratio(old, new, tokens),
                        energy_efficiency_ratio_tdp_favourable=spread["favourable"],
                        energy_efficiency_ratio_tdp_unfavourable=spread["unfavourable"],
                    )
                )
    return rows


def check_trainium(catalog: Catalog, grid: TrainingGrid = TRAINING_GRID) -> list[ClaimCheck]:
    """GT0168 (up to 4x faster training) and GT0169 (up to 2x energy efficiency), Trainium2 vs Trainium1.

    The energy verdict is validated only when both TDPs are published figures (not chipfleet estimates)."""
    old_chip = catalog.chip_of(grid.old_instance)
    new_chip = catalog.chip_of(grid.new_instance)
    precisions = tuple(dict.fromkeys((Precision.BF16, Precision.FP8, *grid.precisions)))
    sweep = trainium_sweep(catalog, grid)
    evidence: list[EvidenceRow] = [*chip_spec_rows(old_chip, new_chip, precisions), *sweep]
    families = {f.name: f for f in (catalog.family_of(old_chip), catalog.family_of(new_chip))}.values()
    families_validated = all(f.validated for f in families)
    tdp_estimated = [c for c in (old_chip, new_chip) if c.tdp.basis is Basis.ESTIMATE]
    assumptions = (
        f"each case uses the fastest split chipfleet finds that fits ({grid.seq_len}-token sequences, "
        f"global batch {grid.global_batch}); fp8 training uses each chip's dense fp8 peak"
        + (
            f" ({old_chip.name} lists cFP8 at {old_chip.peak_dense[Precision.FP8].quoted()}, its bf16 rate)"
            if Precision.FP8 in old_chip.peak_dense
            else ""
        ),
        "energy per token = facility energy of the estimate's footprint (power model × time × PUE) ÷ tokens, "
        "both generations in the same region so PUE cancels",
        "efficiency families " + ", ".join(sorted(family_basis(f) for f in families)),
        *(
            f"{c.name} TDP {c.tdp.quoted()} is an estimate (basis {c.tdp.basis.value}): {c.tdp.note}"
            for c in tdp_estimated
        ),
    )
    checks = []
    for claim_id, metric in METRICS.items():
        spec = claim(claim_id)
        ratios = [float(v) for r in sweep if (v := getattr(r, metric)) is not None]
        energy = metric == "energy_efficiency_ratio"
        checks.append(
            ClaimCheck.of(
                spec,
                model_value=max(ratios) if ratios else None,
                verdict=ratio_verdict(ratios, spec.value),
                metric=metric,
                evidence=evidence,
                assumptions=assumptions,
                validated=families_validated and not (energy and tdp_estimated),
            )
        )
    return with_family_status(checks, (old_chip, new_chip), catalog)
