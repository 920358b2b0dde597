"""The CLI's commands as request models: found by introspection, typed from their click options."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from chipfleet.catalog import Pricing
from chipfleet.exceptions import ChipfleetError
from chipfleet.web.commands import BY_KIND, COMMANDS, INPUT_PATHS, OUTPUT_PATHS, cli_args, resolve_paths, values_of
from chipfleet.web.errors import ApiError


def test_every_command_but_the_demo_the_server_and_the_runs_is_offered() -> None:
    kinds = set(BY_KIND)
    for kind in ("catalog chips", "catalog show", "models list", "models show", "estimate train", "estimate serve",
                 "plan train", "plan serve", "simulate serve", "simulate train", "simulate mixed", "traces list",
                 "validate", "calibrate", "claims"):  # fmt: skip
        assert kind in kinds
    assert not {k for k in kinds if k.split()[0] in {"demo", "serve-app", "runs"}}
    assert {s.kind for s in COMMANDS if s.long} >= {"plan train", "plan serve", "simulate serve", "validate"}
    assert not BY_KIND["estimate serve"].long


def test_every_path_option_is_known_as_read_or_written() -> None:
    """A new file option must be classified: one the command writes goes to the run's folder, one it reads must
    already be in the data folder (refusing it there, or writing over a user's file, would both be wrong)."""
    path_fields = {
        (s.kind, f.name): f.path_role for s in COMMANDS for f in s.fields if f.path_role in {"input", "output"}
    }
    unknown = {k for k in path_fields if k[1] not in INPUT_PATHS | OUTPUT_PATHS}
    assert not unknown, f"classify these options in web/commands.py (INPUT_PATHS or OUTPUT_PATHS): {unknown}"
    assert path_fields[("sweep report", "csv_path")] == "output" and path_fields[("validate", "data")] == "input"


def test_fields_carry_the_options_names_types_bounds_and_help() -> None:
    schema = BY_KIND["estimate serve"].model.model_json_schema()
    props = schema["properties"]
    assert schema["required"] == ["instance"]
    assert {"model", "instance", "batch", "input_tokens", "output_tokens", "catalog"} <= set(props)
    assert "json" not in props and "as_json" not in props
    batch = props["batch"]["anyOf"][0]
    assert (batch["type"], batch["minimum"], batch["maximum"]) == ("integer", 1, 1 << 20)
    assert props["batch"]["default"] == 1
    assert props["batch"]["description"] == "Concurrent sequences per replica."
    assert props["pricing"]["anyOf"][0]["enum"] == [p.value for p in Pricing]
    assert props["mtp"]["anyOf"][0]["type"] == "boolean"
    # a quantity: the CLI's text or a number in base units
    assert {t.get("type") for t in props["input_tokens"]["anyOf"]} >= {"string", "integer", "number"}
    assert schema["additionalProperties"] is False


def test_a_request_becomes_the_command_line_the_cli_would_take() -> None:
    spec = BY_KIND["estimate serve"]
    body = spec.model.model_validate({"instance": "p5.48xlarge", "model": "-x", "input_tokens": 2048.0, "mtp": True})
    args = cli_args(spec, values_of(spec, body))
    assert args[:3] == ["--no-save", "estimate", "serve"]
    assert "--instance=p5.48xlarge" in args and "--model=-x" in args  # a value starting with '-' stays a value
    assert "--input-tokens=2048" in args  # a whole float without the '.0' the unit parsers refuse
    assert "--mtp" in args and args[-1] == "--json"
    assert "--batch=1" not in args and "--no-dp-attention" not in args  # defaults are left to the CLI
    plan = BY_KIND["plan serve"]
    body = plan.model.model_validate({"model": "m", "slo_ttft_p90": 2, "slo_tpot_p90": "50ms", "rate": 3.5})
    args = cli_args(plan, values_of(plan, body))
    assert {"--slo-ttft-p90=2s", "--slo-tpot-p90=50ms", "--rate=3.5/s"} <= set(args)  # numbers in base units
    show = BY_KIND["catalog show"]
    args = cli_args(show, values_of(show, show.model.model_validate({"name": "--help"})))
    assert args[-2:] == ["--", "--help"]  # an argument after '--': never read as an option
    sweep = BY_KIND["sweep run"]
    args = cli_args(sweep, values_of(sweep, sweep.model.model_validate({"spec_file": "study.yaml"})))
    assert "--no-save" not in args and args[:2] == ["sweep", "run"]  # a sweep stores its points: it refuses it


def test_bad_bodies_are_refused_by_the_model() -> None:
    model = BY_KIND["estimate serve"].model
    with pytest.raises(ValidationError):
        model.model_validate({"model": "llama-3-8b"})  # instance is required
    with pytest.raises(ValidationError):
        model.model_validate({"instance": "p5.48xlarge", "batch": 0})
    with pytest.raises(ValidationError):
        model.model_validate({"instance": "p5.48xlarge", "pricing": "free"})
    with pytest.raises(ValidationError):
        model.model_validate({"instance": "p5.48xlarge", "no_such_option": 1})


@pytest.mark.parametrize("name", ["/etc/passwd", "../secret.yaml", "a/../../b.yaml", "~root/x", "C:/x.yaml", ""])
def test_names_outside_the_data_folder_are_refused(tmp_path: Path, name: str) -> None:
    spec = BY_KIND["estimate serve"]
    with pytest.raises(ApiError) as err:
        resolve_paths(spec, {"catalog": [name]}, tmp_path, None)
    assert err.value.status == 400 and err.value.field == "catalog"


def test_a_link_out_of_the_data_folder_is_refused(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    outside = tmp_path / "outside.yaml"
    outside.write_text("chips: []\n")
    (files / "link.yaml").symlink_to(outside)
    (files / "inside.yaml").write_text("chips: []\n")
    spec = BY_KIND["estimate serve"]
    with pytest.raises(ApiError, match="outside the data folder"):
        resolve_paths(spec, {"catalog": ["link.yaml"]}, files, None)
    assert resolve_paths(spec, {"catalog": ["inside.yaml"]}, files, None)["catalog"] == [str(files / "inside.yaml")]


def test_traces_are_built_in_names_or_files_in_the_data_folder(tmp_path: Path) -> None:
    spec = BY_KIND["simulate serve"]
    assert resolve_paths(spec, {"trace": "azure-conv"}, tmp_path, tmp_path / "run")["trace"] == "azure-conv"
    for name in ("/etc/passwd", "../x.csv", "azure-convx"):
        with pytest.raises(ApiError) as err:
            resolve_paths(spec, {"trace": name}, tmp_path, tmp_path / "run")
        assert err.value.field == "trace"
    (tmp_path / "mine.csv").write_text("arrival,input,output\n0,10,10\n")
    assert resolve_paths(spec, {"trace": "mine.csv"}, tmp_path, tmp_path / "run")["trace"] == str(tmp_path / "mine.csv")


def test_outputs_go_to_the_runs_folder_and_models_are_never_paths(tmp_path: Path) -> None:
    spec = BY_KIND["simulate serve"]
    run = tmp_path / "runs" / "abc"
    assert resolve_paths(spec, {"plot": "charts"}, tmp_path, run)["plot"] == str(run.resolve() / "charts")
    with pytest.raises(ApiError):
        resolve_paths(spec, {"plot": "../../escape"}, tmp_path, run)
    for model in ("/tmp/x", "../cfg", "config.json", "~/m"):
        with pytest.raises(ApiError) as err:
            resolve_paths(spec, {"model": model}, tmp_path, run)
        assert err.value.field == "model"


def test_a_sweep_spec_from_the_api_may_name_no_file(tmp_path: Path) -> None:
    spec = BY_KIND["sweep run"]
    (tmp_path / "ok.yaml").write_text(
        "name: ok\ncommand: simulate serve\nfixed: {model: llama-3-8b, trace: azure-conv}\n"
        "axes: {fleet: ['p5.48xlarge:1', 'p5.48xlarge:2']}\noutputs: {p90: latency.ttft_p90_s}\n"
    )
    assert resolve_paths(spec, {"spec_file": "ok.yaml"}, tmp_path, tmp_path / "run")["spec_file"].endswith("ok.yaml")
    for fixed in ("{model: llama-3-8b, trace: /etc/passwd}", "{model_config: /etc/passwd}", "{model: /tmp/m}"):
        (tmp_path / "bad.yaml").write_text(
            f"name: bad\ncommand: simulate serve\nfixed: {fixed}\naxes: {{fleet: ['p5.48xlarge:1']}}\n"
            "outputs: {p90: latency.ttft_p90_s}\n"
        )
        with pytest.raises(ApiError) as err:
            resolve_paths(spec, {"spec_file": "bad.yaml"}, tmp_path, tmp_path / "run")
        assert err.value.status == 400 and "spec_file" in (err.value.field or "")
    (tmp_path / "broken.yaml").write_text("name: [\n")
    with pytest.raises(ChipfleetError):  # answered 400 by the app's handler of chipfleet errors
        resolve_paths(spec, {"spec_file": "broken.yaml"}, tmp_path, tmp_path / "run")
