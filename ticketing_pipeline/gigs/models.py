"""The feed's response shapes (they are also its OpenAPI schema).

Money is a decimal *string* (``"12.50"``) with its currency beside it: a JSON number would be a
binary float in most clients. Times are given in UTC and in the event's own time zone.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from ticketing_pipeline.gigs.snapshot import Session


class Venue(BaseModel):
    name: str | None
    address: str | None
    city: str | None
    country: str | None
    is_online: bool | None


class PriceRange(BaseModel):
    currency: str = Field(description="ISO 4217 code; both amounts are in it.")
    min: Decimal | None = Field(description="Lowest face value on offer, as a decimal string.")
    max: Decimal | None = Field(description="Highest face value on offer, as a decimal string.")


class Gig(BaseModel):
    id: str = Field(description="Stable id of the session (session_key of session_complete).")
    platform: str
    account_id: str
    event_id: str
    session_id: str
    title: str | None = Field(description="The event's name.")
    session_name: str | None
    status: str = Field(description="live | started")
    starts_at: datetime | None = Field(description="UTC")
    ends_at: datetime | None = Field(description="UTC")
    timezone: str | None = Field(description="The event's IANA time zone.")
    # Text, not a datetime: serializers write a zero offset as "Z", which would read as UTC.
    starts_at_local: str | None = Field(
        description="Start in the event's time zone, ISO 8601 with its UTC offset."
    )
    ends_at_local: str | None
    venue: Venue
    price: PriceRange | None
    capacity: int | None
    tickets_remaining: int | None
    is_sold_out: bool
    ticket_url: str | None = Field(description="The public page to buy tickets.")
    image_url: str | None
    updated_at: datetime | None


class GigPage(BaseModel):
    items: list[Gig]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
    data_as_of: datetime = Field(description="When the feed last copied the mart (UTC).")


class Health(BaseModel):
    ok: bool
    sessions: int
    data_as_of: datetime | None
    last_error: str | None


def _local(moment: datetime | None, timezone: str | None) -> str | None:
    if moment is None or not timezone:
        return None
    try:
        return moment.astimezone(ZoneInfo(timezone)).isoformat()
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _amount(value: Decimal | None) -> Decimal | None:
    """Drop the mart's padding zeros (12.5000 -> 12.50) without ever rounding a real digit."""
    if value is None:
        return None
    cents = value.quantize(Decimal("0.01"))
    return cents if cents == value else value.normalize()


def gig_from_session(session: Session) -> Gig:
    price = None
    if session.currency and (session.min_price is not None or session.max_price is not None):
        price = PriceRange(
            currency=session.currency,
            min=_amount(session.min_price),
            max=_amount(session.max_price),
        )
    return Gig(
        id=session.session_key,
        platform=session.platform,
        account_id=session.account_id,
        event_id=session.event_id,
        session_id=session.session_id,
        title=session.event_name,
        session_name=session.session_name,
        status=session.status,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        timezone=session.timezone,
        starts_at_local=_local(session.starts_at, session.timezone),
        ends_at_local=_local(session.ends_at, session.timezone),
        venue=Venue(
            name=session.venue_name,
            address=session.venue_address,
            city=session.city,
            country=session.country,
            is_online=session.is_online,
        ),
        price=price,
        capacity=session.capacity,
        tickets_remaining=session.tickets_remaining,
        is_sold_out=session.is_sold_out,
        ticket_url=session.ticket_url,
        image_url=session.image_url,
        updated_at=session.updated_at,
    )
