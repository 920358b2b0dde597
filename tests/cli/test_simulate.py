"""`chipfleet simulate routers|policies|sharing`: every registered plugin, with what it does."""

from __future__ import annotations

import json

import pytest

from chipfleet.cli import main
from chipfleet.registry import Registry
from chipfleet.sim import POLICIES, ROUTERS, SHARING


@pytest.mark.parametrize(("command", "registry"), [("routers", ROUTERS), ("policies", POLICIES), ("sharing", SHARING)])
def test_listing_shows_each_registered_plugin_and_its_description(
    command: str, registry: Registry[object], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["simulate", command]) == 0
    text = capsys.readouterr().out
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") == 3}
    assert set(lines) == set(registry.names())
    assert all(e.description and e.description[:30] in lines[e.name] for e in registry.entries())

    assert main(["simulate", command, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [{"name": e.name, "description": e.description} for e in registry.entries()]
