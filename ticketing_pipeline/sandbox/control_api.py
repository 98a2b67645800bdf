"""``/_sandbox``: the sandbox's own control and observability endpoints (not a platform API)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ticketing_pipeline.sandbox.dataset import SandboxDataset
from ticketing_pipeline.sandbox.errors import json_response
from ticketing_pipeline.sandbox.faults import FaultInjector
from ticketing_pipeline.sandbox.formats import iso_ms
from ticketing_pipeline.sandbox.stats import RequestStats

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
    ]
