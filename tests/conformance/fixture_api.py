"""The real captured payloads of ``tests/fixtures/real/`` served as the platforms' own API.

The sources then read them exactly as in production (dlt's REST client, paginators, incremental
cursors, shaping, a real dlt load). Each endpoint answers with the captured body unchanged,
except where noted:

- Humanitix ``/events/{id}/tickets``: the captures are two pages filtered by status
  (``status=complete``: 13, ``status=cancelled``: 5); the source asks without a status filter,
  so the endpoint answers with both lists in one page (total 18).
- Eventbrite ``/organizations/{id}/events/``: the gbe 2021 page as captured, plus the theodi
  2015 order's event (from its ``expand=event``), so that order's ticket class has an event;
  with ``show_series_parent=true`` the brcc series parent instead.
- Endpoints with no capture (other events' orders, tags) answer an empty page.
- ``/orders/{id}/``, ``/events/{id}/`` and ``/events/{id}/attendees/{id}/`` (what the webhook
  loader fetches) answer the theodi order (with its attendees), its event and its attendee.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

REAL = Path(__file__).parents[1] / "fixtures" / "real"

HX_API_KEY = "conformance-humanitix-key"
EB_TOKEN = "conformance-eventbrite-token"
EB_ORG_ID = "547440371489"  # the organization of eventbrite_organizations_page_gbe_2021.json
HX_EVENT_WITH_ORDERS = "6568c47844bea90207cb25af"


def real(name: str) -> Any:
    return orjson.loads((REAL / name).read_bytes())


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def _hx_page(key: str, items: list[Any]) -> dict[str, Any]:
    return {"total": len(items), "page": 1, "pageSize": 100, key: items}


def _eb_page(key: str, items: list[Any]) -> dict[str, Any]:
    pagination = {"object_count": len(items), "page_number": 1, "page_size": 50}
    return {key: items, "pagination": {**pagination, "page_count": 1, "has_more_items": False}}


def build_app(
    tamper_hx_orders: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
) -> Starlette:
    """The API; ``tamper_hx_orders`` rewrites the served Humanitix orders (bad-record tests).

    ``app.state.requests`` lists (path, query string) of every request, in order.
    """
    requests: list[tuple[str, str]] = []
    theodi_order = real("eventbrite_order_expand_attendees_event_theodi_2015.json")
    theodi_event = copy.deepcopy(theodi_order["event"])
    theodi_event.pop("ticket_classes", None)  # the API lists events without their classes
    tickets = (
        real("humanitix_tickets_page_status_complete_gbe_2024.json")["tickets"]
        + real("humanitix_tickets_page_status_cancelled_gbe_2024.json")["tickets"]
    )

    def humanitix_authorized(request: Request) -> bool:
        return request.headers.get("x-api-key") == HX_API_KEY

    def eventbrite_authorized(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {EB_TOKEN}"

    async def hx_events(request: Request) -> Response:
        if not humanitix_authorized(request):
            return _json({"message": "unauthorized"}, 401)
        return _json(real("humanitix_events_page_gbe_2024.json"))

    async def hx_per_event(request: Request) -> Response:
        if not humanitix_authorized(request):
            return _json({"message": "unauthorized"}, 401)
        entity, event_id = request.path_params["entity"], request.path_params["event_id"]
        if event_id != HX_EVENT_WITH_ORDERS:
            return _json(_hx_page(entity, []))
        if entity == "orders":
            page = real("humanitix_orders_page_gbe_2024.json")
            if tamper_hx_orders is not None:
                page["orders"] = tamper_hx_orders(page["orders"])
                page["total"] = len(page["orders"])
            return _json(page)
        return _json(_hx_page("tickets", tickets))

    async def hx_tags(request: Request) -> Response:
        return _json(_hx_page("tags", []))

    async def eb_organizations(request: Request) -> Response:
        if not eventbrite_authorized(request):
            return _json({"error": "INVALID_AUTH"}, 401)
        return _json(real("eventbrite_organizations_page_gbe_2021.json"))

    async def eb_events(request: Request) -> Response:
        if not eventbrite_authorized(request):
            return _json({"error": "INVALID_AUTH"}, 401)
        if request.query_params.get("show_series_parent") == "true":
            parent = real("eventbrite_event_series_parent_brcc_2024.json")
            return _json(_eb_page("events", [parent]))
        page = real("eventbrite_events_page_gbe_2021.json")
        page["events"].append(theodi_event)
        return _json(page)

    async def eb_ticket_classes(request: Request) -> Response:
        event_id = request.path_params["event_id"]
        if event_id == theodi_event["id"]:
            classes = [real("eventbrite_ticket_class_from_order_event_theodi_2015.json")]
            return _json(_eb_page("ticket_classes", classes))
        page = real("eventbrite_ticket_classes_page_gbe_2021.json")
        classes = [c for c in page["ticket_classes"] if c["event_id"] == event_id]
        return _json({**page, "ticket_classes": classes})

    async def eb_orders(request: Request) -> Response:
        if not eventbrite_authorized(request):
            return _json({"error": "INVALID_AUTH"}, 401)
        return _json(_eb_page("orders", [theodi_order]))

    # Single objects, as the webhook loader fetches them after an Eventbrite delivery.
    async def eb_order(request: Request) -> Response:
        if not eventbrite_authorized(request):
            return _json({"error": "INVALID_AUTH"}, 401)
        if request.path_params["order_id"] != theodi_order["id"]:
            return _json({"error": "NOT_FOUND"}, 404)
        order = {k: v for k, v in theodi_order.items() if k != "event"}  # expand=attendees
        return _json(order)

    async def eb_event(request: Request) -> Response:
        if not eventbrite_authorized(request):
            return _json({"error": "INVALID_AUTH"}, 401)
        if request.path_params["event_id"] != theodi_event["id"]:
            return _json({"error": "NOT_FOUND"}, 404)
        return _json(theodi_event)

    async def eb_attendee(request: Request) -> Response:
        if not eventbrite_authorized(request):
            return _json({"error": "INVALID_AUTH"}, 401)
        wanted = request.path_params["attendee_id"]
        found = [a for a in theodi_order["attendees"] if a["id"] == wanted]
        return _json(found[0]) if found else _json({"error": "NOT_FOUND"}, 404)

    def logged(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            requests.append((request.url.path, request.url.query))
            return await handler(request)

        return handle

    app = Starlette(
        routes=[
            Route("/hx/v1/events", logged(hx_events)),
            Route("/hx/v1/events/{event_id}/{entity:str}", logged(hx_per_event)),
            Route("/hx/v1/tags", logged(hx_tags)),
            Route("/eb/v3/users/me/organizations/", logged(eb_organizations)),
            Route("/eb/v3/organizations/{org_id}/events/", logged(eb_events)),
            Route("/eb/v3/events/{event_id}/ticket_classes/", logged(eb_ticket_classes)),
            Route("/eb/v3/organizations/{org_id}/orders/", logged(eb_orders)),
            Route("/eb/v3/orders/{order_id}/", logged(eb_order)),
            Route("/eb/v3/events/{event_id}/", logged(eb_event)),
            Route("/eb/v3/events/{event_id}/attendees/{attendee_id}/", logged(eb_attendee)),
        ],
    )
    app.state.requests = requests
    return app
