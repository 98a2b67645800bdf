"""Humanitix Public API v1, served under ``/humanitix/v1`` (shapes: docs/platforms.md).

Paging is by page number from 1 with ``{"total", "page", "pageSize", "<items>": [...]}``; a
client stops when ``page * pageSize >= total``. ``since`` keeps records whose ``updatedAt`` is at
or after it (created or updated since), sorted by ``(updatedAt, _id)``. Query parameters are
validated the way Humanitix's (Joi) validation does: unknown ones are a 400.
An API key sees only its own account; another account's event is a 404, like a missing one.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ticketing_pipeline.sandbox.dataset import (
    HX_TICKET_CANCELLED,
    HX_TICKET_COMPLETE,
    HxAccount,
    HxEvent,
    SandboxDataset,
)
from ticketing_pipeline.sandbox.errors import ApiError, humanitix_error, json_response
from ticketing_pipeline.sandbox.formats import dump, parse_iso8601

PREFIX = "/humanitix/v1"
MAX_PAGE_SIZE = 100
REGIONS = ("AU", "NZ", "US", "GB", "CA", "FJ")

Handler = Callable[[Request, SandboxDataset], Response]


def _endpoint(handler: Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        ds: SandboxDataset = request.app.state.dataset
        try:
            with ds.lock:
                return handler(request, ds)
        except ApiError as error:
            return humanitix_error(error.status, error.message)

    return endpoint


def _account(request: Request, ds: SandboxDataset) -> HxAccount:
    account = ds.hx_by_key.get(request.headers.get("x-api-key", ""))
    if account is None:
        raise ApiError(401, "Invalid API Key.")
    return account


def _params(request: Request, allowed: Iterable[str]) -> dict[str, str]:
    params = request.query_params
    allowed = set(allowed)
    for key in params:
        if key not in allowed:
            raise ApiError(400, f'"{key}" is not allowed')
    return {key: params[key] for key in params}


def _int_param(params: dict[str, str], name: str, default: int | None, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        if default is None:
            raise ApiError(400, f'"{name}" is required')
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f'"{name}" must be a number') from None
    if value < low:
        raise ApiError(400, f'"{name}" must be greater than or equal to {low}')
    if value > high:
        raise ApiError(400, f'"{name}" must be less than or equal to {high}')
    return value


def _since(params: dict[str, str]) -> int | None:
    raw = params.get("since")
    if raw is None:
        return None
    value = parse_iso8601(raw)
    if value is None:
        raise ApiError(400, '"since" must be in ISO 8601 date format')
    return value


def _bool_param(params: dict[str, str], name: str) -> bool:
    raw = params.get(name)
    if raw is None:
        return False
    if raw.lower() not in ("true", "false"):
        raise ApiError(400, f'"{name}" must be a boolean')
    return raw.lower() == "true"


def _region(params: dict[str, str], account: HxAccount) -> str:
    """The region store a request reads: ``overrideLocation``, else the key owner's region.

    Humanitix keeps data per region (every record's ``location``); an event of another region
    (and its orders and tickets) is invisible, a 404, unless that region is asked for.
    """
    raw = params.get("overrideLocation")
    if raw is None:
        return account.country
    if raw not in REGIONS:
        raise ApiError(400, f'"overrideLocation" must be one of [{", ".join(REGIONS)}]')
    return raw


def _page(
    key: bytes,
    params: dict[str, str],
    ids: list[str],
    records: Mapping[str, bytes],
    page_required: bool,
) -> Response:
    page = _int_param(params, "page", None if page_required else 1, 1, 10**9)
    size = _int_param(params, "pageSize", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    chunk = ids[(page - 1) * size : page * size]
    head = b'{"total":%d,"page":%d,"pageSize":%d,"%s":[' % (len(ids), page, size, key)
    return json_response(head + b",".join([records[i] for i in chunk]) + b"]}")


def _event(account: HxAccount, ds: SandboxDataset, event_id: str, region: str) -> HxEvent:
    event = ds.hx_events.get(event_id)
    if event is None or event.account_id != account.account_id or event.region != region:
        raise ApiError(404, "Event not found")
    return event


def _filtered(
    index: list[Any], since: int | None, pos: int | None, status: int | None = None
) -> list[str]:
    start = bisect_left(index, (since,)) if since is not None else 0
    entries = index[start:] if start else index
    if pos is None and status is None:
        return [e[1] for e in entries]
    return [
        e[1] for e in entries if (pos is None or e[2] == pos) and (status is None or e[3] == status)
    ]


def _date_pos(event: HxEvent, params: dict[str, str]) -> int | None:
    date_id = params.get("eventDateId")
    if date_id is None:
        return None
    pos = event.session_pos(date_id)
    # An unknown date matches nothing (rather than everything).
    return -1 if pos is None else pos


# --- handlers ----------------------------------------------------------------------------------


def list_events(request: Request, ds: SandboxDataset) -> Response:
    account = _account(request, ds)
    params = _params(request, ("page", "pageSize", "since", "inFutureOnly", "overrideLocation"))
    since = _since(params)
    future_only = _bool_param(params, "inFutureOnly")
    region = _region(params, account)
    ids = _filtered(account.event_index, since, None)
    events = account.events
    ids = [i for i in ids if events[i].region == region]
    if future_only:
        now = ds.now_ms
        ids = [i for i in ids if account.events[i].end_ms >= now]
    records = {i: account.events[i].record for i in ids}
    return _page(b"events", params, ids, records, page_required=True)


def get_event(request: Request, ds: SandboxDataset) -> Response:
    account = _account(request, ds)
    params = _params(request, ("overrideLocation",))
    event = _event(account, ds, request.path_params["eventId"], _region(params, account))
    return json_response(event.record)


def list_orders(request: Request, ds: SandboxDataset) -> Response:
    account = _account(request, ds)
    params = _params(request, ("page", "pageSize", "since", "eventDateId", "overrideLocation"))
    since = _since(params)
    event = _event(account, ds, request.path_params["eventId"], _region(params, account))
    ids = _filtered(event.order_index, since, _date_pos(event, params))
    return _page(b"orders", params, ids, event.orders, page_required=False)


def get_order(request: Request, ds: SandboxDataset) -> Response:
    account = _account(request, ds)
    params = _params(request, ("overrideLocation",))
    event = _event(account, ds, request.path_params["eventId"], _region(params, account))
    record = event.orders.get(request.path_params["orderId"])
    if record is None:
        raise ApiError(404, "Order not found")
    return json_response(record)


def list_tickets(request: Request, ds: SandboxDataset) -> Response:
    account = _account(request, ds)
    params = _params(
        request, ("page", "pageSize", "since", "eventDateId", "status", "overrideLocation")
    )
    since = _since(params)
    status_raw = params.get("status")
    status = None
    if status_raw is not None:
        if status_raw not in ("complete", "cancelled"):
            raise ApiError(400, '"status" must be one of [complete, cancelled]')
        status = HX_TICKET_COMPLETE if status_raw == "complete" else HX_TICKET_CANCELLED
    event = _event(account, ds, request.path_params["eventId"], _region(params, account))
    ids = _filtered(event.ticket_index, since, _date_pos(event, params), status)
    return _page(b"tickets", params, ids, event.tickets, page_required=False)


def get_ticket(request: Request, ds: SandboxDataset) -> Response:
    account = _account(request, ds)
    params = _params(request, ("overrideLocation",))
    event = _event(account, ds, request.path_params["eventId"], _region(params, account))
    record = event.tickets.get(request.path_params["ticketId"])
    if record is None:
        raise ApiError(404, "Ticket not found")
    return json_response(record)


def list_tags(request: Request, ds: SandboxDataset) -> Response:
    account = _account(request, ds)
    params = _params(request, ("page", "pageSize", "overrideLocation"))
    # Tags belong to the account's own region.
    tags = account.tags if _region(params, account) == account.country else []
    records = {t["_id"]: dump(t) for t in tags}
    return _page(b"tags", params, list(records), records, page_required=False)


def routes() -> list[Route]:
    """Paths relative to ``PREFIX`` (mounted by ``server.build_app``)."""
    return [
        Route("/events", _endpoint(list_events), methods=["GET"]),
        Route("/events/{eventId}", _endpoint(get_event), methods=["GET"]),
        Route("/events/{eventId}/orders", _endpoint(list_orders), methods=["GET"]),
        Route("/events/{eventId}/orders/{orderId}", _endpoint(get_order), methods=["GET"]),
        Route("/events/{eventId}/tickets", _endpoint(list_tickets), methods=["GET"]),
        Route("/events/{eventId}/tickets/{ticketId}", _endpoint(get_ticket), methods=["GET"]),
        Route("/tags", _endpoint(list_tags), methods=["GET"]),
    ]


async def not_found(scope: Any, receive: Any, send: Any) -> None:
    await humanitix_error(404, "Not Found")(scope, receive, send)
