"""The orders CSV export: generated on demand for a live, re-checked login, and short-lived.

How Streamlit serves it (``st.download_button`` with a callable, Streamlit 1.67): the page
carries only a placeholder id. A click asks the server over the browser session's WebSocket to
run the callable (``MediaFileManager.execute_deferred``, on a worker thread, *not* a script
run, so none of the page's checks run); the bytes go into the in-memory media storage and the
browser fetches them from ``/media/<hash>.csv``. That route checks no session, and a generated
export is referenced by no session, so Streamlit deletes it only after two orphan sweeps (the
ends of later script runs, of any session): on an idle server it stays fetchable indefinitely,
also after its tab closed.

So here:

- ``orders_csv`` re-reads the users file before it queries: the login must still be current
  (user present, same password hash, not expired) and the user's scope must be the one the
  page was drawn with (same role and grants); otherwise ``ExportRefused`` and no data. The
  query uses the scope from the file as it is now.
- ``ExportJanitor`` deletes each generated export from the media storage ``ttl_seconds`` after
  it was made (the browser fetches it at once), and within about a second when its browser
  session disconnects, whichever comes first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from streamlit.runtime.media_file_manager import MediaFileManager

from ticketing_pipeline.dashboard.auth import LoginSession, load_users
from ticketing_pipeline.dashboard.queries import ORDERS_EXPORT_LIMIT, DashboardQueries, Filters
from ticketing_pipeline.dashboard.scope import Scope
from ticketing_pipeline.warehouse import Warehouse

_LOGGER = logging.getLogger(__name__)

# How long a generated export stays fetchable at its /media URL. The browser starts the
# download as soon as it gets the URL; once a response has started, deleting the file does not
# cut it short (the route already holds the bytes).
EXPORT_URL_SECONDS = 30.0
# A disconnected session's export is deleted only once it is this old: the callable returns
# before Streamlit stores its bytes, and a sweep in between would miss them.
_STORE_GRACE_SECONDS = 1.0


class ExportRefused(PermissionError):
    """The login behind an export is no longer current, or its grants changed."""


def orders_csv(
    login: LoginSession,
    scope: Scope,
    warehouse: Warehouse,
    filters: Filters,
    search: str,
    limit: int = ORDERS_EXPORT_LIMIT,
) -> bytes:
    """The order lines of ``filters``/``search`` as CSV, after re-checking the login against
    the users file as it is now.

    ``scope`` is the scope the page was drawn with; an export for any other (a grant revoked or
    added since) is refused rather than silently widened or narrowed: the next page interaction
    draws the page, and a new export button, for the new grants.
    """
    user = login.current_user(load_users())
    if user is None:
        raise ExportRefused("the login is no longer valid: log in again")
    if user.scope != scope:
        raise ExportRefused("the user's grants changed: reload the page")
    # Its own queries object, so its own connection: this runs on a worker thread.
    frame = DashboardQueries(warehouse, user.scope).orders(filters, search, limit)
    return frame.to_csv(index=False).encode()


@dataclass
class _Generated:
    manager: MediaFileManager
    session_active: Callable[[], bool]
    made_at: float


class ExportJanitor:
    """Deletes generated exports from Streamlit's media storage (one per server process).

    Streamlit offers no call to delete one stored file, and names a generated file by a hash
    of its bytes. ``MediaFileManager.remove_orphaned_files`` (public, thread-safe) deletes
    media no live session references; called twice it also deletes downloadable files, which
    a single call only marks. A generated export is never referenced by a session, so two
    sweeps delete it; files a live session shows or offers (referenced) are never touched.
    """

    def __init__(
        self,
        ttl_seconds: float = EXPORT_URL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl_seconds
        self._clock = clock
        self._generated: list[_Generated] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def track(self, manager: MediaFileManager, session_active: Callable[[], bool]) -> None:
        """Note an export being generated now for the browser session ``session_active``
        reports on; its file is stored in ``manager``."""
        with self._lock:
            self._generated.append(_Generated(manager, session_active, self._clock()))

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._generated)

    def collect(self) -> int:
        """Sweep the storage of every export that is due; returns how many were due."""
        now = self._clock()
        due: list[_Generated] = []
        kept: list[_Generated] = []
        with self._lock:
            for generated in self._generated:
                (due if self._is_due(generated, now) else kept).append(generated)
            self._generated = kept
        for manager in {id(g.manager): g.manager for g in due}.values():
            manager.remove_orphaned_files()  # marks downloadable orphans
            manager.remove_orphaned_files()  # deletes them
        return len(due)

    def _is_due(self, generated: _Generated, now: float) -> bool:
        age = now - generated.made_at
        if age >= self.ttl:
            return True
        return age >= _STORE_GRACE_SECONDS and not generated.session_active()

    def start(self, interval_seconds: float = 0.5) -> ExportJanitor:
        """Collect in a daemon thread every ``interval_seconds`` (once; later calls no-op)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, args=(interval_seconds,), name="export-janitor", daemon=True
                )
                self._thread.start()
        return self

    def _run(self, interval_seconds: float) -> None:
        while True:
            time.sleep(interval_seconds)
            try:
                if self.pending:
                    self.collect()
            except Exception:  # the janitor must outlive one failed sweep
                _LOGGER.exception("sweeping generated exports failed")
