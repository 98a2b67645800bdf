"""Body validation: what is kept, what goes to dead-letter, and where a token may be sent."""

from __future__ import annotations

import pytest

from ticketing_pipeline.webhooks.receiver.payloads import (
    MalformedBody,
    is_under_base,
    parse_eventbrite,
    parse_relay,
)

BASE = "https://www.eventbriteapi.com/v3"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://www.eventbriteapi.com/v3/orders/1/", True),
        ("HTTPS://WWW.EVENTBRITEAPI.COM/v3/orders/1/", True),
        ("https://www.eventbriteapi.com/v3/", True),
        ("http://www.eventbriteapi.com/v3/orders/1/", False),  # scheme downgrade
        ("https://www.eventbriteapi.com.evil.example/v3/orders/1/", False),
        ("https://www.eventbriteapi.com@evil.example/v3/orders/1/", False),
        ("https://user@www.eventbriteapi.com/v3/orders/1/", False),
        ("https://www.eventbriteapi.com:444/v3/orders/1/", False),
        ("https://www.eventbriteapi.com/v30/orders/1/", False),
        ("https://www.eventbriteapi.com/v3/../admin", False),
        ("https://www.eventbriteapi.com/v3", False),
        ("//www.eventbriteapi.com/v3/orders/1/", False),
        ("/v3/orders/1/", False),
        ("https://[::1/v3/", False),  # unparsable
    ],
)
def test_api_url_must_be_under_the_account_base(url: str, allowed: bool) -> None:
    assert is_under_base(url, BASE) is allowed


def test_sandbox_base_url_is_respected() -> None:
    base = "http://127.0.0.1:8900/eventbrite/v3"
    assert is_under_base("http://127.0.0.1:8900/eventbrite/v3/orders/9/", base)
    assert not is_under_base("https://www.eventbriteapi.com/v3/orders/9/", base)


def test_eventbrite_hint() -> None:
    body = b'{"config": {"action": "order.refunded"}, "api_url": "' + BASE.encode() + b'/o/1/"}'
    hint = parse_eventbrite(body, BASE)
    assert (hint.action, hint.api_url) == ("order.refunded", BASE + "/o/1/")
    assert parse_eventbrite(b'{"config": {"action": "test"}}', BASE).api_url is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b'"text"',
        b'{"config": []}',
        b'{"config": {"action": ""}}',
        b'{"config": {"action": "has space"}, "api_url": "x"}',
        b'{"config": {"action": 5}}',
        b'{"config": {"action": "order.placed"}, "api_url": 5}',
        b'{"config": {"action": "order.placed"}, "api_url": NaN}',
    ],
)
def test_eventbrite_malformed(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_eventbrite(body, BASE)


def test_big_integers_are_valid_json() -> None:
    body = b'{"type": "order.updated", "data": {"_id": "a", "n": 123456789012345678901234567890}}'
    assert parse_relay(body, "humanitix").type == "order.updated"


@pytest.mark.parametrize(
    ("body", "platform", "ok"),
    [
        (b'{"type": "order.updated", "data": {"_id": "65f1"}}', "humanitix", True),
        (b'{"type": "ticket.updated", "data": {"_id": "65f1"}}', "humanitix", True),
        (b'{"type": "order.updated", "data": {"id": "65f1"}}', "humanitix", False),
        (b'{"type": "order.updated", "data": {"id": "123"}}', "eventbrite", True),
        (b'{"type": "order.updated", "data": {"_id": ""}}', "humanitix", False),
        (b'{"type": "order.updated", "data": {"_id": true}}', "humanitix", False),
        (b'{"type": "payout.created", "data": {}}', "humanitix", True),  # unknown: kept
        (b'{"type": "order.updated", "data": [1]}', "humanitix", False),
        (b'{"data": {"_id": "1"}}', "humanitix", False),
    ],
)
def test_relay_envelope(body: bytes, platform: str, ok: bool) -> None:
    if ok:
        assert parse_relay(body, platform).type
    else:
        with pytest.raises(MalformedBody):
            parse_relay(body, platform)
