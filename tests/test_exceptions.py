"""Errors carry the library's field name; a front end renames it in its own terms."""

from __future__ import annotations

from chipfleet.exceptions import ConfigError, UnknownNameError, renamed


def test_renamed_puts_the_front_ends_name_for_the_field() -> None:
    err = ConfigError("ttft_p90_s must be > 0, got -1; give ttft_p90_s in seconds", field="ttft_p90_s")
    assert err.field == "ttft_p90_s"
    assert renamed(err, {"ttft_p90_s": "--slo-ttft-p90"}) == (
        "--slo-ttft-p90 must be > 0, got -1; give --slo-ttft-p90 in seconds"
    )


def test_renamed_leaves_longer_names_and_unmapped_fields_alone() -> None:
    err = ConfigError("`tp` must divide the chips; tp_limit and max_tp stay as they are", field="tp")
    assert renamed(err, {"tp": "--tp"}) == "--tp must divide the chips; tp_limit and max_tp stay as they are"
    assert renamed(err, {"pp": "--pp"}) == str(err)
    assert renamed(ConfigError("no field"), {"tp": "--tp"}) == "no field"


def test_subclasses_with_their_own_constructor_still_work() -> None:
    err = UnknownNameError("chip", "h10", ["h100", "a100"])
    assert err.field is None and "h100" in str(err)


def test_renamed_also_names_other_identifier_fields_in_the_message() -> None:
    err = ConfigError("out of reach: relax ttft_p90_s or tpot_p90_s, or raise max_batch_tokens", field="ttft_p90_s")
    names = {
        "ttft_p90_s": "--slo-ttft-p90",
        "tpot_p90_s": "--slo-tpot-p90",
        "max_batch": "--max-batch",
        "max_batch_tokens": "--max-batch-tokens",
        "tp": "--tp",
    }
    assert renamed(err, names) == "out of reach: relax --slo-ttft-p90 or --slo-tpot-p90, or raise --max-batch-tokens"
