"""The generated data set: deterministic, realistic in spread, and internally consistent."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import orjson
from hypothesis import given
from hypothesis import strategies as st
from sandbox_helpers import assert_costs_match, assert_order_matches_tickets

from ticketing_pipeline.sandbox import SandboxDataset, SandboxSpec, generate, load_or_generate
from ticketing_pipeline.sandbox.cache import cache_path
from ticketing_pipeline.sandbox.eventbrite_records import (
    eb_event_sales_status,
    eb_ticket_class_record,
)
from ticketing_pipeline.sandbox.formats import datetime_to_ms, money_text

SMALL = SandboxSpec(orders=1_200)


def all_bytes(ds: SandboxDataset) -> list[bytes]:
    out: list[bytes] = []
    for event in ds.hx_events.values():
        out.append(event.record)
        out.extend(event.orders[i] for _, i, _ in event.order_index)
        out.extend(event.tickets[i] for _, i, _, _ in event.ticket_index)
    for event in ds.eb_events.values():
        out.append(event.record)
        out.extend(event.attendees[i] for _, i, _ in event.attendee_index)
    out.extend(ds.eb_orders[i] for org in ds.eb_orgs.values() for _, i, _ in org.order_index)
    return out


def test_same_seed_gives_identical_bytes_and_another_seed_does_not() -> None:
    first, second = generate(SMALL), generate(SMALL)
    assert all_bytes(first) == all_bytes(second)
    assert [a.secret for a in first.accounts] == [a.secret for a in second.accounts]
    other = generate(SandboxSpec(orders=1_200, seed=8))
    assert all_bytes(other) != all_bytes(first)


def test_accounts_currencies_and_tokens() -> None:
    ds = generate(SMALL)
    platforms = Counter(a.platform for a in ds.accounts)
    assert platforms == {"humanitix": 2, "eventbrite": 3}
    assert len({a.currency for a in ds.accounts}) >= 3
    hx = [a for a in ds.accounts if a.platform == "humanitix"]
    assert [a.account_id for a in hx] == ["hx-acc-1", "hx-acc-2"]
    eb = [a for a in ds.accounts if a.platform == "eventbrite"]
    assert all(a.account_id.isdigit() for a in eb)
    # The first two organizations share one token; the third has its own.
    assert eb[0].secret == eb[1].secret != eb[2].secret
    assert ds.order_count == SMALL.orders


def test_events_spread_from_a_year_before_to_months_after_the_anchor() -> None:
    ds = generate(SandboxSpec(orders=4_000))
    anchor = datetime_to_ms(ds.spec.anchor)
    day = 86_400_000
    for account in ds.hx_accounts.values():
        assert len(account.events) >= 6
        starts = [e.start_ms for e in account.events.values()]
        assert min(starts) < anchor - 200 * day, "some events ended long ago"
        assert max(starts) > anchor + 30 * day, "some events are upcoming"
        assert any(
            len([s for s in e.sessions if not s.deleted]) > 1 for e in account.events.values()
        )
    statuses = Counter(e.status for e in ds.eb_events.values())
    assert {"completed", "live", "canceled", "draft"} <= set(statuses)
    assert any(e.is_parent and len(e.children) >= 2 for e in ds.eb_events.values())
    assert any(not e.is_series for e in ds.eb_events.values())


def test_scaled_event_count_grows_with_orders() -> None:
    spec = SandboxSpec(orders=1_000_000)
    per_account = spec.orders // spec.account_count
    assert 6 * spec.account_count < spec.events_for(per_account) * spec.account_count < 1_000
    assert SandboxSpec().events_for(2_000) >= 6


def test_nothing_happens_after_the_sandbox_clock() -> None:
    ds = generate(SMALL)
    for event in ds.hx_events.values():
        assert all(ts <= ds.clock_ms for ts, *_ in event.order_index)
        assert all(ts <= ds.clock_ms for ts, *_ in event.ticket_index)
    for org in ds.eb_orgs.values():
        assert all(ts * 1000 <= ds.clock_ms for ts, *_ in org.order_index)


def test_the_mix_has_refunds_partial_refunds_cancellations_discounts_and_free_orders() -> None:
    ds = generate(SandboxSpec(orders=4_000))
    hx_orders = [orjson.loads(b) for e in ds.hx_events.values() for b in e.orders.values()]
    financial = Counter(o["financialStatus"] for o in hx_orders)
    assert {"free", "paid", "partiallyRefunded", "refunded"} <= set(financial)
    assert any(o.get("discounts", {}).get("discountCode") for o in hx_orders)
    assert any(o.get("discounts", {}).get("autoDiscount") for o in hx_orders)
    assert {"online", "manual", "boxOffice"} <= {o["salesChannel"] for o in hx_orders}
    eb_orders = [orjson.loads(b) for b in ds.eb_orders.values()]
    assert {"placed", "refunded", "cancelled", "deleted"} <= {o["status"] for o in eb_orders}
    assert any(o.get("promo_code") for o in eb_orders)
    assert all(("promo_code" in o) == ("discount_amount" in o) for o in eb_orders)
    attendees = [orjson.loads(b) for e in ds.eb_events.values() for b in e.attendees.values()]
    assert {"Attending", "Checked In", "Not Attending"} <= {a["status"] for a in attendees}
    # A partial refund: an order still placed with a refunded attendee.
    placed = {o["id"] for o in eb_orders if o["status"] == "placed"}
    assert any(a["refunded"] and a["order_id"] in placed for a in attendees)


def test_humanitix_totals_are_the_sum_of_their_tickets_to_the_cent() -> None:
    ds = generate(SMALL)
    checked = 0
    for event in ds.hx_events.values():
        for order_id, ticket_ids in event.order_tickets.items():
            order = orjson.loads(event.orders[order_id])
            tickets = [orjson.loads(event.tickets[t]) for t in ticket_ids]
            assert_order_matches_tickets(order, tickets)
            checked += 1
    assert checked == sum(len(e.orders) for e in ds.hx_events.values())


def test_eventbrite_costs_and_counters_are_consistent() -> None:
    ds = generate(SMALL)
    for event in ds.eb_events.values():
        attending = Counter()
        for order_id, attendee_ids in event.order_attendees.items():
            order = orjson.loads(ds.eb_orders[order_id])
            attendees = [orjson.loads(event.attendees[a]) for a in attendee_ids]
            assert_costs_match(order, attendees)
            for a in attendees:
                if a["status"] in ("Attending", "Checked In"):
                    assert order["status"] == "placed"
                    attending[a["ticket_class_id"]] += 1
        for tc in event.ticket_classes:
            assert tc.sold == attending[tc.id]
            assert tc.sold <= tc.quantity_total


# A JSON number value with three or more decimals (timestamps inside strings do not match).
FLOAT_ARTIFACT = re.compile(rb'":-?\d+\.\d{3,}[,}\]]')


def test_no_money_float_artifacts_in_any_record() -> None:
    ds = generate(SMALL)
    # Coordinates are the only numbers with more than two decimals; they are not money.
    for raw in all_bytes(ds):
        cleaned = re.sub(rb'"latLng":\[[^\]]*\]', b"", raw)
        assert not FLOAT_ARTIFACT.search(cleaned), cleaned[:200]


@given(st.integers(min_value=0, max_value=10**12))
def test_money_text_is_exact_and_round_trips(cents: int) -> None:
    text = money_text(cents)
    assert Decimal(text) == Decimal(cents) / 100
    assert not text.endswith("0") or "." not in text
    parsed = orjson.loads(f"[{text}]")[0]
    assert round(parsed * 100) == cents


def test_disk_cache_returns_the_same_data_set(tmp_path: Path) -> None:
    spec = SandboxSpec(orders=600, seed=5)
    first = load_or_generate(spec, tmp_path)
    path = cache_path(spec, tmp_path)
    assert path.exists() and list(tmp_path.iterdir()) == [path]
    second = load_or_generate(spec, tmp_path)
    assert second is not first
    assert all_bytes(second) == all_bytes(first)
    assert second.mutate(0.1).to_dict() == first.mutate(0.1).to_dict(), "usable after loading"
    # Another spec gets its own file.
    load_or_generate(SandboxSpec(orders=600, seed=6), tmp_path)
    assert len(list(tmp_path.iterdir())) == 2


def test_truth_reads_ticket_sales_from_totals_v2_and_matches_the_orders() -> None:
    ds = generate(SMALL)
    for moment in ("generated", "mutated"):
        if moment == "mutated":
            ds.mutate(0.2)
        for (platform, _), truth in ds.truth().items():
            if platform != "humanitix":
                continue
            for currency, money in truth.money.items():
                tickets = truth.ticket_money[currency]
                # A cancelled ticket reads 0, so the served fields fall short of the orders...
                assert money["ticket.total"] < money["totals.grossSales"], moment
                # ...and its sale and refund, from totalsV2, add up to the orders' figures.
                assert tickets["gross"] == money["totals.grossSales"], moment
                assert tickets["refunded"] == money["totals.refunds"] > 0, moment
                assert tickets["net"] == money["totals.netSales"], moment
                assert money["ticket.total"] == money["totals.total"], moment


# --- sessions that sell out ------------------------------------------------------------------


def test_a_seeded_share_of_sessions_sells_out_at_the_order_that_reached_capacity() -> None:
    ds = generate(SandboxSpec(orders=10_000))
    truth = ds.truth()
    assert {platform for (platform, _), t in truth.items() if t.sessions_at_capacity} == {
        "humanitix",
        "eventbrite",
    }
    for (platform, account_id), account_truth in truth.items():
        sold_out = account_truth.sessions_at_capacity
        # Humanitix capacities apply to every date of an event: only one-date events sell out.
        assert sold_out or platform == "humanitix", f"{platform} {account_id}: no sell-out"
        sessions_with_sales = [s for s, n in session_sales(ds, platform, account_id).items() if n]
        assert len(sold_out) <= max(1, round(0.3 * len(sessions_with_sales)))
        for session_id in sold_out:
            orders = session_orders(ds, platform, session_id)
            # No ticket of a sold-out session was refunded: its last order sold the last ticket.
            assert all(refunded == 0 for _, _, refunded in orders)
            capacity, sold = session_capacity(ds, platform, session_id)
            assert capacity == sold == sum(tickets for _, tickets, _ in orders) > 0
    # Eventbrite reports them as sold out; Humanitix only through its capacity.
    for key, account_truth in truth.items():
        if key[0] != "eventbrite":
            continue
        for session_id in account_truth.sessions_at_capacity:
            event = ds.eb_events[session_id]
            status = eb_event_sales_status(event, [event], ds.now_ms)["sales_status"]
            assert status == "sold_out"
            assert {
                eb_ticket_class_record(event, tc, ds.now_ms)["on_sale_status"]
                for tc in event.ticket_classes
            } == {"SOLD_OUT"}


def test_sold_out_sessions_sell_in_rushes_near_the_on_sale_or_the_sell_out() -> None:
    ds = generate(SandboxSpec(orders=10_000))
    day = 86_400_000
    checked = 0
    for (platform, _), account_truth in ds.truth().items():
        for session_id in account_truth.sessions_at_capacity:
            if platform == "humanitix":
                (event,) = [
                    e for e in ds.hx_events.values() if e.session_pos(session_id) is not None
                ]
                opens = event.created_ms + day
            else:
                opens = ds.eb_events[session_id].created_ms + day
            times = [
                datetime_to_ms(datetime.fromisoformat(created.replace("Z", "+00:00")))
                for created, _, _ in session_orders(ds, platform, session_id)
            ]
            sold_out = times[-1]
            span = sold_out - opens
            rush = sum(t < opens + min(3 * day, span) or t >= sold_out - span / 5 for t in times)
            # The first three days on sale or the last fifth before the sell-out: at least half
            # of the orders (spread evenly over a long window, about a quarter would be there).
            assert rush >= len(times) / 2, (session_id, rush, len(times))
            checked += 1
    assert checked


def test_sell_outs_follow_the_seed() -> None:
    def sold_out(seed: int) -> list[str]:
        truth = generate(SandboxSpec(orders=3_000, seed=seed)).truth()
        return sorted(s for t in truth.values() for s in t.sessions_at_capacity)

    assert sold_out(3) == sold_out(3) != sold_out(4)


def test_mutate_never_sells_beyond_capacity_and_refunds_free_tickets() -> None:
    ds = generate(SandboxSpec(orders=3_000, seed=5))
    before = {s for t in ds.truth().values() for s in t.sessions_at_capacity}
    for _ in range(6):
        ds.mutate(fraction=0.1)
        for event in ds.hx_events.values():
            for (type_id, _), sold in event.sold.items():
                (ticket_type,) = [t for t in event.ticket_types if t.id == type_id]
                assert sold <= ticket_type.quantity
        for eb_event in ds.eb_events.values():
            assert all(tc.sold <= tc.quantity_total for tc in eb_event.ticket_classes)
    after = {s for t in ds.truth().values() for s in t.sessions_at_capacity}
    # Refunds freed tickets on some sold-out sessions; none sold out from later sales alone.
    assert after < before


def session_sales(ds: SandboxDataset, platform: str, account_id: str) -> dict[str, int]:
    """Tickets still sold per session of one account."""
    if platform == "humanitix":
        out: Counter[str] = Counter()
        for event in ds.hx_accounts[account_id].events.values():
            for (_, pos), sold in event.sold.items():
                out[event.sessions[pos].id] += sold
        return dict(out)
    events = (ds.eb_events[e] for e in ds.eb_orgs[account_id].event_ids)
    return {e.id: sum(tc.sold for tc in e.ticket_classes) for e in events if not e.is_parent}


def session_orders(
    ds: SandboxDataset, platform: str, session_id: str
) -> list[tuple[str, int, int]]:
    """(created, tickets, tickets refunded) of each order of one session, oldest first."""
    out = []
    if platform == "humanitix":
        (event,) = [e for e in ds.hx_events.values() if e.session_pos(session_id) is not None]
        for order_id, ticket_ids in event.order_tickets.items():
            order = orjson.loads(event.orders[order_id])
            if order["eventDateId"] == session_id:
                statuses = [orjson.loads(event.tickets[t])["status"] for t in ticket_ids]
                out.append((order["createdAt"], len(statuses), statuses.count("cancelled")))
    else:
        eb_event = ds.eb_events[session_id]
        for order_id, attendee_ids in eb_event.order_attendees.items():
            attendees = [orjson.loads(eb_event.attendees[a]) for a in attendee_ids]
            gone = sum(a["status"] not in ("Attending", "Checked In") for a in attendees)
            created = orjson.loads(ds.eb_orders[order_id])["created"]
            out.append((created, len(attendees), gone))
    return sorted(out)


def session_capacity(ds: SandboxDataset, platform: str, session_id: str) -> tuple[int, int]:
    """(capacity, tickets sold) of one session, as its served records say."""
    if platform == "humanitix":
        (event,) = [e for e in ds.hx_events.values() if e.session_pos(session_id) is not None]
        record = orjson.loads(event.record)
        sold = sum(
            orjson.loads(raw)["status"] == "complete"
            and orjson.loads(raw)["eventDateId"] == session_id
            for raw in event.tickets.values()
        )
        return record["totalCapacity"], sold
    eb_event = ds.eb_events[session_id]
    return orjson.loads(eb_event.record)["capacity"], sum(tc.sold for tc in eb_event.ticket_classes)
