"""Humanitix accounts: events with their dates, ticket types and packages, then their orders.

``generate_account`` draws, from the context's one random stream, the account, its events (the
first slots special: a draft, a free event, an online one, a recurring one), the planned orders
(per date, leaning towards the date; the dates that sell out follow a sell-out curve), builds the
orders in time order and sizes the capacities from what sold.
"""

from __future__ import annotations

from collections import Counter

from ticketing_pipeline.sandbox.formats import object_id
from ticketing_pipeline.sandbox.generation.common import (
    BASE_PRICES,
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    PLACES,
    SECOND_REGION_CURRENCY,
    TAG_NAMES,
    GenerationContext,
    Place,
    genre_and_event_name,
    secret,
)
from ticketing_pipeline.sandbox.generation.humanitix_orders import build_hx_order
from ticketing_pipeline.sandbox.humanitix_records import hx_event_record
from ticketing_pipeline.sandbox.model import (
    HxAccount,
    HxEvent,
    HxPackage,
    HxSession,
    HxTicketType,
    SandboxStore,
)


def _address_components(
    created_ms: int,
    ds: SandboxStore,
    venue: tuple[str, str, str, float, float, int],
    place: Place,
) -> list[dict[str, object]]:
    """Google-style ``addressComponents`` (the capture's shape): where city and country live."""
    parts = (
        (venue[1], venue[1], ["route"]),
        (place.city, place.city, ["locality", "political"]),
        (place.region, place.region, ["administrative_area_level_1", "political"]),
        (place.country, place.country, ["country", "political"]),
        (venue[2], venue[2], ["postal_code"]),
    )
    return [
        {
            "_id": object_id(created_ms, ds.machine, ds.next_counter()),
            "long_name": long_name,
            "short_name": short_name,
            "types": types,
        }
        for long_name, short_name, types in parts
    ]


