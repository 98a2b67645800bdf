"""Load landed webhook deliveries into the same raw tables the scheduled syncs write.

- Eventbrite deliveries are only references: the object is fetched from the API with the
  account's token, and only ever from the account's configured API base (the URL is rebuilt from
  that base; an ``api_url`` on any other host, scheme, port or path is rejected and no request
  is sent), then checked to belong to the account's organization.
- Relay deliveries carry the platform's own record (Humanitix has no webhooks; relays poll it).
  A record older than the stored row (an out-of-order delivery) never overwrites it.
- Rows merge on the same keys as the API sync's, so a sale seen by both paths is one row.
- An Eventbrite order or attendee also re-fetches its event's ticket classes (once per event per
  batch), so the platform's ``quantity_sold`` that reconciliation compares with stays current.
  Repeated hints for the same ``api_url`` in one batch are fetched once.

Each delivery either loads, or is moved to ``failed/`` with its reason; deliveries that could not
be processed because the platform or the warehouse was unavailable stay in ``incoming/`` and the
run fails, so the next attempt picks them up. One account's trouble never stops the others.

Nothing acknowledged is lost: a file moves to ``processed/`` only after the dlt package carrying
its rows is recorded as loaded in the warehouse (``_dlt_loads``), checked, not assumed. A package
a crashed run left behind is discarded before new data is extracted (its files are still in
``incoming/``, and re-reading them re-checks them against the rows stored since), so a crash at
any step is followed by a run that loads everything, exactly once.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dlt
import pyarrow as pa
import requests
import sqlalchemy as sa
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from ticketing_pipeline.config import AccountConfig, ConfigError, Platform, ProjectConfig
from ticketing_pipeline.ingest.sync import (
    build_pipeline,
    describe_failure,
    discard_pending_packages,
    run_pipeline,
)
from ticketing_pipeline.sources.common import AccountSecretAuth, as_utc, parse_utc
from ticketing_pipeline.sources.eventbrite import tables as eb
from ticketing_pipeline.sources.http import (
    MalformedResponseError,
    PlatformAPIError,
    PlatformClient,
    parse_json_exact,
)
from ticketing_pipeline.sources.humanitix import tables as hx
from ticketing_pipeline.sources.shaping import TableShape
from ticketing_pipeline.warehouse import RAW_SCHEMAS, Warehouse
from ticketing_pipeline.webhooks.landing import LandedDelivery, LandedFile, LandingArea

# The change cursor of each table: (record field, column). Newer wins.
CURSORS: dict[str, tuple[str, str]] = {
    "humanitix": ("updatedAt", "updated_at"),
    "eventbrite": ("changed", "changed"),
}
# Tables whose rows carry their own cursor (derived tables use their event's).
_CURSOR_TABLES = {"orders", "tickets", "events", "attendees"}


class DeliveryRejected(Exception):
    """This delivery can never be loaded; the message is kept with it in ``failed/``."""


@dataclass
class Planned:
    """Records to upsert for one account, newest per key."""

    platform: str
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, shape: TableShape, records: list[dict[str, Any]]) -> None:
        id_path = shape.columns[0].path
        cursor_field = CURSORS[self.platform][0]
        table = self.records[shape.name]
        for record in records:
            key = _dig(record, id_path)
            if key is None:
                raise DeliveryRejected(f"{shape.name} record without {'.'.join(id_path)}")
            key = str(key)
            if shape.name in _CURSOR_TABLES and not _cursor(record, cursor_field):
                raise DeliveryRejected(f"{shape.name} record {key} without {cursor_field}")
            known = table.get(key)
            if known is None or _cursor(record, cursor_field) >= _cursor(known, cursor_field):
                table[key] = record


@dataclass
class LandedLoadResult:
    loaded: list[Path] = field(default_factory=list)
    failed: dict[Path, str] = field(default_factory=dict)
    # Left in incoming/ because a dependency was down; the run reports them as an error.
    retry: dict[Path, str] = field(default_factory=dict)
    skipped_stale: int = 0
    rows: dict[tuple[str, str, str], int] = field(
        default_factory=dict
    )  # (platform, account, table)


def _dig(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _cursor(record: dict[str, Any], name: str) -> str:
    # Both platforms' cursors are ISO 8601 UTC texts of one fixed format, so text order is time
    # order; a missing cursor sorts first.
    value = record.get(name)
    return parse_utc(value).isoformat() if isinstance(value, str) and value else ""


SHAPES = {
    "humanitix": {
        s.name: s
        for s in (hx.EVENTS, hx.EVENT_DATES, hx.TICKET_TYPES, hx.ORDERS, hx.TICKETS, hx.TAGS)
    },
    "eventbrite": {
        s.name: s for s in (eb.EVENTS, eb.VENUES, eb.TICKET_CLASSES, eb.ORDERS, eb.ATTENDEES)
    },
}


# --- Relay deliveries: the record is in the body -------------------------------------------


def plan_relay(delivery: LandedDelivery, planned: Planned) -> None:
    envelope = parse_json_exact(delivery.raw_body())
    if not isinstance(envelope, dict) or not isinstance(envelope.get("data"), dict):
        raise DeliveryRejected("relay body has no 'data' object")
    entity = str(envelope.get("type", "")).split(".", 1)[0]
    record = envelope["data"]
    if delivery.platform == "humanitix":
        if entity == "order":
            planned.add(hx.ORDERS, [record])
            if tickets := record.get("tickets"):
                planned.add(hx.TICKETS, list(tickets))
        elif entity == "ticket":
            planned.add(hx.TICKETS, [record])
        elif entity == "event":
            planned.add(hx.EVENTS, [record])
            planned.add(hx.EVENT_DATES, hx.event_date_rows([record]))
            planned.add(hx.TICKET_TYPES, hx.ticket_type_rows([record]))
        elif entity == "tag":
            planned.add(hx.TAGS, [record])
        else:
            raise DeliveryRejected(f"unsupported Humanitix relay type '{envelope.get('type')}'")
    else:
        if entity == "order":
            planned.add(eb.ORDERS, [record])
            planned.add(eb.ATTENDEES, list(record.get("attendees") or []))
        elif entity == "attendee":
            planned.add(eb.ATTENDEES, [record])
        elif entity == "event":
            planned.add(eb.EVENTS, [record])
        else:
            raise DeliveryRejected(f"unsupported Eventbrite relay type '{envelope.get('type')}'")


# --- Eventbrite references: fetch the object from the account's own API base ----------------

_ORDER = re.compile(r"^/orders/(\d+)/?$")
_EVENT = re.compile(r"^/events/(\d+)/?$")
_ATTENDEE = re.compile(r"^/events/(\d+)/attendees/(\d+)/?$")
_TICKET_CLASS = re.compile(r"^/events/(\d+)/ticket_classes/(\d+)/?$")


def api_path_within_base(api_url: str, base_url: str) -> str:
    """The path of ``api_url`` below ``base_url``; raises if it points anywhere else.

    The object is then requested as base + this path, so the token can only go to the base.
    """
    url, base = urlsplit(api_url), urlsplit(base_url)
    if url.scheme != base.scheme or url.username or url.password:
        raise DeliveryRejected("api_url is not on the configured Eventbrite API base")
    if (url.hostname or "").lower() != (base.hostname or "").lower() or url.port != base.port:
        raise DeliveryRejected("api_url is not on the configured Eventbrite API base")
    base_path = base.path.rstrip("/")
    path = posixpath.normpath(url.path or "/")
    if not path.startswith(base_path + "/"):
        raise DeliveryRejected("api_url is not on the configured Eventbrite API base")
    return path[len(base_path) :] + "/"


def _synced_event_ids(warehouse: Warehouse, account_id: str) -> set[str]:
    """Ids of the Eventbrite events stored for the account (empty before its first sync)."""
    schema = RAW_SCHEMAS["eventbrite"]
    with warehouse.connect() as connection:
        if not sa.inspect(connection).has_table("events", schema=schema):
            return set()
        query = sa.text(
            f"select event_id from {schema}.events where account_id = :account"  # noqa: S608
        )
        return {str(row[0]) for row in connection.execute(query, {"account": account_id})}


class EventbriteFetcher:
    """Fetches referenced objects for one organization, checking they belong to it.

    One fetcher serves one batch: an object is fetched once per batch however many deliveries
    name it (a burst of ``order.updated`` hints for one order is one request)."""

    def __init__(
        self,
        account: AccountConfig,
        client: PlatformClient,
        synced_event_ids: Callable[[], set[str]] = set,
    ) -> None:
        self.account = account
        self.client = client
        # Events the account's own sync listed (read lazily, once): the proof of ownership for
        # old events that carry no organization_id.
        self._synced_event_ids = synced_event_ids
        self._synced: set[str] | None = None
        self._events: dict[str, dict[str, Any]] = {}
        self._objects: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
        self._ticket_classes: dict[str, list[dict[str, Any]]] = {}

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """The object at ``path`` (below the account's API base), fetched once per batch.

        Failures are not kept: the next delivery naming the object tries again."""
        key = (path, tuple(sorted((params or {}).items())))
        if key not in self._objects:
            self._objects[key] = self.client.get_json(path, params)
        return self._objects[key]

    def ticket_classes(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """All ticket classes of an event (every page), with the platform's ``quantity_sold``."""
        event_id = str(event["id"])
        if event_id not in self._ticket_classes:
            paginator = JSONResponseCursorPaginator(
                cursor_path="pagination.continuation",
                cursor_param="continuation",
                has_more_path="pagination.has_more_items",
            )
            pages = self.client.paginate(
                f"/events/{event_id}/ticket_classes/",
                paginator=paginator,
                data_selector="ticket_classes",
            )
            try:
                self._ticket_classes[event_id] = [
                    eb.with_event_context(ticket_class, event)
                    for page in pages
                    for ticket_class in page
                ]
            except PlatformAPIError as error:
                if error.status not in (404, 410):
                    raise  # the platform is down: the delivery is retried
                # No classes to refresh; the order or attendee itself still loads.
                self._ticket_classes[event_id] = []
        return self._ticket_classes[event_id]

    def event(self, event_id: str) -> dict[str, Any]:
        if event_id not in self._events:
            event = self.get(f"/events/{event_id}/", {"expand": "venue"})
            owner = event.get("organization_id")
            if owner is None:
                # Old events lack organization_id (tests/fixtures/real: the 2015 theodi event):
                # they belong to the account if its own event listing returned them.
                if self._synced is None:
                    self._synced = self._synced_event_ids()
                if event_id not in self._synced:
                    raise DeliveryRejected(
                        f"event {event_id} has no organization_id and is not among the events "
                        f"synced for organization {self.account.account_id}; the next "
                        "scheduled sync loads it if it is theirs"
                    )
            elif str(owner) != self.account.account_id:
                raise DeliveryRejected(
                    f"event {event_id} belongs to another organization, not "
                    f"{self.account.account_id}"
                )
            self._events[event_id] = event
        return self._events[event_id]

    def plan(self, delivery: LandedDelivery, planned: Planned) -> None:
        if not delivery.api_url:
            raise DeliveryRejected("Eventbrite delivery without api_url")
        path = api_path_within_base(delivery.api_url, self.account.api_base_url)
        if match := _ORDER.match(path):
            order = self.get(f"/orders/{match[1]}/", {"expand": "attendees"})
            event = self.event(str(order.get("event_id")))
            planned.add(eb.ORDERS, [order])
            planned.add(eb.ATTENDEES, list(order.get("attendees") or []))
            # A sale moves its ticket classes' quantity_sold, which reconciliation compares.
            planned.add(eb.TICKET_CLASSES, self.ticket_classes(event))
        elif match := _EVENT.match(path):
            event = self.event(match[1])
            planned.add(eb.EVENTS, [event])
            if isinstance(event.get("venue"), dict):
                planned.add(eb.VENUES, [event["venue"]])
        elif match := _ATTENDEE.match(path):
            event = self.event(match[1])
            planned.add(eb.ATTENDEES, [self.get(path)])
            planned.add(eb.TICKET_CLASSES, self.ticket_classes(event))
        elif match := _TICKET_CLASS.match(path):
            event = self.event(match[1])
            ticket_class = self.get(path)
            planned.add(eb.TICKET_CLASSES, [eb.with_event_context(ticket_class, event)])
        else:
            raise DeliveryRejected(f"unsupported Eventbrite api_url path '{path}'")


# --- Loading ----------------------------------------------------------------------------------


def _stored_cursors(
    warehouse: Warehouse, platform: str, table: str, account_id: str, keys: list[str]
) -> dict[str, Any]:
    """The stored change cursor of these rows (absent when the table or row does not exist)."""
    schema = RAW_SCHEMAS[platform]
    id_column = SHAPES[platform][table].columns[0].name
    cursor_column = CURSORS[platform][1]
    with warehouse.connect() as connection:
        if not sa.inspect(connection).has_table(table, schema=schema):
            return {}
        query = sa.text(
            f"select {id_column}, {cursor_column} from {schema}.{table} "  # noqa: S608
            f"where account_id = :account and {id_column} in :keys"
        ).bindparams(sa.bindparam("keys", expanding=True))
        found = connection.execute(query, {"account": account_id, "keys": keys})
        return {str(key): cursor for key, cursor in found}


def _drop_stale(warehouse: Warehouse, planned: Planned, account_id: str) -> int:
    """Remove records older than what is stored: an out-of-order delivery changes nothing."""
    dropped = 0
    for table, records in planned.records.items():
        if table not in _CURSOR_TABLES or not records:
            continue
        stored = _stored_cursors(warehouse, planned.platform, table, account_id, list(records))
        cursor_field = CURSORS[planned.platform][0]
        for key in list(records):
            new = parse_utc(records[key].get(cursor_field))
            old = stored.get(key)
            if old is not None and new is not None and new < as_utc(old):
                del records[key]
                dropped += 1
    return dropped


def _load(
    warehouse: Warehouse, config: ProjectConfig, account: AccountConfig, planned: Planned
) -> dict[str, int]:
    """Load the planned rows; returns once their package is verified committed, raises if not."""
    tables: dict[str, pa.Table] = {}
    for name, records in planned.records.items():
        if records:
            shape = SHAPES[planned.platform][name]
            tables[name] = shape.to_arrow(records.values(), account.account_id, "webhook")
    if not tables:
        return {}
    resources = [
        dlt.resource(
            table,
            name=name,
            write_disposition="merge",
            primary_key=SHAPES[planned.platform][name].primary_key,
        )
        for name, table in tables.items()
    ]
    pipeline = build_pipeline(account, warehouse, config.data_dir, path="webhooks")
    # A package a crashed run left holds rows of files still in incoming/ (files move only after
    # their package is committed); they are re-read, so the package is thrown away, not loaded.
    discard_pending_packages(pipeline)
    # Extracts this batch into its own package and checks that package is in _dlt_loads. The
    # warehouse's lock policy: a DuckDB file held by a reader delays the load (bounded).
    outcome = run_pipeline(pipeline, _webhook_source(planned.platform, resources), warehouse)
    if not outcome.load_ids:
        raise RuntimeError(f"{account.key}: the webhook rows made no load package")
    return {name: table.num_rows for name, table in tables.items()}


def _webhook_source(platform: str, resources: list[Any]) -> Any:
    # Its own schema name: the API pipelines' schemas (and cursors) stay untouched.
    @dlt.source(name=f"{platform}_webhooks", max_table_nesting=0)
    def webhook_rows() -> list[Any]:
        return resources

    return webhook_rows()


def load_landed(
    config: ProjectConfig,
    warehouse: Warehouse,
    area: LandingArea,
    files: list[LandedFile | Path],
) -> LandedLoadResult:
    """Load these landed files; move each to processed/ or failed/ (or leave it to retry)."""
    result = LandedLoadResult()
    by_account: dict[str, list[tuple[Path, LandedDelivery]]] = defaultdict(list)
    for file in files:
        path = file.path if isinstance(file, LandedFile) else Path(file)
        try:
            delivery = area.read(path)
        except FileNotFoundError:
            continue  # already moved by an earlier run
        except ValueError as error:
            result.failed[path] = f"unreadable landed file: {error}"
            area.mark_failed(path, result.failed[path])
            continue
        by_account[delivery.account_key].append((path, delivery))

    for account_key, deliveries in by_account.items():
        try:
            _load_account(config, warehouse, area, account_key, deliveries, result)
        except Exception as error:  # noqa: BLE001 - one account's trouble never stops the others
            # Not loaded (or not verified loaded): the files stay in incoming/ for the next run.
            reason = f"{account_key}: {describe_failure(error)}"
            for path, _ in deliveries:
                if path not in result.failed and path not in result.loaded:
                    result.retry.setdefault(path, reason)
    return result


def _load_account(
    config: ProjectConfig,
    warehouse: Warehouse,
    area: LandingArea,
    account_key: str,
    deliveries: list[tuple[Path, LandedDelivery]],
    result: LandedLoadResult,
) -> None:
    try:
        account = config.account_by_key(account_key)
    except ConfigError:
        account = None
    if account is None or not account.enabled:
        for path, _ in deliveries:
            result.failed[path] = f"account {account_key} is not configured or not enabled"
            area.mark_failed(path, result.failed[path])
        return

    planned = Planned(platform=account.platform.value)
    fetcher = None
    if account.platform is Platform.EVENTBRITE:
        client = PlatformClient(
            account, AccountSecretAuth(account, "Authorization", "Bearer"), config.sync
        )
        fetcher = EventbriteFetcher(
            account, client, lambda: _synced_event_ids(warehouse, account.account_id)
        )
    ready: list[Path] = []
    for path, delivery in deliveries:
        attempt = Planned(platform=planned.platform)
        try:
            if delivery.kind == "relay":
                plan_relay(delivery, attempt)
            elif fetcher is not None:
                fetcher.plan(delivery, attempt)
            else:
                raise DeliveryRejected(f"{delivery.kind} deliveries are not for {account.key}")
            # Shaped alone first: a record no column can hold fails its own delivery, not the
            # whole batch at load time.
            for table, records in attempt.records.items():
                SHAPES[attempt.platform][table].to_arrow(records.values(), account.account_id)
        except DeliveryRejected as error:
            result.failed[path] = str(error)
            area.mark_failed(path, str(error))
            continue
        except PlatformAPIError as error:
            if error.status in (404, 410):  # the object is gone: nothing to load, ever
                result.failed[path] = str(error)
                area.mark_failed(path, str(error))
            else:
                result.retry[path] = str(error)
            continue
        except (requests.RequestException, MalformedResponseError) as error:
            # The platform did not answer whole even after dlt's retries: try again later.
            result.retry[path] = f"{type(error).__name__}: {error}"
            continue
        except ValueError as error:  # not JSON, a wrong shape, a value no column can hold
            result.failed[path] = f"malformed delivery: {error}"
            area.mark_failed(path, result.failed[path])
            continue
        except ConfigError as error:  # e.g. the account's API secret is not set
            result.retry[path] = str(error)
            continue
        for table, records in attempt.records.items():
            planned.add(SHAPES[planned.platform][table], list(records.values()))
        ready.append(path)

    result.skipped_stale += _drop_stale(warehouse, planned, account.account_id)
    rows = _load(warehouse, config, account, planned)
    for table, count in rows.items():
        result.rows[(account.platform.value, account.account_id, table)] = count
    result.loaded += area.mark_processed(ready)
