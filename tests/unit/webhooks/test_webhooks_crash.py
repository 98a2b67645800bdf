"""Crash safety: SIGKILL the receiver under load; every acknowledged delivery must be on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest
from webhooks_helpers import (
    EB_ACCOUNT,
    EB_TOKEN,
    HX_ACCOUNT,
    HX_SECRET,
    eventbrite_body,
    free_port,
    relay_body,
    relay_headers,
    write_toml_config,
)

from ticketing_pipeline.webhooks.landing import LandingArea

SENDERS = 8
MAX_PER_SENDER = 1500  # bounds the test even if the kill came late
LOAD_SECONDS = 1.5


def start_receiver(tmp_path: Path, port: int, workers: int) -> subprocess.Popen:
    config = write_toml_config(tmp_path / "ticketing.toml", tmp_path / "data")
    env = os.environ | {"EB_WEBHOOK_SECRET": EB_TOKEN, "HX_WEBHOOK_SECRET": HX_SECRET}
    command = [sys.executable, "-m", "ticketing_pipeline.webhooks", "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning"]
    # Its own session, so that the kill below reaches uvicorn's worker processes too.
    return subprocess.Popen(command, env=env, start_new_session=True, cwd=tmp_path)


def wait_until_up(base: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the receiver exited during startup"
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the receiver did not come up")


def send_until_killed(base: str, sender: int, stop: threading.Event) -> list[tuple[str, str]]:
    """Unique deliveries, alternating Eventbrite and relay; returns the acknowledged ones."""
    acknowledged = []
    with httpx.Client(base_url=base, timeout=5.0) as client:
        for number in range(MAX_PER_SENDER):
            if stop.is_set():
                break
            delivery_id = f"s{sender}-{number}"
            if number % 2:
                body = relay_body(record_id=f"{sender:04d}{number:020d}")
                url = f"/webhooks/relay/humanitix/{HX_ACCOUNT}"
                headers = relay_headers(body, delivery_id)
                platform = "humanitix"
            else:
                body = eventbrite_body(order_id=f"{sender}{number}")
                url = f"/webhooks/eventbrite/{EB_ACCOUNT}/{EB_TOKEN}"
                headers = {"content-type": "application/json", "x-eventbrite-delivery": delivery_id}
                platform = "eventbrite"
                # Eventbrite deliveries get their id from the receiver: know them by the order.
                delivery_id = orjson.loads(body)["api_url"]
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.TransportError:
                break  # the receiver is gone
            if response.is_success:
                acknowledged.append((platform, delivery_id))
    return acknowledged


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_under_load_loses_no_acknowledged_delivery(tmp_path: Path, workers: int) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_receiver(tmp_path, port, workers)
    try:
        wait_until_up(base, process)
        stop = threading.Event()
        with ThreadPoolExecutor(SENDERS) as pool:
            futures = [pool.submit(send_until_killed, base, n, stop) for n in range(SENDERS)]
            time.sleep(LOAD_SECONDS)
            os.killpg(process.pid, signal.SIGKILL)  # no shutdown, no flush: a crash
            process.wait(timeout=10)
            stop.set()
            acknowledged = [item for future in futures for item in future.result()]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    assert len(acknowledged) > 50, "too little load to test anything"
    landing = LandingArea(tmp_path / "data" / "landing")
    landed = {}
    for file in landing.list_incoming():
        delivery = landing.read(file)  # every visible file is complete and valid
        key = delivery.api_url if delivery.platform == "eventbrite" else delivery.delivery_id
        landed[(delivery.platform, key)] = delivery
    missing = [item for item in acknowledged if item not in landed]
    assert missing == []
    account = {"eventbrite": EB_ACCOUNT, "humanitix": HX_ACCOUNT}
    assert all(d.account_id == account[d.platform] for d in landed.values())
