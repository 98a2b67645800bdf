"""dlt source for one Humanitix account (Public API v1, see docs/platforms.md).

Humanitix has no account-wide orders or tickets endpoint, so the source lists the account's
events once (a hidden parent resource) and every other table is a transformer of those pages:
events, event dates (sessions), ticket types, and per event the orders and tickets changed since
the last sync (``since`` = last ``updatedAt`` minus a look-back window). Events that ended long
before the last sync are not polled again, so an incremental sync costs calls in proportion to
the events still active, not to the account's history.

Per-event pages are fetched for several events at once (``sync.humanitix_concurrency``): a
backfill of hundreds of events is otherwise one request at a time, waiting on the network.

Humanitix keeps data per region (every record's ``location``) and answers for the key owner's
region unless ``overrideLocation`` is sent. An account that lists ``regions`` has each listed
region's events read with that parameter, and their orders and tickets with the same one.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, TypeVar

import dlt
import pyarrow as pa
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from ticketing_pipeline.config import AccountConfig, SyncConfig
from ticketing_pipeline.sources.common import (
    AccountSecretAuth,
    as_utc,
    batched_tables,
    changed_rows_transformer,
    parse_utc,
)
from ticketing_pipeline.sources.http import PlatformClient
from ticketing_pipeline.sources.humanitix import tables
from ticketing_pipeline.sources.shaping import TableShape

PAGE_SIZE = 100  # the API's maximum
REGION_PARAM = "overrideLocation"

T = TypeVar("T")
R = TypeVar("R")


def map_in_order(
    fetch: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    stop: threading.Event | None = None,
) -> Iterator[R]:
    """``fetch(item)`` for every item, at most ``workers`` at once, results in the items' order.

    In order, so a run is deterministic. Fetching runs up to ``2 * workers`` items ahead of the
    one being consumed, so the network keeps busy while the consumer shapes a large batch, and
    memory stays bounded by those results. The first failure is raised as soon as its turn
    comes: the fetches still queued are cancelled and ``stop`` is set, for running ones to end.
    """
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield fetch(item)
        return
    ahead = 2 * workers
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="humanitix-fetch")
    try:
        remaining = iter(items)
        pending: deque[Future[R]] = deque(
            executor.submit(fetch, item) for item in islice(remaining, ahead)
        )
        while pending:
            result = pending.popleft().result()
            for item in remaining:  # keep `ahead` fetches queued while this one is consumed
                pending.append(executor.submit(fetch, item))
                break
            yield result
    finally:
        if stop is not None:
            stop.set()
        executor.shutdown(wait=True, cancel_futures=True)


class HumanitixPaginator(BasePaginator):
    """Page numbers from 1; stop when ``page * pageSize >= total`` (the API's own rule)."""

    def __init__(self) -> None:
        super().__init__()
        self.page = 1

    def init_request(self, request: Request) -> None:
        self.page = 1
        self._has_next_page = True
        self.update_request(request)

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        try:
            total, page, size = int(body["total"]), int(body["page"]), int(body["pageSize"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"Humanitix page without total/page/pageSize: {error}") from error
        self._has_next_page = bool(data) and page * size < total
        self.page = page + 1

    def update_request(self, request: Request) -> None:
        request.params = {**(request.params or {}), "page": self.page}


def _iso(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dlt.source(name="humanitix", max_table_nesting=0)
def humanitix_source(
    account: AccountConfig,
    sync: SyncConfig = SyncConfig(),
) -> Any:
    """All tables of one Humanitix account; merge keys are scoped by ``account_id``."""
    client = PlatformClient(account, AccountSecretAuth(account, "x-api-key"), sync)
    account_id = account.account_id
    lag = float(sync.lookback_seconds)

    # None: the key owner's region, without the parameter (what an account without regions gets).
    regions: tuple[str | None, ...] = account.regions or (None,)
    # The region each event was listed in: its orders and tickets are read in the same region.
    region_of_event: dict[str, str | None] = {}

    def pages(
        path: str,
        selector: str,
        params: dict[str, Any] | None = None,
        region: str | None = None,
    ) -> Iterator[list]:
        in_region = {REGION_PARAM: region} if region else {}
        for page in client.paginate(
            path,
            params={"pageSize": PAGE_SIZE, **(params or {}), **in_region},
            paginator=HumanitixPaginator(),
            data_selector=selector,
        ):
            yield list(page)

    def still_active(event: dict[str, Any], since: datetime | None) -> bool:
        """False for events that had ended long before the last sync: nothing changes there."""
        if since is None or sync.skip_events_ended_days is None:
            return True
        ends = parse_utc(event.get("endDate")) or parse_utc(event.get("startDate"))
        cutoff = as_utc(since) - timedelta(days=sync.skip_events_ended_days)
        return ends is None or ends >= cutoff

    @dlt.resource(name="event_pages", selected=False)
    def event_pages() -> Iterator[list[dict[str, Any]]]:
        # All events as ONE item: dlt advances a transformer's incremental cursor between the
        # items it receives, so a second page of events would have its older orders filtered
        # out. An account's events are few (hundreds), unlike its orders.
        events = []
        for region in regions:
            for page in pages("/events", "events", region=region):
                for event in page:
                    if event["_id"] not in region_of_event:
                        region_of_event[event["_id"]] = region
                        events.append(event)
        yield events

    events = changed_rows_transformer(event_pages, tables.EVENTS, account_id, "updated_at", lag)
    # Sessions and ticket types are written again when their event changed.
    event_dates = changed_rows_transformer(
        event_pages, tables.EVENT_DATES, account_id, "event_updated_at", lag, tables.event_date_rows
    )
    ticket_types = changed_rows_transformer(
        event_pages,
        tables.TICKET_TYPES,
        account_id,
        "event_updated_at",
        lag,
        tables.ticket_type_rows,
    )

    def changed_per_event(
        page: list[dict[str, Any]], entity: str, since: datetime | None
    ) -> Iterator[list]:
        params = {"since": _iso(since)} if since is not None else {}
        active = [event for event in page if still_active(event, since)]
        stop = threading.Event()  # set if the sync fails or stops: running fetches end early

        def fetch(event: dict[str, Any]) -> list[list]:
            path, region = f"/events/{event['_id']}/{entity}", region_of_event.get(event["_id"])
            fetched = []
            for event_page in pages(path, entity, params, region):
                if stop.is_set():
                    break
                fetched.append(event_page)
            return fetched

        for fetched in map_in_order(fetch, active, sync.humanitix_concurrency, stop):
            yield from fetched

    def changed_per_event_table(entity: str, shape: TableShape) -> Any:
        """Orders or tickets: per active event, those changed since the cursor (minus lag)."""

        @dlt.transformer(
            data_from=event_pages,
            name=entity,
            write_disposition="merge",
            primary_key=shape.primary_key,
        )
        def changed(
            page: list[dict[str, Any]],
            # "include": records set aside (rejected_records, no cursor) pass through; shaping
            # never lets a row without updated_at into the table itself.
            updated_at: dlt.sources.incremental[datetime] = dlt.sources.incremental(
                "updated_at", lag=lag, on_cursor_value_missing="include"
            ),
        ) -> Iterator[pa.Table]:
            since = updated_at.start_value
            yield from batched_tables(changed_per_event(page, entity, since), shape, account_id)

        return changed

    orders = changed_per_event_table("orders", tables.ORDERS)
    tickets = changed_per_event_table("tickets", tables.TICKETS)

    @dlt.resource(name="tags", write_disposition="merge", primary_key=tables.TAGS.primary_key)
    def tags() -> Iterator[pa.Table]:
        tag_pages = (page for region in regions for page in pages("/tags", "tags", region=region))
        yield from batched_tables(tag_pages, tables.TAGS, account_id)

    return event_pages, events, event_dates, ticket_types, orders, tickets, tags
