"""The training planner: optimal, monotone in its constraints, honest when nothing fits, equal to brute force."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from chipfleet import plan
from chipfleet.catalog import Catalog, Precision, Pricing
from chipfleet.exceptions import ConfigError
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.training import MAX_CHIPS, TrainingSetup, choose_parallelism
from chipfleet.plan import SpotModel
from chipfleet.plan.train import LARGE_SPOT_CHIPS, explain, instance_counts, ratio_factors, spot_caveats
from chipfleet.serialize import dumps, to_jsonable
from chipfleet.workloads import get_model

MODEL = get_model("llama-3-70b")
SMALL = get_model("llama-2-7b")
TOKENS = 2e12


@pytest.fixture(scope="module")
def base(cat: Catalog) -> plan.TrainPlan:
    return plan.train(MODEL, TOKENS, catalog=cat, constraints=plan.TrainConstraints(deadline_s=60 * 86400))


@pytest.mark.parametrize("objective", list(plan.Objective))
def test_chosen_option_is_optimal_and_never_dominated(cat: Catalog, objective: plan.Objective) -> None:
    p = plan.train(
        MODEL, TOKENS, catalog=cat, objective=objective, constraints=plan.TrainConstraints(deadline_s=60 * 86400)
    )
    best = p.best
    assert all(best.objective_value(objective) <= o.objective_value(objective) for o in p.options)
    assert all(best.objective_value(objective) <= o.objective_value(objective) for o in p.pareto)
    # Never dominated: no option as good on the objective is faster (ties go to the faster). Time, cost and energy
    # alone are not the test for CO2: a faster chip in a dirtier region may beat the CO2-best on all three.
    for o in (*p.options, *p.pareto):
        tie = o.objective_value(objective) == best.objective_value(objective)
        assert not (tie and o.time_s < best.time_s), (o.instance, best.instance)
        if objective is not plan.Objective.CO2:
            strictly_better = o.time_s < best.time_s and o.cost_usd < best.cost_usd and o.energy_kwh < best.energy_kwh
            assert not strictly_better, (o.instance, best.instance)


def test_pareto_front_is_mutually_non_dominated(base: plan.TrainPlan) -> None:
    front = base.pareto
    assert len(front) >= 2
    for a in front:
        for b in front:
            if a is not b:
                assert not (
                    b.time_s <= a.time_s
                    and b.cost_usd <= a.cost_usd
                    and (b.time_s, b.cost_usd) != (a.time_s, a.cost_usd)
                )
    times = [o.time_s for o in front]
    costs = [o.cost_usd for o in front]
    assert times == sorted(times) and costs == sorted(costs, reverse=True)


@pytest.mark.parametrize(
    ("loose", "tight"),
    [
        (plan.TrainConstraints(deadline_s=60 * 86400), plan.TrainConstraints(deadline_s=20 * 86400)),
        (plan.TrainConstraints(max_chips=4096), plan.TrainConstraints(max_chips=512)),
        (plan.TrainConstraints(deadline_s=60 * 86400), plan.TrainConstraints(deadline_s=60 * 86400, clouds=("aws",))),
        (plan.TrainConstraints(budget_usd=5e6), plan.TrainConstraints(budget_usd=1.5e6)),
    ],
)
@pytest.mark.parametrize("objective", [plan.Objective.COST, plan.Objective.TIME])
def test_tightening_a_constraint_never_improves_the_objective(
    cat: Catalog, loose: plan.TrainConstraints, tight: plan.TrainConstraints, objective: plan.Objective
) -> None:
    a = plan.train(MODEL, TOKENS, catalog=cat, constraints=loose, objective=objective)
    try:
        b = plan.train(MODEL, TOKENS, catalog=cat, constraints=tight, objective=objective)
    except plan.InfeasiblePlanError:
        return  # tighter may be infeasible; it can never be better
    assert b.best.objective_value(objective) >= a.best.objective_value(objective) * (1 - 1e-12)


def test_impossible_deadline_names_the_binding_constraint(cat: Catalog) -> None:
    with pytest.raises(plan.InfeasiblePlanError) as err:
        plan.train(MODEL, TOKENS, catalog=cat, constraints=plan.TrainConstraints(deadline_s=86400, budget_usd=1e6))
    msg = str(err.value)
    assert err.value.binding in ("deadline", "max_chips")
    assert err.value.field == {"deadline": "deadline_s", "max_chips": "max_chips"}[err.value.binding]
    assert "needs ≥" in msg and "chips" in msg and "budget" in msg and "allows" in msg
    need = int(msg.split("needs ≥ ")[1].split(" ")[0])
    assert need > 4096  # one day for 2T tokens of a 70B model is beyond 4096 chips


def test_small_budget_names_the_budget(cat: Catalog) -> None:
    with pytest.raises(plan.InfeasiblePlanError) as err:
        plan.train(MODEL, TOKENS, catalog=cat, constraints=plan.TrainConstraints(budget_usd=1000))
    assert err.value.binding == "budget" and "above the budget" in str(err.value)
    assert err.value.field == "budget_usd"


def test_model_that_fits_nowhere(cat: Catalog) -> None:
    with pytest.raises(plan.InfeasiblePlanError) as err:
        plan.train(get_model("llama-3.1-405b"), TOKENS, catalog=cat, constraints=plan.TrainConstraints(max_chips=8))
    assert err.value.binding == "memory" and "within max_chips 8" in str(err.value)
    assert err.value.field == "max_chips" and "--" not in str(err.value)


def test_unknown_instance_filter_says_did_you_mean(cat: Catalog) -> None:
    from chipfleet.exceptions import UnknownNameError

    with pytest.raises(UnknownNameError, match=r"p5\.48xlarge"):
        plan.train(MODEL, TOKENS, catalog=cat, constraints=plan.TrainConstraints(instances=("p5.48xlarg",)))


def test_planner_matches_brute_force_on_a_small_case(cat: Catalog) -> None:
    """For each instance count, the planner's split equals the fastest found by the scalar search."""
    c = plan.TrainConstraints(instances=("p4d.24xlarge",), max_chips=32, precisions=())
    p = plan.train(SMALL, 1e11, catalog=cat, constraints=c, objective=plan.Objective.TIME, top=0)
    hw = hardware_for(cat, "p4d.24xlarge")
    setup = TrainingSetup(model=SMALL, seq_len=4096, global_batch=p.global_batch)
    by_count: dict[int, float] = {}
    for o in p.options:
        by_count[o.instances] = min(by_count.get(o.instances, math.inf), o.step_time_s)
    assert len(by_count) >= 3
    for n in instance_counts(8, 32, None):
        brute = choose_parallelism(SMALL, setup, hw, n)
        if brute is None:  # e.g. 3 instances: no data-parallel degree divides the batch of 1024
            assert n not in by_count
            continue
        assert by_count[n] == pytest.approx(brute.step.step_time_s, rel=1e-9), n


