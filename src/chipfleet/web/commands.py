"""The CLI's commands as API operations, found by introspecting the typer app: one request model per command.

Each command's click parameters become the fields of a pydantic model (the option's name in snake_case, its type,
default, bounds and help), and a request runs the command itself in-process with ``--json``: the API answers with
the JSON the CLI prints, so the two cannot disagree.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import typer
from pydantic import BaseModel, ConfigDict, Field, create_model
from typer._click.core import Command, Parameter  # typer vendors click
from typer._click.exceptions import BadParameter, ClickException, MissingParameter

from chipfleet.catalog import Catalog
from chipfleet.cli import output
from chipfleet.cli.errors import flags_for, usage_message
from chipfleet.cli.options import State
from chipfleet.cli.root import app as cli_app
from chipfleet.cli.runs_save import DISPLAY_ONLY
from chipfleet.exceptions import ChipfleetError, DoesNotFitError, NotFoundError, UnknownNameError, renamed
from chipfleet.web.errors import ApiError

# commands the API does not offer: the demo writes a folder of charts for a person, serve-app is this server, and
# the saved runs have their own REST endpoints
EXCLUDED = frozenset({"demo", "serve-app", "runs"})
# commands that run for seconds to hours: background jobs (202 + a job id), progress in the run store
LONG = frozenset({"plan train", "plan serve", "simulate serve", "simulate train", "simulate mixed", "validate",
                  "calibrate"})  # fmt: skip
LONG_GROUPS = frozenset({"sweep"})
# options naming a file or folder the command writes: placed in the run's own folder of the data folder
OUTPUT_PATHS = frozenset({"plot", "plot_split", "html_out", "out", "csv_path", "parquet"})
# options naming a file the command reads: an existing file in the data folder (any other path option is read too)
INPUT_PATHS = frozenset({"model_config", "data", "spec_file"})
# text options that name either a built-in trace or a trace file
TRACE_OPTIONS = frozenset({"trace", "jobs"})
# not offered: how the answer is printed and saved (the API does both itself), and a sweep's Ray address (a request
# must not make the server join a cluster of the caller's choosing: API sweeps run in their job's worker)
SKIPPED_PARAMS = frozenset({"as_json", "no_save", "save", "address"})
CATALOG_FIELD = "catalog"


@dataclass(frozen=True)
class FieldSpec:
    """One request field: the click parameter it sets and how its value reaches the command line."""

    name: str
    param: Parameter
    is_argument: bool
    is_flag: bool
    multiple: bool
    path_role: Literal["input", "output", "trace", "model"] | None


@dataclass(frozen=True)
class CommandSpec:
    """One CLI command as an API operation: ``POST /api/<path...>`` with ``model`` as its body."""

    path: tuple[str, ...]
    command: Command
    fields: tuple[FieldSpec, ...]
    model: type[BaseModel]
    long: bool

    @property
    def kind(self) -> str:
        """The command's name as the CLI and the run store spell it: "estimate serve"."""
        return " ".join(self.path)

    @property
    def url(self) -> str:
        return "/api/" + "/".join(self.path)

    @property
    def summary(self) -> str:
        return (self.command.help or self.kind).strip().split("\n\n")[0].replace("\n", " ")

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


# ----------------------------------------------------------------------------- the request models
def _choices(annotation: Any) -> Any:
    return Literal[tuple(m.value for m in annotation)]


def _is_enum(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Enum)


def _field_type(p: Parameter) -> tuple[Any, dict[str, Any]]:
    """The pydantic type of a click parameter, and its bounds: a flag is a bool, a choice its values, a quantity
    read by chipfleet.units the CLI's text or a number in base units, an int its range."""
    descriptor = p.type_descriptor  # type: ignore[attr-defined]  # typer's parameters carry their annotation
    annotation = descriptor.annotation
    parser = getattr(descriptor.parameter_info, "parser", None)
    if getattr(p, "is_flag", False):
        return bool, {}
    if p.multiple:
        inner = getattr(annotation, "__args__", (str,))[0]
        return list[_choices(inner) if _is_enum(inner) else str], {"max_length": 64}  # type: ignore[misc]
    if _is_enum(annotation):
        return _choices(annotation), {}
    if parser is not None:
        return str | int | float, {}
    if annotation is int:
        bounds = {"ge": getattr(p, "min", None), "le": getattr(p, "max", None)}
        return int, {k: v for k, v in bounds.items() if v is not None}
    if annotation is float:
        return float, {"allow_inf_nan": False}
    return str, {}


