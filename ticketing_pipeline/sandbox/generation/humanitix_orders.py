"""One Humanitix order with its tickets: ``build_hx_order`` (the generator's and ``mutate``'s).

Money is integer cents throughout (see ``money.py``); the order and its tickets are rendered
once to orjson bytes and stored in the event, with their index entries.
"""

from __future__ import annotations

import random
from itertools import accumulate

from ticketing_pipeline.sandbox.formats import dump, hx_money, iso_ms, object_id
from ticketing_pipeline.sandbox.generation.common import (
    FIRST_NAMES,
    LAST_NAMES,
    MAX_TICKETS_PER_ORDER,
    MINUTE_MS,
    PLACES,
    PROMO_CODES,
    base36,
    make_buyer,
    ticket_count,
    weighted,
)
from ticketing_pipeline.sandbox.humanitix_records import hx_ticket_parts, hx_totals_json
from ticketing_pipeline.sandbox.model import (
    HX_TICKET_CANCELLED,
    HX_TICKET_COMPLETE,
    HxAccount,
    HxEvent,
    SandboxStore,
)
from ticketing_pipeline.sandbox.money import (
    HxTicketMoney,
    hx_order_totals,
    hx_ticket_money,
    package_shares,
    percent_off,
)

_ZERO = hx_money(0)


def build_hx_order(
    ds: SandboxStore,
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
        n = ticket_count(rng)
        main = weighted(rng, types, cum)
        chosen = [main] * n if rng.random() < 0.8 else [weighted(rng, types, cum) for _ in range(n)]
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
    order_name = base36(counter * 2_654_435_761 + ds.spec.seed, 8)
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
