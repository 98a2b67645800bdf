"""Change the data over time, so incremental syncs and webhooks have something to find.

``mutate(ds, fraction)`` touches about ``fraction`` of all orders with a mix of new orders, full
refunds, partial refunds, cancellations and buyer-name edits. Every change is stamped with a
sandbox time strictly later than any timestamp already in the data (the clock then moves on),
and three changes share each second so Eventbrite's ``last_item_seen`` tie-break matters.
Related records move with the order: tickets/attendees get the same ``updatedAt``/``changed``,
Eventbrite ticket classes their ``quantity_sold``. Each change is appended to ``ds.changes``.
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import orjson

from ticketing_pipeline.sandbox.formats import cents_of, dump, hx_money, iso_ms, iso_s
from ticketing_pipeline.sandbox.generation.common import (
    FIRST_NAMES,
    HOUR_MS,
    LAST_NAMES,
    MAX_TICKETS_PER_ORDER,
)
from ticketing_pipeline.sandbox.generation.eventbrite_orders import build_eb_order
from ticketing_pipeline.sandbox.generation.humanitix_orders import build_hx_order
from ticketing_pipeline.sandbox.humanitix_records import (
    hx_money_of_totals_v2,
    hx_ticket_parts,
    hx_totals_json,
)
from ticketing_pipeline.sandbox.model import (
    EB_ATT_NOT_ATTENDING,
    EB_ORDER_CANCELLED,
    EB_ORDER_PLACED,
    EB_ORDER_REFUNDED,
    EB_ORDER_STATUS_NAMES,
    HX_TICKET_CANCELLED,
    ChangeNotice,
    EbOrg,
    HxAccount,
    HxEvent,
    SandboxStore,
)
from ticketing_pipeline.sandbox.money import HX_TOTAL_MONEY_KEYS, hx_order_totals

KINDS = ("new", "refund", "partial", "cancel", "edit")
KIND_WEIGHTS = tuple(accumulate((30, 20, 15, 10, 25)))


@dataclass
class MutationSummary:
    """What one ``mutate`` call did. ``touched[platform][account_id][kind]`` lists order ids."""

    mutation: int
    first_change_at: str
    last_change_at: str
    counts: dict[str, int] = field(default_factory=dict)
    touched: dict[str, dict[str, dict[str, list[str]]]] = field(default_factory=dict)
    notices: int = 0

    def record(self, platform: str, account_id: str, kind: str, order_id: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        by_kind = self.touched.setdefault(platform, {}).setdefault(account_id, {})
        by_kind.setdefault(kind, []).append(order_id)

    def order_ids(self, platform: str | None = None) -> set[str]:
        return {
            order_id
            for p, accounts in self.touched.items()
            if platform in (None, p)
            for kinds in accounts.values()
            for ids in kinds.values()
            for order_id in ids
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "mutation": self.mutation,
            "first_change_at": self.first_change_at,
            "last_change_at": self.last_change_at,
            "counts": self.counts,
            "touched": self.touched,
            "notices": self.notices,
        }


class _Mutator:
    def __init__(self, ds: SandboxStore, rng: random.Random) -> None:
        self.ds = ds
        self.rng = rng
        self.touched: set[str] = set()
        # Index lists appended to, with their length before this mutation (see _fix_indexes).
        self.marks: dict[int, tuple[list[Any], int]] = {}

    def mark(self, *lists: list[Any]) -> None:
        for lst in lists:
            self.marks.setdefault(id(lst), (lst, len(lst)))

    def fix_indexes(self) -> None:
        """Drop superseded entries and keep each list sorted by (cursor, id).

        All entries appended in this mutation are later than everything before it, so sorting
        only the tail keeps the list sorted.
        """
        for lst, before in self.marks.values():
            latest: dict[str, Any] = {}
            for entry in lst[before:]:
                latest[entry[1]] = entry
            head = [e for e in lst[:before] if e[1] not in latest]
            lst[:] = head + sorted(latest.values())

    def notice(
        self, platform: str, account_id: str, kind: str, object_id: str, path: str, at: str
    ) -> None:
        changes = self.ds.changes
        changes.append(
            ChangeNotice(len(changes) + 1, platform, account_id, kind, object_id, path, at)
        )

    # --- picking ---------------------------------------------------------------------------

    def random_hx_order(self, account: HxAccount) -> tuple[HxEvent, str] | None:
        events = [e for e in account.events.values() if e.order_index]
        if not events:
            return None
        cum = list(accumulate(len(e.order_index) for e in events))
        for _ in range(30):
            event = events[bisect(cum, self.rng.random() * cum[-1])]
            order_id = event.order_index[self.rng.randrange(len(event.order_index))][1]
            if order_id not in self.touched:
                return event, order_id
        return None

    def random_eb_order(self, org: EbOrg, want: int) -> str | None:
        index = org.order_index
        for _ in range(30):
            if not index:
                return None
            _, order_id, status = index[self.rng.randrange(len(index))]
            if status == want and order_id not in self.touched:
                return order_id
        return None

    # --- Humanitix ---------------------------------------------------------------------------

    def hx_new(self, account: HxAccount, t_ms: int) -> str | None:
        # Only dates with room for the largest order in some ticket type: a sold-out date (or
        # one a refund freed a ticket or two on) gets no new sale.
        choices = [
            (event, pos)
            for event in account.events.values()
            if event.published
            for pos, s in enumerate(event.sessions)
            if not s.deleted
            and not s.disabled
            and s.start_ms > t_ms + HOUR_MS
            and any(
                t.quantity - event.sold.get((t.id, pos), 0) >= MAX_TICKETS_PER_ORDER
                for t in event.ticket_types
                if not t.deleted and not t.disabled
            )
        ]
        if not choices:
            return None
        event, pos = choices[self.rng.randrange(len(choices))]
        self.mark(event.order_index, event.ticket_index)
        order_id = build_hx_order(
            self.ds, account, event, pos, t_ms, self.rng, within_capacity=True
        )
        self.notice(
            "humanitix",
            account.account_id,
            "order.placed",
            order_id,
            f"/events/{event.id}/orders/{order_id}",
            iso_ms(t_ms),
        )
        return order_id

    def hx_change(self, account: HxAccount, kind: str, t_ms: int) -> str | None:
        for _ in range(10):
            picked = self.random_hx_order(account)
            if picked is None:
                return None
            event, order_id = picked
            order = orjson.loads(event.orders[order_id])
            ticket_ids = event.order_tickets[order_id]
            tickets = [orjson.loads(event.tickets[t]) for t in ticket_ids]
            live = [t for t in tickets if t["status"] == "complete"]
            paid = order["financialStatus"] in ("paid", "partiallyRefunded")
            if kind == "edit":
                break
            if kind == "refund" and paid and live:
                break
            if kind == "partial" and paid and len(live) >= 2:
                break
            if kind == "cancel" and live:
                break
        else:
            return None
        at = iso_ms(t_ms)
        fees_included = order["totals"]["feesIncluded"]
        if kind == "edit":
            order["lastName"] = LAST_NAMES[self.rng.randrange(len(LAST_NAMES))]
            order["firstName"] = FIRST_NAMES[self.rng.randrange(len(FIRST_NAMES))]
            order["email"] = (
                f"{order['firstName']}.{order['lastName']}@example.net".lower()
                .replace(" ", "")
                .replace("'", "")
            )
            totals = {k: cents_of(order["totals"][k]) for k in HX_TOTAL_MONEY_KEYS}
        else:
            cancel = (
                live
                if kind in ("refund", "cancel")
                else live[-self.rng.randint(1, len(live) - 1) :]
            )
            # The sale of each ticket is in its totalsV2 (a cancelled one reports 0 elsewhere).
            moneys = [hx_money_of_totals_v2(t["totalsV2"]) for t in tickets]
            cancel_ids = {t["_id"] for t in cancel}
            self.mark(event.ticket_index)
            for ticket, money in zip(tickets, moneys, strict=True):
                if ticket["_id"] not in cancel_ids:
                    continue
                ticket["status"] = "cancelled"
                ticket["cancelledAt"] = at
                ticket["updatedAt"] = at
                pos = event.session_pos(ticket["eventDateId"]) or 0
                key = (ticket["ticketTypeId"], pos)
                event.sold[key] = event.sold.get(key, 1) - 1
                del ticket["totalsV2"]
                if "packagePrice" in ticket:
                    ticket["packagePrice"] = hx_money(cents_of(ticket["packagePrice"]))
                ticket["dgrDonation"] = hx_money(0)
                event.tickets.put(
                    ticket["_id"], *hx_ticket_parts(ticket, money, True, ticket["currency"])
                )
                event.ticket_index.append((t_ms, ticket["_id"], pos, HX_TICKET_CANCELLED))
            cancelled = [t["status"] == "cancelled" for t in tickets]
            totals = hx_order_totals(moneys, cancelled)
            if cents_of(order["purchaseTotals"]["grossSales"]) == 0:
                order["financialStatus"] = "free"
            else:
                order["financialStatus"] = "refunded" if all(cancelled) else "partiallyRefunded"
        order["updatedAt"] = at
        order["totals"] = hx_totals_json(totals, fees_included)
        order["purchaseTotals"] = hx_totals_json(
            {k: cents_of(order["purchaseTotals"][k]) for k in HX_TOTAL_MONEY_KEYS}, fees_included
        )
        order["clientDonation"] = hx_money(cents_of(order["clientDonation"]))
        discounts = order.get("discounts") or {}
        for holder in (discounts.get("autoDiscount"), discounts.get("discountCode")):
            if holder:
                holder["discountAmount"] = hx_money(cents_of(holder["discountAmount"]))
        event.orders[order_id] = dump(order)
        self.mark(event.order_index)
        pos = event.session_pos(order["eventDateId"]) or 0
        event.order_index.append((t_ms, order_id, pos))
        kind_name = "order.refunded" if kind == "refund" else "order.updated"
        self.notice(
            "humanitix",
            account.account_id,
            kind_name,
            order_id,
            f"/events/{event.id}/orders/{order_id}",
            at,
        )
        return order_id

    # --- Eventbrite ----------------------------------------------------------------------------

    def eb_new(self, org: EbOrg, t_ms: int) -> str | None:
        choices = [
            event
            for event_id in org.event_ids
            if not (event := self.ds.eb_events[event_id]).is_parent
            and event.status == "live"
            and event.start_ms > t_ms + HOUR_MS
            and any(
                tc.sold + MAX_TICKETS_PER_ORDER <= tc.quantity_total and not tc.hidden
                for tc in event.ticket_classes
            )
        ]
        if not choices:
            return None
        event = choices[self.rng.randrange(len(choices))]
        self.mark(event.order_index, event.attendee_index, org.order_index)
        order_id = build_eb_order(self.ds, org, event, t_ms, self.rng, within_capacity=True)
        self.notice(
            "eventbrite", org.id, "order.placed", order_id, f"/orders/{order_id}/", iso_s(t_ms)
        )
        return order_id

    def eb_change(self, org: EbOrg, kind: str, t_ms: int) -> str | None:
        ds = self.ds
        for _ in range(10):
            order_id = self.random_eb_order(org, EB_ORDER_PLACED)
            if order_id is None:
                return None
            event = ds.eb_order_event[order_id]
            attendee_ids = event.order_attendees[order_id]
            attendees = [orjson.loads(event.attendees[a]) for a in attendee_ids]
            live = [a for a in attendees if not a["refunded"] and not a["cancelled"]]
            paid = orjson.loads(ds.eb_orders[order_id])["costs"]["gross"]["value"] > 0
            if kind == "edit" or (kind == "cancel" and live):
                break
            if kind == "refund" and live and paid:
                break
            if kind == "partial" and len(live) >= 2 and paid:
                break
        else:
            return None
        at = iso_s(t_ms)
        t_s = t_ms // 1000
        order = orjson.loads(ds.eb_orders[order_id])
        status = EB_ORDER_PLACED
        if kind == "edit":
            first = FIRST_NAMES[self.rng.randrange(len(FIRST_NAMES))]
            last = LAST_NAMES[self.rng.randrange(len(LAST_NAMES))]
            order.update(first_name=first, last_name=last, name=f"{first} {last}")
        else:
            change = live[-self.rng.randint(1, len(live) - 1) :] if kind == "partial" else live
            status = {"refund": EB_ORDER_REFUNDED, "cancel": EB_ORDER_CANCELLED}.get(
                kind, EB_ORDER_PLACED
            )
            classes = {tc.id: tc for tc in event.ticket_classes}
            self.mark(event.attendee_index)
            for attendee in change:
                if attendee["status"] in ("Attending", "Checked In"):
                    classes[attendee["ticket_class_id"]].sold -= 1
                if kind == "cancel":
                    attendee["cancelled"] = True
                else:
                    attendee["refunded"] = True
                attendee["status"] = "Not Attending"
                attendee["changed"] = at
                for barcode in attendee["barcodes"]:
                    barcode["status"] = "refunded"
                    barcode["changed"] = at
                event.attendees[attendee["id"]] = dump(attendee)
                event.attendee_index.append((t_s, attendee["id"], EB_ATT_NOT_ATTENDING))
                if kind == "partial":
                    self.notice(
                        "eventbrite",
                        org.id,
                        "attendee.updated",
                        attendee["id"],
                        f"/events/{event.id}/attendees/{attendee['id']}/",
                        at,
                    )
        order["status"] = EB_ORDER_STATUS_NAMES[status]
        order["changed"] = at
        ds.eb_orders[order_id] = dump(order)
        self.mark(event.order_index, org.order_index)
        entry = (t_s, order_id, status)
        event.order_index.append(entry)
        org.order_index.append(entry)
        kind_name = "order.refunded" if kind == "refund" else "order.updated"
        self.notice("eventbrite", org.id, kind_name, order_id, f"/orders/{order_id}/", at)
        return order_id


def mutate(ds: SandboxStore, fraction: float = 0.01, seed: int | None = None) -> MutationSummary:
    """Apply ~``fraction`` × (all orders) changes; call through ``SandboxDataset.mutate``."""
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    count = max(1, round(fraction * ds.order_count))
    rng = random.Random(f"mutate:{ds.spec.seed}:{ds.mutation_count}:{seed}")
    ds.mutation_count += 1
    mutator = _Mutator(ds, rng)
    targets: list[tuple[str, HxAccount | EbOrg]] = [
        ("humanitix", a) for a in ds.hx_accounts.values()
    ] + [("eventbrite", o) for o in ds.eb_orgs.values()]
    weights = [
        sum(len(e.orders) for e in t.events.values()) + 1
        if isinstance(t, HxAccount)
        else len(t.order_index) + 1
        for _, t in targets
    ]
    cum = list(accumulate(weights))
    base_s = ds.clock_ms // 1000 + 1
    first_ms = last_ms = base_s * 1000
    summary = MutationSummary(ds.mutation_count, iso_ms(first_ms), iso_ms(first_ms))
    notices_before = len(ds.changes)
    for i in range(count):
        # Strictly after everything so far; three changes per second share Eventbrite's cursor.
        t_ms = (base_s + i // 3) * 1000 + rng.randrange(1000)
        platform, target = targets[bisect(cum, rng.random() * cum[-1])]
        kind = KINDS[bisect(KIND_WEIGHTS, rng.random() * KIND_WEIGHTS[-1])]
        order_id = None
        for attempt in (kind, "edit", "new"):
            if isinstance(target, HxAccount):
                order_id = (
                    mutator.hx_new(target, t_ms)
                    if attempt == "new"
                    else mutator.hx_change(target, attempt, t_ms)
                )
                account_id = target.account_id
            else:
                order_id = (
                    mutator.eb_new(target, t_ms)
                    if attempt == "new"
                    else mutator.eb_change(target, attempt, t_ms)
                )
                account_id = target.id
            if order_id is not None:
                mutator.touched.add(order_id)
                summary.record(platform, account_id, attempt, order_id)
                last_ms = max(last_ms, t_ms)
                break
    mutator.fix_indexes()
    ds.clock_ms = max(ds.clock_ms, last_ms)
    summary.last_change_at = iso_ms(last_ms)
    summary.notices = len(ds.changes) - notices_before
    return summary