def _default(p: Parameter) -> Any:
    value = p.default
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [v.value if isinstance(v, Enum) else v for v in value] or None
    return value


def _path_role(group_path: tuple[str, ...], p: Parameter) -> Literal["input", "output", "trace", "model"] | None:
    annotation = p.type_descriptor.annotation  # type: ignore[attr-defined]
    name = p.name or ""
    if annotation is Path or getattr(annotation, "__args__", (None,))[0] is Path:
        return "output" if name in OUTPUT_PATHS else "input"
    if annotation is str and name in TRACE_OPTIONS:
        return "trace"
    if annotation is str and (name == "model" or (group_path == ("models", "show") and name == "name")):
        return "model"
    return None


def _camel(path: tuple[str, ...]) -> str:
    return "".join(part.replace("-", " ").title().replace(" ", "") for part in path) + "Request"


def _build(path: tuple[str, ...], command: Command) -> CommandSpec:
    fields: list[FieldSpec] = []
    definitions: dict[str, Any] = {}
    for p in command.params:
        name = p.name or ""
        if name in SKIPPED_PARAMS or not p.expose_value:
            continue
        typ, bounds = _field_type(p)
        help_text = " ".join((getattr(p, "help", None) or "").split()) or None
        if p.required:
            info = Field(..., alias=name, description=help_text, **bounds)
        else:
            typ = typ | None
            info = Field(_default(p), alias=name, description=help_text, **bounds)
        definitions[f"f_{name}"] = (typ, info)
        is_flag = bool(getattr(p, "is_flag", False))
        argument = p.param_type_name == "argument"
        fields.append(FieldSpec(name, p, argument, is_flag, bool(p.multiple), _path_role(path, p)))
    definitions[f"f_{CATALOG_FIELD}"] = (
        list[str] | None,
        Field(None, alias=CATALOG_FIELD, max_length=16, description="Catalog overlay YAML files in the data "
              "folder (names relative to it) adding or overriding chips, instances, prices."),
    )  # fmt: skip
    model = create_model(
        _camel(path),
        __config__=ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=()),
        __doc__=(command.help or "").strip() or None,
        **definitions,
    )
    kind = " ".join(path)
    return CommandSpec(path, command, tuple(fields), model, kind in LONG or path[0] in LONG_GROUPS)


def _walk(command: Command, path: tuple[str, ...]) -> Iterator[CommandSpec]:
    subcommands: Mapping[str, Command] = getattr(command, "commands", {})
    if not subcommands:
        yield _build(path, command)
        return
    for name, sub in subcommands.items():
        if not path and name in EXCLUDED:
            continue
        yield from _walk(sub, (*path, name))


_ROOT: Command = typer.main.get_command(cli_app)
COMMANDS: tuple[CommandSpec, ...] = tuple(_walk(_ROOT, ()))
BY_KIND: dict[str, CommandSpec] = {spec.kind: spec for spec in COMMANDS}


def values_of(spec: CommandSpec, body: BaseModel) -> dict[str, Any]:
    """The request's fields by their API names, None where not given."""
    return body.model_dump(by_alias=True, mode="json")


