"""A deterministic data set for both platforms: ``generate(SandboxSpec(...))``.

Same spec, same bytes: every random choice comes from one ``random.Random(seed)`` consumed in a
fixed order, and every timestamp derives from ``spec.anchor`` (never the wall clock). Events run
from about a year before the anchor to six months after it, so some ended long ago and some are
still selling; orders are placed between an event's on-sale date and the earlier of the session
start and the anchor.

Money is integer cents throughout (see ``money.py``); records are rendered once to orjson bytes
and stored in a ``SandboxDataset``.
"""

from __future__ import annotations

import gc
import hashlib
import random
from bisect import bisect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import TypeVar

import orjson

from ticketing_pipeline.sandbox.dataset import (
    EB_ATT_ATTENDING,
    EB_ATT_DELETED,
    EB_ATT_NOT_ATTENDING,
    EB_ORDER_CANCELLED,
    EB_ORDER_DELETED,
    EB_ORDER_PLACED,
    EB_ORDER_REFUNDED,
    EB_ORDER_STATUS_NAMES,
    HX_TICKET_CANCELLED,
    HX_TICKET_COMPLETE,
    EbEvent,
    EbOrg,
    EbTicketClass,
    HxAccount,
    HxEvent,
    HxPackage,
    HxSession,
    HxTicketType,
    SandboxDataset,
)
from ticketing_pipeline.sandbox.formats import (
    datetime_to_ms,
    dump,
    eb_money,
    hx_money,
    iso_ms,
    iso_s,
    local_to_ms,
    ms_to_datetime,
    object_id,
)
from ticketing_pipeline.sandbox.money import (
    EbCosts,
    HxTicketMoney,
    eb_costs,
    eb_sum_costs,
    hx_order_totals,
    hx_ticket_money,
    package_shares,
    percent_off,
)
from ticketing_pipeline.sandbox.records import (
    EB_API,
    eb_event_record,
    eb_venue_record,
    hx_event_record,
    hx_ticket_parts,
    hx_totals_json,
)

T = TypeVar("T")
K = TypeVar("K", tuple[int, int], int)
_ZERO = hx_money(0)
DEFAULT_ANCHOR = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


