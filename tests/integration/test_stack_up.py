"""`ticketing up` end to end: every part answers, webhooks flow, no secret is printed, and
Ctrl-C (SIGINT) stops every process it started.

Started as a user would (`python -m ticketing_pipeline.cli up`) on free ports, with a small
sandbox changing every 2 s and no first load (the CLI sync and build have their own tests; the
first load would compete with Dagster's start for this machine's two cores).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from ticketing_pipeline.dashboard.auth import authenticate, load_users

REPO = Path(__file__).resolve().parents[2]
# On a quiet machine the stack answers in well under a minute; Dagster's code server is the
# slowest part (it loads the dbt project).
START_TIMEOUT = 240.0
NOT_SECRETS = {"TICKETING_CONFIG", "DAGSTER_HOME", "TICKETING_DASHBOARD_USERS"}


def _free_base_port(count: int = 5) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no run of 5 free ports")


def _descendants(root: int) -> set[int]:
    """Every live process below ``root`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat_line.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _stored_by_platform(metrics_text: str) -> dict[str, int]:
    stored: dict[str, int] = {}
    for line in metrics_text.splitlines():
        if line.startswith("ticketing_webhook_deliveries_total{") and 'outcome="stored"' in line:
            platform = re.search(r'platform="([^"]+)"', line)
            if platform:
                stored[platform.group(1)] = stored.get(platform.group(1), 0) + int(
                    float(line.rsplit(" ", 1)[1])
                )
    return stored


def test_up_runs_the_whole_stack_and_sigint_stops_it(tmp_path: Path) -> None:
    base = _free_base_port()
    stack_dir = tmp_path / "stack"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETING_")}
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ticketing_pipeline.cli",
            "up",
            "--stack-dir",
            str(stack_dir),
            "--base-port",
            str(base),
            "--orders",
            "300",
            "--live-every",
            "2",
            "--no-first-load",
        ],
        cwd=REPO,
        env={**env, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output: list[str] = []
    reader = threading.Thread(
        target=lambda: output.extend(
            line.decode("utf-8", "replace") for line in iter(process.stdout.readline, b"")
        ),
        daemon=True,
    )
    reader.start()
    urls = {
        "sandbox": f"http://127.0.0.1:{base}/_sandbox/health",
        "receiver": f"http://127.0.0.1:{base + 1}/healthz",
        "dagster": f"http://127.0.0.1:{base + 2}/server_info",
        "dashboard": f"http://127.0.0.1:{base + 3}/_stcore/health",
        "gigs": f"http://127.0.0.1:{base + 4}/healthz",
    }
    spawned: set[int] = set()
    try:
        waiting = dict(urls)
        while waiting and time.monotonic() - started < START_TIMEOUT:
            assert process.poll() is None, "".join(output)
            waiting = {name: url for name, url in waiting.items() if not _answers(url)}
            time.sleep(1)
        assert not waiting, f"not answering: {sorted(waiting)}\n{''.join(output)[-4000:]}"
        answered_after = time.monotonic() - started

        # Webhooks flow: Eventbrite through the webhooks `setup` registered with the sandbox,
        # Humanitix as signed relay deliveries; both stored by the receiver.
        stored: dict[str, int] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            stored.get("eventbrite") and stored.get("humanitix")
        ):
            stored = _stored_by_platform(
                httpx.get(f"http://127.0.0.1:{base + 1}/metrics", timeout=3).text
            )
            time.sleep(1)
        assert stored.get("eventbrite") and stored.get("humanitix"), (stored, "".join(output))
        spawned = _descendants(process.pid)
        assert len(spawned) >= 6  # one process group per part, plus their children
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # what Ctrl-C delivers
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        reader.join(timeout=5)
    text = "".join(output)

    # Every process it started is gone.
    time.sleep(0.5)
    left = sorted(pid for pid in spawned if _alive(pid))
    assert not left, f"still running after SIGINT: {left}"
    for name in urls:
        assert f"{name} started" in text or name == "setup"

    # Secrets: generated into .env (0600), never printed; the demo passwords printed once.
    env_file = stack_dir / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    users_file = stack_dir / "dashboard_users.toml"
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    secrets = {}
    for line in env_file.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#") and name not in NOT_SECRETS:
            secrets[name] = value
    assert any(v.startswith("whsec_") for v in secrets.values())
    assert len(secrets) >= 10  # per account: its API key and its webhook secret
    for name, value in secrets.items():
        assert value not in text, f"{name} was printed"
    passwords = dict(re.findall(r"^\s+(admin|promoter): (\S+)\s*$", text, re.MULTILINE))
    assert set(passwords) == {"admin", "promoter"}
    users = load_users(users_file)
    assert authenticate(users, "admin", passwords["admin"]) is not None
    assert authenticate(users, "promoter", passwords["promoter"]) is not None
    assert passwords["admin"] not in users_file.read_text()
    # The config names variables only.
    config_text = (stack_dir / "ticketing.toml").read_text()
    assert not any(value in config_text for value in secrets.values())
    print(f"every part answered after {answered_after:.1f} s")


@pytest.mark.parametrize("base", [80, 65534])
def test_base_port_out_of_range_is_refused(base: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ticketing_pipeline.cli", "up", "--base-port", str(base)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "base port" in result.stdout


def test_prepare_stack_keeps_secrets_and_shows_passwords_once(tmp_path: Path) -> None:
    """A second start keeps the generated secrets (registered webhooks and relays stay valid)
    and the users file (passwords are not shown again); the Procfile runs under honcho's
    own .env parser with the same values."""
    from honcho.environ import parse

    from ticketing_pipeline.stack.up import StackPorts, prepare_stack

    first = prepare_stack(tmp_path / "stack", StackPorts.from_base(20000), orders=300)
    assert set(first.new_passwords) == {"admin", "promoter"}
    second = prepare_stack(tmp_path / "stack", StackPorts.from_base(21000), orders=300)
    assert second.new_passwords == {}
    assert second.environment == first.environment
    assert parse(second.env_file.read_text()) == second.environment
    assert set(second.processes) == {"sandbox", "receiver", "dagster", "dashboard", "gigs", "setup"}
    procfile = second.procfile.read_text()
    assert "--port 21000" in procfile and "-p 21002" in procfile  # this run's ports
    secrets = [v for k, v in second.environment.items() if k not in NOT_SECRETS]
    assert secrets and not any(value in procfile for value in secrets)
