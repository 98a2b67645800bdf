"""Eventbrite records in their wire shapes (see docs/platforms.md): organizations, events, their
sales status, ticket classes and venues.

The generator calls these and stores the bytes; the API handlers only join bytes. Ticket
classes and the sales status are rendered per request (``quantity_sold`` moves with every sale,
and an event has only a handful of classes).
"""

from __future__ import annotations

import html
from typing import Any

from ticketing_pipeline.sandbox.formats import (
    dump,
    eb_money,
    iso_s,
    local_text,
    slugify,
)
from ticketing_pipeline.sandbox.model import (
    EbEvent,
    EbOrg,
    EbTicketClass,
)
from ticketing_pipeline.sandbox.money import (
    EB_TAX_MILLI,
    eb_fees,
)

EB_API = "https://www.eventbriteapi.com/v3"


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
