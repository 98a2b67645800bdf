"""The webhook receiver: a Starlette app that authenticates, validates and durably lands deliveries.

Order of checks, cheapest and least revealing first: authentication (401, identical for every
cause), size (413), content type (415), body shape (400, kept in dead-letter because the sender
proved who it is). A 2xx is sent only once the delivery is on disk; if it cannot be stored the
answer is 503 so the sender retries. Never 410: to Eventbrite that means "unsubscribe".

No body is read before what can be authenticated without it was: the Eventbrite URL token, and for
a relay the account, the presence of the signature headers and the timestamp's freshness (the
signature itself covers the body). Bodies are bounded by Content-Length and while streaming, and
a body that does not arrive within ``body_timeout`` seconds is answered 408. An answer given
without reading the body closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...config import ConfigError, ProjectConfig
from ..landing import (
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
from .auth import (
    MIN_SECRET_LENGTH,
    AccountAuth,
    check_dummy_token,
    load_account_auth,
    signature_headers_plausible,
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
# Eventbrite bodies are ~300 bytes and relay records a few KB: 10 s is generous even on a slow
# link, and short enough that idle senders cannot pile up.
DEFAULT_BODY_TIMEOUT = 10.0
# When set, /metrics and the details of /healthz require "Authorization: Bearer <this value>".
METRICS_TOKEN_ENV = "TICKETING_WEBHOOKS_METRICS_TOKEN"
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
# Sent when the request body was not (fully) read: the connection cannot carry another request.
_CLOSE = {"Connection": "close"}
_STORED = orjson.dumps({"status": "stored"})
_DUPLICATE = orjson.dumps({"status": "duplicate"})


def _is_json_media_type(value: str | None) -> bool:
    if not value:
        return False
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class _BodyTimeout(Exception):
    """The body did not arrive within the deadline."""


class Receiver:
    """Request handlers plus the state they share (secrets, writer, counters)."""

    def __init__(
        self,
        auth: dict[tuple[str, str], AccountAuth],
        landing: LandingArea,
        writer: LandingWriter,
        metrics: Metrics,
        max_body_bytes: int,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        metrics_token: str | None = None,
    ) -> None:
        self.auth = auth
        self.landing = landing
        self.writer = writer
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self._metrics_token = metrics_token.encode() if metrics_token else None
        self.shared = SharedMetrics(metrics, landing.root / ".metrics")
        self.storage_ok = True
        self._counts: dict[str, int] | None = None
        self._counts_at = 0.0

    # -- shared steps -------------------------------------------------------------------------

    def _unauthorized(self, platform: str, detail: str) -> Response:
        self.metrics.rejected("unauthorized", platform, detail)
        return Response(_UNAUTHORIZED, 401, _CLOSE, media_type="application/json")

    def _too_large(self, platform: str) -> Response:
        self.metrics.rejected("too_large", platform)
        return _json(413, {"error": f"body larger than {self.max_body_bytes} bytes"}, _CLOSE)

    def _timed_out(self, platform: str) -> Response:
        self.metrics.rejected("timeout", platform)
        return _json(408, {"error": f"body not received within {self.body_timeout:g}s"}, _CLOSE)

    def _declared_too_large(self, request: Request) -> bool:
        declared = request.headers.get("content-length")
        try:
            return declared is not None and int(declared) > self.max_body_bytes
        except ValueError:  # the server rejects a bad length before us; if not, reading bounds it
            return False

    async def _read_body(self, request: Request) -> bytes | None:
        """The body, or None if it grows past the limit (read no further than that).

        Raises ``_BodyTimeout`` if the whole body has not arrived within ``body_timeout``.
        """
        chunks, size = [], 0
        try:
            async with asyncio.timeout(self.body_timeout):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        return None
                    chunks.append(chunk)
        except TimeoutError:
            raise _BodyTimeout from None
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
        webhook_id: str | None = None,
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
            webhook_id=webhook_id,
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
        content_type = request.headers.get("content-type")
        # The real capture of Eventbrite deliveries shows no Content-Type (its logger may have
        # dropped it): a missing one is accepted and the body's parse decides; a wrong one is not.
        if content_type is not None and not _is_json_media_type(content_type):
            self.metrics.rejected("unsupported_media_type", platform)
            return _json(415, {"error": "expected Content-Type: application/json"}, _CLOSE)
        try:
            body = await self._read_body(request)
        except _BodyTimeout:
            return self._timed_out(platform)
        if body is None:
            return self._too_large(platform)

        headers = _kept_headers(request, _EVENTBRITE_HEADERS)
        # X-Eventbrite-Delivery is the *webhook's* id, the same on every delivery of a webhook
        # (tests/fixtures/real: three deliveries of webhook 1806556), and Eventbrite sends no
        # per-delivery id. Each delivery is a new "this object changed" and gets a fresh id, so
        # it is landed even if an earlier one was loaded already; an identical retry is landed
        # twice, which only makes the loader fetch the object twice.
        webhook_id = request.headers.get("x-eventbrite-delivery")
        webhook_id = webhook_id[:MAX_ID_LENGTH] if webhook_id is not None else None
        delivery_id = f"eventbrite-{received_ns}-{secrets.token_hex(6)}"
        # Eventbrite echoes the endpoint URL (and so our token) in config.endpoint_url: a secret
        # must not rest in landed files, so every occurrence of it is masked before storing.
        body = body.replace(token.encode(), b"***")
        try:
            hint = parse_eventbrite(body, auth.account.api_base_url)
        except MalformedBody as error:
            return await self._dead_letter(
                platform=platform,
                account_id=account_id,
                kind="eventbrite_reference",
                delivery_id=delivery_id,
                received_ns=received_ns,
                headers=headers,
                body=body,
                reason=str(error),
                webhook_id=webhook_id,
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
            webhook_id=webhook_id,
        )
        return await self._land(
            platform, account_id, delivery_id, data, received_ns, skip_if_loaded=False
        )

    async def relay(self, request: Request) -> Response:
        received_ns = time.time_ns()
        platform = request.path_params["platform"]
        account_id = request.path_params["account_id"]
        auth = self.auth.get((platform, account_id))
        # The label is request text until the account is known: never use it in metrics before.
        # Eventbrite accounts accept no relays (see auth.py): the same answer as an unknown one.
        if auth is None or not auth.accepts_relays:
            return self._unauthorized("relay", "unknown account")
        # Everything the signature needs besides the body is checked before reading the body,
        # so an anonymous client cannot make us buffer it.
        if not signature_headers_plausible(request.headers):
            return self._unauthorized(
                platform, f"missing or stale signature headers for account {account_id}"
            )
        if self._declared_too_large(request):
            return self._too_large(platform)
        try:
            body = await self._read_body(request)
        except _BodyTimeout:
            return self._timed_out(platform)
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

    def _may_observe(self, request: Request) -> bool:
        """Whether the request may see counters (always, unless a metrics token is set)."""
        if self._metrics_token is None:
            return True
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self._metrics_token)

    async def healthz(self, request: Request) -> Response:
        counts = await self.landing_counts()
        healthy = self.storage_ok and counts is not None
        if not self._may_observe(request):
            # A liveness probe needs no secret; the numbers (accounts, traffic) stay private.
            return _json(200 if healthy else 503, {"status": "ok" if healthy else "degraded"})
        combined, processes = await asyncio.to_thread(self.shared.combined)
        content = {
            "status": "ok" if healthy else "degraded",
            "accounts": len(self.auth),
            "landing": counts,
            **combined.snapshot(),
            "processes": processes,
        }
        return _json(200 if healthy else 503, content)

    async def metrics_endpoint(self, request: Request) -> Response:
        if not self._may_observe(request):
            self.metrics.rejected("unauthorized", "metrics")
            return Response(
                _UNAUTHORIZED, 401, {"WWW-Authenticate": "Bearer"}, media_type="application/json"
            )
        combined, _ = await asyncio.to_thread(self.shared.combined)
        text = combined.prometheus(await self.landing_counts())
        return Response(text, 200, media_type="text/plain; version=0.0.4")


def _kept_headers(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    return {
        name: value[:_MAX_HEADER_KEPT]
        for name in names
        if (value := request.headers.get(name)) is not None
    }


# Path segments that are never secret and may appear in an access log as they are.
_PUBLIC_SEGMENTS = frozenset(
    {"", "webhooks", "eventbrite", "relay", "humanitix", "healthz", "metrics"}
)


def mask_path(path: str, account_ids: frozenset[str] = frozenset()) -> str:
    """The request path safe to log: every segment is ``***`` unless it is known not to be secret.

    Masking by what is allowed, not by what the token looks like: however a sender spells the path
    (``//``, ``/./``, percent-encoding, capitals, token and account swapped), no token reaches the
    log. Fixed route words and configured account ids are kept so lines stay useful.
    """
    return "/".join(
        part if part.lower() in _PUBLIC_SEGMENTS or part in account_ids else "***"
        for part in path.split("/")
    )


class _Guard:
    """ASGI middleware: turns a client disconnect into a quiet end and logs masked access lines."""

    def __init__(
        self, app: ASGIApp, access_log: bool, account_ids: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.account_ids = account_ids

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
                mask_path(scope["path"], self.account_ids),
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
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> Starlette:
    """Build the receiver. Raises ``ConfigError`` if an enabled account has no webhook secret or
    ``TICKETING_WEBHOOKS_METRICS_TOKEN`` is set but too short."""
    auth = load_account_auth(config)
    metrics_token = metrics_token_from_environment()
    landing = landing or LandingArea.for_data_dir(config.data_dir)
    writer = writer or LandingWriter(landing)
    metrics = Metrics()
    receiver = Receiver(auth, landing, writer, metrics, max_body_bytes, body_timeout, metrics_token)

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
    account_ids = frozenset(account_id for _, account_id in auth)
    app.add_middleware(_Guard, access_log=access_log, account_ids=account_ids)
    return app


def metrics_token_from_environment() -> str | None:
    """The bearer token for /metrics from ``TICKETING_WEBHOOKS_METRICS_TOKEN`` (None: open)."""
    token = os.environ.get(METRICS_TOKEN_ENV, "").strip()
    if not token:
        return None
    if len(token) < MIN_SECRET_LENGTH or any(c.isspace() for c in token):
        raise ConfigError(
            f"{METRICS_TOKEN_ENV} must be at least {MIN_SECRET_LENGTH} characters without spaces"
        )
    return token


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
