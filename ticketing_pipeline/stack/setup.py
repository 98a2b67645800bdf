"""The ``setup`` process of ``ticketing up``: what the stack needs once its servers answer.

1. waits for the sandbox and the webhook receiver;
2. registers each Eventbrite organization's webhook with the sandbox, pointing at the receiver
   (``ticketing webhooks register``'s code: idempotent, the URL token masked in its output);
3. the first load, unless ``--no-first-load``: ``ticketing sync`` then ``ticketing build``, as
   separate processes, exactly as a person would type them;
4. then idles until it is stopped: honcho stops every process as soon as one ends.

Run as ``python -m ticketing_pipeline.stack.setup -c data/stack/ticketing.toml ...``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from ticketing_pipeline.config import load_config


def wait_until_up(url: str, timeout: float = 180.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def register_webhooks(config_path: Path) -> bool:
    from ticketing_pipeline.operations.webhook_registration import register_all

    config = load_config(config_path)
    outcomes = register_all(config)
    for outcome in outcomes:
        if outcome.error:
            print(f"webhook of {outcome.account.key}: FAILED: {outcome.error}", flush=True)
        elif outcome.plan is not None:
            print(outcome.plan.describe(), flush=True)
    return not any(o.error for o in outcomes)


def first_load(config_path: Path) -> bool:
    cli = [sys.executable, "-m", "ticketing_pipeline.cli"]
    for step in ("sync", "build"):
        print(f"first load: ticketing {step} -c {config_path} ...", flush=True)
        started = time.perf_counter()
        code = subprocess.call([*cli, step, "-c", str(config_path)])
        seconds = time.perf_counter() - started
        if code != 0:
            print(f"first load: ticketing {step} failed (exit {code}) after {seconds:.0f} s")
            return False
        print(f"first load: ticketing {step} done in {seconds:.0f} s", flush=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--sandbox-url", required=True)
    parser.add_argument("--receiver-url", required=True)
    parser.add_argument("--no-first-load", action="store_true")
    args = parser.parse_args(argv)

    for name, url in (
        ("sandbox", f"{args.sandbox_url}/_sandbox/health"),
        ("receiver", f"{args.receiver_url}/healthz"),
    ):
        if not wait_until_up(url):
            print(f"setup: the {name} did not answer at {url}; nothing registered", flush=True)
            break
    else:
        register_webhooks(args.config)
        if args.no_first_load:
            print("setup: first load skipped (--no-first-load)", flush=True)
        elif first_load(args.config):
            print("setup: first load done: raw tables synced, marts built", flush=True)
    print("setup: done; idle until the stack stops", flush=True)
    threading.Event().wait()  # SIGTERM from honcho ends the process (default action)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