def generate_account(ctx: GenerationContext, k: int, currency: str, n_orders: int) -> None:
    """The ``k``-th Humanitix account (``hx-acc-<k+1>``) in ``currency``, with ``n_orders``
    orders over its events, stored in ``ctx.ds``."""
    ds, rng, spec = ctx.ds, ctx.rng, ctx.spec
    place = PLACES[currency]
    label = f"hx-acc-{k + 1}"
    base_ms = ctx.anchor_ms - 500 * DAY_MS
    account = HxAccount(
        account_id=label,
        display_name=f"{place.city} {('Live', 'Arts Collective', 'Presents', 'Sounds')[k % 4]}",
        api_key=secret(spec.seed, f"humanitix-{label}", 40, "0123456789abcdef"),
        user_id=object_id(base_ms, ds.machine, ds.next_counter()),
        organiser_id=object_id(base_ms, ds.machine, ds.next_counter()),
        currency=currency,
        timezone=place.timezone,
        country=place.country,
    )
    account.tags = [
        {"_id": object_id(base_ms + i * 1000, ds.machine, ds.next_counter()), "name": name}
        for i, name in enumerate(TAG_NAMES)
    ]
    ds.hx_accounts[label] = account
    ds.hx_by_key[account.api_key] = account

    n_events = spec.events_for(n_orders)
    events: list[HxEvent] = []
    for j in range(n_events):
        # Special events take the first slots (forced into the future where needed), so the
        # last slots of the time spread stay regular, upcoming, on-sale events.
        draft = j == 0
        free = j == 1
        online = j == 2
        genre, name = genre_and_event_name(rng)
        day_ms = ctx.event_days(j, n_events, future=draft)
        count = rng.choice((1, 1, 2, 3, 4))
        if j == 3:
            # Every account has a recurring event (3+ dates on one schedule), whatever the
            # draws before it: the data set always shows ``scheduleId``.
            count = max(count, 3)
        times = ctx.session_times(day_ms, place.timezone, count, genre[2])
        created_ms = ctx.event_created(times[0][0])
        sessions = []
        schedule = object_id(created_ms, ds.machine, ds.next_counter()) if count > 2 else None
        for start, end in times:
            sessions.append(
                HxSession(
                    object_id(created_ms, ds.machine, ds.next_counter()),
                    start,
                    end,
                    schedule,
                )
            )
        if rng.random() < 0.2:
            # A session that was scheduled, then deleted: never sold, still in dates[].
            start, end = times[-1]
            sessions.append(
                HxSession(
                    object_id(created_ms, ds.machine, ds.next_counter()),
                    start + 7 * DAY_MS,
                    end + 7 * DAY_MS,
                    schedule,
                    deleted=True,
                )
            )
        elif count > 1 and rng.random() < 0.15:
            sessions[-1].disabled = True
        price = BASE_PRICES[rng.randrange(len(BASE_PRICES))]

        def new_id(created_ms: int = created_ms) -> str:
            return object_id(created_ms, ds.machine, ds.next_counter())

        if free:
            types = [HxTicketType(new_id(), "Free Entry", 0, False, 0, "Free, RSVP", weight=1)]
        else:
            concession = (price * 7 // 10) // 50 * 50
            types = [
                HxTicketType(new_id(), "General Admission", price, False, 0, "", weight=60),
                HxTicketType(
                    new_id(),
                    "Concession",
                    concession,
                    False,
                    0,
                    "Students, seniors",
                    weight=20,
                ),
                HxTicketType(new_id(), "VIP", price * 5 // 2, False, 0, "Best seats", weight=12),
            ]
            if rng.random() < 0.3:
                types.append(
                    HxTicketType(new_id(), "Donation", 500, True, 0, "Pay what you can", weight=8)
                )
            if rng.random() < 0.15:
                types.append(
                    HxTicketType(
                        new_id(), "Early Bird", price * 8 // 10, False, 0, "", deleted=True
                    )
                )
        # The event's region: the account's own, or (with the spec's option) another one,
        # served only with overrideLocation. Its money is in that region's currency.
        region_place = place
        if spec.humanitix_second_region and j >= 3 and j % 3 == 0:
            region_place = PLACES[SECOND_REGION_CURRENCY[currency]]
        if online:
            location = {
                "type": "online",
                "latLng": [],
                "addressComponents": [],
                "onlineUrl": f"https://stream.example.com/{k}-{j}",
            }
        else:
            venue = region_place.venues[rng.randrange(len(region_place.venues))]
            location = {
                "type": "address",
                "venueName": venue[0],
                "address": (f"{venue[1]}, {region_place.city} {region_place.region} {venue[2]}"),
                "latLng": [venue[3], venue[4]],
                "addressComponents": _address_components(created_ms, ds, venue, region_place),
                "placeId": "ChIJ"
                + secret(spec.seed, f"place-{venue[0]}", 23, "abcdefghijkmnpqrstuvwxyzABCDEFGH"),
            }
        classification = {"type": genre[0], "category": genre[1]}
        if j % 5 != 4:  # the capture has an event without a subcategory
            classification["subcategory"] = genre[2]
        event = HxEvent(
            id=object_id(created_ms, ds.machine, ds.next_counter()),
            account_id=label,
            name=name,
            currency=region_place.currency,
            timezone=region_place.timezone,
            created_ms=created_ms,
            updated_ms=min(created_ms + rng.randrange(1, 10) * DAY_MS, ctx.anchor_ms - HOUR_MS),
            published=not draft,
            pass_fees=rng.random() < 0.6,
            sessions=sessions,
            ticket_types=types,
            location=location,
            classification=classification,
            tag_ids=[account.tags[i]["_id"] for i in sorted(rng.sample(range(len(TAG_NAMES)), 2))],
            region=region_place.country,
        )
        if not free and rng.random() < 0.35:
            event.packages = _packages(ctx, event, created_ms)
        events.append(event)
        ds.hx_events[event.id] = event
        account.events[event.id] = event

    # Orders: pick (event, session, time) for each, then create them in time order so ids
    # (which embed creation time) increase like real ObjectIds.
    weights = [
        (0.3 + rng.random()) if e.published and bookable_dates(ctx, e) else 0.0 for e in events
    ]
    plan: list[tuple[int, int, int]] = []
    windows: dict[tuple[int, int], tuple[int, int]] = {}
    single_date: set[tuple[int, int]] = set()
    for e_pos, (event, count) in enumerate(
        zip(events, ctx.allocate(weights, n_orders), strict=True)
    ):
        sessions = bookable_dates(ctx, event)
        for _ in range(count):
            pos = sessions[rng.randrange(len(sessions))]
            session = event.sessions[pos]
            lo = event.created_ms + DAY_MS
            hi = min(session.start_ms - HOUR_MS, ctx.anchor_ms - MINUTE_MS)
            windows[e_pos, pos] = (lo, hi)
            plan.append((ctx.order_time(lo, hi), e_pos, pos))
        if len(sessions) == 1:
            single_date.add((e_pos, sessions[0]))
    # Sell-outs: capacities are per ticket type and apply to every date of an event, so a
    # date can sell out alone only when it is the event's one date on sale.
    counts = Counter((e_pos, pos) for _, e_pos, pos in plan)
    sell_outs = ctx.choose_sell_outs(label, counts, single_date)
    ctx.reshape_sell_outs(label, plan, lambda p: (p[1], p[2]), windows, sell_outs)
    plan.sort()
    for created_ms, e_pos, pos in plan:
        event = events[e_pos]
        session = event.sessions[pos]
        roll = rng.random()
        outcome = "refund" if roll < 0.07 else "partial" if roll < 0.12 else None
        if (e_pos, pos) in sell_outs:
            # A sold-out date keeps every ticket it sold (a refund would free one): its
            # capacity is what it sold, reached by its last order. Later refunds (mutate) do.
            outcome = None
        outcome_ms = 0
        if outcome:
            hi = min(session.start_ms, ctx.anchor_ms - MINUTE_MS)
            outcome_ms = created_ms + MINUTE_MS + int((hi - created_ms - MINUTE_MS) * rng.random())
        build_hx_order(
            ds,
            account,
            event,
            pos,
            created_ms,
            rng,
            outcome,
            outcome_ms,
            checkin=session.end_ms < ctx.anchor_ms,
        )

    # Capacities from what sold: a margin above it, none on the dates that sold out. One
    # event is marked sold out by its organiser (a flag, whatever its capacity says); then
    # render the events.
    sold_out_events = {e_pos for e_pos, _ in sell_outs}
    sold_out_done = False
    for e_pos, event in enumerate(events):
        event.order_index.sort()
        event.ticket_index.sort()
        for tt in event.ticket_types:
            sold = max((v for (t, _), v in event.sold.items() if t == tt.id), default=0)
            margin = 10 + rng.randrange(sold // 3 + 20)
            tt.quantity = sold if e_pos in sold_out_events and not tt.deleted else sold + margin
        if not sold_out_done and event.end_ms < ctx.anchor_ms and event.orders:
            event.sold_out = sold_out_done = True
        event.record = hx_event_record(account, event)
        account.event_index.append((event.updated_ms, event.id))
    account.event_index.sort()


def _packages(ctx: GenerationContext, event: HxEvent, created_ms: int) -> list[HxPackage]:
    """One or two packages of the event's ticket types, priced below their sum."""
    ds = ctx.ds

    def new_id() -> str:
        return object_id(created_ms, ds.machine, ds.next_counter())

    by_name = {t.name: t for t in event.ticket_types if not t.deleted and not t.is_donation}
    packages = []
    general, vip = by_name.get("General Admission"), by_name.get("VIP")
    if general is not None:
        price = general.price * 4 * 85 // 100 // 100 * 100  # whole units, 15% off
        packages.append(
            HxPackage(new_id(), "Group 4-pack", price, [(general, 4, new_id())], "Four GA")
        )
    if general is not None and vip is not None and ctx.rng.random() < 0.5:
        price = (general.price + vip.price) * 9 // 10 // 100 * 100
        packages.append(
            HxPackage(new_id(), "Date night", price, [(general, 1, new_id()), (vip, 1, new_id())])
        )
    return packages


def bookable_dates(ctx: GenerationContext, event: HxEvent) -> list[int]:
    """Positions of the event's dates that were on sale for a while before the anchor."""
    return [
        pos
        for pos, s in enumerate(event.sessions)
        if not s.deleted
        and not s.disabled
        and min(s.start_ms - HOUR_MS, ctx.anchor_ms - MINUTE_MS) > event.created_ms + DAY_MS
    ]
