"""Render records in the platforms' wire shapes (see shared/PLATFORMS.md).

The generator and ``mutate`` call these and store the bytes; the API handlers only join bytes.
Ticket classes are rendered per request (their ``quantity_sold`` moves with every sale, and an
event has only a handful of them).
"""

from __future__ import annotations

import html
import re
from typing import Any

import orjson

from ticketing_pipeline.sandbox.dataset import (
    EbEvent,
    EbOrg,
    EbTicketClass,
    HxAccount,
    HxEvent,
)
from ticketing_pipeline.sandbox.formats import (
    dump,
    eb_money,
    hx_money,
    iso_ms,
    iso_s,
    local_text,
    money_bytes,
)
from ticketing_pipeline.sandbox.money import HX_TOTAL_KEYS, eb_costs

HX_SITE = "https://events.humanitix.com"
EB_API = "https://www.eventbriteapi.com/v3"


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# --- Humanitix ---------------------------------------------------------------------------------


def hx_event_record(account: HxAccount, event: HxEvent) -> bytes:
    live_types = [t for t in event.ticket_types if not t.deleted]
    prices = [t.price for t in live_types if not t.is_donation] or [0]
    slug = f"{slugify(event.name)}-{event.id[-6:]}"
    record: dict[str, Any] = {
        "_id": event.id,
        "userId": account.user_id,
        "organiserId": account.organiser_id,
        "currency": event.currency,
        "name": event.name,
        "description": f"<p>{html.escape(event.name)}: live, in person.</p>",
        "slug": slug,
        "url": f"{HX_SITE}/{slug}",
        "public": event.published,
        "published": event.published,
        "publishedAt": iso_ms(event.created_ms + 3_600_000) if event.published else None,
        "timezone": event.timezone,
        "totalCapacity": sum(t.quantity for t in live_types),
        "startDate": iso_ms(event.start_ms),
        "endDate": iso_ms(event.end_ms),
        "suspendSales": False,
        "markedAsSoldOut": event.sold_out,
        "createdAt": iso_ms(event.created_ms),
        "updatedAt": iso_ms(event.updated_ms),
        "pricing": {"minimumPrice": hx_money(min(prices)), "maximumPrice": hx_money(max(prices))},
        "eventLocation": event.location,
        "classification": event.classification,
        "tagIds": event.tag_ids,
        "dates": [
            {
                "_id": s.id,
                "startDate": iso_ms(s.start_ms),
                "endDate": iso_ms(s.end_ms),
                "scheduleId": s.schedule_id,
                "disabled": s.disabled,
                "deleted": s.deleted,
            }
            for s in event.sessions
        ],
        "ticketTypes": [
            {
                "_id": t.id,
                "name": t.name,
                "price": hx_money(0 if t.is_donation else t.price),
                "priceRange": (
                    {"enabled": True, "min": hx_money(t.price), "max": hx_money(100_00)}
                    if t.is_donation
                    else {"enabled": False}
                ),
                "quantity": t.quantity,
                "description": t.description,
                "disabled": t.disabled,
                "deleted": t.deleted,
                "isDonation": t.is_donation,
            }
            for t in event.ticket_types
        ],
    }
    return dump(record)


# {"subtotal":%s,"clientDonation":%s,...}: the totals object has fixed keys, so a template
# with 25 amounts spliced in is ~10x cheaper than a dict of Fragments through orjson.
_TOTALS_TEMPLATE = b"{" + b",".join(b'"%s":%%s' % key.encode() for key in HX_TOTAL_KEYS) + b"}"


def hx_totals_json(totals: dict[str, int]) -> orjson.Fragment:
    """An OrderTotals object (``totals`` / ``purchaseTotals``) from amounts in cents."""
    return orjson.Fragment(_TOTALS_TEMPLATE % tuple(money_bytes(totals[k]) for k in HX_TOTAL_KEYS))


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


# --- Eventbrite --------------------------------------------------------------------------------


def eb_organization_record(org: EbOrg, created_ms: int) -> dict[str, Any]:
    return {
        "_type": "organization",
        "name": org.name,
        "vertical": "default",
        "parent_id": None,
        "locale": org.locale,
        "created": iso_s(created_ms),
        "image_id": None,
        "id": org.id,
    }


