"""The orders CSV export: re-checked against the users file when it runs, and deleted from
Streamlit's media storage soon after (the browser-level proof is in tests/e2e)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from tests.unit.dashboard.expected import sales_lines
from tests.unit.dashboard.fixtures import PASSWORDS, DashboardWorld, users_toml_without
from ticketing_pipeline.dashboard.auth import (
    USERS_ENV,
    LoginSession,
    LoginThrottle,
    hash_password,
    load_users,
    login,
)
from ticketing_pipeline.dashboard.export import ExportJanitor, ExportRefused, orders_csv
from ticketing_pipeline.dashboard.queries import Filters

pytestmark = pytest.mark.xdist_group("dashboard")


@pytest.fixture
def users_file(world: DashboardWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    users = tmp_path / "users.toml"
    users.write_text(world.users_path.read_text())
    monkeypatch.setenv(USERS_ENV, str(users))
    return users


def _login(username: str) -> LoginSession:
    session = login(load_users(), LoginThrottle(), username, PASSWORDS[username], client=None)
    assert session is not None
    return session


def test_export_of_a_current_login_is_every_line_of_its_scope(
    world: DashboardWorld, users_file: Path
) -> None:
    session = _login("sydney")
    content = orders_csv(session, session.user.scope, world.warehouse, Filters(), "")
    exported = pd.read_csv(io.BytesIO(content), dtype=str)
    lines = sales_lines(world.warehouse)
    expected = [ln for ln in lines if (ln.platform, ln.account_id) == world.accounts.sydney]
    assert len(exported) == len(expected) > 0
    assert set(zip(exported["platform"], exported["account_id"], strict=True)) == {
        world.accounts.sydney
    }


def test_removed_user_exports_nothing(world: DashboardWorld, users_file: Path) -> None:
    session = _login("sydney")
    scope = session.user.scope
    users_file.write_text(users_toml_without(users_file.read_text(), "sydney"))
    assert "sydney" not in load_users().users
    with pytest.raises(ExportRefused):
        orders_csv(session, scope, world.warehouse, Filters(), "")


def test_changed_password_or_grants_export_nothing(world: DashboardWorld, users_file: Path) -> None:
    session = _login("newyork")
    scope = session.user.scope
    original = users_file.read_text()
    old_hash = session.password_hash
    users_file.write_text(original.replace(old_hash, hash_password("a new password")))
    with pytest.raises(ExportRefused):
        orders_csv(session, scope, world.warehouse, Filters(), "")
    # The grant widened to the whole account: the open page's export is refused, not widened.
    users_file.write_text(original.replace(f'events = ["{world.accounts.newyork_event}"]\n', ""))
    with pytest.raises(ExportRefused):
        orders_csv(session, scope, world.warehouse, Filters(), "")
    users_file.write_text(original)
    assert orders_csv(session, scope, world.warehouse, Filters(), "")


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _generate(manager: MediaFileManager, content: bytes) -> str:
    """Generate a download the way Streamlit does for a clicked ``st.download_button``;
    returns the stored file's name (``<id>.csv``)."""
    placeholder = manager.add_deferred(lambda: content, "text/csv", "0.1.2", "orders.csv")
    url = manager.execute_deferred(placeholder)
    return url.rsplit("/", 1)[1]


def test_janitor_deletes_an_export_after_its_ttl() -> None:
    manager = MediaFileManager(MemoryMediaFileStorage("/media"))
    clock = _Clock()
    janitor = ExportJanitor(ttl_seconds=30, clock=clock)
    name = _generate(manager, b"order_id\n1\n")
    janitor.track(manager, lambda: True)
    # Streamlit alone keeps it through one sweep (the end of some script run) ...
    manager.remove_orphaned_files()
    assert manager.read_file(name) is not None
    clock.now += 29
    assert janitor.collect() == 0 and manager.read_file(name) is not None
    clock.now += 1
    assert janitor.collect() == 1
    assert manager.read_file(name) is None and janitor.pending == 0


def test_janitor_deletes_an_export_when_its_session_ends() -> None:
    manager = MediaFileManager(MemoryMediaFileStorage("/media"))
    clock = _Clock()
    janitor = ExportJanitor(ttl_seconds=30, clock=clock)
    active = {"session": True}
    name = _generate(manager, b"order_id\n2\n")
    janitor.track(manager, lambda: active["session"])
    clock.now += 2
    assert janitor.collect() == 0 and manager.read_file(name) is not None
    active["session"] = False
    assert janitor.collect() == 1
    assert manager.read_file(name) is None


def test_janitor_leaves_files_a_session_still_shows() -> None:
    manager = MediaFileManager(MemoryMediaFileStorage("/media"))
    clock = _Clock()
    janitor = ExportJanitor(ttl_seconds=30, clock=clock)
    # A static download another session offers (mapped to its coordinates) ...
    shown = manager.add(b"other,session\n", "text/csv", "0.3", "other.csv", True)
    name = _generate(manager, b"order_id\n3\n")
    janitor.track(manager, lambda: False)
    clock.now += 2
    assert janitor.collect() == 1
    assert manager.read_file(name) is None
    assert manager.read_file(shown.rsplit("/", 1)[1]) is not None  # ... stays