# ----------------------------------------------------------------------------- files a request may name
def _inside(root: Path, name: str, field: str) -> Path:
    """``root / name``, refused unless it stays inside ``root`` once symlinks are followed."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if not name.strip() or "\x00" in name:
        raise ApiError(400, "PathError", f"{field} must name a file in the data folder, got {name!r}", field)
    if pure.is_absolute() or ".." in pure.parts or re.match(r"^[A-Za-z]:", name) or name.startswith("~"):
        raise ApiError(
            400, "PathError", f"{field} must be a name relative to the data folder (no absolute path, no '..'), "
            f"got {name!r}; put the file in the data folder's files/ and give its name", field,
        )  # fmt: skip
    root_real = root.resolve()
    target = (root / pure).resolve()
    if not target.is_relative_to(root_real):
        raise ApiError(400, "PathError", f"{field} {name!r} leads outside the data folder (a link?); give a file "
                       "inside it", field)  # fmt: skip
    return target


def resolve_paths(spec: CommandSpec, values: dict[str, Any], files_dir: Path, run_dir: Path | None) -> dict[str, Any]:
    """``values`` with every file name made a path inside the data folder (inputs) or the run's folder (outputs);
    absolute paths, '..' and links out are refused with a 400."""
    from chipfleet.traces.registry import LOADERS

    out = dict(values)
    overlays = values.get(CATALOG_FIELD) or []
    out[CATALOG_FIELD] = [str(_existing(files_dir, name, CATALOG_FIELD)) for name in overlays] or None
    for f in spec.fields:
        value = values.get(f.name)
        if value is None or f.path_role is None:
            continue
        if f.path_role == "input":
            out[f.name] = str(_existing(files_dir, value, f.name))
        elif f.path_role == "output":
            if run_dir is None:
                raise ApiError(400, "PathError", f"{f.name} writes files, which only a background job can", f.name)
            target = _inside(run_dir, value, f.name)
            out[f.name] = str(target)
        elif f.path_role == "trace" and value not in LOADERS:  # not a built-in trace: a file in the data folder
            hint = f"neither a built-in trace ({', '.join(sorted(LOADERS))}) nor"
            out[f.name] = str(_existing(files_dir, value, f.name, hint))
        elif f.path_role == "model":
            _check_model(value, f.name)
    if spec.kind == "sweep run" and out.get("spec_file"):
        _check_sweep_spec(Path(out["spec_file"]))
    return out


def _check_sweep_spec(path: Path) -> None:
    """A sweep spec runs other commands with the options it names: through the API it may name no file (a model
    config, a trace file, a catalog overlay, a folder to write in), which the server would read or write wherever
    the spec says. Built-in traces and zoo models are fine."""
    from chipfleet.sweep.spec import load_spec
    from chipfleet.traces.registry import LOADERS

    spec = load_spec(path)
    roles = {f.name: f.path_role for s in COMMANDS for f in s.fields if f.path_role is not None}
    pairs: list[tuple[str, Any]] = list(spec.fixed.items())
    for key, values in spec.axes.items():
        for value in values if isinstance(values, list) else []:
            pairs.extend(value.items() if isinstance(value, dict) else [(key, value)])
    refused = [f"{key}: {value!r}" for key, value in pairs if isinstance(value, str) and (
        roles.get(key) in ("input", "output") or (roles.get(key) == "trace" and value not in LOADERS))]  # fmt: skip
    for key, value in pairs:
        if roles.get(key) == "model" and isinstance(value, str):
            _check_model(value, f"spec_file: {key}")
    if spec.catalog:
        refused.append(f"catalog: {spec.catalog}")
    if refused:
        raise ApiError(400, "PathError", f"spec_file names files ({'; '.join(refused[:5])}), which a sweep started "
                       "through the API may not; use built-in traces and zoo models, or run it with `chipfleet sweep "
                       "run` on the machine itself", "spec_file")  # fmt: skip


def _existing(files_dir: Path, name: str, field: str, hint: str = "not") -> Path:
    path = _inside(files_dir, name, field)
    if not path.is_file():
        raise ApiError(400, "PathError", f"{field} {name!r} is {hint} a file in the data folder's files/; put the "
                       "file there first (names are relative to it)", field)  # fmt: skip
    return path


def _check_model(value: str, field: str) -> None:
    """A model is a zoo name or a Hugging Face repo id; the library would read a local folder's config.json or a
    .json path given as the name, which a request must not make it do outside the data folder."""
    text = value.strip()
    if text.lower().endswith(".json") or text.startswith(("/", ".", "~", "\\")) or ".." in text or "\x00" in text:
        raise ApiError(400, "ConfigError", f"{field} must be a zoo name (e.g. llama-3-70b) or a Hugging Face repo id, "
                       f"got {value!r}; to import a config.json, put it in the data folder and give model_config",
                       field)  # fmt: skip
    with contextlib.suppress(OSError, ValueError):
        if Path(text).exists():
            raise ApiError(400, "ConfigError", f"{field} {value!r} names a local path; give a zoo name or a repo id, "
                           "or a config.json in the data folder as model_config", field)  # fmt: skip


# ----------------------------------------------------------------------------- the command line of a request
# a number given for a quantity is in base units; the text the CLI reads then needs the unit for these kinds
BASE_UNITS = {"DURATION": "s", "RATE": "/s"}


def _text(value: Any, param: Parameter | None = None) -> str:
    """A value as the CLI's text: 4096, 0.25, 1e+12 (whole floats without the '.0' the unit parsers refuse), a
    number of seconds as "30s", of requests per second as "2/s"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        value = int(value)
    if isinstance(value, int | float) and param is not None:
        return f"{value}{BASE_UNITS.get(param.metavar or '', '')}"
    return str(value)


