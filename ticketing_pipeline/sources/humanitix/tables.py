"""Staging tables of the Humanitix source: typed columns read from the API records.

Field names follow Humanitix Public API v1 as the real payloads in ``tests/fixtures/real/`` show
them (``docs/platforms.md``). Money is decimal major units in the record's ``currency``; times
are UTC. ``location`` is the record's data region (``US``, ``AU``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ticketing_pipeline.sources.shaping import Kind, TableShape, col

M, T, B, N, J = Kind.MONEY, Kind.TIMESTAMP, Kind.BOOL, Kind.INT, Kind.JSON


def with_address_parts(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event with ``addressParts`` {city, region, country, postal_code} read from
    ``eventLocation.addressComponents``.

    Real events carry their city and country only there, as geocoder components (a list of
    ``{long_name, short_name, types}``; tests/fixtures/real/humanitix_events_page_gbe_2024.json),
    never as ``eventLocation.city``/``country``; both are read, the flat fields winning.
    """
    location = event.get("eventLocation")
    components = location.get("addressComponents") if isinstance(location, dict) else None
    if not isinstance(components, list) or not components:
        return event
    parts: dict[str, Any] = {}
    for component in components:
        if not isinstance(component, dict):
            continue
        types = component.get("types") or []
        if "locality" in types or "postal_town" in types:
            parts.setdefault("city", component.get("long_name"))
        elif "administrative_area_level_1" in types:
            parts["region"] = component.get("short_name")
        elif "country" in types:
            parts["country"] = component.get("short_name")  # ISO 3166 alpha-2, as "US"
        elif "postal_code" in types:
            parts["postal_code"] = component.get("long_name")
    return {**event, "addressParts": parts}


EVENTS = TableShape(
    "events",
    [
        col("event_id", "_id"),
        col("user_id", "userId"),
        col("organiser_id", "organiserId"),
        col("currency", "currency"),
        col("name", "name"),
        col("description", "description"),
        col("slug", "slug"),
        col("url", "url"),
        col("is_public", "public", B),
        col("is_published", "published", B),
        col("published_at", "publishedAt", T),
        col("timezone", "timezone"),
        col("total_capacity", "totalCapacity", N),
        col("start_date", "startDate", T),
        col("end_date", "endDate", T),
        col("suspend_sales", "suspendSales", B),
        col("marked_as_sold_out", "markedAsSoldOut", B),
        col("minimum_price", "pricing.minimumPrice", M),
        col("maximum_price", "pricing.maximumPrice", M),
        col("location_type", "eventLocation.type"),
        col("venue_name", "eventLocation.venueName"),
        col("address", "eventLocation.address"),
        col("lat_lng", "eventLocation.latLng", J),
        col("place_id", "eventLocation.placeId"),
        col("online_url", "eventLocation.onlineUrl"),
        col("city", "eventLocation.city"),
        col("region", "eventLocation.region"),
        col("country", "eventLocation.country"),
        col("address_city", "addressParts.city"),
        col("address_region", "addressParts.region"),
        col("address_country", "addressParts.country"),
        col("postal_code", "addressParts.postal_code"),
        col("address_components", "eventLocation.addressComponents", J),
        col("classification_type", "classification.type"),
        col("classification_category", "classification.category"),
        col("classification_subcategory", "classification.subcategory"),
        col("tag_ids", "tagIds", J),
        col("location", "location"),
        # Packages (e.g. "All 4 days"): bundles of ticket types sold at one package price.
        col("packaged_tickets", "packagedTickets", J),
        col("created_at", "createdAt", T),
        col("updated_at", "updatedAt", T),
    ],
    handled_elsewhere=frozenset({"dates", "ticketTypes"}),
    derive=with_address_parts,
)

# Each dates[] entry of an event is a session; its _id is the eventDateId of orders and tickets.
EVENT_DATES = TableShape(
    "event_dates",
    [
        col("event_date_id", "_id"),
        col("event_id", "eventId"),
        col("start_date", "startDate", T),
        col("end_date", "endDate", T),
        col("schedule_id", "scheduleId"),
        col("is_disabled", "disabled", B),
        col("is_deleted", "deleted", B),
        col("event_updated_at", "eventUpdatedAt", T),
    ],
)

TICKET_TYPES = TableShape(
    "ticket_types",
    [
        col("ticket_type_id", "_id"),
        col("event_id", "eventId"),
        col("name", "name"),
        col("price", "price", M),
        col("price_range", "priceRange", J),
        col("quantity", "quantity", N),
        col("description", "description"),
        col("is_disabled", "disabled", B),
        col("is_deleted", "deleted", B),
        col("is_donation", "isDonation", B),
        col("event_updated_at", "eventUpdatedAt", T),
    ],
)

