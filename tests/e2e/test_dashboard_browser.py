"""Headless Chromium logs in to the running dashboard as a promoter and as an admin and checks
what each sees; screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS
from tests.unit.dashboard.expected import sales_lines
from tests.unit.dashboard.fixtures import PASSWORDS, DashboardWorld
from ticketing_pipeline.dashboard.auth import LOGIN_FAILED

pytestmark = pytest.mark.xdist_group("dashboard")

TIMEOUT_MS = 30_000


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1600, "height": 1800})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()


def _login(page, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()


# Streamlit scrolls inside its own container, so a "full page" screenshot stops at the window:
# the window is made as tall as the content for the picture, then put back.
_CONTAINERS = ["stMain", "stAppViewContainer", "stSidebarContent"]
_CONTENT_HEIGHT = (
    f"() => Math.max(...{_CONTAINERS!r}.map("
    'id => document.querySelector(`[data-testid="${id}"]`)?.scrollHeight || 0))'
)


def _screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(800)  # let charts and grids finish their first paint
    window = page.viewport_size
    height = min(int(page.evaluate(_CONTENT_HEIGHT)) + 40, 8000)
    if window and height > window["height"]:
        page.set_viewport_size({"width": window["width"], "height": height})
        page.wait_for_timeout(500)  # the grids lay out again at the new size
    try:
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    finally:
        if window:
            page.set_viewport_size(window)


def _settle(page) -> None:
    """Wait for the script run to finish (Streamlit shows a status widget while it runs)."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")


def _preset(page, name: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text(name, exact=True).click()
    _settle(page)


def _open(page, tab: str, ready: str) -> None:
    """Open ``tab`` and wait for a text only that tab shows."""
    _settle(page)
    page.get_by_role("tab", name=tab, exact=True).click()
    page.get_by_role("tabpanel").get_by_text(ready).first.wait_for()


# Each view, the text that says it has rendered, and its screenshot name.
VIEWS = [
    ("Sales", "Gross sales per day", "sales"),
    ("Events", "One row per event and currency", "events"),
    ("Sessions", "Sell-through per session", "sessions"),
    ("Selling fast", "Projected sell-out", "selling-fast"),
    ("Orders", "order lines shown", "orders"),
]


def _visit_views(page, who: str, views: list[tuple[str, str, str]]) -> None:
    for tab, ready, name in views:
        _open(page, tab, ready)
        body = page.inner_text("body")
        # Raw column names and UTC offsets are not what a promoter reads.
        for raw in ("event_name", "mismatch_sessions", "tickets_remaining", "+00:00"):
            assert raw not in body, (tab, raw)
        _screenshot(page, f"dashboard-{who}-{name}.png")


def test_wrong_password(page, dashboard_url: str) -> None:
    _login(page, dashboard_url, "sydney", "not the password")
    page.get_by_text(LOGIN_FAILED).wait_for()
    assert page.get_by_text("Tickets sold").count() == 0


def test_promoter_sees_only_their_account(page, dashboard_url: str, world: DashboardWorld) -> None:
    _login(page, dashboard_url, "sydney", PASSWORDS["sydney"])
    page.get_by_text("Gross (AUD)").first.wait_for()
    page.get_by_text("Gross sales per day").first.wait_for()  # a plotly chart rendered
    body = page.inner_text("body")
    assert "Sydney Promoter" in body
    assert "Data as of" in body and "previous 30 days" in body
    for other in ("Gross (USD)", "Gross (GBP)", "Gross (NZD)"):
        assert other not in body
    tabs = [t.strip() for t in page.get_by_role("tab").all_inner_texts()]
    assert tabs == ["Sales", "Events", "Sessions", "Selling fast", "Orders"]
    _visit_views(page, "promoter", VIEWS)

    # The CSV export holds their rows only, emails masked; "All": every line of the account.
    _preset(page, "All")
    page.get_by_text("previous 30 days").wait_for(state="detached")
    # The previous run's elements are gone once the new run has drawn its own.
    expect(page.get_by_role("tab", name="Orders", exact=True)).to_have_count(1)
    _open(page, "Orders", "order lines shown")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    exported = pd.read_csv(download.value.path(), dtype=str)
    lines = [
        ln for ln in sales_lines(world.warehouse) if ln.account_id == exported["account_id"][0]
    ]
    assert len(exported) == len(lines)  # every line of the account, not just the page
    assert set(zip(exported["platform"], exported["account_id"], strict=True)) == {
        world.accounts.sydney
    }
    assert exported["purchaser_email"].str.match(r"^.\*\*\*@").all()


def test_admin_sees_every_currency_and_stale_accounts(
    page, dashboard_url: str, world: DashboardWorld
) -> None:
    _login(page, dashboard_url, "admin", PASSWORDS["admin"])
    page.get_by_text("Gross (USD)").first.wait_for()
    body = page.inner_text("body")
    for currency in ("AUD", "GBP", "NZD", "USD"):
        assert f"Gross ({currency})" in body
    _visit_views(
        page,
        "admin",
        [*VIEWS, ("Reconciliation", "the platform", "reconciliation")],
    )
    _open(page, "Accounts", "Every enabled account synced")
    _screenshot(page, "dashboard-admin-accounts.png")
