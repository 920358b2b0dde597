"""The API's schema fuzzed (schemathesis) against a real server: no request, however malformed, ends in a 5xx."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from .server import Server, free_port


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fuzz")
    server = Server(root / "data", f"sqlite:///{root / 'runs.sqlite'}", free_port(), root / "server.log").start()
    yield server
    server.stop()
    log = (root / "server.log").read_text()
    assert "Traceback" not in log, log[-4000:]


@pytest.mark.slow
@pytest.mark.xdist_group("api_fuzz")
def test_no_request_ends_in_a_server_error(live: Server) -> None:
    """Every operation of /openapi.json, with bodies, paths and queries drawn from its schema (valid and not):
    each answer must be below 500. (Driven by hand: schemathesis' pytest plugin does not run under pytest 9.)"""
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25
    for operation, mode in itertools.product(operations, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)  # fmt: skip
        def fuzz(case: Any) -> None:
            if case.query and "wait" in case.query:  # a fuzzed job is started, never waited for (it may run long)
                case.query.pop("wait")
            case.call_and_validate(checks=[not_a_server_error], timeout=120)

        try:
            fuzz()
        except Unsatisfiable:  # negative mode: an operation with nothing to get wrong (no body, a free-text path)
            continue
        except Exception as e:  # every operation's failure reported, not only the first
            failures.append(f"{operation.label} ({mode.value}): {str(e)[:1500]}")
    assert not failures, "\n\n".join(failures)


def test_the_schema_names_every_command_with_its_options(tmp_path: Path) -> None:
    from chipfleet.web.app import create_app
    from chipfleet.web.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, store_url=f"sqlite:///{tmp_path / 'runs.sqlite'}"))
    spec = app.openapi()
    body = spec["paths"]["/api/estimate/serve"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    model = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert {"model", "instance", "batch", "input_tokens", "output_tokens"} <= set(model["properties"])
    assert "202" in spec["paths"]["/api/plan/serve"]["post"]["responses"]
    assert {"/api/health", "/api/version", "/api/runs", "/api/runs/{run_id}", "/api/runs/{a}/diff/{b}",
            "/api/jobs/{run_id}", "/api/jobs/{run_id}/events"} <= set(spec["paths"])  # fmt: skip
    assert not [p for p in spec["paths"] if not p.startswith("/api/")]  # the pages stay out of the schema
