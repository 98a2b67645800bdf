"""The receiver over HTTP (Starlette TestClient, real files in tmp_path)."""

from __future__ import annotations

import errno
import logging
import os
import time

import orjson
import pytest
from starlette.testclient import TestClient
from webhooks_helpers import (
    EB_ACCOUNT,
    EB_TOKEN,
    EB_TOKEN_NEXT,
    EB_URL,
    HX_ACCOUNT,
    HX_SECRET_OLD,
    HX_URL,
    eventbrite_body,
    eventbrite_headers,
    relay_body,
    relay_headers,
)

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.webhooks.landing import LandingArea, delivery_file_name
from ticketing_pipeline.webhooks.receiver.app import create_app, mask_path

UNAUTHORIZED = {"error": "unauthorized"}


def rejections(client: TestClient) -> dict[str, int]:
    return client.get("/healthz").json()["rejections"]


def test_eventbrite_delivery_lands(client: TestClient, landing: LandingArea) -> None:
    body = eventbrite_body()
    response = client.post(EB_URL, content=body, headers=eventbrite_headers("d-1"))
    assert response.status_code == 200
    assert response.json() == {"status": "stored"}

    files = landing.list_incoming()
    assert len(files) == 1
    landed = landing.read(files[0])
    # The receiver names each Eventbrite delivery itself (Eventbrite's header is the webhook's).
    assert landed.delivery_id.startswith("eventbrite-")
    assert files[0].name == delivery_file_name("eventbrite", EB_ACCOUNT, landed.delivery_id)
    assert landed.webhook_id == "d-1"
    assert landed.platform == "eventbrite"
    assert landed.account_id == EB_ACCOUNT
    assert landed.kind == "eventbrite_reference"
    assert landed.action == "order.placed"
    assert landed.api_url == "https://www.eventbriteapi.com/v3/orders/1034608029/"
    assert landed.body_encoding == "text"
    assert landed.raw_body() == body
    assert landed.headers["x-eventbrite-delivery"] == "d-1"
    assert landed.received_at.tzinfo is not None
    assert abs(landed.received_at.timestamp() - time.time()) < 60
    assert EB_TOKEN not in files[0].path.read_text()


def test_eventbrite_without_delivery_header_is_landed(
    client: TestClient, landing: LandingArea
) -> None:
    for _ in range(2):
        response = client.post(EB_URL, content=eventbrite_body(), headers=eventbrite_headers(None))
        assert response.json() == {"status": "stored"}
    landed = [landing.read(f) for f in landing.list_incoming()]
    assert len({d.delivery_id for d in landed}) == 2
    assert all(d.webhook_id is None for d in landed)
    assert all("x-eventbrite-delivery" not in d.headers for d in landed)


def test_relay_redelivery_after_processing_is_not_landed_again(
    client: TestClient, landing: LandingArea
) -> None:
    # A relay's webhook-id does name one message: its retry is recognised even once loaded.
    body = relay_body()
    assert client.post(HX_URL, content=body, headers=relay_headers(body, "r-9")).is_success
    landing.mark_processed(landing.list_incoming())
    again = client.post(HX_URL, content=body, headers=relay_headers(body, "r-9"))
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert landing.counts() == {"incoming": 0, "processed": 1, "failed": 0, "dead-letter": 0}


def test_rotated_eventbrite_token_accepted(client: TestClient, landing: LandingArea) -> None:
    url = f"/webhooks/eventbrite/{EB_ACCOUNT}/{EB_TOKEN_NEXT}"
    assert client.post(url, content=eventbrite_body(), headers=eventbrite_headers()).is_success
    assert landing.counts()["incoming"] == 1


def test_eventbrite_test_ping_answered_not_landed(client: TestClient, landing: LandingArea) -> None:
    body = orjson.dumps({"config": {"action": "test", "user_id": "1", "webhook_id": "2"}})
    response = client.post(EB_URL, content=body, headers=eventbrite_headers("ping-1", "test"))
    assert response.status_code == 200
    assert landing.counts() == {"incoming": 0, "processed": 0, "failed": 0, "dead-letter": 0}
    assert client.get("/healthz").json()["deliveries"] == {"test_ping": 1}