def _eb_time(ms: int, tz: str) -> dict[str, str]:
    return {"timezone": tz, "local": local_text(ms, tz), "utc": iso_s(ms)}


def eb_event_record(event: EbEvent, capacity: int, is_free: bool) -> bytes:
    slug = slugify(event.name)
    record: dict[str, Any] = {
        "name": {"text": event.name, "html": html.escape(event.name)},
        "description": {"text": event.summary, "html": f"<p>{html.escape(event.summary)}</p>"},
        "id": event.id,
        "url": f"https://www.eventbrite.com/e/{slug}-tickets-{event.id}",
        "start": _eb_time(event.start_ms, event.timezone),
        "end": _eb_time(event.end_ms, event.timezone),
        "organization_id": event.org_id,
        "created": iso_s(event.created_ms),
        "changed": iso_s(event.changed_ms),
        "published": iso_s(event.published_ms) if event.published_ms is not None else None,
        "capacity": capacity,
        "capacity_is_custom": False,
        "status": event.status,
        "currency": event.currency,
        "listed": event.listed,
        "shareable": True,
        "online_event": event.online,
        "tx_time_limit": 1200,
        "hide_start_date": False,
        "hide_end_date": False,
        "locale": event.locale,
        "is_locked": False,
        "privacy_setting": "unlocked",
        "is_series": event.is_series,
        "is_series_parent": event.is_parent,
        "series_id": event.series_id,
        "inventory_type": "limited",
        "is_reserved_seating": False,
        "show_pick_a_seat": False,
        "show_seatmap_thumbnail": False,
        "show_colors_in_seatmap_thumbnail": False,
        "source": "coyote",
        "is_free": is_free,
        "version": None,
        "summary": event.summary,
        "logo_id": None,
        "organizer_id": f"{int(event.org_id) % 10**11 + 7:011d}",
        "venue_id": event.venue_id,
        "category_id": event.category_id,
        "subcategory_id": None,
        "format_id": event.format_id,
        "resource_uri": f"{EB_API}/events/{event.id}/",
        "is_externally_ticketed": False,
        "logo": None,
    }
    return dump(record)


def eb_ticket_class_record(event: EbEvent, tc: EbTicketClass, now_ms: int) -> dict[str, Any]:
    currency = event.currency
    if tc.donation or tc.cost is None:
        cost = fee = tax = None
    else:
        face = eb_costs(tc.cost, 0, True, currency)
        cost = eb_money(currency, tc.cost)
        fee = eb_money(currency, face.eventbrite_fee + face.payment_fee)
        tax = eb_money(currency, face.tax)
    if tc.sold >= tc.quantity_total:
        on_sale = "SOLD_OUT"
    elif now_ms < tc.sales_start_ms:
        on_sale = "NOT_YET_ON_SALE"
    elif now_ms > tc.sales_end_ms or event.status == "canceled":
        on_sale = "UNAVAILABLE"
    else:
        on_sale = "AVAILABLE"
    return {
        "resource_uri": f"{EB_API}/events/{event.id}/ticket_classes/{tc.id}/",
        "id": tc.id,
        "name": tc.name,
        "display_name": tc.name,
        "description": tc.description,
        "sorting": tc.sorting,
        "donation": tc.donation,
        "free": tc.free,
        "minimum_quantity": 1,
        "maximum_quantity": 10,
        "delivery_methods": ["electronic"],
        "cost": cost,
        "fee": fee,
        "tax": tax,
        "include_fee": not event.pass_fees,
        "split_fee": False,
        "capacity": tc.quantity_total,
        "quantity_total": tc.quantity_total,
        "quantity_sold": tc.sold,
        "sales_channels": ["online", "atd"],
        "hidden": tc.hidden,
        "sales_start": iso_s(tc.sales_start_ms),
        "sales_end": iso_s(tc.sales_end_ms),
        "sales_end_relative": None,
        "hide_description": True,
        "hide_sale_dates": False,
        "auto_hide": False,
        "variants": [],
        "on_sale_status": on_sale,
        "category": "admission",
        "event_id": event.id,
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
