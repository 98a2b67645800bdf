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
