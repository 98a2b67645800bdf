"""The sandbox's WebhookSender against the real webhook receiver (uvicorn on 127.0.0.1).

Expectations are computed from the data set directly, not from the sender's own bookkeeping:
every change notice must leave exactly one landed file per record state, forged deliveries none.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from ticketing_pipeline.config import AccountConfig, Platform, ProjectConfig
from ticketing_pipeline.sandbox import (
    SandboxDataset,
    SandboxServer,
    SandboxSpec,
    WebhookSender,
    generate,
)
from ticketing_pipeline.webhooks.landing import LandedDelivery, LandingArea, delivery_file_name
from ticketing_pipeline.webhooks.receiver.app import create_app

SPEC = SandboxSpec(orders=300, seed=5)
EB_BASE = "http://127.0.0.1:9/eventbrite/v3"  # only compared as text, never fetched here


def eb_token(account_id: str) -> str:
    return f"eb-url-token-{account_id}-0123456789"


def hx_secret(account_id: str) -> str:
    return (
        "whsec_" + base64.b64encode(f"relay-secret-{account_id}".ljust(32, "!").encode()).decode()
    )


class Receiver:
    """The real receiver app under uvicorn in a thread, configured for every sandbox account."""

    def __init__(self, dataset: SandboxDataset, data_dir: Path, eb_base: str) -> None:
        accounts = []
        for n, account in enumerate(dataset.accounts):
            eventbrite = account.platform == "eventbrite"
            accounts.append(
                AccountConfig(
                    platform=Platform(account.platform),
                    account_id=account.account_id,
                    display_name=account.display_name,
                    secret_env=f"WH_TEST_API_{n}",
                    webhook_secret_env=f"WH_TEST_SECRET_{n}",
                    base_url=eb_base if eventbrite else None,
                )
            )
        self.env = {
            f"WH_TEST_SECRET_{n}": eb_token(a.account_id)
            if a.platform == "eventbrite"
            else hx_secret(a.account_id)
            for n, a in enumerate(dataset.accounts)
        }
        self.config = ProjectConfig(accounts=accounts, data_dir=data_dir)
        self.landing = LandingArea.for_data_dir(data_dir)

    def start(self) -> Receiver:
        app = create_app(self.config, self.landing)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "receiver did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def incoming(self) -> list[LandedDelivery]:
        return [self.landing.read(f) for f in self.landing.list_incoming()]


def credentials(dataset: SandboxDataset) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    tokens = {
        a.account_id: eb_token(a.account_id) for a in dataset.accounts if a.platform == "eventbrite"
    }
    secrets = {
        ("humanitix", a.account_id): hx_secret(a.account_id)
        for a in dataset.accounts
        if a.platform == "humanitix"
    }
    return tokens, secrets


@pytest.fixture
def dataset() -> SandboxDataset:
    return generate(SPEC)


def _start_receiver(
    dataset: SandboxDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, eb_base: str
) -> Receiver:
    receiver = Receiver(dataset, tmp_path / "data", eb_base)
    for name, value in receiver.env.items():
        monkeypatch.setenv(name, value)
    return receiver.start()


@pytest.fixture
def receiver(
    dataset: SandboxDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Receiver]:
    running = _start_receiver(dataset, tmp_path, monkeypatch, EB_BASE)
    yield running
    running.stop()


@pytest.fixture
def sender(dataset: SandboxDataset, receiver: Receiver) -> Iterator[WebhookSender]:
    tokens, secrets = credentials(dataset)
    with WebhookSender(
        dataset, receiver.url, tokens, secrets, eventbrite_api_base=EB_BASE
    ) as running:
        yield running


def eventbrite_burst(dataset: SandboxDataset, notice: Any) -> list[tuple[str, str]]:
    """(action, api_url) of the deliveries announcing one Eventbrite notice, from the data set:
    a new order is announced as order.placed, order.updated and attendee.updated per attendee
    (the real capture's burst); any other change once."""
    url = EB_BASE + notice.api_path
    if notice.kind != "order.placed":
        return [(notice.kind, url)]
    event = dataset.eb_order_event[notice.object_id]
    return [("order.placed", url), ("order.updated", url)] + [
        ("attendee.updated", f"{EB_BASE}/events/{event.id}/attendees/{attendee}/")
        for attendee in event.order_attendees[notice.object_id]
    ]


def expected_deliveries(dataset: SandboxDataset, after: int = 0) -> dict[tuple[str, str, str], Any]:
    """(platform, account, delivery key) -> what must have landed, per notice.

    Eventbrite: each reference of the notice's burst, keyed by seq, action and api_url.
    Humanitix: the order's current record and each ticket updated at or after the change, keyed
    by record id+updatedAt.
    """
    out: dict[tuple[str, str, str], Any] = {}
    for notice in dataset.changes_after(after):
        if notice.platform == "eventbrite":
            for action, url in eventbrite_burst(dataset, notice):
                out[("eventbrite", notice.account_id, f"seq{notice.seq} {action} {url}")] = (
                    action,
                    url,
                )
            continue
        event = dataset.hx_events[notice.api_path.split("/")[2]]
        order = event.orders[notice.object_id]
        updated = orjson.loads(order)["updatedAt"]
        out[("humanitix", notice.account_id, f"{notice.object_id}@{updated}")] = order
        for ticket_id in event.order_tickets[notice.object_id]:
            ticket = event.tickets[ticket_id]
            t_updated = orjson.loads(ticket)["updatedAt"]
            if t_updated >= notice.at:
                out[("humanitix", notice.account_id, f"{ticket_id}@{t_updated}")] = ticket
    return out


def landed_keys(
    landed: list[LandedDelivery], dataset: SandboxDataset
) -> dict[tuple[str, str, str], list[Any]]:
    """The same keys as ``expected_deliveries``, from the landed files (lists, to see repeats)."""
    seq_by_url: dict[tuple[str, str, str], list[int]] = {}
    for notice in dataset.changes:
        if notice.platform == "eventbrite":
            for action, url in eventbrite_burst(dataset, notice):
                seq_by_url.setdefault((notice.account_id, action, url), []).append(notice.seq)
    out: dict[tuple[str, str, str], list[Any]] = {}
    for delivery in landed:
        if delivery.kind == "eventbrite_reference":
            body = delivery.payload()
            # The real headers: X-Eventbrite-Delivery is the webhook's id (= config.webhook_id),
            # the same on every delivery of the org's webhook.
            assert delivery.headers["x-eventbrite-delivery"] == body["config"]["webhook_id"]
            assert delivery.webhook_id == body["config"]["webhook_id"]
            assert delivery.webhook_id == WebhookSender.eventbrite_webhook_id(delivery.account_id)
            assert delivery.headers["user-agent"] == "Eventbrite Webhooks (Dilithium)"
            assert delivery.headers["x-eventbrite-event"] == delivery.action
            assert body["config"]["action"] == delivery.action
            assert body["api_url"] == delivery.api_url
            seqs = seq_by_url[(delivery.account_id, delivery.action, delivery.api_url)]
            for seq in seqs:  # an order changed in two notices has one api_url: take by order
                key = (
                    "eventbrite",
                    delivery.account_id,
                    f"seq{seq} {delivery.action} {delivery.api_url}",
                )
                if key not in out:
                    break
            out.setdefault(key, []).append((delivery.action, delivery.api_url))
        else:
            raw = delivery.raw_body()
            envelope = orjson.loads(raw)
            record = envelope["data"]
            # The record is embedded byte for byte as the API serves it.
            start = raw.index(b'"data":') + len(b'"data":')
            key = (delivery.platform, delivery.account_id, f"{record['_id']}@{record['updatedAt']}")
            out.setdefault(key, []).append(raw[start:-1])
    return out


# -- the main path ------------------------------------------------------------------------------


def test_every_change_lands_exactly_once(
    dataset: SandboxDataset, receiver: Receiver, sender: WebhookSender
) -> None:
    dataset.mutate(0.1)
    expected = expected_deliveries(dataset)
    assert {k[0] for k in expected} == {"eventbrite", "humanitix"}

    report = sender.send_pending()

    assert report.failed == [] and report.skipped == []
    assert report.cursor == len(dataset.changes) == sender.cursor
    landed = receiver.incoming()
    assert len(landed) == report.stored == len(expected)
    got = landed_keys(landed, dataset)
    assert {k: v[0] for k, v in got.items()} == expected
    assert all(len(v) == 1 for v in got.values())
    # One X-Eventbrite-Delivery per org (the webhook's id), on every delivery of that org.
    eb = [d for d in landed if d.platform == "eventbrite"]
    assert len(eb) == sum(1 for k in expected if k[0] == "eventbrite")
    by_org = {(d.account_id, d.headers["x-eventbrite-delivery"]) for d in eb}
    assert len(by_org) == len({d.account_id for d in eb})
    # Bursts, sometimes out of order: order.updated lands before order.placed for some orders.
    assert {"order.placed", "order.updated", "attendee.updated"} <= {d.action for d in eb}
    first_action: dict[str, str] = {}
    for d in sorted(eb, key=lambda d: d.received_at):
        if d.action.startswith("order."):
            first_action.setdefault(d.api_url, d.action)
    assert {"order.placed", "order.updated"} <= set(first_action.values())
    relay_types = {d.action for d in landed if d.kind == "relay"}
    assert relay_types <= {
        "order.created",
        "order.updated",
        "order.refunded",
        "ticket.created",
        "ticket.updated",
    }
    assert "order.created" in relay_types and "ticket.created" in relay_types
    # The loader reads the relay's money exactly, as the API's JSON numbers.
    relay = next(d for d in landed if d.action == "order.created")
    order = relay.payload()["data"]
    served = dataset.hx_events[order["eventId"]].orders[order["_id"]]
    assert f'"grossSales":{order["totals"]["grossSales"]}'.encode() in served


def test_cursor_sends_only_new_changes(
    dataset: SandboxDataset, receiver: Receiver, sender: WebhookSender
) -> None:
    dataset.mutate(0.05)
    first = sender.send_pending()
    before = receiver.landing.counts()["incoming"]
    assert before == first.stored > 0

    assert sender.send_pending().results == []  # nothing new: nothing sent

    seen = len(dataset.changes)
    dataset.mutate(0.05)
    second = sender.send_pending()
    assert second.cursor_before == seen and second.notices == len(dataset.changes) - seen
    new = expected_deliveries(dataset, after=seen)
    assert second.stored + second.duplicates == len(new)
    assert receiver.landing.counts()["incoming"] == before + second.stored


def test_duplicates_and_shuffle_store_each_delivery_once(
    dataset: SandboxDataset, receiver: Receiver
) -> None:
    dataset.mutate(0.1)
    expected = expected_deliveries(dataset)
    tokens, secrets = credentials(dataset)
    with WebhookSender(
        dataset,
        receiver.url,
        tokens,
        secrets,
        eventbrite_api_base=EB_BASE,
        seed=3,
        duplicate_rate=0.5,
        shuffle=True,
    ) as sender:
        report = sender.send_pending()
    repeats = [r for r in report.results if r.repeat]
    assert len(repeats) > 5
    assert report.failed == []
    # A relay delivery sent twice is stored once (same webhook-id: "duplicate"); an Eventbrite
    # one has no delivery id to deduplicate on (X-Eventbrite-Delivery is the webhook's), so the
    # receiver lands both and the loader fetches the object twice: harmless.
    relay_repeats = [r for r in repeats if r.route == "relay"]
    eb_repeats = [r for r in repeats if r.route == "eventbrite"]
    assert relay_repeats and eb_repeats
    assert report.duplicates == len(relay_repeats)
    landed = receiver.incoming()
    assert report.stored == len(expected) + len(eb_repeats) == len(landed)
    got = landed_keys(landed, dataset)
    assert set(got) == set(expected)
    assert sum(len(v) - 1 for v in got.values()) == len(eb_repeats)
    # Out of order: the sequence of notices sent is not sorted.
    seqs = [r.notice_seq for r in report.results]
    assert seqs != sorted(seqs)


def test_forged_deliveries_are_rejected_and_not_landed(
    dataset: SandboxDataset, receiver: Receiver, sender: WebhookSender
) -> None:
    eb = next(a.account_id for a in dataset.accounts if a.platform == "eventbrite")
    hx = next(a.account_id for a in dataset.accounts if a.platform == "humanitix")
    area = receiver.landing

    rejected = [
        sender.send_wrong_token(eb),
        sender.send_wrong_signature(hx),
        sender.send_stale_timestamp(hx),
        # Signed with another account's (valid) secret: still the wrong signature.
        sender.send_wrong_signature(hx, secret=hx_secret("someone-else")),
    ]
    for result in rejected:
        assert (result.status_code, result.outcome) == (401, "unauthorized"), result
        name = delivery_file_name(result.platform, result.account_id, result.delivery_id)
        for folder in ("incoming", "processed", "failed", "dead-letter"):
            assert not (area.root / folder / name).exists()

    ping = sender.send_test_ping(eb)
    assert (ping.status_code, ping.outcome) == (200, "test")

    dead = [
        sender.send_foreign_api_url(eb, "https://attacker.example/v3/orders/1/"),
        sender.send_malformed("eventbrite", eb),
        sender.send_malformed("humanitix", hx),
        sender.send_malformed("humanitix", hx, body=b'{"type": "order.updated", "data": {}}'),
    ]
    for result in dead:
        assert (result.status_code, result.outcome) == (400, "malformed"), result
    # Relay dead letters are named by their webhook-id; Eventbrite ones get the receiver's own
    # id (Eventbrite sends no delivery id), so they are found by reading the folder.
    for result in dead[2:]:
        name = delivery_file_name(result.platform, result.account_id, result.delivery_id)
        assert area.read(area.root / "dead-letter" / name).reason
        assert area.find(result.platform, result.account_id, result.delivery_id) is None
    kept = [area.read(path) for path in sorted((area.root / "dead-letter").iterdir())]
    assert all(k.reason for k in kept)
    reasons = [k.reason for k in kept if k.platform == "eventbrite"]
    assert len(reasons) == 2
    assert any("not under the account's API base" in reason for reason in reasons)

    # Malformed and unauthenticated (wrong token): 401 and not even dead-lettered.
    anonymous = sender.deliver(
        sender._sample_eventbrite(eb, "anon"),
        url=sender.endpoint_url(eb, "wrong-token-0123456789abcdef"),
        retry=False,
    )
    assert anonymous.status_code == 401
    assert area.counts() == {"incoming": 0, "processed": 0, "failed": 0, "dead-letter": len(dead)}


def test_skips_accounts_without_credentials(dataset: SandboxDataset, receiver: Receiver) -> None:
    dataset.mutate(0.1)
    tokens, _ = credentials(dataset)
    only = sorted(tokens)[0]
    with WebhookSender(
        dataset, receiver.url, {only: tokens[only]}, {}, eventbrite_api_base=EB_BASE
    ) as sender:
        report = sender.send_pending()
    mine = [n.seq for n in dataset.changes if (n.platform, n.account_id) == ("eventbrite", only)]
    deliveries = sum(
        len(eventbrite_burst(dataset, n)) for n in dataset.changes if n.seq in set(mine)
    )
    assert mine and report.stored == deliveries
    assert sorted(report.skipped) == sorted(
        n.seq for n in dataset.changes if n.seq not in set(mine)
    )
    assert {d.account_id for d in receiver.incoming()} == {only}


# -- without a receiver: determinism and retries (httpx.MockTransport) --------------------------


def _mock_sender(dataset: SandboxDataset, handler: Any, **options: Any) -> WebhookSender:
    tokens, secrets = credentials(dataset)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return WebhookSender(
        dataset, "http://receiver.test", tokens, secrets, client=client, retry_delay=0, **options
    )


def _stored(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"status": "stored"})


