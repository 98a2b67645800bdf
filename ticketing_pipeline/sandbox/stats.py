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

    def record(self, platform: str, route: str, status: int) -> None:
        with self._lock:
            self._routes[(platform, route)] += 1
            self._statuses[(platform, status)] += 1

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
            self._statuses.clear()

    def count(self, platform: str | None = None, route: str | None = None) -> int:
        """Requests so far, optionally of one platform and/or one route (``"GET /tags"``)."""
        with self._lock:
            return sum(
                n
                for (p, r), n in self._routes.items()
                if platform in (None, p) and route in (None, r)
            )

    def snapshot(self) -> dict[str, Any]:
        """``{"total": n, "platforms": {p: {"total", "routes": {...}, "statuses": {...}}}}``."""
        with self._lock:
            platforms: dict[str, dict[str, Any]] = {}
            for (platform, route), n in sorted(self._routes.items()):
                entry = platforms.setdefault(platform, {"total": 0, "routes": {}, "statuses": {}})
                entry["total"] += n
                entry["routes"][route] = n
            for (platform, status), n in sorted(self._statuses.items()):
                entry = platforms.setdefault(platform, {"total": 0, "routes": {}, "statuses": {}})
                entry["statuses"][str(status)] = n
            return {"total": sum(self._routes.values()), "platforms": platforms}
