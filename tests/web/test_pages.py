"""The pages' router on its own: every page and the files it loads are served, nothing outside web/static is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chipfleet.web import pages


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(pages.router)
    return TestClient(app)


@pytest.mark.parametrize("url", sorted(pages.PAGES))
def test_each_page_is_html_loading_plotly_and_its_module(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<script src="/static/vendor/plotly.min.js"></script>' in r.text
    # every page has the same navigation, so each page is reachable from every other
    for other in pages.PAGES:
        if other != "/":
            assert f'href="{other}"' in r.text
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', r.text):
        assert client.get(src).status_code == 200, src


def test_every_module_import_resolves_to_a_served_file(client: TestClient) -> None:
    scripts = sorted(pages.STATIC_DIR.rglob("*.js"))
    assert {p.name for p in scripts} >= {"common.js", "charts.js", "catalog.js", "runs.js"}
    for script in scripts:
        for target in re.findall(r'from "(/static/[^"]+)"', script.read_text(encoding="utf-8")):
            r = client.get(target)
            assert r.status_code == 200, f"{script.name} imports {target}"
            assert "javascript" in r.headers["content-type"]  # browsers refuse ES modules of another type


def test_plotly_comes_from_the_installed_package_not_a_cdn(client: TestClient) -> None:
    r = client.get("/static/vendor/plotly.min.js")
    assert r.status_code == 200
    assert len(r.content) == pages.plotly_js_path().stat().st_size > 1_000_000
    for page in pages.STATIC_DIR.glob("*.html"):
        assert "://" not in page.read_text(encoding="utf-8"), f"{page.name} loads something from the network"


@pytest.mark.parametrize(
    "path", ["/static/../pages.py", "/static/%2e%2e/pages.py", "/static/..%2fapp.py", "/static/nope.js", "/static/"]
)
def test_nothing_outside_the_static_folder_is_served(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert "import" not in r.text  # no Python source came back


def test_every_page_file_exists_and_is_its_part_in_the_layout() -> None:
    for file_name in pages.PAGES.values():
        part = (pages.STATIC_DIR / file_name).read_text(encoding="utf-8")
        assert part.startswith("<main>") and "<head>" not in part  # the layout gives the head and navigation
        html = pages.page_html(file_name)
        assert html.count("<head>") == 1 and part.strip() in html
        assert f"<title>{pages.TITLES[file_name]} · chipfleet</title>" in html and "{" + "body}" not in html
    assert set(pages.TITLES) == set(pages.PAGES.values())


def test_the_browser_tests_skip_without_chromium_and_fail_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from . import browser

    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "chromium")
    require_chromium = browser.require_chromium
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"chromium is missing .*scripts/browser\.sh"):
        require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run in CI"):
        require_chromium()
