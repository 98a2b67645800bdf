"""The receiver's attack surface: no record through an Eventbrite token, nothing read before
authentication, bounded headers and slow bodies, protected metrics, tokens never logged."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.testclient import TestClient
from webhooks_helpers import (
    EB_ACCOUNT,
    EB_TOKEN,
    EB_TOKEN_NEXT,
    EB_URL,
    HX_ACCOUNT,
    HX_URL,
    call_asgi,
    eventbrite_body,
    eventbrite_headers,
    free_port,
    relay_body,
    relay_headers,
)

from ticketing_pipeline.config import ConfigError, ProjectConfig
from ticketing_pipeline.webhooks.landing import LandingArea
from ticketing_pipeline.webhooks.receiver.app import create_app

MIB = 1024 * 1024


def _raw_whsec(secret: str) -> str:
    """The Standard Webhooks form of a raw secret (the key is its bytes)."""
    return "whsec_" + base64.b64encode(secret.encode()).decode()


# -- 2. an Eventbrite URL token never signs a record ----------------------------------------


@pytest.mark.parametrize("secret", [EB_TOKEN, EB_TOKEN_NEXT])
@pytest.mark.parametrize("platform", ["eventbrite", "humanitix"])
def test_eventbrite_url_token_cannot_sign_a_relay_record(
    client: TestClient, landing: LandingArea, secret: str, platform: str
) -> None:
    body = relay_body("order.updated", record_id="1034608029").replace(b'"_id"', b'"id"')
    account = EB_ACCOUNT if platform == "eventbrite" else HX_ACCOUNT
    headers = relay_headers(body, "forged-1", secret=_raw_whsec(secret))
    response = client.post(f"/webhooks/relay/{platform}/{account}", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert landing.counts() == {"incoming": 0, "processed": 0, "failed": 0, "dead-letter": 0}


def test_eventbrite_account_has_no_signing_key(client: TestClient) -> None:
    auth = client.app.state.receiver.auth  # type: ignore[attr-defined]
    assert auth[("eventbrite", EB_ACCOUNT)].signers == ()
    assert auth[("humanitix", HX_ACCOUNT)].signers  # relays keep working


# -- 3. nothing is read from an anonymous client; slow bodies time out -----------------------


def _relay_attempt(kind: str) -> tuple[str, dict[str, str]]:
    body = relay_body()
    headers = relay_headers(body, "m-1") | {"content-length": str(MIB)}
    url = HX_URL
    if kind == "unsigned":
        del headers["webhook-signature"]
    elif kind == "no_id":
        del headers["webhook-id"]
    elif kind == "no_timestamp":
        del headers["webhook-timestamp"]
    elif kind == "stale":
        headers["webhook-timestamp"] = str(int(time.time()) - 3600)
    elif kind == "future":
        headers["webhook-timestamp"] = str(int(time.time()) + 3600)
    elif kind == "bad_timestamp":
        headers["webhook-timestamp"] = "soon"
    elif kind == "unknown_account":
        url = "/webhooks/relay/humanitix/nobody"
    elif kind == "eventbrite_account":
        url = f"/webhooks/relay/eventbrite/{EB_ACCOUNT}"
    return url, headers


@pytest.mark.parametrize(
    "kind",
    [
        "unsigned",
        "no_id",
        "no_timestamp",
        "stale",
        "future",
        "bad_timestamp",
        "unknown_account",
        "eventbrite_account",
    ],
)
def test_relay_rejected_before_reading_the_body(config: ProjectConfig, kind: str) -> None:
    app = create_app(config, max_body_bytes=2 * MIB)
    url, headers = _relay_attempt(kind)
    chunks = [b"x" * 65536] * 16  # 1 MiB the client is ready to send
    result = asyncio.run(call_asgi(app, "POST", url, headers, chunks))
    assert result.status == 401
    assert result.body_bytes_received == 0


def test_eventbrite_bad_token_rejected_before_reading_the_body(config: ProjectConfig) -> None:
    app = create_app(config)
    url = f"/webhooks/eventbrite/{EB_ACCOUNT}/wrong-token-0123456789abcdef"
    headers = eventbrite_headers() | {"content-length": str(MIB)}
    result = asyncio.run(call_asgi(app, "POST", url, headers, [b"x" * 65536] * 16))
    assert result.status == 401
    assert result.body_bytes_received == 0


def test_declared_oversize_relay_not_read(config: ProjectConfig) -> None:
    app = create_app(config, max_body_bytes=64 * 1024)
    url, headers = _relay_attempt("signed")
    headers["content-length"] = str(MIB)
    result = asyncio.run(call_asgi(app, "POST", url, headers, [b"x" * 65536] * 16))
    assert result.status == 413
    assert result.body_bytes_received == 0


@pytest.mark.parametrize("route", ["eventbrite", "relay"])
def test_stalled_body_times_out(config: ProjectConfig, landing: LandingArea, route: str) -> None:
    app = create_app(config, landing, body_timeout=0.3)
    if route == "eventbrite":
        body, url, headers = eventbrite_body(), EB_URL, eventbrite_headers()
    else:
        body = relay_body()
        url, headers = HX_URL, relay_headers(body)
    headers["content-length"] = str(len(body))
    half = [body[: len(body) // 2]]  # then the client goes silent

    async def attempt():
        return await asyncio.wait_for(
            call_asgi(app, "POST", url, headers, half, stall_after_chunks=True), timeout=10
        )

    started = time.monotonic()
    result = asyncio.run(attempt())
    assert result.status == 408
    assert time.monotonic() - started < 5
    assert landing.counts()["incoming"] == 0


@pytest.fixture
def live_server(config: ProjectConfig, landing: LandingArea) -> Iterator[int]:
    """The receiver under uvicorn with the options ``serve`` uses, on a free port."""
    from ticketing_pipeline.webhooks.receiver.server import uvicorn_options

    port = free_port()
    options = uvicorn_options(host="127.0.0.1", port=port, log_level="warning")
    options["log_config"] = None  # leave pytest's logging (caplog) as it is
    app = create_app(config, landing, body_timeout=0.5)
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(10)


def _exchange(port: int, request: bytes, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        # The server may close before taking everything: that is the point.
        with contextlib.suppress(OSError):
            sock.sendall(request)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received


def test_huge_header_refused_by_the_server(live_server: int) -> None:
    request = (
        f"POST {EB_URL} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"X-Padding: {'a' * 2 * MIB}\r\nContent-Length: 2\r\n\r\n{{}}"
    ).encode()
    answer = _exchange(live_server, request)
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 4"), answer[:200]  # 400/431, never handled


def test_slow_body_answered_408_by_the_server(live_server: int, landing: LandingArea) -> None:
    body = eventbrite_body()
    head = (
        f"POST {EB_URL} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = _exchange(live_server, head + body[:10])
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < 4
    assert landing.counts()["incoming"] == 0


def test_idle_keep_alive_connection_closed(live_server: int) -> None:
    from ticketing_pipeline.webhooks.receiver.server import uvicorn_options

    keep_alive = uvicorn_options(host="127.0.0.1", port=1)["timeout_keep_alive"]
    assert 0 < keep_alive <= 10
    with socket.create_connection(("127.0.0.1", live_server), timeout=keep_alive + 5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200")
        assert time.monotonic() - started < keep_alive + 3  # closed by the server, not by us


# -- 4. /metrics and /healthz details need a bearer token when one is configured ------------

METRICS_TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
def protected(
    config: ProjectConfig, landing: LandingArea, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("TICKETING_WEBHOOKS_METRICS_TOKEN", METRICS_TOKEN)
    with TestClient(create_app(config, landing)) as test_client:
        yield test_client


def test_metrics_need_the_bearer_token(protected: TestClient) -> None:
    protected.post(EB_URL, content=eventbrite_body(), headers=eventbrite_headers())
    assert protected.get("/metrics").status_code == 401
    wrong = {"authorization": "Bearer metrics-token-0123456789abcdeX"}
    assert protected.get("/metrics", headers=wrong).status_code == 401
    good = {"authorization": f"Bearer {METRICS_TOKEN}"}
    answer = protected.get("/metrics", headers=good)
    assert answer.status_code == 200
    assert "ticketing_webhook_deliveries_total" in answer.text


def test_healthz_without_token_tells_only_the_status(protected: TestClient) -> None:
    anonymous = protected.get("/healthz")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"status": "ok"}
    detailed = protected.get("/healthz", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert detailed.json()["accounts"] == 2
    assert "landing" in detailed.json()


def test_weak_metrics_token_refuses_start(
    config: ProjectConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETING_WEBHOOKS_METRICS_TOKEN", "short")
    with pytest.raises(ConfigError, match="TICKETING_WEBHOOKS_METRICS_TOKEN"):
        create_app(config)


# -- 5. the access log never holds a token, however the path is spelled ----------------------

_SPELLINGS = [
    f"/webhooks/eventbrite/{EB_ACCOUNT}/{EB_TOKEN}",
    f"//webhooks/eventbrite/{EB_ACCOUNT}/{EB_TOKEN}",
    f"/webhooks//eventbrite/{EB_ACCOUNT}/{EB_TOKEN}",
    f"/webhooks/./eventbrite/{EB_ACCOUNT}/{EB_TOKEN}",
    f"/webhooks/eventbrite/./{EB_ACCOUNT}/{EB_TOKEN}",
    f"/webhooks/eventbrite/{EB_ACCOUNT}/../{EB_ACCOUNT}/{EB_TOKEN}",
    f"/Webhooks/Eventbrite/{EB_ACCOUNT}/{EB_TOKEN}",
    f"/WEBHOOKS/EVENTBRITE/{EB_ACCOUNT}/{EB_TOKEN}",
    f"/webhooks/eventbrite/{EB_ACCOUNT}/%65{EB_TOKEN[1:]}",
    f"/webhooks/%65ventbrite/{EB_ACCOUNT}/{EB_TOKEN}",
    f"/webhooks/eventbrite/{EB_TOKEN}/{EB_ACCOUNT}",
    f"/webhooks/eventbrite/{EB_TOKEN}",
    f"/webhooks/relay/eventbrite/{EB_TOKEN}",
    f"/webhooks/eventbrite/{EB_ACCOUNT}/{EB_TOKEN_NEXT}/extra",
    f"/{EB_TOKEN}",
    f"/healthz/{EB_TOKEN}",
]


def _token_pieces() -> set[str]:
    # Any 10 consecutive characters of a token would be a leak worth fixing.
    return {t[i : i + 10] for t in (EB_TOKEN, EB_TOKEN_NEXT) for i in range(len(t) - 9)}


@pytest.mark.parametrize("path", _SPELLINGS)
def test_access_log_never_holds_a_token(
    config: ProjectConfig,
    landing: LandingArea,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(config, landing, access_log=True)
    headers = eventbrite_headers()
    result = asyncio.run(call_asgi(app, "POST", path, headers, [eventbrite_body()]))
    assert result.status != 410
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert '"POST ' in logged  # the line was written
    leaked = [piece for piece in _token_pieces() if piece in logged]
    assert leaked == [], logged


def test_access_log_keeps_what_is_not_secret(
    config: ProjectConfig, landing: LandingArea, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = create_app(config, landing, access_log=True)
    asyncio.run(call_asgi(app, "POST", EB_URL, eventbrite_headers(), [eventbrite_body()]))
    asyncio.run(call_asgi(app, "GET", "/healthz", {}, [b""]))
    body = relay_body()
    asyncio.run(call_asgi(app, "POST", HX_URL, relay_headers(body), [body]))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f'"POST /webhooks/eventbrite/{EB_ACCOUNT}/***" 200' in logged
    assert '"GET /healthz" 200' in logged
    assert f'"POST /webhooks/relay/humanitix/{HX_ACCOUNT}" 200' in logged


# -- 6. both entry points listen on the same port by default ----------------------------------


def test_cli_and_module_default_to_the_same_port() -> None:
    from ticketing_pipeline.cli import webhooks_serve
    from ticketing_pipeline.webhooks.receiver.app import DEFAULT_BODY_TIMEOUT
    from ticketing_pipeline.webhooks.receiver.server import DEFAULT_PORT

    parameters = inspect.signature(webhooks_serve).parameters
    assert parameters["port"].default == DEFAULT_PORT
    assert parameters["body_timeout"].default == DEFAULT_BODY_TIMEOUT
