"""Counters of the receiver: deliveries by outcome, rejections by reason, landing latency.

Labels only ever hold values the server trusts (configured accounts, fixed reason names), never
request text, so an attacker cannot blow up the number of series. Rejections are logged without
flooding: the first of each reason in a minute at WARNING, the rest at DEBUG, and a summary line
per minute while anything is rejected.

With several worker processes a scrape reaches one of them, so each process publishes its
counters to a small file every few seconds (``SharedMetrics``) and every process answers with the
sum over the processes that published recently.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("ticketing_pipeline.webhooks")

# Delivery outcomes (2xx, or 400 for dead-letter) and rejection reasons (4xx/5xx).
STORED, DUPLICATE, TEST_PING, DEAD_LETTER = "stored", "duplicate", "test_ping", "dead_letter"
REJECTION_REASONS = (
    "unauthorized",
    "too_large",
    "unsupported_media_type",
    "malformed",
    "storage_unavailable",
    "overloaded",
    "timeout",
)
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_LOG_INTERVAL = 60.0
PUBLISH_INTERVAL = 2.0
# A process whose file is older than this has stopped (or hangs): its counts are left out.
_FRESH_SECONDS = 15.0
_FORGET_SECONDS = 86400.0


class Metrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.deliveries: Counter[tuple[str, str, str]] = Counter()  # (platform, account, outcome)
        self.rejections: Counter[tuple[str, str]] = Counter()  # (reason, platform or "")
        self._bucket_counts = [0] * len(_BUCKETS)
        self._latency_count = 0
        self._latency_sum = 0.0
        self._last_warned: dict[str, float] = {}
        self._summary_from = self.rejections.copy()

    def delivered(self, platform: str, account_id: str, outcome: str) -> None:
        self.deliveries[(platform, account_id, outcome)] += 1

    def rejected(self, reason: str, platform: str = "", detail: str = "") -> None:
        self.rejections[(reason, platform)] += 1
        now = time.monotonic()
        message = "webhook rejected: %s%s%s"
        args = (reason, f" ({platform})" if platform else "", f": {detail}" if detail else "")
        if now - self._last_warned.get(reason, -_LOG_INTERVAL) >= _LOG_INTERVAL:
            self._last_warned[reason] = now
            log.warning(message, *args)
        else:
            log.debug(message, *args)

    def observe_landing(self, seconds: float) -> None:
        self._latency_count += 1
        self._latency_sum += seconds
        for index, bound in enumerate(_BUCKETS):
            if seconds <= bound:
                self._bucket_counts[index] += 1
                break

    def state(self) -> dict[str, Any]:
        return {
            "deliveries": [[*key, n] for key, n in self.deliveries.items()],
            "rejections": [[*key, n] for key, n in self.rejections.items()],
            "latency": [self._bucket_counts, self._latency_count, self._latency_sum],
        }

    def add_state(self, state: dict[str, Any]) -> None:
        """Add another process's counters (from ``state()``) to these."""
        for platform, account, outcome, count in state["deliveries"]:
            self.deliveries[(platform, account, outcome)] += count
        for reason, platform, count in state["rejections"]:
            self.rejections[(reason, platform)] += count
        buckets, count, total = state["latency"]
        self._bucket_counts = [a + b for a, b in zip(self._bucket_counts, buckets, strict=True)]
        self._latency_count += count
        self._latency_sum += total

    def log_summary(self) -> None:
        """Log the rejections since the previous summary, if there were any."""
        fresh = self.rejections - self._summary_from
        if fresh:
            self._summary_from = self.rejections.copy()
            parts = ", ".join(f"{reason}={n}" for (reason, _), n in sorted(fresh.items()))
            log.info("webhook rejections in the last interval: %s", parts)

    def snapshot(self) -> dict[str, Any]:
        deliveries: dict[str, int] = Counter()
        for (_, _, outcome), count in self.deliveries.items():
            deliveries[outcome] += count
        rejections: dict[str, int] = Counter()
        for (reason, _), count in self.rejections.items():
            rejections[reason] += count
        return {
            "pid": os.getpid(),
            "uptime_seconds": round(time.time() - self.started, 3),
            "deliveries": dict(deliveries),
            "rejections": dict(rejections),
        }

    def prometheus(self, landing_counts: dict[str, int] | None) -> str:
        lines = [
            "# HELP ticketing_webhook_deliveries_total Accepted deliveries by outcome "
            "(this process).",
            "# TYPE ticketing_webhook_deliveries_total counter",
        ]
        for (platform, account, outcome), count in sorted(self.deliveries.items()):
            lines.append(
                f'ticketing_webhook_deliveries_total{{platform="{platform}",account="{account}",'
                f'outcome="{outcome}"}} {count}'
            )
        lines += [
            "# HELP ticketing_webhook_rejections_total Rejected requests by reason (this process).",
            "# TYPE ticketing_webhook_rejections_total counter",
        ]
        for (reason, platform), count in sorted(self.rejections.items()):
            lines.append(
                f'ticketing_webhook_rejections_total{{reason="{reason}",platform="{platform}"}} '
                f"{count}"
            )
        lines += [
            "# HELP ticketing_webhook_landing_seconds Time from receipt to durable on disk.",
            "# TYPE ticketing_webhook_landing_seconds histogram",
        ]
        cumulative = 0
        for bound, count in zip(_BUCKETS, self._bucket_counts, strict=True):
            cumulative += count
            lines.append(f'ticketing_webhook_landing_seconds_bucket{{le="{bound}"}} {cumulative}')
        lines.append(f'ticketing_webhook_landing_seconds_bucket{{le="+Inf"}} {self._latency_count}')
        lines.append(f"ticketing_webhook_landing_seconds_sum {self._latency_sum:.6f}")
        lines.append(f"ticketing_webhook_landing_seconds_count {self._latency_count}")
        if landing_counts is not None:
            lines += [
                "# HELP ticketing_webhook_landing_files Files in each landing folder.",
                "# TYPE ticketing_webhook_landing_files gauge",
            ]
            for folder, count in landing_counts.items():
                lines.append(f'ticketing_webhook_landing_files{{folder="{folder}"}} {count}')
        return "\n".join(lines) + "\n"


class SharedMetrics:
    """This process's ``Metrics`` plus those other receiver processes publish in ``folder``."""

    def __init__(self, metrics: Metrics, folder: Path) -> None:
        self.metrics = metrics
        self.folder = folder
        # Host and pid say whose it is; the random part keeps two apps in one process apart.
        self.file = folder / f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}.json"

    def publish(self) -> None:
        """Write this process's counters (atomically; losing them in a crash costs nothing)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(self.metrics.state()))
        os.replace(tmp, self.file)

    def combined(self) -> tuple[Metrics, int]:
        """The sum over this process and the others that published recently; and their count."""
        total = Metrics()
        total.started = self.metrics.started
        total.add_state(self.metrics.state())
        processes = 1
        now = time.time()
        with contextlib.suppress(OSError), os.scandir(self.folder) as entries:
            for entry in entries:
                if not entry.name.endswith(".json") or entry.path == str(self.file):
                    continue
                try:
                    age = now - entry.stat().st_mtime
                    if age > _FORGET_SECONDS:
                        os.unlink(entry.path)
                    if age > _FRESH_SECONDS:
                        continue
                    total.add_state(orjson.loads(Path(entry.path).read_bytes()))
                    processes += 1
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # being replaced, or unreadable: skip this scrape
        return total, processes

    def withdraw(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.file)
