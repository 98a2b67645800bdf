"""Render records in the platforms' wire shapes (see docs/platforms.md).

The generator and ``mutate`` call these and store the bytes; the API handlers only join bytes.
Ticket classes are rendered per request (their ``quantity_sold`` moves with every sale, and an
event has only a handful of them).
"""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any

import orjson

from ticketing_pipeline.sandbox.formats import (
    cents_of,
    dump,
    eb_money,
    hx_money,
    iso_ms,
    iso_s,
    local_text,
    money_bytes,
)
from ticketing_pipeline.sandbox.model import (
    EbEvent,
    EbOrg,
    EbTicketClass,
    HxAccount,
    HxEvent,
)
from ticketing_pipeline.sandbox.money import (
    EB_TAX_MILLI,
    HX_FEE_FIXED,
    HX_TOTAL_KEYS,
    HxTicketMoney,
    eb_fees,
)

HX_SITE = "https://events.humanitix.com"
EB_API = "https://www.eventbriteapi.com/v3"


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# --- Humanitix ---------------------------------------------------------------------------------


def _derived_id(object_id: str, salt: str) -> str:
    """A stable 24-hex sub-document ``_id`` (Mongo gives each nested document its own)."""
    return object_id[:8] + hashlib.sha256(f"{object_id}:{salt}".encode()).hexdigest()[:16]


def hx_event_record(account: HxAccount, event: HxEvent) -> bytes:
    """An event in the key tree of ``humanitix_events_page_gbe_2024.json``.

    Optional keys are absent rather than null, as there: ``publishedAt`` (drafts),
    ``description`` of a ticket type, ``priceRange`` (only on pay-what-you-want types).
    """
    live_types = [t for t in event.ticket_types if not t.deleted]
    prices = [t.price for t in live_types if not t.is_donation] or [0]
    slug = f"{slugify(event.name)}-{event.id[-6:]}"
    dates = []
    for s in event.sessions:
        date: dict[str, Any] = {
            "_id": s.id,
            "startDate": iso_ms(s.start_ms),
            "endDate": iso_ms(s.end_ms),
            "disabled": s.disabled,
            "deleted": s.deleted,
        }
        if s.schedule_id is not None:
            date["scheduleId"] = s.schedule_id
        dates.append(date)
    ticket_types = []
    for t in event.ticket_types:
        ticket_type: dict[str, Any] = {
            "_id": t.id,
            "name": t.name,
            "price": hx_money(0 if t.is_donation else t.price),
        }
        if t.is_donation:
            ticket_type["priceRange"] = {
                "_id": _derived_id(t.id, "priceRange"),
                "enabled": True,
                "min": hx_money(t.price),
                "max": hx_money(100_00),
            }
        ticket_type["quantity"] = t.quantity
        if t.description:
            ticket_type["description"] = t.description
        ticket_type.update(disabled=t.disabled, deleted=t.deleted, isDonation=t.is_donation)
        ticket_types.append(ticket_type)
    packages = []
    for package in event.packages:
        entry: dict[str, Any] = {
            "_id": package.id,
            "name": package.name,
            "price": hx_money(package.price),
            "quantity": 50,
        }
        if package.description:
            entry["description"] = package.description
        entry.update(
            disabled=False,
            deleted=False,
            tickets=[
                {"_id": item_id, "ticketTypeId": t.id, "quantity": quantity}
                for t, quantity, item_id in package.items
            ],
        )
        packages.append(entry)
    record: dict[str, Any] = {
        "_id": event.id,
        "location": event.region,
        "currency": event.currency,
        "name": event.name,
        "description": f"<p>{html.escape(event.name)}: live, in person.</p>",
        "slug": slug,
        "userId": account.user_id,
        "organiserId": account.organiser_id,
        "tagIds": event.tag_ids,
        "classification": event.classification,
        "public": event.published,
        "published": event.published,
        "suspendSales": False,
        "markedAsSoldOut": event.sold_out,
        "startDate": iso_ms(event.start_ms),
        "endDate": iso_ms(event.end_ms),
        "dates": dates,
        "timezone": event.timezone,
        "totalCapacity": sum(t.quantity for t in live_types),
        "eventLocation": event.location,
        "ticketTypes": ticket_types,
        "packagedTickets": packages,
        "additionalQuestions": [],
        "paymentOptions": {"refundSettings": {"refundPolicy": "Refunds up to 7 days before"}},
        "affiliateCodes": [],
        "pricing": {"minimumPrice": hx_money(min(prices)), "maximumPrice": hx_money(max(prices))},
        "keywords": [],
        "createdAt": iso_ms(event.created_ms),
        "updatedAt": iso_ms(event.updated_ms),
    }
    if event.published:
        record["publishedAt"] = iso_ms(event.created_ms + 3_600_000)
    return dump(record)


