"""The Gigs feed over a real DuckDB mart: what it shows, filters, pages, caching, calendars."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from functools import partial

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from tests.unit.gigs.feed_world import NOW, VISIBLE, FeedWorld, session, standard_rows
from ticketing_pipeline.gigs.app import create_app
from ticketing_pipeline.gigs.snapshot import SnapshotStore, read_snapshot


@pytest.fixture
def world(tmp_path) -> FeedWorld:
    world = FeedWorld(tmp_path / "warehouse.duckdb")
    world.write(standard_rows())
    return world


@pytest.fixture
def store(world: FeedWorld) -> SnapshotStore:
    store = SnapshotStore(partial(read_snapshot, world.warehouse))
    assert store.refresh(), store.last_error
    return store


@pytest.fixture
def client(store: SnapshotStore) -> Iterator[TestClient]:
    with TestClient(create_app(store, start_refresh=False)) as client:
        yield client


def _ids(client: TestClient, **params) -> list[str]:
    response = client.get("/v1/gigs", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_shows_upcoming_published_sessions_in_start_order(client: TestClient) -> None:
    assert _ids(client) == VISIBLE


def test_a_gig_carries_local_and_utc_times_venue_exact_prices_and_the_ticket_link(
    client: TestClient,
) -> None:
    items = {i["id"]: i for i in client.get("/v1/gigs").json()["items"]}
    london = items["c-eb"]
    assert london["price"] == {"currency": "GBP", "min": "269.50", "max": "269.50"}
    assert london["starts_at"].endswith("Z") or london["starts_at"].endswith("+00:00")
    local_offset = london["starts_at_local"][-6:]
    assert local_offset in ("+00:00", "+01:00")  # London, in winter or summer time
    assert london["venue"]["city"] == "London"
    assert london["ticket_url"] == "https://events.humanitix.com/c-eb"
    sydney = items["a-soon"]
    assert sydney["starts_at_local"][-6:] in ("+10:00", "+11:00")
    assert sydney["price"] == {"currency": "AUD", "min": "35.50", "max": "120.00"}
    assert items["d-soldout"]["is_sold_out"] is True
    assert items["d-soldout"]["tickets_remaining"] == 0
    assert items["f-free"]["price"]["min"] == "0.00"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"city": "melbourne"}, ["b-later"]),
        ({"country": "gb"}, ["c-eb"]),
        ({"platform": "eventbrite"}, ["c-eb"]),
        ({"account": "syd"}, [k for k in VISIBLE if k != "c-eb"]),
        ({"q": "jazz park"}, ["f-free"]),
        ({"q": "corner"}, ["b-later"]),
    ],
)
def test_filters(client: TestClient, params: dict, expected: list[str]) -> None:
    assert _ids(client, **params) == expected


def test_date_range_filters_on_start(client: TestClient) -> None:
    first_day = (NOW + timedelta(days=2)).date().isoformat()
    assert _ids(client, **{"from": first_day, "to": first_day}) == ["a-soon", "a-tie"]
    since = (NOW + timedelta(days=7)).date().isoformat()
    assert _ids(client, **{"from": since}) == ["b-later", "f-free"]
    response = client.get("/v1/gigs", params={"from": "next tuesday"})
    assert response.status_code == 400


def test_cursor_pages_walk_every_gig_once(client: TestClient) -> None:
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/gigs", params=params).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == VISIBLE
    assert pages == 4
    assert client.get("/v1/gigs", params={"cursor": "not-a-cursor"}).status_code == 400
    assert client.get("/v1/gigs", params={"limit": 101}).status_code == 422


def test_a_page_boundary_survives_a_new_session(
    client: TestClient, world: FeedWorld, store: SnapshotStore
) -> None:
    first = client.get("/v1/gigs", params={"limit": 3}).json()
    # A session starting before the boundary appears between two page requests.
    world.write([*world.rows, session("a-new", starts_at=NOW + timedelta(hours=2))])
    assert store.refresh()
    rest = client.get("/v1/gigs", params={"limit": 50, "cursor": first["next_cursor"]}).json()
    ids = [i["id"] for i in first["items"]] + [i["id"] for i in rest["items"]]
    assert ids == VISIBLE  # nothing repeated, nothing skipped of what the first page promised


def test_conditional_get_and_cache_headers(
    client: TestClient, world: FeedWorld, store: SnapshotStore
) -> None:
    first = client.get("/v1/gigs", params={"city": "Sydney"})
    etag = first.headers["etag"]
    assert "max-age=" in first.headers["cache-control"]
    again = client.get("/v1/gigs", params={"city": "Sydney"}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    # Another query is another resource.
    other = client.get("/v1/gigs", params={"city": "London"}, headers={"If-None-Match": etag})
    assert other.status_code == 200
    # The mart changes: the same query gets a new representation and a new ETag.
    rows = [dict(r) for r in world.rows]
    rows[0]["tickets_remaining"] = 149
    world.write(rows)
    assert store.refresh()
    changed = client.get("/v1/gigs", params={"city": "Sydney"}, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def test_one_gig_by_id(client: TestClient) -> None:
    assert client.get("/v1/gigs/c-eb").json()["title"] == "Open Data Summit"
    assert client.get("/v1/gigs/x-draft").status_code == 404


def test_calendar_exports(client: TestClient) -> None:
    response = client.get("/v1/gigs.ics", params={"city": "Sydney"})
    assert response.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(response.content).walk("VEVENT")
    expected = [k for k in VISIBLE if k not in ("b-later", "c-eb")]
    assert [str(e["uid"]).split("@")[0] for e in events] == expected
    soldout = next(e for e in events if str(e["uid"]).startswith("d-soldout"))
    assert "Sold out" in str(soldout["description"])
    account = client.get("/v1/accounts/eventbrite/1234/gigs.ics")
    account_events = Calendar.from_ical(account.content).walk("VEVENT")
    assert [str(e["summary"]) for e in account_events] == ["Open Data Summit"]
    assert "269.50 GBP" in str(account_events[0]["description"])


def test_openapi_documents_the_feed(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/gigs", "/v1/gigs/{gig_id}", "/v1/gigs.ics"} <= set(spec["paths"])
    page_schema = spec["paths"]["/v1/gigs"]["get"]["responses"]["200"]["content"]
    assert page_schema["application/json"]["schema"]["$ref"].endswith("/GigPage")
    parameters = {p["name"] for p in spec["paths"]["/v1/gigs"]["get"]["parameters"]}
    expected = {"from", "to", "city", "country", "platform", "account", "q", "limit", "cursor"}
    assert expected <= parameters


_WRITER = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
connection.execute("update marts.session_complete set tickets_remaining = 1")
print("holding", flush=True)
sys.stdin.readline()
connection.close()
"""


