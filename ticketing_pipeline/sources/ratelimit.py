"""Call budgets per API token, shared by every client of that token in the process.

Eventbrite allows about 2,000 calls per hour per token; the organizations behind one token share
that budget. A backfill that ignores it runs into a storm of 429s, each answered with a
``Retry-After`` that can be many minutes. So every request (retries included) first takes a permit
from the token's :class:`CallLimiter`; dlt's retry still honours a 429's ``Retry-After`` should
the platform answer one anyway (another process using the same token, for instance).

The limiter is pyrate-limiter's (a sliding-window log, thread-safe, blocking without holding its
lock while it sleeps) with one rate: at most ``burst`` calls in any window of ``burst /
calls_per_hour`` hours stretched by ``SPACING_MARGIN``. Calls are spaced, a few at a time,
instead of spending the hour's budget in its first minutes. The margin is for jitter: the
platform counts calls when they arrive, and a thread may wake up late from its wait.

That one rate is also the hourly ceiling: an hour is covered by at most ``H / W + 1`` windows
``W`` of ``burst`` calls each, i.e. ``calls_per_hour / 1.05 + burst`` calls, within the budget
as long as ``burst <= calls_per_hour / 25`` (which :class:`CallBudget` requires).

Limiters are keyed by a hash of the token (never the token itself, which must not appear in logs,
reprs or thread names) and the budget's figures, and shared across accounts, pipelines and
threads of the process.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass

from pyrate_limiter import Duration, Limiter, Rate

SPACING_MARGIN = 0.05
# burst <= calls_per_hour / BURST_DIVISOR keeps calls_per_hour / (1 + margin) + burst in budget.
BURST_DIVISOR = 25


@dataclass(frozen=True)
class CallBudget:
    """How many calls a token may make: ``calls_per_hour``, at most ``burst`` at once."""

    calls_per_hour: int
    burst: int

    def __post_init__(self) -> None:
        if self.calls_per_hour < 1 or self.burst < 1:
            raise ValueError("a call budget needs calls_per_hour >= 1 and burst >= 1")
        if self.burst * BURST_DIVISOR > self.calls_per_hour:
            raise ValueError(
                f"a call budget's burst can be at most 1/{BURST_DIVISOR} of its calls_per_hour"
            )

    def rates(self) -> list[Rate]:
        spaced = Duration.HOUR.value * self.burst * (1 + SPACING_MARGIN) / self.calls_per_hour
        # Rounded up: pyrate-limiter's intervals are whole milliseconds; longer is safer.
        return [Rate(self.burst, math.ceil(spaced))]


def token_fingerprint(secret: str) -> str:
    """A short, stable name for a token that reveals nothing about it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


class CallLimiter:
    """A blocking limiter for one token; counts the calls it let through and the time waited."""

    def __init__(self, fingerprint: str, budget: CallBudget) -> None:
        self.fingerprint = fingerprint
        self.budget = budget
        self._limiter = Limiter(budget.rates())
        self._stats_lock = threading.Lock()
        self.calls = 0
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        """Wait until the token may make one more call."""
        started = time.monotonic()
        if not self._limiter.try_acquire(self.fingerprint):  # blocks; False only if impossible
            raise RuntimeError(f"call budget of token {self.fingerprint} refused a call")
        waited = time.monotonic() - started
        with self._stats_lock:
            self.calls += 1
            self.waited_seconds += waited

    def __repr__(self) -> str:
        return (
            f"CallLimiter(token={self.fingerprint}, {self.budget.calls_per_hour}/h, "
            f"burst {self.budget.burst})"
        )


_limiters: dict[tuple[str, CallBudget], CallLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(secret: str, budget: CallBudget) -> CallLimiter:
    """The process-wide limiter of this token and budget (created on first use)."""
    key = (token_fingerprint(secret), budget)
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = _limiters[key] = CallLimiter(key[0], budget)
        return limiter
