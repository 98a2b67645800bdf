"""Webhook receiver and landing area.

The sensor/loader needs only the landing API (``LandingArea``, ``LandedFile``,
``LandedDelivery``); the server lives in ``app`` (``create_app``) and ``server`` (``serve``), which
are not imported here so that reading the landing area does not pull in the web stack.
"""

from .landing import (
    DEAD_LETTER,
    FAILED,
    INCOMING,
    PROCESSED,
    LandedDelivery,
    LandedFile,
    LandingArea,
    LandingError,
    delivery_file_name,
)

__all__ = [
    "DEAD_LETTER",
    "FAILED",
    "INCOMING",
    "PROCESSED",
    "LandedDelivery",
    "LandedFile",
    "LandingArea",
    "LandingError",
    "delivery_file_name",
]