def cli_args(spec: CommandSpec, values: dict[str, Any]) -> list[str]:
    """The argv of ``chipfleet`` for a request: root options, the command's path, its options, --json, then its
    arguments after ``--`` (so a value starting with '-' is never read as an option)."""
    args: list[str] = []
    # the API saves the run itself (source "api"); a sweep stores its points as it goes, which --no-save refuses
    if any(p.name == "no_save" for p in _ROOT.params) and spec.path[0] not in LONG_GROUPS:
        args.append("--no-save")
    for overlay in values.get(CATALOG_FIELD) or []:
        args.append(f"--catalog={overlay}")
    args.extend(spec.path)
    positional: list[str] = []
    for f in spec.fields:
        value = values.get(f.name)
        if value is None or (value == _default(f.param) and not f.is_argument):  # the CLI's default: left to it
            continue
        if f.is_argument:
            positional.append(_text(value))
        elif f.is_flag:
            if value:
                args.append(f.param.opts[0])
            elif f.param.secondary_opts:
                args.append(f.param.secondary_opts[0])
        elif f.multiple:
            args.extend(f"{f.param.opts[0]}={_text(v, f.param)}" for v in value)
        else:
            args.append(f"{f.param.opts[0]}={_text(value, f.param)}")
    if any(p.name == "as_json" for p in spec.command.params):
        args.append("--json")
    return [*args, "--", *positional] if positional else args


def parsed_inputs(spec: CommandSpec, args: list[str], values: Mapping[str, Any]) -> dict[str, Any]:
    """The command's options as it parses them from ``args`` (:func:`cli_args`: base units, enums, paths), less
    the display-only ones: what the CLI saves as a run's inputs (:mod:`chipfleet.cli.runs_save`), so a run the API
    saves and one the CLI saves compare alike in ``runs diff``; file options as ``values`` (the request) names
    them. Nothing runs; bad input is an :class:`ApiError`."""
    path = list(spec.path)
    start = next(i for i in range(len(args)) if args[i : i + len(path)] == path) + len(path)
    own = [a for a in args[start:] if a != "--json"]
    try:
        ctx = spec.command.make_context(f"chipfleet {spec.kind}", own)
    except ClickException as e:
        raise _usage_error(e, spec) from None
    except ChipfleetError as e:
        raise _library_error(e, spec) from None
    with ctx:
        inputs = {k: v for k, v in ctx.params.items() if k not in DISPLAY_ONLY}
    # a file option is kept as the request named it (inside the data folder), not as the server's path for it
    return {k: values[k] if k in values and values[k] is not None and _path_field(spec, k) else v
            for k, v in inputs.items()}  # fmt: skip


def _path_field(spec: CommandSpec, name: str) -> bool:
    field = spec.field(name)
    return field is not None and field.path_role is not None


# ----------------------------------------------------------------------------- the catalog, loaded once
_CATALOGS: dict[tuple[Any, ...], Catalog] = {}
_CATALOGS_LOCK = threading.Lock()
MAX_CATALOGS = 16


def _stamp(path: Path) -> tuple[str, int, int]:
    try:
        st = path.stat()
    except OSError:  # a missing overlay: the loader says so
        return (str(path), -1, -1)
    return (str(path), st.st_size, st.st_mtime_ns)


