"""Engine overheads fitted on serving records and cross-validated leaving one hardware × engine group out."""

from __future__ import annotations

from typing import Any

import pytest

from chipfleet.catalog import Catalog
from chipfleet.validate.serving import calibrate_serving, map_record, parse_records, predict_case
from chipfleet.validate.serving.calibrate import first_token_held_out
from chipfleet.validate.serving.predict import ServingCase

from .test_predict import DENSE

EXTRA_S = 0.003  # what the "measurements" carry beyond the model: 3 ms per iteration


def _records(cat: Catalog) -> list[dict[str, Any]]:
    """Runs on two hardware types whose measured TPOT is the model's own (no engine overheads) + 3 ms."""
    docs = []
    for hw in ("h100", "h200"):
        for conc in (1, 4, 16, 64):
            raw = {**DENSE, "hw": hw, "conc": conc, "framework": "sglang", "id": f"{hw}-{conc}"}
            (rec,) = parse_records([raw], "test").records
            case = map_record(rec, cat, {"sglang": (0.0, 0.0)})
            assert isinstance(case, ServingCase)
            raw["mean_tpot"] = predict_case(case).tpot_mean_s + EXTRA_S
            docs.append(raw)
    return docs


def test_fit_recovers_a_known_overhead_and_cross_validation_holds_each_group_out(cat: Catalog) -> None:
    cal = calibrate_serving(parse_records(_records(cat), "test"), cat)
    (fit,) = cal.fits
    assert fit.engine == "sglang" and fit.runs == 8
    assert fit.iteration_overhead_s == pytest.approx(EXTRA_S, rel=0.2)
    before = {g.group: g.mdape("mean_tpot") for g in cal.without.by_hardware_engine}
    after = {g.group: g.mdape("mean_tpot") for g in cal.cross_validated.by_hardware_engine}
    assert set(before) == set(after) == {"h100×sglang", "h200×sglang"}
    for group in before:  # the other hardware's runs teach the overhead: the held-out group gets better
        assert after[group] < before[group] / 3


FIRST_S = 0.02  # a first-token overhead the "measurements" carry: 20 ms per request


def _neuron_records(cat: Catalog) -> list[dict[str, Any]]:
    """Transformers NeuronX runs on two hardware types whose TTFT is the model's own + 20 ms."""
    from .test_static_batch import TNX

    docs = []
    for hw, instance, chips in (("inf2", "inf2.48xlarge", 12), ("trn1", "trn1.32xlarge", 16)):
        for conc, isl in ((1, 128), (1, 2048), (4, 512)):
            raw = {**TNX, "hw": hw, "instance": instance, "chips": chips, "tp": chips, "isl": isl}
            raw.update(conc=conc, max_num_seqs=conc, id=f"{hw}-{conc}-{isl}")
            (rec,) = parse_records([raw], "test").records
            case = map_record(rec, cat)
            assert isinstance(case, ServingCase)
            raw["median_ttft"] = predict_case(case).ttft_steady_s + FIRST_S
            docs.append(raw)
    return docs


def test_first_token_fit_recovers_it_and_holds_each_group_out(cat: Catalog) -> None:
    records = parse_records(_neuron_records(cat), "test")
    held = first_token_held_out(records, cat, ["transformers-neuronx"])
    ((engine, runs, c),) = held.fits
    assert engine == "transformers-neuronx" and runs == 6 and c == pytest.approx(FIRST_S, rel=0.05)
    ttft = [r for r in held.cross_validated.results if r.metric == "median_ttft"]
    assert {r.hw for r in ttft} == {"inf2", "trn1"}
    # each group's overhead is learnt from the other hardware's runs alone, and they carry the same 20 ms
    assert max(r.ape for r in ttft) < 0.05


def test_an_engine_seen_on_one_group_only_gets_no_held_out_overhead(cat: Catalog) -> None:
    docs = [d for d in _neuron_records(cat) if d["hw"] == "inf2"]
    held = first_token_held_out(parse_records(docs, "test"), cat, ["transformers-neuronx"])
    assert held.fits[0][2] == pytest.approx(FIRST_S, rel=0.05)  # fitted in sample
    for r in held.cross_validated.results:
        if r.metric == "median_ttft":
            assert r.predicted == pytest.approx(r.measured - FIRST_S, rel=1e-6)  # held out: none