def test_json_shape(base: plan.TrainPlan) -> None:
    """The plan's JSON is the one serializer's: keys are attribute names (rejected, explanation), plus each
    option's derived chips, bound, pricing label and ranges."""
    d = to_jsonable(base)
    assert set(d) >= {"options", "pareto", "pareto_energy", "rejected", "explanation", "constraints", "caveats"}
    assert d["explanation"] == base.explanation and d["constraints"]["deadline_s"] == 60 * 86400
    o = d["options"][0]
    assert set(o) >= {
        "instance",
        "instances",
        "parallelism",
        "time_s",
        "cost_usd",
        "energy_kwh",
        "co2_kg",
        "mfu",
        "bound",
    }
    assert d["rejected"]["does not fit in memory"] > 0
    best = base.best
    assert o["chips"] == best.chips and o["precision"] == best.precision.value and o["pricing"] == best.pricing.value
    assert o["memory_bytes"] == best.memory_bytes and o["power_w"] == best.power_w
    assert o["ranges"]["time_s"] == best.ranges["time_s"] and o["pricing_label"] == best.pricing_label
    lo, hi = o["ranges"]["time_s"]
    assert lo <= best.time_s <= hi
    assert dumps(base)  # strict JSON
    assert base.explanation.startswith(f"{base.best.instances} × {base.best.instance}")


