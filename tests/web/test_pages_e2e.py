"""The web pages driven for real: a uvicorn server with a fresh run store, Debian's headless Chromium (Playwright),
forms filled and submitted, results and charts checked against the API's own answers, no console errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, ConsoleWatch, Server, require_chromium

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("web_e2e")]

SLOW_MS = 180_000  # a plan or a simulation on a busy CI machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_chromium()
    s = Server.start(tmp_path_factory.mktemp("web_e2e"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def _context(browser: Any, server: Server, *, with_token: bool) -> Any:
    context = browser.new_context(viewport=VIEWPORT, base_url=server.base)
    if with_token:  # as if the person had given the token earlier in this tab (the prompt: test_the_token_...)
        context.add_init_script(f"sessionStorage.setItem('chipfleet-token', {json.dumps(server.token)})")
    return context


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[tuple[Any, ConsoleWatch]]:
    context = _context(browser, server, with_token=True)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    watch = ConsoleWatch()
    watch.attach(pg)
    yield pg, watch
    context.close()


def _open(pg: Any, url: str) -> None:
    pg.goto(url)
    pg.wait_for_selector("body[data-ready]")


def _snap(pg: Any, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    pg.screenshot(path=str(path))
    assert path.stat().st_size > 10_000  # a drawn page, not a blank one


def _wait(pg: Any, selector: str, timeout_ms: float = SLOW_MS) -> None:
    """Wait for ``selector`` or for an error the page shows (form message, failed job), and fail with its text."""
    error = ".form-error:not(:empty), .field-error, .status-failed, .status-cancelled"
    pg.wait_for_selector(f"{selector}, {error}", timeout=timeout_ms)
    shown = [e.inner_text() for e in pg.query_selector_all(error) if e.is_visible()]
    assert not shown, shown
    pg.wait_for_selector(selector)


def _points(pg: Any, selector: str) -> int:
    """Marks Plotly drew (scatter points or bars) under a chart."""
    n: int = pg.locator(f"{selector} .point").count()
    return n


def test_catalog_lists_every_chip_with_its_source_and_the_filter_narrows(
    page: tuple[Any, ConsoleWatch], server: Server, shots: Path
) -> None:
    pg, watch = page
    _open(pg, "/catalog")
    status, chips = server.call("POST", "/api/catalog/chips", {})
    assert status == 200
    assert pg.locator("#chips-table tbody tr").count() == len(chips)
    assert _points(pg, "#chips-chart") > 10
    first = pg.locator("#chips-table tbody tr").first
    href = first.locator(".src a").first.get_attribute("href")
    assert href and href.startswith("https://")
    assert chips[0]["peak_dense"]["bf16"]["as_of"] in first.inner_text()  # the figure's date, on the page
    _snap(pg, shots, "catalog")

    pg.fill("#filter", "trainium")
    names = pg.locator("#chips-table tbody tr td:first-child b").all_inner_texts()
    assert names and all("trainium" in n for n in names)
    assert len(names) < len(chips)

    pg.click("#tabs button[data-tab=prices]")
    pg.fill("#filter", "p5.48xlarge")
    instances = pg.locator("#prices-table tbody tr td:first-child").all_inner_texts()
    assert instances and set(instances) == {"p5.48xlarge"}
    assert _points(pg, "#prices-chart") > 0
    assert "USD per chip-hour" in pg.inner_text("#prices-chart")
    assert watch.unexpected() == []


def test_estimate_serve_and_train_show_the_apis_answers(
    page: tuple[Any, ConsoleWatch], server: Server, shots: Path
) -> None:
    pg, watch = page
    _open(pg, "/estimate")
    pg.fill("#serve-form [name=batch]", "16")
    pg.click("#serve-form button[type=submit]")
    _wait(pg, "#serve-breakdown .main-svg")
    body = {"model": "llama-3-8b", "instance": "inf2.48xlarge", "batch": 16, "input_tokens": "1024"}
    status, expected = server.call("POST", "/api/estimate/serve", {**body, "output_tokens": "256"})
    assert status == 200
    text = pg.inner_text("#serve-result")
    r = expected["result"]
    assert f"{r['batch']} / {r['max_batch']}" in text
    assert f"{r['replicas_per_instance']} × {r['chips_per_replica']} (tp={r['tp']})" in text
    assert _points(pg, "#serve-breakdown") == 8  # compute, memory, comm, overhead for prefill and decode
    assert _points(pg, "#serve-memory") == 3
    _snap(pg, shots, "estimate_serve")

    pg.click("#tabs button[data-tab=train]")
    pg.click("#train-form button[type=submit]")
    _wait(pg, "#train-breakdown .main-svg")
    body = {"model": "llama-3-8b", "instance": "p5.48xlarge", "instances": 4, "tokens": "100B"}
    status, expected = server.call("POST", "/api/estimate/train", body)
    assert status == 200
    p = expected["step"]["parallelism"]
    assert f"tp={p['tp']} pp={p['pp']} dp={p['dp']}" in pg.inner_text("#train-result")
    assert _points(pg, "#train-breakdown") == sum(v > 0 for v in expected["step"]["breakdown"].values())
    _snap(pg, shots, "estimate_train")
    assert watch.unexpected() == []


def test_bad_input_shows_the_apis_message_next_to_the_field(page: tuple[Any, ConsoleWatch], server: Server) -> None:
    pg, watch = page
    _open(pg, "/estimate")
    pg.fill("#serve-form [name=model]", "no-such-model")
    pg.click("#serve-form button[type=submit]")
    error = pg.locator("#serve-form label:has([name=model]) .field-error")
    error.wait_for()
    status, answer = server.call("POST", "/api/estimate/serve", {"model": "no-such-model", "instance": "inf2.48xlarge"})
    assert 400 <= status < 500
    assert error.inner_text() == answer["message"]
    assert "no-such-model" in error.inner_text()
    assert pg.locator("#serve-form [name=model].invalid").count() == 1
    assert pg.locator("#serve-result .kpi").count() == 0
    # fixed, the message goes and the answer comes
    pg.fill("#serve-form [name=model]", "llama-3-8b")
    pg.click("#serve-form button[type=submit]")
    _wait(pg, "#serve-breakdown .main-svg")
    assert pg.locator("#serve-form .field-error").count() == 0
    assert watch.unexpected(status) == []


def test_plan_train_pareto_point_click_shows_its_placement(
    page: tuple[Any, ConsoleWatch], server: Server, shots: Path
) -> None:
    pg, watch = page
    _open(pg, "/plan/train")
    pg.click("#plan-form button[type=submit]")
    _wait(pg, "#pareto .main-svg")
    front = pg.locator("#pareto .scatterlayer .trace").nth(1)
    assert front.locator(".point").count() > 3
    labels = front.locator(".textpoint").all_text_contents()
    before = pg.inner_text("#placement")
    # the fastest point of the front (the best on cost is shown first; this one is another placement)
    box = front.locator(".point").first.bounding_box()
    pg.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    count, _, instance = labels[0].partition("×")
    pg.wait_for_function(
        "([n, i]) => document.querySelector('#placement').innerText.includes(`${n} × ${i} (`)", arg=[count, instance]
    )
    assert pg.inner_text("#placement") != before
    assert _points(pg, "#placement-breakdown") > 0
    _snap(pg, shots, "plan_train")
    assert watch.unexpected() == []


def test_plan_serve_runs_as_a_job_with_progress_to_its_result(
    page: tuple[Any, ConsoleWatch], server: Server, shots: Path
) -> None:
    pg, watch = page
    _open(pg, "/plan/serve")
    pg.check("#plan-form [name=per_hour]")
    pg.click("#plan-form button[type=submit]")
    pg.wait_for_selector("#progress:not(.hidden)")
    pg.wait_for_selector("#progress :is(.status-done, .status-failed, .status-cancelled)", timeout=SLOW_MS)
    assert pg.locator("#progress .status-done").count() == 1, pg.inner_text("#progress")
    run_id = pg.inner_text("#progress .progress-text").rsplit("run ", 1)[1].strip()
    status, job = server.call("GET", f"/api/jobs/{run_id}")
    assert status == 200 and job["status"] == "done"
    plan = job["result"]
    assert plan["mix"]["fleet"] in pg.inner_text("#kpis")
    assert pg.locator("#mix tbody tr").count() == len(plan["mix"]["entries"])
    assert pg.locator("#routing tbody tr").count() == len(plan["mix"]["routing_by_bucket"])
    assert _points(pg, "#latency") >= 8  # p50, p90, p99, max of TTFT and TPOT
    assert _points(pg, "#hourly") >= 24
    split = plan["disagg"]["mix"]  # --disagg auto: the split it weighed, shown whether chosen or not
    pools = pg.locator("#split table").first.locator("tbody tr")
    assert pools.count() == len(split["prefill"]) + len(split["decode"])
    assert pg.get_attribute("#progress progress", "value") == "1"
    assert pg.is_disabled("#progress button.cancel")
    _snap(pg, shots, "plan_serve")
    assert watch.unexpected() == []


def test_a_running_plan_serve_job_is_cancelled_from_the_page(page: tuple[Any, ConsoleWatch], server: Server) -> None:
    pg, watch = page
    _open(pg, "/plan/serve")
    # a workload that takes tens of seconds to plan, so it is still running when cancelled
    pg.fill("#plan-form [name=trace]", "azure-conv")
    pg.fill("#plan-form [name=rate]", "")
    pg.fill("#plan-form [name=clouds]", "")
    pg.fill("#plan-form [name=input_tokens]", "")
    pg.fill("#plan-form [name=output_tokens]", "")
    pg.fill("#plan-form [name=duration]", "")
    pg.fill("#plan-form [name=rate_scale]", "10")
    pg.click("#plan-form button[type=submit]")
    pg.wait_for_selector("#progress:not(.hidden)")
    pg.wait_for_function("!document.querySelector('#progress button.cancel').disabled")
    pg.click("#progress button.cancel")
    pg.wait_for_selector("#progress .status-cancelled", timeout=60_000)
    status, runs = server.call("GET", "/api/runs?kind=plan%20serve&status=cancelled")
    assert status == 200 and len(runs) == 1
    assert pg.locator("#result:not(.hidden)").count() == 0
    assert watch.unexpected() == []


def test_simulation_dashboards_chart_what_the_replay_reports(
    page: tuple[Any, ConsoleWatch], server: Server, shots: Path
) -> None:
    pg, watch = page
    _open(pg, "/simulate")
    pg.click("#serve-form button[type=submit]")
    _wait(pg, "#chart-latency .main-svg")
    status, runs = server.call("GET", "/api/runs?kind=simulate%20serve&status=done&limit=1")
    assert status == 200
    _, record = server.call("GET", f"/api/runs/{runs[0]['id']}")
    result = record["outputs"]
    windows = len(next(iter(result["utilization_series"].values())))
    assert _points(pg, "#chart-util") == windows
    assert _points(pg, "#chart-queue") == len(result["queue_series"])
    # latency over time: a TTFT and a TPOT line, one marker per window that served a request
    served = sum(v is not None for v in result["ttft_series"]) + sum(v is not None for v in result["tpot_series"])
    assert served and _points(pg, "#chart-latency-time") == served
    assert f"{result['completed']} of {result['requests']}" in pg.inner_text("#kpis")
    _snap(pg, shots, "simulate_serve")

    pg.click("#tabs button[data-tab=train]")
    pg.click("#train-form button[type=submit]")
    _wait(pg, "#result:not(.hidden) #chart-queue .barlayer .point")
    status, runs = server.call("GET", "/api/runs?kind=simulate%20train&status=done&limit=1")
    _, record = server.call("GET", f"/api/runs/{runs[0]['id']}")
    result = record["outputs"]
    assert pg.locator("#chart-util .scatterlayer .trace").count() == len(result["types"])  # a line per type
    assert _points(pg, "#chart-queue") == 8  # p50, p90, p99, max of completion and of queueing
    assert pg.locator("#row-latency-time.hidden").count() == 1  # a training cluster has no request latency
    assert f"{result['completed']} of {result['jobs']}" in pg.inner_text("#kpis")
    _snap(pg, shots, "simulate_train")
    assert watch.unexpected() == []


def test_validation_scatter_has_the_error_bands_and_claims_have_verdicts(
    page: tuple[Any, ConsoleWatch], server: Server, shots: Path
) -> None:
    pg, watch = page
    _open(pg, "/validate")
    pg.click("#validate-form button[type=submit]")
    _wait(pg, "#scatter .main-svg")
    legend = pg.text_content("#scatter .legend") or ""
    assert "±10 %" in legend and "±25 %" in legend
    metric = pg.input_value("#metric")
    assert _points(pg, "#scatter") > 5
    assert pg.locator("#scatter .xaxislayer-above").count() == 1
    assert metric in (pg.text_content("#scatter .g-xtitle") or "")
    assert pg.locator("#families tbody tr").count() >= 4
    pg.click("#claims-form button[type=submit]")
    pg.wait_for_selector("#claims table")
    status, claims = server.call("POST", "/api/claims", {})
    assert status == 200
    rows = pg.locator("#claims tbody tr")
    assert rows.count() == len(claims)
    assert claims[0]["verdict"] in rows.first.inner_text()
    _snap(pg, shots, "validate")
    assert watch.unexpected() == []


def test_run_history_opens_a_run_and_compares_two(page: tuple[Any, ConsoleWatch], server: Server, shots: Path) -> None:
    pg, watch = page
    for batch in (4, 8):
        status, _ = server.call("POST", "/api/estimate/serve", {"model": "llama-3-8b", "instance": "inf2.48xlarge",
                                                                "batch": batch})  # fmt: skip
        assert status == 200
    status, runs = server.call("GET", "/api/runs?kind=estimate%20serve&limit=2")
    assert status == 200
    newer, older = runs[0]["id"], runs[1]["id"]
    _open(pg, "/runs")
    assert pg.locator("#runs tbody tr").count() >= 2
    assert pg.is_disabled("#compare")
    pg.click(f"#runs tr:has(input[data-run='{older}']) td:nth-child(3)")
    pg.wait_for_selector("#detail h2")
    assert older[:8] in pg.inner_text("#detail h2")
    inputs = pg.locator("#detail table").first.locator("tr:has-text('batch')").inner_text().split()
    assert inputs == ["batch", "4"]
    assert '"ttft_s"' in pg.inner_text("#detail pre")  # the answer, as the CLI's JSON
    pg.check(f"input[data-run='{older}']")
    pg.check(f"input[data-run='{newer}']")
    pg.click("#compare")
    pg.wait_for_selector("body[data-compared]")
    changed = pg.locator("#detail tr.selected").all_inner_texts()
    assert len(changed) == 1 and changed[0].split() == ["batch", "4", "8"]
    _, diff = server.call("GET", f"/api/runs/{older}/diff/{newer}")
    moves = pg.locator("#detail .scroll tbody tr")
    assert moves.count() == min(len(diff["moves"]), 200) > 0
    assert diff["moves"][0]["path"] in moves.first.inner_text()
    assert _points(pg, "#diff-chart") > 0
    _snap(pg, shots, "runs_compare")
    assert watch.unexpected() == []


def test_the_token_is_asked_once_and_kept_for_the_tab(browser: Any, server: Server) -> None:
    context = _context(browser, server, with_token=False)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    watch = ConsoleWatch()
    watch.attach(pg)
    prompts: list[str] = []

    def answer(dialog: Any) -> None:
        prompts.append(dialog.message)
        dialog.accept(server.token)

    pg.on("dialog", answer)
    try:
        _open(pg, "/estimate")
        for _ in range(2):
            pg.click("#serve-form button[type=submit]")
            _wait(pg, "#serve-breakdown .main-svg")
            pg.wait_for_selector("#serve-form button[type=submit]:not([disabled])")
        pg.reload()
        pg.wait_for_selector("body[data-ready]")
        pg.click("#serve-form button[type=submit]")
        _wait(pg, "#serve-breakdown .main-svg")
        assert len(prompts) == 1 and "token" in prompts[0]
        assert pg.evaluate("sessionStorage.getItem('chipfleet-token')") == server.token
        # the one refused request is the only error the browser noted
        assert watch.unexpected(401) == []
        assert sum("status of 401" in e for e in watch.errors) == 1
    finally:
        context.close()
