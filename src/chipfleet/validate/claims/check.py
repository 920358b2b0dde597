"""Every headline claim checked against the catalog and the performance model.

Each claim (its text, source and ``calibration.csv`` row ids, kept as data in
:data:`chipfleet.validate.claims.published.CLAIMS`) gets a :class:`ClaimCheck`: the figure chipfleet computes,
a structured verdict and the typed evidence rows behind it. Spec figures come from catalog records, model figures
from :mod:`chipfleet.perf` and :mod:`chipfleet.economics` calls; nothing here hard-codes an expected output,
writes the sentences that explain a verdict (:mod:`chipfleet.report.claims` does) or prints.
"""

from __future__ import annotations

from chipfleet.catalog import Catalog
from chipfleet.validate.claims.peaks import check_ceiba
from chipfleet.validate.claims.serving import check_inferentia
from chipfleet.validate.claims.training import check_trainium
from chipfleet.validate.claims.verdict import ClaimCheck


def check_claims(catalog: Catalog) -> list[ClaimCheck]:
    """Every headline claim, checked against ``catalog`` and the model."""
    return [*check_inferentia(catalog), *check_trainium(catalog), check_ceiba(catalog)]
