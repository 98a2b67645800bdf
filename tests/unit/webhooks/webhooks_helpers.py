"""Helpers for the webhook receiver tests: accounts, secrets, signed requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import time
from pathlib import Path

import orjson

from ticketing_pipeline.config import AccountConfig, Platform, ProjectConfig

EB_ACCOUNT = "1234567890"
EB_TOKEN = "eb-token-0123456789abcdefghijklmnop"
EB_TOKEN_NEXT = "eb-token-next-ZYXWVUTSRQPONMLKJIH"
HX_ACCOUNT = "main-org"
HX_SECRET = "whsec_" + base64.b64encode(b"humanitix-relay-secret-32-bytes!").decode()
HX_SECRET_OLD = "whsec_" + base64.b64encode(b"an-older-relay-secret-of-32bytes").decode()
EB_BASE = "https://www.eventbriteapi.com/v3"


def make_config(data_dir: Path, **overrides: object) -> ProjectConfig:
    accounts = [
        AccountConfig(
            platform=Platform.EVENTBRITE,
            account_id=EB_ACCOUNT,
            display_name="Eventbrite org",
            secret_env="EB_API_TOKEN",
            webhook_secret_env="EB_WEBHOOK_SECRET",
        ),
        AccountConfig(
            platform=Platform.HUMANITIX,
            account_id=HX_ACCOUNT,
            display_name="Humanitix org",
            secret_env="HX_API_KEY",
            webhook_secret_env="HX_WEBHOOK_SECRET",
        ),
    ]
    return ProjectConfig(accounts=overrides.pop("accounts", accounts), data_dir=data_dir)


def eventbrite_body(action: str = "order.placed", order_id: str = "1034608029") -> bytes:
    return orjson.dumps(
        {
            "config": {
                "action": action,
                "user_id": "42",
                "endpoint_url": "https://hooks.example/webhooks/eventbrite/x/y",
                "webhook_id": "777",
            },
            "api_url": f"{EB_BASE}/orders/{order_id}/",
        }
    )


def eventbrite_headers(delivery: str | None = "d-1", action: str = "order.placed") -> dict:
    headers = {"content-type": "application/json", "x-eventbrite-event": action}
    if delivery is not None:
        headers["x-eventbrite-delivery"] = delivery
    return headers


def relay_body(kind: str = "order.updated", record_id: str = "65f1c0ffee0000000000abcd") -> bytes:
    return orjson.dumps(
        {
            "type": kind,
            "data": {"_id": record_id, "eventId": "65f1c0ffee0000000000ef01", "total": 53.98},
        }
    )


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks signature, computed independently of the library under test."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    message = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def relay_headers(
    body: bytes, msg_id: str = "msg_1", secret: str = HX_SECRET, timestamp: int | None = None
) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


EB_URL = f"/webhooks/eventbrite/{EB_ACCOUNT}/{EB_TOKEN}"
HX_URL = f"/webhooks/relay/humanitix/{HX_ACCOUNT}"


def write_toml_config(path: Path, data_dir: Path) -> Path:
    """The same accounts as ``make_config``, as a TOML file for a receiver subprocess."""
    path.write_text(
        f'data_dir = "{data_dir}"\n\n'
        "[[accounts]]\n"
        'platform = "eventbrite"\n'
        f'account_id = "{EB_ACCOUNT}"\n'
        'display_name = "Eventbrite org"\n'
        'secret_env = "EB_API_TOKEN"\n'
        'webhook_secret_env = "EB_WEBHOOK_SECRET"\n\n'
        "[[accounts]]\n"
        'platform = "humanitix"\n'
        f'account_id = "{HX_ACCOUNT}"\n'
        'display_name = "Humanitix org"\n'
        'secret_env = "HX_API_KEY"\n'
        'webhook_secret_env = "HX_WEBHOOK_SECRET"\n'
    )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AsgiResult:
    """What ``call_asgi`` saw: the answer, and how many body bytes the app asked for."""

    def __init__(self) -> None:
        self.status = 0
        self.body = b""
        self.body_bytes_received = 0


async def call_asgi(
    app,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: list[bytes],
    *,
    stall_after_chunks: bool = False,
) -> AsgiResult:
    """Drive an ASGI app with a raw scope, as uvicorn would (``path`` is used as given).

    ``chunks`` are handed out one per ``receive()``; with ``stall_after_chunks`` the sender then
    goes silent (never ends the body), like a client that stopped sending.
    """
    import asyncio

    result = AsgiResult()
    pending = list(chunks)
    stalled = asyncio.Event()

    async def receive() -> dict:
        if pending:
            chunk = pending.pop(0)
            result.body_bytes_received += len(chunk)
            more = bool(pending) or stall_after_chunks
            return {"type": "http.request", "body": chunk, "more_body": more}
        if stall_after_chunks:
            await stalled.wait()  # never set: the client sends nothing more
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
        elif message["type"] == "http.response.body":
            result.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 12345),
        "server": ("127.0.0.1", 8787),
    }
    await app(scope, receive, send)
    return result
