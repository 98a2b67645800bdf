"""Dashboard users, their grants, password hashing and login sessions.

Users live in their own TOML file (``dashboard_users.toml``, or the path in
``TICKETING_DASHBOARD_USERS``), not in the project config: who may read the dashboard changes
on another rhythm than which accounts are synced. Passwords are stored only as argon2id hashes;
make one with ``python -m ticketing_pipeline.dashboard.auth hash-password``. The format is in
README.md beside this file.
"""

from __future__ import annotations

import getpass
import os
import sys
import threading
import time
import tomllib
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ticketing_pipeline.dashboard.scope import Grant, Scope

USERS_ENV = "TICKETING_DASHBOARD_USERS"
DEFAULT_USERS_FILE = "dashboard_users.toml"
# The one message for every failed login: it must not tell which part was wrong.
LOGIN_FAILED = "Invalid username or password."

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when the username is unknown, so an unknown user costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password: equalises timing of unknown users")


class DashboardConfigError(Exception):
    """The users file is missing or invalid; the message says what to fix."""


class Role(StrEnum):
    ADMIN = "admin"
    PROMOTER = "promoter"


class GrantConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: str
    account_id: str
    # Omitted: every event of the account.
    events: list[str] | None = None
    # Show purchaser emails of these rows unmasked.
    emails: bool = False

    def to_grant(self) -> Grant:
        events = tuple(self.events) if self.events is not None else None
        return Grant(self.platform, self.account_id, events, self.emails)


class UserConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    password_hash: str
    role: Role = Role.PROMOTER
    display_name: str | None = None
    grants: list[GrantConfig] = []

    @field_validator("password_hash")
    @classmethod
    def _argon2_only(cls, value: str) -> str:
        # A plain-text password pasted here by mistake must fail loudly, never log anyone in.
        if not value.startswith("$argon2"):
            raise ValueError(
                "must be an argon2 hash (python -m ticketing_pipeline.dashboard.auth "
                "hash-password), never a plain password"
            )
        return value


class UsersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # A login lasts this long; then the user signs in again.
    session_ttl_minutes: int = Field(default=480, gt=0)
    # Admins see an account as stale when its last successful sync is older than this.
    stale_after_hours: float = Field(default=6.0, gt=0)
    users: dict[str, UserConfig] = {}


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: Role
    scope: Scope

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True)
class LoginSession:
    user: User
    expires_at: datetime
    # The hash the user logged in with (kept server-side): a password change ends the session.
    password_hash: str = ""

    def is_valid(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) < self.expires_at

    def is_current(self, users: UsersConfig, now: datetime | None = None) -> bool:
        """Not expired, and the user still exists with the same password."""
        config = users.users.get(self.user.username)
        return (
            self.is_valid(now) and config is not None and config.password_hash == self.password_hash
        )

    def current_user(self, users: UsersConfig, now: datetime | None = None) -> User | None:
        """The user as the users file says now (role and grants re-read), or None when the
        session expired, the user was removed or their password changed."""
        if not self.is_current(users, now):
            return None
        return user_from_config(self.user.username, users.users[self.user.username])


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` for the users file."""
    if not password:
        raise ValueError("the password is empty")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def users_path(path: Path | str | None = None) -> Path:
    if path is not None:
        return Path(path)
    return Path(os.environ.get(USERS_ENV, DEFAULT_USERS_FILE))


def load_users(path: Path | str | None = None) -> UsersConfig:
    file = users_path(path)
    if not file.exists():
        raise DashboardConfigError(
            f"dashboard users file {file} does not exist; create it (see "
            f"ticketing_pipeline/dashboard/README.md) or point {USERS_ENV} at it"
        )
    try:
        raw = tomllib.loads(file.read_text())
    except tomllib.TOMLDecodeError as error:
        raise DashboardConfigError(f"{file}: not valid TOML: {error}") from error
    try:
        return UsersConfig.model_validate(raw)
    except ValidationError as error:
        lines = [f"  - {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        raise DashboardConfigError(f"{file}: invalid users file:\n" + "\n".join(lines)) from error


def user_from_config(username: str, config: UserConfig) -> User:
    if config.role is Role.ADMIN:
        scope = Scope.admin()
    else:
        scope = Scope.promoter([g.to_grant() for g in config.grants])
    return User(username, config.display_name or username, config.role, scope)


def authenticate(users: UsersConfig, username: str, password: str) -> User | None:
    """The user when the password matches; None otherwise, whatever was wrong."""
    config = users.users.get(username)
    # Always run one argon2 verification, so timing does not reveal whether the user exists.
    ok = verify_password(config.password_hash if config else _DUMMY_HASH, password)
    if config is None or not ok:
        return None
    return user_from_config(username, config)


def start_session(user: User, users: UsersConfig, now: datetime | None = None) -> LoginSession:
    now = now or datetime.now(UTC)
    expires_at = now + timedelta(minutes=users.session_ttl_minutes)
    return LoginSession(user, expires_at, users.users[user.username].password_hash)


# The client of a login whose address is unknown: Streamlit reports loopback connections (a
# local browser, or a reverse proxy on this host that sends no X-Forwarded-For) as no address.
UNKNOWN_CLIENT = "local"
_THROTTLE_KEY_CHARS = 256


class LoginThrottle:
    """Slows password guessing without letting anyone lock another user out (per process).

    Failures are counted per (username, client address) and per client address:

    - ``max_failures`` failures for one username from one client within the window refuse that
      username *from that client* for the rest of the window. The same user logging in from
      another address is not affected, so an attacker cannot lock out the admin.
    - ``max_client_failures`` failures from one client, whatever the usernames, refuse every
      login from that client: one password tried across many usernames is slowed too.

    A success clears only its own (username, client) count: the client's count stays, so an
    attacker holding one valid account cannot reset the limit by logging in between guesses.
    A refusal looks like any failed login. Attempts refused while blocked are not counted, so a
    block ends when the window has passed since the failures that caused it.
    """

    def __init__(
        self,
        max_failures: int = 5,
        window_seconds: float = 300.0,
        max_client_failures: int = 20,
    ) -> None:
        self.max_failures = max_failures
        self.max_client_failures = max_client_failures
        self.window = window_seconds
        # Only the newest ``limit`` failures matter for "limit within the window", so each
        # deque is bounded; keys whose failures all left the window are pruned (see _prune).
        self._by_user: dict[tuple[str, str], deque[float]] = {}
        self._by_client: dict[str, deque[float]] = {}
        self._prune_at = 1024
        self._lock = threading.Lock()

    def _count(self, failures: deque[float] | None, now: float) -> int:
        return 0 if failures is None else sum(1 for at in failures if at > now - self.window)

    def blocked(self, username: str, client: str, now: float | None = None) -> bool:
        with self._lock:
            now = time.monotonic() if now is None else now
            return (
                self._count(self._by_user.get((username, client)), now) >= self.max_failures
                or self._count(self._by_client.get(client), now) >= self.max_client_failures
            )

    def failed(self, username: str, client: str, now: float | None = None) -> None:
        with self._lock:
            now = time.monotonic() if now is None else now
            key = (username, client)
            self._by_user.setdefault(key, deque(maxlen=self.max_failures)).append(now)
            self._by_client.setdefault(client, deque(maxlen=self.max_client_failures)).append(now)
            if len(self._by_user) > self._prune_at:
                self._prune(now)

    def succeeded(self, username: str, client: str) -> None:
        with self._lock:
            self._by_user.pop((username, client), None)

    def _prune(self, now: float) -> None:
        # Guessing many usernames must not grow memory without bound: drop keys whose newest
        # failure left the window (they no longer block anything).
        horizon = now - self.window
        for table in (self._by_user, self._by_client):
            for key in [k for k, failures in table.items() if failures[-1] <= horizon]:
                del table[key]
        self._prune_at = max(1024, 2 * len(self._by_user))


def login(
    users: UsersConfig,
    throttle: LoginThrottle,
    username: str,
    password: str,
    *,
    client: str | None,
) -> LoginSession | None:
    """Authenticate with throttling; a session on success, None (say LOGIN_FAILED) otherwise.

    ``client`` is the address the attempt comes from (``st.context.ip_address``); None (a
    loopback connection) counts as one client, ``UNKNOWN_CLIENT``.
    """
    username = username.strip()
    client = client or UNKNOWN_CLIENT
    # The throttle keeps keys of failed usernames: a megabyte "username" is kept cut.
    key = username[:_THROTTLE_KEY_CHARS]
    if throttle.blocked(key, client):
        verify_password(_DUMMY_HASH, password)  # same cost as a real attempt
        return None
    user = authenticate(users, username, password)
    if user is None:
        throttle.failed(key, client)
        return None
    throttle.succeeded(key, client)
    return start_session(user, users)


def hash_password_cli() -> int:
    """``hash-password``: read a password (twice on a terminal, else one line of stdin) and
    print its argon2 hash for the users file."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        print(hash_password(password))
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["hash-password"]:
        print("usage: python -m ticketing_pipeline.dashboard.auth hash-password", file=sys.stderr)
        return 2
    return hash_password_cli()


if __name__ == "__main__":
    raise SystemExit(main())
