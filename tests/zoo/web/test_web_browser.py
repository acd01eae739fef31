"""``zoo serve`` in a real browser: headless Chromium (the system's /usr/bin/chromium, driven by Playwright)
against a uvicorn server on 127.0.0.1, on a SQLite catalog the tests build.

Skipped, with the reason, only where Playwright or a Chromium binary is missing (``.ci/run`` and
``scripts/test.sh`` install both). ``ZOO_UPDATE_SCREENSHOTS=1`` also copies the two screenshots the tests
take to docs/images/ for the README.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("ZOO_TEST_CHROMIUM", "/usr/bin/chromium"))
DOCS_IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"
START_TIMEOUT_S = 20.0
WAIT_MS = 10_000

pytestmark = pytest.mark.parametrize("served", ["sqlite"], indirect=True)  # one backend is enough for a browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(served: Any) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 and a free port, in a thread of this process."""
    import uvicorn

    from zoo.web.app import create_app

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(served[0], queue_refresh_s=0.5), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=START_TIMEOUT_S)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need playwright (pip install -e '.[dev]'; scripts/test.sh does it)")
    if not CHROMIUM.is_file():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that fails the test on any console error (a CSP violation, a broken script) or any
    failed image, style or script; pages themselves may answer 400/404 when a test asks for it."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    errors: list[str] = []
    opened.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    opened.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and response.request.resource_type != "document"
            else None
        ),
    )
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(WAIT_MS)
    yield opened
    context.close()
    assert not errors, errors


