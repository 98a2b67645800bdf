"""Headless Chromium logs in to the running dashboard as a promoter and as an admin and checks
what each sees; screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.unit.dashboard.expected import sales_lines
from tests.unit.dashboard.fixtures import PASSWORDS, DashboardWorld
from ticketing_pipeline.dashboard.auth import LOGIN_FAILED

pytestmark = pytest.mark.xdist_group("dashboard")

TIMEOUT_MS = 30_000


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1600, "height": 1200})
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


def _screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


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
    for other in ("Gross (USD)", "Gross (GBP)", "Gross (NZD)"):
        assert other not in body
    tabs = [t.strip() for t in page.get_by_role("tab").all_inner_texts()]
    assert tabs == ["Sales", "Sessions", "Orders", "Reconciliation"]
    _screenshot(page, "dashboard-promoter.png")

    # The CSV export holds their rows only, emails masked.
    page.get_by_role("tab", name="Orders").click()
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
    page.get_by_role("tab", name="Accounts").click()
    page.get_by_text("Every enabled account synced").wait_for()
    _screenshot(page, "dashboard-admin.png")
