"""Send the sandbox's changes to the webhook receiver, as the platforms (or a relay) would.

``WebhookSender(dataset, receiver_url, eventbrite_tokens, relay_secrets)`` delivers every
``ChangeNotice`` after its cursor:

* Eventbrite changes as Eventbrite's reference webhooks to
  ``POST {receiver}/webhooks/eventbrite/{org_id}/{token}``: body ``{"config": {"action",
  "user_id", "endpoint_url", "webhook_id"}, "api_url": <sandbox Eventbrite base + api_path>}``,
  with the headers of the real capture (``tests/fixtures/real/
  eventbrite_webhook_deliveries_headers_excerpt_rio2c_2019.json``): ``User-Agent: Eventbrite
  Webhooks (Dilithium)``, ``X-Eventbrite-Event: <action>`` and ``X-Eventbrite-Delivery: <the
  webhook's id>`` -- the same on every delivery of the org's webhook, equal to
  ``config.webhook_id``; it is not a delivery id. A new order comes as a burst, as in the
  capture: ``order.placed``, ``order.updated`` and one ``attendee.updated`` per attendee, and
  for some orders ``order.updated`` arrives before ``order.placed``.
* Humanitix changes (Humanitix has no webhooks) as a relay would post them: to
  ``POST {receiver}/webhooks/relay/humanitix/{account_id}``, signed per Standard Webhooks, one
  record per message in the receiver's envelope ``{"type", "data"}``: the order's current record
  exactly as the API serves it, then each of its tickets changed by the same change (or later).
  ``webhook-id`` is ``<entity>-<_id>-<updatedAt>``, as the receiver's README recommends, so the
  same record state is stored once however often it is sent.

Adversarial knobs (deterministic for a given ``seed``): ``duplicate_rate`` sends some deliveries a
second time with the same delivery id, ``shuffle`` sends each batch out of order, and the
``send_*`` helpers post forged or broken deliveries (wrong URL token, wrong signature, stale
timestamp, ``api_url`` on a foreign host, malformed body) and Eventbrite's ``test`` ping.

The sender never holds the data set's lock while it talks to the receiver: each batch is read
under the lock first, then sent. Relay timestamps are the real wall clock (the receiver checks
them against its own), not the sandbox clock.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import orjson
from standardwebhooks.webhooks import Webhook

from ticketing_pipeline.sandbox.dataset import ChangeNotice, SandboxDataset

log = logging.getLogger(__name__)

Route = Literal["eventbrite", "relay"]

DEFAULT_EVENTBRITE_API_BASE = "http://127.0.0.1:8765/eventbrite/v3"  # ``serve()``'s default port
STALE_SECONDS = 600  # the receiver's Standard Webhooks tolerance is 5 minutes
EVENTBRITE_USER_AGENT = "Eventbrite Webhooks (Dilithium)"  # as in the real capture
_RETRY_STATUSES = {429, 500, 502, 503, 504}
# Relay envelope types for Humanitix notices (the receiver's README uses "created"/"updated").
_HX_ORDER_TYPE = {"order.placed": "order.created"}
_WHSEC = "whsec_"


@dataclass(frozen=True)
class Delivery:
    """One message to the receiver (built from a notice, or forged). Holds no secret."""

    delivery_id: str
    platform: str
    account_id: str
    route: Route
    action: str
    body: bytes
    notice_seq: int | None = None
    record_id: str | None = None
    # Eventbrite: the webhook's id, sent as X-Eventbrite-Delivery (``delivery_id`` is the
    # sender's own bookkeeping id, unique per delivery, never sent to Eventbrite receivers).
    webhook_id: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """What the receiver answered to one attempt chain of one delivery.

    ``outcome``: ``stored``, ``duplicate``, ``test`` (ping acknowledged), ``malformed`` (400, kept
    in dead-letter), ``unauthorized`` (401), ``failed`` (anything else, after retries).
    ``repeat`` is True for the adversarial second send of a ``duplicate_rate`` pick.
    """

    delivery_id: str
    platform: str
    account_id: str
    route: Route
    action: str
    outcome: str
    status_code: int | None
    attempts: int
    notice_seq: int | None = None
    record_id: str | None = None
    repeat: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("stored", "duplicate", "test")


@dataclass
class SendReport:
    """The result of one ``send_pending`` call."""

    cursor_before: int
    cursor: int
    notices: int = 0
    results: list[DeliveryResult] = field(default_factory=list)
    # Seqs of notices of accounts the sender has no token/secret for (not sent).
    skipped: list[int] = field(default_factory=list)
    # Deliveries of one batch that carried the same record state as an earlier one (not re-sent).
    coalesced: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def stored(self) -> int:
        return self.count("stored")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def failed(self) -> list[DeliveryResult]:
        return [r for r in self.results if not r.ok]

    @property
    def delivery_ids(self) -> set[str]:
        return {r.delivery_id for r in self.results}

    def to_dict(self) -> dict[str, Any]:
        outcomes: dict[str, int] = {}
        for result in self.results:
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        return {
            "cursor_before": self.cursor_before,
            "cursor": self.cursor,
            "notices": self.notices,
            "deliveries": len(self.results),
            "outcomes": outcomes,
            "skipped": self.skipped,
            "coalesced": self.coalesced,
            "failed": [asdict(r) for r in self.failed],
        }


def signing_key(secret: str) -> bytes:
    """The HMAC key of a relay secret, read the way the receiver reads it.

    ``whsec_<base64>`` is Standard Webhooks' form (the key is the decoded bytes); anything else is
    used as raw bytes.
    """
    if secret.startswith(_WHSEC):
        encoded = secret[len(_WHSEC) :]
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    return secret.encode()


class WebhookSender:
    """Deliver the data set's change notices to a webhook receiver.

    ``eventbrite_tokens``: org id -> URL token (the receiver's Eventbrite webhook secret).
    ``relay_secrets``: ``(platform, account_id)`` -> Standard Webhooks secret (``whsec_...``).
    Notices of accounts missing from these are skipped (listed in ``SendReport.skipped``).
    ``eventbrite_api_base`` must be the base the receiver's account config expects ``api_url``
    under (``SandboxServer.eventbrite_base_url``; ``SandboxServer.webhook_sender`` fills it in).
    ``after`` is the starting cursor (a notice seq; 0 = from the first change).
    """

    def __init__(
        self,
        dataset: SandboxDataset,
        receiver_url: str,
        eventbrite_tokens: Mapping[str, str] | None = None,
        relay_secrets: Mapping[tuple[str, str], str] | None = None,
        *,
        eventbrite_api_base: str = DEFAULT_EVENTBRITE_API_BASE,
        seed: int = 0,
        duplicate_rate: float = 0.0,
        shuffle: bool = False,
        after: int = 0,
        max_attempts: int = 3,
        retry_delay: float = 0.05,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        eventbrite_bursts: bool = True,
    ) -> None:
        if not 0.0 <= duplicate_rate <= 1.0:
            raise ValueError("duplicate_rate must be in [0, 1]")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.dataset = dataset
        self.receiver_url = receiver_url.rstrip("/")
        self.eventbrite_api_base = eventbrite_api_base.rstrip("/")
        self._tokens = dict(eventbrite_tokens or {})
        self._signers = {
            (platform, account_id): Webhook(signing_key(secret))
            for (platform, account_id), secret in (relay_secrets or {}).items()
        }
        self.seed = seed
        self.duplicate_rate = duplicate_rate
        self.shuffle = shuffle
        self.cursor = after
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.clock = clock
        self.eventbrite_bursts = eventbrite_bursts
        self._rng = random.Random(f"webhook-sender:{seed}")
        self._forged = 0
        self._retry: list[Delivery] = []
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=timeout)
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_report: SendReport | None = None
        self.last_error: str | None = None

    def __repr__(self) -> str:  # no tokens or secrets
        return (
            f"WebhookSender({self.receiver_url}, cursor={self.cursor}, "
            f"{len(self._tokens)} token(s), {len(self._signers)} relay secret(s))"
        )

    # -- the main job ---------------------------------------------------------------------------

    def pending(self) -> list[ChangeNotice]:
        """Notices not sent yet (after the cursor)."""
        return self.dataset.changes_after(self.cursor)

    def send_pending(self) -> SendReport:
        """Send every notice after the cursor (plus earlier deliveries that failed), then move it.

        Deliveries that still fail after ``max_attempts`` (transport errors, 429, 5xx) are kept
        and sent again, first, by the next call; the cursor moves past their notices anyway.
        """
        with self._send_lock:
            report = SendReport(cursor_before=self.cursor, cursor=self.cursor)
            with self.dataset.lock:
                notices = self.dataset.changes_after(self.cursor)
                deliveries: list[Delivery] = []
                for notice in notices:
                    built = self.deliveries_for(notice)
                    if built is None:
                        report.skipped.append(notice.seq)
                    else:
                        deliveries.extend(built)
            report.notices = len(notices)
            if notices:
                report.cursor = notices[-1].seq

            unique: dict[str, Delivery] = {}
            for delivery in deliveries:
                key = f"{delivery.platform}\0{delivery.account_id}\0{delivery.delivery_id}"
                if key in unique:
                    report.coalesced += 1
                else:
                    unique[key] = delivery
            batch: list[tuple[Delivery, bool]] = [(d, False) for d in self._retry]
            self._retry = []
            for delivery in unique.values():
                batch.append((delivery, False))
                if self.duplicate_rate and self._rng.random() < self.duplicate_rate:
                    batch.append((delivery, True))
            if self.shuffle:
                self._rng.shuffle(batch)

            for delivery, repeat in batch:
                result = self.deliver(delivery, repeat=repeat)
                report.results.append(result)
                if result.outcome == "failed" and not repeat:
                    self._retry.append(delivery)
            self.cursor = report.cursor
            self.last_report = report
            return report

    def deliveries_for(self, notice: ChangeNotice) -> list[Delivery] | None:
        """The deliveries announcing one notice; None if the account has no credentials here.

        Call with the data set's lock held (``send_pending`` does) for a consistent read.
        """
        if notice.platform == "eventbrite":
            if notice.account_id not in self._tokens:
                return None
            return self._eventbrite_deliveries(notice)
        if (notice.platform, notice.account_id) not in self._signers:
            return None
        if notice.platform == "humanitix":
            return self._humanitix_deliveries(notice)
        raise ValueError(f"unknown platform {notice.platform!r}")

    # -- building deliveries --------------------------------------------------------------------

    def eventbrite_delivery_id(self, notice: ChangeNotice) -> str:
        """The sender's id of a change (platform, account, seq, object, time), stable for a given
        data set; the deliveries of its burst add ``-<n>``. Never sent as a header."""
        spec = self.dataset.spec
        raw = (
            f"{spec.seed}:{spec.orders}:{notice.platform}:{notice.account_id}:"
            f"{notice.seq}:{notice.object_id}:{notice.at}"
        )
        return "sbx-" + hashlib.sha256(raw.encode()).hexdigest()[:32]

    def endpoint_url(self, account_id: str, token: str | None = None) -> str:
        token = self._tokens[account_id] if token is None else token
        return f"{self.receiver_url}/webhooks/eventbrite/{account_id}/{token}"

    def relay_url(self, platform: str, account_id: str) -> str:
        return f"{self.receiver_url}/webhooks/relay/{platform}/{account_id}"

    def _eventbrite_user_id(self, account_id: str) -> str:
        # As /users/me/ answers for the org's token: derived from the token's first org.
        org = self.dataset.eb_orgs.get(account_id)
        first = self.dataset.eb_tokens.get(org.token, [account_id])[0] if org else account_id
        return f"{int(first) % 10**11 + 3:011d}" if first.isdigit() else first

    @staticmethod
    def eventbrite_webhook_id(account_id: str) -> str:
        """The id of the org's one webhook: ``config.webhook_id`` and ``X-Eventbrite-Delivery``."""
        return f"{int(hashlib.sha256(account_id.encode()).hexdigest()[:8], 16) % 10**7:07d}"

    def eventbrite_body(self, account_id: str, action: str, api_url: str | None) -> bytes:
        """Eventbrite's reference body. ``endpoint_url`` is the registered URL (with its token),
        as Eventbrite sends it."""
        body: dict[str, Any] = {
            "config": {
                "action": action,
                "user_id": self._eventbrite_user_id(account_id),
                "endpoint_url": self.endpoint_url(account_id) if account_id in self._tokens else "",
                "webhook_id": self.eventbrite_webhook_id(account_id),
            },
        }
        if api_url is not None:
            body["api_url"] = api_url
        return orjson.dumps(body)

    def eventbrite_burst(self, notice: ChangeNotice) -> list[tuple[str, str]]:
        """``(action, api_path)`` of each delivery announcing a notice, in sending order.

        A new order is a burst, as Eventbrite sends it (the capture: order.placed, order.updated
        and attendee.updated for one purchase, 34 ms apart, order.updated first): the order
        twice and each attendee once; for about a third of orders (chosen by a hash of the
        change, so deterministic) ``order.updated`` comes before ``order.placed``.
        """
        if notice.kind != "order.placed" or not self.eventbrite_bursts:
            return [(notice.kind, notice.api_path)]
        burst = [("order.placed", notice.api_path), ("order.updated", notice.api_path)]
        digest = hashlib.sha256(self.eventbrite_delivery_id(notice).encode()).digest()
        if digest[0] % 3 == 0:
            burst.reverse()
        event = self.dataset.eb_order_event.get(notice.object_id)
        if event is not None:
            for attendee_id in event.order_attendees.get(notice.object_id, []):
                burst.append(("attendee.updated", f"/events/{event.id}/attendees/{attendee_id}/"))
        return burst

    def _eventbrite_deliveries(self, notice: ChangeNotice) -> list[Delivery]:
        base_id = self.eventbrite_delivery_id(notice)
        webhook_id = self.eventbrite_webhook_id(notice.account_id)
        return [
            Delivery(
                delivery_id=f"{base_id}-{n}",
                platform="eventbrite",
                account_id=notice.account_id,
                route="eventbrite",
                action=action,
                body=self.eventbrite_body(
                    notice.account_id, action, self.eventbrite_api_base + api_path
                ),
                notice_seq=notice.seq,
                record_id=notice.object_id,
                webhook_id=webhook_id,
            )
            for n, (action, api_path) in enumerate(self.eventbrite_burst(notice))
        ]

    def _humanitix_deliveries(self, notice: ChangeNotice) -> list[Delivery]:
        # api_path: /events/{eventId}/orders/{orderId}
        parts = notice.api_path.strip("/").split("/")
        event = self.dataset.hx_events.get(parts[1]) if len(parts) >= 4 else None
        if event is None or notice.object_id not in event.orders:
            log.warning("sandbox webhooks: notice %d names no known order", notice.seq)
            return []
        order_bytes = event.orders[notice.object_id]
        order = orjson.loads(order_bytes)
        out = [
            self._relay(
                notice,
                "order",
                _HX_ORDER_TYPE.get(notice.kind, notice.kind),
                order_bytes,
                order["_id"],
                order["updatedAt"],
            )
        ]
        ticket_type = "ticket.created" if notice.kind == "order.placed" else "ticket.updated"
        for ticket_id in event.order_tickets.get(notice.object_id, []):
            ticket_bytes = event.tickets[ticket_id]
            updated = orjson.loads(ticket_bytes)["updatedAt"]
            # Only tickets this change (or a later one) touched: an edit of the buyer's name
            # leaves the tickets as they were. Same-format ISO strings compare as times.
            if updated >= notice.at:
                out.append(
                    self._relay(notice, "ticket", ticket_type, ticket_bytes, ticket_id, updated)
                )
        return out

    def _relay(
        self,
        notice: ChangeNotice,
        entity: str,
        kind: str,
        record: bytes,
        record_id: str,
        updated_at: str,
    ) -> Delivery:
        return Delivery(
            delivery_id=f"{entity}-{record_id}-{updated_at}",
            platform=notice.platform,
            account_id=notice.account_id,
            route="relay",
            action=kind,
            body=relay_body(kind, record),
            notice_seq=notice.seq,
            record_id=record_id,
        )

    # -- sending --------------------------------------------------------------------------------

    def relay_headers(
        self,
        delivery: Delivery,
        *,
        signer: Webhook | None = None,
        timestamp: float | None = None,
    ) -> dict[str, str]:
        signer = signer or self._signers[(delivery.platform, delivery.account_id)]
        seconds = int(self.clock() if timestamp is None else timestamp)
        moment = datetime.fromtimestamp(seconds, tz=UTC)
        signature = signer.sign(delivery.delivery_id, moment, delivery.body.decode())
        return {
            "content-type": "application/json",
            "user-agent": "ticketing-sandbox-relay/1",
            "webhook-id": delivery.delivery_id,
            "webhook-timestamp": str(seconds),
            "webhook-signature": signature,
        }

    def eventbrite_headers(self, delivery: Delivery) -> dict[str, str]:
        """The headers of the real capture; no Content-Type (the capture lists none)."""
        return {
            "accept": "text/plain",
            "accept-encoding": "gzip, deflate",
            "user-agent": EVENTBRITE_USER_AGENT,
            "x-eventbrite-delivery": delivery.webhook_id
            or self.eventbrite_webhook_id(delivery.account_id),
            "x-eventbrite-event": delivery.action,
        }

    def deliver(
        self,
        delivery: Delivery,
        *,
        repeat: bool = False,
        url: str | None = None,
        headers: Callable[[], dict[str, str]] | None = None,
        retry: bool = True,
    ) -> DeliveryResult:
        """POST one delivery, retrying transport errors, 429 and 5xx up to ``max_attempts``.

        ``url``/``headers`` override the normal ones (the forging helpers use them); relay
        headers are built per attempt, so a retry carries a fresh timestamp.
        """
        if url is None:
            url = (
                self.endpoint_url(delivery.account_id)
                if delivery.route == "eventbrite"
                else self.relay_url(delivery.platform, delivery.account_id)
            )
        if headers is None:
            if delivery.route == "eventbrite":
                fixed = self.eventbrite_headers(delivery)
                headers = lambda: fixed  # noqa: E731
            else:
                headers = lambda: self.relay_headers(delivery)  # noqa: E731
        attempts = self.max_attempts if retry else 1
        status: int | None = None
        error: str | None = None
        outcome = "failed"
        for attempt in range(1, attempts + 1):
            try:
                response = self._client.post(url, content=delivery.body, headers=headers())
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"
            else:
                status, error = response.status_code, None
                outcome = _outcome(response)
                if outcome == "failed":
                    error = response.text[:200]
                if status not in _RETRY_STATUSES:
                    break
            if attempt < attempts:
                time.sleep(self.retry_delay * attempt)
        return DeliveryResult(
            delivery_id=delivery.delivery_id,
            platform=delivery.platform,
            account_id=delivery.account_id,
            route=delivery.route,
            action=delivery.action,
            outcome=outcome,
            status_code=status,
            attempts=attempt,
            notice_seq=delivery.notice_seq,
            record_id=delivery.record_id,
            repeat=repeat,
            error=error,
        )

    # -- forged and odd deliveries (for tests) ------------------------------------------------

    def _forged_id(self, what: str) -> str:
        self._forged += 1
        return f"sbx-forged-{what}-{self.seed}-{self._forged:04d}-{self._rng.getrandbits(32):08x}"

    def _sample_eventbrite(
        self, account_id: str, what: str, api_url: str | None = None
    ) -> Delivery:
        """A plausible delivery for an org: its latest order (the forgery is the only fault)."""
        with self.dataset.lock:
            org = self.dataset.eb_orgs[account_id]
            order_id = org.order_index[-1][1] if org.order_index else "0"
            api_url = api_url or f"{self.eventbrite_api_base}/orders/{order_id}/"
            body = self.eventbrite_body(account_id, "order.updated", api_url)
        return Delivery(
            self._forged_id(what),
            "eventbrite",
            account_id,
            "eventbrite",
            "order.updated",
            body,
            webhook_id=self.eventbrite_webhook_id(account_id),
        )

    def _sample_relay(self, platform: str, account_id: str, what: str) -> Delivery:
        """A relay delivery carrying a real order of the account (Humanitix) or a stub record."""
        record: bytes = orjson.dumps({"id": "0"})
        with self.dataset.lock:
            account = self.dataset.hx_accounts.get(account_id) if platform == "humanitix" else None
            if account is not None:
                for event in account.events.values():
                    if event.orders:
                        record = next(iter(event.orders.values()))
                        break
        body = relay_body("order.updated", record)
        return Delivery(self._forged_id(what), platform, account_id, "relay", "order.updated", body)

    def send_test_ping(self, account_id: str) -> DeliveryResult:
        """Eventbrite's "Test" button: action ``test``, no ``api_url``; answered 200, not landed."""
        body = self.eventbrite_body(account_id, "test", None)
        delivery = Delivery(
            self._forged_id("ping"), "eventbrite", account_id, "eventbrite", "test", body
        )
        return self.deliver(delivery, retry=False)

    def send_wrong_token(self, account_id: str, token: str | None = None) -> DeliveryResult:
        """A well-formed Eventbrite delivery to a URL with a wrong token (expect 401)."""
        delivery = self._sample_eventbrite(account_id, "token")
        wrong = token or "forged-" + hashlib.sha256(delivery.delivery_id.encode()).hexdigest()[:32]
        return self.deliver(delivery, url=self.endpoint_url(account_id, wrong), retry=False)

    def send_foreign_api_url(self, account_id: str, api_url: str) -> DeliveryResult:
        """Right token, but ``api_url`` elsewhere (expect 400 and a dead-letter file)."""
        delivery = self._sample_eventbrite(account_id, "foreign", api_url=api_url)
        return self.deliver(delivery, retry=False)

    def send_wrong_signature(
        self, account_id: str, platform: str = "humanitix", secret: str | None = None
    ) -> DeliveryResult:
        """A relay delivery signed with another secret (expect 401)."""
        delivery = self._sample_relay(platform, account_id, "signature")
        key = signing_key(secret) if secret else self._rng.randbytes(32)
        signer = Webhook(key)
        return self.deliver(
            delivery, headers=lambda: self.relay_headers(delivery, signer=signer), retry=False
        )

    def send_stale_timestamp(
        self, account_id: str, platform: str = "humanitix", age_seconds: float = STALE_SECONDS
    ) -> DeliveryResult:
        """Correctly signed, but ``age_seconds`` old (expect 401: outside the 5-minute window)."""
        delivery = self._sample_relay(platform, account_id, "stale")
        stamp = self.clock() - age_seconds
        return self.deliver(
            delivery, headers=lambda: self.relay_headers(delivery, timestamp=stamp), retry=False
        )

    def send_malformed(
        self, platform: str, account_id: str, body: bytes | None = None
    ) -> DeliveryResult:
        """An authenticated delivery whose body cannot be loaded (expect 400 + dead-letter).

        Eventbrite: right URL token; relay: correctly signed. Default body: truncated JSON.
        """
        if platform == "eventbrite":
            template = self._sample_eventbrite(account_id, "malformed")
        else:
            template = self._sample_relay(platform, account_id, "malformed")
        raw = body if body is not None else template.body[: len(template.body) // 2]
        delivery = Delivery(
            template.delivery_id,
            platform,
            account_id,
            template.route,
            template.action,
            raw,
            webhook_id=template.webhook_id,
        )
        return self.deliver(delivery, retry=False)

    # -- background mode ------------------------------------------------------------------------

    def start(self, interval: float = 0.2) -> WebhookSender:
        """Send in a background thread every ``interval`` seconds (so after each ``mutate``)."""
        if self._thread is not None:
            return self
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="sandbox-webhook-sender", daemon=True
        )
        self._thread.start()
        return self

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            if not self.dataset.changes_after(self.cursor) and not self._retry:
                continue
            try:
                self.send_pending()
                self.last_error = None
            except Exception as error:  # noqa: BLE001 - keep the loop alive; the next tick retries
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("sandbox webhook sender: %s", self.last_error)

    def stop(self, flush: bool = True) -> None:
        """Stop the background thread; with ``flush``, send what is still pending first."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=30)
            self._thread = None
        if flush and (self.dataset.changes_after(self.cursor) or self._retry):
            self.send_pending()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def close(self) -> None:
        self.stop(flush=False)
        if self._own_client:
            self._client.close()

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def relay_body(kind: str, record: bytes) -> bytes:
    """The receiver's relay envelope around a record's bytes, kept exactly as served."""
    return b'{"type":' + orjson.dumps(kind) + b',"data":' + record + b"}"


def _outcome(response: httpx.Response) -> str:
    status = response.status_code
    if status == 200:
        try:
            content = response.json()
        except ValueError:
            return "failed"
        if content.get("test"):
            return "test"
        return {"stored": "stored", "duplicate": "duplicate"}.get(content.get("status"), "failed")
    return {400: "malformed", 401: "unauthorized"}.get(status, "failed")
