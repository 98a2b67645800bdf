"""Eventbrite's webhook API in the sandbox: per-organization CRUD, then real deliveries.

Routes (relative to ``/eventbrite/v3``, each also without its trailing slash):

* ``GET /organizations/{org_id}/webhooks/``: ``{"pagination": {...}, "webhooks": [...]}``
* ``POST /organizations/{org_id}/webhooks/``: JSON or form body with ``endpoint_url`` and
  ``actions`` (a comma-separated string, as Eventbrite documents it, or a list), optional
  ``event_id``; answers the created webhook.
* ``GET /webhooks/{id}/`` and ``DELETE /webhooks/{id}/`` (answers ``{"success": true}``).

The token must see the organization (the same 401/403/404 rules as the rest of the fake API).
Eventbrite's current reference documents create, list and delete but no update, so the sandbox
has no update either: a client changes a webhook by creating the new one and deleting the old.
The exact webhook object fields beyond ``id``, ``endpoint_url`` and ``actions`` are a guess.

Deliveries: each webhook receives the data set's change notices made *after* it was created,
for its organization and only for its actions, posted to its ``endpoint_url`` as Eventbrite
does (the reference body ``{"config": {...}, "api_url"}`` with ``config.webhook_id`` and the
``X-Eventbrite-Delivery`` header both the webhook's id). ``WebhookRegistry.deliver_pending()``
sends them now; with ``auto_deliver_interval`` a background thread does it as the data changes
(the default for a served sandbox, so ``POST /_sandbox/mutate`` reaches registered receivers).
HTTP, retries and outcome classification are ``WebhookSender.deliver``'s.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ticketing_pipeline.sandbox.dataset import ChangeNotice, SandboxDataset
from ticketing_pipeline.sandbox.errors import ApiError, eventbrite_error, json_response
from ticketing_pipeline.sandbox.eventbrite_auth import checked_org, forbidden, token_org_ids
from ticketing_pipeline.sandbox.webhook_sender import Delivery, DeliveryResult, WebhookSender

# Actions Eventbrite documents for organization webhooks.
KNOWN_ACTIONS = frozenset(
    {
        "attendee.checked_in",
        "attendee.checked_out",
        "attendee.updated",
        "barcode.checked_in",
        "barcode.un_checked_in",
        "event.created",
        "event.published",
        "event.unpublished",
        "event.updated",
        "order.placed",
        "order.refunded",
        "order.updated",
        "organizer.updated",
        "ticket_class.created",
        "ticket_class.deleted",
        "ticket_class.updated",
        "venue.updated",
    }
)
FIRST_WEBHOOK_ID = 1_806_556  # the shape of real ids (see tests/fixtures/real)
DEFAULT_AUTO_DELIVER_SECONDS = 0.5


@dataclass
class RegisteredWebhook:
    id: str
    org_id: str
    endpoint_url: str
    actions: tuple[str, ...]
    event_id: str | None
    user_id: str
    created: str
    # Change notices up to this seq existed before the webhook and are never sent to it.
    cursor: int
    retry: list[Delivery] = field(default_factory=list)

    def record(self, api_base: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource_uri": f"{api_base}/webhooks/{self.id}/",
            "endpoint_url": self.endpoint_url,
            "actions": ",".join(self.actions),
            "event_id": self.event_id,
            "user_id": self.user_id,
            "created": self.created,
        }


class WebhookRegistry:
    """The registered webhooks of one sandbox, and their delivery to the registered URLs."""

    def __init__(
        self,
        dataset: SandboxDataset,
        *,
        auto_deliver_interval: float | None = DEFAULT_AUTO_DELIVER_SECONDS,
        eventbrite_api_base: str | None = None,
        max_attempts: int = 3,
    ) -> None:
        self.dataset = dataset
        self.auto_deliver_interval = auto_deliver_interval
        # Where api_url points; set from the first request when not given.
        self.eventbrite_api_base = eventbrite_api_base.rstrip("/") if eventbrite_api_base else None
        self.lock = threading.RLock()
        self._webhooks: dict[str, RegisteredWebhook] = {}
        self._ids = itertools.count(FIRST_WEBHOOK_ID)
        # Reused for its HTTP delivery, retries and outcome rules; its own receiver URL is unused.
        self._sender = WebhookSender(dataset, "http://unused.invalid", max_attempts=max_attempts)
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_results: list[DeliveryResult] = []
        self.last_error: str | None = None

    # -- CRUD -----------------------------------------------------------------------------------

    def list(self, org_id: str) -> list[RegisteredWebhook]:
        with self.lock:
            return [w for w in self._webhooks.values() if w.org_id == org_id]

    def get(self, webhook_id: str) -> RegisteredWebhook | None:
        with self.lock:
            return self._webhooks.get(webhook_id)

    def create(
        self, org_id: str, endpoint_url: str, actions: list[str], event_id: str | None
    ) -> RegisteredWebhook:
        with self.dataset.lock:
            cursor = len(self.dataset.changes)
            created = datetime.fromtimestamp(self.dataset.now_ms / 1000, tz=UTC)
        with self.lock:
            webhook = RegisteredWebhook(
                id=str(next(self._ids)),
                org_id=org_id,
                endpoint_url=endpoint_url,
                actions=tuple(actions),
                event_id=event_id,
                user_id=_user_id(self.dataset, org_id),
                created=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                cursor=cursor,
            )
            self._webhooks[webhook.id] = webhook
        if self.auto_deliver_interval is not None:
            self.start(self.auto_deliver_interval)
        return webhook

    def delete(self, webhook_id: str) -> bool:
        with self.lock:
            return self._webhooks.pop(webhook_id, None) is not None

    # -- delivery -------------------------------------------------------------------------------

    def deliver_pending(self) -> list[DeliveryResult]:
        """Send every webhook the notices of its organization and actions since its cursor."""
        with self._send_lock:
            with self.lock:
                webhooks = list(self._webhooks.values())
            plan: list[tuple[RegisteredWebhook, list[Delivery], int]] = []
            with self.dataset.lock:
                for webhook in webhooks:
                    notices = self.dataset.changes_after(webhook.cursor)
                    wanted = [n for n in notices if self._wanted(webhook, n)]
                    cursor = notices[-1].seq if notices else webhook.cursor
                    plan.append((webhook, [self._delivery(webhook, n) for n in wanted], cursor))
            results = []
            for webhook, deliveries, cursor in plan:
                retry, webhook.retry = webhook.retry, []
                for delivery in [*retry, *deliveries]:
                    with self.lock:
                        if webhook.id not in self._webhooks:  # deleted meanwhile: stop sending
                            break
                    result = self._sender.deliver(
                        delivery,
                        url=webhook.endpoint_url,
                        headers=lambda d=delivery, w=webhook: _headers(d, w),
                    )
                    results.append(result)
                    if result.outcome == "failed":
                        webhook.retry.append(delivery)
                webhook.cursor = cursor
            self.last_results = results
            return results

    def _wanted(self, webhook: RegisteredWebhook, notice: ChangeNotice) -> bool:
        if notice.platform != "eventbrite" or notice.account_id != webhook.org_id:
            return False
        if notice.kind not in webhook.actions:
            return False
        if webhook.event_id is None:
            return True
        order_event = self.dataset.eb_order_event.get(notice.object_id)
        return order_event is not None and order_event.id == webhook.event_id

    def _delivery(self, webhook: RegisteredWebhook, notice: ChangeNotice) -> Delivery:
        body = {
            "config": {
                "action": notice.kind,
                "user_id": webhook.user_id,
                "endpoint_url": webhook.endpoint_url,
                "webhook_id": webhook.id,
            },
            "api_url": (self.eventbrite_api_base or "") + notice.api_path,
        }
        return Delivery(
            delivery_id=webhook.id,
            platform="eventbrite",
            account_id=webhook.org_id,
            route="eventbrite",
            action=notice.kind,
            body=orjson.dumps(body),
            notice_seq=notice.seq,
            record_id=notice.object_id,
        )

    def start(self, interval: float = DEFAULT_AUTO_DELIVER_SECONDS) -> None:
        """Deliver in a daemon thread every ``interval`` seconds (idempotent)."""
        with self.lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, args=(interval,), name="sandbox-eb-webhooks", daemon=True
            )
            self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.deliver_pending()
                self.last_error = None
            except Exception as error:  # noqa: BLE001 - keep delivering; the next tick retries
                self.last_error = f"{type(error).__name__}: {error}"

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._sender.close()


def _headers(delivery: Delivery, webhook: RegisteredWebhook) -> dict[str, str]:
    # As Eventbrite sends them (tests/fixtures/real/..._headers_excerpt_...): the delivery
    # header is the webhook's id, the same on every delivery of that webhook.
    return {
        "content-type": "application/json",
        "accept": "text/plain",
        "user-agent": "Eventbrite Webhooks (Dilithium)",
        "x-eventbrite-event": delivery.action,
        "x-eventbrite-delivery": webhook.id,
    }


def _user_id(dataset: SandboxDataset, org_id: str) -> str:
    # As /users/me/ answers for the org's token (derived from the token's first organization).
    org = dataset.eb_orgs.get(org_id)
    first = dataset.eb_tokens.get(org.token, [org_id])[0] if org else org_id
    return f"{int(first) % 10**11 + 3:011d}" if first.isdigit() else first


def registry_for(app: Any) -> WebhookRegistry:
    """The app's registry, created on first use (install one first to choose its options)."""
    state = app.state
    registry = getattr(state, "eventbrite_webhooks", None)
    if registry is None:
        registry = WebhookRegistry(state.dataset)
        state.eventbrite_webhooks = registry
    return registry


