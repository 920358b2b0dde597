"""The built-in demo: the question chipfleet exists for, on default workloads, as a plan object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chipfleet.catalog import Catalog, Pricing
from chipfleet.economics.estimate import (
    ServingEstimate,
    TrainingEstimate,
    estimate_serving,
    estimate_training,
)
from chipfleet.exceptions import ChipfleetError
from chipfleet.perf.inference import ServingConfig
from chipfleet.perf.training import TrainingSetup
from chipfleet.plan.serving import ServeConstraints, ServePlan, ServeSLO, serve
from chipfleet.traces import RequestTrace, load_trace
from chipfleet.workloads import get_model

TRAIN_MODEL = "llama-3-70b"
TRAIN_TOKENS = 1e12
TRAIN_CHIPS = 512  # the same chip budget on every option, so the comparison is per chip
TRAIN_SEQ_LEN = 8192
TRAIN_GLOBAL_BATCH = 512  # sequences: 4M tokens per step, as Llama 3 pre-training's early phase
TRAIN_INSTANCES = (
    "trn1.32xlarge",
    "trn2.48xlarge",
    "p4d.24xlarge",
    "p5.48xlarge",
    "p5e.48xlarge",
    "tpu-v5p-8",
)

SERVE_MODEL = "llama-3-8b"
SERVE_INSTANCES = ("inf2.48xlarge", "g6.12xlarge", "g6e.xlarge", "p5.48xlarge")
SERVE_BATCH = 16
SERVE_INPUT = 1024
SERVE_OUTPUT = 256

# The serving plan: Azure's conversation trace at ten times its recorded rate on AWS, where Inferentia2 and
# the NVIDIA instances compete for the same requests.
PLAN_TRACE = "azure-conv"
PLAN_RATE_SCALE = 10.0
PLAN_SLO = ServeSLO(ttft_p90_s=1.0, tpot_p90_s=0.05)
PLAN_CONSTRAINTS = ServeConstraints(clouds=("aws",))
PLAN_INPUT_EDGES = (512, 2048, 8192)
PLAN_OUTPUT_EDGES = (256,)


@dataclass(frozen=True)
class DemoResult:
    training: list[TrainingEstimate]
    serving: list[ServingEstimate]
    training_skipped: list[str] = field(default_factory=list)
    serving_skipped: list[str] = field(default_factory=list)
    serving_plan: ServePlan | None = None
    serving_plan_skipped: str = ""

    @property
    def training_title(self) -> str:
        return f"Pre-training {TRAIN_MODEL} on {TRAIN_TOKENS / 1e12:g}T tokens, {TRAIN_CHIPS} chips each"

    @property
    def serving_title(self) -> str:
        return f"Serving {SERVE_MODEL}: batch {SERVE_BATCH}, {SERVE_INPUT} in / {SERVE_OUTPUT} out tokens, one instance"

    def as_dict(self) -> dict[str, Any]:
        return {
            "training": [e.as_dict() for e in self.training],
            "serving": [e.as_dict() for e in self.serving],
            "training_skipped": self.training_skipped,
            "serving_skipped": self.serving_skipped,
            "serving_plan": None if self.serving_plan is None else self.serving_plan.as_dict(),
            "serving_plan_skipped": self.serving_plan_skipped,
        }


def _priced(catalog: Catalog, instance: str) -> Pricing:
    """On-demand where the catalog has it, else spot (p5e is only listed with spot prices)."""
    inst = catalog.instance(instance)
    return Pricing.ON_DEMAND if inst.price(None, Pricing.ON_DEMAND) is not None else Pricing.SPOT


def run_demo(catalog: Catalog) -> DemoResult:
    """Estimate the demo's training and serving options; options that cannot run are listed with why."""
    setup = TrainingSetup(model=get_model(TRAIN_MODEL), seq_len=TRAIN_SEQ_LEN, global_batch=TRAIN_GLOBAL_BATCH)
    training: list[TrainingEstimate] = []
    t_skip: list[str] = []
    for name in TRAIN_INSTANCES:
        inst = catalog.instance(name)
        try:
            training.append(
                estimate_training(
                    catalog,
                    setup,
                    name,
                    TRAIN_CHIPS // inst.chips,
                    TRAIN_TOKENS,
                    pricing=_priced(catalog, name),
                )
            )
        except ChipfleetError as e:
            t_skip.append(f"{name}: {e}")
    cfg = ServingConfig(
        model=get_model(SERVE_MODEL), batch=SERVE_BATCH, input_tokens=SERVE_INPUT, output_tokens=SERVE_OUTPUT
    )
    serving: list[ServingEstimate] = []
    s_skip: list[str] = []
    for name in SERVE_INSTANCES:
        try:
            serving.append(estimate_serving(catalog, cfg, name, pricing=_priced(catalog, name)))
        except ChipfleetError as e:
            s_skip.append(f"{name}: {e}")
    plan: ServePlan | None = None
    plan_skip = ""
    try:
        trace = load_trace(PLAN_TRACE, kind="requests")
        assert isinstance(trace, RequestTrace)
        plan = serve(
            get_model(SERVE_MODEL), trace.scale_rate(PLAN_RATE_SCALE), PLAN_SLO, catalog=catalog,
            constraints=PLAN_CONSTRAINTS, input_edges=PLAN_INPUT_EDGES, output_edges=PLAN_OUTPUT_EDGES,
        )  # fmt: skip
    except ChipfleetError as e:
        plan_skip = str(e)
    return DemoResult(
        training=training, serving=serving, training_skipped=t_skip, serving_skipped=s_skip, serving_plan=plan,
        serving_plan_skipped=plan_skip,
    )  # fmt: skip
