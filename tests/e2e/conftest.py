"""Fixtures of the browser tests: the dashboard served by ``streamlit run`` on the sandbox-built
warehouse, and headless Chromium (the system's, through Playwright)."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.unit.dashboard.fixtures import DashboardWorld, dashboard_world
from ticketing_pipeline.dashboard.run import start_dashboard

CHROMIUM = os.environ.get("TICKETING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> DashboardWorld:
    return dashboard_world(tmp_path_factory.getbasetemp())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_dashboard(config_path: Path, users_path: Path) -> Iterator[str]:
    """``streamlit run`` the dashboard on a free port; yields its URL once it is healthy."""
    port = _free_port()
    process = start_dashboard(config_path, "127.0.0.1", port, users_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"the dashboard exited with {process.returncode}")
            try:
                if requests.get(f"{url}/_stcore/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the dashboard did not answer /_stcore/health within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except Exception:
            process.kill()


@pytest.fixture(scope="session")
def dashboard_url(world: DashboardWorld) -> Iterator[str]:
    with serve_dashboard(world.config_path, world.users_path) as url:
        yield url


# Per module, not per session: Playwright's sync API keeps an asyncio loop running in the
# worker's main thread while it is open, and any later test there that calls asyncio.run()
# (the webhook receiver's tests do) would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing browser is a failure there
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
