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

# Eventbrite sales tax added on top of the price (US sales tax), in 1/1000 of a percent.
EB_TAX_MILLI = {"USD": 8875, "GBP": 0, "AUD": 0, "NZD": 0}
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


HX_TOTAL_KEYS = (
    "subtotal",
    "clientDonation",
    "netClientDonation",
    "donation",
    "feesIncluded",
    "bookingTaxes",
    "taxes",
    "totalTaxes",
    "discounts",
    "refunds",
    "netSales",
    "grossSales",
    "total",
    "humanitixFee",
    "bookingFee",
    "passedOnFee",
    "passedOnTaxes",
    "absorbedFee",
    "amexFee",
    "zipFee",
    "dgrDonation",
    "giftCardCredit",
    "credit",
    "referralAmount",
    "rebates",
)


def hx_order_totals(tickets: list[HxTicketMoney], cancelled: list[bool]) -> dict[str, int]:
    """Order totals in cents from its tickets; ``cancelled[i]`` marks refunded/cancelled ones.

    subtotal, discounts and grossSales describe the purchase (all tickets); every other figure is
    the current state (complete tickets only), and refunds is what was paid back:
    ``total = grossSales - refunds`` and ``netSales = total - humanitixFee``.
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
        "clientDonation": 0,
        "netClientDonation": 0,
        "donation": 0,
        "feesIncluded": absorbed,
        "bookingTaxes": 0,
        "taxes": taxes,
        "totalTaxes": taxes,
        "discounts": discounts,
        "refunds": refunds,
        "netSales": total - fee,
        "grossSales": gross,
        "total": total,
        "humanitixFee": fee,
        "bookingFee": fee,
        "passedOnFee": passed,
        "passedOnTaxes": 0,
        "absorbedFee": absorbed,
        "amexFee": 0,
        "zipFee": 0,
        "dgrDonation": 0,
        "giftCardCredit": 0,
        "credit": 0,
        "referralAmount": 0,
        "rebates": 0,
    }


class EbCosts(NamedTuple):
    """One Eventbrite attendee: ``gross = base_price + tax (+ both fees when passed on)``."""

    base_price: int
    eventbrite_fee: int
    payment_fee: int
    tax: int
    gross: int


def eb_costs(face: int, discount: int, pass_fees: bool, currency: str) -> EbCosts:
    base = face - discount
    if base == 0:
        return EbCosts(0, 0, 0, 0, 0)
    service = (base * EB_SERVICE_BP + 5000) // 10000 + EB_SERVICE_FIXED.get(currency, 99)
    payment = (base * EB_PAYMENT_BP + 5000) // 10000
    tax = (base * EB_TAX_MILLI.get(currency, 0) + 50000) // 100000
    gross = base + tax + (service + payment if pass_fees else 0)
    return EbCosts(base, service, payment, tax, gross)


def eb_sum_costs(costs: list[EbCosts]) -> EbCosts:
    return (
        EbCosts(*(sum(column) for column in zip(*costs, strict=True)))
        if costs
        else EbCosts(0, 0, 0, 0, 0)
    )
