"""Property: an unauthenticated request is never accepted, stored, or answered 500 or 410.

Two generators: near misses (a configured account, a proper JSON body and content type, but a
wrong token or a forged/stale signature), which reach the secret checks; and arbitrary requests
(paths, headers, bytes), which probe every route and parser for unhandled errors.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from webhooks_helpers import (
    EB_ACCOUNT,
    EB_TOKEN,
    EB_TOKEN_NEXT,
    HX_ACCOUNT,
    HX_SECRET,
    HX_SECRET_OLD,
    eventbrite_body,
    make_config,
    relay_body,
    sign,
)

from ticketing_pipeline.webhooks.landing import LandingArea
from ticketing_pipeline.webhooks.receiver.app import create_app

WRONG_SECRET = "whsec_" + "V1JPTkctU0VDUkVULVdST05HLVNFQ1JFVA=="
SETTINGS = settings(
    max_examples=250,
    database=None,  # keep the work tree clean; a failure prints its example
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, LandingArea]]:
    data_dir: Path = tmp_path_factory.mktemp("property") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EB_WEBHOOK_SECRET", f"{EB_TOKEN},{EB_TOKEN_NEXT}")
        patch.setenv("HX_WEBHOOK_SECRET", f"{HX_SECRET} {HX_SECRET_OLD}")
        config = make_config(data_dir)
        landing = LandingArea.for_data_dir(data_dir)
        app = create_app(config, landing, max_body_bytes=4096)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, landing


def check_rejected(receiver: tuple[TestClient, LandingArea], response, context) -> None:
    _, landing = receiver
    assert not response.is_success, context
    assert response.status_code not in (410, 500), context
    assert response.status_code < 500 or response.status_code == 503, context
    counts = landing.counts()
    assert counts["incoming"] == 0 and counts["dead-letter"] == 0, context


printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
wrong_token = st.one_of(
    st.sampled_from([EB_TOKEN[:-1], EB_TOKEN + "x", EB_TOKEN.upper(), EB_TOKEN_NEXT[1:], "a"]),
    st.text(min_size=1, max_size=60),
).filter(lambda t: t not in (EB_TOKEN, EB_TOKEN_NEXT))
realistic_body = st.sampled_from([eventbrite_body(), relay_body(), eventbrite_body("test")])


@st.composite
def forged_relay_headers(draw: st.DrawFn, body: bytes) -> dict[str, str]:
    msg_id = draw(st.sampled_from(["msg_1", "msg_2"]) | printable)
    now = int(time.time())
    forgery = draw(st.sampled_from(["wrong_secret", "stale", "future", "other_body", "garbage"]))
    stamp, secret, signed_body = now, HX_SECRET, body
    if forgery == "wrong_secret":
        secret = WRONG_SECRET
    elif forgery == "stale":
        stamp = now - draw(st.integers(330, 10**9))  # margin: the clock moves on meanwhile
    elif forgery == "future":
        stamp = now + draw(st.integers(330, 10**9))
    elif forgery == "other_body":
        signed_body = body + b" "
    signature = sign(secret, msg_id, stamp, signed_body)
    if forgery == "garbage":
        signature = draw(printable)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": draw(st.just(str(stamp)) | printable),
        "webhook-signature": signature,
    }


@SETTINGS
@given(body=realistic_body, token=wrong_token, account=st.sampled_from([EB_ACCOUNT, "999"]))
def test_wrong_eventbrite_token_never_accepted(receiver, body, token, account) -> None:
    client, _ = receiver
    url = f"http://testserver/webhooks/eventbrite/{account}/{quote(token, safe='')}"
    response = client.post(url, content=body, headers={"content-type": "application/json"})
    check_rejected(receiver, response, (url, body))
    if response.status_code != 404:  # a token of "." or ".." changes the route
        assert response.status_code == 401


@SETTINGS
@given(body=realistic_body, data=st.data())
def test_forged_relay_signature_never_accepted(receiver, body, data) -> None:
    client, _ = receiver
    headers = data.draw(forged_relay_headers(body))
    url = f"http://testserver/webhooks/relay/humanitix/{HX_ACCOUNT}"
    response = client.post(url, content=body, headers=headers)
    check_rejected(receiver, response, headers)
    assert response.status_code == 401


segment = st.one_of(
    st.sampled_from([EB_ACCOUNT, HX_ACCOUNT, "humanitix", "eventbrite", "", ".", "..", "%2F"]),
    st.text(max_size=40),
)


@st.composite
def paths(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(["eventbrite", "relay", "any"]))
    if shape == "eventbrite":
        parts = ["webhooks", "eventbrite", draw(segment), draw(wrong_token)]
    elif shape == "relay":
        parts = ["webhooks", "relay", draw(segment), draw(segment)]
    else:
        parts = draw(st.lists(segment, max_size=6))
    return "/" + "/".join(quote(part, safe="") for part in parts)


@st.composite
def any_headers(draw: st.DrawFn) -> dict[str, str]:
    names = ["content-type", "webhook-id", "webhook-timestamp", "webhook-signature"]
    names += ["x-eventbrite-delivery", "content-encoding", "transfer-encoding"]
    return {name: draw(printable) for name in names if draw(st.booleans())}


@SETTINGS
@given(
    method=st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE"]),
    path=paths(),
    body=st.binary(max_size=6000) | realistic_body,
    headers=any_headers(),
)
def test_arbitrary_requests_never_accepted_nor_crash(receiver, method, path, body, headers):
    client, _ = receiver
    headers.pop("transfer-encoding", None)  # the client frames the body itself
    response = client.request(method, "http://testserver" + path, content=body, headers=headers)
    check_rejected(receiver, response, (method, path, headers))