@dataclass(frozen=True)
class SandboxSpec:
    """What to generate. ``orders`` is the total across all accounts of both platforms."""

    seed: int = 7
    orders: int = 10_000
    humanitix_accounts: int = 2
    # Organizations visible to the first Eventbrite token (one token, several orgs).
    eventbrite_orgs: int = 2
    # Organizations behind a second token, so tests can prove token isolation. 0 disables it.
    eventbrite_second_token_orgs: int = 1
    anchor: datetime = DEFAULT_ANCHOR
    # Top-level events per account; None scales with the account's share of orders.
    events_per_account: int | None = None
    # Humanitix accounts also hold events in a second region (AU <-> NZ, GB -> US, US -> GB),
    # every third regular event. Those events, their orders and tickets are served
    # only with ``overrideLocation=<region>``, as on the real platform (data lives per region).
    # Off by default: a client that does not sync regions would miss them.
    humanitix_second_region: bool = False

    @property
    def account_count(self) -> int:
        return self.humanitix_accounts + self.eventbrite_orgs + self.eventbrite_second_token_orgs

    def events_for(self, orders_of_account: int) -> int:
        if self.events_per_account is not None:
            return self.events_per_account
        # ~6 for small sets, ~75 per account for 250k orders: a few hundred events at 1M.
        return 6 + orders_of_account // 3500

    def cache_key(self) -> str:
        text = repr(
            (
                self.seed,
                self.orders,
                self.humanitix_accounts,
                self.eventbrite_orgs,
                self.eventbrite_second_token_orgs,
                self.anchor.isoformat(),
                self.events_per_account,
                self.humanitix_second_region,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


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


def _base36(value: int, width: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for _ in range(width):
        value, rest = divmod(value, 36)
        out.append(digits[rest])
    return "".join(reversed(out))


def _secret(seed: int, label: str, length: int, alphabet: str) -> str:
    digest = hashlib.sha256(f"sandbox:{seed}:{label}".encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def _ticket_count(rng: random.Random) -> int:
    return min(bisect(TICKET_COUNT_CUM, rng.random()) + 1, MAX_TICKETS_PER_ORDER)


def _weighted(rng: random.Random, items: list[T], cum: list[int]) -> T:
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


def _address_components(
    created_ms: int,
    ds: SandboxDataset,
    venue: tuple[str, str, str, float, float, int],
    place: Place,
) -> list[dict[str, object]]:
    """Google-style ``addressComponents`` (the capture's shape): where city and country live."""
    parts = (
        (venue[1], venue[1], ["route"]),
        (place.city, place.city, ["locality", "political"]),
        (place.region, place.region, ["administrative_area_level_1", "political"]),
        (place.country, place.country, ["country", "political"]),
        (venue[2], venue[2], ["postal_code"]),
    )
    return [
        {
            "_id": object_id(created_ms, ds.machine, ds.next_counter()),
            "long_name": long_name,
            "short_name": short_name,
            "types": types,
        }
        for long_name, short_name, types in parts
    ]


# --- Humanitix orders (also used by mutate) ----------------------------------------------------


def build_hx_order(
    ds: SandboxDataset,
    account: HxAccount,
    event: HxEvent,
    pos: int,
    created_ms: int,
    rng: random.Random,
    outcome: str | None = None,
    outcome_ms: int = 0,
    checkin: bool = False,
    within_capacity: bool = False,
) -> str:
    """Create one order with its tickets, store them and append their index entries.

    ``outcome`` "refund" cancels (and refunds) every ticket at ``outcome_ms``; "partial" cancels
    some. ``checkin`` marks complete tickets of a past session as checked in. Returns the id.
    Some orders on events with packages buy one package: its tickets share the package's price.
    ``within_capacity`` (later sales, once capacities are set) buys only ticket types with room
    for the largest order left in the session, so no type is ever sold beyond its quantity.
    """
    session = event.sessions[pos]
    currency = event.currency
    types = [t for t in event.ticket_types if not t.deleted and not t.disabled]
    packages = event.packages
    if within_capacity:
        types = [
            t for t in types if t.quantity - event.sold.get((t.id, pos), 0) >= MAX_TICKETS_PER_ORDER
        ]
        open_ids = {t.id for t in types}
        packages = [p for p in packages if all(t.id in open_ids for t, _, _ in p.items)]
    package = None
    if packages and rng.random() < 0.12:
        package = packages[rng.randrange(len(packages))]
    percent, code, auto = 0, None, False
    if package is not None:
        chosen = [t for t, quantity, _ in package.items for _ in range(quantity)]
        n = len(chosen)
        prices = package_shares(package.price, [t.price for t in chosen])
    else:
        cum = list(accumulate(t.weight for t in types))
        n = _ticket_count(rng)
        main = _weighted(rng, types, cum)
        chosen = (
            [main] * n if rng.random() < 0.8 else [_weighted(rng, types, cum) for _ in range(n)]
        )
        prices = [rng.randrange(5, 101) * 100 if t.is_donation else t.price for t in chosen]
        paid = any(prices)
        roll = rng.random()
        if paid and roll < 0.08:
            code, percent = PROMO_CODES[rng.randrange(len(PROMO_CODES))]
        elif paid and n >= 4 and roll < 0.30:
            auto, percent = True, 10
    paid = any(prices)
    moneys: list[HxTicketMoney] = [
        hx_ticket_money(
            price,
            0 if t.is_donation or not percent else percent_off(price, percent),
            event.pass_fees,
            currency,
        )
        for t, price in zip(chosen, prices, strict=True)
    ]
    cancelled = [False] * n
    if outcome == "refund":
        cancelled = [True] * n
    elif outcome == "partial" and n >= 2:
        k = rng.randint(1, n - 1)
        cancelled = [False] * (n - k) + [True] * k
    else:
        outcome = None
    purchase = hx_order_totals(moneys, [False] * n)
    totals = hx_order_totals(moneys, cancelled) if outcome else purchase
    if purchase["grossSales"] == 0:
        financial = "free"
    elif all(cancelled):
        financial = "refunded"
    elif any(cancelled):
        financial = "partiallyRefunded"
    else:
        financial = "paid"

    # (paymentType, paymentGateway): the captures show string gateways ("manual") even for
    # free and voucher orders.
    channel_roll = rng.random()
    if channel_roll < 0.85:
        channel, manual = "online", False
        payment = ("card", "stripe") if rng.random() < 0.93 else ("afterpay", "afterpay")
    elif channel_roll < 0.93:
        channel, manual = "boxOffice", False
        payment = ("card", "stripe") if rng.random() < 0.7 else ("cash", "manual")
    else:
        channel, manual = "manual", True
        payment = ("invoice", "manual") if rng.random() < 0.5 else ("voucher", "manual")
    if not paid:
        payment = ("complimentary", "manual") if manual else ("noPaymentNecessary", "manual")
    buyer = make_buyer(rng, PLACES[currency].phone)

    counter = ds.next_counter(n + 2)
    order_id = object_id(created_ms, ds.machine, counter)
    order_name = _base36(counter * 2_654_435_761 + ds.spec.seed, 8)
    package_group_id = object_id(created_ms, ds.machine, counter + n + 1) if package else None
    created = iso_ms(created_ms)
    outcome_iso = iso_ms(outcome_ms) if outcome else None
    date_id = session.id
    region = event.region
    ticket_ids: list[str] = []
    tickets = event.tickets
    ticket_index = event.ticket_index
    for i in range(n):
        ticket_type = chosen[i]
        ticket_id = object_id(created_ms, ds.machine, counter + 1 + i)
        if i == 0:
            first, last, organisation = buyer.first, buyer.last, buyer.organisation
        else:
            first = FIRST_NAMES[int(rng.random() * len(FIRST_NAMES))]
            last = LAST_NAMES[int(rng.random() * len(LAST_NAMES))]
            organisation = None
        is_cancelled = cancelled[i]
        updated_ms = outcome_ms if is_cancelled else created_ms
        checked_ms = None
        if checkin and not is_cancelled and rng.random() < 0.85:
            checked_ms = session.start_ms - 30 * MINUTE_MS + rng.randrange(150 * MINUTE_MS)
            updated_ms = max(updated_ms, checked_ms)
        # Key order of the captured tickets; money keys are filled by hx_ticket_parts.
        record: dict[str, object] = {
            "_id": ticket_id,
            "location": region,
            "currency": currency,
            "orderId": order_id,
            "eventId": event.id,
            "orderName": order_name,
            "number": event.next_ticket_number,
            "eventDateId": date_id,
            "ticketTypeName": ticket_type.name,
            "ticketTypeId": ticket_type.id,
            "price": None,
            "discount": None,
            "netPrice": None,
            "taxes": None,
            "fee": None,
            "passedOnFee": None,
            "absorbedFee": None,
            "dgrDonation": _ZERO,
            "total": None,
            "status": "cancelled" if is_cancelled else "complete",
            "isDonation": ticket_type.is_donation,
        }
        if package is not None:
            record["packageId"] = package.id
            record["packageName"] = package.name
            record["packageGroupId"] = package_group_id
            record["packagePrice"] = hx_money(package.price)
        record["salesChannel"] = channel
        record["additionalFields"] = []
        record["checkInHistory"] = []
        if checked_ms is not None:
            record["checkIn"] = {"checkedIn": True, "date": iso_ms(checked_ms)}
        if is_cancelled:
            record["cancelledAt"] = outcome_iso
        record["createdAt"] = created
        record["updatedAt"] = iso_ms(updated_ms)
        record["firstName"] = first
        record["lastName"] = last
        if organisation is not None:
            record["organisation"] = organisation
        record["qrCodeData"] = {"_id": ticket_id[::-1], "eventId": event.id}
        event.next_ticket_number += 1
        if not is_cancelled:
            key = (ticket_type.id, pos)
            event.sold[key] = event.sold.get(key, 0) + 1
        tickets.put(ticket_id, *hx_ticket_parts(record, moneys[i], is_cancelled, currency))
        ticket_index.append(
            (
                updated_ms,
                ticket_id,
                pos,
                HX_TICKET_CANCELLED if is_cancelled else HX_TICKET_COMPLETE,
            )
        )
        ticket_ids.append(ticket_id)

    discount_total = purchase["discounts"]
    fees_included = not event.pass_fees
    purchase_json = hx_totals_json(purchase, fees_included)
    order_updated_ms = outcome_ms if outcome else created_ms
    # Key order of the captured orders; optional keys (discounts, organisation, notes) only when
    # they have a value, as the captures show optional keys absent rather than null.
    order: dict[str, object] = {
        "_id": order_id,
        "currency": currency,
        "orderName": order_name,
        "eventId": event.id,
        "eventDateId": date_id,
        "status": "complete",
        "financialStatus": financial,
        "businessPurpose": buyer.organisation is not None,
        "paymentType": payment[0],
        "paymentGateway": payment[1],
        "purchaseTotals": purchase_json,
        "manualOrder": manual,
        "tipFees": False,
        "totals": hx_totals_json(totals, fees_included) if outcome else purchase_json,
        "clientDonation": _ZERO,
    }
    if auto or code:
        order["discounts"] = {
            "autoDiscount": {"discountAmount": hx_money(discount_total)} if auto else None,
            "discountCode": (
                {"code": code, "discountAmount": hx_money(discount_total)} if code else None
            ),
        }
    if manual:
        order["notes"] = "Entered at the box office"
    order["organiserMailListOptIn"] = buyer.mobile[-1] in "0123"
    order["incompleteAt"] = iso_ms(created_ms + 20 * MINUTE_MS)
    order["salesChannel"] = channel
    order["additionalFields"] = []
    order["createdAt"] = created
    order["updatedAt"] = iso_ms(order_updated_ms)
    order["location"] = region
    order["email"] = buyer.email
    order["firstName"] = buyer.first
    order["lastName"] = buyer.last
    if buyer.organisation is not None:
        order["organisation"] = buyer.organisation
    order["mobile"] = buyer.mobile
    order["completedAt"] = created
    event.orders[order_id] = dump(order)
    event.order_index.append((order_updated_ms, order_id, pos))
    event.order_tickets[order_id] = ticket_ids
    return order_id


# --- Eventbrite orders (also used by mutate) ---------------------------------------------------

_COSTS: dict[tuple[str, EbCosts], orjson.Fragment] = {}


def eb_costs_object(currency: str, c: EbCosts) -> dict[str, object]:
    return {
        "base_price": eb_money(currency, c.base_price),
        "eventbrite_fee": eb_money(currency, c.eventbrite_fee),
        "gross": eb_money(currency, c.gross),
        "payment_fee": eb_money(currency, c.payment_fee),
        "tax": eb_money(currency, c.tax),
    }


def _attendee_costs(currency: str, c: EbCosts) -> orjson.Fragment:
    """Attendee costs repeat (a few prices x discounts per event): serialize each once."""
    key = (currency, c)
    fragment = _COSTS.get(key)
    if fragment is None:
        fragment = _COSTS[key] = orjson.Fragment(orjson.dumps(eb_costs_object(currency, c)))
    return fragment


def eb_order_id(n: int) -> str:
    return f"{3_000_000_000 + n}"


def eb_attendee_id(n: int) -> str:
    return f"{10_000_000_000 + n}"


def build_eb_order(
    ds: SandboxDataset,
    org: EbOrg,
    event: EbEvent,
    created_ms: int,
    rng: random.Random,
    outcome: str | None = None,
    outcome_ms: int = 0,
    checkin: bool = False,
    within_capacity: bool = False,
) -> str:
    """Create one Eventbrite order with its attendees; store bytes, append index entries.

    ``outcome``: "refunded" / "cancelled" / "deleted" apply to the whole order at
    ``outcome_ms``; "partial" refunds some attendees and the order stays ``placed``.
    ``within_capacity``: capacities are sized after generation, so only later sales (mutate)
    pass it; they buy only classes with room for the largest order, so quantity_sold never
    exceeds quantity_total (the caller checks that such a class exists).
    """
    currency = event.currency
    open_classes = list(event.ticket_classes)
    if within_capacity:
        open_classes = [
            tc for tc in open_classes if tc.sold + MAX_TICKETS_PER_ORDER <= tc.quantity_total
        ]
    classes = (
        [
            tc
            for tc in open_classes
            if tc.sales_start_ms <= created_ms <= tc.sales_end_ms
            and (not tc.hidden or rng.random() < 0.3)
        ]
        or [tc for tc in open_classes if not tc.hidden]
        or open_classes
    )
    cum = list(accumulate(tc.weight for tc in classes))
    n = _ticket_count(rng)
    main = _weighted(rng, classes, cum)
    chosen = [main] * n if rng.random() < 0.8 else [_weighted(rng, classes, cum) for _ in range(n)]
    faces = [rng.randrange(5, 101) * 100 if tc.donation else (tc.cost or 0) for tc in chosen]
    promo, percent = None, 0
    if any(faces) and rng.random() < 0.10:
        promo, percent = PROMO_CODES[rng.randrange(len(PROMO_CODES))]
    discounts = [
        0 if tc.donation or not percent else percent_off(face, percent)
        for tc, face in zip(chosen, faces, strict=True)
    ]
    costs = [
        # The event passing fees on means its classes do not include them in the price.
        eb_costs(face, disc, not event.pass_fees, currency)
        for face, disc in zip(faces, discounts, strict=True)
    ]
    if outcome == "partial" and n < 2:
        outcome = None
    refunded = [False] * n
    att_cancelled = [False] * n
    order_status = EB_ORDER_PLACED
    if outcome == "refunded":
        order_status, refunded = EB_ORDER_REFUNDED, [True] * n
    elif outcome == "cancelled":
        order_status, att_cancelled = EB_ORDER_CANCELLED, [True] * n
    elif outcome == "deleted":
        order_status = EB_ORDER_DELETED
    elif outcome == "partial":
        k = rng.randint(1, n - 1)
        refunded = [False] * (n - k) + [True] * k

    buyer = make_buyer(rng, PLACES[currency].phone)
    first_att = ds.next_eb(n + 1)
    order_id = eb_order_id(first_att)
    created = iso_s(created_ms)
    changed_ms = outcome_ms if outcome else created_ms
    attendee_ids: list[str] = []
    for i in range(n):
        tc = chosen[i]
        attendee_id = eb_attendee_id(first_att + 1 + i)
        if i == 0:
            first, last, email = buyer.first, buyer.last, buyer.email
        else:
            first = FIRST_NAMES[int(rng.random() * len(FIRST_NAMES))]
            last = LAST_NAMES[int(rng.random() * len(LAST_NAMES))]
            email = (
                f"{first}.{last}{int(rng.random() * 1000)}@example.org".lower()
                .replace(" ", "")
                .replace("'", "")
            )
        touched = outcome is not None and (
            order_status != EB_ORDER_PLACED or refunded[i] or att_cancelled[i]
        )
        att_changed_ms = outcome_ms if touched else created_ms
        if order_status == EB_ORDER_DELETED:
            status, flag, barcode = "Deleted", EB_ATT_DELETED, "deleted"
        elif refunded[i] or att_cancelled[i]:
            status, flag, barcode = "Not Attending", EB_ATT_NOT_ATTENDING, "refunded"
        else:
            status, flag, barcode = "Attending", EB_ATT_ATTENDING, "unused"
            tc.sold += 1
        checked_in = False
        if checkin and flag == EB_ATT_ATTENDING and rng.random() < 0.85:
            checked_ms = event.start_ms - 30 * MINUTE_MS + rng.randrange(150 * MINUTE_MS)
            status, checked_in, barcode = "Checked In", True, "used"
            att_changed_ms = max(att_changed_ms, checked_ms)
        att_changed = iso_s(att_changed_ms)
        c = costs[i]
        record = {
            "team": None,
            "costs": _attendee_costs(currency, c),
            "resource_uri": f"{EB_API}/events/{event.id}/attendees/{attendee_id}/",
            "id": attendee_id,
            "changed": att_changed,
            "created": created,
            "quantity": 1,
            "variant_id": None,
            "profile": {
                "first_name": first,
                "last_name": last,
                "email": email,
                "name": f"{first} {last}",
                "addresses": {},
            },
            "barcodes": [
                {
                    "status": barcode,
                    "barcode": f"{order_id}{attendee_id[-7:]}001",
                    "created": created,
                    "changed": att_changed,
                    "checkin_type": 2 if checked_in else 0,
                    "is_printed": False,
                }
            ],
            "answers": [],
            "checked_in": checked_in,
            "cancelled": att_cancelled[i],
            "refunded": refunded[i],
            "affiliate": "ebdssbdestsearch" if i % 5 == 4 else "eb_web",
            "guestlist_id": None,
            "invited_by": None,
            "status": status,
            "ticket_class_name": tc.name,
            "delivery_method": "electronic",
            "event_id": event.id,
            "order_id": order_id,
            "ticket_class_id": tc.id,
        }
        event.attendees[attendee_id] = dump(record)
        event.attendee_index.append((att_changed_ms // 1000, attendee_id, flag))
        attendee_ids.append(attendee_id)

    total = eb_sum_costs(costs)
    discount = sum(discounts)
    order = {
        "costs": eb_costs_object(currency, total),
        "resource_uri": f"{EB_API}/orders/{order_id}/",
        "id": order_id,
        "changed": iso_s(changed_ms),
        "created": created,
        "name": f"{buyer.first} {buyer.last}",
        "first_name": buyer.first,
        "last_name": buyer.last,
        "email": buyer.email,
        "status": EB_ORDER_STATUS_NAMES[order_status],
        "time_remaining": None,
        "event_id": event.id,
    }
    if promo:
        # A guess (no captured order has a discount): absent on orders without a promo code.
        order["promo_code"] = promo
        order["discount_amount"] = eb_money(currency, discount)
    entry = (changed_ms // 1000, order_id, order_status)
    ds.eb_orders[order_id] = dump(order)
    ds.eb_order_event[order_id] = event
    event.order_index.append(entry)
    event.order_attendees[order_id] = attendee_ids
    org.order_index.append(entry)
    return order_id


# --- the generator -----------------------------------------------------------------------------


class _Generator:
    def __init__(self, spec: SandboxSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.anchor_ms = datetime_to_ms(spec.anchor)
        machine = int(hashlib.sha256(f"machine:{spec.seed}".encode()).hexdigest()[:4], 16)
        self.ds = SandboxDataset(spec, self.anchor_ms, machine)

    def _order_shares(self) -> list[int]:
        accounts = self.spec.account_count
        base, extra = divmod(self.spec.orders, accounts)
        return [base + (1 if i < extra else 0) for i in range(accounts)]

    def run(self) -> SandboxDataset:
        shares = self._order_shares()
        spec = self.spec
        for k in range(spec.humanitix_accounts):
            self._hx_account(k, HX_CURRENCIES[k % len(HX_CURRENCIES)], shares[k])
        main_token = _secret(spec.seed, "eventbrite-token-1", 20, TOKEN_ALPHABET)
        second_token = _secret(spec.seed, "eventbrite-token-2", 20, TOKEN_ALPHABET)
        total_eb = spec.eventbrite_orgs + spec.eventbrite_second_token_orgs
        for k in range(total_eb):
            token = main_token if k < spec.eventbrite_orgs else second_token
            share = shares[spec.humanitix_accounts + k]
            self._eb_org(k, EB_CURRENCIES[k % len(EB_CURRENCIES)], share, token)
        self.ds.clock_ms = self._latest_timestamp()
        return self.ds

    def _latest_timestamp(self) -> int:
        latest = self.anchor_ms - DAY_MS
        for event in self.ds.hx_events.values():
            latest = max(latest, event.updated_ms)
            if event.order_index:
                latest = max(latest, event.order_index[-1][0])
            if event.ticket_index:
                latest = max(latest, event.ticket_index[-1][0])
        for org in self.ds.eb_orgs.values():
            if org.order_index:
                latest = max(latest, org.order_index[-1][0] * 1000 + 999)
        for eb_event in self.ds.eb_events.values():
            latest = max(latest, eb_event.changed_ms)
            if eb_event.attendee_index:
                latest = max(latest, eb_event.attendee_index[-1][0] * 1000 + 999)
        return max(latest, self.anchor_ms)

    # --- shared event skeleton --------------------------------------------------------------

    def _event_days(self, j: int, n: int, future: bool) -> int:
        """Epoch ms at midnight UTC of the first session's day: spread over [-365d, +180d]."""
        rng = self.rng
        frac = (0.8 + 0.2 * rng.random()) if future else (j + 0.15 + 0.7 * rng.random()) / n
        day = int(-365 + frac * 545)
        return (self.anchor_ms // DAY_MS + day) * DAY_MS

    def _session_times(self, day_ms: int, tz: str, count: int, genre: str) -> list[tuple[int, int]]:
        rng = self.rng
        gap_days = rng.choice((1, 7, 7, 14))
        hour, length = (11, 6) if genre in ("market", "wine", "workshop") else (19, 3)
        out = []
        for i in range(count):
            day = ms_to_datetime(day_ms + i * gap_days * DAY_MS)
            start = local_to_ms(day.year, day.month, day.day, hour, rng.choice((0, 30)), tz)
            out.append((start, start + length * HOUR_MS))
        return out

    def _event_created(self, first_start: int) -> int:
        rng = self.rng
        created = min(
            first_start - rng.randrange(45, 120) * DAY_MS,
            self.anchor_ms - rng.randrange(5, 30) * DAY_MS,
        )
        return created - rng.randrange(DAY_MS)

    def _allocate(self, weights: list[float], total: int) -> list[int]:
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

    def _order_time(self, lo: int, hi: int) -> int:
        rng = self.rng
        # Sales ramp up towards the event: the max of two uniforms leans late.
        return lo + int((hi - lo) * max(rng.random(), rng.random()))

    def _choose_sell_outs(self, label: str, counts: dict[K, int], eligible: set[K]) -> set[K]:
        """The sessions (keys of ``counts``, planned orders each) that will sell out.

        ``SELL_OUT_SHARE`` of the sessions with enough orders, at least one when any is
        eligible, drawn from a stream of their own: the main stream's draws stay as they were.
        """
        enough = [key for key, n in counts.items() if n >= SELL_OUT_MIN_ORDERS]
        candidates = sorted(key for key in enough if key in eligible)
        if not candidates:
            return set()
        want = min(len(candidates), max(1, round(SELL_OUT_SHARE * len(enough))))
        return set(self._sell_out_rng(label).sample(candidates, want))

    def _sell_out_rng(self, label: str) -> random.Random:
        return random.Random(f"sell-out:{self.spec.seed}:{label}")

    @staticmethod
    def _sell_out_times(rng: random.Random, lo: int, hi: int, count: int) -> list[int]:
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

    def _reshape_sell_outs(
        self,
        label: str,
        plan: list[tuple[int, ...]],
        key_of: Callable[[tuple[int, ...]], K],
        windows: dict[K, tuple[int, int]],
        chosen: set[K],
    ) -> None:
        """Replace, in place, the planned times of the chosen sessions' orders by a sell-out
        curve (their count and everything else planned stay as they were)."""
        rng = self._sell_out_rng(f"{label}:times")
        slots: dict[K, list[int]] = {}
        for i, entry in enumerate(plan):
            key = key_of(entry)
            if key in chosen:
                slots.setdefault(key, []).append(i)
        for key in sorted(slots):
            lo, hi = windows[key]
            times = self._sell_out_times(rng, lo, hi, len(slots[key]))
            for i, at in zip(slots[key], times, strict=True):
                plan[i] = (at, *plan[i][1:])

    # --- Humanitix --------------------------------------------------------------------------

    def _hx_account(self, k: int, currency: str, n_orders: int) -> None:
        ds, rng, spec = self.ds, self.rng, self.spec
        place = PLACES[currency]
        label = f"hx-acc-{k + 1}"
        base_ms = self.anchor_ms - 500 * DAY_MS
        account = HxAccount(
            account_id=label,
            display_name=f"{place.city} {('Live', 'Arts Collective', 'Presents', 'Sounds')[k % 4]}",
            api_key=_secret(spec.seed, f"humanitix-{label}", 40, "0123456789abcdef"),
            user_id=object_id(base_ms, ds.machine, ds.next_counter()),
            organiser_id=object_id(base_ms, ds.machine, ds.next_counter()),
            currency=currency,
            timezone=place.timezone,
            country=place.country,
        )
        account.tags = [
            {"_id": object_id(base_ms + i * 1000, ds.machine, ds.next_counter()), "name": name}
            for i, name in enumerate(TAG_NAMES)
        ]
        ds.hx_accounts[label] = account
        ds.hx_by_key[account.api_key] = account

        n_events = spec.events_for(n_orders)
        events: list[HxEvent] = []
        for j in range(n_events):
            # Special events take the first slots (forced into the future where needed), so the
            # last slots of the time spread stay regular, upcoming, on-sale events.
            draft = j == 0
            free = j == 1
            online = j == 2
            genre = GENRES[rng.randrange(len(GENRES))]
            name = (
                f"{ADJECTIVES[rng.randrange(len(ADJECTIVES))]} {genre[3]} "
                f"{EVENT_KINDS[rng.randrange(len(EVENT_KINDS))]}"
            )
            day_ms = self._event_days(j, n_events, future=draft)
            count = rng.choice((1, 1, 2, 3, 4))
            if j == 3:
                # Every account has a recurring event (3+ dates on one schedule), whatever the
                # draws before it: the data set always shows ``scheduleId``.
                count = max(count, 3)
            times = self._session_times(day_ms, place.timezone, count, genre[2])
            created_ms = self._event_created(times[0][0])
            sessions = []
            schedule = object_id(created_ms, ds.machine, ds.next_counter()) if count > 2 else None
            for start, end in times:
                sessions.append(
                    HxSession(
                        object_id(created_ms, ds.machine, ds.next_counter()),
                        start,
                        end,
                        schedule,
                    )
                )
            if rng.random() < 0.2:
                # A session that was scheduled, then deleted: never sold, still in dates[].
                start, end = times[-1]
                sessions.append(
                    HxSession(
                        object_id(created_ms, ds.machine, ds.next_counter()),
                        start + 7 * DAY_MS,
                        end + 7 * DAY_MS,
                        schedule,
                        deleted=True,
                    )
                )
            elif count > 1 and rng.random() < 0.15:
                sessions[-1].disabled = True
            price = BASE_PRICES[rng.randrange(len(BASE_PRICES))]

            def new_id(created_ms: int = created_ms) -> str:
                return object_id(created_ms, ds.machine, ds.next_counter())

            if free:
                types = [HxTicketType(new_id(), "Free Entry", 0, False, 0, "Free, RSVP", weight=1)]
            else:
                concession = (price * 7 // 10) // 50 * 50
                types = [
                    HxTicketType(new_id(), "General Admission", price, False, 0, "", weight=60),
                    HxTicketType(
                        new_id(),
                        "Concession",
                        concession,
                        False,
                        0,
                        "Students, seniors",
                        weight=20,
                    ),
                    HxTicketType(
                        new_id(), "VIP", price * 5 // 2, False, 0, "Best seats", weight=12
                    ),
                ]
                if rng.random() < 0.3:
                    types.append(
                        HxTicketType(
                            new_id(), "Donation", 500, True, 0, "Pay what you can", weight=8
                        )
                    )
                if rng.random() < 0.15:
                    types.append(
                        HxTicketType(
                            new_id(), "Early Bird", price * 8 // 10, False, 0, "", deleted=True
                        )
                    )
            # The event's region: the account's own, or (with the spec's option) another one,
            # served only with overrideLocation. Its money is in that region's currency.
            region_place = place
            if spec.humanitix_second_region and j >= 3 and j % 3 == 0:
                region_place = PLACES[SECOND_REGION_CURRENCY[currency]]
            if online:
                location = {
                    "type": "online",
                    "latLng": [],
                    "addressComponents": [],
                    "onlineUrl": f"https://stream.example.com/{k}-{j}",
                }
            else:
                venue = region_place.venues[rng.randrange(len(region_place.venues))]
                location = {
                    "type": "address",
                    "venueName": venue[0],
                    "address": (
                        f"{venue[1]}, {region_place.city} {region_place.region} {venue[2]}"
                    ),
                    "latLng": [venue[3], venue[4]],
                    "addressComponents": _address_components(created_ms, ds, venue, region_place),
                    "placeId": "ChIJ"
                    + _secret(
                        spec.seed, f"place-{venue[0]}", 23, "abcdefghijkmnpqrstuvwxyzABCDEFGH"
                    ),
                }
            classification = {"type": genre[0], "category": genre[1]}
            if j % 5 != 4:  # the capture has an event without a subcategory
                classification["subcategory"] = genre[2]
            event = HxEvent(
                id=object_id(created_ms, ds.machine, ds.next_counter()),
                account_id=label,
                name=name,
                currency=region_place.currency,
                timezone=region_place.timezone,
                created_ms=created_ms,
                updated_ms=min(
                    created_ms + rng.randrange(1, 10) * DAY_MS, self.anchor_ms - HOUR_MS
                ),
                published=not draft,
                pass_fees=rng.random() < 0.6,
                sessions=sessions,
                ticket_types=types,
                location=location,
                classification=classification,
                tag_ids=[
                    account.tags[i]["_id"] for i in sorted(rng.sample(range(len(TAG_NAMES)), 2))
                ],
                region=region_place.country,
            )
            if not free and rng.random() < 0.35:
                event.packages = self._hx_packages(event, created_ms)
            events.append(event)
            ds.hx_events[event.id] = event
            account.events[event.id] = event

        # Orders: pick (event, session, time) for each, then create them in time order so ids
        # (which embed creation time) increase like real ObjectIds.
        weights = [
            (0.3 + rng.random()) if e.published and self._hx_bookable(e) else 0.0 for e in events
        ]
        plan: list[tuple[int, int, int]] = []
        windows: dict[tuple[int, int], tuple[int, int]] = {}
        single_date: set[tuple[int, int]] = set()
        for e_pos, (event, count) in enumerate(
            zip(events, self._allocate(weights, n_orders), strict=True)
        ):
            sessions = self._hx_bookable(event)
            for _ in range(count):
                pos = sessions[rng.randrange(len(sessions))]
                session = event.sessions[pos]
                lo = event.created_ms + DAY_MS
                hi = min(session.start_ms - HOUR_MS, self.anchor_ms - MINUTE_MS)
                windows[e_pos, pos] = (lo, hi)
                plan.append((self._order_time(lo, hi), e_pos, pos))
            if len(sessions) == 1:
                single_date.add((e_pos, sessions[0]))
        # Sell-outs: capacities are per ticket type and apply to every date of an event, so a
        # date can sell out alone only when it is the event's one date on sale.
        counts = Counter((e_pos, pos) for _, e_pos, pos in plan)
        sell_outs = self._choose_sell_outs(label, counts, single_date)
        self._reshape_sell_outs(label, plan, lambda p: (p[1], p[2]), windows, sell_outs)
        plan.sort()
        for created_ms, e_pos, pos in plan:
            event = events[e_pos]
            session = event.sessions[pos]
            roll = rng.random()
            outcome = "refund" if roll < 0.07 else "partial" if roll < 0.12 else None
            if (e_pos, pos) in sell_outs:
                # A sold-out date keeps every ticket it sold (a refund would free one): its
                # capacity is what it sold, reached by its last order. Later refunds (mutate) do.
                outcome = None
            outcome_ms = 0
            if outcome:
                hi = min(session.start_ms, self.anchor_ms - MINUTE_MS)
                outcome_ms = (
                    created_ms + MINUTE_MS + int((hi - created_ms - MINUTE_MS) * rng.random())
                )
            build_hx_order(
                ds,
                account,
                event,
                pos,
                created_ms,
                rng,
                outcome,
                outcome_ms,
                checkin=session.end_ms < self.anchor_ms,
            )

        # Capacities from what sold: a margin above it, none on the dates that sold out. One
        # event is marked sold out by its organiser (a flag, whatever its capacity says); then
        # render the events.
        sold_out_events = {e_pos for e_pos, _ in sell_outs}
        sold_out_done = False
        for e_pos, event in enumerate(events):
            event.order_index.sort()
            event.ticket_index.sort()
            for tt in event.ticket_types:
                sold = max((v for (t, _), v in event.sold.items() if t == tt.id), default=0)
                margin = 10 + rng.randrange(sold // 3 + 20)
                tt.quantity = sold if e_pos in sold_out_events and not tt.deleted else sold + margin
            if not sold_out_done and event.end_ms < self.anchor_ms and event.orders:
                event.sold_out = sold_out_done = True
            event.record = hx_event_record(account, event)
            account.event_index.append((event.updated_ms, event.id))
        account.event_index.sort()

    def _hx_packages(self, event: HxEvent, created_ms: int) -> list[HxPackage]:
        """One or two packages of the event's ticket types, priced below their sum."""
        ds = self.ds

        def new_id() -> str:
            return object_id(created_ms, ds.machine, ds.next_counter())

        by_name = {t.name: t for t in event.ticket_types if not t.deleted and not t.is_donation}
        packages = []
        general, vip = by_name.get("General Admission"), by_name.get("VIP")
        if general is not None:
            price = general.price * 4 * 85 // 100 // 100 * 100  # whole units, 15% off
            packages.append(
                HxPackage(new_id(), "Group 4-pack", price, [(general, 4, new_id())], "Four GA")
            )
        if general is not None and vip is not None and self.rng.random() < 0.5:
            price = (general.price + vip.price) * 9 // 10 // 100 * 100
            packages.append(
                HxPackage(
                    new_id(), "Date night", price, [(general, 1, new_id()), (vip, 1, new_id())]
                )
            )
        return packages

    def _hx_bookable(self, event: HxEvent) -> list[int]:
        return [
            pos
            for pos, s in enumerate(event.sessions)
            if not s.deleted
            and not s.disabled
            and min(s.start_ms - HOUR_MS, self.anchor_ms - MINUTE_MS) > event.created_ms + DAY_MS
        ]

    # --- Eventbrite -------------------------------------------------------------------------

    def _eb_org(self, k: int, currency: str, n_orders: int, token: str) -> None:
        ds, rng, spec = self.ds, self.rng, self.spec
        place = PLACES[currency]
        org_id = f"{274_938_102_000 + spec.seed * 1_000 + k * 37:012d}"
        org = EbOrg(
            id=org_id,
            name=f"{place.city} {('Nights', 'Stage Co', 'Underground', 'Social')[k % 4]}",
            token=token,
            currency=currency,
            timezone=place.timezone,
            locale=place.locale,
            country=place.country,
        )
        ds.eb_orgs[org_id] = org
        ds.eb_tokens.setdefault(token, []).append(org_id)
        for venue in place.venues:
            venue_id = f"{150_000_000 + ds.next_eb()}"
            ds.eb_venues[venue_id] = (
                org_id,
                eb_venue_record(
                    venue_id,
                    venue[0],
                    venue[1],
                    place.city,
                    place.region,
                    venue[2],
                    place.country,
                    venue[3],
                    venue[4],
                    venue[5],
                ),
            )
            org.venue_ids.append(venue_id)

        n_top = spec.events_for(n_orders)
        bookable: list[EbEvent] = []
        cancel_ms = self.anchor_ms - 14 * DAY_MS
        for j in range(n_top):
            draft = j == 0
            canceled = j == 1
            free = j == 2
            online = j == 3
            genre = GENRES[rng.randrange(len(GENRES))]
            name = (
                f"{ADJECTIVES[rng.randrange(len(ADJECTIVES))]} {genre[3]} "
                f"{EVENT_KINDS[rng.randrange(len(EVENT_KINDS))]}"
            )
            day_ms = self._event_days(j, n_top, future=draft or canceled)
            series = not (draft or canceled) and rng.random() < 0.4
            count = rng.randint(2, 5) if series else 1
            times = self._session_times(day_ms, place.timezone, count, genre[2])
            created_ms = self._event_created(times[0][0])
            if canceled:
                # On sale long enough before the cancellation for orders to exist.
                created_ms = min(created_ms, cancel_ms - 45 * DAY_MS)
            venue_id = None if online else org.venue_ids[rng.randrange(len(org.venue_ids))]
            pass_fees = rng.random() < 0.6
            common = dict(
                org_id=org_id,
                name=name,
                summary=f"{name} in {place.city}.",
                timezone=place.timezone,
                currency=currency,
                locale=place.locale,
                created_ms=created_ms,
                changed_ms=min(
                    created_ms + rng.randrange(1, 10) * DAY_MS, self.anchor_ms - HOUR_MS
                ),
                published_ms=None if draft else created_ms + HOUR_MS,
                listed=not draft,
                online=online,
                venue_id=venue_id,
                pass_fees=pass_fees,
                category_id=EB_CATEGORY[genre[1]],
                format_id=EB_FORMAT[genre[0]],
            )
            parent = None
            if series:
                parent = EbEvent(
                    id=f"{700_000_000_000 + ds.next_eb()}",
                    start_ms=times[0][0],
                    end_ms=times[-1][1],
                    status="",
                    is_series=True,
                    is_parent=True,
                    series_id=None,
                    **common,
                )
                parent.series_id = parent.id
                ds.eb_events[parent.id] = parent
                org.event_ids.append(parent.id)
            children: list[EbEvent] = []
            for start, end in times:
                child = EbEvent(
                    id=f"{700_000_000_000 + ds.next_eb()}",
                    start_ms=start,
                    end_ms=end,
                    status="draft" if draft else "canceled" if canceled else "",
                    is_series=series,
                    is_parent=False,
                    series_id=parent.id if parent else None,
                    **common,
                )
                child.ticket_classes = self._eb_ticket_classes(child, free, created_ms, start)
                ds.eb_events[child.id] = child
                org.event_ids.append(child.id)
                children.append(child)
                if not draft:
                    bookable.append(child)
            if parent:
                parent.children = [c.id for c in children]

        # Orders in time order (ids increase with time, as Eventbrite's do).
        weights = [0.3 + rng.random() for _ in bookable]
        plan: list[tuple[int, int]] = []
        windows: dict[int, tuple[int, int]] = {}
        for b_pos, (event, count) in enumerate(
            zip(bookable, self._allocate(weights, n_orders), strict=True)
        ):
            lo = event.created_ms + DAY_MS
            hi = min(event.start_ms - HOUR_MS, self.anchor_ms - MINUTE_MS)
            if event.status == "canceled":
                hi = cancel_ms - HOUR_MS
            windows[b_pos] = (lo, max(hi, lo + HOUR_MS))
            for _ in range(count):
                plan.append((self._order_time(lo, max(hi, lo + HOUR_MS)), b_pos))
        # Sell-outs: any event (an occurrence of a series too) but a cancelled one.
        label = f"eventbrite:{org_id}"
        counts = Counter(b_pos for _, b_pos in plan)
        on_sale = {b for b, e in enumerate(bookable) if e.status != "canceled"}
        sell_outs = self._choose_sell_outs(label, counts, on_sale)
        self._reshape_sell_outs(label, plan, lambda p: p[1], windows, sell_outs)
        plan.sort()
        for created_ms, b_pos in plan:
            event = bookable[b_pos]
            roll = rng.random()
            outcome = (
                "refunded"
                if roll < 0.05
                else "partial"
                if roll < 0.09
                else "cancelled"
                if roll < 0.11
                else "deleted"
                if roll < 0.115
                else None
            )
            hi = min(event.start_ms, self.anchor_ms - MINUTE_MS)
            outcome_ms = (
                created_ms + MINUTE_MS + int(max(0, hi - created_ms - MINUTE_MS) * rng.random())
            )
            if event.status == "canceled":
                # The event was cancelled: everyone was refunded (free orders just cancelled).
                outcome_ms = cancel_ms + rng.randrange(HOUR_MS)
                outcome = "refunded" if any(tc.cost for tc in event.ticket_classes) else "cancelled"
            elif b_pos in sell_outs:
                # A sold-out event keeps every ticket it sold (a refund would free one): its
                # capacity is what it sold, reached by its last order. Later refunds (mutate) do.
                outcome = None
            build_eb_order(
                ds,
                org,
                event,
                created_ms,
                rng,
                outcome,
                outcome_ms,
                checkin=event.end_ms < self.anchor_ms and event.status != "canceled",
            )

        org.order_index.sort()
        # Capacities from what sold: a margin above it, none on the events that sold out. One
        # VIP class elsewhere sells out alone (its event stays on sale).
        sold_out_ids = {bookable[b_pos].id for b_pos in sell_outs}
        sold_out_done = False
        for event_id in org.event_ids:
            event = ds.eb_events[event_id]
            event.order_index.sort()
            event.attendee_index.sort()
            for tc in event.ticket_classes:
                tc.quantity_total = tc.sold + 10 + rng.randrange(tc.sold // 3 + 20)
                if event_id in sold_out_ids:
                    tc.quantity_total = tc.sold
                elif not sold_out_done and tc.name == "VIP" and tc.sold > 0:
                    tc.quantity_total = tc.sold
                    sold_out_done = True
        for event_id in org.event_ids:
            event = ds.eb_events[event_id]
            if event.is_parent:
                kids = [ds.eb_events[c] for c in event.children]
                event.status = self._eb_status(event.start_ms, event.end_ms)
                capacity = sum(c.capacity for c in kids)
                is_free = all(not tc.cost for c in kids for tc in c.ticket_classes)
            else:
                if not event.status:
                    event.status = self._eb_status(event.start_ms, event.end_ms)
                capacity = event.capacity
                is_free = all(not tc.cost for tc in event.ticket_classes)
            event.record = eb_event_record(event, capacity, is_free)

    def _eb_status(self, start_ms: int, end_ms: int) -> str:
        now = self.anchor_ms
        if now < start_ms:
            return "live"
        if now < end_ms:
            return "started"
        return "ended" if now - end_ms < 14 * DAY_MS else "completed"

    def _eb_ticket_classes(
        self, event: EbEvent, free: bool, created_ms: int, start_ms: int
    ) -> list[EbTicketClass]:
        rng, ds = self.rng, self.ds
        opens = created_ms + DAY_MS
        closes = start_ms

        def new(
            name: str,
            cost: int | None,
            weight: int,
            *,
            donation: bool = False,
            hidden: bool = False,
            sales_end_ms: int = closes,
            description: str = "",
        ) -> EbTicketClass:
            return EbTicketClass(
                id=f"{1_500_000_000 + ds.next_eb()}",
                name=name,
                cost=cost,
                free=cost == 0,
                donation=donation,
                hidden=hidden,
                quantity_total=0,
                sales_start_ms=opens,
                sales_end_ms=sales_end_ms,
                sorting=0,
                description=description,
                weight=weight,
            )

        if free:
            classes = [new("General Admission", 0, 1, description="Free entry")]
        else:
            price = BASE_PRICES[rng.randrange(len(BASE_PRICES))]
            classes = [
                new(
                    "Early Bird", price * 8 // 10, 25, sales_end_ms=min(opens + 30 * DAY_MS, closes)
                ),
                new("General Admission", price, 55),
                new("VIP", price * 5 // 2, 12),
            ]
            if rng.random() < 0.3:
                classes.append(new("Donation", None, 8, donation=True, description="Support us"))
            if rng.random() < 0.3:
                classes.append(new("Industry Guest", 0, 3, hidden=True))
        for i, tc in enumerate(classes):
            tc.sorting = i + 1
        return classes


def generate(spec: SandboxSpec | None = None) -> SandboxDataset:
    """Build the data set for ``spec`` (defaults: seed 7, 10,000 orders, 2+2(+1) accounts)."""
    # Millions of long-lived tuples and dicts make every cyclic-GC pass rescan them all: pause
    # the collector while building (nothing here forms cycles), then freeze the result so later
    # collections (in the server) skip it too.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Generator(spec or SandboxSpec()).run()
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def anchor_plus(spec: SandboxSpec, days: float) -> datetime:
    """A time relative to the spec's anchor (handy for tests of ``since`` filters)."""
    return spec.anchor + timedelta(days=days)
