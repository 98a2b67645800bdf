"""Staging tables of the Eventbrite source: typed columns read from API v3 records.

Money comes as Eventbrite money objects; each money column holds the integer ``value`` in minor
units, and the row's ``currency`` column says of which currency. Times are UTC; an event's local
wall-clock start/end sit beside its IANA ``timezone``.
"""

from __future__ import annotations

from typing import Any

from ticketing_pipeline.sources.shaping import Kind, TableShape, col

U, T, L, B, N, J = (
    Kind.MINOR_UNITS,
    Kind.TIMESTAMP,
    Kind.LOCAL_TIMESTAMP,
    Kind.BOOL,
    Kind.INT,
    Kind.JSON,
)

_COSTS = ("base_price", "gross", "eventbrite_fee", "payment_fee", "tax")

ORGANIZATIONS = TableShape(
    "organizations",
    [
        col("organization_id", "id"),
        col("name", "name"),
        col("vertical", "vertical"),
        col("parent_id", "parent_id"),
        col("locale", "locale"),
        col("image_id", "image_id"),
        col("created", "created", T),
    ],
    handled_elsewhere=frozenset({"_type"}),
)

EVENTS = TableShape(
    "events",
    [
        col("event_id", "id"),
        col("organization_id", "organization_id"),
        col("name", "name.text"),
        col("summary", "summary"),
        col("description", "description.text"),
        col("url", "url"),
        col("timezone", "start.timezone"),
        col("start_local", "start.local", L),
        col("start_utc", "start.utc", T),
        col("end_local", "end.local", L),
        col("end_utc", "end.utc", T),
        col("status", "status"),
        col("currency", "currency"),
        col("capacity", "capacity", N),
        col("is_listed", "listed", B),
        col("is_online_event", "online_event", B),
        col("is_free", "is_free", B),
        col("is_series", "is_series", B),
        col("is_series_parent", "is_series_parent", B),
        col("series_id", "series_id"),
        col("venue_id", "venue_id"),
        col("logo_url", "logo.url"),
        col("sales_status", "event_sales_status.sales_status"),
        col("published", "published", T),
        col("created", "created", T),
        col("changed", "changed", T),
    ],
    handled_elsewhere=frozenset(
        {"venue", "name.html", "description.html", "logo", "resource_uri", "event_sales_status"}
    ),
)

VENUES = TableShape(
    "venues",
    [
        col("venue_id", "id"),
        col("name", "name"),
        col("address_1", "address.address_1"),
        col("address_2", "address.address_2"),
        col("city", "address.city"),
        col("region", "address.region"),
        col("postal_code", "address.postal_code"),
        col("country", "address.country"),
        col("latitude", "address.latitude"),
        col("longitude", "address.longitude"),
        col("address_display", "address.localized_address_display"),
        col("capacity", "capacity", N),
        col("age_restriction", "age_restriction"),
    ],
    handled_elsewhere=frozenset(
        {
            "resource_uri",
            "address.localized_area_display",
            "address.localized_multi_line_address_display",
        }
    ),
)

TICKET_CLASSES = TableShape(
    "ticket_classes",
    [
        col("ticket_class_id", "id"),
        col("event_id", "event_id"),
        col("name", "name"),
        col("description", "description"),
        col("currency", "currency"),  # the cost's, or the event's for free classes
        # include_fee classes: `cost` already includes the fee and `fee` is 0; the face value
        # and the fee are in actual_cost / actual_fee (tests/fixtures/real, theodi 2015).
        col("cost", "cost", U),
        col("fee", "fee", U),
        col("tax", "tax", U),
        col("actual_cost", "actual_cost", U),
        col("actual_fee", "actual_fee", U),
        col("include_fee", "include_fee", B),
        col("split_fee", "split_fee", B),  # a boolean in every capture
        col("is_free", "free", B),
        col("is_donation", "donation", B),
        col("is_hidden", "hidden", B),
        col("capacity", "capacity", N),
        col("quantity_total", "quantity_total", N),
        col("quantity_sold", "quantity_sold", N),
        col("minimum_quantity", "minimum_quantity", N),
        col("maximum_quantity", "maximum_quantity", N),
        col("on_sale_status", "on_sale_status"),
        col("sales_start", "sales_start", T),
        col("sales_end", "sales_end", T),
    ],
    handled_elsewhere=frozenset({"resource_uri"}),
)

ORDERS = TableShape(
    "orders",
    [
        col("order_id", "id"),
        col("event_id", "event_id"),
        col("name", "name"),
        col("first_name", "first_name"),
        col("last_name", "last_name"),
        col("email", "email"),
        col("status", "status"),
        col("currency", "costs.gross.currency"),
        *[col(f"costs_{name}", f"costs.{name}", U) for name in _COSTS],
        # No public capture shows an order's discount: both plausible places are read, and a
        # value of another shape lands in invalid_fields instead of failing the load.
        col("discount_amount", "discount_amount", U),
        col("costs_discount_amount", "costs.discount_amount", U),
        col("promo_code", "promo_code"),
        col("created", "created", T),
        col("changed", "changed", T),
    ],
    handled_elsewhere=frozenset({"attendees", "event", "resource_uri", "time_remaining"}),
    cursor="changed",
)

ATTENDEES = TableShape(
    "attendees",
    [
        col("attendee_id", "id"),
        col("event_id", "event_id"),
        col("order_id", "order_id"),
        col("ticket_class_id", "ticket_class_id"),
        col("ticket_class_name", "ticket_class_name"),
        col("quantity", "quantity", N),
        col("currency", "costs.gross.currency"),
        *[col(f"costs_{name}", f"costs.{name}", U) for name in _COSTS],
        col("status", "status"),
        col("is_cancelled", "cancelled", B),
        col("is_refunded", "refunded", B),
        col("is_checked_in", "checked_in", B),
        col("profile_name", "profile.name"),
        col("profile_email", "profile.email"),
        col("profile_first_name", "profile.first_name"),
        col("profile_last_name", "profile.last_name"),
        col("barcodes", "barcodes", J),
        col("affiliate", "affiliate"),
        col("answers", "answers", J),
        col("created", "created", T),
        col("changed", "changed", T),
    ],
    handled_elsewhere=frozenset({"resource_uri", "team", "event", "order"}),
)


def with_event_context(ticket_class: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """Free ticket classes carry no cost object, so their currency is the event's."""
    cost = ticket_class.get("cost")
    currency = (cost or {}).get("currency") if isinstance(cost, dict) else None
    return {
        **ticket_class,
        "event_id": ticket_class.get("event_id") or event["id"],
        "currency": currency or event.get("currency"),
    }
