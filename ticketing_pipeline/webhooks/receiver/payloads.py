"""Validation of webhook bodies: just enough to know what a delivery is, nothing more.

The receiver keeps bodies raw; the loader interprets them. Here we only reject what can never be
loaded (not JSON, no action, no object), so that it goes to ``dead-letter/`` with a reason instead
of failing later, and pull out the few fields the landed file records.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

EVENTBRITE_TEST_ACTION = "test"
MAX_ID_LENGTH = 256
_ACTION = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")

# Relay envelope types whose record must carry the platform's id field; other types are kept.
RELAY_ENTITIES = {"order", "ticket", "event", "tag", "attendee", "ticket_class", "venue"}
RELAY_ID_FIELD = {"humanitix": "_id", "eventbrite": "id"}


class MalformedBody(ValueError):
    """The body cannot be loaded; the message is the reason kept with it in dead-letter."""


@dataclass(frozen=True)
class EventbriteHint:
    action: str
    api_url: str | None  # None only for the test ping


@dataclass(frozen=True)
class RelayRecord:
    type: str


def _object(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        # orjson refuses integers beyond 64 bits, which are valid JSON: ask the standard parser.
        try:
            value = json.loads(body.decode(), parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise MalformedBody(f"body is not valid UTF-8 JSON: {error}") from None
    if not isinstance(value, dict):
        raise MalformedBody("body is not a JSON object")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _action(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _ACTION.match(value):
        raise MalformedBody(f"{field} must be a string of 1-100 letters, digits, '.', '_', '-'")
    return value


def parse_eventbrite(body: bytes, api_base_url: str) -> EventbriteHint:
    """``{"config": {"action": ...}, "api_url": ...}``; ``api_url`` must be under the API base.

    Eventbrite's body is only a reference. The loader fetches ``api_url`` with the account's
    token, so a URL anywhere else would hand the token to whoever forged it: rejected here already
    (the loader must check again).
    """
    data = _object(body)
    config = data.get("config")
    if not isinstance(config, dict):
        raise MalformedBody("config must be an object")
    action = _action(config.get("action"), "config.action")
    if action == EVENTBRITE_TEST_ACTION:
        return EventbriteHint(action=action, api_url=None)
    api_url = data.get("api_url")
    if not isinstance(api_url, str) or not api_url:
        raise MalformedBody("api_url must be a string")
    if not is_under_base(api_url, api_base_url):
        raise MalformedBody("api_url is not under the account's API base URL")
    return EventbriteHint(action=action, api_url=api_url)


def is_under_base(url: str, base: str) -> bool:
    """Same scheme and host, and a path below the base's path."""
    try:
        target, root = urlsplit(url), urlsplit(base)
    except ValueError:
        return False
    if (target.scheme.lower(), target.netloc.lower()) != (root.scheme.lower(), root.netloc.lower()):
        return False
    if target.username or target.password or ".." in target.path.split("/"):
        return False
    prefix = root.path.rstrip("/") + "/"
    return target.path.startswith(prefix)


def parse_relay(body: bytes, platform: str) -> RelayRecord:
    """The relay envelope ``{"type": "<entity>.<change>", "data": {<platform record>}}``."""
    data = _object(body)
    kind = _action(data.get("type"), "type")
    record = data.get("data")
    if not isinstance(record, dict):
        raise MalformedBody("data must be an object (the platform's record)")
    entity = kind.split(".", 1)[0]
    id_field = RELAY_ID_FIELD.get(platform)
    if entity in RELAY_ENTITIES and id_field:
        record_id = record.get(id_field)
        if not isinstance(record_id, str | int) or isinstance(record_id, bool) or record_id == "":
            raise MalformedBody(f"data.{id_field} is required for a {entity} record")
    return RelayRecord(type=kind)
