"""Users file, argon2 hashing, login, throttling and session expiry (no warehouse needed)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ticketing_pipeline.dashboard import auth
from ticketing_pipeline.dashboard.auth import (
    LOGIN_FAILED,
    DashboardConfigError,
    LoginThrottle,
    Role,
    UsersConfig,
    authenticate,
    hash_password,
    load_users,
    login,
    start_session,
    verify_password,
)
from ticketing_pipeline.dashboard.scope import Grant

README = Path(auth.__file__).with_name("README.md")


@pytest.fixture(scope="module")
def users() -> UsersConfig:
    return UsersConfig.model_validate(
        {
            "session_ttl_minutes": 30,
            "users": {
                "ada": {"role": "admin", "password_hash": hash_password("ada-pw")},
                "sam": {
                    "password_hash": hash_password("sam-pw"),
                    "grants": [
                        {"platform": "humanitix", "account_id": "hx-1"},
                        {
                            "platform": "eventbrite",
                            "account_id": "42",
                            "events": ["e1"],
                            "emails": True,
                        },
                    ],
                },
            },
        }
    )


def test_hash_is_salted_argon2id_and_verifies() -> None:
    first, second = hash_password("pw"), hash_password("pw")
    assert first.startswith("$argon2id$") and first != second
    assert verify_password(first, "pw") and verify_password(second, "pw")
    assert not verify_password(first, "pW")
    assert not verify_password("not-a-hash", "pw")
    with pytest.raises(ValueError):
        hash_password("")


def test_readme_example_users_file_is_valid() -> None:
    block = re.search(r"```toml\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    example = UsersConfig.model_validate(__import__("tomllib").loads(block.group(1)))
    assert example.users["ada"].role is Role.ADMIN
    sam = auth.user_from_config("sam", example.users["sam"])
    assert sam.scope.grants == (
        Grant("humanitix", "hx-acc-1"),
        Grant("eventbrite", "274938113000", ("700000000023",), emails=True),
    )


def test_load_users_errors_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(auth.USERS_ENV, raising=False)
    with pytest.raises(DashboardConfigError, match=auth.USERS_ENV):
        load_users(tmp_path / "missing.toml")
    plain = tmp_path / "plain.toml"
    plain.write_text('[users.bob]\npassword_hash = "hunter2"\n')
    with pytest.raises(DashboardConfigError, match="argon2"):
        load_users(plain)
    typo = tmp_path / "typo.toml"
    typo.write_text(f'[users.bob]\npassword_hash = "{hash_password("x")}"\nrole = "root"\n')
    with pytest.raises(DashboardConfigError, match="users.bob.role"):
        load_users(typo)
    good = tmp_path / "good.toml"
    good.write_text(f'[users.bob]\npassword_hash = "{hash_password("x")}"\n')
    monkeypatch.setenv(auth.USERS_ENV, str(good))
    assert list(load_users().users) == ["bob"]


def test_authenticate(users: UsersConfig) -> None:
    ada = authenticate(users, "ada", "ada-pw")
    assert ada is not None and ada.is_admin and ada.scope.is_admin
    sam = authenticate(users, "sam", "sam-pw")
    assert sam is not None and not sam.is_admin
    assert sam.scope.grants[1] == Grant("eventbrite", "42", ("e1",), emails=True)
    assert authenticate(users, "sam", "ada-pw") is None
    assert authenticate(users, "nobody", "sam-pw") is None


def test_unknown_user_costs_a_verification(
    users: UsersConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda h, p: calls.append(h) or real(h, p))
    assert authenticate(users, "nobody", "x") is None
    assert authenticate(users, "sam", "x") is None
    assert len(calls) == 2  # one argon2 check each: no timing difference between the two


ATTACKER, ADMIN_DESK = "203.0.113.9", "198.51.100.7"


def test_throttle_blocks_a_username_from_one_client(users: UsersConfig) -> None:
    throttle = LoginThrottle(max_failures=3, window_seconds=60)
    for _ in range(3):
        assert login(users, throttle, "sam", "wrong", client=ATTACKER) is None
    # Now even the right password is refused from that client, with the same (absent) answer.
    assert login(users, throttle, "sam", "sam-pw", client=ATTACKER) is None
    assert login(users, throttle, "ada", "ada-pw", client=ATTACKER) is not None  # other users
    assert not throttle.blocked("sam", ATTACKER, now=10**9)  # the window passes


def test_failures_from_one_client_do_not_lock_the_user_out_elsewhere(users: UsersConfig) -> None:
    """Five wrong admin passwords from an attacker must not lock the admin out."""
    throttle = LoginThrottle()
    for _ in range(throttle.max_failures):
        assert login(users, throttle, "ada", "guess", client=ATTACKER) is None
    assert login(users, throttle, "ada", "ada-pw", client=ATTACKER) is None  # throttled there
    assert login(users, throttle, "ada", "ada-pw", client=ADMIN_DESK) is not None
    # A loopback client (no address) is a client of its own, not a wildcard.
    assert login(users, throttle, "ada", "ada-pw", client=None) is not None


def test_one_password_across_many_usernames_is_slowed(users: UsersConfig) -> None:
    throttle = LoginThrottle()
    for number in range(throttle.max_client_failures):
        assert login(users, throttle, f"user{number}", "Summer2025!", client=ATTACKER) is None
    # The client is now refused for every username, even with a right password ...
    assert login(users, throttle, "sam", "sam-pw", client=ATTACKER) is None
    # ... and nobody else is.
    assert login(users, throttle, "sam", "sam-pw", client=ADMIN_DESK) is not None
    assert not throttle.blocked("sam", ATTACKER, now=10**9)  # until the window passes


def test_a_success_does_not_reset_the_client_limit(users: UsersConfig) -> None:
    # An attacker with one valid account must not wipe its spraying count by logging in.
    throttle = LoginThrottle(max_client_failures=4)
    for number in range(3):
        assert login(users, throttle, f"user{number}", "x", client=ATTACKER) is None
    assert login(users, throttle, "sam", "sam-pw", client=ATTACKER) is not None
    assert login(users, throttle, "user9", "x", client=ATTACKER) is None
    assert login(users, throttle, "sam", "sam-pw", client=ATTACKER) is None


def test_throttle_memory_is_bounded() -> None:
    throttle = LoginThrottle(window_seconds=10)
    for number in range(5000):
        throttle.failed(f"user{number}", f"10.0.{number // 250}.{number % 250}", now=number)
    # Only the keys whose failures are still within the window survive a prune.
    assert len(throttle._by_user) < 2100


def test_session_expires(users: UsersConfig) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    user = authenticate(users, "sam", "sam-pw")
    assert user is not None
    session = start_session(user, users, now=now)
    assert session.is_valid(now + timedelta(minutes=29))
    assert not session.is_valid(now + timedelta(minutes=30, seconds=1))
    assert session.is_current(users, now + timedelta(minutes=1))
    reset = users.model_copy(
        update={
            "users": {
                **users.users,
                "sam": users.users["sam"].model_copy(
                    update={"password_hash": hash_password("new")}
                ),
            }
        }
    )
    assert not session.is_current(reset, now + timedelta(minutes=1))  # password changed
    removed = users.model_copy(update={"users": {"ada": users.users["ada"]}})
    assert not session.is_current(removed, now + timedelta(minutes=1))  # user removed
    assert session.current_user(removed, now + timedelta(minutes=1)) is None
    assert session.current_user(users, now + timedelta(minutes=31)) is None  # expired
    regranted = users.model_copy(
        update={
            "users": {
                **users.users,
                "sam": users.users["sam"].model_copy(update={"grants": []}),
            }
        }
    )
    current = session.current_user(regranted, now + timedelta(minutes=1))
    assert current is not None and current.scope.grants == ()  # grants as the file says now
    fresh = login(users, LoginThrottle(), "  sam ", "sam-pw", client=None)
    assert fresh is not None and fresh.is_valid()


def test_login_failure_message_names_no_part() -> None:
    assert "username or password" in LOGIN_FAILED.lower()


def test_hash_password_cli_reads_stdin() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ticketing_pipeline.dashboard.auth", "hash-password"],
        input="s3cret pass\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert verify_password(done.stdout.strip(), "s3cret pass")
    usage = subprocess.run(
        [sys.executable, "-m", "ticketing_pipeline.dashboard.auth"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert usage.returncode == 2 and "hash-password" in usage.stderr
