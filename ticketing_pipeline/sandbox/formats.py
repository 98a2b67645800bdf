"""Wire formats shared by the generator and the APIs: timestamps, money and ids.

Everything here is hot (called millions of times when a large data set is generated), so the
helpers work on integers (epoch milliseconds, integer cents) and cache what repeats.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import orjson

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_TEXT: dict[int, str] = {}


def _day_text(day: int) -> str:
    # Formatting the calendar date is the slow part of a timestamp; there are few distinct days.
    text = _DAY_TEXT.get(day)
    if text is None:
        text = date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
        _DAY_TEXT[day] = text
    return text


def iso_ms(ms: int) -> str:
    """Humanitix style: ``2025-03-01T09:30:00.000Z`` (UTC, milliseconds)."""
    day, rest = divmod(ms, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{_day_text(day)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


def iso_s(ms: int) -> str:
    """Eventbrite style: ``2025-03-01T09:30:00Z`` (UTC, whole seconds, truncated)."""
    day, rest = divmod(ms, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{_day_text(day)}T{hours:02d}:{minutes:02d}:{rest // 1000:02d}Z"


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_text(ms: int, tz: str) -> str:
    """Eventbrite ``local``: wall-clock time in the event's zone, no offset."""
    return datetime.fromtimestamp(ms / 1000, zone(tz)).strftime("%Y-%m-%dT%H:%M:%S")


def local_to_ms(year: int, month: int, day: int, hour: int, minute: int, tz: str) -> int:
    """Epoch ms of a wall-clock time in ``tz`` (sessions start at local evening hours)."""
    return int(datetime(year, month, day, hour, minute, tzinfo=zone(tz)).timestamp()) * 1000


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def datetime_to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def parse_iso8601(text: str) -> int | None:
    """Any ISO 8601 date or date-time (Humanitix ``since``) -> epoch ms; None if invalid.

    A value without an offset is read as UTC.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return datetime_to_ms(value)


_EB_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def parse_eventbrite_time(text: str) -> int | None:
    """Eventbrite's strict ``YYYY-MM-DDThh:mm:ssZ`` -> epoch ms; None if it does not match."""
    if not _EB_TIME.match(text):
        return None
    try:
        return datetime_to_ms(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return None


def dump(obj: object) -> bytes:
    """orjson bytes sized to fit, for long-term storage.

    orjson hands back its whole growth buffer (several KB even for a 700-byte record); kept by
    the million that is ~10x the memory. Copying into an exact-size bytes object costs 0.2 us.
    """
    return bytes(memoryview(orjson.dumps(obj)))


# --- money -------------------------------------------------------------------------------------


def money_text(cents: int) -> str:
    """Decimal major units as a JavaScript engine prints them (``53.98``, ``50``, ``12.5``).

    Humanitix runs on Node, whose JSON has no trailing zeros; emitting the text ourselves (not a
    float) guarantees there is never an artifact like ``53.980000000000004``.
    """
    sign = "-" if cents < 0 else ""
    major, minor = divmod(abs(cents), 100)
    if minor == 0:
        return f"{sign}{major}"
    if minor % 10 == 0:
        return f"{sign}{major}.{minor // 10}"
    return f"{sign}{major}.{minor:02d}"


def major_value(cents: int) -> str:
    """Eventbrite ``major_value``: always two decimals, as a string."""
    sign = "-" if cents < 0 else ""
    major, minor = divmod(abs(cents), 100)
    return f"{sign}{major}.{minor:02d}"


_HX_MONEY: dict[int, orjson.Fragment] = {}
_MONEY_BYTES: dict[int, bytes] = {}


def money_bytes(cents: int) -> bytes:
    """``money_text`` as bytes, cached (for templates that splice many amounts at once)."""
    text = _MONEY_BYTES.get(cents)
    if text is None:
        text = _MONEY_BYTES[cents] = money_text(cents).encode()
    return text


def hx_money(cents: int) -> orjson.Fragment:
    """A Humanitix JSON number for ``cents``, spliced verbatim into orjson output."""
    fragment = _HX_MONEY.get(cents)
    if fragment is None:
        fragment = orjson.Fragment(money_text(cents).encode())
        _HX_MONEY[cents] = fragment
    return fragment


def cents_of(number: float | int | Decimal) -> int:
    """Integer cents of a Humanitix money number read back from our own JSON.

    Our JSON numbers have at most two decimals and far fewer than 15 significant digits, so the
    float orjson parses is the nearest double to that text and rounding recovers it exactly.
    """
    return round(number * 100)


def decimal_of(number: float | int) -> Decimal:
    """Exact Decimal of a money number read back from our JSON (see :func:`cents_of`)."""
    return Decimal(cents_of(number)) / 100


CURRENCY_SYMBOL = {"AUD": "A$", "NZD": "NZ$", "USD": "$", "GBP": "£", "CAD": "CA$", "EUR": "€"}

_EB_MONEY: dict[tuple[str, int], dict[str, object]] = {}


def eb_money(currency: str, cents: int) -> dict[str, object]:
    """Eventbrite money object. Cached and shared: callers must never mutate it."""
    key = (currency, cents)
    obj = _EB_MONEY.get(key)
    if obj is None:
        value = major_value(cents)
        obj = {
            "currency": currency,
            "value": cents,
            "major_value": value,
            "display": f"{CURRENCY_SYMBOL.get(currency, currency + ' ')}{value}",
        }
        _EB_MONEY[key] = obj
    return obj


# --- ids ---------------------------------------------------------------------------------------


def object_id(created_ms: int, machine: int, counter: int) -> str:
    """A MongoDB-style 24-hex id (Humanitix ``_id``): creation seconds, a machine part, a counter.

    Like real ObjectIds they sort roughly by creation time; the counter keeps them unique.
    """
    return f"{created_ms // 1000:08x}{machine & 0xFFFF:04x}{counter:012x}"


def slugify(text: str) -> str:
    """Lower-case words joined by hyphens, as both platforms' event URLs have them."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