_ORDER_TOTALS = [
    ("subtotal", "subtotal"),
    ("client_donation", "clientDonation"),
    ("net_client_donation", "netClientDonation"),
    ("donation", "donation"),
    ("booking_taxes", "bookingTaxes"),
    ("taxes", "taxes"),
    ("total_taxes", "totalTaxes"),
    ("discounts", "discounts"),
    ("refunds", "refunds"),
    ("net_sales", "netSales"),
    ("gross_sales", "grossSales"),
    ("total", "total"),
    ("humanitix_fee", "humanitixFee"),
    ("booking_fee", "bookingFee"),
    ("passed_on_fee", "passedOnFee"),
    ("passed_on_taxes", "passedOnTaxes"),
    ("absorbed_fee", "absorbedFee"),
    ("amex_fee", "amexFee"),
    ("zip_fee", "zipFee"),
    ("dgr_donation", "dgrDonation"),
    ("gift_card_credit", "giftCardCredit"),
    ("credit", "credit"),
    ("referral_amount", "referralAmount"),
    ("rebates", "rebates"),
]

ORDERS = TableShape(
    "orders",
    [
        col("order_id", "_id"),
        col("event_id", "eventId"),
        col("event_date_id", "eventDateId"),
        col("user_id", "userId"),
        col("currency", "currency"),
        col("status", "status"),
        col("financial_status", "financialStatus"),
        col("is_manual_order", "manualOrder", B),
        col("sales_channel", "salesChannel"),
        col("first_name", "firstName"),
        col("last_name", "lastName"),
        col("organisation", "organisation"),
        col("email", "email"),
        col("mobile", "mobile"),
        col("order_name", "orderName"),
        col("payment_type", "paymentType"),
        col("payment_gateway", "paymentGateway"),
        col("auto_discount_amount", "discounts.autoDiscount.discountAmount", M),
        col("discount_code", "discounts.discountCode.code"),
        col("discount_code_amount", "discounts.discountCode.discountAmount", M),
        col("location", "location"),
        # totals: the order now (after refunds); purchaseTotals: the order when it was bought.
        *[col(f"totals_{name}", f"totals.{field}", M) for name, field in _ORDER_TOTALS],
        *[
            col(f"purchase_totals_{name}", f"purchaseTotals.{field}", M)
            for name, field in _ORDER_TOTALS
        ],
        # A flag (are the fees inside the prices?), not an amount.
        col("totals_fees_included", "totals.feesIncluded", B),
        col("purchase_totals_fees_included", "purchaseTotals.feesIncluded", B),
        col("completed_at", "completedAt", T),
        col("created_at", "createdAt", T),
        col("updated_at", "updatedAt", T),
    ],
    cursor="updated_at",
)