def test_unknown_eventbrite_action_is_landed(client: TestClient, landing: LandingArea) -> None:
    body = eventbrite_body(action="barcode.un_checked_in")
    assert client.post(EB_URL, content=body, headers=eventbrite_headers("u-1")).status_code == 200
    [landed] = [landing.read(f) for f in landing.list_incoming()]
    assert landed.action == "barcode.un_checked_in"


@pytest.mark.parametrize(
    "url",
    [
        f"/webhooks/eventbrite/{EB_ACCOUNT}/wrong-token-0123456789abcdef",
        f"/webhooks/eventbrite/{EB_ACCOUNT}/{EB_TOKEN[:-1]}",
        f"/webhooks/eventbrite/999/{EB_TOKEN}",  # unknown account
        f"/webhooks/eventbrite/{HX_ACCOUNT}/{EB_TOKEN}",  # not an Eventbrite account
    ],
)
def test_forged_eventbrite_token_rejected(
    client: TestClient, landing: LandingArea, url: str
) -> None:
    response = client.post(url, content=eventbrite_body(), headers=eventbrite_headers())
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert rejections(client) == {"unauthorized": 1}
    assert landing.counts() == {"incoming": 0, "processed": 0, "failed": 0, "dead-letter": 0}


def test_relay_delivery_lands_once(client: TestClient, landing: LandingArea) -> None:
    body = relay_body()
    headers = relay_headers(body, "msg_abc")
    first = client.post(HX_URL, content=body, headers=headers)
    second = client.post(HX_URL, content=body, headers=headers)
    assert first.status_code == 200 and first.json() == {"status": "stored"}
    assert second.status_code == 200 and second.json() == {"status": "duplicate"}
    [file] = landing.list_incoming()
    landed = landing.read(file)
    assert (landed.kind, landed.platform, landed.account_id) == ("relay", "humanitix", HX_ACCOUNT)
    assert landed.delivery_id == "msg_abc"
    assert landed.action == "order.updated"
    assert "webhook-signature" not in landed.headers
    assert landed.headers["webhook-id"] == "msg_abc"
    assert str(landed.payload()["data"]["total"]) == "53.98"  # exact decimal, not a float


def test_relay_accepts_old_secret_during_rotation(client: TestClient, landing: LandingArea) -> None:
    body = relay_body()
    response = client.post(HX_URL, content=body, headers=relay_headers(body, secret=HX_SECRET_OLD))
    assert response.status_code == 200
    assert landing.counts()["incoming"] == 1


@pytest.mark.parametrize("forgery", ["signature", "stale", "future", "body", "id", "missing"])
def test_forged_relay_rejected(client: TestClient, landing: LandingArea, forgery: str) -> None:
    body = relay_body()
    headers = relay_headers(body, "msg_1")
    wrong_secret = "whsec_" + "QUJD" * 11
    if forgery == "signature":
        headers = relay_headers(body, "msg_1", secret=wrong_secret)
    elif forgery == "stale":
        headers = relay_headers(body, "msg_1", timestamp=int(time.time()) - 6 * 60)
    elif forgery == "future":
        headers = relay_headers(body, "msg_1", timestamp=int(time.time()) + 6 * 60)
    elif forgery == "body":
        body = relay_body(record_id="65f1c0ffee0000000000ffff")
    elif forgery == "id":
        headers["webhook-id"] = "msg_2"
    else:
        del headers["webhook-signature"]
    response = client.post(HX_URL, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert rejections(client) == {"unauthorized": 1}
    assert landing.counts()["incoming"] == 0


def test_relay_unknown_account_or_platform_rejected(client: TestClient) -> None:
    body = relay_body()
    for url in ("/webhooks/relay/humanitix/nobody", f"/webhooks/relay/tixr/{HX_ACCOUNT}"):
        response = client.post(url, content=body, headers=relay_headers(body))
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED


def test_oversize_body_rejected_with_413(client: TestClient, landing: LandingArea) -> None:
    big = b'{"config": {"action": "order.placed"}, "pad": "' + b"x" * 70_000 + b'"}'
    response = client.post(EB_URL, content=big, headers=eventbrite_headers())
    assert response.status_code == 413

    # Also when the sender does not declare a length (chunked upload).
    def chunks():
        yield big[:40_000]
        yield big[40_000:]

    response = client.post(EB_URL, content=chunks(), headers=eventbrite_headers())
    assert response.status_code == 413
    assert rejections(client)["too_large"] == 2
    assert landing.counts()["incoming"] == 0


def test_wrong_content_type_rejected_with_415(client: TestClient, landing: LandingArea) -> None:
    headers = eventbrite_headers() | {"content-type": "text/plain"}
    assert client.post(EB_URL, content=eventbrite_body(), headers=headers).status_code == 415
    body = relay_body()
    headers = relay_headers(body) | {"content-type": "application/x-www-form-urlencoded"}
    assert client.post(HX_URL, content=body, headers=headers).status_code == 415
    assert landing.counts()["incoming"] == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"config": {}}',
        b'{"config": {"action": "order.placed"}}',  # no api_url
        b'{"config": {"action": "order.placed"}, "api_url": "https://evil.example/v3/orders/1/"}',
        b"\xff\xfe{}",
    ],
)
def test_malformed_authenticated_eventbrite_body_goes_to_dead_letter(
    client: TestClient, landing: LandingArea, body: bytes
) -> None:
    response = client.post(EB_URL, content=body, headers=eventbrite_headers("bad-1"))
    assert response.status_code == 400
    assert landing.counts() == {"incoming": 0, "processed": 0, "failed": 0, "dead-letter": 1}
    [file] = landing.list_folder("dead-letter")
    kept = landing.read(file)
    assert kept.raw_body() == body
    assert kept.reason
    assert rejections(client) == {"malformed": 1}


