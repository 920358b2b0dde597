"""Vendors' published claims (Inferentia, Trainium, ...) checked against the model's own estimate."""

from chipfleet.validate.claims.check import (
    Claim,
    ClaimCheck,
    check_claims,
)

__all__ = [
    "Claim",
    "ClaimCheck",
    "check_claims",
]
