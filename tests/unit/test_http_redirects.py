"""No credential leaves its origin: a redirect is refused, never followed, for both platforms.

Two real local servers: the account's API base answers every call with a redirect to a second
server on another port, which records every request (headers included) it receives and serves
a page that would load fine. The sync must fail loudly, naming the account, the status and the
target's origin (not its path or query, not the secret), and the second server must see nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.integration.asgi_thread import serve_in_thread
from ticketing_pipeline.config import AccountConfig, ProjectConfig, SyncConfig
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sources.common import AccountSecretAuth
from ticketing_pipeline.sources.http import PlatformClient, RedirectRefusedError
from ticketing_pipeline.warehouse import resolve_warehouse

HX_KEY = "hx-key-must-stay-home-81c3"
EB_TOKEN = "eb-token-must-stay-home-5d2e"
FAST = SyncConfig(request_backoff_factor=0.01, request_max_retry_delay_seconds=0.1)


@dataclass
class Recorder:
    """The redirect target: records every request; answers like a healthy API would."""

    url: str = ""
    seen: list[dict[str, str]] = field(default_factory=list)


def recorder_app(recorder: Recorder) -> Starlette:
    async def anything(request: Request) -> Response:
        recorder.seen.append({k.lower(): v for k, v in request.headers.items()})
        if "humanitix" in request.url.path:
            key = "events" if request.url.path.endswith("/events") else "items"
            return JSONResponse({"total": 0, "page": 1, "pageSize": 100, key: []})
        return JSONResponse(
            {"pagination": {"has_more_items": False}, "organizations": [{"id": "77"}]}
        )

    return Starlette(routes=[Route("/{path:path}", anything)])


def redirector_app(target: Recorder, status: int) -> Starlette:
    async def redirect(request: Request) -> Response:
        # The query carries something that must not appear in the error either.
        location = f"{target.url}/{request.url.path.lstrip('/')}?stolen=queryvalue"
        return RedirectResponse(location, status_code=status)

    return Starlette(routes=[Route("/{path:path}", redirect)])


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    target = Recorder()
    with serve_in_thread(recorder_app(target)) as url:
        target.url = url
        yield target


def accounts(base_url: str) -> list[AccountConfig]:
    return [
        AccountConfig(
            platform="humanitix",
            account_id="hx-redirected",
            display_name="HX",
            secret_env="TEST_REDIRECT_HX_KEY",
            base_url=f"{base_url}/humanitix/v1",
        ),
        AccountConfig(
            platform="eventbrite",
            account_id="77",
            display_name="EB",
            secret_env="TEST_REDIRECT_EB_TOKEN",
            base_url=f"{base_url}/eventbrite/v3",
        ),
    ]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_sync_refuses_a_redirect_and_the_target_sees_nothing(
    status: int, recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_REDIRECT_HX_KEY", HX_KEY)
    monkeypatch.setenv("TEST_REDIRECT_EB_TOKEN", EB_TOKEN)
    with serve_in_thread(redirector_app(recorder, status)) as base_url:
        config = ProjectConfig(accounts=accounts(base_url), data_dir=tmp_path, sync=FAST)
        results = sync_accounts(config)

    assert recorder.seen == []  # not one request reached the other origin, with or without key
    assert [r.ok for r in results] == [False, False]
    for result in results:
        assert result.error is not None
        assert result.error.startswith("RedirectRefusedError")
        assert f"account '{result.account.account_id}'" in result.error
        assert f"HTTP {status}" in result.error
        assert recorder.url in result.error  # the target origin is named...
        assert "stolen" not in result.error and "queryvalue" not in result.error  # ...only it
        assert HX_KEY not in result.error and EB_TOKEN not in result.error
    # Nothing the redirect pointed at was loaded: no raw tables with rows.
    with resolve_warehouse(config).connect() as connection:
        inspector = sa.inspect(connection)
        for schema in ("raw_humanitix", "raw_eventbrite"):
            if schema in inspector.get_schema_names():
                for table in inspector.get_table_names(schema=schema):
                    if not table.startswith("_dlt"):
                        count = connection.execute(
                            sa.text(f"select count(*) from {schema}.{table}")
                        ).scalar_one()
                        assert count == 0, f"{schema}.{table} loaded {count} rows"


def test_get_json_refuses_a_redirect(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_REDIRECT_EB_TOKEN", EB_TOKEN)
    with serve_in_thread(redirector_app(recorder, 302)) as base_url:
        account = accounts(base_url)[1]
        client = PlatformClient(
            account, AccountSecretAuth(account, "Authorization", "Bearer"), FAST
        )
        with pytest.raises(RedirectRefusedError) as error:
            client.get_json("/orders/123/", {"expand": "attendees"})
    assert recorder.seen == []
    assert error.value.status == 302
    assert error.value.target_origin == recorder.url
    assert "another origin" in str(error.value)
    assert EB_TOKEN not in str(error.value)


def test_a_same_origin_redirect_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never following is simpler to trust than judging origins; the API answers directly."""
    monkeypatch.setenv("TEST_REDIRECT_HX_KEY", HX_KEY)
    calls: list[str] = []

    async def moved(request: Request) -> Response:
        calls.append(request.url.path)
        return RedirectResponse("/humanitix/v1/elsewhere", status_code=307)

    app = Starlette(routes=[Route("/{path:path}", moved)])
    with serve_in_thread(app) as base_url:
        account = accounts(base_url)[0]
        client = PlatformClient(account, AccountSecretAuth(account, "x-api-key"), FAST)
        with pytest.raises(RedirectRefusedError, match="the same origin") as error:
            client.get_json("/events")
    assert calls == ["/humanitix/v1/events"]  # one call, not followed
    assert error.value.target_origin == base_url
