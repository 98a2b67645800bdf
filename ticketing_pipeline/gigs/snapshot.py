"""An in-memory copy of the sessions the feed can show, refreshed in the background.

Why not query the warehouse per request: on DuckDB a reader holding the file blocks every load and
dbt build (one writer, and no writer while another process reads), and a public calendar is read
far more often than the mart changes. The snapshot opens a read-only connection for a moment,
copies the published, not-yet-ended sessions (a few thousand rows even at a million orders),
closes it, and serves every request from memory. When the warehouse is busy or down, the last
snapshot keeps serving and its age is reported (``/healthz``, ``data_as_of`` in every page).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ticketing_pipeline.gigs.contract import FEED_COLUMNS, MARTS_SCHEMA, relation_name
from ticketing_pipeline.warehouse import Warehouse

log = logging.getLogger(__name__)

# Sessions that ended this long ago are not copied; the feed shows what has not ended yet.
KEEP_ENDED_FOR = timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    """One row of the mart, as the feed reads it (the columns of ``FEED_COLUMNS``)."""

    session_key: str
    platform: str
    account_id: str
    event_id: str
    session_id: str
    event_name: str | None
    session_name: str | None
    status: str
    is_published: bool | None
    starts_at: datetime | None
    ends_at: datetime | None
    timezone: str | None
    venue_name: str | None
    venue_address: str | None
    city: str | None
    country: str | None
    is_online: bool | None
    capacity: int | None
    tickets_remaining: int | None
    is_sold_out: bool
    currency: str | None
    min_price: Decimal | None
    max_price: Decimal | None
    ticket_url: str | None
    image_url: str | None
    updated_at: datetime | None
    # Lower-cased text the `q` filter searches: names, venue, city.
    search_text: str = field(default="", compare=False)

    @property
    def sort_key(self) -> tuple[datetime, str]:
        return (self.starts_at or datetime.max.replace(tzinfo=UTC), self.session_key)

    @property
    def ends_or_starts_at(self) -> datetime | None:
        return self.ends_at or self.starts_at


@dataclass(frozen=True)
class Snapshot:
    sessions: tuple[Session, ...]  # sorted by (starts_at, session_key)
    version: str  # changes whenever any copied value changes
    loaded_at: datetime

    @classmethod
    def empty(cls) -> Snapshot:
        return cls((), "empty", datetime.now(UTC))


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _session(row: dict[str, Any]) -> Session:
    values = {name: row[name] for name in FEED_COLUMNS}
    for name in ("starts_at", "ends_at", "updated_at"):
        values[name] = _utc(values[name])
    for name in ("min_price", "max_price"):
        if values[name] is not None:
            values[name] = Decimal(values[name])
    values["is_sold_out"] = bool(values["is_sold_out"])
    text = " ".join(
        str(values[name] or "")
        for name in ("event_name", "session_name", "venue_name", "city", "country")
    )
    return Session(**values, search_text=text.lower())


def read_snapshot(
    warehouse: Warehouse, version: int | None = None, ended_since: datetime | None = None
) -> Snapshot:
    """Copy the published sessions that have not ended from the mart (one short read).

    ``ended_since`` widens the copy to sessions that ended after it (a backfilled calendar, or a
    data set anchored in the past); by default sessions that ended ``KEEP_ENDED_FOR`` ago go.
    """
    table = sa.table(
        relation_name(version), *(sa.column(c) for c in FEED_COLUMNS), schema=MARTS_SCHEMA
    )
    since = ended_since or datetime.now(UTC) - KEEP_ENDED_FOR
    query = (
        sa.select(*(table.c[c] for c in FEED_COLUMNS))
        .where(table.c.is_published.is_(True))
        .where(table.c.status.in_(("live", "started")))
        .where(sa.func.coalesce(table.c.ends_at, table.c.starts_at) >= since)
    )
    with warehouse.connect(read_only=True) as connection:
        rows = [dict(row._mapping) for row in connection.execute(query)]
    sessions = tuple(sorted(map(_session, rows), key=lambda s: s.sort_key))
    digest = hashlib.sha256()
    for session in sessions:
        digest.update(repr(session).encode())
    return Snapshot(sessions, digest.hexdigest()[:16], datetime.now(UTC))


class SnapshotStore:
    """Holds the current snapshot and refreshes it every ``refresh_seconds`` in a thread.

    A failed refresh (the warehouse locked by a long write, the mart not built yet) keeps the
    previous snapshot and records the error; the next tick tries again.
    """

    def __init__(
        self,
        load: Callable[[], Snapshot],
        refresh_seconds: float = 30.0,
    ) -> None:
        self._load = load
        self.refresh_seconds = refresh_seconds
        self._snapshot = Snapshot.empty()
        self.last_error: str | None = None
        self.last_attempt_at: datetime | None = None
        self._has_loaded = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def has_loaded(self) -> bool:
        return self._has_loaded

    def refresh(self) -> bool:
        """Load a new snapshot now; False (and the old one kept) when that fails."""
        with self._lock:
            self.last_attempt_at = datetime.now(UTC)
            try:
                snapshot = self._load()
            except Exception as error:  # noqa: BLE001 - kept, reported by /healthz, retried
                self.last_error = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
                log.warning("Gigs feed: snapshot refresh failed: %s", self.last_error)
                return False
            self._snapshot = snapshot
            self._has_loaded = True
            self.last_error = None
            return True

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="gigs-snapshot", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            started = time.monotonic()
            self.refresh()
            log.debug("Gigs feed: snapshot refresh took %.3f s", time.monotonic() - started)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
