"""Webhooks, in the order a delivery travels: receiver -> landing -> loader.

- ``receiver/``: the HTTP endpoint; it verifies a delivery and lands it before answering 2xx;
- ``landing.py``: the landing area, durable files in ``incoming/``, ``processed/``, ``failed/``
  (and the dead letters), and the API to consume them;
- ``loader.py``: loads landed deliveries into the raw tables the scheduled syncs write (run by
  the Dagster sensor in ``defs/webhooks.py``).

Only the landing API is imported here, so that reading the landing area does not pull in the
web stack (``receiver/``) or dlt (``loader.py``).
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
