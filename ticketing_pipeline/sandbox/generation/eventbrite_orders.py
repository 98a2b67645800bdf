"""One Eventbrite order with its attendees: ``build_eb_order`` (the generator's and ``mutate``'s).

Money is integer cents throughout (see ``money.py``); the order and its attendees are rendered
once to orjson bytes and stored, with their index entries (event and organization).
"""

from __future__ import annotations

import random
from itertools import accumulate

import orjson

from ticketing_pipeline.sandbox.eventbrite_records import EB_API
from ticketing_pipeline.sandbox.formats import dump, eb_money, iso_s
from ticketing_pipeline.sandbox.generation.common import (
    FIRST_NAMES,
    LAST_NAMES,
    MAX_TICKETS_PER_ORDER,
    MINUTE_MS,
    PLACES,
    PROMO_CODES,
    make_buyer,
    ticket_count,
    weighted,
)
from ticketing_pipeline.sandbox.model import (
    EB_ATT_ATTENDING,
    EB_ATT_DELETED,
    EB_ATT_NOT_ATTENDING,
    EB_ORDER_CANCELLED,
    EB_ORDER_DELETED,
    EB_ORDER_PLACED,
    EB_ORDER_REFUNDED,
    EB_ORDER_STATUS_NAMES,
    EbEvent,
    EbOrg,
    SandboxStore,
)
from ticketing_pipeline.sandbox.money import EbCosts, eb_costs, eb_sum_costs, percent_off

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
    ds: SandboxStore,
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
    n = ticket_count(rng)
    main = weighted(rng, classes, cum)
    chosen = [main] * n if rng.random() < 0.8 else [weighted(rng, classes, cum) for _ in range(n)]
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
