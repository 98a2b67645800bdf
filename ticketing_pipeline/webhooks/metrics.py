"""Counters of the receiver: deliveries by outcome, rejections by reason, landing latency.

Labels only ever hold values the server trusts (configured accounts, fixed reason names), never
request text, so an attacker cannot blow up the number of series. Rejections are logged without
flooding: the first of each reason in a minute at WARNING, the rest at DEBUG, and a summary line
per minute while anything is rejected.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from typing import Any

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
)
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_LOG_INTERVAL = 60.0


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
