"""Money rules of the sandbox, in integer cents. The README explains them for the dbt models.

Both platforms' figures are derived here and nowhere else, so a ticket, its order and the truth
used by the tests can never disagree.
"""

from __future__ import annotations

from typing import NamedTuple

# Tax included in Humanitix prices (GST/VAT), in basis points of the pre-tax amount.
HX_TAX_BP = {"AUD": 1000, "NZD": 1500, "GBP": 2000, "USD": 0}
# Humanitix booking fee: a percentage plus a fixed part per paid ticket.
HX_FEE_BP = 400
HX_FEE_FIXED = {"AUD": 99, "NZD": 99, "USD": 99, "GBP": 79}

# Eventbrite tax added on top of the price, in 1/1000 of a percent: US sales tax, and UK VAT as
# in the captured GBP order (tax 55.20 on a 276.00 ticket).
EB_TAX_MILLI = {"USD": 8875, "GBP": 20000, "AUD": 0, "NZD": 0}
EB_SERVICE_BP = 370
EB_SERVICE_FIXED = {"USD": 179, "GBP": 59, "AUD": 99, "NZD": 99}
EB_PAYMENT_BP = 290


def percent_off(price: int, percent: int) -> int:
    """A discount of ``percent`` % on ``price`` cents, rounded half up to the cent."""
    return (price * percent + 50) // 100


class HxTicketMoney(NamedTuple):
    """One Humanitix ticket: ``net = price - discount``, ``total = net + passed_on_fee``."""

    price: int
    discount: int
    net_price: int
    taxes: int
    fee: int
    passed_on_fee: int
    absorbed_fee: int
    total: int


def hx_ticket_money(price: int, discount: int, pass_fees: bool, currency: str) -> HxTicketMoney:
    net = price - discount
    fee = 0 if net == 0 else (net * HX_FEE_BP + 5000) // 10000 + HX_FEE_FIXED.get(currency, 99)
    passed = fee if pass_fees else 0
    bp = HX_TAX_BP.get(currency, 0)
    # Tax is included in the net price: net * rate / (1 + rate), rounded half up.
    taxes = (net * bp * 2 + 10000 + bp) // (2 * (10000 + bp))
    return HxTicketMoney(price, discount, net, taxes, fee, passed, fee - passed, net + passed)


# Order totals keys in the order the captures show them (``humanitix_orders_page_gbe_2024.json``).
# ``feesIncluded`` is a boolean, not an amount (the capture proves it); every other key is money.
HX_TOTAL_KEYS = (
    "subtotal",
    "amexFee",
    "zipFee",
    "humanitixFee",
    "bookingFee",
    "passedOnFee",
    "absorbedFee",
    "clientDonation",
    "netClientDonation",
    "donation",
    "dgrDonation",
    "rebates",
    "giftCardCredit",
    "credit",
    "feesIncluded",
    "bookingTaxes",
    "passedOnTaxes",
    "taxes",
    "totalTaxes",
    "discounts",
    "refunds",
    "netSales",
    "grossSales",
    "total",
)
HX_TOTAL_MONEY_KEYS = tuple(k for k in HX_TOTAL_KEYS if k != "feesIncluded")


def hx_order_totals(tickets: list[HxTicketMoney], cancelled: list[bool]) -> dict[str, int]:
    """Order totals in cents from its tickets' sale figures; ``cancelled[i]`` marks refunded ones.

    subtotal, discounts and grossSales describe the purchase (all tickets); every other figure is
    the current state (complete tickets only), and refunds is what was paid back:
    ``total = grossSales - refunds`` and ``netSales = total - humanitixFee`` (the capture's
    partially refunded order: grossSales 1111, refunds 851.15, total = netSales = 259.85).
    ``feesIncluded`` (a boolean) is not here: it is a property of the event (see records).
    """
    subtotal = discounts = gross = refunds = 0
    fee = passed = absorbed = taxes = 0
    for money, is_cancelled in zip(tickets, cancelled, strict=True):
        subtotal += money.price
        discounts += money.discount
        gross += money.total
        if is_cancelled:
            refunds += money.total
        else:
            fee += money.fee
            passed += money.passed_on_fee
            absorbed += money.absorbed_fee
            taxes += money.taxes
    total = gross - refunds
    return {
        "subtotal": subtotal,
        "amexFee": 0,
        "zipFee": 0,
        "humanitixFee": fee,
        "bookingFee": fee,
        "passedOnFee": passed,
        "absorbedFee": absorbed,
        "clientDonation": 0,
        "netClientDonation": 0,
        "donation": 0,
        "dgrDonation": 0,
        "rebates": 0,
        "giftCardCredit": 0,
        "credit": 0,
        "bookingTaxes": 0,
        "passedOnTaxes": 0,
        "taxes": taxes,
        "totalTaxes": taxes,
        "discounts": discounts,
        "refunds": refunds,
        "netSales": total - fee,
        "grossSales": gross,
        "total": total,
    }


def package_shares(package_price: int, faces: list[int]) -> list[int]:
    """A package's price split over its tickets in proportion to their face values, in cents.

    The capture's "All 4 days" package (500) over faces 200, 200.5, 200, 200 gives 124.92,
    125.23, 124.92, 124.93: each share rounded half up, the last one taking the remainder.
    """
    face_total = sum(faces)
    if face_total == 0:
        even = package_price // len(faces)
        shares = [even] * len(faces)
    else:
        shares = [(package_price * face * 2 + face_total) // (2 * face_total) for face in faces]
    shares[-1] = package_price - sum(shares[:-1])
    return shares


class EbCosts(NamedTuple):
    """One Eventbrite attendee: ``gross = base_price + eventbrite_fee + payment_fee + tax``.

    That identity holds for every attendee (the capture: 331.20 = 269.50 + 6.50 + 0 + 55.20).
    """

    base_price: int
    eventbrite_fee: int
    payment_fee: int
    tax: int
    gross: int


def eb_costs(face: int, discount: int, include_fee: bool, currency: str) -> EbCosts:
    """Costs of one attendee of a ticket class priced ``face`` cents, less ``discount``.

    ``include_fee`` (the class's flag): the price the buyer sees already holds the fees, so the
    organiser's ``base_price`` is what remains of it (the capture's class: cost 276.00 =
    actual_cost 269.50 + actual_fee 6.50). Otherwise the fees are added on top of the price.
    Tax is computed on the price the buyer sees and always added on top (capture: 20% of 276).
    """
    price = face - discount
    if price == 0:
        return EbCosts(0, 0, 0, 0, 0)
    service, payment = eb_fees(price, currency)
    tax = (price * EB_TAX_MILLI.get(currency, 0) + 50000) // 100000
    base = price - service - payment if include_fee else price
    return EbCosts(base, service, payment, tax, base + service + payment + tax)


def eb_fees(price: int, currency: str) -> tuple[int, int]:
    """(Eventbrite service fee, payment processing fee) on a price in cents; (0, 0) if free."""
    if price == 0:
        return 0, 0
    service = (price * EB_SERVICE_BP + 5000) // 10000 + EB_SERVICE_FIXED.get(currency, 99)
    payment = (price * EB_PAYMENT_BP + 5000) // 10000
    return service, payment


def eb_sum_costs(costs: list[EbCosts]) -> EbCosts:
    return (
        EbCosts(*(sum(column) for column in zip(*costs, strict=True)))
        if costs
        else EbCosts(0, 0, 0, 0, 0)
    )
