"""Regenerate docs/screenshots/*.png: drive each main page of a running chipfleet server in headless Chromium.

    python scripts/screenshots.py                       # starts its own server (temporary data folder and store)
    python scripts/screenshots.py --url http://127.0.0.1:8000 --token "$CHIPFLEET_API_TOKEN"

Needs Debian's chromium (scripts/browser.sh) and playwright (the [test] extra). Each page is filled with the same
inputs as docs/web.md describes, submitted, and captured at 1366x900 once its charts are drawn.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SLOW_MS = 300_000


def _catalog(pg: Any) -> None:
    pg.goto("/catalog")
    pg.wait_for_selector("#chips-chart .main-svg")


def _estimate(pg: Any) -> None:
    pg.goto("/estimate")
    pg.wait_for_selector("body[data-ready]")
    pg.click("#serve-form button[type=submit]")
    pg.wait_for_selector("#serve-memory .main-svg")


def _plan_train(pg: Any) -> None:
    pg.goto("/plan/train")
    pg.wait_for_selector("body[data-ready]")
    pg.click("#plan-form button[type=submit]")
    pg.wait_for_selector("#placement-breakdown .main-svg", timeout=SLOW_MS)
    pg.evaluate("document.querySelector('#kpis').scrollIntoView()")


def _plan_serve(pg: Any) -> None:
    pg.goto("/plan/serve")
    pg.wait_for_selector("body[data-ready]")
    pg.check("#plan-form [name=per_hour]")
    pg.click("#plan-form button[type=submit]")
    pg.wait_for_selector("#progress .status-done", timeout=SLOW_MS)
    pg.wait_for_selector("#hourly .main-svg")
    pg.evaluate("document.querySelector('#progress').scrollIntoView()")


# pages whose charts run below the first screen: the whole page, not the 1366x900 viewport
FULL_PAGE = frozenset({"simulate"})


def _simulate(pg: Any) -> None:
    pg.goto("/simulate")
    pg.wait_for_selector("body[data-ready]")
    pg.click("#serve-form button[type=submit]")
    pg.wait_for_selector("#chart-latency .main-svg", timeout=SLOW_MS)
    pg.evaluate("document.querySelector('#kpis').scrollIntoView()")


def _validate(pg: Any) -> None:
    pg.goto("/validate")
    pg.wait_for_selector("body[data-ready]")
    pg.click("#validate-form button[type=submit]")
    pg.wait_for_selector("#scatter .main-svg", timeout=SLOW_MS)
    pg.evaluate("document.querySelector('#kpis').scrollIntoView()")


COMPARED: list[str] = []  # the two runs shoot() saves for the history page to compare


def _runs(pg: Any) -> None:
    pg.goto("/runs")
    pg.wait_for_selector("body[data-ready]")
    for run_id in COMPARED:
        pg.check(f"input[data-run='{run_id}']")
    pg.click("#compare")
    pg.wait_for_selector("body[data-compared]")
    pg.evaluate("window.scrollTo(0, 0)")


PAGES: dict[str, Callable[[Any], None]] = {
    "catalog": _catalog, "estimate": _estimate, "plan_train": _plan_train, "plan_serve": _plan_serve,
    "simulate": _simulate, "validate": _validate, "runs": _runs,
}  # fmt: skip


def _post(base: str, token: str | None, path: str, body: dict[str, Any]) -> str:
    """POST a command; the id of the run it saved."""
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=120) as r:
        r.read()
        return str(r.headers["X-Chipfleet-Run"])


@contextmanager
def _own_server() -> Iterator[tuple[str, str]]:
    """A server of this checkout on a free loopback port, with a temporary data folder and run store."""
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        token = "screenshots"
        env = {**os.environ, "CHIPFLEET_DB": f"sqlite:///{tmp}/runs.sqlite", "CHIPFLEET_DATA_DIR": f"{tmp}/data",
               "CHIPFLEET_API_TOKEN": token}  # fmt: skip
        cmd = [sys.executable, "-m", "uvicorn", "chipfleet.web.app:create_app", "--factory", "--port", str(port)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(base + "/api/health", timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.2)
            yield base, token
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def shoot(base: str, token: str | None, out: Path, only: list[str]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    # two runs to compare on the history page: the same serving estimate at batch 4 and 8
    body = {"model": "llama-3-8b", "instance": "inf2.48xlarge"}
    COMPARED[:] = [_post(base, token, "/api/estimate/serve", {**body, "batch": batch}) for batch in (4, 8)]
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=base)
        if token:
            context.add_init_script(f"sessionStorage.setItem('chipfleet-token', {json.dumps(token)})")
        for name, drive in PAGES.items():
            if only and name not in only:
                continue
            pg = context.new_page()
            pg.set_default_timeout(120_000)
            drive(pg)
            pg.mouse.move(0, 0)  # no hover label in the picture
            time.sleep(0.5)  # Plotly's transitions
            path = out / f"{name}.png"
            pg.screenshot(path=str(path), full_page=name in FULL_PAGE)
            written.append(path)
            print(f"{path} ({path.stat().st_size // 1024} KiB)")
            pg.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start one of this checkout)")
    parser.add_argument("--token", default=os.environ.get("CHIPFLEET_API_TOKEN"), help="its bearer token, if any")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "screenshots")
    parser.add_argument("pages", nargs="*", help=f"only these pages (default: all): {', '.join(PAGES)}")
    args = parser.parse_args()
    unknown = sorted(set(args.pages) - set(PAGES))
    if unknown:
        parser.error(f"no page {', '.join(unknown)}; the pages are {', '.join(PAGES)}")
    if args.url:
        shoot(args.url.rstrip("/"), args.token, args.out, args.pages)
    else:
        with _own_server() as (base, token):
            shoot(base, token, args.out, args.pages)


if __name__ == "__main__":
    main()