def test_seed_makes_duplicates_and_order_deterministic() -> None:
    def run(seed: int) -> list[tuple[str, bool]]:
        ds = generate(SPEC)
        ds.mutate(0.1)
        sender = _mock_sender(ds, _stored, seed=seed, duplicate_rate=0.3, shuffle=True)
        return [(r.delivery_id, r.repeat) for r in sender.send_pending().results]

    first = run(1)
    assert first == run(1)
    assert first != run(2)
    assert any(repeat for _, repeat in first)


def test_retries_transient_failures_and_keeps_the_rest_for_later(
    dataset: SandboxDataset,
) -> None:
    dataset.mutate(0.02)
    calls: dict[str, int] = {}
    down = {"flag": True}

    def flaky(request: httpx.Request) -> httpx.Response:
        # X-Eventbrite-Delivery is the webhook's id (shared): an Eventbrite delivery is its body.
        eventbrite = "x-eventbrite-event" in request.headers
        key = sender_ids[request.content] if eventbrite else request.headers["webhook-id"]
        calls[key] = calls.get(key, 0) + 1
        if calls[key] == 1:
            return httpx.Response(503, json={"error": "busy"}, headers={"Retry-After": "1"})
        if down["flag"] and key == first_id:
            raise httpx.ConnectError("receiver gone")
        return _stored(request)

    sender = _mock_sender(dataset, flaky, max_attempts=2)
    first_notice = dataset.changes[0]
    first_id = sender.deliveries_for(first_notice)[0].delivery_id
    # Each Eventbrite body is unique within a send (action + api_url); map it to the sender's id.
    sender_ids = {
        d.body: d.delivery_id
        for n in dataset.changes
        if n.platform == "eventbrite"
        for d in sender.deliveries_for(n) or []
    }

    report = sender.send_pending()
    by_id = {r.delivery_id: r for r in report.results}
    assert by_id[first_id].outcome == "failed" and by_id[first_id].attempts == 2
    others = [r for r in report.results if r.delivery_id != first_id]
    assert others and all(r.outcome == "stored" and r.attempts == 2 for r in others)
    assert sender.cursor == len(dataset.changes)

    down["flag"] = False
    again = sender.send_pending()  # no new notices, but the failed delivery goes again
    assert [(r.delivery_id, r.outcome) for r in again.results] == [(first_id, "stored")]


