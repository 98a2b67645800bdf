"""``Warehouse.connect`` and ``Warehouse.begin``: the one way code opens a warehouse connection.

What callers rely on: the DuckDB file is let go as soon as the block ends (another process's
writer can open it at once), a read-only connection takes no writer lock, ``begin`` commits at
the end or rolls back on error, and a connection is never left open behind the block. Checked on
a real DuckDB file (a second process plays the other party: locks are per process) and on the
real PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from ticketing_pipeline.warehouse import Warehouse, WarehouseKind, WarehouseLockedError

# Opens the file in another process, as a writer or read-only, and says whether DuckDB let it.
OPEN_ELSEWHERE = """
import sys, duckdb
try:
    connection = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read_only")
    connection.execute("select 1").fetchall()
    connection.close()
    print("opened")
except duckdb.Error as error:
    print("refused:", error)
"""
# Holds the file read-only until its stdin closes.
HOLD_UNTIL_TOLD = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
sys.stdin.read()
connection.close()
"""


class Boom(RuntimeError):
    pass


def opened_elsewhere(path: Path, mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", OPEN_ELSEWHERE, str(path), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def duckdb_warehouse(tmp_path: Path) -> Warehouse:
    # No waiting: a held file fails at once, so a test that expects a conflict stays short.
    warehouse = Warehouse(
        WarehouseKind.DUCKDB, duckdb_path=tmp_path / "w.duckdb", lock_wait_seconds=0
    )
    with warehouse.begin() as connection:
        connection.exec_driver_sql("create table t (n integer)")
        connection.exec_driver_sql("insert into t values (1)")
    return warehouse


def count(warehouse: Warehouse) -> int:
    with warehouse.connect(read_only=True) as connection:
        return connection.exec_driver_sql("select count(*) from t").scalar_one()


def test_duckdb_file_is_released_when_the_block_ends(duckdb_warehouse: Warehouse) -> None:
    path = duckdb_warehouse.duckdb_path
    assert path is not None
    with duckdb_warehouse.connect() as connection:
        connection.exec_driver_sql("select 1")
        # While the writer holds it, another process cannot even read (the check can fail).
        assert opened_elsewhere(path, "read_only").startswith("refused:")
    assert opened_elsewhere(path, "write") == "opened"
    with duckdb_warehouse.begin() as connection:
        connection.exec_driver_sql("insert into t values (2)")
    assert opened_elsewhere(path, "write") == "opened"


def test_duckdb_read_only_takes_no_writer_lock(duckdb_warehouse: Warehouse) -> None:
    path = duckdb_warehouse.duckdb_path
    assert path is not None
    with duckdb_warehouse.connect(read_only=True) as connection:
        assert connection.exec_driver_sql("select count(*) from t").scalar_one() == 1
        # Another reader shares the file; only a writer is kept out.
        assert opened_elsewhere(path, "read_only") == "opened"
        assert opened_elsewhere(path, "write").startswith("refused:")
        with pytest.raises(sa.exc.DBAPIError, match="read-only"):
            connection.exec_driver_sql("insert into t values (2)")
    assert opened_elsewhere(path, "write") == "opened"


def test_duckdb_begin_rolls_back_on_error_and_releases(duckdb_warehouse: Warehouse) -> None:
    path = duckdb_warehouse.duckdb_path
    assert path is not None
    with pytest.raises(Boom), duckdb_warehouse.begin() as connection:
        connection.exec_driver_sql("insert into t values (2)")
        raise Boom
    assert count(duckdb_warehouse) == 1
    assert opened_elsewhere(path, "write") == "opened"


def test_duckdb_connect_keeps_only_what_the_block_commits(duckdb_warehouse: Warehouse) -> None:
    with duckdb_warehouse.connect() as connection:
        connection.exec_driver_sql("insert into t values (2)")
        connection.commit()
        connection.exec_driver_sql("insert into t values (3)")  # never committed
    assert count(duckdb_warehouse) == 2


def test_duckdb_writer_follows_the_lock_policy(duckdb_warehouse: Warehouse) -> None:
    path = duckdb_warehouse.duckdb_path
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_UNTIL_TOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "holding"
        # The policy's bound is 0 s here: the writer gives up at once, naming the holder.
        with (
            pytest.raises(WarehouseLockedError, match=f"PID {holder.pid}"),
            duckdb_warehouse.begin(),
        ):
            pass
        # A reader is not a writer: it shares the file with the other reader.
        assert count(duckdb_warehouse) == 1
    finally:
        holder.stdin.close()  # lets go of the file
        holder.wait(timeout=60)
    with duckdb_warehouse.begin() as connection:
        connection.exec_driver_sql("insert into t values (2)")
    assert count(duckdb_warehouse) == 2


def test_postgres_begin_commits_or_rolls_back(postgres_url: str) -> None:
    warehouse = Warehouse(WarehouseKind.POSTGRES, postgres_url=postgres_url)
    with warehouse.begin() as connection:
        connection.exec_driver_sql("create table t (n integer)")
        connection.exec_driver_sql("insert into t values (1)")
    with pytest.raises(Boom), warehouse.begin() as connection:
        connection.exec_driver_sql("insert into t values (2)")
        raise Boom
    with warehouse.connect() as connection:
        connection.exec_driver_sql("insert into t values (3)")  # rolled back at the end
    assert count(warehouse) == 1


def test_postgres_connection_is_closed_after_the_block(postgres_url: str) -> None:
    warehouse = Warehouse(WarehouseKind.POSTGRES, postgres_url=postgres_url)
    for opened in (warehouse.connect(), warehouse.connect(read_only=True), warehouse.begin()):
        with opened as connection:
            driver = connection.connection.dbapi_connection
            assert driver is not None and not driver.closed
        # Disposed, not returned to a pool: the server session is gone.
        assert driver.closed
