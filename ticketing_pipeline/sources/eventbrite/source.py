"""dlt source for one Eventbrite organization (API v3, see docs/platforms.md).

- Orders come from the organization-wide endpoint, incremental on ``changed`` via
  ``changed_since`` with a look-back window, ``status=all_not_deleted`` (asking only for active
  orders would lose refunds and cancellations) and ``expand=attendees``, so one stream of calls
  in proportion to what changed feeds both the ``orders`` and the ``attendees`` tables.
- Events (series occurrences are events of their own: each is a session) come with their venue
  expanded; ticket classes (with the platform's own ``quantity_sold`` counter) are read per event
  that is still active.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
import pyarrow as pa
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from ticketing_pipeline.config import AccountConfig, ConfigError, SyncConfig
from ticketing_pipeline.sources.common import (
    AccountSecretAuth,
    batched_tables,
    changed_rows_transformer,
    parse_utc,
    rebatch,
)
from ticketing_pipeline.sources.eventbrite import tables
from ticketing_pipeline.sources.http import PlatformClient


def _paginator() -> JSONResponseCursorPaginator:
    # Eventbrite's own rule: pass `continuation` until `has_more_items` is false.
    return JSONResponseCursorPaginator(
        cursor_path="pagination.continuation",
        cursor_param="continuation",
        has_more_path="pagination.has_more_items",
    )


@dlt.source(name="eventbrite", max_table_nesting=0)
def eventbrite_source(
    account: AccountConfig,
    sync: SyncConfig = SyncConfig(),
) -> Any:
    """All tables of one Eventbrite organization; merge keys are scoped by ``account_id``."""
    client = PlatformClient(account, AccountSecretAuth(account, "Authorization", "Bearer"), sync)
    org_id = account.account_id

    def pages(path: str, selector: str, params: dict[str, Any] | None = None) -> Iterator[list]:
        for page in client.paginate(
            path, params=params, paginator=_paginator(), data_selector=selector
        ):
            yield list(page)

    @dlt.resource(
        name="organizations",
        write_disposition="merge",
        primary_key=tables.ORGANIZATIONS.primary_key,
    )
    def organizations() -> Iterator[pa.Table]:
        mine = [
            org
            for page in pages("/users/me/organizations/", "organizations")
            for org in page
            if str(org.get("id")) == org_id
        ]
        if not mine:
            raise ConfigError(
                f"eventbrite account '{org_id}': the token in {account.secret_env} cannot see "
                f"organization {org_id}; check the account_id (the organization id)"
            )
        yield from tables.ORGANIZATIONS.to_items(mine, org_id)

    @dlt.resource(name="event_pages", selected=False)
    def event_pages() -> Iterator[list[dict[str, Any]]]:
        path = f"/organizations/{org_id}/events/"
        # event_sales_status: the only place an event says its sales ended or sold out.
        params = {"status": "all", "expand": "venue,event_sales_status"}
        # Occurrences and single events: each is a session.
        events = [event for page in pages(path, "events", params) for event in page]
        # With show_series_parent the API lists each series' parent *instead of* its
        # occurrences, so the parents (the series themselves) take a second listing.
        for page in pages(path, "events", {**params, "show_series_parent": "true"}):
            events += [event for event in page if event.get("is_series_parent")]
        # ONE item: dlt advances a transformer's incremental cursor between the items it
        # receives, which would filter out older rows of a later item.
        yield events

    events = changed_rows_transformer(
        event_pages, tables.EVENTS, org_id, "changed", float(sync.lookback_seconds)
    )

    @dlt.transformer(
        data_from=event_pages,
        name="venues",
        write_disposition="merge",
        primary_key=tables.VENUES.primary_key,
    )
    def venues(page: list[dict[str, Any]]) -> Iterator[pa.Table]:
        unique = {v["id"]: v for e in page if isinstance(v := e.get("venue"), dict) and v.get("id")}
        if unique:
            yield from tables.VENUES.to_items(unique.values(), org_id)

    @dlt.transformer(
        data_from=event_pages,
        name="ticket_classes",
        write_disposition="merge",
        primary_key=tables.TICKET_CLASSES.primary_key,
    )
    def ticket_classes(page: list[dict[str, Any]]) -> Iterator[pa.Table]:
        # Counters of events that ended long before the last sync no longer move.
        state = dlt.current.resource_state()
        last_sync = parse_utc(state.get("last_synced_at"))
        skip_days = sync.skip_events_ended_days
        cutoff = last_sync - timedelta(days=skip_days) if last_sync and skip_days else None

        def class_pages() -> Iterator[list[dict[str, Any]]]:
            for event in page:
                if event.get("is_series_parent"):
                    continue  # a parent sells nothing itself; its occurrences do
                ends = parse_utc((event.get("end") or {}).get("utc"))
                if cutoff and ends and ends < cutoff:
                    continue
                event_id = event["id"]
                for class_page in pages(f"/events/{event_id}/ticket_classes/", "ticket_classes"):
                    yield [tables.with_event_context(tc, event) for tc in class_page]

        yield from batched_tables(class_pages(), tables.TICKET_CLASSES, org_id)
        state["last_synced_at"] = datetime.now(UTC).isoformat()

    @dlt.resource(name="order_pages", selected=False)
    def order_pages(
        # "include": an order without `changed` reaches the orders table's shaping, which sets
        # it aside in rejected_records instead of failing the whole sync.
        changed: dlt.sources.incremental[str] = dlt.sources.incremental(
            "changed", lag=float(sync.lookback_seconds), on_cursor_value_missing="include"
        ),
    ) -> Iterator[list[dict[str, Any]]]:
        params = {"status": "all_not_deleted", "expand": "attendees"}
        if changed.start_value:
            since = parse_utc(changed.start_value)
            assert since is not None
            params["changed_since"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        # Larger batches than the API's pages of 50 keep per-table overhead in dlt negligible.
        yield from rebatch(pages(f"/organizations/{org_id}/orders/", "orders", params))

    @dlt.transformer(
        data_from=order_pages,
        name="orders",
        write_disposition="merge",
        primary_key=tables.ORDERS.primary_key,
    )
    def orders(page: list[dict[str, Any]]) -> Iterator[pa.Table]:
        yield from tables.ORDERS.to_items(page, org_id)

    @dlt.transformer(
        data_from=order_pages,
        name="attendees",
        write_disposition="merge",
        primary_key=tables.ATTENDEES.primary_key,
    )
    def attendees(page: list[dict[str, Any]]) -> Iterator[pa.Table]:
        rows = [attendee for order in page for attendee in order.get("attendees") or []]
        if rows:
            yield from tables.ATTENDEES.to_items(rows, org_id)

    return (
        organizations,
        event_pages,
        events,
        venues,
        ticket_classes,
        order_pages,
        orders,
        attendees,
    )
