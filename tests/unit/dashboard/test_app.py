"""The Streamlit app through ``AppTest``: login, the promoter/admin difference, filters,
session expiry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.unit.dashboard.expected import expected_headline, sales_lines
from tests.unit.dashboard.fixtures import PASSWORDS, DashboardWorld, users_toml
from ticketing_pipeline.config import CONFIG_ENV
from ticketing_pipeline.dashboard.app import SESSION_KEY
from ticketing_pipeline.dashboard.auth import (
    LOGIN_FAILED,
    USERS_ENV,
    LoginSession,
    LoginThrottle,
    hash_password,
)
from ticketing_pipeline.dashboard.queries import account_key
from ticketing_pipeline.dashboard.run import APP_PATH

pytestmark = pytest.mark.xdist_group("dashboard")

PROMOTER_TABS = ["Sales", "Events", "Sessions", "Selling fast", "Orders"]


@pytest.fixture
def app(world: DashboardWorld, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv(CONFIG_ENV, str(world.config_path))
    monkeypatch.setenv(USERS_ENV, str(world.users_path))
    at = AppTest.from_file(str(APP_PATH), default_timeout=60)
    at.run()
    return at


def _login(at: AppTest, username: str, password: str | None = None) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password or PASSWORDS[username])
    at.button[0].click()
    return at.run()


def _labels(at: AppTest) -> list[str]:
    return [metric.label for metric in at.metric]


def _metric(at: AppTest, label: str) -> Decimal:
    (value,) = [m.value for m in at.metric if m.label == label]
    return Decimal(value.replace(",", ""))


def _table(at: AppTest, column: str) -> pd.DataFrame:
    """The first table of the page with ``column`` (AppTest does not expose table keys)."""
    for element in at.dataframe:
        if column in element.value.columns:
            return element.value
    raise AssertionError(f"no table with a {column} column")


def test_failed_logins_say_the_same_and_show_nothing(app: AppTest) -> None:
    assert not app.exception
    _login(app, "sydney", "wrong password")
    assert [e.value for e in app.error] == [LOGIN_FAILED]
    _login(app, "no-such-user", PASSWORDS["sydney"])
    assert [e.value for e in app.error] == [LOGIN_FAILED]
    assert not app.metric and not app.tabs


@pytest.fixture
def fresh_throttle() -> Iterator[None]:
    # The login throttle is one st.cache_resource per process: AppTest runs share it.
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def test_one_password_across_many_usernames_is_slowed(app: AppTest, fresh_throttle: None) -> None:
    """Password spraying: one password tried across many usernames from one client (AppTest
    has no client address: every attempt comes from the same, unknown one)."""
    for number in range(LoginThrottle().max_client_failures):
        _login(app, f"guess{number}", PASSWORDS["sydney"])
        assert [e.value for e in app.error] == [LOGIN_FAILED]
    # The client is slowed now: even a right password is refused, with the same message.
    _login(app, "sydney")
    assert [e.value for e in app.error] == [LOGIN_FAILED]
    assert not app.metric and SESSION_KEY not in app.session_state


def test_promoter_sees_only_their_account(app: AppTest, world: DashboardWorld) -> None:
    _login(app, "sydney")
    assert not app.exception, app.exception
    labels = _labels(app)
    assert "Gross (AUD)" in labels
    assert not [label for label in labels if "(" in label and "AUD" not in label]
    # Filter choices are scoped too: only their own account is offered.
    assert len(app.sidebar.multiselect(key="accounts").options) == 1
    # Reconciliation (a data-engineering view) is for admins only.
    assert [tab.label for tab in app.tabs] == PROMOTER_TABS
    orders = _table(app, "purchaser_email")
    assert len(orders) > 0
    assert set(zip(orders["platform"], orders["account_id"], strict=True)) == {
        world.accounts.sydney
    }
    assert orders["purchaser_email"].str.contains(r"^.\*\*\*@", regex=True).all()


def test_admin_sees_every_currency_and_the_accounts_tab(
    app: AppTest, world: DashboardWorld
) -> None:
    _login(app, "admin")
    assert not app.exception, app.exception
    currencies = {label[-4:-1] for label in _labels(app) if label.startswith("Gross (")}
    assert currencies == {"AUD", "GBP", "NZD", "USD"}
    assert [tab.label for tab in app.tabs] == [*PROMOTER_TABS, "Reconciliation", "Accounts"]
    accounts = _table(app, "last_successful_sync_at")
    assert len(accounts) == len(world.accounts.all)
    assert len(app.sidebar.multiselect(key="accounts").options) == len(world.accounts.all)
    assert any("Every enabled account synced" in s.value for s in app.success)
    orders = _table(app, "purchaser_email")
    assert not orders["purchaser_email"].str.contains(r"\*\*\*", regex=True).any()


def test_filters_narrow_the_figures(app: AppTest, world: DashboardWorld) -> None:
    lines = sales_lines(world.warehouse)
    _login(app, "admin")
    app.sidebar.radio(key="period_preset").set_value("All").run()
    app.sidebar.multiselect(key="accounts").select(account_key(*world.accounts.newyork)).run()
    assert not app.exception, app.exception
    expected = expected_headline(lines, accounts={world.accounts.newyork})
    assert [label for label in _labels(app) if label.startswith("Gross")] == ["Gross (USD)"]
    assert _metric(app, "Gross (USD)") == expected["USD"]["gross"].quantize(Decimal("0.01"))

    # The later half of the event's own sales days: the period then narrows the account's
    # figures and still holds sales of the event, whatever the sandbox's data looks like.
    days = sorted(
        {
            ln.local_date
            for ln in lines
            if (ln.platform, ln.account_id) == world.accounts.newyork
            and ln.event_id == world.accounts.newyork_event
        }
    )
    start, end = days[len(days) // 2], days[-1]
    app.sidebar.radio(key="period_preset").set_value("Custom").run()
    app.sidebar.date_input(key="period").set_value((start, end)).run()
    period = expected_headline(
        lines, accounts={world.accounts.newyork}, date_from=start, date_to=end
    )
    assert _metric(app, "Tickets sold") == period["USD"]["tickets_sold"]
    assert period["USD"]["tickets_sold"] < expected["USD"]["tickets_sold"]

    app.sidebar.multiselect(key="events").select(world.accounts.newyork_event).run()
    event_only = expected_headline(
        lines,
        accounts={world.accounts.newyork},
        events={world.accounts.newyork_event},
        date_from=start,
        date_to=end,
    )
    assert _metric(app, "Tickets sold") == event_only["USD"]["tickets_sold"]


def test_expired_session_asks_to_log_in_again(app: AppTest) -> None:
    _login(app, "sydney")
    assert app.metric
    session: LoginSession = app.session_state[SESSION_KEY]
    expired = LoginSession(
        session.user, datetime.now(UTC) - timedelta(seconds=1), session.password_hash
    )
    app.session_state[SESSION_KEY] = expired
    app.run()
    assert not app.metric
    assert any("expired" in info.value for info in app.info)
    assert app.text_input(key="login_username") is not None


def test_logout(app: AppTest) -> None:
    _login(app, "sydney")
    assert app.metric
    app.sidebar.button(key="logout").click().run()
    assert not app.metric and SESSION_KEY not in app.session_state


def test_user_without_grants_is_told(app: AppTest) -> None:
    _login(app, "nobody")
    assert not app.exception, app.exception
    assert any("No accounts or events are granted" in w.value for w in app.warning)
    assert not app.metric


def test_admin_is_told_about_stale_accounts(
    world: DashboardWorld, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    # A threshold of ~one second: every account's last successful sync is older than that.
    users = tmp_path / "users.toml"
    users.write_text(users_toml(world.accounts, stale_after_hours=0.0003))
    monkeypatch.setenv(CONFIG_ENV, str(world.config_path))
    monkeypatch.setenv(USERS_ENV, str(users))
    at = AppTest.from_file(str(APP_PATH), default_timeout=60)
    at.run()
    _login(at, "admin")
    warnings = [w.value for w in at.warning]
    assert f"{len(world.accounts.all)} account(s) are stale: see the Accounts tab." in warnings
    assert any(w.startswith("Stale accounts (no successful sync in") for w in warnings)
    assert _table(at, "is_stale")["is_stale"].all()
    # Promoters are not shown sync health.
    at = AppTest.from_file(str(APP_PATH), default_timeout=60)
    at.run()
    _login(at, "sydney")
    assert not [w for w in at.warning if "stale" in w.value]


def test_users_file_changes_apply_to_open_sessions(
    world: DashboardWorld, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    users = tmp_path / "users.toml"
    original = world.users_path.read_text()
    users.write_text(original)
    monkeypatch.setenv(CONFIG_ENV, str(world.config_path))
    monkeypatch.setenv(USERS_ENV, str(users))
    at = AppTest.from_file(str(APP_PATH), default_timeout=60)
    at.run()
    _login(at, "newyork")
    assert [m.label for m in at.metric if m.label.startswith("Gross")] == ["Gross (USD)"]
    # The grant moves to the Sydney account: the open session follows the file.
    sydney_platform, sydney_account = world.accounts.sydney
    moved = original.replace(
        f'account_id = "{world.accounts.newyork[1]}"\nevents = ["{world.accounts.newyork_event}"]',
        f'account_id = "{sydney_account}"',
    ).replace(
        f'platform = "{world.accounts.newyork[0]}"\naccount_id = "{sydney_account}"',
        f'platform = "{sydney_platform}"\naccount_id = "{sydney_account}"',
    )
    assert moved != original
    users.write_text(moved)
    at.run()
    assert [m.label for m in at.metric if m.label.startswith("Gross")] == ["Gross (AUD)"]
    # A new password ends the session.
    users.write_text(moved.replace(_hash_of(moved, "newyork"), hash_password("new password")))
    at.run()
    assert not at.metric and any("expired" in info.value for info in at.info)


def _hash_of(toml_text: str, username: str) -> str:
    import tomllib

    return tomllib.loads(toml_text)["users"][username]["password_hash"]
