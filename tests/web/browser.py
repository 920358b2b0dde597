"""Helpers of the pages' end-to-end tests: a real uvicorn server on a free loopback port, Debian's Chromium through
Playwright, and a watch on the browser console."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """``uvicorn chipfleet.web.app:create_app --factory`` in its own process, with a fresh data folder and store."""

    base: str
    token: str
    proc: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, folder: Path, token: str = TOKEN) -> Server:
        port = free_port()
        env = {
            **os.environ,
            "CHIPFLEET_DB": f"sqlite:///{folder / 'runs.sqlite'}",
            "CHIPFLEET_DATA_DIR": str(folder / "data"),
            "CHIPFLEET_API_TOKEN": token,
            "CHIPFLEET_MAX_JOBS": "2",
        }
        log = folder / "server.log"
        cmd = [sys.executable, "-m", "uvicorn", "chipfleet.web.app:create_app", "--factory"]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        server = cls(f"http://127.0.0.1:{port}", token, proc, log)
        server._wait_up()
        return server

    def _wait_up(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}):\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.base + "/api/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not answer /api/health in {timeout_s} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

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