def _wait_until(page: Any, expression: str) -> None:
    """Poll a JavaScript expression until it is true (page.wait_for_function evaluates strings, which the
    pages' Content-Security-Policy rightly forbids)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(50)


def _decoded(page: Any, selector: str) -> int:
    """The natural width of an image once it has loaded (0 when it failed to decode)."""
    _wait_until(page, f"document.querySelector('{selector}').complete")
    return page.eval_on_selector(selector, "img => img.naturalWidth")


def _screenshot(page: Any, name: str, folder: Path) -> None:
    path = folder / name
    page.screenshot(path=str(path), full_page=False)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("ZOO_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES / name)


def test_every_page_loads_from_the_navigation(page, base_url, web, tmp_path) -> None:
    response = page.goto(base_url + "/")
    assert response.status == 200 and page.inner_text("h1") == "Catalog"
    assert "1" in page.inner_text("#queue") and "stale claims" in page.inner_text("#queue")
    _screenshot(page, "serve-overview.png", tmp_path)
    for link, heading in (
        ("datasets", "Datasets"),
        ("runs", "Runs"),
        ("checkpoints", "Checkpoints"),
        ("fits", "Meta-model fits"),
        ("SQL", "SQL"),
    ):
        page.click(f"header nav >> text={link}")
        page.wait_for_load_state()
        assert page.inner_text("h1") == heading, link
    page.click("footer >> text=this page as JSON")
    assert page.url.endswith("/sql?format=json") or "format=json" in page.url


def test_following_links_to_a_checkpoint_shows_its_filters(page, base_url, web, tmp_path) -> None:
    page.goto(base_url + "/runs")
    page.click(f"a[href='/runs/{web.done_run}']")
    assert page.inner_text("h1").startswith(f"Run {web.done_run}")
    page.click("table.wide a >> nth=1")  # the run's second checkpoint
    assert page.inner_text("h1").startswith("Checkpoint ")
    assert _decoded(page, "#filters") > 100
    _screenshot(page, "serve-checkpoint.png", tmp_path)
    page.click(f"a[href='/runs/{web.done_run}']")
    assert page.inner_text("h1").startswith(f"Run {web.done_run}")


def test_dataset_preview_and_fit_plot_decode(page, base_url, web) -> None:
    page.goto(base_url + "/datasets")
    page.click(f"h2 a >> text={web.pixel_dataset}")
    assert _decoded(page, "#preview") > 0
    page.goto(base_url + "/fits")
    page.click(f"a[href='/fits/{web.fit_id}']")
    assert _decoded(page, "#predictions") == 800
    assert "R²" in page.inner_text("main")


def test_the_generalization_matrix_from_the_fits_pages(page, base_url, web) -> None:
    page.goto(base_url + "/fits")
    page.click("#matrix-links >> text=sharpness")
    page.wait_for_url("**/evaluate?target=sharpness")
    assert page.inner_text("h1") == "Generalization matrix"
    assert "Fitted for this request" in page.inner_text("#matrix-fitted")
    assert _decoded(page, "#matrix") > 400  # the heatmap of zoo evaluate --png
    cells = page.locator("#matrix-table tbody tr td:first-child").count()
    assert cells > 3
    page.fill("#evaluate-selection", "arch=resnet*")
    page.fill("#evaluate-form input[name=trees]", "5")
    page.fill("#evaluate-form input[name=repeats]", "1")
    page.click("#evaluate-form button")
    page.wait_for_url("**/evaluate?*trees=5*")
    assert "arch=resnet*" in page.inner_text("#matrix-summary") and "5 trees" in page.inner_text("#matrix-summary")
    assert _decoded(page, "#matrix") > 400
    page.fill("#evaluate-form input[name=trees]", "0")
    page.click("#evaluate-form button")
    assert "trees must be between 1 and 200" in page.inner_text("#error-message")
    page.goto(f"{base_url}/fits/{web.fit_id}")
    page.click("#matrix-link")
    assert page.inner_text("h1") == "Generalization matrix" and page.is_checked("input[name=raw_target]")


def test_submitting_a_selection_filters_the_checkpoints(page, base_url, web, catalog) -> None:
    from zoo.query import query_checkpoints
    from zoo.selection import parse_selection

    expected = query_checkpoints(catalog, parse_selection("arch=resnet18,min_epoch=1"), limit=0).total
    page.goto(base_url + "/checkpoints")
    page.fill("#selection", "arch=resnet18,min_epoch=1")
    page.click("#selection-form button")
    page.wait_for_url("**/checkpoints?q=*")
    assert page.inner_text("#selection-summary").startswith(f"{expected} checkpoints")
    assert page.locator("table.wide tbody tr").count() == expected
    page.fill("#selection", "colour=red")
    page.click("#selection-form button")
    assert "colour" in page.inner_text("#error-message") and page.inner_text("h1") == "400"


def test_sql_runs_a_query_and_refuses_a_write(page, base_url, web, catalog, row_counts) -> None:
    before = row_counts(catalog)
    page.goto(base_url + "/sql")
    page.fill("#sql", "SELECT status, count(*) AS n FROM runs GROUP BY status ORDER BY status")
    page.click("#sql-form button")
    page.wait_for_selector("#sql-result")
    assert page.locator("#sql-result tbody tr").count() == 3  # done, failed, running
    with page.expect_download() as download:
        page.click("text=CSV")
    assert Path(download.value.path()).read_text().splitlines()[0] == "status,n"
    for statement in ("DELETE FROM runs", "DROP TABLE runs"):
        page.fill("#sql", statement)
        page.click("#sql-form button")
        assert "read-only" in page.inner_text("#error-message")
    page.fill("#sql", "SELECT 1; DELETE FROM runs")
    page.click("#sql-form button")
    assert "one statement" in page.inner_text("#error-message")
    assert row_counts(catalog) == before


def test_the_queue_panel_follows_the_catalog_without_a_reload(page, base_url, web, catalog) -> None:
    from zoo.db.models import Run

    page.goto(base_url + "/")
    assert "running" in page.inner_text("#queue")
    page.evaluate("window.notReloaded = true")
    with catalog.session(write=True) as session:  # a worker finishes the stale run meanwhile
        session.get(Run, web.stale_run).status = "done"
    try:
        _wait_until(page, "document.querySelector('#queue').innerText.includes('7 / 8 runs done')")
        assert page.evaluate("window.notReloaded") is True
    finally:
        with catalog.session(write=True) as session:
            session.get(Run, web.stale_run).status = "running"
