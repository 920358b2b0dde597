"""The web pages: plain HTML, CSS and ES modules under web/static, served at / beside the HTTP API (no build step)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

STATIC_DIR = Path(__file__).parent / "static"

# URL path -> the page's own part (its <main> and module script) and its title. Every page is that part in
# static/layout.html (head, Plotly, the navigation) and shares static/common.js (fetch, forms, errors, token) and
# static/style.css.
PAGES: dict[str, str] = {
    "/": "index.html",
    "/catalog": "catalog.html",
    "/estimate": "estimate.html",
    "/plan/train": "plan_train.html",
    "/plan/serve": "plan_serve.html",
    "/simulate": "simulate.html",
    "/validate": "validate.html",
    "/runs": "runs.html",
}
TITLES: dict[str, str] = {
    "index.html": "Home",
    "catalog.html": "Catalog",
    "estimate.html": "Estimate",
    "plan_train.html": "Plan training",
    "plan_serve.html": "Plan serving",
    "simulate.html": "Simulate",
    "validate.html": "Validation",
    "runs.html": "Runs",
}
LAYOUT = "layout.html"

router = APIRouter(include_in_schema=False)


def plotly_js_path() -> Path:
    """The plotly.min.js shipped inside the plotly Python package: served locally, the pages never reach a CDN."""
    path = Path(str(resources.files("plotly").joinpath("package_data", "plotly.min.js")))
    if not path.is_file():
        raise FileNotFoundError(f"plotly.min.js is missing from the plotly package ({path}); reinstall plotly")
    return path


@functools.cache
def page_html(file_name: str) -> str:
    """A whole page: its own part in the shared layout (read once per process: the files ship with the package)."""
    layout = (STATIC_DIR / LAYOUT).read_text(encoding="utf-8")
    body = (STATIC_DIR / file_name).read_text(encoding="utf-8").rstrip("\n")
    return layout.replace("{title}", TITLES[file_name]).replace("{body}", body)


def _add_page(url: str, file_name: str) -> None:
    async def page() -> HTMLResponse:
        return HTMLResponse(page_html(file_name))

    router.add_api_route(url, page, methods=["GET"], name=f"page:{file_name}")


for _url, _file in PAGES.items():
    _add_page(_url, _file)


@router.get("/static/vendor/plotly.min.js", name="static:plotly")
async def plotly_js() -> FileResponse:
    """Plotly from the installed package (about 4.8 MB; the browser caches it)."""
    return FileResponse(plotly_js_path(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


@router.get("/static/{path:path}", name="static")
async def static_file(path: str) -> FileResponse:
    """A file under web/static; anything resolving outside it (``..``, links) is a 404, never a read elsewhere."""
    root = STATIC_DIR.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(status_code=404, detail=f"no static file {path!r}")
    return FileResponse(target)
