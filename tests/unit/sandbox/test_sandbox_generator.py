"""The generated data set: deterministic, realistic in spread, and internally consistent."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import orjson
from hypothesis import given
from hypothesis import strategies as st
from sandbox_helpers import assert_costs_match, assert_order_matches_tickets

from ticketing_pipeline.sandbox import SandboxDataset, SandboxSpec, generate, load_or_generate
from ticketing_pipeline.sandbox.cache import cache_path
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
