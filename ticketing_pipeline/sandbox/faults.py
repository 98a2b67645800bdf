"""Fault injection shared by both fake APIs.

A ``FaultRule`` matches requests by platform, method and path (``fnmatch`` pattern on the path
below the platform base, e.g. ``/organizations/*/orders/``) and fires for its next ``count``
matching requests (``None``: until cleared). Kinds:

- ``status``: answer ``status`` (429, 500, 503, ...) with the platform's error body; a
  ``retry_after`` adds the ``Retry-After`` header (seconds).
- ``slow``: wait ``delay`` seconds, then answer normally (a client timeout shorter than the
  delay sees a timeout).
- ``malformed``: answer 200 with the real body cut in half (invalid JSON).

A ``RateLimit`` caps requests per token (API key / bearer token) per fixed window and answers
429 with ``Retry-After`` = seconds until the window ends, like Eventbrite's hourly limit.
Rules are set from Python (``SandboxServer.faults``) or over HTTP (``/_sandbox/faults``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import Any

KINDS = ("status", "slow", "malformed")


@dataclass
class FaultRule:
    kind: str = "status"
    status: int = 500
    platform: str | None = None  # "humanitix" | "eventbrite" | None for both
    path: str = "*"
    method: str | None = None  # None matches any method
    count: int | None = 1  # remaining firings; None = until cleared
    retry_after: float | None = None
    delay: float = 0.0
    id: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if self.platform not in (None, "humanitix", "eventbrite"):
            raise ValueError("platform must be humanitix, eventbrite or null")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be >= 1 or null")

    def matches(self, platform: str, method: str, path: str) -> bool:
        return (
            self.platform in (None, platform)
            and self.method in (None, method)
            and fnmatchcase(path, self.path)
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RateLimit:
    limit: int
    window_seconds: float
    platform: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultInjector:
    """Thread-safe: tests set rules from their thread while the server reads them."""

    rules: list[FaultRule] = field(default_factory=list)
    rate_limits: list[RateLimit] = field(default_factory=list)
    fired: int = 0
    _next_id: int = 1
    _windows: dict[tuple[int, str], tuple[float, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rule: FaultRule | None = None, **kwargs: Any) -> FaultRule:
        """Add a rule: ``faults.add(status=429, retry_after=1, count=2, platform="eventbrite")``."""
        rule = rule or FaultRule(**kwargs)
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self.rules.append(rule)
        return rule

    def set_rate_limit(
        self, limit: int, window_seconds: float = 3600.0, platform: str | None = None
    ) -> RateLimit:
        """Allow ``limit`` requests per token per window (replaces a limit on the same platform)."""
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit must be >= 1 and window_seconds > 0")
        rate = RateLimit(limit, window_seconds, platform)
        with self._lock:
            self.rate_limits = [r for r in self.rate_limits if r.platform != platform] + [rate]
            self._windows.clear()
        return rate

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.rate_limits.clear()
            self._windows.clear()

    def take(self, platform: str, method: str, path: str) -> FaultRule | None:
        """The first rule matching this request, consuming one of its firings."""
        if not self.rules:
            return None
        with self._lock:
            for rule in self.rules:
                if rule.matches(platform, method, path):
                    if rule.count is not None:
                        rule.count -= 1
                        if rule.count <= 0:
                            self.rules.remove(rule)
                    self.fired += 1
                    return rule
        return None

    def check_rate(self, platform: str, token: str, now: float | None = None) -> int | None:
        """None if the request may pass, else the Retry-After seconds for a 429."""
        if not self.rate_limits:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            for i, rate in enumerate(self.rate_limits):
                if rate.platform not in (None, platform):
                    continue
                key = (i, token)
                start, used = self._windows.get(key, (now, 0))
                if now - start >= rate.window_seconds:
                    start, used = now, 0
                if used >= rate.limit:
                    self.fired += 1
                    return max(1, math.ceil(start + rate.window_seconds - now))
                self._windows[key] = (start, used + 1)
        return None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rules": [r.to_dict() for r in self.rules],
                "rate_limits": [r.to_dict() for r in self.rate_limits],
                "fired": self.fired,
            }

    def apply_json(self, payload: Any) -> list[FaultRule]:
        """Add what ``POST /_sandbox/faults`` received: a rule, a list of rules, or
        ``{"rules": [...], "rate_limit": {"limit": 10, "window_seconds": 60, "platform": ...}}``.
        """
        if isinstance(payload, list):
            payload = {"rules": payload}
        if not isinstance(payload, dict):
            raise ValueError("expected a JSON object or list")
        if "rules" not in payload and "rate_limit" not in payload:
            payload = {"rules": [payload]}
        added = [self.add(FaultRule(**_rule_fields(r))) for r in payload.get("rules") or []]
        if payload.get("rate_limit"):
            self.set_rate_limit(**payload["rate_limit"])
        return added


def _rule_fields(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError("a rule must be a JSON object")
    allowed = {"kind", "status", "platform", "path", "method", "count", "retry_after", "delay"}
    unknown = set(raw) - allowed
    if unknown:
        raise ValueError(f"unknown rule fields: {sorted(unknown)}")
    return dict(raw)


class RateBudget:
    """Calls allowed per token in a sliding window, like Eventbrite's hourly budget per token.

    ``calls_per_hour`` is the budget; ``window_seconds`` (default an hour) is the sliding window
    it is measured over, scaled: 2,000 per hour over a 60 s window allows 33 calls in any 60 s.
    A call beyond it is refused with the seconds until the oldest call in the window expires
    (the ``Retry-After``). Refused calls do not use the budget. Thread-safe.
    """

    def __init__(self, calls_per_hour: int, window_seconds: float = 3600.0) -> None:
        if calls_per_hour < 1 or window_seconds <= 0:
            raise ValueError("calls_per_hour must be >= 1 and window_seconds > 0")
        self.calls_per_hour = calls_per_hour
        self.window_seconds = window_seconds
        self.limit = max(1, int(calls_per_hour * window_seconds / 3600))
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, token_key: str, now: float | None = None) -> float | None:
        """None if the call may pass (and counts it), else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            calls = self._calls.setdefault(token_key, deque())
            while calls and calls[0] <= now - self.window_seconds:
                calls.popleft()
            if len(calls) >= self.limit:
                return calls[0] + self.window_seconds - now
            calls.append(now)
            return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls_per_hour": self.calls_per_hour,
            "window_seconds": self.window_seconds,
            "limit_per_window": self.limit,
        }
