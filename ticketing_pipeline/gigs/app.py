"""The Gigs feed's HTTP API: FastAPI over a ``SnapshotStore``.

Every response is a pure function of (snapshot version, the current minute, the query), so it is
computed once, kept in a small LRU cache with its ETag, and answered ``304 Not Modified`` to a
client that already holds it. Browsers and CDNs may cache it for ``CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from threading import Lock
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from ticketing_pipeline.gigs.calendar import to_ics
from ticketing_pipeline.gigs.models import Gig, GigPage, Health, gig_from_session
from ticketing_pipeline.gigs.query import (
    MAX_PAGE_SIZE,
    BadCursor,
    GigFilter,
    day_bound,
    select,
)
from ticketing_pipeline.gigs.snapshot import Snapshot, SnapshotStore

CACHE_SECONDS = 30
CACHE_ENTRIES = 2048
ICS_MAX_GIGS = 1000
STATIC_DIR = Path(__file__).parent / "static"
# Module level: FastAPI resolves the endpoints' (postponed) annotations in this namespace.
From = Annotated[
    str | None,
    Query(alias="from", description="Sessions starting on or after this date or date-time."),
]
To = Annotated[
    str | None,
    Query(alias="to", description="Sessions starting before the end of this date (or time)."),
]
Platform = Annotated[str | None, Query(pattern="^(humanitix|eventbrite)$")]
Text = Annotated[str | None, Query(max_length=200, description="Words to find.")]
_CACHE_CONTROL = f"public, max-age={CACHE_SECONDS}, stale-while-revalidate={4 * CACHE_SECONDS}"


class _ResponseCache:
    """(key) -> (etag, body): bounded, thread-safe, least recently used out first."""

    def __init__(self, size: int = CACHE_ENTRIES) -> None:
        self._entries: OrderedDict[tuple, tuple[str, bytes]] = OrderedDict()
        self._size = size
        self._lock = Lock()
        self.hits = 0
        self.misses = 0

    def get_or_build(self, key: tuple, build: Callable[[], bytes]) -> tuple[str, bytes]:
        with self._lock:
            if (entry := self._entries.get(key)) is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry
        body = build()
        etag = 'W/"' + hashlib.blake2b(repr(key).encode() + body, digest_size=12).hexdigest() + '"'
        with self._lock:
            self.misses += 1
            self._entries[key] = (etag, body)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return etag, body


class _KnownAnswers:
    """Answers already given, by raw path and query, for the ASGI fast path in front of FastAPI.

    A repeated request (what a public page sends most) is answered from here without routing,
    parameter validation or the response model: several times the requests per second.
    """

    def __init__(self, size: int = CACHE_ENTRIES) -> None:
        self._entries: OrderedDict[tuple, tuple[str, bytes, str, str]] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, key: tuple) -> tuple[str, bytes, str, str] | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: tuple, answer: tuple[str, bytes, str, str]) -> None:
        with self._lock:
            self._entries[key] = answer
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class _FastPath:
    """Pure ASGI: a GET the feed answered before, for the same snapshot and minute, is sent
    straight from ``_KnownAnswers`` (with its ETag, 304 when the client holds it). Requests with
    an Origin header go through the app, so CORS headers stay FastAPI's middleware's job."""

    def __init__(self, app: Any, answers: _KnownAnswers, store: SnapshotStore) -> None:
        self.app = app
        self.answers = answers
        self.store = store

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            headers = dict(scope["headers"])
            if b"origin" not in headers:
                snapshot = self.store.snapshot
                key = (scope["path"], scope["query_string"], snapshot.version, _now_minute())
                if (answer := self.answers.get(key)) is not None:
                    await self._send(answer, headers.get(b"if-none-match", b""), send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _send(answer: tuple[str, bytes, str, str], if_none_match: bytes, send: Any) -> None:
        etag, body, media, data_as_of = answer
        held = etag.encode() in (t.strip() for t in if_none_match.split(b","))
        headers = [
            (b"etag", etag.encode()),
            (b"cache-control", _CACHE_CONTROL.encode()),
            (b"x-data-as-of", data_as_of.encode()),
        ]
        if held:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [
            (b"content-type", media.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _parse_moment(value: str | None, name: str, end_of_day: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        parsed: date | datetime = (
            date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        )
    except ValueError as error:
        raise HTTPException(400, f"{name}: expected YYYY-MM-DD or an ISO 8601 date-time") from error
    return day_bound(parsed, end_of_day=end_of_day)


def _now_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def gig_filter_from_query(
    starts_from: From = None,
    starts_before: To = None,
    city: str | None = None,
    country: str | None = None,
    platform: Platform = None,
    account: Annotated[str | None, Query(description="An account_id.")] = None,
    q: Text = None,
) -> GigFilter:
    """The filter both listings (the JSON pages and the calendar) read from their query."""
    return GigFilter(
        starts_from=_parse_moment(starts_from, "from"),
        starts_before=_parse_moment(starts_before, "to", end_of_day=True),
        city=city,
        country=country,
        platform=platform,
        account_id=account,
        text=q,
    )


GigQuery = Annotated[GigFilter, Depends(gig_filter_from_query)]


def create_app(store: SnapshotStore, start_refresh: bool = True) -> FastAPI:
    """The feed over ``store``; ``start_refresh`` runs the store's background refresh."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start_refresh:
            store.start()
        try:
            yield
        finally:
            if start_refresh:
                store.stop()

    app = FastAPI(
        title="Gigs feed",
        version="1",
        summary="Upcoming published sessions of every configured Humanitix and Eventbrite account.",
        lifespan=lifespan,
    )
    # A public calendar on another origin reads the feed: GET only, no credentials.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET"],
        expose_headers=["ETag", "X-Data-As-Of"],
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    cache = _ResponseCache()
    app.state.cache = cache
    answers = _KnownAnswers()
    app.add_middleware(_FastPath, answers=answers, store=store)  # outermost: added last
    app.state.store = store

    def conditional(
        request: Request,
        key: tuple,
        build: Callable[[], bytes],
        media: str,
        snapshot: Snapshot,
        minute: datetime,
    ) -> Response:
        """``snapshot`` and ``minute``: what ``build`` answers from (the fast path's key)."""
        etag, body = cache.get_or_build(key, build)
        data_as_of = snapshot.loaded_at.isoformat()
        headers = {"ETag": etag, "Cache-Control": _CACHE_CONTROL, "X-Data-As-Of": data_as_of}
        raw_key = (request.url.path, request.scope["query_string"], snapshot.version, minute)
        answers.put(raw_key, (etag, body, media, data_as_of))
        if etag in (t.strip() for t in request.headers.get("if-none-match", "").split(",")):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media, headers=headers)

    @app.get("/v1/gigs", response_model=GigPage, summary="Upcoming gigs, by start time")
    def list_gigs(
        request: Request,
        gig_filter: GigQuery,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
        cursor: Annotated[str | None, Query(max_length=500)] = None,
    ) -> Response:
        snapshot, now = store.snapshot, _now_minute()

        def build() -> bytes:
            try:
                sessions, next_cursor = select(snapshot.sessions, gig_filter, now, limit, cursor)
            except BadCursor as error:
                raise HTTPException(400, str(error)) from error
            page = GigPage(
                items=[gig_from_session(s) for s in sessions],
                next_cursor=next_cursor,
                data_as_of=snapshot.loaded_at,
            )
            return orjson.dumps(page.model_dump(mode="json"))

        key = ("list", snapshot.version, now, gig_filter.canonical(), limit, cursor)
        return conditional(request, key, build, "application/json", snapshot, now)

    @app.get("/v1/gigs/{gig_id}", response_model=Gig, summary="One gig by its id")
    def get_gig(request: Request, gig_id: str) -> Response:
        snapshot, now = store.snapshot, _now_minute()
        session = next((s for s in snapshot.sessions if s.session_key == gig_id), None)
        if session is None:
            raise HTTPException(404, "no upcoming published gig with this id")
        key = ("one", snapshot.version, gig_id)
        build = lambda: orjson.dumps(gig_from_session(session).model_dump(mode="json"))  # noqa: E731
        return conditional(request, key, build, "application/json", snapshot, now)

    def calendar(request: Request, gig_filter: GigFilter, name: str) -> Response:
        snapshot, now = store.snapshot, _now_minute()

        def build() -> bytes:
            sessions, _ = select(snapshot.sessions, gig_filter, now, ICS_MAX_GIGS)
            return to_ics((gig_from_session(s) for s in sessions), name, snapshot.loaded_at)

        key = ("ics", snapshot.version, now, gig_filter.canonical(), name)
        return conditional(request, key, build, "text/calendar; charset=utf-8", snapshot, now)

    ics = {200: {"content": {"text/calendar": {}}, "description": "An iCalendar file"}}

    @app.get("/v1/gigs.ics", response_class=Response, responses=ics, summary="Gigs as a calendar")
    def gigs_calendar(request: Request, gig_filter: GigQuery) -> Response:
        return calendar(request, gig_filter, "Gigs")

    @app.get(
        "/v1/accounts/{platform}/{account_id}/gigs.ics",
        response_class=Response,
        responses=ics,
        summary="One account's gigs as a calendar",
    )
    def account_calendar(request: Request, platform: str, account_id: str) -> Response:
        gig_filter = GigFilter(platform=platform, account_id=account_id)
        return calendar(request, gig_filter, f"Gigs: {platform} {account_id}")

    @app.get("/healthz", response_model=Health, summary="Is the feed serving fresh data")
    def health() -> Health:
        snapshot = store.snapshot
        return Health(
            ok=store.has_loaded and store.last_error is None,
            sessions=len(snapshot.sessions),
            data_as_of=snapshot.loaded_at if store.has_loaded else None,
            last_error=store.last_error,
        )

    @app.get("/", include_in_schema=False)
    def example_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    return app
