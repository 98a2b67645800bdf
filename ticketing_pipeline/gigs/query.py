"""Filters, ordering and keyset pagination over a snapshot's sessions.

Pages are ordered by (start, id) and the cursor is the last item's (start, id): a page boundary
stays put when sessions are added or removed between two requests (no skipped or repeated gig,
unlike offsets).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import orjson

from ticketing_pipeline.gigs.snapshot import Session

MAX_PAGE_SIZE = 100


class BadCursor(ValueError):
    """The cursor is not one this feed issued."""


@dataclass(frozen=True)
class GigFilter:
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    city: str | None = None
    country: str | None = None
    platform: str | None = None
    account_id: str | None = None
    text: str | None = None

    def canonical(self) -> tuple:
        """A hashable form (for the response cache and the ETag)."""
        return (
            self.starts_from.isoformat() if self.starts_from else None,
            self.starts_before.isoformat() if self.starts_before else None,
            (self.city or "").casefold() or None,
            (self.country or "").casefold() or None,
            self.platform,
            self.account_id,
            (self.text or "").casefold().strip() or None,
        )

    def matches(self, session: Session, now: datetime) -> bool:
        ends = session.ends_or_starts_at
        if ends is not None and ends < now:
            return False  # over already
        starts = session.starts_at
        if self.starts_from and (starts is None or starts < self.starts_from):
            return False
        if self.starts_before and (starts is None or starts >= self.starts_before):
            return False
        if self.city and (session.city or "").casefold() != self.city.casefold():
            return False
        if self.country and (session.country or "").casefold() != self.country.casefold():
            return False
        if self.platform and session.platform != self.platform:
            return False
        if self.account_id and session.account_id != self.account_id:
            return False
        if self.text:
            words = self.text.casefold().split()
            if not all(word in session.search_text for word in words):
                return False
        return True


def day_bound(value: date | datetime | None, end_of_day: bool = False) -> datetime | None:
    """A date filter as a UTC instant: a bare date means that day's start (or the next day's)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    moment = datetime.combine(value, time.min, tzinfo=UTC)
    if end_of_day:
        moment = datetime.fromordinal(value.toordinal() + 1).replace(tzinfo=UTC)
    return moment


def encode_cursor(session: Session) -> str:
    starts, key = session.sort_key
    raw = orjson.dumps([starts.isoformat(), key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        starts, key = orjson.loads(raw)
        return datetime.fromisoformat(starts), str(key)
    except (ValueError, TypeError) as error:
        raise BadCursor("invalid cursor") from error


def select(
    sessions: Iterable[Session],
    gig_filter: GigFilter,
    now: datetime,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Session], str | None]:
    """One page of matching sessions (already in order) and the cursor of the next page."""
    after = decode_cursor(cursor) if cursor else None
    page: list[Session] = []
    matching: Iterator[Session] = (s for s in sessions if gig_filter.matches(s, now))
    for session in matching:
        if after is not None and session.sort_key <= after:
            continue
        if len(page) == limit:
            return page, encode_cursor(page[-1])
        page.append(session)
    return page, None
