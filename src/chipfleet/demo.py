"""The built-in demo: the question chipfleet exists for, on default workloads, as a plan object."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from chipfleet.catalog import Catalog, Pricing
from chipfleet.economics.estimate import (
    ServingEstimate,
    TrainingEstimate,
    estimate_serving,
    estimate_training,
)
from chipfleet.exceptions import ChipfleetError, ConfigError
from chipfleet.perf.inference import ServingConfig
from chipfleet.perf.training import TrainingSetup
from chipfleet.plan.serve import ServeConstraints, ServePlan, ServeSLO, serve
from chipfleet.traces import RequestTrace, load_trace
from chipfleet.workloads import get_model

E = TypeVar("E")

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
    "p5en.48xlarge",  # H200; p5e.48xlarge is sold without an on-demand price (capacity blocks, spot)
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
PLAN_CLOUDS = ("aws",)
PLAN_INPUT_EDGES = (512, 2048, 8192)
PLAN_OUTPUT_EDGES = (256,)


@dataclass(frozen=True)
class DemoResult:
    """The demo's estimates and plan, all on one pricing model (``pricing``), and what was left out and why.

    Its JSON (:func:`chipfleet.serialize.to_jsonable`) is its fields and ``caveats``.
    """

    __json_properties__: ClassVar[tuple[str, ...]] = ("caveats",)

    training: list[TrainingEstimate]
    serving: list[ServingEstimate]
    training_skipped: list[str] = field(default_factory=list)
    serving_skipped: list[str] = field(default_factory=list)
    serving_plan: ServePlan | None = None
    serving_plan_skipped: str = ""
    pricing: Pricing = Pricing.ON_DEMAND

    @property
    def training_title(self) -> str:
        return f"Pre-training {TRAIN_MODEL} on {TRAIN_TOKENS / 1e12:g}T tokens, {TRAIN_CHIPS} chips each"

    @property
    def serving_title(self) -> str:
        return f"Serving {SERVE_MODEL}: batch {SERVE_BATCH}, {SERVE_INPUT} in / {SERVE_OUTPUT} out tokens, one instance"

    @property
    def caveats(self) -> list[str]:
        """What the training rows' figures include of spot and leave out, each estimate's own sentences, once."""
        return list(dict.fromkeys(c for e in self.training for c in e.caveats))

    @property
    def serving_plan_title(self) -> str:
        plan = self.serving_plan
        model = plan.model if plan is not None else SERVE_MODEL
        workload = plan.workload if plan is not None else PLAN_TRACE
        slo = f"p90 TTFT ≤ {PLAN_SLO.ttft_p90_s:g} s, p90 TPOT ≤ {PLAN_SLO.tpot_p90_s * 1e3:g} ms"
        clouds = "/".join(c.upper() for c in PLAN_CLOUDS)
        return f"Cheapest {clouds} fleet for {model} on {workload} ×{PLAN_RATE_SCALE:g} ({slo})"


def _no_price_reason(catalog: Catalog, instance: str, pricing: Pricing) -> str | None:
    """Why ``instance`` is left out of a comparison on ``pricing``, or None when it has such a price.

    Every row of a comparison is on the same pricing model: an instance without that price is left out with
    this reason, never priced on another model behind the reader's back.
    """
    inst = catalog.instance(instance)
    if inst.price(None, pricing) is not None:
        return None
    have = sorted({p.pricing.value for p in inst.prices})
    listed = f"only {', '.join(have)}" if have else "no prices at all"
    return (
        f"{inst.name}: no {pricing.value} price in the catalog ({listed}); the demo compares {pricing.value} "
        f"prices only (chipfleet demo --pricing {have[0] if have else pricing.value} compares on that model)"
    )


def _each_priced(
    catalog: Catalog, instances: Sequence[str], pricing: Pricing, estimate: Callable[[str], E]
) -> tuple[list[E], list[str]]:
    """``estimate`` of every instance that has a ``pricing`` price; the others and the failures, with why."""
    out: list[E] = []
    skipped: list[str] = []
    for name in instances:
        reason = _no_price_reason(catalog, name, pricing)
        if reason is not None:
            skipped.append(reason)
            continue
        try:
            out.append(estimate(name))
        except ChipfleetError as e:
            skipped.append(f"{name}: {e}")
    return out, skipped


def training_estimates(
    catalog: Catalog, instances: Sequence[str], pricing: Pricing = Pricing.ON_DEMAND
) -> tuple[list[TrainingEstimate], list[str]]:
    """The demo's training run on each instance type at the same chip budget, on ``pricing``; what was left out."""
    setup = TrainingSetup(model=get_model(TRAIN_MODEL), seq_len=TRAIN_SEQ_LEN, global_batch=TRAIN_GLOBAL_BATCH)

    def estimate(name: str) -> TrainingEstimate:
        n = TRAIN_CHIPS // catalog.instance(name).chips
        return estimate_training(catalog, setup, name, n, TRAIN_TOKENS, pricing=pricing)

    return _each_priced(catalog, instances, pricing, estimate)


def serving_estimates(
    catalog: Catalog, instances: Sequence[str], pricing: Pricing = Pricing.ON_DEMAND
) -> tuple[list[ServingEstimate], list[str]]:
    """The demo's serving configuration on one instance of each type, on ``pricing``; what was left out."""
    cfg = ServingConfig(
        model=get_model(SERVE_MODEL), batch=SERVE_BATCH, input_tokens=SERVE_INPUT, output_tokens=SERVE_OUTPUT
    )
    return _each_priced(catalog, instances, pricing, lambda name: estimate_serving(catalog, cfg, name, pricing=pricing))


def run_demo(catalog: Catalog, pricing: Pricing = Pricing.ON_DEMAND, *, plan_requests: int | None = None) -> DemoResult:
    """Estimate the demo's training and serving options and plan its serving fleet, all on ``pricing``;
    options that cannot run or have no such price are listed with why.

    ``plan_requests`` plans the fleet for the trace's first that many requests instead of all of them (the
    planner's replay dominates the demo's time): a small-scale demo for tests, not offered by the CLI.
    """
    if plan_requests is not None and plan_requests < 1:
        raise ConfigError(f"plan_requests must be at least 1 (got {plan_requests})", field="plan_requests")
    training, t_skip = training_estimates(catalog, TRAIN_INSTANCES, pricing)
    serving, s_skip = serving_estimates(catalog, SERVE_INSTANCES, pricing)
    plan: ServePlan | None = None
    plan_skip = ""
    try:
        trace = load_trace(PLAN_TRACE, kind="requests")
        assert isinstance(trace, RequestTrace)
        if plan_requests is not None:
            trace = trace.head(plan_requests)
        plan = serve(
            get_model(SERVE_MODEL), trace.scale_rate(PLAN_RATE_SCALE), PLAN_SLO, catalog=catalog,
            constraints=ServeConstraints(clouds=PLAN_CLOUDS, pricing=pricing), input_edges=PLAN_INPUT_EDGES,
            output_edges=PLAN_OUTPUT_EDGES,
        )  # fmt: skip
    except ChipfleetError as e:
        plan_skip = str(e)
    return DemoResult(
        training=training, serving=serving, training_skipped=t_skip, serving_skipped=s_skip, serving_plan=plan,
        serving_plan_skipped=plan_skip, pricing=pricing,
    )  # fmt: skip
