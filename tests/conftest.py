"""Shared fixtures: a real PostgreSQL database per test module, and the platform sandbox."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

POSTGRES_URL_ENV = "TICKETING_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "TICKETING_REQUIRE_POSTGRES"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _admin_url() -> str:
    return os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)


def _sqlalchemy(url: str) -> str:
    return "postgresql+psycopg2://" + url.split("://", 1)[1]


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The server's URL; skips (or fails, when CI requires it) if no server answers."""
    url = _admin_url()
    engine = sa.create_engine(_sqlalchemy(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except sa.exc.OperationalError as error:
        message = (
            f"no PostgreSQL server answers at {url.split('@')[-1]} ({error.orig}). Start one "
            "(`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or "
            f"point {POSTGRES_URL_ENV} at one."
        )
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test module, dropped afterwards."""
    name = f"ticketing_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_sqlalchemy(postgres_admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'create database "{name}"'))
    base = postgres_admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