def cached_catalog(overlays: tuple[Path, ...]) -> Catalog:
    """The catalog with ``overlays`` (and $CHIPFLEET_CATALOG's), loaded once while their files are unchanged: the
    server runs thousands of commands, and reading the YAML is most of a quick command's time. Catalog records are
    frozen, so commands can share one."""
    from chipfleet.catalog import load_catalog
    from chipfleet.catalog.loader import overlay_files_from_env

    env = tuple(overlay_files_from_env())
    key = tuple(_stamp(Path(p)) for p in (*overlays, *env))
    with _CATALOGS_LOCK:
        if key in _CATALOGS:
            return _CATALOGS[key]
    catalog = load_catalog(overlays)
    with _CATALOGS_LOCK:
        if len(_CATALOGS) >= MAX_CATALOGS:
            _CATALOGS.pop(next(iter(_CATALOGS)))
        _CATALOGS[key] = catalog
    return catalog


State.loader = cached_catalog


# ----------------------------------------------------------------------------- running a command in-process
# The CLI keeps per-invocation state in class attributes (cli.options.State) and prints to sys.stdout: one command
# at a time per process.
_RUN_LOCK = threading.Lock()


def api_names(spec: CommandSpec) -> dict[str, str]:
    """Each of the command's options (--slo-ttft-p90) → its API field (slo_ttft_p90)."""
    names = {opt: f.name for f in spec.fields for opt in (*f.param.opts, *f.param.secondary_opts)}
    return {**names, "--catalog": CATALOG_FIELD}


def _speak_api(text: str, names: dict[str, str], spec: CommandSpec) -> str:
    """A CLI message in the API's terms: options become field names, help pointers become the schema."""
    text = re.sub(r" \(see `chipfleet[^`]*--help`\)", f" (see POST {spec.url} in /openapi.json)", text)
    text = re.sub(r"`chipfleet ([a-z][\w -]*?)`", lambda m: "POST /api/" + "/".join(m.group(1).split()), text)
    for opt in sorted(names, key=len, reverse=True):
        text = re.sub(rf"'?(?<![\w-]){re.escape(opt)}(?![\w-])'?", names[opt], text)
    return text


def _usage_error(e: ClickException, spec: CommandSpec) -> ApiError:
    names = api_names(spec)
    param = getattr(e, "param", None) if isinstance(e, BadParameter | MissingParameter) else None
    field = names.get(param.opts[0], param.name) if param is not None and param.opts else None
    return ApiError(400, "UsageError", _speak_api(usage_message(e), names, spec), field)


def _library_error(e: ChipfleetError, spec: CommandSpec) -> ApiError:
    names = api_names(spec)
    flags = flags_for(spec.kind, spec.command)
    field_names = {field: names.get(flag, field) for field, flag in flags.items()}
    message = _speak_api(renamed(e, field_names), names, spec)
    field = field_names.get(e.field or "", e.field) if e.field else None
    details: dict[str, Any] = {}
    if isinstance(e, DoesNotFitError):
        details = {"needed_bytes": e.needed_bytes, "available_bytes": e.available_bytes, "suggestion": e.suggestion}
    elif isinstance(e, UnknownNameError):
        details = {"kind": e.kind, "name": e.name, "suggestions": list(e.suggestions)}
        if field is None and spec.field(e.kind) is not None:  # an unknown instance came from the instance field
            field = e.kind
    status = 404 if isinstance(e, NotFoundError) else 400
    return ApiError(status, type(e).__name__, message, field, **details)


def run_command(spec: CommandSpec, args: list[str], *, silence_native: bool = False) -> Any:
    """Run ``chipfleet <args>`` in this process and return the JSON it printed; a usage or chipfleet error is
    raised as an :class:`ApiError` (400) in the API's terms. One run at a time per process."""
    buffer = io.StringIO()
    with _RUN_LOCK, contextlib.redirect_stdout(buffer), output.native_stdout_silenced(silence_native):
        output.new_console()
        try:
            _ROOT.main(args=args, prog_name="chipfleet", standalone_mode=False)
        except ClickException as e:
            raise _usage_error(e, spec) from None
        except ChipfleetError as e:
            raise _library_error(e, spec) from None
        except typer.Abort:
            raise ApiError(400, "Aborted", "the command was aborted") from None
    text = buffer.getvalue().strip()
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:  # the last line is the JSON when a command printed a note before it
        return json.loads(text.splitlines()[-1])
