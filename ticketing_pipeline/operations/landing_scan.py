"""What the webhook landing area says per account: the last delivery, the orders announced.

The landing files are named by a hash, so the account of a file is only known by reading it.
Files are scanned newest first (their mtime is the time of receipt) and reading stops at
``max_files``, so a large ``processed/`` folder costs a bounded amount.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ticketing_pipeline.webhooks.landing import (
    DEAD_LETTER,
    FAILED,
    INCOMING,
    PROCESSED,
    LandedDelivery,
    LandingArea,
)

# Eventbrite's api_url of an order: .../orders/<id>/ (with or without the slash).
_EVENTBRITE_ORDER_URL = re.compile(r"/orders/(?P<id>[^/?#]+)/?(?:[?#].*)?$")
DEFAULT_MAX_FILES = 200_000


@dataclass
class AccountDeliveries:
    """Deliveries landed for one account (``platform-account_id``)."""

    key: str
    last_received_at: datetime | None = None
    last_action: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # per landing folder
    # Orders announced by a delivery that was loaded or waits to be: order id -> latest receipt.
    order_ids: dict[str, datetime] = field(default_factory=dict)
    # Receipt times of its deliveries (dead letters excluded), newest first.
    received: list[datetime] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def received_since(self, moment: datetime) -> int:
        return sum(1 for t in self.received if t >= moment)


@dataclass
class LandingSummary:
    accounts: dict[str, AccountDeliveries]
    files_read: int
    truncated: bool  # stopped at max_files: older deliveries were not read

    def for_account(self, key: str) -> AccountDeliveries:
        return self.accounts.get(key) or AccountDeliveries(key)


def announced_order_id(delivery: LandedDelivery) -> str | None:
    """The order a delivery announces, if it is an order change."""
    if not delivery.action.startswith("order."):
        return None
    if delivery.kind == "eventbrite_reference":
        match = _EVENTBRITE_ORDER_URL.search(delivery.api_url or "")
        return match["id"] if match else None
    try:
        data = delivery.payload().get("data") or {}
    except ValueError:
        return None
    value = data.get("_id") or data.get("id")
    return str(value) if value is not None else None


def scan_landing(
    landing: LandingArea,
    keys: Iterable[str] | None = None,
    max_files: int = DEFAULT_MAX_FILES,
    folders: tuple[str, ...] = (INCOMING, PROCESSED, FAILED, DEAD_LETTER),
    stop_when_seen: bool = False,
    received_after: datetime | None = None,
) -> LandingSummary:
    """Summarise the landing area per account, newest deliveries first.

    ``stop_when_seen``: stop reading as soon as every account of ``keys`` has its last delivery
    (enough for "when did it last deliver"; counts and order ids are then partial).
    ``received_after``: read only deliveries received after this time (the files' mtimes say
    so without opening them).
    """
    wanted = set(keys) if keys is not None else None
    files = [(file, folder) for folder in folders for file in landing.list_folder(folder)]
    files.sort(key=lambda item: item[0].received_ns, reverse=True)
    accounts: dict[str, AccountDeliveries] = {}
    read = 0
    after_ns = int(received_after.timestamp() * 1e9) if received_after else None
    for file, folder in files:
        if after_ns is not None and file.received_ns < after_ns:
            return LandingSummary(accounts, read, truncated=True)
        if read >= max_files:
            return LandingSummary(accounts, read, truncated=True)
        try:
            delivery = landing.read(file)
        except (OSError, ValueError):  # moved meanwhile, or not a delivery file
            continue
        read += 1
        if wanted is not None and delivery.account_key not in wanted:
            continue
        summary = accounts.setdefault(delivery.account_key, AccountDeliveries(delivery.account_key))
        summary.counts[folder] = summary.counts.get(folder, 0) + 1
        if folder != DEAD_LETTER:
            summary.received.append(delivery.received_at)
            if summary.last_received_at is None:
                summary.last_received_at = delivery.received_at
                summary.last_action = delivery.action
        if folder in (INCOMING, PROCESSED) and (order_id := announced_order_id(delivery)):
            summary.order_ids.setdefault(order_id, delivery.received_at)
        if (
            stop_when_seen
            and wanted
            and all(k in accounts and accounts[k].last_received_at for k in wanted)
        ):
            return LandingSummary(accounts, read, truncated=True)
    return LandingSummary(accounts, read, truncated=False)
