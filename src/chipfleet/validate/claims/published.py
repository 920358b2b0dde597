"""The vendors' headline claims as published: text, value, source and their ``calibration.csv`` row ids."""

from __future__ import annotations

from dataclasses import dataclass

from chipfleet.exceptions import ConfigError


@dataclass(frozen=True)
class Claim:
    """A headline claim as published: ``value`` in ``unit`` (``x`` for ratios), with its source."""

    id: str
    row_ids: tuple[str, ...]  # ids of the `claim` rows in shared/data/reference/calibration.csv
    subject: str
    text: str
    source: str
    value: float
    unit: str
    accelerator_count: int | None = None


_INF2_BLOG = (
    "https://aws.amazon.com/blogs/machine-learning/aws-inferentia2-builds-on-aws-inferentia1-by-delivering-"
    "4x-higher-throughput-and-10x-lower-latency/"
)
_TRN2_NOTE = (
    "NAND Research note (secondary) https://nand-research.com/research-note-awss-new-trainium2, repeating the "
    "re:Invent 2023 announcement; the AWS press release was not found"
)
_CEIBA_SOURCE = (
    "NVIDIA/AWS announcement of Nov 2023 via news articles; secondary: "
    "https://www.nextplatform.com/2023/11/28/aws-adopts-nvidia-nvswitch-for-beefy-ai-gpu-nodes/ "
    "(the official press release text was not found; Ceiba later moved to Blackwell)"
)

CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="inf2-throughput",
        row_ids=("GT0166",),
        subject="AWS Inferentia2 vs Inferentia1",
        text="up to 4x higher throughput",
        source=_INF2_BLOG,
        value=4.0,
        unit="x",
    ),
    Claim(
        id="inf2-latency",
        row_ids=("GT0167",),
        subject="AWS Inferentia2 vs Inferentia1",
        text="up to 10x lower latency",
        source=_INF2_BLOG,
        value=10.0,
        unit="x",
    ),
    Claim(
        id="trn2-training-speed",
        row_ids=("GT0168",),
        subject="AWS Trainium2 vs Trainium1",
        text="up to 4x faster training",
        source=_TRN2_NOTE,
        value=4.0,
        unit="x",
    ),
    Claim(
        id="trn2-energy-efficiency",
        row_ids=("GT0169",),
        subject="AWS Trainium2 vs Trainium1",
        text="up to 2x better energy efficiency",
        source=_TRN2_NOTE,
        value=2.0,
        unit="x",
    ),
    Claim(
        id="ceiba-exaflops",
        row_ids=("GT0170", "GT0171"),
        subject="Project Ceiba (NVIDIA GH200 on AWS)",
        text="16,384 GH200 Superchips, about 65 AI exaflops",
        source=_CEIBA_SOURCE,
        value=65.0,
        unit="EFLOPS",
        accelerator_count=16384,
    ),
)


def claim(claim_id: str) -> Claim:
    """The claim record with ``claim_id``."""
    for c in CLAIMS:
        if c.id == claim_id:
            return c
    known = ", ".join(c.id for c in CLAIMS)
    raise ConfigError(f"unknown claim {claim_id!r}; known claims: {known}", field="claim_id")