def test_spot_costs_include_interruptions(cat: Catalog) -> None:
    c = plan.TrainConstraints(instances=("p5.48xlarge",), pricing=plan.PricingChoice.SPOT, deadline_s=60 * 86400)
    calm = plan.train(MODEL, TOKENS, catalog=cat, constraints=c, spot=SpotModel(interruptions_per_month=0.0))
    rough = plan.train(MODEL, TOKENS, catalog=cat, constraints=c, spot=SpotModel(interruptions_per_month=0.5))
    assert all(o.pricing is Pricing.SPOT for o in rough.options)
    assert calm.best.spot_overhead == 0.0
    assert rough.best.spot_overhead > 0.0
    assert rough.best.cost_usd > calm.best.cost_usd


def test_spot_overhead_model() -> None:
    m = SpotModel(interruptions_per_month=0.2, checkpoint_write_bytes_per_s=1e9, restart_s=600)
    assert SpotModel(interruptions_per_month=0).overhead_factor(64, 1e12) == 1.0
    small, big = m.overhead_factor(8, 1e12), m.overhead_factor(512, 1e12)
    assert 1.0 < small < big
    # Young/Daly by hand for 64 instances: λ = 0.2/730 h⁻¹ × 64, C = 1e12 / (64 × 1e9) s.
    lam = 0.2 / (730 * 3600) * 64
    c = 1e12 / 64e9
    tau = math.sqrt(2 * c / lam)
    assert m.overhead_factor(64, 1e12) == pytest.approx(1 + c / tau + lam * (tau / 2 + 600))
    assert SpotModel(interruptions_per_month=500).overhead_factor(4096, 1e14) == math.inf


def test_instance_counts_respect_limits() -> None:
    assert instance_counts(8, 64, None) == [1, 2, 3, 4, 6, 8]
    assert max(instance_counts(4, 10_000, 64)) == 64


def test_spot_interruption_rate_scales_with_the_number_of_instances() -> None:
    """A synchronous job stops when any instance is reclaimed: N instances, N × the per-instance rate."""
    m = SpotModel(interruptions_per_month=0.2)
    one = m.job_interruptions_per_s(1)
    assert one == pytest.approx(0.2 / (730 * 3600))
    for n in (2, 64, 512):
        assert m.job_interruptions_per_s(n) == pytest.approx(n * one)
        assert m.expected_interruptions(n, 86400.0) == pytest.approx(n * one * 86400.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -0.1])
def test_spot_model_rejects_non_finite_or_negative_rates(bad: float) -> None:
    with pytest.raises(ConfigError, match="interruptions_per_month"):
        SpotModel(interruptions_per_month=bad)
    with pytest.raises(ConfigError, match="restart_s"):
        SpotModel(restart_s=bad if bad != -0.1 else -1.0)


def test_spot_options_carry_their_interruptions_and_a_caveat_when_large(cat: Catalog) -> None:
    spot = SpotModel(interruptions_per_month=0.2)
    c = plan.TrainConstraints(instances=("p5.48xlarge",), pricing=plan.PricingChoice.SPOT, max_chips=4096)
    p = plan.train(MODEL, TOKENS, catalog=cat, constraints=c, spot=spot, objective=plan.Objective.TIME)
    o = p.best
    assert o.pricing is Pricing.SPOT and o.chips >= LARGE_SPOT_CHIPS
    assert o.spot_interruptions == pytest.approx(spot.expected_interruptions(o.instances, o.time_s))
    assert to_jsonable(o)["spot_interruptions"] == o.spot_interruptions
    text = " ".join(p.caveats)
    assert f"{o.instances} × p5.48xlarge on spot" in text and "Not modelled" in text
    assert to_jsonable(p)["caveats"] == list(p.caveats)
    assert any("N × that rate" in a for a in p.assumptions)


def test_on_demand_plans_have_no_spot_caveat(base: plan.TrainPlan) -> None:
    assert all(o.pricing is Pricing.ON_DEMAND for o in base.options)
    assert base.caveats == () and base.best.spot_interruptions == 0.0