# {"subtotal":%s,"amexFee":%s,...}: the totals object has fixed keys, so a template with the
# amounts spliced in is ~10x cheaper than a dict of Fragments through orjson.
_TOTALS_TEMPLATE = b"{" + b",".join(b'"%s":%%s' % key.encode() for key in HX_TOTAL_KEYS) + b"}"


def hx_totals_json(totals: dict[str, int], fees_included: bool) -> orjson.Fragment:
    """An OrderTotals object (``totals`` / ``purchaseTotals``) from amounts in cents.

    ``feesIncluded`` is a boolean (the capture): true when the event absorbs the fees into the
    ticket price (the organiser pays them), false when they are passed on to the buyer.
    """
    flag = b"true" if fees_included else b"false"
    return orjson.Fragment(
        _TOTALS_TEMPLATE
        % tuple(flag if k == "feesIncluded" else money_bytes(totals[k]) for k in HX_TOTAL_KEYS)
    )


HX_TICKET_MONEY_KEYS = (
    "price",
    "discount",
    "netPrice",
    "taxes",
    "fee",
    "passedOnFee",
    "absorbedFee",
    "total",
)

# --- Humanitix totalsV2: the per-ticket breakdown of the captures -----------------------------

# The fee categories of ``totalsV2.fees`` in the captures' order; ``additionalFee`` nests three.
_V2_FEE_CATEGORIES = (
    "uncappedHumanitixFee",
    "humanitixFee",
    "paymentFee",
    "rebate",
    "additionalFee",
    "totalFeeRevenue",
    "totalFees",
)
_V2_ADDITIONAL = ("afterpayFee", "amexFee", "zipFee")
# Categories that carry the Humanitix booking fee; the rest are zero in the sandbox.
_V2_HUMANITIX = frozenset({"uncappedHumanitixFee", "humanitixFee", "totalFeeRevenue", "totalFees"})
_TOTALS_V2: dict[tuple[HxTicketMoney, bool, str], bytes] = {}
# ``totalsV2`` plus the record's closing brace: one shared bytes object per distinct value.
_TICKET_TAILS: dict[tuple[HxTicketMoney, bool, str], bytes] = {}


def _v2_amount(cents: int) -> bytes:
    # Fees carry no tax in the sandbox: before and after tax are the same amount.
    m = money_bytes(cents)
    return b'{"beforeTax":%s,"tax":0,"afterTax":%s}' % (m, m)


def _v2_split(passed: int, absorbed: int) -> bytes:
    return b'{"passOn":%s,"absorb":%s,"total":%s}' % (
        _v2_amount(passed),
        _v2_amount(absorbed),
        _v2_amount(passed + absorbed),
    )


def _v2_fee(fee: int, passed: int, currency: str) -> bytes:
    """``{fixedFee, percentFee, totalFee}`` each split into passOn/absorb/total."""
    fixed = min(fee, HX_FEE_FIXED.get(currency, 99)) if fee else 0
    passed_fixed = fixed if passed else 0
    percent, passed_percent = fee - fixed, passed - passed_fixed
    return b'{"fixedFee":%s,"percentFee":%s,"totalFee":%s}' % (
        _v2_split(passed_fixed, fixed - passed_fixed),
        _v2_split(passed_percent, percent - passed_percent),
        _v2_split(passed, fee - passed),
    )