# A ticket's totalsV2 (about 4.8 KB, mostly zeros). It is the only place a cancelled ticket keeps
# what it sold for and what was refunded: its legacy fields (price, total, ...) all read 0.
# Every leaf outside `fees` is a typed column. The fees tree is
# fees.<kind>.{fixedFee,percentFee,totalFee}.{passOn,absorb,total}.{beforeTax,tax,afterTax}, where
# totalFee = fixedFee + percentFee, total = passOn + absorb and afterTax = beforeTax + tax: each
# fee column reads a `totalFee.*.afterTax` leaf (the whole fee, fixed and percent, with its tax):
#   humanitix_fee  fees.humanitixFee.totalFee.total   (Humanitix's booking fee, after the cap)
#   payment_fee    fees.paymentFee.totalFee.total     (card processing)
#   passed_on_fee  fees.totalFees.totalFee.passOn     (every fee, the part the buyer paid)
#   absorbed_fee   fees.totalFees.totalFee.absorb     (every fee, the part the organiser paid)
# The rest of `fees` is how those totals break down (fixed vs percent, before tax vs tax,
# passOn vs absorb of each kind): derived detail, not stored per ticket (TICKETS declares
# `totalsV2.fees` handled), which keeps a paid ticket's row small; re-fetch a ticket for it.
_FEE = "fees.{}.totalFee.{}.afterTax"
_TOTALS_V2 = [
    ("gross_sales", "grossSales"),
    ("refunds", "refunds"),
    ("discount", "discount"),
    ("net_sales", "netSales"),
    ("total", "total"),
    ("sub_total_before_tax", "subTotal.beforeTax"),
    ("sub_total_tax", "subTotal.tax"),
    ("sub_total_after_tax", "subTotal.afterTax"),
    ("total_taxes", "totalTaxes"),
    ("item_taxes", "itemTaxes"),
    ("total_organiser_taxes", "totalOrganiserTaxes"),
    ("earnings", "earnings"),
    ("payout", "payout"),
    ("referral", "referral"),
    ("dgr_donation", "dgrDonation"),
    ("credit_store", "credit.store"),
    ("credit_gift_card", "credit.giftCard"),
    ("credit_voucher", "credit.voucher"),
    ("custom_sales_tax_pass_on", "customSalesTax.passOn"),
    ("custom_sales_tax_absorb", "customSalesTax.absorb"),
    ("custom_sales_tax_total", "customSalesTax.total"),
    ("humanitix_fee", _FEE.format("humanitixFee", "total")),
    ("humanitix_fee_tax", "fees.humanitixFee.totalFee.total.tax"),
    ("uncapped_humanitix_fee", _FEE.format("uncappedHumanitixFee", "total")),
    ("payment_fee", _FEE.format("paymentFee", "total")),
    ("rebate", _FEE.format("rebate", "total")),
    ("afterpay_fee", "fees.additionalFee.afterpayFee.totalFee.total.afterTax"),
    ("amex_fee", "fees.additionalFee.amexFee.totalFee.total.afterTax"),
    ("zip_fee", "fees.additionalFee.zipFee.totalFee.total.afterTax"),
    ("total_fee_revenue", _FEE.format("totalFeeRevenue", "total")),
    ("total_fees", _FEE.format("totalFees", "total")),
    ("passed_on_fee", _FEE.format("totalFees", "passOn")),
    ("absorbed_fee", _FEE.format("totalFees", "absorb")),
]

TICKETS = TableShape(
    "tickets",
    [
        col("ticket_id", "_id"),
        col("event_id", "eventId"),
        col("order_id", "orderId"),
        col("order_name", "orderName"),
        col("event_date_id", "eventDateId"),
        col("ticket_type_id", "ticketTypeId"),
        col("ticket_type_name", "ticketTypeName"),
        col("number", "number"),
        col("first_name", "firstName"),
        col("last_name", "lastName"),
        col("organisation", "organisation"),
        col("currency", "currency"),
        col("price", "price", M),
        col("discount", "discount", M),
        col("net_price", "netPrice", M),
        col("taxes", "taxes", M),
        col("fee", "fee", M),
        col("passed_on_fee", "passedOnFee", M),
        col("absorbed_fee", "absorbedFee", M),
        col("total", "total", M),
        *[col(f"totals_v2_{name}", f"totalsV2.{field}", M) for name, field in _TOTALS_V2],
        # Package tickets: packagePrice is the WHOLE package's price, repeated on each ticket
        # of it; summing it over tickets over-counts.
        col("package_id", "packageId"),
        col("package_name", "packageName"),
        col("package_group_id", "packageGroupId"),
        col("package_price", "packagePrice", M),
        col("location", "location"),
        col("status", "status"),
        col("cancelled_at", "cancelledAt", T),
        col("sales_channel", "salesChannel"),
        col("is_donation", "isDonation", B),
        col("is_checked_in", "checkIn.checkedIn", B),
        col("checked_in_at", "checkIn.date", T),
        col("seating_location", "seatingLocation", J),
        col("swapped_from", "swappedFrom", J),
        col("swapped_to", "swappedTo", J),
        col("created_at", "createdAt", T),
        col("updated_at", "updatedAt", T),
    ],
    cursor="updated_at",
    handled_elsewhere=frozenset({"totalsV2.fees"}),
)

TAGS = TableShape("tags", [col("tag_id", "_id"), col("name", "name")])


def _nested_in_events(events: Iterable[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """The entries of each event's ``field`` list, each with its event's id and change time
    (the cursor these tables are merged on: an entry has no change time of its own)."""
    return [
        {**entry, "eventId": event["_id"], "eventUpdatedAt": event.get("updatedAt")}
        for event in events
        for entry in event.get(field) or []
    ]


def event_date_rows(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sessions (``dates[]``) of events, each with its event's id and change time."""
    return _nested_in_events(events, "dates")


def ticket_type_rows(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``ticketTypes[]`` of events, each with its event's id and change time."""
    return _nested_in_events(events, "ticketTypes")