def test_the_feed_never_holds_the_warehouse_and_survives_a_writer(
    client: TestClient, world: FeedWorld, store: SnapshotStore
) -> None:
    before = _ids(client)
    # A writer process (a load or a dbt build) can open the file while the feed serves: the
    # feed holds no connection between refreshes...
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(world.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "holding"
        # ...and while the writer holds it, the feed keeps serving its last copy.
        assert store.refresh() is False
        assert _ids(client) == before
        health = client.get("/healthz").json()
        assert health["ok"] is False and "lock" in health["last_error"].lower()
    finally:
        writer.communicate("done\n", timeout=30)
    assert writer.returncode == 0
    # Once the writer is done, the feed catches up.
    assert store.refresh()
    health = client.get("/healthz").json()
    assert health["ok"] is True and health["last_error"] is None
    assert health["sessions"] == len(store.snapshot.sessions)
    assert {i["tickets_remaining"] for i in client.get("/v1/gigs").json()["items"]} == {1}


def test_money_is_never_rounded(world: FeedWorld, store: SnapshotStore, client) -> None:
    world.write([session("odd", min_price=Decimal("10.1250"), max_price=Decimal("10.1250"))])
    assert store.refresh()
    assert client.get("/v1/gigs").json()["items"][0]["price"]["min"] == "10.125"


def test_repeated_requests_are_answered_alike_by_the_fast_path(client: TestClient) -> None:
    first = client.get("/v1/gigs", params={"limit": 3})
    second = client.get("/v1/gigs", params={"limit": 3})  # now from the known answers
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["content-type"] == "application/json"
    # A browser on another origin still gets the CORS headers (it bypasses the fast path).
    cross = client.get("/v1/gigs", params={"limit": 3}, headers={"Origin": "https://gigs.test"})
    assert cross.headers["access-control-allow-origin"] == "*"
    assert cross.content == first.content