def hx_totals_v2(money: HxTicketMoney, cancelled: bool, currency: str) -> bytes:
    """A ticket's ``totalsV2`` (the key tree of the captures), JSON bytes, cached per value.

    It keeps the sale after a cancellation, when the ticket's own money fields read 0:
    ``grossSales`` (what was paid), ``refunds`` (paid back: all of it once cancelled), ``total``
    and ``netSales``/``earnings`` (0 once cancelled), ``subTotal`` (the price after discount and
    its included tax), ``discount``, and the fee tree. Semantics beyond the capture's zero-fee
    tickets (where fees and tax sit, ``payout``) are the sandbox's guesses: see GUESSES.md.
    """
    key = (money, cancelled, currency)
    cached = _TOTALS_V2.get(key)
    if cached is not None:
        return cached
    zero = _v2_fee(0, 0, currency)
    humanitix = _v2_fee(money.fee, money.passed_on_fee, currency)
    fees = []
    for category in _V2_FEE_CATEGORIES:
        if category == "additionalFee":
            body = b"{" + b",".join(b'"%s":%s' % (k.encode(), zero) for k in _V2_ADDITIONAL) + b"}"
        else:
            body = humanitix if category in _V2_HUMANITIX else zero
        fees.append(b'"%s":%s' % (category.encode(), body))
    m = money_bytes
    total = 0 if cancelled else money.total
    net_sales = 0 if cancelled else money.total - money.fee
    parts = (
        b'{"fees":{' + b",".join(fees) + b"}",
        b'"discount":' + m(money.discount),
        b'"subTotal":{"beforeTax":%s,"tax":%s,"afterTax":%s}'
        % (m(money.net_price - money.taxes), m(money.taxes), m(money.net_price)),
        b'"referral":0',
        b'"credit":{"store":0,"giftCard":0,"voucher":0}',
        b'"refunds":' + m(money.total if cancelled else 0),
        b'"itemTaxes":' + m(money.taxes),
        b'"totalOrganiserTaxes":' + m(money.taxes),
        b'"totalTaxes":' + m(money.taxes),
        b'"netSales":' + m(net_sales),
        b'"grossSales":' + m(money.total),
        b'"total":' + m(total),
        b'"earnings":' + m(net_sales),
        b'"payout":' + m(money.total - money.fee),
        b'"dgrDonation":0',
        b'"customSalesTax":{"passOn":0,"absorb":0,"total":0}}',
    )
    cached = _TOTALS_V2[key] = b",".join(parts)
    return cached


def hx_money_of_totals_v2(totals_v2: dict[str, Any]) -> HxTicketMoney:
    """A ticket's sale figures (cents) read back from its ``totalsV2`` (see ``hx_totals_v2``).

    The platform zeroes a cancelled ticket's money fields, so this is where its sale survives.
    """
    fee = totals_v2["fees"]["humanitixFee"]["totalFee"]
    net = cents_of(totals_v2["subTotal"]["afterTax"])
    discount = cents_of(totals_v2["discount"])
    return HxTicketMoney(
        price=net + discount,
        discount=discount,
        net_price=net,
        taxes=cents_of(totals_v2["subTotal"]["tax"]),
        fee=cents_of(fee["total"]["afterTax"]),
        passed_on_fee=cents_of(fee["passOn"]["afterTax"]),
        absorbed_fee=cents_of(fee["absorb"]["afterTax"]),
        total=cents_of(totals_v2["grossSales"]),
    )


_ZERO_TICKET_MONEY = HxTicketMoney(0, 0, 0, 0, 0, 0, 0, 0)


def hx_ticket_parts(
    record: dict[str, Any], money: HxTicketMoney, cancelled: bool, currency: str
) -> tuple[bytes, bytes]:
    """A ticket record as ``(head, tail)`` for ``HxTicketStore``: its money fields (zero when
    cancelled, as the platform reports them) are set here, ``totalsV2`` goes in the shared tail.
    """
    shown = _ZERO_TICKET_MONEY if cancelled else money
    for key, cents in zip(HX_TICKET_MONEY_KEYS, shown, strict=True):
        record[key] = hx_money(cents)
    head = dump(record)[:-1] + b',"totalsV2":'
    key = (money, cancelled, currency)
    tail = _TICKET_TAILS.get(key)
    if tail is None:
        tail = _TICKET_TAILS[key] = hx_totals_v2(money, cancelled, currency) + b"}"
    return head, tail


# --- Eventbrite --------------------------------------------------------------------------------


def eb_organization_record(org: EbOrg) -> dict[str, Any]:
    """The key set of ``eventbrite_organizations_page_gbe_2021.json`` (no ``created``)."""
    return {
        "_type": "organization",
        "name": org.name,
        "vertical": "default",
        "parent_id": None,
        "locale": org.locale,
        "image_id": None,
        "id": org.id,
    }


def _eb_time(ms: int, tz: str) -> dict[str, str]:
    return {"timezone": tz, "local": local_text(ms, tz), "utc": iso_s(ms)}


def _eb_logo(event: EbEvent) -> dict[str, Any]:
    logo_id = f"{int(event.id) % 10**9:09d}"
    url = f"https://img.evbuc.com/https%3A%2F%2Fcdn.evbuc.com%2Fimages%2F{logo_id}%2F1%2Foriginal"
    # The captured events crop their logo; the captured series parent does not.
    crop = (
        None if event.is_parent else {"top_left": {"x": 0, "y": 0}, "width": 2160, "height": 1080}
    )
    return {
        "crop_mask": crop,
        "original": {"url": url, "width": 2160, "height": 1080},
        "id": logo_id,
        "url": url + "?h=200&w=450",
        "aspect_ratio": "2",
        "edge_color": "#%06x" % (int(event.id) % 0xFFFFFF),
        "edge_color_set": True,
    }


