"""The ``.ics`` export: the same gigs as the JSON feed, as an RFC 5545 calendar (icalendar)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from icalendar import Calendar, Event

from ticketing_pipeline.gigs.models import Gig

PRODUCT_ID = "-//ticketing-pipeline//Gigs feed//EN"


def _location(gig: Gig) -> str | None:
    parts = [gig.venue.name, gig.venue.address, gig.venue.city, gig.venue.country]
    text = ", ".join(p for p in parts if p)
    return text or ("Online" if gig.venue.is_online else None)


def _description(gig: Gig) -> str:
    lines = []
    if gig.price is not None:
        low, high = gig.price.min, gig.price.max
        span = f"{low}" if low == high or high is None else f"{low} – {high}"
        lines.append(f"Price: {span} {gig.price.currency}")
    if gig.is_sold_out:
        lines.append("Sold out")
    elif gig.tickets_remaining is not None:
        lines.append(f"Tickets remaining: {gig.tickets_remaining}")
    if gig.ticket_url:
        lines.append(f"Tickets: {gig.ticket_url}")
    return "\n".join(lines)


def to_ics(gigs: Iterable[Gig], name: str, stamp: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for gig in gigs:
        if gig.starts_at is None:
            continue  # a calendar entry needs a start
        event = Event()
        event.add("uid", f"{gig.id}@ticketing-pipeline")
        event.add("dtstamp", (gig.updated_at or stamp).astimezone(UTC))
        event.add("dtstart", gig.starts_at.astimezone(UTC))
        if gig.ends_at is not None:
            event.add("dtend", gig.ends_at.astimezone(UTC))
        event.add("summary", gig.title or gig.session_name or "Gig")
        if location := _location(gig):
            event.add("location", location)
        if gig.ticket_url:
            event.add("url", gig.ticket_url)
        event.add("description", _description(gig))
        event.add("status", "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()
