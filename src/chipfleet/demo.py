"""The built-in demo: the question chipfleet exists for, on default workloads, as a plan object."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from chipfleet.catalog import Catalog, Precision, Pricing
from chipfleet.economics.estimate import (
    ServingEstimate,
    TrainingEstimate,
    estimate_serving,
    estimate_training,
)
from chipfleet.exceptions import ChipfleetError, ConfigError
from chipfleet.perf.engines import EngineProfile, engine_profile
from chipfleet.perf.hardware import hardware_for
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

# The MoE serving comparison: gpt-oss-120b (117B parameters, 5.1B active, MXFP4 experts as released) on one
# instance of each kind of chip, at InferenceX's 1k/1k lengths and a concurrency its sweeps cover.
MOE_MODEL = "gpt-oss-120b"
MOE_INSTANCES = (
    "trn2.48xlarge",
    "p5en.48xlarge",  # H200
    "p6-b200.48xlarge",
    "standard_nd96isr_mi300x_v5",
    "bm.gpu.mi355x.8",
    "tpu-v6e-8",
)
MOE_CONCURRENCY = 64  # requests in flight on each replica
MOE_INPUT = 1024
MOE_OUTPUT = 1024
MOE_PRECISION = Precision.MXFP4  # the released checkpoint's expert weights
# Chips that cannot read MXFP4 serve the experts requantized to FP8 (every chip here reads it: FP8 compute, or
# weight-only FP8 on TPU v6e), half the bytes of the BF16 form, so the model fits on as few chips as it can.
MOE_FALLBACK_PRECISION = Precision.FP8
# The engine each chip would run: its vendor's own stack where it has one (NxD Inference on Neuron, JetStream on
# TPU), else vLLM; the first of these that runs on the chip's family.
MOE_ENGINES = ("nxdi", "jetstream", "vllm")

# The serving plan: Azure's conversation trace at ten times its recorded rate on AWS, where Inferentia2 and
# the NVIDIA instances compete for the same requests.
PLAN_TRACE = "azure-conv"
PLAN_RATE_SCALE = 10.0
PLAN_SLO = ServeSLO(ttft_p90_s=1.0, tpot_p90_s=0.05)
PLAN_CLOUDS = ("aws",)
PLAN_INPUT_EDGES = (512, 2048, 8192)
PLAN_OUTPUT_EDGES = (256,)


@dataclass(frozen=True)
class MoeServingRow:
    """One instance of the MoE comparison: its estimate, the engine it runs, and why its weights are not the
    released format when they are not (``precision_note``)."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("output_tokens_per_s_per_chip",)

    estimate: ServingEstimate
    engine: str
    precision_note: str = ""

    @property
    def output_tokens_per_s_per_chip(self) -> float:
        """Instance output tokens/s ÷ the chips its replicas use (replicas × chips per replica)."""
        r = self.estimate.result
        return r.output_tokens_per_s / (r.tp * r.replicas_per_instance)

    @property
    def per_chip_range(self) -> list[float] | None:
        """The 10–90 % range of :attr:`output_tokens_per_s_per_chip`, from the estimate's throughput range."""
        band = self.estimate.ranges["output_tokens_per_s"]
        if band is None:
            return None
        r = self.estimate.result
        return [x / (r.tp * r.replicas_per_instance) for x in band]


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
    moe_serving: list[MoeServingRow] = field(default_factory=list)
    moe_skipped: list[str] = field(default_factory=list)

    @property
    def training_title(self) -> str:
        return f"Pre-training {TRAIN_MODEL} on {TRAIN_TOKENS / 1e12:g}T tokens, {TRAIN_CHIPS} chips each"

    @property
    def serving_title(self) -> str:
        return f"Serving {SERVE_MODEL}: batch {SERVE_BATCH}, {SERVE_INPUT} in / {SERVE_OUTPUT} out tokens, one instance"

    @property
    def moe_title(self) -> str:
        return (
            f"Serving {MOE_MODEL} (MoE): {MOE_CONCURRENCY} concurrent requests per replica, {MOE_INPUT} in / "
            f"{MOE_OUTPUT} out tokens, {MOE_PRECISION.value} weights where the chip reads them, one instance"
        )

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


def moe_engine(family: str) -> EngineProfile:
    """The engine the MoE comparison runs on a chip of efficiency family ``family`` (:data:`MOE_ENGINES`)."""
    for name in MOE_ENGINES:
        profile = engine_profile(name)
        if profile.runs_on(family):
            return profile
    raise ConfigError(f"none of the engines {', '.join(MOE_ENGINES)} runs on {family} chips", field="engine")


def moe_serving_estimates(
    catalog: Catalog, instances: Sequence[str], pricing: Pricing = Pricing.ON_DEMAND
) -> tuple[list[MoeServingRow], list[str]]:
    """The MoE comparison on one instance of each type, on ``pricing``; what could not be expressed, and why.

    Each instance runs :data:`MOE_MODEL` at :data:`MOE_PRECISION` with its engine (:func:`moe_engine`). A chip
    that cannot read that format is estimated at :data:`MOE_FALLBACK_PRECISION` instead, its row's
    ``precision_note`` saying why; one that cannot hold the model at all, or has no such price, is left out
    with the reason.
    """
    model = get_model(MOE_MODEL)

    def estimate(name: str, precision: Precision) -> MoeServingRow:
        engine = moe_engine(hardware_for(catalog, name).family)
        cfg = ServingConfig(
            model=model, batch=MOE_CONCURRENCY, input_tokens=MOE_INPUT, output_tokens=MOE_OUTPUT,
            weight_precision=precision, engine=engine,
        )  # fmt: skip
        return MoeServingRow(estimate_serving(catalog, cfg, name, pricing=pricing), engine.name)

    rows: list[MoeServingRow] = []
    skipped: list[str] = []
    for name in instances:
        reason = _no_price_reason(catalog, name, pricing)
        if reason is not None:
            skipped.append(reason)
            continue
        try:
            rows.append(estimate(name, MOE_PRECISION))
            continue
        except ConfigError as e:
            if e.field != "weight_precision":
                skipped.append(f"{name}: {e}")
                continue
            why = f"{MOE_PRECISION.value} weights: {e}"
        except ChipfleetError as e:
            skipped.append(f"{name}: {e}")
            continue
        try:
            row = estimate(name, MOE_FALLBACK_PRECISION)
        except ChipfleetError as e:
            skipped.append(f"{name}: {why}; at {MOE_FALLBACK_PRECISION.value}: {e}")
            continue
        rows.append(MoeServingRow(row.estimate, row.engine, f"{MOE_FALLBACK_PRECISION.value}: {why}"))
    return rows, skipped


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
    moe, moe_skip = moe_serving_estimates(catalog, MOE_INSTANCES, pricing)
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
        serving_plan_skipped=plan_skip, pricing=pricing, moe_serving=moe, moe_skipped=moe_skip,
    )  # fmt: skip
