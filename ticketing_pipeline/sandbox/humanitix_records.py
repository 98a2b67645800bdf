"""Humanitix records in their wire shapes (see docs/platforms.md): events, order totals, and
tickets with their ``totalsV2`` breakdown.

The generator and ``mutate`` call these and store the bytes; the API handlers only join bytes.
"""

from __future__ import annotations

import hashlib
import html
from typing import Any

import orjson

from ticketing_pipeline.sandbox.formats import (
    cents_of,
    dump,
    hx_money,
    iso_ms,
    money_bytes,
    slugify,
)
from ticketing_pipeline.sandbox.model import (
    HxAccount,
    HxEvent,
)
from ticketing_pipeline.sandbox.money import (
    HX_FEE_FIXED,
    HX_TOTAL_KEYS,
    HxTicketMoney,
)


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
