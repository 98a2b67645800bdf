"""The webhook receiver: a Starlette app that authenticates, validates and durably lands deliveries.

Order of checks, cheapest and least revealing first: authentication (401, identical for every
cause), size (413), content type (415), body shape (400, kept in dead-letter because the sender
proved who it is). A 2xx is sent only once the delivery is on disk; if it cannot be stored the
answer is 503 so the sender retries. Never 410: to Eventbrite that means "unsubscribe".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import ProjectConfig
from .auth import AccountAuth, check_dummy_token, load_account_auth
from .landing import (
    DEAD_LETTER,
    INCOMING,
    Kind,
    LandingArea,
    LandingError,
    PendingFile,
    StoreOutcome,
    delivery_file_name,
    encode_delivery,
)
from .metrics import DEAD_LETTER as DEAD_LETTER_OUTCOME
from .metrics import PUBLISH_INTERVAL, TEST_PING, Metrics, SharedMetrics
from .payloads import (
    EVENTBRITE_TEST_ACTION,
    MAX_ID_LENGTH,
    MalformedBody,
    parse_eventbrite,
    parse_relay,
)
from .writer import LandingWriter, OverloadedError

log = logging.getLogger("ticketing_pipeline.webhooks")

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_EVENTBRITE_HEADERS = ("x-eventbrite-event", "x-eventbrite-delivery", "content-type", "user-agent")
_RELAY_HEADERS = ("webhook-id", "webhook-timestamp", "content-type", "user-agent")
_MAX_HEADER_KEPT = 1024
_COUNTS_TTL = 2.0
_SUMMARY_INTERVAL = 60.0


def _json(
    status: int, content: Mapping[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(content), status, headers, media_type="application/json")


# Built once: every unauthenticated request gets exactly these bytes.
_UNAUTHORIZED = orjson.dumps({"error": "unauthorized"})
_STORED = orjson.dumps({"status": "stored"})
_DUPLICATE = orjson.dumps({"status": "duplicate"})


def _is_json_media_type(value: str | None) -> bool:
    if not value:
        return False
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class Receiver:
    """Request handlers plus the state they share (secrets, writer, counters)."""

    def __init__(
        self,
        auth: dict[tuple[str, str], AccountAuth],
        landing: LandingArea,
        writer: LandingWriter,
        metrics: Metrics,
        max_body_bytes: int,
    ) -> None:
        self.auth = auth
        self.landing = landing
        self.writer = writer
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.shared = SharedMetrics(metrics, landing.root / ".metrics")
        self.storage_ok = True
        self._counts: dict[str, int] | None = None
        self._counts_at = 0.0

    # -- shared steps -------------------------------------------------------------------------

    def _unauthorized(self, platform: str, detail: str) -> Response:
        self.metrics.rejected("unauthorized", platform, detail)
        return Response(_UNAUTHORIZED, 401, media_type="application/json")

    def _too_large(self, platform: str) -> Response:
        self.metrics.rejected("too_large", platform)
        return _json(413, {"error": f"body larger than {self.max_body_bytes} bytes"})

    def _declared_too_large(self, request: Request) -> bool:
        declared = request.headers.get("content-length")
        try:
            return declared is not None and int(declared) > self.max_body_bytes
        except ValueError:  # the server rejects a bad length before us; if not, reading bounds it
            return False

    async def _read_body(self, request: Request) -> bytes | None:
        """The body, or None if it grows past the limit (read no further than that)."""
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _store(
        self, folder: str, name: str, data: bytes, received_ns: int, skip_if_loaded: bool = True
    ) -> StoreOutcome:
        started = time.perf_counter()
        item = PendingFile(folder, name, data, received_ns, skip_if_loaded)
        outcome = await self.writer.land(item)
        self.metrics.observe_landing(time.perf_counter() - started)
        self.storage_ok = True
        return outcome

    def _storage_failed(self, platform: str, error: LandingError) -> Response:
        overloaded = isinstance(error, OverloadedError)
        if not overloaded:
            self.storage_ok = False
        self.metrics.rejected(
            "overloaded" if overloaded else "storage_unavailable", platform, str(error)
        )
        # 503 + Retry-After: the sender keeps the delivery and tries again.
        return _json(503, {"error": "temporarily unable to store"}, {"Retry-After": "30"})

    async def _dead_letter(
        self,
        *,
        platform: str,
        account_id: str,
        kind: Kind,
        delivery_id: str,
        received_ns: int,
        headers: dict[str, str],
        body: bytes,
        reason: str,
    ) -> Response:
        data = encode_delivery(
            delivery_id=delivery_id,
            platform=platform,
            account_id=account_id,
            kind=kind,
            action="",
            received_ns=received_ns,
            headers=headers,
            body=body,
            reason=reason,
        )
        name = delivery_file_name(platform, account_id, delivery_id)
        try:
            await self._store(DEAD_LETTER, name, data, received_ns)
        except LandingError as error:
            return self._storage_failed(platform, error)
        self.metrics.rejected("malformed", platform, reason)
        self.metrics.delivered(platform, account_id, DEAD_LETTER_OUTCOME)
        return _json(400, {"error": "malformed body", "reason": reason})

    async def _land(
        self,
        platform: str,
        account_id: str,
        delivery_id: str,
        data: bytes,
        received_ns: int,
        skip_if_loaded: bool = True,
    ) -> Response:
        name = delivery_file_name(platform, account_id, delivery_id)
        try:
            outcome = await self._store(INCOMING, name, data, received_ns, skip_if_loaded)
        except LandingError as error:
            return self._storage_failed(platform, error)
        self.metrics.delivered(platform, account_id, outcome.value)
        body = _STORED if outcome is StoreOutcome.STORED else _DUPLICATE
        return Response(body, 200, media_type="application/json")

    # -- endpoints ----------------------------------------------------------------------------

    async def eventbrite(self, request: Request) -> Response:
        received_ns = time.time_ns()
        platform = "eventbrite"
        account_id = request.path_params["account_id"]
        token = request.path_params["token"]
        auth = self.auth.get((platform, account_id))
        if auth is None:
            check_dummy_token(token)
            return self._unauthorized(platform, "unknown account")
        if not auth.check_token(token):
            return self._unauthorized(platform, f"bad token for account {account_id}")
        if self._declared_too_large(request):
            return self._too_large(platform)
        if not _is_json_media_type(request.headers.get("content-type")):
            self.metrics.rejected("unsupported_media_type", platform)
            return _json(415, {"error": "expected Content-Type: application/json"})
        body = await self._read_body(request)
        if body is None:
            return self._too_large(platform)

        headers = _kept_headers(request, _EVENTBRITE_HEADERS)
        header_id = request.headers.get("x-eventbrite-delivery")
        delivery_id = header_id or _sha256(body)
        # Eventbrite echoes the endpoint URL (and so our token) in config.endpoint_url: a secret
        # must not rest in landed files, so every occurrence of it is masked before storing.
        body = body.replace(token.encode(), b"***")
        try:
            if len(delivery_id) > MAX_ID_LENGTH:
                raise MalformedBody(f"X-Eventbrite-Delivery longer than {MAX_ID_LENGTH}")
            hint = parse_eventbrite(body, auth.account.api_base_url)
        except MalformedBody as error:
            return await self._dead_letter(
                platform=platform,
                account_id=account_id,
                kind="eventbrite_reference",
                delivery_id=delivery_id[:MAX_ID_LENGTH],
                received_ns=received_ns,
                headers=headers,
                body=body,
                reason=str(error),
            )
        if hint.action == EVENTBRITE_TEST_ACTION:
            # Eventbrite's "test" button: prove the endpoint works; there is no order to load.
            self.metrics.delivered(platform, account_id, TEST_PING)
            return _json(200, {"status": "ok", "test": True})
        data = encode_delivery(
            delivery_id=delivery_id,
            platform=platform,
            account_id=account_id,
            kind="eventbrite_reference",
            action=hint.action,
            received_ns=received_ns,
            headers=headers,
            body=body,
            api_url=hint.api_url,
        )
        return await self._land(
            platform, account_id, delivery_id, data, received_ns, skip_if_loaded=bool(header_id)
        )

    async def relay(self, request: Request) -> Response:
        received_ns = time.time_ns()
        platform = request.path_params["platform"]
        account_id = request.path_params["account_id"]
        auth = self.auth.get((platform, account_id))
        # The label is request text until the account is known: never use it in metrics before.
        if auth is None:
            return self._unauthorized("relay", "unknown account")
        if self._declared_too_large(request):
            return self._too_large(platform)
        body = await self._read_body(request)
        if body is None:
            return self._too_large(platform)
        if not auth.check_signature(body, request.headers):
            return self._unauthorized(platform, f"bad signature for account {account_id}")
        if not _is_json_media_type(request.headers.get("content-type")):
            self.metrics.rejected("unsupported_media_type", platform)
            return _json(415, {"error": "expected Content-Type: application/json"})

        headers = _kept_headers(request, _RELAY_HEADERS)
        delivery_id = request.headers["webhook-id"]  # present: the signature covers it
        try:
            if len(delivery_id) > MAX_ID_LENGTH:
                raise MalformedBody(f"webhook-id longer than {MAX_ID_LENGTH}")
            record = parse_relay(body, platform)
        except MalformedBody as error:
            return await self._dead_letter(
                platform=platform,
                account_id=account_id,
                kind="relay",
                delivery_id=delivery_id[:MAX_ID_LENGTH],
                received_ns=received_ns,
                headers=headers,
                body=body,
                reason=str(error),
            )
        data = encode_delivery(
            delivery_id=delivery_id,
            platform=platform,
            account_id=account_id,
            kind="relay",
            action=record.type,
            received_ns=received_ns,
            headers=headers,
            body=body,
        )
        return await self._land(platform, account_id, delivery_id, data, received_ns)

    async def landing_counts(self) -> dict[str, int] | None:
        # Counting lists directories: cache it so scraping cannot keep the disk busy.
        now = time.monotonic()
        if self._counts is None or now - self._counts_at > _COUNTS_TTL:
            try:
                self._counts = await asyncio.to_thread(self.landing.counts)
            except OSError:
                self._counts = None
            self._counts_at = now
        return self._counts

    async def healthz(self, request: Request) -> Response:
        counts = await self.landing_counts()
        combined, processes = await asyncio.to_thread(self.shared.combined)
        healthy = self.storage_ok and counts is not None
        content = {
            "status": "ok" if healthy else "degraded",
            "accounts": len(self.auth),
            "landing": counts,
            **combined.snapshot(),
            "processes": processes,
        }
        return _json(200 if healthy else 503, content)

    async def metrics_endpoint(self, request: Request) -> Response:
        combined, _ = await asyncio.to_thread(self.shared.combined)
        text = combined.prometheus(await self.landing_counts())
        return Response(text, 200, media_type="text/plain; version=0.0.4")


def _kept_headers(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    return {
        name: value[:_MAX_HEADER_KEPT]
        for name in names
        if (value := request.headers.get(name)) is not None
    }


def _sha256(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def mask_path(path: str) -> str:
    """The request path with the Eventbrite URL token replaced, safe to log."""
    parts = path.split("/")
    if len(parts) >= 5 and parts[1] == "webhooks" and parts[2] == "eventbrite":
        parts[4:] = ["***"]
    return "/".join(parts)


class _Guard:
    """ASGI middleware: turns a client disconnect into a quiet end and logs masked access lines."""

    def __init__(self, app: ASGIApp, access_log: bool) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except ClientDisconnect:
            status = 499  # nobody is listening any more; nothing was acknowledged
        if self.access_log:
            client = scope.get("client") or ("-", 0)
            log.info(
                '%s - "%s %s" %d %.1fms',
                client[0],
                scope["method"],
                mask_path(scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
            )


def create_app(
    config: ProjectConfig,
    landing: LandingArea | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    access_log: bool = False,
    writer: LandingWriter | None = None,
) -> Starlette:
    """Build the receiver. Raises ``ConfigError`` if an enabled account has no webhook secret."""
    auth = load_account_auth(config)
    landing = landing or LandingArea.for_data_dir(config.data_dir)
    writer = writer or LandingWriter(landing)
    metrics = Metrics()
    receiver = Receiver(auth, landing, writer, metrics, max_body_bytes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            landing.ensure()
        except OSError as error:
            # Keep serving: deliveries get 503 (the senders retry) and /healthz says degraded.
            receiver.storage_ok = False
            log.error("landing area %s is not usable: %s", landing.root, error)
        log.info(
            "webhook receiver (pid %d) landing into %s for %d account(s)",
            os.getpid(),
            landing.root,
            len(auth),
        )
        background = [
            asyncio.create_task(_log_summaries(metrics)),
            asyncio.create_task(_publish_metrics(receiver.shared)),
        ]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await writer.close()
            metrics.log_summary()
            receiver.shared.withdraw()

    routes = [
        Route("/webhooks/eventbrite/{account_id}/{token}", receiver.eventbrite, methods=["POST"]),
        Route("/webhooks/relay/{platform}/{account_id}", receiver.relay, methods=["POST"]),
        Route("/healthz", receiver.healthz, methods=["GET"]),
        Route("/metrics", receiver.metrics_endpoint, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.receiver = receiver
    app.add_middleware(_Guard, access_log=access_log)
    return app


async def _publish_metrics(shared: SharedMetrics) -> None:
    while True:
        try:
            await asyncio.to_thread(shared.publish)
        except OSError as error:
            log.debug("cannot publish metrics: %s", error)
        await asyncio.sleep(PUBLISH_INTERVAL)


async def _log_summaries(metrics: Metrics) -> None:
    while True:
        await asyncio.sleep(_SUMMARY_INTERVAL)
        metrics.log_summary()
