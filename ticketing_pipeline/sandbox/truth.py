"""Ground truth for tests and reconciliation demos, computed from the stored (served) bytes.

Reading the very records the API serves, rather than the generator's intermediate values, means
the truth cannot drift from what a sync can load.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from ticketing_pipeline.sandbox.eventbrite_records import eb_ticket_class_record
from ticketing_pipeline.sandbox.formats import decimal_of
from ticketing_pipeline.sandbox.model import EB_ATT_DELETED, EB_ORDER_DELETED, SandboxStore


@dataclass
class AccountTruth:
    """What one account holds, as the platform's API would report it.

    Humanitix ``money`` keys (Decimal major units): ``totals.grossSales``, ``totals.netSales``,
    ``totals.refunds``, ``totals.total``, ``ticket.price``, ``ticket.total`` (the ticket fields
    as served: 0 on cancelled tickets, as the platform reports them).
    Humanitix ``ticket_money`` (per currency, Decimal major units) is what the tickets sold and
    refunded, read where the platform keeps it: each ticket's ``totalsV2`` (``gross`` =
    Σ grossSales, ``refunded`` = Σ refunds, ``net`` = Σ netSales). Σ gross equals the orders'
    ``totals.grossSales`` and Σ refunded their ``totals.refunds``, to the cent.
    Eventbrite ``money`` keys (Decimal of integer minor units): ``order.costs.gross.value``,
    ``attendee.costs.gross.value``, ``ticket_class.quantity_sold``.
    Orders and tickets are those the API serves (Eventbrite: ``status=all_not_deleted``).
    """

    platform: str
    account_id: str
    currency: str
    events: int = 0
    series_parents: int = 0  # Eventbrite only
    sessions: int = 0
    ticket_types: int = 0
    orders: int = 0
    orders_by_status: dict[str, int] = field(default_factory=dict)
    tickets: int = 0
    tickets_by_status: dict[str, int] = field(default_factory=dict)
    money: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    # Tickets/attendees still valid, per event id (Humanitix: complete tickets; Eventbrite:
    # Σ quantity_sold of the event's ticket classes).
    sold_by_event: dict[str, int] = field(default_factory=dict)
    ticket_money: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # Humanitix only
    # Sessions whose tickets sold reached their capacity, as the API reports both (Humanitix:
    # complete tickets of a date vs the event's ``totalCapacity``, which applies to each date;
    # Eventbrite: Σ ``quantity_sold`` vs the event's ``capacity``). Sorted session ids.
    sessions_at_capacity: list[str] = field(default_factory=list)
    # Humanitix: events per region (``location``); regions other than the account's own are
    # served only with ``overrideLocation``.
    events_by_region: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "account_id": self.account_id,
            "currency": self.currency,
            "events": self.events,
            "series_parents": self.series_parents,
            "sessions": self.sessions,
            "ticket_types": self.ticket_types,
            "orders": self.orders,
            "orders_by_status": self.orders_by_status,
            "tickets": self.tickets,
            "tickets_by_status": self.tickets_by_status,
            "money": {c: {k: str(v) for k, v in m.items()} for c, m in self.money.items()},
            "sold_by_event": self.sold_by_event,
            "ticket_money": {
                c: {k: str(v) for k, v in m.items()} for c, m in self.ticket_money.items()
            },
            "events_by_region": self.events_by_region,
            "sessions_at_capacity": self.sessions_at_capacity,
        }


def _add(money: dict[str, dict[str, Decimal]], currency: str, key: str, value: Decimal) -> None:
    bucket = money.setdefault(currency, {})
    bucket[key] = bucket.get(key, Decimal(0)) + value


def compute_truth(ds: SandboxStore) -> dict[tuple[str, str], AccountTruth]:
    out: dict[tuple[str, str], AccountTruth] = {}
    loads = orjson.loads
    for account in ds.hx_accounts.values():
        truth = AccountTruth("humanitix", account.account_id, account.currency)
        orders_by: Counter[str] = Counter()
        tickets_by: Counter[str] = Counter()
        regions: Counter[str] = Counter()
        for event in account.events.values():
            record = loads(event.record)
            truth.events += 1
            regions[record["location"]] += 1
            truth.sessions += sum(1 for d in record["dates"] if not d["deleted"])
            truth.ticket_types += sum(1 for t in record["ticketTypes"] if not t["deleted"])
            for raw in event.orders.values():
                order = loads(raw)
                orders_by[order["financialStatus"]] += 1
                currency = order["currency"]
                for key in ("grossSales", "netSales", "refunds", "total"):
                    _add(truth.money, currency, f"totals.{key}", decimal_of(order["totals"][key]))
            sold = 0
            sold_by_date: Counter[str] = Counter()
            for raw in event.tickets.values():
                ticket = loads(raw)
                tickets_by[ticket["status"]] += 1
                sold += ticket["status"] == "complete"
                sold_by_date[ticket["eventDateId"]] += ticket["status"] == "complete"
                currency = ticket["currency"]
                _add(truth.money, currency, "ticket.price", decimal_of(ticket["price"]))
                _add(truth.money, currency, "ticket.total", decimal_of(ticket["total"]))
                v2 = ticket["totalsV2"]
                for key, name in (("gross", "grossSales"), ("refunded", "refunds")):
                    _add(truth.ticket_money, currency, key, decimal_of(v2[name]))
                _add(truth.ticket_money, currency, "net", decimal_of(v2["netSales"]))
            truth.sold_by_event[event.id] = sold
            capacity = record["totalCapacity"]
            truth.sessions_at_capacity += [
                d["_id"]
                for d in record["dates"]
                if not d["deleted"] and capacity and sold_by_date[d["_id"]] >= capacity
            ]
        truth.sessions_at_capacity.sort()
        truth.events_by_region = dict(sorted(regions.items()))
        truth.orders = sum(orders_by.values())
        truth.orders_by_status = dict(sorted(orders_by.items()))
        truth.tickets = sum(tickets_by.values())
        truth.tickets_by_status = dict(sorted(tickets_by.items()))
        out[("humanitix", account.account_id)] = truth

    for org in ds.eb_orgs.values():
        truth = AccountTruth("eventbrite", org.id, org.currency)
        orders_by = Counter()
        tickets_by = Counter()
        for event_id in org.event_ids:
            event = ds.eb_events[event_id]
            truth.events += 1
            if loads(event.record)["is_series_parent"]:
                truth.series_parents += 1
                continue
            truth.sessions += 1
            truth.ticket_types += len(event.ticket_classes)
            sold = 0
            for tc in event.ticket_classes:
                quantity = eb_ticket_class_record(event, tc, ds.now_ms)["quantity_sold"]
                sold += quantity
                _add(truth.money, event.currency, "ticket_class.quantity_sold", Decimal(quantity))
            truth.sold_by_event[event.id] = sold
            capacity = loads(event.record)["capacity"]
            if capacity and sold >= capacity:
                truth.sessions_at_capacity.append(event.id)
            for _, attendee_id, flag in event.attendee_index:
                if flag == EB_ATT_DELETED:
                    continue
                attendee = loads(event.attendees[attendee_id])
                tickets_by[attendee["status"]] += 1
                gross = attendee["costs"]["gross"]
                _add(
                    truth.money,
                    gross["currency"],
                    "attendee.costs.gross.value",
                    Decimal(gross["value"]),
                )
        for _, order_id, status in org.order_index:
            if status == EB_ORDER_DELETED:
                continue
            order = loads(ds.eb_orders[order_id])
            orders_by[order["status"]] += 1
            gross = order["costs"]["gross"]
            _add(truth.money, gross["currency"], "order.costs.gross.value", Decimal(gross["value"]))
        truth.sessions_at_capacity.sort()
        truth.orders = sum(orders_by.values())
        truth.orders_by_status = dict(sorted(orders_by.items()))
        truth.tickets = sum(tickets_by.values())
        truth.tickets_by_status = dict(sorted(tickets_by.items()))
        out[("eventbrite", org.id)] = truth
    return out
