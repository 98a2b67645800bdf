"""How the dashboard writes figures, times and periods: pure functions (no Streamlit, no SQL)
so tests can call them on small values.

- Money stays exact: Decimal text with two places and its currency ("1,234.50 AUD"), never a
  float and never a sum across currencies.
- A session's times are shown in the event's own time zone, with the zone's abbreviation
  ("2025-07-04 19:30 AEST"); every other time is UTC and labelled so ("... (UTC)").
- Periods: presets of the last 7/30/90 days ending on the latest sales day in scope, all, or
  custom; the previous period is the one of the same length just before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

PRESETS = {"7 days": 7, "30 days": 30, "90 days": 90, "All": None, "Custom": None}
DEFAULT_PRESET = "30 days"


def money(value: object, currency: str | None = None) -> str:
    """``1,234.50 AUD``: exact (Decimal), two places, the currency after it."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = f"{Decimal(str(value)):,.2f}"
    return f"{text} {currency}" if currency else text


def money_column(frame: pd.DataFrame, column: str, currency: str = "currency") -> pd.Series:
    return pd.Series(
        [money(v, c) for v, c in zip(frame[column], frame[currency], strict=True)],
        index=frame.index,
        dtype="object",
    )


def _zone(name: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(name)) if isinstance(name, str) and name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(value: object, zone_name: object) -> str:
    """A UTC instant as wall-clock time in ``zone_name`` with the zone's abbreviation."""
    if value is None or pd.isna(value):
        return ""
    instant = pd.Timestamp(value)
    instant = instant.tz_localize(UTC) if instant.tzinfo is None else instant
    local = instant.tz_convert(_zone(zone_name))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def local_times(frame: pd.DataFrame, column: str, zone: str = "timezone") -> pd.Series:
    return pd.Series(
        [local_time(v, z) for v, z in zip(frame[column], frame[zone], strict=True)],
        index=frame.index,
        dtype="object",
    )


def utc_naive(series: pd.Series) -> pd.Series:
    """Timestamps as naive UTC (shown under a "(UTC)" label, without a "+00:00")."""
    return pd.to_datetime(series, utc=True).dt.tz_convert(None)


def age(then: datetime | None, now: datetime | None = None) -> str:
    """``just now``, ``12 min ago``, ``5 h ago``, ``3 days ago``."""
    if then is None or pd.isna(then):
        return "never"
    now = now or datetime.now(UTC)
    then = pd.Timestamp(then).tz_convert(UTC) if pd.Timestamp(then).tzinfo else then
    seconds = (pd.Timestamp(now) - pd.Timestamp(then)).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def utc_label(value: datetime | None) -> str:
    if value is None or pd.isna(value):
        return "never"
    return f"{pd.Timestamp(value).tz_convert(UTC):%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class Period:
    """The chosen days (inclusive; None: unbounded) and the previous period to compare."""

    date_from: date | None
    date_to: date | None
    previous: tuple[date, date] | None

    @property
    def days(self) -> int | None:
        if self.date_from is None or self.date_to is None:
            return None
        return (self.date_to - self.date_from).days + 1


def period(
    preset: str, last: date | None, custom: tuple[date | None, date | None] = (None, None)
) -> Period:
    """The period of a preset ending on ``last`` (the latest sales day in scope), or the
    custom range; the previous period has the same length and ends the day before."""
    if preset == "Custom":
        start, end = custom
    elif PRESETS.get(preset) and last is not None:
        start, end = last - timedelta(days=PRESETS[preset] - 1), last
    else:
        return Period(None, None, None)
    if start is None or end is None:
        return Period(start, end, None)
    length = (end - start).days + 1
    previous_end = start - timedelta(days=1)
    return Period(start, end, (previous_end - timedelta(days=length - 1), previous_end))


def delta(current: object, previous: object, places: int = 2) -> str | None:
    """``+12.50`` / ``-3`` (exact), or None without a previous figure."""
    if previous is None or current is None:
        return None
    change = Decimal(str(current)) - Decimal(str(previous))
    text = f"{change:+,.{places}f}"
    return text


def share(value: float | None) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.0%}"
