"""The sandbox's live mode: its data changes over time and the changes reach the receiver.

``serve_live(dataset, ..., every=30)`` serves the sandbox as ``sandbox.server.serve`` does, and:

- every ``every`` seconds applies ``changes`` order changes (``SandboxDataset.mutate``: new
  orders, refunds, cancellations, ...), at sandbox times later than any before;
- sends Humanitix changes as signed relay deliveries (Standard Webhooks, ``whsec_`` secrets) to
  ``{receiver}/webhooks/relay/humanitix/<account>``, as a relay polling Humanitix would
  (``WebhookSender``, relay route only);
- Eventbrite changes go to the webhooks registered through the sandbox's Eventbrite webhook API
  (``ticketing webhooks register``), which deliver them as Eventbrite does
  (``sandbox/eventbrite_webhooks.py``); nothing is sent for an organization without one.

The relay secrets come from the environment variables the project config names
(``webhook_secret_env`` of its Humanitix accounts), the receiver from ``[webhooks] public_url``.
"""

from __future__ import annotations

import logging
import os
import threading

import uvicorn

from ticketing_pipeline.config import Platform, ProjectConfig
from ticketing_pipeline.sandbox.dataset import SandboxDataset
from ticketing_pipeline.sandbox.eventbrite_api import PREFIX as EVENTBRITE_PREFIX
from ticketing_pipeline.sandbox.server import PlatformSettings, build_app
from ticketing_pipeline.sandbox.webhook_sender import WebhookSender
from ticketing_pipeline.webhooks.receiver.auth import split_secrets

log = logging.getLogger(__name__)

SEND_INTERVAL_SECONDS = 0.5


def relay_secrets(config: ProjectConfig) -> dict[tuple[str, str], str]:
    """``(platform, account_id)`` -> the relay's signing secret, for Humanitix accounts that
    have one set (the first, when the variable lists several during a rotation)."""
    secrets = {}
    for account in config.enabled_accounts(Platform.HUMANITIX):
        if not account.webhook_secret_env:
            continue
        values = split_secrets(os.environ.get(account.webhook_secret_env, ""))
        if values:
            secrets[(account.platform.value, account.account_id)] = values[0]
    return secrets


class LiveChanges:
    """A daemon thread that changes the data set every ``every`` seconds."""

    def __init__(self, dataset: SandboxDataset, every: float, changes: int) -> None:
        if every <= 0:
            raise ValueError("every must be > 0 seconds")
        self.dataset = dataset
        self.every = every
        self.fraction = min(1.0, max(1, changes) / max(1, dataset.order_count))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-live", daemon=True)

    def start(self) -> LiveChanges:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                summary = self.dataset.mutate(self.fraction)
                log.warning("sandbox live: %s", _describe(summary.to_dict()))
            except Exception:  # noqa: BLE001 - a failed change must not stop the live mode
                log.exception("sandbox live: mutation failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _describe(summary: dict) -> str:
    counts = summary.get("counts") or {}
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
    return f"change {summary.get('mutation')}: {kinds or 'nothing changed'}"


def serve_live(
    dataset: SandboxDataset,
    config: ProjectConfig,
    *,
    host: str,
    port: int,
    every: float,
    changes: int = 5,
    settings: PlatformSettings | None = None,
) -> None:
    """Serve ``dataset`` in the foreground, changing it and sending webhooks until interrupted."""
    app = build_app(dataset, settings=settings)
    secrets = relay_secrets(config)
    sender: WebhookSender | None = None
    if config.webhooks.public_url and secrets:
        sender = WebhookSender(
            dataset,
            config.webhooks.public_url,
            None,  # Eventbrite: through the registered webhooks, as the platform does it
            secrets,
            eventbrite_api_base=f"http://{host}:{port}{EVENTBRITE_PREFIX}",
            # Only changes from now on: the first load fetches everything before them.
            after=len(dataset.changes),
        )
        app.state.webhook_sender = sender
        sender.start(SEND_INTERVAL_SECONDS)
        log.warning(
            "sandbox live: relaying Humanitix changes of %d account(s) to %s",
            len(secrets),
            config.webhooks.public_url,
        )
    else:
        log.warning("sandbox live: no receiver or relay secrets configured; no relay deliveries")
    live = LiveChanges(dataset, every, changes).start()
    log.warning("sandbox live: ~%d order change(s) every %g s", changes, every)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        live.stop()
        if sender is not None:
            sender.close()