def test_small_spot_job_gets_the_interruption_line_but_no_capacity_caveat(cat: Catalog) -> None:
    c = plan.TrainConstraints(instances=("p5.48xlarge",), pricing=plan.PricingChoice.SPOT, max_chips=16)
    p = plan.train(SMALL, 1e11, catalog=cat, constraints=c)
    caveats = spot_caveats(p.options, SpotModel())
    assert caveats and all("stops whenever" in line for line in caveats)
    assert not any("Not modelled" in line for line in caveats)


@pytest.mark.parametrize("objective", list(plan.Objective))
def test_ratio_factors_multiply_to_the_ratio(cat: Catalog, objective: plan.Objective) -> None:
    c = plan.TrainConstraints(deadline_s=60 * 86400, instances=("p5.48xlarge", "p5en.48xlarge", "trn1.32xlarge"))
    p = plan.train(MODEL, TOKENS, catalog=cat, constraints=c, objective=objective, top=0)
    best = p.best
    for other in p.options[1:]:
        if other.co2_kg is None:
            continue
        product = math.prod(f.ratio for f in ratio_factors(other, best, objective))
        assert product == pytest.approx(other.objective_value(objective) / best.objective_value(objective), rel=1e-9)


def test_explanation_blames_the_region_when_the_grid_dominates(cat: Catalog) -> None:
    """The seen case: 56× worse on CO2 was put down to a 1.07× price per hour; it is the region's grid."""
    c = plan.TrainConstraints(deadline_s=60 * 86400, instances=("p5.48xlarge", "p5en.48xlarge"))
    p = plan.train(MODEL, TOKENS, catalog=cat, constraints=c, objective=plan.Objective.CO2)
    best = p.best
    other = next(o for o in p.options if o.chip != best.chip)
    factors = ratio_factors(other, best, plan.Objective.CO2)
    dominant = max(factors, key=lambda f: f.weight)
    # Build the case so it holds whatever the catalog's regions: the other option in a grid 50× dirtier.
    assert best.grid_gco2_per_kwh is not None
    dirty = dataclasses.replace(
        other,
        grid_gco2_per_kwh=best.grid_gco2_per_kwh * 50,
        region="dirty-region",
        co2_kg=other.energy_kwh * best.grid_gco2_per_kwh * 50 / 1000,
    )
    text = explain([best, dirty], plan.Objective.CO2)
    assert "grid carbon intensity" in text and "mostly the grid of dirty-region" in text
    assert "region effect" in text and "price per chip-hour" not in text
    if dominant.name == "grid":  # the real catalog case, where the regions differ this much
        assert "mostly the grid of" in p.explanation


def test_explanation_blames_price_for_a_pure_price_difference(base: plan.TrainPlan) -> None:
    best = base.best
    dearer = dataclasses.replace(
        best, chip="other-chip", instance="x", price_usd_per_h=best.price_usd_per_h * 3, cost_usd=best.cost_usd * 3
    )
    text = explain([best, dearer], plan.Objective.COST)
    assert "3.00× worse on cost = 3.00× price per chip-hour" in text and "mostly the price per chip-hour" in text
    assert "chip-time" not in text  # the same speed: not a reason


def test_explanation_flags_an_uncalibrated_family(cat: Catalog) -> None:
    """The † note says what the family rests on, from its calibration record (Catalog.family_status): Trainium2's
    family is fitted on a few rows of its own, so 'no measurements of its own' would be false."""
    c = plan.TrainConstraints(deadline_s=60 * 86400, instances=("trn2.48xlarge", "p5.48xlarge"))
    p = plan.train(MODEL, TOKENS, catalog=cat, constraints=c)
    unvalidated = [o for o in p.options if not o.validated]
    assert unvalidated, "trn2's family is not validated in the catalog"
    o = unvalidated[0]
    status = cat.family_status(o.family)
    assert status is not None and o.family_status == status and to_jsonable(o)["family_status"] == status
    assert f"{o.chip} † (family {o.family}: {status})" in p.explanation
    cal = cat.family(o.family).calibration
    if cal is not None and cal.rows > 0:  # fitted on rows of its own: never described as having none
        assert "no measurements of its own" not in p.explanation
    validated_only = [o for o in p.options if o.validated]
    assert "†" not in explain(validated_only, plan.Objective.COST)
    assert all(o.family_status is None for o in validated_only)


