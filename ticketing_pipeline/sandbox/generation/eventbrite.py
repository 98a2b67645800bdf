"""Eventbrite organizations: venues, events (single, series with occurrences), ticket classes,
then their orders.

``generate_org`` draws, from the context's one random stream, the organization, its venues, its
events (the first slots special: a draft, a cancelled event, a free one, an online one), the
planned orders (leaning towards the date; the events that sell out follow a sell-out curve),
builds the orders in time order and sizes the capacities from what sold.
"""

from __future__ import annotations

from collections import Counter

from ticketing_pipeline.sandbox.eventbrite_records import eb_event_record, eb_venue_record
from ticketing_pipeline.sandbox.generation.common import (
    BASE_PRICES,
    DAY_MS,
    EB_CATEGORY,
    EB_FORMAT,
    HOUR_MS,
    MINUTE_MS,
    PLACES,
    GenerationContext,
    genre_and_event_name,
)
from ticketing_pipeline.sandbox.generation.eventbrite_orders import build_eb_order
from ticketing_pipeline.sandbox.model import EbEvent, EbOrg, EbTicketClass


def generate_org(ctx: GenerationContext, k: int, currency: str, n_orders: int, token: str) -> None:
    """The ``k``-th Eventbrite organization in ``currency``, reached with ``token``, with
    ``n_orders`` orders over its events, stored in ``ctx.ds``."""
    ds, rng, spec = ctx.ds, ctx.rng, ctx.spec
    place = PLACES[currency]
    org_id = f"{274_938_102_000 + spec.seed * 1_000 + k * 37:012d}"
    org = EbOrg(
        id=org_id,
        name=f"{place.city} {('Nights', 'Stage Co', 'Underground', 'Social')[k % 4]}",
        token=token,
        currency=currency,
        timezone=place.timezone,
        locale=place.locale,
        country=place.country,
    )
    ds.eb_orgs[org_id] = org
    ds.eb_tokens.setdefault(token, []).append(org_id)
    for venue in place.venues:
        venue_id = f"{150_000_000 + ds.next_eb()}"
        ds.eb_venues[venue_id] = (
            org_id,
            eb_venue_record(
                venue_id,
                venue[0],
                venue[1],
                place.city,
                place.region,
                venue[2],
                place.country,
                venue[3],
                venue[4],
                venue[5],
            ),
        )
        org.venue_ids.append(venue_id)

    n_top = spec.events_for(n_orders)
    bookable: list[EbEvent] = []
    cancel_ms = ctx.anchor_ms - 14 * DAY_MS
    for j in range(n_top):
        draft = j == 0
        canceled = j == 1
        free = j == 2
        online = j == 3
        genre, name = genre_and_event_name(rng)
        day_ms = ctx.event_days(j, n_top, future=draft or canceled)
        series = not (draft or canceled) and rng.random() < 0.4
        count = rng.randint(2, 5) if series else 1
        times = ctx.session_times(day_ms, place.timezone, count, genre[2])
        created_ms = ctx.event_created(times[0][0])
        if canceled:
            # On sale long enough before the cancellation for orders to exist.
            created_ms = min(created_ms, cancel_ms - 45 * DAY_MS)
        venue_id = None if online else org.venue_ids[rng.randrange(len(org.venue_ids))]
        pass_fees = rng.random() < 0.6
        common = dict(
            org_id=org_id,
            name=name,
            summary=f"{name} in {place.city}.",
            timezone=place.timezone,
            currency=currency,
            locale=place.locale,
            created_ms=created_ms,
            changed_ms=min(created_ms + rng.randrange(1, 10) * DAY_MS, ctx.anchor_ms - HOUR_MS),
            published_ms=None if draft else created_ms + HOUR_MS,
            listed=not draft,
            online=online,
            venue_id=venue_id,
            pass_fees=pass_fees,
            category_id=EB_CATEGORY[genre[1]],
            format_id=EB_FORMAT[genre[0]],
        )
        parent = None
        if series:
            parent = EbEvent(
                id=f"{700_000_000_000 + ds.next_eb()}",
                start_ms=times[0][0],
                end_ms=times[-1][1],
                status="",
                is_series=True,
                is_parent=True,
                series_id=None,
                **common,
            )
            parent.series_id = parent.id
            ds.eb_events[parent.id] = parent
            org.event_ids.append(parent.id)
        children: list[EbEvent] = []
        for start, end in times:
            child = EbEvent(
                id=f"{700_000_000_000 + ds.next_eb()}",
                start_ms=start,
                end_ms=end,
                status="draft" if draft else "canceled" if canceled else "",
                is_series=series,
                is_parent=False,
                series_id=parent.id if parent else None,
                **common,
            )
            child.ticket_classes = _ticket_classes(ctx, child, free, created_ms, start)
            ds.eb_events[child.id] = child
            org.event_ids.append(child.id)
            children.append(child)
            if not draft:
                bookable.append(child)
        if parent:
            parent.children = [c.id for c in children]

    # Orders in time order (ids increase with time, as Eventbrite's do).
    weights = [0.3 + rng.random() for _ in bookable]
    plan: list[tuple[int, int]] = []
    windows: dict[int, tuple[int, int]] = {}
    for b_pos, (event, count) in enumerate(
        zip(bookable, ctx.allocate(weights, n_orders), strict=True)
    ):
        lo = event.created_ms + DAY_MS
        hi = min(event.start_ms - HOUR_MS, ctx.anchor_ms - MINUTE_MS)
        if event.status == "canceled":
            hi = cancel_ms - HOUR_MS
        windows[b_pos] = (lo, max(hi, lo + HOUR_MS))
        for _ in range(count):
            plan.append((ctx.order_time(lo, max(hi, lo + HOUR_MS)), b_pos))
    # Sell-outs: any event (an occurrence of a series too) but a cancelled one.
    label = f"eventbrite:{org_id}"
    counts = Counter(b_pos for _, b_pos in plan)
    on_sale = {b for b, e in enumerate(bookable) if e.status != "canceled"}
    sell_outs = ctx.choose_sell_outs(label, counts, on_sale)
    ctx.reshape_sell_outs(label, plan, lambda p: p[1], windows, sell_outs)
    plan.sort()
    for created_ms, b_pos in plan:
        event = bookable[b_pos]
        roll = rng.random()
        outcome = (
            "refunded"
            if roll < 0.05
            else "partial"
            if roll < 0.09
            else "cancelled"
            if roll < 0.11
            else "deleted"
            if roll < 0.115
            else None
        )
        hi = min(event.start_ms, ctx.anchor_ms - MINUTE_MS)
        outcome_ms = (
            created_ms + MINUTE_MS + int(max(0, hi - created_ms - MINUTE_MS) * rng.random())
        )
        if event.status == "canceled":
            # The event was cancelled: everyone was refunded (free orders just cancelled).
            outcome_ms = cancel_ms + rng.randrange(HOUR_MS)
            outcome = "refunded" if any(tc.cost for tc in event.ticket_classes) else "cancelled"
        elif b_pos in sell_outs:
            # A sold-out event keeps every ticket it sold (a refund would free one): its
            # capacity is what it sold, reached by its last order. Later refunds (mutate) do.
            outcome = None
        build_eb_order(
            ds,
            org,
            event,
            created_ms,
            rng,
            outcome,
            outcome_ms,
            checkin=event.end_ms < ctx.anchor_ms and event.status != "canceled",
        )

    org.order_index.sort()
    # Capacities from what sold: a margin above it, none on the events that sold out. One
    # VIP class elsewhere sells out alone (its event stays on sale).
    sold_out_ids = {bookable[b_pos].id for b_pos in sell_outs}
    sold_out_done = False
    for event_id in org.event_ids:
        event = ds.eb_events[event_id]
        event.order_index.sort()
        event.attendee_index.sort()
        for tc in event.ticket_classes:
            tc.quantity_total = tc.sold + 10 + rng.randrange(tc.sold // 3 + 20)
            if event_id in sold_out_ids:
                tc.quantity_total = tc.sold
            elif not sold_out_done and tc.name == "VIP" and tc.sold > 0:
                tc.quantity_total = tc.sold
                sold_out_done = True
    for event_id in org.event_ids:
        event = ds.eb_events[event_id]
        if event.is_parent:
            kids = [ds.eb_events[c] for c in event.children]
            event.status = _status(ctx, event.start_ms, event.end_ms)
            capacity = sum(c.capacity for c in kids)
            is_free = all(not tc.cost for c in kids for tc in c.ticket_classes)
        else:
            if not event.status:
                event.status = _status(ctx, event.start_ms, event.end_ms)
            capacity = event.capacity
            is_free = all(not tc.cost for tc in event.ticket_classes)
        event.record = eb_event_record(event, capacity, is_free)


def _status(ctx: GenerationContext, start_ms: int, end_ms: int) -> str:
    """The event status Eventbrite reports at the anchor (a draft or cancellation aside)."""
    now = ctx.anchor_ms
    if now < start_ms:
        return "live"
    if now < end_ms:
        return "started"
    return "ended" if now - end_ms < 14 * DAY_MS else "completed"


def _ticket_classes(
    ctx: GenerationContext, event: EbEvent, free: bool, created_ms: int, start_ms: int
) -> list[EbTicketClass]:
    """An event's ticket classes, capacities still 0 (sized once its orders are built)."""
    rng, ds = ctx.rng, ctx.ds
    opens = created_ms + DAY_MS
    closes = start_ms

    def new(
        name: str,
        cost: int | None,
        weight: int,
        *,
        donation: bool = False,
        hidden: bool = False,
        sales_end_ms: int = closes,
        description: str = "",
    ) -> EbTicketClass:
        return EbTicketClass(
            id=f"{1_500_000_000 + ds.next_eb()}",
            name=name,
            cost=cost,
            free=cost == 0,
            donation=donation,
            hidden=hidden,
            quantity_total=0,
            sales_start_ms=opens,
            sales_end_ms=sales_end_ms,
            sorting=0,
            description=description,
            weight=weight,
        )

    if free:
        classes = [new("General Admission", 0, 1, description="Free entry")]
    else:
        price = BASE_PRICES[rng.randrange(len(BASE_PRICES))]
        classes = [
            new("Early Bird", price * 8 // 10, 25, sales_end_ms=min(opens + 30 * DAY_MS, closes)),
            new("General Admission", price, 55),
            new("VIP", price * 5 // 2, 12),
        ]
        if rng.random() < 0.3:
            classes.append(new("Donation", None, 8, donation=True, description="Support us"))
        if rng.random() < 0.3:
            classes.append(new("Industry Guest", 0, 3, hidden=True))
    for i, tc in enumerate(classes):
        tc.sorting = i + 1
    return classes
