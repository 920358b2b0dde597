"""Helpers of the pages' end-to-end tests: a real uvicorn server on a free loopback port, Debian's Chromium through
Playwright, and a watch on the browser console."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .server import Server as ApiServer
from .server import free_port

CHROMIUM = Path("/usr/bin/chromium")
# Debian's build, launched by path (browser builds cannot be downloaded here); no sandbox as root in a container,
# nothing reaching out to the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 900}
TOKEN = "e2e-token-not-a-secret"


def require_chromium() -> None:
    """Skip with the reason where Chromium or Playwright is missing; in CI (CI=true) that is a failure instead."""
    reasons = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        reasons.append(f"{CHROMIUM} is missing (scripts/browser.sh installs Debian's chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reasons.append("playwright is not installed (pip install -e '.[test]')")
    if reasons:
        message = "; ".join(reasons)
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests must run in CI: {message}")
        pytest.skip(message)


@dataclass
class Server:
    """The API's real test server (:class:`.server.Server`: uvicorn in its own process, a fresh data folder and
    store) with a token, and the requests a script would make to it."""

    base: str
    token: str
    process: ApiServer

    @classmethod
    def start(cls, folder: Path, token: str = TOKEN) -> Server:
        db = f"sqlite:///{folder / 'runs.sqlite'}"
        real = ApiServer(folder / "data", db, free_port(), folder / "server.log", token=token).start(timeout_s=90.0)
        return cls(real.url, token, real)

    def stop(self) -> None:
        self.process.stop()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One API request with the token, as a script would make it: (status, JSON body)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")


_REASONS = {400: ("Bad Request",), 401: ("Unauthorized",), 404: ("Not Found",), 409: ("Conflict",),
            422: ("Unprocessable Entity", "Unprocessable Content")}  # fmt: skip


@dataclass
class ConsoleWatch:
    """The console errors and uncaught exceptions of one page; the tests allow only what they provoke."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def unexpected(self, *statuses: int) -> list[str]:
        """Errors other than the browser's note of an HTTP status the test asked for (a 400 for bad input...)."""
        allowed = tuple(f"status of {s} ({reason})" for s in statuses for reason in _REASONS.get(s, ("",)))
        return [e for e in self.errors if not (e.startswith("Failed to load resource") and e.endswith(allowed))]
