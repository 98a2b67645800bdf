"""Request counts per platform and route template, so a benchmark can compare the API calls of
an incremental sync with a full one (``GET /_sandbox/stats``)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RequestStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[tuple[str, int]] = Counter()
        # Per platform and token (a short hash, never the token): calls, and calls refused by
        # the platform's rate budget (429 + Retry-After).
        self._tokens: Counter[tuple[str, str]] = Counter()
        self._rate_limited: Counter[tuple[str, str]] = Counter()

    def record(self, platform: str, route: str, status: int) -> None:
        with self._lock:
            self._routes[(platform, route)] += 1
            self._statuses[(platform, status)] += 1

    def record_token(self, platform: str, token_hash: str, rate_limited: bool) -> None:
        with self._lock:
            self._tokens[(platform, token_hash)] += 1
            if rate_limited:
                self._rate_limited[(platform, token_hash)] += 1

    def rate_limited(self, platform: str | None = None) -> int:
        """Calls refused by a platform's rate budget (``eventbrite_calls_per_hour``)."""
        with self._lock:
            return sum(n for (p, _), n in self._rate_limited.items() if platform in (None, p))

    def calls_by_token(self, platform: str) -> dict[str, int]:
        """Calls per token hash (refused ones included): what a budget per token sees."""
        with self._lock:
            return {t: n for (p, t), n in self._tokens.items() if p == platform}

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
            self._statuses.clear()
            self._tokens.clear()
            self._rate_limited.clear()

    def count(self, platform: str | None = None, route: str | None = None) -> int:
        """Requests so far, optionally of one platform and/or one route (``"GET /tags"``)."""
        with self._lock:
            return sum(
                n
                for (p, r), n in self._routes.items()
                if platform in (None, p) and route in (None, r)
            )

    def snapshot(self) -> dict[str, Any]:
        """``{"total": n, "platforms": {p: {"total", "routes": {...}, "statuses": {...},
        "tokens": {hash: calls}, "rate_limited": n}}}``."""

        def empty() -> dict[str, Any]:
            return {"total": 0, "routes": {}, "statuses": {}, "tokens": {}, "rate_limited": 0}

        with self._lock:
            platforms: dict[str, dict[str, Any]] = {}
            for (platform, route), n in sorted(self._routes.items()):
                entry = platforms.setdefault(platform, empty())
                entry["total"] += n
                entry["routes"][route] = n
            for (platform, status), n in sorted(self._statuses.items()):
                entry = platforms.setdefault(platform, empty())
                entry["statuses"][str(status)] = n
            for (platform, token), n in sorted(self._tokens.items()):
                platforms.setdefault(platform, empty())["tokens"][token] = n
            for (platform, _), n in self._rate_limited.items():
                platforms.setdefault(platform, empty())["rate_limited"] += n
            return {"total": sum(self._routes.values()), "platforms": platforms}
