"""Small HTTP helpers for the sandbox tests: page through each platform the way a client must."""

from __future__ import annotations

from typing import Any

import httpx

from ticketing_pipeline.sandbox import SandboxAccount, SandboxServer

PAGE_LIMIT = 10_000  # a paging loop that runs this long is a bug, not a big data set


def account(server: SandboxServer, platform: str, index: int = 0) -> SandboxAccount:
    return [a for a in server.dataset.accounts if a.platform == platform][index]


def hx_get(
    client: httpx.Client, server: SandboxServer, path: str, key: str, **params: Any
) -> httpx.Response:
    return client.get(server.humanitix_base_url + path, params=params, headers={"x-api-key": key})


def hx_all(
    client: httpx.Client, server: SandboxServer, path: str, key: str, items: str, **params: Any
) -> list[dict[str, Any]]:
    """Every record of a Humanitix list, stopping when ``page * pageSize >= total``."""
    out: list[dict[str, Any]] = []
    for page in range(1, PAGE_LIMIT):
        response = hx_get(client, server, path, key, page=page, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        out.extend(body[items])
        if body["page"] * body["pageSize"] >= body["total"]:
            assert len(out) == body["total"]
            return out
    raise AssertionError("paging never ended")


def eb_get(
    client: httpx.Client, server: SandboxServer, path: str, token: str, **params: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return client.get(server.eventbrite_base_url + path, params=params, headers=headers)


def eb_all(
    client: httpx.Client, server: SandboxServer, path: str, token: str, items: str, **params: Any
) -> list[dict[str, Any]]:
    """Every record of an Eventbrite list, following ``continuation`` until has_more_items is
    false."""
    out: list[dict[str, Any]] = []
    continuation = None
    for _ in range(PAGE_LIMIT):
        query = dict(params)
        if continuation:
            query["continuation"] = continuation
        response = eb_get(client, server, path, token, **query)
        assert response.status_code == 200, response.text
        body = response.json()
        out.extend(body[items])
        pagination = body["pagination"]
        if not pagination["has_more_items"]:
            return out
        continuation = pagination["continuation"]
    raise AssertionError("paging never ended")
