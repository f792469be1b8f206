"""The ``/audit`` page in headless Chromium (Debian's ``/usr/bin/chromium`` driven by Playwright, no
browser download): the charts and tables render, the picker works, nothing is blocked by the page's
Content-Security-Policy; full-page screenshots go to pytest's tmp dir and to ``$EHR_SCREENSHOT_DIR``.

Outside CI the test skips when Chromium is missing (``scripts/ensure-chromium.sh`` installs it); in CI
(``CI=true``) it fails instead."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.api.conftest import OFFICER, root
from tests.conftest import LiveServer

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing; CI must run the browser test (scripts/ensure-chromium.sh)")
        pytest.skip(f"{CHROMIUM} is missing; install it with scripts/ensure-chromium.sh")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()


def _screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG")
    if target := os.environ.get("EHR_SCREENSHOT_DIR"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)
    return path


def _rendered_charts(page: Page) -> list[dict[str, float]]:
    """Each inline chart's size on screen and how many bars matplotlib drew in it."""
    result = page.evaluate("""() => [...document.querySelectorAll('svg.chart')].map(svg => {
        const box = svg.getBoundingClientRect();
        return {width: box.width, height: box.height,
                bars: svg.querySelectorAll('g[id*="patch_"] path').length};
    })""")
    assert isinstance(result, list)
    return result


def test_the_audit_page_renders_charts_and_tables_and_its_picker_works(
        browser: Browser, audit_server: LiveServer, tmp_path: Path) -> None:
    context = browser.new_context(extra_http_headers=OFFICER, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    response = page.goto(f"{root(audit_server)}/audit/anomalies?since=2024-05-01")
    assert response is not None
    assert response.status == 200
    assert page.inner_text("h1") == "Anomalies"
    charts = _rendered_charts(page)
    assert len(charts) == 3
    assert all(c["width"] > 300 and c["height"] > 100 and c["bars"] >= 2 for c in charts), charts
    cells = page.locator("table tbody tr").all_inner_texts()
    assert any("break-glass" in row and "clinician-a1" in row for row in cells)
    assert any("other-hospital" in row and "Patient/a003" in row for row in cells)
    _screenshot(page, tmp_path, "audit-anomalies.png")

    page.fill("input[name=patient]", "Patient/a003")
    page.fill("input[name=since]", "2024-05-01")
    page.fill("input[name=until]", "2024-05-31")
    with page.expect_navigation():
        page.click("button.primary")
    assert page.inner_text("h1") == "Access report for Patient/a003"
    assert "patient=Patient%2Fa003" in page.url
    assert len(_rendered_charts(page)) == 2
    assert page.locator("h2", has_text="Who accessed the record").count() == 1
    assert page.locator("table").first.locator("tbody tr").count() > 10
    _screenshot(page, tmp_path, "audit-patient.png")
    assert problems == []
    context.close()


def test_the_page_refuses_a_browser_without_the_role(browser: Browser, audit_server: LiveServer) -> None:
    page = browser.new_page()
    response = page.goto(f"{root(audit_server)}/audit")
    assert response is not None
    assert response.status == 403
    assert "data-officer" in page.content()