def eb_event_record(event: EbEvent, capacity: int, is_free: bool) -> bytes:
    """An event in the key set of the captures: ``eventbrite_events_page_gbe_2021.json`` for
    single events and occurrences (which add ``series_id``), the series parent capture
    (``eventbrite_event_series_parent_brcc_2024.json``) for parents: no ``series_id``, a
    ``/series/`` ``resource_uri``, ``facebook_event_id``, no ``is_externally_ticketed``.
    ``published`` is absent on drafts (never published).
    """
    slug = slugify(event.name)
    logo = _eb_logo(event)
    record: dict[str, Any] = {
        "name": {"text": event.name, "html": html.escape(event.name)},
        "description": {"text": event.summary, "html": f"<p>{html.escape(event.summary)}</p>"},
        "url": f"https://www.eventbrite.com/e/{slug}-tickets-{event.id}",
        "start": _eb_time(event.start_ms, event.timezone),
        "end": _eb_time(event.end_ms, event.timezone),
        "organization_id": event.org_id,
        "created": iso_s(event.created_ms),
        "changed": iso_s(event.changed_ms),
    }
    if event.published_ms is not None:
        record["published"] = iso_s(event.published_ms)
    record.update(
        {
            "capacity": capacity,
            "capacity_is_custom": False,
            "status": event.status,
            "currency": event.currency,
            "listed": event.listed,
            "shareable": True,
            "invite_only": False,
            "online_event": event.online,
            "show_remaining": False,
            "tx_time_limit": 1200,
            "hide_start_date": False,
            "hide_end_date": False,
            "locale": event.locale,
            "is_locked": False,
            "privacy_setting": "unlocked",
            "is_series": event.is_series,
            "is_series_parent": event.is_parent,
        }
    )
    if event.is_series and not event.is_parent:
        record["series_id"] = event.series_id
    record.update(
        {
            "inventory_type": "limited",
            "is_reserved_seating": False,
            "show_pick_a_seat": False,
            "show_seatmap_thumbnail": False,
            "show_colors_in_seatmap_thumbnail": False,
            "source": "coyote",
            "is_free": is_free,
            "version": None,
            "summary": event.summary,
        }
    )
    if event.is_parent:
        record["facebook_event_id"] = None
    record.update(
        {
            "logo_id": logo["id"],
            "organizer_id": f"{int(event.org_id) % 10**11 + 7:011d}",
            "venue_id": event.venue_id,
            "category_id": event.category_id,
            "subcategory_id": None,
            "format_id": event.format_id,
            "id": event.id,
            "resource_uri": (
                f"{EB_API}/series/{event.id}/"
                if event.is_parent
                else f"{EB_API}/events/{event.id}/"
            ),
        }
    )
    if not event.is_parent:
        record["is_externally_ticketed"] = False
    record["logo"] = logo
    return dump(record)


# Eventbrite's sales status values with their message codes (``expand=event_sales_status``).
_SALES_MESSAGE = {
    "on_sale": ("tickets_on_sale", "Tickets on sale"),
    "not_yet_on_sale": ("tickets_not_yet_on_sale", "Tickets are not yet on sale"),
    "sales_ended": ("tickets_with_sales_ended", "Sales have ended"),
    "sold_out": ("tickets_sold_out", "Sold out"),
    "unavailable": ("event_cancelled", "This event has been cancelled"),
}


def eb_event_sales_status(event: EbEvent, classes: list[EbEvent], now_ms: int) -> dict[str, Any]:
    """``event_sales_status`` (shape per Eventbrite's docs; no capture: a guess, see GUESSES.md).

    Derived from the ticket classes of the event (a parent: of its occurrences) at ``now_ms``.
    """
    ticket_classes = [tc for e in classes for tc in e.ticket_classes]
    starts = [tc.sales_start_ms for tc in ticket_classes] or [event.created_ms]
    if event.status == "canceled" or any(e.status == "canceled" for e in classes):
        status = "unavailable"
    elif any(tc.sales_start_ms <= now_ms <= tc.sales_end_ms for tc in ticket_classes) and any(
        tc.sold < tc.quantity_total for tc in ticket_classes
    ):
        status = "on_sale"
    elif now_ms < min(starts):
        status = "not_yet_on_sale"
    elif ticket_classes and all(tc.sold >= tc.quantity_total for tc in ticket_classes):
        status = "sold_out"
    else:
        status = "sales_ended"
    code, message = _SALES_MESSAGE[status]
    return {
        "sales_status": status,
        "start_sales_date": _eb_time(min(starts), event.timezone),
        "message": message,
        "message_type": "default",
        "message_code": code,
    }