def test_malformed_relay_envelope_goes_to_dead_letter(
    client: TestClient, landing: LandingArea
) -> None:
    body = orjson.dumps({"type": "order.updated", "data": {"eventId": "x"}})  # no _id
    response = client.post(HX_URL, content=body, headers=relay_headers(body, "m-bad"))
    assert response.status_code == 400
    [file] = landing.list_folder("dead-letter")
    assert "data._id" in landing.read(file).reason


def test_unauthenticated_malformed_body_is_not_kept(
    client: TestClient, landing: LandingArea
) -> None:
    url = f"/webhooks/eventbrite/{EB_ACCOUNT}/not-the-token-0123456789"
    assert client.post(url, content=b"junk", headers=eventbrite_headers()).status_code == 401
    assert landing.counts()["dead-letter"] == 0


def test_unwritable_landing_dir_gives_503(config: ProjectConfig, tmp_path) -> None:
    # A regular file where the landing folder should be: no process (not even root) can write.
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    area = LandingArea(blocked / "landing")
    with TestClient(create_app(config, area)) as client:
        response = client.post(EB_URL, content=eventbrite_body(), headers=eventbrite_headers())
        assert response.status_code == 503
        assert response.headers["retry-after"]
        body = relay_body()
        assert client.post(HX_URL, content=body, headers=relay_headers(body)).status_code == 503
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"
        assert health.json()["rejections"] == {"storage_unavailable": 2}


def test_disk_full_gives_503_and_leaves_nothing(
    client: TestClient, landing: LandingArea, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    response = client.post(EB_URL, content=eventbrite_body(), headers=eventbrite_headers("f-1"))
    assert response.status_code == 503
    assert landing.counts()["incoming"] == 0
    assert list((landing.root / ".tmp").iterdir()) == []

    monkeypatch.setattr(os, "fsync", real_fsync)
    retry = client.post(EB_URL, content=eventbrite_body(), headers=eventbrite_headers("f-1"))
    assert retry.json() == {"status": "stored"}
    assert landing.counts()["incoming"] == 1


def test_metrics_exposes_counts(client: TestClient) -> None:
    client.post(EB_URL, content=eventbrite_body(), headers=eventbrite_headers("m-1"))
    client.post(f"/webhooks/eventbrite/{EB_ACCOUNT}/nope", content=b"{}")
    text = client.get("/metrics").text
    assert (
        f'ticketing_webhook_deliveries_total{{platform="eventbrite",account="{EB_ACCOUNT}",'
        'outcome="stored"} 1'
    ) in text
    rejected = 'ticketing_webhook_rejections_total{reason="unauthorized",platform="eventbrite"} 1'
    assert rejected in text
    assert 'ticketing_webhook_landing_files{folder="incoming"} 1' in text


def test_logs_never_contain_the_token(
    config: ProjectConfig, landing: LandingArea, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(config, landing, access_log=True)) as client:
        client.post(EB_URL, content=eventbrite_body(), headers=eventbrite_headers())
        client.post(EB_URL, content=b"junk", headers=eventbrite_headers("j"))
        client.post(f"/webhooks/eventbrite/{EB_ACCOUNT}/{EB_TOKEN}x", content=b"{}")
    ours = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("ticketing_pipeline", "uvicorn"))
    )
    assert "/webhooks/eventbrite/1234567890/***" in ours
    assert "unauthorized" in ours
    assert EB_TOKEN not in ours
    assert EB_TOKEN_NEXT not in ours


