"""What the generation of both platforms shares: reference data, names, buyers, calendars and
random sales curves, and ``GenerationContext`` (the spec, the one random stream, the store).

Same spec, same bytes: every random choice comes from the context's ``random.Random(seed)``,
consumed in a fixed order, and every timestamp derives from ``spec.anchor`` (never the wall
clock). The sell-outs alone draw from streams of their own, seeded from the spec.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import TypeVar

from ticketing_pipeline.sandbox.formats import local_to_ms, ms_to_datetime
from ticketing_pipeline.sandbox.model import SandboxSpec, SandboxStore

T = TypeVar("T")
K = TypeVar("K", tuple[int, int], int)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


# --- reference data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    currency: str
    timezone: str
    country: str
    city: str
    region: str
    locale: str
    phone: str
    venues: tuple[tuple[str, str, str, float, float, int], ...]


PLACES = {
    "AUD": Place(
        "AUD",
        "Australia/Sydney",
        "AU",
        "Sydney",
        "NSW",
        "en_AU",
        "+614",
        (
            ("The Metro Theatre", "624 George St", "2000", -33.8767, 151.2069, 1200),
            ("Enmore Theatre", "118-132 Enmore Rd", "2042", -33.8998, 151.1745, 2500),
            ("Oxford Art Factory", "38-46 Oxford St", "2010", -33.8788, 151.2150, 500),
            ("Carriageworks", "245 Wilson St", "2015", -33.8936, 151.1925, 3000),
        ),
    ),
    "NZD": Place(
        "NZD",
        "Pacific/Auckland",
        "NZ",
        "Auckland",
        "Auckland",
        "en_NZ",
        "+6421",
        (
            ("Powerstation", "33 Mount Eden Rd", "1023", -36.8660, 174.7590, 1000),
            ("The Civic", "269 Queen St", "1010", -36.8523, 174.7636, 2300),
            ("Whammy Bar", "183 Karangahape Rd", "1010", -36.8580, 174.7597, 250),
            ("Q Theatre", "305 Queen St", "1010", -36.8540, 174.7630, 450),
        ),
    ),
    "USD": Place(
        "USD",
        "America/New_York",
        "US",
        "New York",
        "NY",
        "en_US",
        "+1212",
        (
            ("Bowery Ballroom", "6 Delancey St", "10002", 40.7204, -73.9936, 575),
            ("Brooklyn Steel", "319 Frost St", "11222", 40.7191, -73.9388, 1800),
            ("Webster Hall", "125 E 11th St", "10003", 40.7318, -73.9893, 1400),
            ("Le Poisson Rouge", "158 Bleecker St", "10012", 40.7285, -74.0002, 700),
        ),
    ),
    "GBP": Place(
        "GBP",
        "Europe/London",
        "GB",
        "London",
        "England",
        "en_GB",
        "+447",
        (
            ("Islington Assembly Hall", "Upper St", "N1 2UD", 51.5416, -0.1028, 800),
            ("Village Underground", "54 Holywell Ln", "EC2A 3PQ", 51.5240, -0.0780, 700),
            ("O2 Academy Brixton", "211 Stockwell Rd", "SW9 9SL", 51.4652, -0.1149, 4900),
            ("Omeara", "6 O'Meara St", "SE1 1TE", 51.5038, -0.0940, 320),
        ),
    ),
}
# An account or organization has one currency; cycling through these mixes them across accounts.
HX_CURRENCIES = ("AUD", "NZD", "GBP", "USD")
# The second region of a Humanitix account (``SandboxSpec.humanitix_second_region``), by currency.
SECOND_REGION_CURRENCY = {"AUD": "NZD", "NZD": "AUD", "GBP": "USD", "USD": "GBP"}
EB_CURRENCIES = ("USD", "GBP", "AUD", "NZD")


def _split(text: str, sep: str = " ") -> tuple[str, ...]:
    return tuple(text.split(sep))


# Reference data as split strings: compact, and the formatter leaves them alone.
FIRST_NAMES = _split(
    "Olivia Noah Charlotte Oliver Amelia Jack Isla William Mia Leo Ava Henry Grace Lucas Chloe "
    "Thomas Zoe James Ruby Ethan Aroha Wiremu Priya Arjun Mei Hiroshi Fatima Omar Sofia Mateo "
    "Ingrid Lars Chiara Luca Aisha Kofi Siobhan Declan Anouk Bram"
)
LAST_NAMES = _split(
    "Smith,Jones,Williams,Brown,Wilson,Taylor,Nguyen,Johnson,Martin,White,Anderson,Walker,"
    "Thompson,Harris,Lee,Ryan,Robinson,Kelly,King,Davis,Ngata,Tane,Patel,Singh,Chen,Tanaka,"
    "Haddad,Rahman,Garcia,Rossi,Larsen,Jansen,Mensah,O'Brien,Murphy,de Vries,Kowalski,Novak,"
    "Fischer,Dubois",
    ",",
)
# (Humanitix classification type, category, subcategory, label in event names)
GENRES = tuple(
    tuple(g.split(":"))
    for g in (
        "performance:music:jazz:Jazz",
        "performance:music:rock:Rock",
        "performance:music:electronic:Electronic",
        "performance:music:folk:Folk",
        "performance:comedy:standup:Comedy",
        "performance:theatre:drama:Theatre",
        "festival:foodAndDrink:wine:Wine Tasting",
        "expo:community:market:Makers Market",
        "screening:film:cinema:Film",
        "class:education:workshop:Workshop",
    )
)
ADJECTIVES = _split(
    "Midnight,Harbour,Golden,Late Night,Summer,Winter,Neon,Riverside,Secret,Grand,Little,Velvet,"
    "Northern,Electric",
    ",",
)
EVENT_KINDS = _split("Sessions Night Festival Showcase Series Live Club Gala Social Weekender")
TAG_NAMES = ("Music", "Comedy", "Family friendly", "Outdoor", "Accessible", "Late night")
BASE_PRICES = (2500, 2950, 3500, 3995, 4500, 4999, 5500, 6500, 7900, 8990)
# (code, percent off)
PROMO_CODES = (("EARLYBIRD", 10), ("FRIENDS20", 20), ("MEMBERS15", 15), ("CREW50", 50))
# Tickets per order: 1..6, about two on average.
TICKET_COUNT_CUM = tuple(accumulate((0.40, 0.35, 0.10, 0.10, 0.03, 0.02)))
MAX_TICKETS_PER_ORDER = len(TICKET_COUNT_CUM)
# Sessions that sell out: this share of the sessions with at least SELL_OUT_MIN_ORDERS planned
# orders (at least one per account that has any), chosen with their own seeded random stream.
SELL_OUT_SHARE = 0.15
SELL_OUT_MIN_ORDERS = 20

# Eventbrite category/format ids (its public taxonomy).
EB_CATEGORY = {
    "music": "103",
    "comedy": "105",
    "theatre": "105",
    "foodAndDrink": "110",
    "community": "113",
    "film": "104",
    "education": "115",
}
EB_FORMAT = {"performance": "6", "festival": "5", "expo": "4", "screening": "7", "class": "9"}


TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def genre_and_event_name(rng: random.Random) -> tuple[tuple[str, ...], str]:
    """A genre and an event name in it ("Neon Jazz Night"), as both platforms' generators draw
    them: three draws from ``rng``, in this order, so a seed keeps giving the same data."""
    genre = GENRES[rng.randrange(len(GENRES))]
    adjective = ADJECTIVES[rng.randrange(len(ADJECTIVES))]
    kind = EVENT_KINDS[rng.randrange(len(EVENT_KINDS))]
    return genre, f"{adjective} {genre[3]} {kind}"


def base36(value: int, width: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for _ in range(width):
        value, rest = divmod(value, 36)
        out.append(digits[rest])
    return "".join(reversed(out))


def secret(seed: int, label: str, length: int, alphabet: str) -> str:
    digest = hashlib.sha256(f"sandbox:{seed}:{label}".encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def ticket_count(rng: random.Random) -> int:
    return min(bisect(TICKET_COUNT_CUM, rng.random()) + 1, MAX_TICKETS_PER_ORDER)


def weighted(rng: random.Random, items: list[T], cum: list[int]) -> T:
    """One of ``items``, by the cumulative weights ``cum``."""
    return items[bisect(cum, rng.random() * cum[-1])]


@dataclass(slots=True)
class Buyer:
    first: str
    last: str
    email: str
    mobile: str
    organisation: str | None


def make_buyer(rng: random.Random, phone: str) -> Buyer:
    # int(random() * n) instead of randrange(n): 3x faster, still deterministic per seed.
    rnd = rng.random
    first = FIRST_NAMES[int(rnd() * len(FIRST_NAMES))]
    last = LAST_NAMES[int(rnd() * len(LAST_NAMES))]
    email = (
        f"{first}.{last}{int(rnd() * 1000)}@example.com".lower().replace(" ", "").replace("'", "")
    )
    mobile = f"{phone}{int(rnd() * 10**7):07d}"
    organisation = f"{last} & Co" if rng.random() < 0.05 else None
    return Buyer(first, last, email, mobile, organisation)


class GenerationContext:
    """The state every platform's generator shares: the spec, the one random stream consumed in
    a fixed order, the anchor (epoch ms) and the store being filled; and the shared calendars
    and curves drawn from that stream."""

    def __init__(
        self, spec: SandboxSpec, rng: random.Random, anchor_ms: int, ds: SandboxStore
    ) -> None:
        self.spec = spec
        self.rng = rng
        self.anchor_ms = anchor_ms
        self.ds = ds

    def event_days(self, j: int, n: int, future: bool) -> int:
        """Epoch ms at midnight UTC of the first session's day: spread over [-365d, +180d]."""
        rng = self.rng
        frac = (0.8 + 0.2 * rng.random()) if future else (j + 0.15 + 0.7 * rng.random()) / n
        day = int(-365 + frac * 545)
        return (self.anchor_ms // DAY_MS + day) * DAY_MS

    def session_times(self, day_ms: int, tz: str, count: int, genre: str) -> list[tuple[int, int]]:
        rng = self.rng
        gap_days = rng.choice((1, 7, 7, 14))
        hour, length = (11, 6) if genre in ("market", "wine", "workshop") else (19, 3)
        out = []
        for i in range(count):
            day = ms_to_datetime(day_ms + i * gap_days * DAY_MS)
            start = local_to_ms(day.year, day.month, day.day, hour, rng.choice((0, 30)), tz)
            out.append((start, start + length * HOUR_MS))
        return out

    def event_created(self, first_start: int) -> int:
        rng = self.rng
        created = min(
            first_start - rng.randrange(45, 120) * DAY_MS,
            self.anchor_ms - rng.randrange(5, 30) * DAY_MS,
        )
        return created - rng.randrange(DAY_MS)

    def allocate(self, weights: list[float], total: int) -> list[int]:
        """Split ``total`` orders over events by weight, exactly."""
        if not weights or sum(weights) == 0:
            return [0] * len(weights)
        s = sum(weights)
        counts = [int(total * w / s) for w in weights]
        rest = total - sum(counts)
        order = sorted(range(len(weights)), key=lambda i: -weights[i])
        for i in range(rest):
            counts[order[i % len(order)]] += 1
        return counts

    def order_time(self, lo: int, hi: int) -> int:
        rng = self.rng
        # Sales ramp up towards the event: the max of two uniforms leans late.
        return lo + int((hi - lo) * max(rng.random(), rng.random()))

    def choose_sell_outs(self, label: str, counts: dict[K, int], eligible: set[K]) -> set[K]:
        """The sessions (keys of ``counts``, planned orders each) that will sell out.

        ``SELL_OUT_SHARE`` of the sessions with enough orders, at least one when any is
        eligible, drawn from a stream of their own (see ``sell_out_rng``).
        """
        enough = [key for key, n in counts.items() if n >= SELL_OUT_MIN_ORDERS]
        candidates = sorted(key for key in enough if key in eligible)
        if not candidates:
            return set()
        want = min(len(candidates), max(1, round(SELL_OUT_SHARE * len(enough))))
        return set(self.sell_out_rng(label).sample(candidates, want))

    def sell_out_rng(self, label: str) -> random.Random:
        """A stream of the sell-outs' own for one account (``label``): choosing and shaping the
        sell-outs draws nothing from the main stream."""
        return random.Random(f"sell-out:{self.spec.seed}:{label}")

    @staticmethod
    def sell_out_times(rng: random.Random, lo: int, hi: int, count: int) -> list[int]:
        """``count`` order times in ``[lo, hi]`` for a session that sells out, the last one the
        sell-out: on-sales that sell out fast right after tickets open, late rushes that sell
        out in the last stretch before the date, and steady sellers in between.
        """
        span = max(hi - lo, HOUR_MS)
        shape = rng.random()
        if shape < 0.35:  # an on-sale rush: gone within the first fifth of the sales window
            sell_out, burst = lo + int(span * rng.uniform(0.02, 0.2)), 0.6
        elif shape < 0.75:  # a late rush: the last stretch before the date sells it out
            sell_out, burst = lo + int(span * rng.uniform(0.7, 0.98)), 0.15
        else:  # steady, with an opening burst
            sell_out, burst = lo + int(span * rng.uniform(0.35, 0.7)), 0.3
        reach = sell_out - lo
        times = []
        for _ in range(count - 1):
            if rng.random() < burst:
                # The opening days: most of a burst lands in the first hours.
                at = int(min(reach, 3 * DAY_MS) * rng.random() ** 3)
            else:
                # Accelerating towards the sell-out (the max of three uniforms leans late).
                at = int(reach * max(rng.random(), rng.random(), rng.random()))
            times.append(lo + min(at, reach - 1))
        return [*sorted(times), sell_out]

    def reshape_sell_outs(
        self,
        label: str,
        plan: list[tuple[int, ...]],
        key_of: Callable[[tuple[int, ...]], K],
        windows: dict[K, tuple[int, int]],
        chosen: set[K],
    ) -> None:
        """Replace, in place, the planned times of the chosen sessions' orders by a sell-out
        curve (their count and everything else planned stay as they were)."""
        rng = self.sell_out_rng(f"{label}:times")
        slots: dict[K, list[int]] = {}
        for i, entry in enumerate(plan):
            key = key_of(entry)
            if key in chosen:
                slots.setdefault(key, []).append(i)
        for key in sorted(slots):
            lo, hi = windows[key]
            times = self.sell_out_times(rng, lo, hi, len(slots[key]))
            for i, at in zip(slots[key], times, strict=True):
                plan[i] = (at, *plan[i][1:])