def test_explanation_names_each_unvalidated_family_with_its_own_status(base: plan.TrainPlan) -> None:
    best = base.best
    fitted = dataclasses.replace(
        best, chip="chip-a", family="fam-a", validated=False, family_status="fitted on only 2 rows from 1 source"
    )
    bare = dataclasses.replace(
        best, chip="chip-b", family="fam-b", validated=False, family_status="no measurements of its own (priors)",
        cost_usd=best.cost_usd * 2, price_usd_per_h=best.price_usd_per_h * 2,
    )  # fmt: skip
    text = explain([fitted, bare], plan.Objective.COST)
    assert "chip-a † (family fam-a: fitted on only 2 rows from 1 source)" in text
    assert "chip-b † (family fam-b: no measurements of its own (priors))" in text and "their efficiency" in text


# ----------------------------------------------------------------------------- pricing choices (issue 10)
def _reserved_terms(cat: Catalog) -> dict[tuple[str, str], str]:
    return {
        (i.name, p.region): p.term
        for i in cat.instances_with_pricing(Pricing.RESERVED)
        for p in i.prices_for(Pricing.RESERVED)
    }


def test_reserved_plans_only_instances_with_a_reserved_price_and_says_the_term(cat: Catalog) -> None:
    terms = _reserved_terms(cat)
    c = plan.TrainConstraints(pricing=plan.PricingChoice.RESERVED, max_chips=64)
    p = plan.train(SMALL, 1e11, catalog=cat, constraints=c, top=0)
    assert p.options
    for o in (*p.options, *p.pareto):
        assert o.pricing is Pricing.RESERVED
        assert o.price_term == terms[(o.instance, o.region)] and o.price_term
        assert o.pricing_label == f"reserved, {o.price_term}"
        assert to_jsonable(o)["price_term"] == o.price_term and to_jsonable(o)["pricing"] == "reserved"
    assert {o.instance for o in p.options} <= {name for name, _ in terms}
    assert p.best.price_term in p.explanation
    assert any("whole term" in line for line in p.caveats)  # the cost is the commitment's rate × this run's hours
    assert not any("N × that rate" in a for a in p.assumptions)  # no spot option: no spot model line


def test_reserved_without_a_reserved_instance_names_those_that_have_one(cat: Catalog) -> None:
    have = [i.name for i in cat.instances_with_pricing(Pricing.RESERVED)]
    c = plan.TrainConstraints(instances=("p4d.24xlarge",), pricing=plan.PricingChoice.RESERVED)
    assert not cat.instance("p4d.24xlarge").prices_for(Pricing.RESERVED)
    with pytest.raises(plan.InfeasiblePlanError) as err:
        plan.train(SMALL, 1e11, catalog=cat, constraints=c)
    assert err.value.binding == "filters" and all(n in str(err.value) for n in have[:12])


def test_any_pricing_means_on_demand_spot_and_reserved_each_row_saying_which(cat: Catalog) -> None:
    name = next(
        i.name
        for i in cat.instances_with_pricing(Pricing.RESERVED)
        if i.prices_for(Pricing.SPOT) and i.prices_for(Pricing.ON_DEMAND)
    )
    c = plan.TrainConstraints(instances=(name,), pricing=plan.PricingChoice.ANY, max_chips=16)
    p = plan.train(SMALL, 1e11, catalog=cat, constraints=c, top=0)
    assert {o.pricing for o in p.options} == set(Pricing)
    for o in p.options:
        assert bool(o.price_term) == (o.pricing is Pricing.RESERVED)
        assert to_jsonable(o)["pricing"] == o.pricing.value
    assert plan.PricingChoice.ANY.pricings == tuple(Pricing)
    # One job, three price lists: at the same count and split the time differs only by the spot overhead.
    key = (p.best.instances, p.best.precision, "us-east-1")
    same = [o for o in p.options if (o.instances, o.precision, o.region) == key]
    by_pricing = {o.pricing: o for o in same}
    assert len(same) == len(by_pricing)
    if len(by_pricing) == 3:
        assert by_pricing[Pricing.ON_DEMAND].time_s == by_pricing[Pricing.RESERVED].time_s
        assert by_pricing[Pricing.SPOT].time_s > by_pricing[Pricing.ON_DEMAND].time_s


