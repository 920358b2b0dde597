"""chipfleet's iteration times and GPU power against SplitwiseSim's profiled DGX-A100/H100 table.

Llama-2-70B at TP 2, 4, 8 and BLOOM-176B at TP 8, fp16, batches of 1-64 prompts of 128-8192 tokens
(``chipfleet/validate/data/splitwise``, README there). Prints, before and after the eager engine's host
dispatch (:class:`chipfleet.perf.kernels.HostDispatch`):

1. every run's prefill and decode iteration, measured and predicted, and the median APE by server, phase and TP;
2. the host dispatch fitted per server on the Llama runs, its leave-one-TP-out error (fit on two TP degrees,
   predict the third) for several overlap exponents, and BLOOM-176B predicted with the Llama fit (a model
   never fitted on);
3. power under load: the average GPU power (fraction of TDP) and energy per generated token, with the catalog's
   idle-to-TDP line and with the load curve fitted on the Llama runs (and its leave-one-TP-out error).

Run: ``.venv/bin/python benchmarks/splitwise_bench.py [--rows]`` (``--rows``: every run, not only summaries).
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Sequence

from chipfleet.catalog import load_catalog
from chipfleet.economics.costing import LoadPowerCurve
from chipfleet.perf.kernels import OVERLAP_EXPONENT, HostDispatch
from chipfleet.validate.splitwise import (
    IterationError,
    PowerPoint,
    ProfileRun,
    Setup,
    expressed,
    fit_per_hardware,
    fit_power_curve,
    iteration_errors,
    leave_one_tp_out,
    median_ape_by,
    power_points,
    predict,
    read_profiles,
)

Runs = Sequence[tuple[ProfileRun, Setup]]


def by_group(e: IterationError) -> tuple[str | int, ...]:
    return (e.run.model, e.run.hardware, e.phase, e.run.tp)


def summary(title: str, errors: Sequence[IterationError]) -> None:
    print(f"\n{title}")
    print(f"  {'model':<11} {'server':<10} {'phase':<8} {'TP':>2}  {'runs':>4}  {'median APE':>10}  {'median err':>10}")
    for (model, hw, phase, tp), (ape, err, n) in median_ape_by(errors, by_group).items():
        print(f"  {model:<11} {hw:<10} {phase:<8} {tp:>2}  {n:>4}  {ape:>10.1%}  {err:>+10.1%}")
    for phase in ("prefill", "decode"):
        sel = sorted(e.ape for e in errors if e.phase == phase)
        p90 = sel[min(len(sel) - 1, int(0.9 * len(sel)))]
        print(f"  all {phase}: median APE {statistics.median(sel):.1%}, p90 {p90:.1%} over {len(sel)} runs")
    # the 512-token single prompt ran with seven output lengths: seven prefill runs of one configuration
    distinct = {(e.run.model, e.run.hardware, e.run.tp, e.run.prompt_tokens, e.run.batch): e.ape
                for e in errors if e.phase == "prefill"}  # fmt: skip
    big = [a for k, a in distinct.items() if k[3] * k[4] >= 4096]
    print(
        f"  prefill over distinct configurations: median APE {statistics.median(distinct.values()):.1%}"
        f" ({len(distinct)}); of those with >= 4096 prompt tokens {statistics.median(big):.1%} ({len(big)})"
        if big
        else f"  prefill over distinct configurations: median APE {statistics.median(distinct.values()):.1%}"
    )


def rows(errors: Sequence[IterationError]) -> None:
    print(f"  {'model':<11} {'server':<10} TP prompt batch  phase    measured ms  predicted ms   error")
    for e in errors:
        r = e.run
        print(
            f"  {r.model:<11} {r.hardware:<10} {r.tp:>2} {r.prompt_tokens:>6} {r.batch:>5}  {e.phase:<8}"
            f" {e.measured_s * 1e3:>11.1f}  {e.predicted_s * 1e3:>12.1f}  {e.error:>+6.0%}"
        )


def errors_with(runs: Runs, host: Callable[[ProfileRun], HostDispatch | None]) -> list[IterationError]:
    where = {r: w for r, w in runs}
    return iteration_errors(where, lambda run: predict(run, where[run], host(run)))


def power_summary(title: str, points: Sequence[PowerPoint]) -> None:
    print(f"\n{title}")
    print(f"  {'model':<11} {'server':<10} {'TP':>2} {'runs':>4}  {'busy u':>6}  {'P/TDP meas':>10}  {'pred':>5}"
          f"  {'J/token meas':>12}  {'pred':>6}  {'J/tok APE':>9}")  # fmt: skip
    keys = sorted({(p.run.model, p.run.hardware, p.run.tp) for p in points})
    for key in keys:
        sel = [p for p in points if (p.run.model, p.run.hardware, p.run.tp) == key]

        def med(f: Callable[[PowerPoint], float], sel: list[PowerPoint] = sel) -> float:
            return statistics.median(f(p) for p in sel)

        print(
            f"  {key[0]:<11} {key[1]:<10} {key[2]:>2} {len(sel):>4}  {med(lambda p: p.busy_fraction):>6.2f}"
            f"  {med(lambda p: p.measured_fraction):>10.2f}  {med(lambda p: p.predicted_fraction):>5.2f}"
            f"  {med(lambda p: p.measured_j_per_token):>12.2f}  {med(lambda p: p.predicted_j_per_token):>6.2f}"
            f"  {med(lambda p: abs(p.j_per_token_error)):>9.1%}"
        )
    llama = [p for p in points if p.run.model == "llama2-70b"]
    print(
        f"  Llama-2-70B: median APE of power {statistics.median(abs(p.power_error) for p in llama):.1%},"
        f" of J/token {statistics.median(abs(p.j_per_token_error) for p in llama):.1%} over {len(llama)} runs"
    )


def main() -> None:
    show_rows = "--rows" in sys.argv
    catalog = load_catalog(use_env=False)
    profiles = read_profiles()
    runs = expressed(profiles, catalog)
    left = [r for r in profiles if r not in {x for x, _ in runs}]
    print(f"SplitwiseSim profiles: {len(profiles)} configurations; chipfleet expresses {len(runs)}; left out:")
    for r in left:
        why = "power-capped H100" if r.hardware.endswith("pcap") else "KV cache does not fit the batch (preempted)"
        print(f"  {r.model} {r.hardware} tp={r.tp} prompt={r.prompt_tokens} batch={r.batch}: {why}")

    before = errors_with(runs, lambda run: None)
    print("\n== BEFORE: the roofline alone (today's model)")
    if show_rows:
        rows(before)
    summary("Median APE by server, phase and TP (before)", before)

    llama = [r for r in runs if r[0].model == "llama2-70b"]
    fitted = fit_per_hardware(llama)
    print("\n== Host dispatch fitted per server on the Llama-2-70B runs (all TP degrees):")
    for hw, h in fitted.items():
        print(
            f"  {hw}: {h.layer_s * 1e6:.0f} us per layer, {h.sequence_s * 1e6:.0f} us per sequence,"
            f" {h.prefill_s * 1e3:.1f} ms per prefill (overlap exponent {h.overlap_exponent:g})"
        )
    after = errors_with(runs, lambda run: fitted.get(run.hardware))
    print("\n== AFTER: roofline overlapped with the fitted host dispatch (in-sample for Llama, held out for BLOOM)")
    if show_rows:
        rows(after)
    summary("Median APE by server, phase and TP (after, in-sample for Llama-2-70B)", after)

    print("\n== Held out: leave one TP out (fit on the other two TP degrees, predict this one)")
    for exponent in (2.0, OVERLAP_EXPONENT, 4.0, 6.0):
        held = leave_one_tp_out(llama, exponent)
        errs = [e for h in held for e in h.errors]
        med = {ph: statistics.median(e.ape for e in errs if e.phase == ph) for ph in ("prefill", "decode")}
        print(
            f"  overlap exponent {exponent:g}: held-out median APE prefill {med['prefill']:.1%},"
            f" decode {med['decode']:.1%}"
        )
        if exponent == OVERLAP_EXPONENT:
            held_errs = errs
    summary(f"Held-out median APE by server, phase and TP (exponent {OVERLAP_EXPONENT:g})", held_errs)

    bloom = [r for r in runs if r[0].model == "bloom-176b"]
    print("\n== BLOOM-176B, never fitted on: before / after (Llama fit)")
    summary("before", errors_with(bloom, lambda run: None))
    summary("after", errors_with(bloom, lambda run: fitted.get(run.hardware)))

    print("\n== Power under load (GPU power only; Llama-2-70B fits, BLOOM-176B held out)")
    power_summary("BEFORE: roofline step times, catalog idle-to-TDP line", power_points(runs, catalog, None, None))
    power_summary("Fixed step times, catalog idle-to-TDP line", power_points(runs, catalog, fitted, None))
    curve = fit_power_curve(power_points(llama, catalog, fitted, LoadPowerCurve(0.0, 1.0)))
    print(
        f"\nLoad power curve fitted on the Llama-2-70B runs: P/TDP = {curve.floor_fraction:.3f} + {curve.slope:.3f}·u"
    )
    power_summary("AFTER: fixed step times, fitted load curve", power_points(runs, catalog, fitted, curve))
    held_points: list[PowerPoint] = []
    for tp in sorted({r[0].tp for r in llama}):
        train = [r for r in llama if r[0].tp != tp]
        c = fit_power_curve(power_points(train, catalog, fitted, LoadPowerCurve(0.0, 1.0)))
        test = [r for r in llama if r[0].tp == tp]
        held_points += power_points(test, catalog, fitted, c)
        print(f"  curve without TP {tp}: {c.floor_fraction:.3f} + {c.slope:.3f}·u")
    power_summary("Held out: power curve fitted leaving one TP out", held_points)


if __name__ == "__main__":
    main()