def test_relay_signature_verifies_with_the_receivers_scheme(dataset: SandboxDataset) -> None:
    from standardwebhooks.webhooks import Webhook

    dataset.mutate(0.05)
    seen: list[httpx.Request] = []

    def capture(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _stored(request)

    _mock_sender(dataset, capture).send_pending()
    relays = [r for r in seen if "/webhooks/relay/humanitix/" in r.url.path]
    assert relays
    for request in relays:
        account = request.url.path.rsplit("/", 1)[1]
        Webhook(hx_secret(account)).verify(request.content, dict(request.headers), json_parse=False)
        envelope = orjson.loads(request.content)
        assert request.headers["webhook-id"] == (
            f"{envelope['type'].split('.')[0]}-{envelope['data']['_id']}-"
            f"{envelope['data']['updatedAt']}"
        )
    eventbrite = [r for r in seen if "/webhooks/eventbrite/" in r.url.path]
    assert eventbrite and all(
        r.url.path.endswith(eb_token(r.url.path.split("/")[3])) for r in eventbrite
    )


# -- through the sandbox server: api_url is fetchable, control endpoint, background mode --------


def test_control_endpoint_and_background_mode(
    dataset: SandboxDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SandboxServer(dataset) as server, httpx.Client(timeout=10) as http:
        receiver = _start_receiver(dataset, tmp_path, monkeypatch, server.eventbrite_base_url)
        try:
            tokens, secrets = credentials(dataset)
            assert http.post(server.url + "/_sandbox/webhooks/send").status_code == 409
            configured = http.post(
                server.url + "/_sandbox/webhooks",
                json={
                    "receiver_url": receiver.url,
                    "eventbrite_tokens": tokens,
                    "relay_secrets": {f"{p}/{a}": s for (p, a), s in secrets.items()},
                },
            )
            assert configured.status_code == 200, configured.text
            assert configured.json()["eventbrite_api_base"] == server.eventbrite_base_url
            assert http.post(server.url + "/_sandbox/mutate", json={"fraction": 0.05}).is_success
            sent = http.post(server.url + "/_sandbox/webhooks/send").json()
            assert sent["cursor"] == len(dataset.changes) and sent["failed"] == []
            assert sent["outcomes"]["stored"] == receiver.landing.counts()["incoming"] > 0

            # The loader's next step works: api_url answers with the org's token.
            landed = receiver.incoming()
            reference = next(d for d in landed if d.kind == "eventbrite_reference")
            assert reference.api_url.startswith(server.eventbrite_base_url + "/")
            token = next(a.secret for a in dataset.accounts if a.account_id == reference.account_id)
            fetched = http.get(reference.api_url, headers={"Authorization": f"Bearer {token}"})
            assert fetched.status_code == 200 and fetched.json()["id"] in reference.api_url

            # Background mode: a mutation is delivered without asking.
            sender = server.webhook_sender(
                receiver.url, tokens, secrets, after=len(dataset.changes)
            )
            assert http.get(server.url + "/_sandbox/webhooks").json()["cursor"] == sender.cursor
            sender.start(interval=0.05)
            before = receiver.landing.counts()["incoming"]
            dataset.mutate(0.05)
            wanted = before + len(expected_deliveries(dataset, after=sent["cursor"]))
            deadline = time.monotonic() + 10
            while receiver.landing.counts()["incoming"] < wanted:
                assert time.monotonic() < deadline, "background sender did not deliver"
                time.sleep(0.05)
            sender.stop()
            assert sender.cursor == len(dataset.changes) and sender.last_error is None
            assert receiver.landing.counts()["incoming"] == wanted
        finally:
            receiver.stop()