def test_cli_plan_train_reserved(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from chipfleet.cli import main

    monkeypatch.delenv("CHIPFLEET_CATALOG", raising=False)
    code = main(["plan", "train", "--model", "llama-2-7b", "--tokens", "100B", "--max-chips", "16", "--pricing",
                 "Reserved", "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    d = json.loads(out)
    assert d["options"] and all(o["pricing"] == "reserved" and o["price_term"] for o in d["options"])
    assert any("whole term" in line for line in d["caveats"])


# ----------------------------------------------------------------------------- bounds (issue 10)
@pytest.mark.parametrize("bad", [0, MAX_CHIPS + 1, True, 2.5])
def test_max_chips_is_checked_up_front_against_the_models_ceiling(bad: object) -> None:
    with pytest.raises(ConfigError, match=f"max_chips must be a whole number from 1 to {MAX_CHIPS:,}"):
        plan.TrainConstraints(max_chips=bad)  # type: ignore[arg-type]
    assert plan.TrainConstraints(max_chips=MAX_CHIPS).max_chips == MAX_CHIPS


def test_cli_max_chips_above_the_ceiling_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chipfleet.cli import main

    monkeypatch.delenv("CHIPFLEET_CATALOG", raising=False)
    code = main(["plan", "train", "--model", "llama-2-7b", "--tokens", "1T", "--max-chips", str(MAX_CHIPS + 1)])
    _, err = capsys.readouterr()
    assert code == 2 and "--max-chips" in err and "Traceback" not in err


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_deadline_and_budget_must_be_finite_and_positive(bad: float) -> None:
    with pytest.raises(ConfigError, match="deadline_s must be"):
        plan.TrainConstraints(deadline_s=bad)
    with pytest.raises(ConfigError, match="budget_usd must be"):
        plan.TrainConstraints(budget_usd=bad)


def test_spot_model_is_one_model_for_estimates_and_plans(cat: Catalog) -> None:
    """chipfleet.plan re-exports economics.spot's SpotModel; a spot option's time and cost equal
    estimate_training's for its split."""
    from chipfleet.economics import SpotModel as EconomicsSpotModel
    from chipfleet.economics import estimate_training

    assert SpotModel is EconomicsSpotModel
    spot = SpotModel(interruptions_per_month=0.5)
    c = plan.TrainConstraints(
        instances=("p5.48xlarge",), pricing=plan.PricingChoice.SPOT, max_chips=32, regions=("us-east-2",),
        precisions=(Precision.BF16,),
    )  # fmt: skip
    p = plan.train(SMALL, 1e11, catalog=cat, constraints=c, spot=spot, objective=plan.Objective.TIME)
    o = p.best
    assert o.spot_overhead > 0
    setup = TrainingSetup(model=SMALL, seq_len=p.seq_len, global_batch=p.global_batch, precision=Precision.BF16)
    est = estimate_training(
        cat, setup, o.instance, o.instances, 1e11, fixed=dataclasses.asdict(o.parallelism), region=o.region,
        pricing=Pricing.SPOT, spot=spot,
    )  # fmt: skip
    assert est.time_s == pytest.approx(o.time_s, rel=1e-9)
    assert est.footprint.cost_usd == pytest.approx(o.cost_usd, rel=1e-9)
    assert est.spot_overhead == pytest.approx(o.spot_overhead, rel=1e-9)
    assert est.spot_interruptions == pytest.approx(o.spot_interruptions, rel=1e-9)


def test_plot_files_are_written_whole_with_the_caveats(cat: Catalog, tmp_path: Path) -> None:
    from chipfleet.report.plan import write_plot

    c = plan.TrainConstraints(instances=("p5.48xlarge",), pricing=plan.PricingChoice.SPOT, max_chips=4096)
    p = plan.train(MODEL, TOKENS, catalog=cat, constraints=c, objective=plan.Objective.TIME, top=3)
    assert p.caveats
    png = write_plot(p, tmp_path / "sub" / "pareto.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    page = write_plot(p, tmp_path / "pareto.html").read_text(encoding="utf-8")
    assert "Not modelled" in page and "caveat" in page
    assert not list(tmp_path.rglob(".*.tmp"))
