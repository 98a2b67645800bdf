"""``/_sandbox``: the sandbox's own control and observability endpoints (not a platform API)."""

from __future__ import annotations

import asyncio
import binascii
from dataclasses import asdict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ticketing_pipeline.sandbox import eventbrite_api
from ticketing_pipeline.sandbox.dataset import SandboxDataset
from ticketing_pipeline.sandbox.errors import json_response
from ticketing_pipeline.sandbox.faults import FaultInjector
from ticketing_pipeline.sandbox.formats import iso_ms
from ticketing_pipeline.sandbox.stats import RequestStats
from ticketing_pipeline.sandbox.webhook_sender import WebhookSender

PREFIX = "/_sandbox"


def _json(value: Any, status: int = 200) -> Response:
    return json_response(orjson.dumps(value), status)


def _state(request: Request) -> tuple[SandboxDataset, FaultInjector, RequestStats]:
    state = request.app.state
    return state.dataset, state.faults, state.stats


async def _body(request: Request) -> Any:
    raw = await request.body()
    return orjson.loads(raw) if raw.strip() else {}


async def health(request: Request) -> Response:
    ds, _, _ = _state(request)
    return _json({"status": "ok", "orders": ds.order_count, "clock": iso_ms(ds.now_ms)})


async def stats(request: Request) -> Response:
    return _json(_state(request)[2].snapshot())


async def stats_reset(request: Request) -> Response:
    _state(request)[2].reset()
    return _json({"reset": True})


async def mutate(request: Request) -> Response:
    ds, _, _ = _state(request)
    try:
        body = await _body(request)
        summary = ds.mutate(float(body.get("fraction", 0.01)), body.get("seed"))
    except (ValueError, TypeError, AttributeError, orjson.JSONDecodeError) as error:
        return _json({"error": str(error)}, 400)
    return _json(summary.to_dict())


async def faults(request: Request) -> Response:
    _, injector, _ = _state(request)
    if request.method == "DELETE":
        injector.clear()
        return _json(injector.snapshot())
    if request.method == "POST":
        try:
            added = injector.apply_json(await _body(request))
        except (ValueError, TypeError, orjson.JSONDecodeError) as error:
            return _json({"error": str(error)}, 400)
        return _json({"added": [r.to_dict() for r in added], **injector.snapshot()})
    return _json(injector.snapshot())


async def accounts(request: Request) -> Response:
    ds, _, _ = _state(request)
    return _json(
        [
            {
                "platform": a.platform,
                "account_id": a.account_id,
                "display_name": a.display_name,
                "secret": a.secret,
                "currency": a.currency,
            }
            for a in ds.accounts
        ]
    )


async def changes(request: Request) -> Response:
    ds, _, _ = _state(request)
    try:
        after = int(request.query_params.get("after", "0"))
    except ValueError:
        return _json({"error": "after must be an integer"}, 400)
    return _json([asdict(notice) for notice in ds.changes_after(after)])


def _relay_secrets(value: Any) -> dict[tuple[str, str], str]:
    """``{"humanitix/hx-acc-1": "whsec_..."}`` -> ``{("humanitix", "hx-acc-1"): "whsec_..."}``."""
    if not isinstance(value, dict):
        raise ValueError("relay_secrets must be an object of 'platform/account_id': secret")
    out = {}
    for key, secret in value.items():
        platform, _, account_id = str(key).partition("/")
        if not (platform and account_id and isinstance(secret, str) and secret):
            raise ValueError("relay_secrets keys are 'platform/account_id', values secrets")
        out[(platform, account_id)] = secret
    return out


def _sender_status(sender: WebhookSender | None) -> dict[str, Any]:
    if sender is None:
        return {"configured": False}
    return {
        "configured": True,
        "receiver_url": sender.receiver_url,
        "eventbrite_api_base": sender.eventbrite_api_base,
        "cursor": sender.cursor,
        "pending": len(sender.pending()),
        "running": sender.running,
        "last_error": sender.last_error,
        "last_report": sender.last_report.to_dict() if sender.last_report else None,
    }


async def webhooks(request: Request) -> Response:
    """``GET`` the sender's state; ``POST`` configures one (replacing any); ``DELETE`` drops it.

    POST body: ``{"receiver_url", "eventbrite_tokens": {org_id: token}, "relay_secrets":
    {"humanitix/<account_id>": "whsec_..."}, "seed", "duplicate_rate", "shuffle", "after",
    "background": <interval seconds or null>, "eventbrite_api_base"}``; ``eventbrite_api_base``
    defaults to this server's Eventbrite base.
    """
    state = request.app.state
    old: WebhookSender | None = getattr(state, "webhook_sender", None)
    if request.method == "GET":
        return _json(_sender_status(old))
    if request.method == "DELETE":
        state.webhook_sender = None
        if old is not None:
            await asyncio.to_thread(old.close)
        return _json(_sender_status(None))
    try:
        body = await _body(request)
        if not isinstance(body, dict) or not isinstance(body.get("receiver_url"), str):
            raise ValueError("receiver_url is required")
        tokens = body.get("eventbrite_tokens") or {}
        if not isinstance(tokens, dict):
            raise ValueError("eventbrite_tokens must be an object of org_id: token")
        base = body.get("eventbrite_api_base") or (
            str(request.base_url).rstrip("/") + eventbrite_api.PREFIX
        )
        sender = WebhookSender(
            state.dataset,
            body["receiver_url"],
            {str(k): str(v) for k, v in tokens.items()},
            _relay_secrets(body.get("relay_secrets") or {}),
            eventbrite_api_base=base,
            seed=int(body.get("seed", 0)),
            duplicate_rate=float(body.get("duplicate_rate", 0.0)),
            shuffle=bool(body.get("shuffle", False)),
            after=int(body.get("after", 0)),
        )
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as error:
        return _json({"error": str(error)}, 400)
    if old is not None:
        await asyncio.to_thread(old.close)
    state.webhook_sender = sender
    if body.get("background") is not None:
        sender.start(float(body["background"]))
    return _json(_sender_status(sender))


async def webhooks_send(request: Request) -> Response:
    """Send every change not sent yet to the configured receiver; answers the ``SendReport``."""
    sender: WebhookSender | None = getattr(request.app.state, "webhook_sender", None)
    if sender is None:
        return _json({"error": "no webhook sender: POST /_sandbox/webhooks first"}, 409)
    report = await asyncio.to_thread(sender.send_pending)
    return _json(report.to_dict())


async def truth(request: Request) -> Response:
    ds, _, _ = _state(request)
    return _json({f"{p}:{a}": t.to_dict() for (p, a), t in ds.truth().items()})


def routes() -> list[Route]:
    return [
        Route("/health", health, methods=["GET"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/stats/reset", stats_reset, methods=["POST"]),
        Route("/mutate", mutate, methods=["POST"]),
        Route("/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/accounts", accounts, methods=["GET"]),
        Route("/changes", changes, methods=["GET"]),
        Route("/truth", truth, methods=["GET"]),
        Route("/webhooks", webhooks, methods=["GET", "POST", "DELETE"]),
        Route("/webhooks/send", webhooks_send, methods=["POST"]),
    ]
