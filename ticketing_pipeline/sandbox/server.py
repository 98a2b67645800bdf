"""The sandbox HTTP server: one Starlette app serving both fake platforms plus ``/_sandbox``.

- ``build_app(dataset)`` returns the ASGI app (mount it anywhere, or hand it to httpx).
- ``SandboxServer`` runs it with uvicorn on 127.0.0.1 in a background thread, for tests and
  the demo: ``with SandboxServer(SandboxSpec(orders=2_000)) as server: server.eventbrite_base_url``.
- ``serve(spec, host, port)`` runs it in the foreground, for a CLI.

Realism knobs, for benchmarks of clients (all off by default):

- ``latency_ms``: every platform API call waits this long before it is answered, with
  ``await asyncio.sleep`` so the event loop keeps serving: concurrent clients overlap, as
  against a remote API. ``PlatformSettings.latency_ms`` can be changed while serving.
- ``eventbrite_calls_per_hour`` (+ ``eventbrite_rate_window_seconds``): Eventbrite's budget per
  token; a call beyond it gets 429 with ``Retry-After`` (Eventbrite's error body), counted in
  ``RequestStats`` (``rate_limited``, ``calls_by_token``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route, Router

from ticketing_pipeline.sandbox import (
    control_api,
    eventbrite_api,
    eventbrite_webhooks,
    humanitix_api,
)
from ticketing_pipeline.sandbox.cache import load_or_generate
from ticketing_pipeline.sandbox.dataset import SandboxDataset
from ticketing_pipeline.sandbox.errors import EVENTBRITE, HUMANITIX, platform_error
from ticketing_pipeline.sandbox.faults import FaultInjector, RateBudget
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.stats import RequestStats
from ticketing_pipeline.sandbox.webhook_sender import WebhookSender

log = logging.getLogger(__name__)

Scope = dict[str, Any]


@dataclass
class PlatformSettings:
    """How the fake platforms behave beyond their data; read on every call (changeable live).

    ``latency_ms``: added before every platform API answer (``/_sandbox`` is never delayed).
    ``eventbrite_budget``: Eventbrite's calls per token (None: unlimited).
    """

    latency_ms: float = 0.0
    eventbrite_budget: RateBudget | None = None

    @classmethod
    def of(
        cls,
        latency_ms: float = 0.0,
        eventbrite_calls_per_hour: int | None = None,
        eventbrite_rate_window_seconds: float = 3600.0,
    ) -> PlatformSettings:
        if latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        budget = (
            RateBudget(eventbrite_calls_per_hour, eventbrite_rate_window_seconds)
            if eventbrite_calls_per_hour
            else None
        )
        return cls(latency_ms, budget)


class _PlatformMiddleware:
    """Counts every platform request by route template, then applies rate limits and faults.

    Pure ASGI (no BaseHTTPMiddleware) so bodies stream through untouched and cheaply.
    """

    def __init__(
        self,
        app: Any,
        faults: FaultInjector,
        stats: RequestStats,
        templates: dict[str, list[Route]],
        settings: PlatformSettings,
    ) -> None:
        self.app = app
        self.faults = faults
        self.stats = stats
        self.templates = templates
        self.settings = settings

    def _template(self, platform: str, path: str) -> str:
        for route in self.templates[platform]:
            if route.path_regex.match(path):
                # Eventbrite routes are registered with and without the slash: count them once.
                return route.path if platform == HUMANITIX else route.path.rstrip("/") + "/"
        return "(unknown)"

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith(humanitix_api.PREFIX):
            platform, sub = HUMANITIX, path[len(humanitix_api.PREFIX) :]
        elif path.startswith(eventbrite_api.PREFIX):
            platform, sub = EVENTBRITE, path[len(eventbrite_api.PREFIX) :]
        else:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        status = [0]

        async def send_counted(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self._handle(platform, method, sub, scope, receive, send_counted)
        finally:
            self.stats.record(platform, f"{method} {self._template(platform, sub)}", status[0])

    async def _handle(
        self, platform: str, method: str, sub: str, scope: Scope, receive: Any, send: Any
    ) -> None:
        settings = self.settings
        if settings.latency_ms:
            # Awaited, never time.sleep: other clients' calls proceed meanwhile.
            await asyncio.sleep(settings.latency_ms / 1000)
        token = _token(platform, scope)
        budget = settings.eventbrite_budget if platform == EVENTBRITE else None
        if budget is not None:
            token_key = hashlib.sha256(token.encode()).hexdigest()[:12]
            wait = budget.take(token_key)
            self.stats.record_token(platform, token_key, rate_limited=wait is not None)
            if wait is not None:
                response = platform_error(
                    platform,
                    429,
                    "You have exceeded the rate limit for your token.",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
                await response(scope, receive, send)
                return
        retry = self.faults.check_rate(platform, token)
        if retry is not None:
            response = platform_error(
                platform, 429, "Rate limit exceeded.", headers={"Retry-After": str(retry)}
            )
            await response(scope, receive, send)
            return
        rule = self.faults.take(platform, method, sub)
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.kind == "slow":
            await asyncio.sleep(rule.delay)
            await self.app(scope, receive, send)
        elif rule.kind == "status":
            headers = {}
            if rule.retry_after is not None:
                retry_after = rule.retry_after
                headers["Retry-After"] = (
                    str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
                )
            message = "Injected fault." if rule.status != 429 else "Rate limit exceeded."
            await platform_error(platform, rule.status, message, headers)(scope, receive, send)
        else:  # malformed: the real answer, cut in half, still 200 application/json
            await _truncated(self.app, scope, receive, send)


def _token(platform: str, scope: Scope) -> str:
    wanted = b"x-api-key" if platform == HUMANITIX else b"authorization"
    for name, value in scope.get("headers", ()):
        if name == wanted:
            text = value.decode("latin-1")
            return text[7:].strip() if text[:7].lower() == "bearer " else text
    if platform == EVENTBRITE:  # Eventbrite also takes ?token=
        tokens = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        if tokens:
            return tokens[0]
    return ""


async def _truncated(app: Any, scope: Scope, receive: Any, send: Any) -> None:
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def capture(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    body = b"".join(chunks)
    body = body[: max(1, len(body) // 2)]
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build_app(
    dataset: SandboxDataset,
    faults: FaultInjector | None = None,
    stats: RequestStats | None = None,
    settings: PlatformSettings | None = None,
) -> Starlette:
    """The ASGI app serving ``dataset``: ``/humanitix/v1``, ``/eventbrite/v3``, ``/_sandbox``."""
    faults = faults or FaultInjector()
    stats = stats or RequestStats()
    settings = settings or PlatformSettings()
    hx_routes = humanitix_api.routes()
    eb_routes = eventbrite_api.routes() + eventbrite_webhooks.routes()
    routes: list[BaseRoute] = [
        Mount(
            humanitix_api.PREFIX,
            app=Router(hx_routes, default=humanitix_api.not_found, redirect_slashes=False),
        ),
        Mount(
            eventbrite_api.PREFIX,
            app=Router(eb_routes, default=eventbrite_api.not_found, redirect_slashes=False),
        ),
        Mount(control_api.PREFIX, routes=control_api.routes()),
    ]
    app = Starlette(routes=routes)
    app.state.dataset = dataset
    app.state.faults = faults
    app.state.stats = stats
    app.state.settings = settings
    app.state.webhook_sender = (
        None  # set by SandboxServer.webhook_sender or POST /_sandbox/webhooks
    )
    app.add_middleware(
        _PlatformMiddleware,
        faults=faults,
        stats=stats,
        templates={HUMANITIX: hx_routes, EVENTBRITE: eb_routes},
        settings=settings,
    )
    return app


class SandboxServer:
    """Run the sandbox on ``host`` (a free port by default) in a background thread.

    Use as a context manager; ``url``, ``humanitix_base_url``, ``eventbrite_base_url``,
    ``dataset``, ``faults``, ``stats`` and ``settings`` are available while it runs.
    ``latency_ms``, ``eventbrite_calls_per_hour`` and ``eventbrite_rate_window_seconds``: see
    the module docstring (``settings.latency_ms`` may be changed while it runs).
    """

    def __init__(
        self,
        source: SandboxSpec | SandboxDataset | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        latency_ms: float = 0.0,
        eventbrite_calls_per_hour: int | None = None,
        eventbrite_rate_window_seconds: float = 3600.0,
    ) -> None:
        self.dataset = (
            source if isinstance(source, SandboxDataset) else load_or_generate(source, cache_dir)
        )
        self.faults = FaultInjector()
        self.stats = RequestStats()
        self.settings = PlatformSettings.of(
            latency_ms, eventbrite_calls_per_hour, eventbrite_rate_window_seconds
        )
        self.app = build_app(self.dataset, self.faults, self.stats, self.settings)
        self.host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def humanitix_base_url(self) -> str:
        return self.url + humanitix_api.PREFIX

    @property
    def eventbrite_base_url(self) -> str:
        return self.url + eventbrite_api.PREFIX

    def webhook_sender(
        self,
        receiver_url: str,
        eventbrite_tokens: Mapping[str, str] | None = None,
        relay_secrets: Mapping[tuple[str, str], str] | None = None,
        **options: Any,
    ) -> WebhookSender:
        """A ``WebhookSender`` for this server's data set whose ``api_url`` points at this server.

        It also becomes the sender of ``POST /_sandbox/webhooks/send`` (replacing any before).
        Options are ``WebhookSender``'s keyword arguments (``seed``, ``duplicate_rate``, ...).
        """
        options.setdefault("eventbrite_api_base", self.eventbrite_base_url)
        sender = WebhookSender(
            self.dataset, receiver_url, eventbrite_tokens, relay_secrets, **options
        )
        old = self.app.state.webhook_sender
        if old is not None:
            old.close()
        self.app.state.webhook_sender = sender
        return sender

    def start(self) -> SandboxServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="sandbox-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        sender = self.app.state.webhook_sender
        if sender is not None:
            sender.close()
            self.app.state.webhook_sender = None
        # Registered Eventbrite webhooks deliver from a thread of their own (eventbrite_webhooks).
        registry = getattr(self.app.state, "eventbrite_webhooks", None)
        if registry is not None:
            registry.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    source: SandboxSpec | SandboxDataset | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    dataset: SandboxDataset | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    latency_ms: float = 0.0,
    eventbrite_calls_per_hour: int | None = None,
    eventbrite_rate_window_seconds: float = 3600.0,
) -> None:
    """Serve a data set in the foreground until interrupted.

    ``source`` is a spec to generate (or load from ``cache_dir``) or a ready data set, as for
    ``SandboxServer``; ``dataset=`` is accepted too. The realism knobs are ``SandboxServer``'s.
    """
    settings = PlatformSettings.of(
        latency_ms, eventbrite_calls_per_hour, eventbrite_rate_window_seconds
    )
    if isinstance(source, SandboxDataset):
        dataset = source
    dataset = dataset or load_or_generate(source, cache_dir)
    log.warning("sandbox: %d orders; serving on http://%s:%d", dataset.order_count, host, port)
    for account in dataset.accounts:
        log.warning(
            "sandbox account: %s %s (%s)",
            account.platform,
            account.account_id,
            account.display_name,
        )
    if latency_ms or eventbrite_calls_per_hour:
        log.warning(
            "sandbox: %g ms per API call; Eventbrite budget per token: %s",
            latency_ms,
            settings.eventbrite_budget.to_dict() if settings.eventbrite_budget else "none",
        )
    uvicorn.run(
        build_app(dataset, settings=settings),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