def test_mask_path() -> None:
    known = frozenset({"1", "a"})
    assert mask_path(f"/webhooks/eventbrite/1/{EB_TOKEN}", known) == "/webhooks/eventbrite/1/***"
    masked = mask_path(f"/webhooks/eventbrite/1/{EB_TOKEN}/more", known)
    assert masked == "/webhooks/eventbrite/1/***/***"
    assert mask_path("/webhooks/relay/humanitix/a", known) == "/webhooks/relay/humanitix/a"
    # An account id nobody configured is request text: masked like everything unknown.
    assert mask_path("/webhooks/relay/humanitix/b", known) == "/webhooks/relay/humanitix/***"


def test_never_410(client: TestClient) -> None:
    for method in ("GET", "PUT", "DELETE", "POST"):
        response = client.request(method, f"/webhooks/eventbrite/{EB_ACCOUNT}/{EB_TOKEN}/x")
        assert response.status_code != 410


def test_counts_are_summed_over_worker_processes(
    config: ProjectConfig, landing: LandingArea
) -> None:
    # Two apps on one landing area stand for two uvicorn workers.
    first_app, second_app = create_app(config, landing), create_app(config, landing)
    with TestClient(first_app) as first, TestClient(second_app) as second:
        first.post(EB_URL, content=eventbrite_body(), headers=eventbrite_headers("w-1"))
        second.post(EB_URL, content=eventbrite_body(), headers=eventbrite_headers("w-2"))
        second.post(f"/webhooks/eventbrite/{EB_ACCOUNT}/nope", content=b"{}")
        first_app.state.receiver.shared.publish()
        second_app.state.receiver.shared.publish()
        health = first.get("/healthz").json()
        assert health["processes"] == 2
        assert health["deliveries"] == {"stored": 2}
        assert health["rejections"] == {"unauthorized": 1}
        assert 'outcome="stored"} 2' in second.get("/metrics").text
    # A worker that stopped withdraws its counts.
    assert list((landing.root / ".metrics").glob("*.json")) == []


def test_overloaded_writer_answers_503(config: ProjectConfig, landing: LandingArea) -> None:
    from ticketing_pipeline.webhooks.receiver.writer import LandingWriter

    writer = LandingWriter(landing, max_pending=0)  # as if 10,000 deliveries waited for the disk
    with TestClient(create_app(config, landing, writer=writer)) as client:
        response = client.post(EB_URL, content=eventbrite_body(), headers=eventbrite_headers())
        assert response.status_code == 503
        assert response.headers["retry-after"]
        health = client.get("/healthz").json()
        assert health["rejections"] == {"overloaded": 1}
        assert health["status"] == "ok"  # the disk is fine, only busy
    assert landing.counts()["incoming"] == 0


def test_url_token_echoed_in_the_body_is_not_stored(client, landing) -> None:
    body = eventbrite_body().replace(
        b"https://hooks.example/webhooks/eventbrite/x/y", f"https://h{EB_URL}".encode()
    )
    assert EB_TOKEN.encode() in body
    response = client.post(EB_URL, content=body, headers=eventbrite_headers(delivery="echo-1"))
    assert response.status_code == 200
    [landed] = landing.list_incoming()
    raw = landed.path.read_bytes()
    assert EB_TOKEN.encode() not in raw
    assert b"***" in landing.read(landed).raw_body()
