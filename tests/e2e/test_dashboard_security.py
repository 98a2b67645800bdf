"""The dashboard's answers to an attacker, through a real browser against ``streamlit run``:

- a user removed from the users file gets no export from a tab they still have open;
- an export's ``/media/...csv`` URL stops answering once its browser session ends;
- wrong admin passwords from one client address do not lock the admin out elsewhere.

The server has its own users file (the tests edit it); client addresses reach the app as
``X-Forwarded-For``, which uvicorn trusts from a loopback peer (``FORWARDED_ALLOW_IPS``), as it
would from a reverse proxy on the same host.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import serve_dashboard
from tests.unit.dashboard.fixtures import PASSWORDS, DashboardWorld, users_toml_without
from ticketing_pipeline.dashboard.auth import LOGIN_FAILED, LoginThrottle

pytestmark = pytest.mark.xdist_group("dashboard")

TIMEOUT_MS = 30_000
# Documentation addresses (RFC 5737): only header values here, never contacted.
ATTACKER, ADMIN_DESK = "203.0.113.9", "198.51.100.7"


@pytest.fixture(scope="module")
def users_file(world: DashboardWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    users = tmp_path_factory.mktemp("security") / "dashboard_users.toml"
    users.write_text(world.users_path.read_text())
    return users


@pytest.fixture(scope="module")
def url(world: DashboardWorld, users_file: Path) -> Iterator[str]:
    with serve_dashboard(world.config_path, users_file) as served:
        yield served


@pytest.fixture
def restore_users(users_file: Path) -> Iterator[Path]:
    original = users_file.read_text()
    try:
        yield users_file
    finally:
        users_file.write_text(original)


def _context(browser, client: str | None = None):
    headers = {"X-Forwarded-For": client} if client else {}
    context = browser.new_context(
        viewport={"width": 1600, "height": 1200}, extra_http_headers=headers
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _login(page, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def _open_orders(page, url: str, username: str) -> None:
    _login(page, url, username, PASSWORDS[username])
    page.get_by_role("tab", name="Orders").click()
    page.get_by_role("button", name="Download CSV").wait_for()


def test_removed_user_gets_no_export_from_an_open_tab(
    browser, url: str, restore_users: Path, world: DashboardWorld
) -> None:
    context = _context(browser)
    page = context.new_page()
    try:
        _open_orders(page, url, "sydney")
        with page.expect_download() as first:  # the export works while the user exists ...
            page.get_by_role("button", name="Download CSV").click()
        assert len(pd.read_csv(first.value.path(), dtype=str)) > 0

        restore_users.write_text(users_toml_without(restore_users.read_text(), "sydney"))
        # ... and yields nothing once they are removed, without any page interaction first.
        downloads: list[object] = []
        page.on("download", lambda download: downloads.append(download))
        page.get_by_role("button", name="Download CSV").click()
        with pytest.raises(PlaywrightTimeout):
            page.wait_for_event("download", timeout=8_000)
        assert downloads == []
    finally:
        context.close()


def test_export_url_does_not_outlive_the_session(browser, url: str) -> None:
    context = _context(browser)
    page = context.new_page()
    try:
        _open_orders(page, url, "sydney")
        with page.expect_download() as download:
            page.get_by_role("button", name="Download CSV").click()
        media_url = download.value.url
        content = Path(download.value.path()).read_bytes()
    finally:
        context.close()  # the tab closes: its Streamlit session disconnects
    assert "/media/" in media_url and len(content) > 0
    deadline = time.monotonic() + 10
    status = requests.get(media_url, timeout=5).status_code
    while status == 200 and time.monotonic() < deadline:
        time.sleep(0.5)
        status = requests.get(media_url, timeout=5).status_code
    assert status == 404, f"{media_url} still answers {status} 10 s after its session ended"


def test_failed_logins_from_one_client_do_not_lock_the_admin_out(browser, url: str) -> None:
    attacker = _context(browser, ATTACKER)
    admin = _context(browser, ADMIN_DESK)
    try:
        page = attacker.new_page()
        for attempt in range(LoginThrottle().max_failures):
            _login(page, url, "admin", f"guess {attempt}")
            page.get_by_text(LOGIN_FAILED).wait_for()
        # The attacker's client is throttled for this username: the right password fails there.
        _login(page, url, "admin", PASSWORDS["admin"])
        page.get_by_text(LOGIN_FAILED).wait_for()
        assert page.get_by_text("Gross (USD)").count() == 0

        desk = admin.new_page()
        _login(desk, url, "admin", PASSWORDS["admin"])
        desk.get_by_text("Gross (USD)").first.wait_for()
    finally:
        attacker.close()
        admin.close()
