"""Headless Chromium renders the Gigs feed's example page: event cards with "Buy tickets" links,
a search, and "More gigs" paging; a screenshot goes to test-artifacts/."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import uvicorn

from tests.e2e.conftest import ARTIFACTS
from tests.unit.gigs.feed_world import VISIBLE, FeedWorld, standard_rows
from ticketing_pipeline.gigs.app import create_app
from ticketing_pipeline.gigs.snapshot import SnapshotStore, read_snapshot

pytestmark = pytest.mark.xdist_group("dashboard")

TIMEOUT_MS = 30_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def feed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    world = FeedWorld(Path(tmp_path_factory.mktemp("gigs")) / "warehouse.duckdb")
    world.write(standard_rows())
    store = SnapshotStore(partial(read_snapshot, world.warehouse), refresh_seconds=3600)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("the Gigs feed did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()


def test_example_page_renders_gigs_as_cards(page, feed_url: str) -> None:
    page.goto(feed_url)
    page.locator(".card").first.wait_for()
    cards = page.locator(".card")
    assert cards.count() == len(VISIBLE)
    assert [cards.nth(i).get_attribute("data-gig-id") for i in range(cards.count())] == VISIBLE
    london = page.locator('.card[data-gig-id="c-eb"]')
    assert "Open Data Summit" in london.inner_text()
    assert "269.50 GBP" in london.inner_text()
    link = london.get_by_role("link", name="Buy tickets")
    assert link.get_attribute("href") == "https://events.humanitix.com/c-eb"
    # A sold-out gig says so and offers no link to buy.
    soldout = page.locator('.card[data-gig-id="d-soldout"]')
    assert "Sold out" in soldout.inner_text()
    assert soldout.get_by_role("link", name="Buy tickets").count() == 0
    assert "Free" in page.locator('.card[data-gig-id="f-free"]').inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gigs-example-page.png"), full_page=True)


def test_example_page_searches(page, feed_url: str) -> None:
    page.goto(feed_url)
    page.locator(".card").first.wait_for()
    page.get_by_role("searchbox", name="Search").fill("jazz")
    page.get_by_role("button", name="Find gigs").click()
    page.wait_for_function("document.querySelectorAll('.card').length === 1")
    assert page.locator(".card").first.get_attribute("data-gig-id") == "f-free"
