"""Exact money helpers: minor units <-> Decimal, by each currency's ISO 4217 exponent."""

from __future__ import annotations

from decimal import Decimal

# Currencies whose minor unit is not 1/100 (ISO 4217); all others have two decimals.
_EXPONENTS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


def currency_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def minor_to_decimal(value: int, currency: str) -> Decimal:
    return Decimal(value).scaleb(-currency_exponent(currency))