def eb_ticket_class_record(event: EbEvent, tc: EbTicketClass, now_ms: int) -> dict[str, Any]:
    """A ticket class in the key set of ``eventbrite_ticket_classes_page_gbe_2021.json``.

    ``include_fee`` (the event absorbs the fees into the price, as the theodi capture's class):
    ``cost`` is the price the buyer sees, fee included; ``fee`` is 0; the split is in
    ``actual_cost`` (the organiser's part) and ``actual_fee``. Otherwise ``cost`` is the face
    value, ``fee`` the fee on top, ``actual_cost`` null and ``actual_fee`` = ``fee`` (the 2021
    capture). Free and donation classes: all null.
    """
    currency = event.currency
    include_fee = not event.pass_fees
    if tc.donation or not tc.cost:
        cost = fee = tax = actual_cost = actual_fee = None
    else:
        service, payment = eb_fees(tc.cost, currency)
        fees = service + payment
        cost = eb_money(currency, tc.cost)
        tax = eb_money(currency, (tc.cost * EB_TAX_MILLI.get(currency, 0) + 50000) // 100000)
        if include_fee:
            fee = eb_money(currency, 0)
            actual_cost = eb_money(currency, tc.cost - fees)
        else:
            fee = eb_money(currency, fees)
            actual_cost = None
        actual_fee = eb_money(currency, fees)
    if tc.sold >= tc.quantity_total:
        on_sale = "SOLD_OUT"
    elif now_ms < tc.sales_start_ms:
        on_sale = "NOT_YET_ON_SALE"
    elif now_ms > tc.sales_end_ms or event.status == "canceled":
        on_sale = "UNAVAILABLE"
    else:
        on_sale = "AVAILABLE"
    return {
        "actual_cost": actual_cost,
        "actual_fee": actual_fee,
        "cost": cost,
        "fee": fee,
        "tax": tax,
        "resource_uri": f"{EB_API}/events/{event.id}/ticket_classes/{tc.id}/",
        "display_name": tc.name,
        "name": tc.name,
        "description": tc.description or None,
        "sorting": tc.sorting,
        "donation": tc.donation,
        "free": tc.free,
        "minimum_quantity": 1,
        "maximum_quantity": 10,
        "maximum_quantity_per_order": 10,
        "on_sale_status": on_sale,
        "has_pdf_ticket": True,
        "order_confirmation_message": None,
        "delivery_methods": ["electronic"],
        "category": "admission",
        "sales_channels": ["online", "atd"],
        "secondary_assignment_enabled": False,
        "event_id": event.id,
        "image_id": None,
        "id": tc.id,
        "capacity": tc.quantity_total,
        "quantity_total": tc.quantity_total,
        "quantity_sold": tc.sold,
        "sales_start": iso_s(tc.sales_start_ms),
        "sales_end": iso_s(tc.sales_end_ms),
        "sales_end_relative": None,
        "hidden": tc.hidden,
        "hidden_currently": tc.hidden,
        "include_fee": include_fee,
        "split_fee": False,
        "hide_description": True,
        "hide_sale_dates": False,
        "auto_hide": False,
        "payment_constraints": [],
    }


def eb_venue_record(
    venue_id: str,
    name: str,
    street: str,
    city: str,
    region: str,
    postal_code: str,
    country: str,
    lat: float,
    lng: float,
    capacity: int,
) -> bytes:
    display = f"{street}, {city}, {region} {postal_code}".strip()
    record = {
        "address": {
            "address_1": street,
            "address_2": None,
            "city": city,
            "region": region,
            "postal_code": postal_code,
            "country": country,
            "latitude": f"{lat:.7f}",
            "longitude": f"{lng:.7f}",
            "localized_address_display": display,
            "localized_area_display": f"{city}, {region}",
            "localized_multi_line_address_display": [street, f"{city}, {region} {postal_code}"],
        },
        "resource_uri": f"{EB_API}/venues/{venue_id}/",
        "id": venue_id,
        "age_restriction": None,
        "capacity": capacity,
        "name": name,
        "latitude": f"{lat:.7f}",
        "longitude": f"{lng:.7f}",
    }
    return dump(record)