def install_registry(app: Any, registry: WebhookRegistry) -> WebhookRegistry:
    old = getattr(app.state, "eventbrite_webhooks", None)
    if old is not None and old is not registry:
        old.close()
    app.state.eventbrite_webhooks = registry
    return registry


# -- HTTP handlers ------------------------------------------------------------------------------


def _checked_org(request: Request, ds: SandboxDataset) -> str:
    return checked_org(request, ds).id


def _checked_webhook(request: Request, registry: WebhookRegistry) -> RegisteredWebhook:
    org_ids = token_org_ids(request, registry.dataset)
    webhook = registry.get(request.path_params["webhook_id"])
    if webhook is None:
        raise ApiError(404, "The webhook you requested does not exist.")
    if webhook.org_id not in org_ids:
        raise forbidden()
    return webhook


def _arguments_error(name: str, why: str = "INVALID") -> ApiError:
    return ApiError(400, f"There are errors with your arguments: {name} - {why}", "ARGUMENTS_ERROR")


async def _fields(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if "json" in request.headers.get("content-type", ""):
        try:
            body = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            raise _arguments_error("body", "INVALID_JSON") from None
        if not isinstance(body, dict):
            raise _arguments_error("body")
    else:
        body = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    # Older clients nest the fields as webhook.endpoint_url (form) or {"webhook": {...}}.
    nested = body.get("webhook") if isinstance(body.get("webhook"), dict) else {}
    flat = {k.removeprefix("webhook."): v for k, v in body.items() if k != "webhook"}
    return {**flat, **nested}


def _parse_actions(value: Any) -> list[str]:
    if isinstance(value, str):
        actions = [a.strip() for a in value.split(",") if a.strip()]
    elif isinstance(value, list) and all(isinstance(a, str) for a in value):
        actions = [a.strip() for a in value if a.strip()]
    else:
        raise _arguments_error("actions", "MISSING")
    unknown = sorted(set(actions) - KNOWN_ACTIONS)
    if not actions or unknown:
        raise _arguments_error("actions")
    return list(dict.fromkeys(actions))


def _valid_endpoint(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _arguments_error("endpoint_url", "MISSING")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _arguments_error("endpoint_url")
    return value


def _api_base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/eventbrite/v3"


def _listing(items: list[dict[str, Any]]) -> Response:
    pagination = {
        "object_count": len(items),
        "page_number": 1,
        "page_size": max(len(items), 50),
        "page_count": 1,
        "has_more_items": False,
    }
    return json_response(orjson.dumps({"pagination": pagination, "webhooks": items}))


async def _handle(request: Request) -> Response:
    registry = registry_for(request.app)
    if registry.eventbrite_api_base is None:
        registry.eventbrite_api_base = _api_base(request)
    base = registry.eventbrite_api_base
    ds = registry.dataset
    try:
        if "org_id" in request.path_params:
            with ds.lock:
                org_id = _checked_org(request, ds)
            if request.method == "GET":
                return _listing([w.record(base) for w in registry.list(org_id)])
            fields = await _fields(request)
            endpoint_url = _valid_endpoint(fields.get("endpoint_url"))
            actions = _parse_actions(fields.get("actions"))
            event_id = fields.get("event_id") or None
            if event_id is not None:
                event = ds.eb_events.get(str(event_id))
                if event is None or event.org_id != org_id:
                    raise _arguments_error("event_id")
                event_id = str(event_id)
            webhook = registry.create(org_id, endpoint_url, actions, event_id)
            return json_response(orjson.dumps(webhook.record(base)))
        webhook = _checked_webhook(request, registry)
        if request.method == "DELETE":
            registry.delete(webhook.id)
            return json_response(b'{"success":true}')
        return json_response(orjson.dumps(webhook.record(base)))
    except ApiError as error:
        return eventbrite_error(error.status, error.message, error.code)


ROUTES: list[tuple[str, list[str]]] = [
    ("/organizations/{org_id}/webhooks/", ["GET", "POST"]),
    ("/webhooks/{webhook_id}/", ["GET", "DELETE"]),
]


def routes() -> list[Route]:
    """Paths relative to ``/eventbrite/v3``, also answered without the trailing slash."""
    out = []
    for path, methods in ROUTES:
        out.append(Route(path, _handle, methods=methods))
        out.append(Route(path.rstrip("/"), _handle, methods=methods))
    return out
