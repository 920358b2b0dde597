"""Vendors' published claims (Inferentia, Trainium, ...) checked against the model's own estimate."""

from chipfleet.validate.claims.check import check_claims
from chipfleet.validate.claims.evidence import (
    AchievableRow,
    EvidenceRow,
    FitRow,
    PeakRow,
    ServingSide,
    SpecRow,
    SweepRow,
    TrainingRow,
    TrainingSide,
    WeightsFit,
)
from chipfleet.validate.claims.peaks import ceiba_rows, check_ceiba
from chipfleet.validate.claims.published import CLAIMS, Claim, claim
from chipfleet.validate.claims.serving import SERVING_GRID, ServingGrid, check_inferentia, inferentia_sweep
from chipfleet.validate.claims.training import TRAINING_GRID, TrainingGrid, check_trainium, trainium_sweep
from chipfleet.validate.claims.verdict import VERDICTS, ClaimCheck, FamilyStatus, Verdict

__all__ = [
    "CLAIMS",
    "SERVING_GRID",
    "TRAINING_GRID",
    "VERDICTS",
    "AchievableRow",
    "Claim",
    "ClaimCheck",
    "EvidenceRow",
    "FamilyStatus",
    "FitRow",
    "PeakRow",
    "ServingGrid",
    "ServingSide",
    "SpecRow",
    "SweepRow",
    "TrainingGrid",
    "TrainingRow",
    "TrainingSide",
    "Verdict",
    "WeightsFit",
    "ceiba_rows",
    "check_ceiba",
    "check_claims",
    "check_inferentia",
    "check_trainium",
    "claim",
    "inferentia_sweep",
    "trainium_sweep",
]
