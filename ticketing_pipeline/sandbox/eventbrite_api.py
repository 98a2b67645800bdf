"""Eventbrite API v3, served under ``/eventbrite/v3`` (shapes: docs/platforms.md).

Lists answer ``{"pagination": {...}, "<items>": [...]}`` with pages of 50 by default. The
``continuation`` token is opaque to clients; here it is a keyset position (the last
``(changed, id)`` served) plus the first page's counts, so rows that change while a client is
paging move to the end instead of shifting pages, and nothing is skipped. On the last page
``has_more_items`` is false and ``continuation`` is absent.

Orders and attendees are sorted ascending by ``(changed, id)``; ``changed_since`` keeps rows with
``changed >= changed_since`` and ``last_item_seen`` drops rows with ``changed == changed_since``
and ``id <= last_item_seen``. Order ``status``: ``active`` (placed, the default), ``inactive``
(refunded, cancelled), ``both`` (everything, deleted included), ``all_not_deleted``.
A token reaches only its organizations: another organization's object is a 403, a missing one
a 404. Unknown query parameters are ignored, as Eventbrite does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ticketing_pipeline.sandbox.dataset import (
    EB_ATT_ATTENDING,
    EB_ATT_NOT_ATTENDING,
    EB_ORDER_CANCELLED,
    EB_ORDER_DELETED,
    EB_ORDER_PLACED,
    EB_ORDER_REFUNDED,
    EbEvent,
    SandboxDataset,
)
from ticketing_pipeline.sandbox.errors import ApiError, eventbrite_error, json_response
from ticketing_pipeline.sandbox.eventbrite_auth import checked_org, forbidden, token_org_ids
from ticketing_pipeline.sandbox.eventbrite_records import (
    eb_event_sales_status,
    eb_organization_record,
    eb_ticket_class_record,
)
from ticketing_pipeline.sandbox.formats import dump, parse_eventbrite_time

PREFIX = "/eventbrite/v3"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

ORDER_STATUS = {
    "active": frozenset({EB_ORDER_PLACED}),
    "inactive": frozenset({EB_ORDER_REFUNDED, EB_ORDER_CANCELLED}),
    "both": frozenset({EB_ORDER_PLACED, EB_ORDER_REFUNDED, EB_ORDER_CANCELLED, EB_ORDER_DELETED}),
    "all_not_deleted": frozenset({EB_ORDER_PLACED, EB_ORDER_REFUNDED, EB_ORDER_CANCELLED}),
}
ATTENDEE_STATUS = {
    None: frozenset({EB_ATT_ATTENDING, EB_ATT_NOT_ATTENDING}),
    "attending": frozenset({EB_ATT_ATTENDING}),
    "not_attending": frozenset({EB_ATT_NOT_ATTENDING}),
    "unpaid": frozenset(),
}
EVENT_STATUSES = ("draft", "live", "started", "ended", "completed", "canceled")
EVENT_ORDER_BY = {
    "start_asc": (lambda e: (e.start_ms, e.id), False),
    "start_desc": (lambda e: (e.start_ms, e.id), True),
    "created_asc": (lambda e: (e.created_ms, e.id), False),
    "created_desc": (lambda e: (e.created_ms, e.id), True),
    "name_asc": (lambda e: (e.name, e.id), False),
    "name_desc": (lambda e: (e.name, e.id), True),
}
BIG = 1 << 30

Handler = Callable[[Request, SandboxDataset], Response]


def _endpoint(handler: Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        ds: SandboxDataset = request.app.state.dataset
        try:
            with ds.lock:
                return handler(request, ds)
        except ApiError as error:
            return eventbrite_error(error.status, error.message, error.code)

    return endpoint


def _args_error(name: str) -> ApiError:
    return ApiError(
        400, f"There are errors with your arguments: {name} - INVALID", "ARGUMENTS_ERROR"
    )


def _event(request: Request, ds: SandboxDataset) -> EbEvent:
    org_ids = token_org_ids(request, ds)
    event = ds.eb_events.get(request.path_params["event_id"])
    if event is None:
        raise ApiError(404, "The event you requested does not exist.")
    if event.org_id not in org_ids:
        raise forbidden()
    return event


def _expand(request: Request) -> set[str]:
    raw = request.query_params.get("expand", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _page_size(request: Request) -> int:
    raw = request.query_params.get("page_size")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise _args_error("page_size") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise _args_error("page_size")
    return size


def _fingerprint(request: Request) -> str:
    """The query minus paging, so a continuation cannot be replayed against another query."""
    items = sorted(
        (k, v) for k, v in request.query_params.multi_items() if k not in ("continuation", "token")
    )
    return hashlib.sha1(repr((request.url.path.rstrip("/"), items)).encode()).hexdigest()[:12]


def _encode(token: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(token)).decode().rstrip("=")


def _decode(request: Request) -> dict[str, Any] | None:
    raw = request.query_params.get("continuation")
    if not raw:
        return None
    try:
        token = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise _args_error("continuation") from None
    if not isinstance(token, dict) or token.get("q") != _fingerprint(request):
        raise _args_error("continuation")
    return token


# What a last page says about ``continuation``, per list: the captures show all three (present
# with ``has_more_items: false`` on organizations, null on ticket classes, absent on events and
# attendees). Only ``has_more_items`` decides; a client that follows a last page's token anyway
# gets an empty page. Orders use "present", the case that traps a client looping on the token.
LAST_PAGE_TOKEN = {
    "organizations": "present",
    "ticket_classes": "null",
    "events": "absent",
    "attendees": "absent",
    "orders": "present",
}


def _pagination(
    request: Request,
    count: int,
    page_number: int,
    size: int,
    has_more: bool,
    next_token: Any,
    last_page_token: str = "absent",
) -> dict[str, Any]:
    pagination: dict[str, Any] = {
        "object_count": count,
        "page_number": page_number,
        "page_size": size,
        "page_count": max(1, -(-count // size)),
        "has_more_items": has_more,
    }
    if has_more or (last_page_token == "present" and next_token is not None):
        next_token["q"] = _fingerprint(request)
        pagination["continuation"] = _encode(next_token)
    elif last_page_token == "null":
        pagination["continuation"] = None
    return pagination


def _body(pagination: dict[str, Any], key: bytes, items: list[bytes]) -> Response:
    return json_response(
        b'{"pagination":' + orjson.dumps(pagination) + b',"%s":[' % key + b",".join(items) + b"]}"
    )


def _keyset_page(
    request: Request,
    index: list[tuple[int, str, int]],
    allowed: frozenset[int],
    since_s: int | None,
    last_item_seen: str | None,
    last_page_token: str = "absent",
) -> tuple[list[str], dict[str, Any]]:
    """Page through an index sorted by (changed, id), filtered by flag; returns ids + pagination."""
    size = _page_size(request)
    token = _decode(request)
    if token is not None:
        ts, last_id = token["k"]
        start = bisect_right(index, (ts, last_id, BIG))
        count, page_number = token["c"], token["n"]
    else:
        if since_s is None:
            start = 0
        elif last_item_seen:
            start = bisect_right(index, (since_s, last_item_seen, BIG))
        else:
            start = bisect_left(index, (since_s,))
        page_number = 1
        if "page" in request.query_params:
            # Eventbrite also takes page numbers; the continuation token is the robust way.
            try:
                page_number = max(1, int(request.query_params["page"]))
            except ValueError:
                raise _args_error("page") from None
        # Counted once, on the first page; the token carries it to the following pages.
        count = sum(1 for e in index[start:] if e[2] in allowed)
        if page_number > 1:
            skip = (page_number - 1) * size
            for i in range(start, len(index)):
                if index[i][2] in allowed:
                    skip -= 1
                    if skip < 0:
                        start = i
                        break
            else:
                start = len(index)
    ids: list[str] = []
    i, n = start, len(index)
    while i < n and len(ids) < size:
        entry = index[i]
        if entry[2] in allowed:
            ids.append(entry[1])
        i += 1
    has_more = False
    if len(ids) == size:
        for j in range(i, n):
            if index[j][2] in allowed:
                has_more = True
                break
    next_token = None
    if i > 0 and (has_more or last_page_token == "present"):
        last = index[i - 1]
        next_token = {"k": [last[0], last[1]], "c": count, "n": page_number + 1}
    pagination = _pagination(
        request, count, page_number, size, has_more, next_token, last_page_token
    )
    return ids, pagination


def _changed_since(request: Request) -> int | None:
    raw = request.query_params.get("changed_since")
    if raw is None:
        return None
    value = parse_eventbrite_time(raw)
    if value is None:
        raise _args_error("changed_since")
    return value // 1000


def _order_bytes(ds: SandboxDataset, order_id: str, expand: set[str]) -> bytes:
    raw = ds.eb_orders[order_id]
    if not expand & {"attendees", "event"}:
        return raw
    event = ds.eb_order_event[order_id]
    extra = []
    if "attendees" in expand:
        attendees = b",".join([event.attendees[a] for a in event.order_attendees[order_id]])
        extra.append(b'"attendees":[' + attendees + b"]")
    if "event" in expand:
        extra.append(b'"event":' + event.record)
    return raw[:-1] + b"," + b",".join(extra) + b"}"


def _event_bytes(ds: SandboxDataset, event: EbEvent, expand: set[str]) -> bytes:
    extra = []
    if "event_sales_status" in expand:
        occurrences = [ds.eb_events[c] for c in event.children] if event.is_parent else [event]
        status = eb_event_sales_status(event, occurrences, ds.now_ms)
        extra.append(b'"event_sales_status":' + orjson.dumps(status))
    if "venue" in expand:
        venue = ds.eb_venues.get(event.venue_id or "")
        extra.append(b'"venue":' + (venue[1] if venue else b"null"))
    if "ticket_classes" in expand:
        classes = [eb_ticket_class_record(event, tc, ds.now_ms) for tc in event.ticket_classes]
        extra.append(b'"ticket_classes":' + orjson.dumps(classes))
    if not extra:
        return event.record
    return event.record[:-1] + b"," + b",".join(extra) + b"}"


def _orders(request: Request, ds: SandboxDataset, index: list[tuple[int, str, int]]) -> Response:
    status = request.query_params.get("status", "active")
    if status not in ORDER_STATUS:
        raise _args_error("status")
    since = _changed_since(request)
    last_item_seen = request.query_params.get("last_item_seen")
    ids, pagination = _keyset_page(
        request, index, ORDER_STATUS[status], since, last_item_seen, LAST_PAGE_TOKEN["orders"]
    )
    expand = _expand(request)
    return _body(pagination, b"orders", [_order_bytes(ds, i, expand) for i in ids])


# --- handlers ----------------------------------------------------------------------------------


def me(request: Request, ds: SandboxDataset) -> Response:
    org_ids = token_org_ids(request, ds)
    first = ds.eb_orgs[org_ids[0]]
    user = {
        "emails": [{"email": f"admin@{first.id}.example.com", "verified": True, "primary": True}],
        "id": f"{int(first.id) % 10**11 + 3:011d}",
        "name": f"{first.name} Admin",
        "first_name": first.name,
        "last_name": "Admin",
        "is_public": False,
        "image_id": None,
    }
    return json_response(orjson.dumps(user))


def my_organizations(request: Request, ds: SandboxDataset) -> Response:
    org_ids = token_org_ids(request, ds)
    orgs = [dump(eb_organization_record(ds.eb_orgs[o])) for o in org_ids]
    pagination = _pagination(
        request,
        len(orgs),
        1,
        max(len(orgs), DEFAULT_PAGE_SIZE),
        False,
        {"o": len(orgs), "n": 2},
        LAST_PAGE_TOKEN["organizations"],
    )
    return _body(pagination, b"organizations", orgs)


def org_events(request: Request, ds: SandboxDataset) -> Response:
    org = checked_org(request, ds)
    params = request.query_params
    statuses = set((params.get("status") or "all").split(","))
    if not statuses <= {*EVENT_STATUSES, "all"}:
        raise _args_error("status")
    time_filter = params.get("time_filter", "all")
    if time_filter not in ("all", "past", "current_future"):
        raise _args_error("time_filter")
    order_by = params.get("order_by", "start_asc")
    if order_by not in EVENT_ORDER_BY:
        raise _args_error("order_by")
    show_parent = params.get("show_series_parent", "false").lower()
    if show_parent not in ("true", "false"):
        raise _args_error("show_series_parent")
    now = ds.now_ms
    events = []
    for event_id in org.event_ids:
        event = ds.eb_events[event_id]
        # Series parents replace their occurrences when show_series_parent=true.
        if show_parent == "true" and event.series_id and not event.is_parent:
            continue
        if show_parent == "false" and event.is_parent:
            continue
        if "all" not in statuses and event.status not in statuses:
            continue
        if time_filter == "past" and event.end_ms >= now:
            continue
        if time_filter == "current_future" and event.end_ms < now:
            continue
        events.append(event)
    key, reverse = EVENT_ORDER_BY[order_by]
    events.sort(key=key, reverse=reverse)
    size = _page_size(request)
    token = _decode(request)
    offset, page_number = (token["o"], token["n"]) if token else (0, 1)
    chunk = events[offset : offset + size]
    has_more = offset + size < len(events)
    next_token = {"o": offset + size, "n": page_number + 1} if has_more else None
    pagination = _pagination(
        request, len(events), page_number, size, has_more, next_token, LAST_PAGE_TOKEN["events"]
    )
    expand = _expand(request)
    return _body(pagination, b"events", [_event_bytes(ds, e, expand) for e in chunk])


def org_orders(request: Request, ds: SandboxDataset) -> Response:
    return _orders(request, ds, checked_org(request, ds).order_index)


def event_orders(request: Request, ds: SandboxDataset) -> Response:
    return _orders(request, ds, _event(request, ds).order_index)


def get_event(request: Request, ds: SandboxDataset) -> Response:
    return json_response(_event_bytes(ds, _event(request, ds), _expand(request)))


def event_attendees(request: Request, ds: SandboxDataset) -> Response:
    event = _event(request, ds)
    status = request.query_params.get("status")
    if status not in ATTENDEE_STATUS:
        raise _args_error("status")
    since = _changed_since(request)
    last_item_seen = request.query_params.get("last_item_seen")
    ids, pagination = _keyset_page(
        request,
        event.attendee_index,
        ATTENDEE_STATUS[status],
        since,
        last_item_seen,
        LAST_PAGE_TOKEN["attendees"],
    )
    return _body(pagination, b"attendees", [event.attendees[i] for i in ids])


def get_attendee(request: Request, ds: SandboxDataset) -> Response:
    event = _event(request, ds)
    record = event.attendees.get(request.path_params["attendee_id"])
    if record is None:
        raise ApiError(404, "The attendee you requested does not exist.")
    return json_response(record)


def ticket_classes(request: Request, ds: SandboxDataset) -> Response:
    event = _event(request, ds)
    classes = [dump(eb_ticket_class_record(event, tc, ds.now_ms)) for tc in event.ticket_classes]
    size = max(len(classes), DEFAULT_PAGE_SIZE)
    pagination = _pagination(
        request, len(classes), 1, size, False, None, LAST_PAGE_TOKEN["ticket_classes"]
    )
    return _body(pagination, b"ticket_classes", classes)


def get_order(request: Request, ds: SandboxDataset) -> Response:
    org_ids = token_org_ids(request, ds)
    order_id = request.path_params["order_id"]
    if order_id not in ds.eb_orders:
        raise ApiError(404, "The order you requested does not exist.")
    if ds.eb_order_event[order_id].org_id not in org_ids:
        raise forbidden()
    return json_response(_order_bytes(ds, order_id, _expand(request)))


def get_venue(request: Request, ds: SandboxDataset) -> Response:
    org_ids = token_org_ids(request, ds)
    venue = ds.eb_venues.get(request.path_params["venue_id"])
    if venue is None:
        raise ApiError(404, "The venue you requested does not exist.")
    if venue[0] not in org_ids:
        raise forbidden()
    return json_response(venue[1])


ROUTES: list[tuple[str, Handler]] = [
    ("/users/me/", me),
    ("/users/me/organizations/", my_organizations),
    ("/organizations/{org_id}/events/", org_events),
    ("/organizations/{org_id}/orders/", org_orders),
    ("/events/{event_id}/", get_event),
    ("/events/{event_id}/orders/", event_orders),
    ("/events/{event_id}/attendees/", event_attendees),
    ("/events/{event_id}/attendees/{attendee_id}/", get_attendee),
    ("/events/{event_id}/ticket_classes/", ticket_classes),
    ("/orders/{order_id}/", get_order),
    ("/venues/{venue_id}/", get_venue),
]


def routes() -> list[Route]:
    """Paths relative to ``PREFIX``; each also answers without its trailing slash (no redirect)."""
    out = []
    for path, handler in ROUTES:
        endpoint = _endpoint(handler)
        out.append(Route(path, endpoint, methods=["GET"]))
        out.append(Route(path.rstrip("/"), endpoint, methods=["GET"]))
    # Webhook CRUD (and deliveries) are eventbrite_webhooks.routes(); server.py mounts both.
    return out


async def not_found(scope: Any, receive: Any, send: Any) -> None:
    await eventbrite_error(404, "The path you requested does not exist.")(scope, receive, send)
