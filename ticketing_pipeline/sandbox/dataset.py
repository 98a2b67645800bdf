"""The in-memory store behind both fake APIs.

Every served record is kept as pre-serialized orjson bytes, so a page is a ``b",".join`` of
stored values and a data set of a million orders fits comfortably in memory. Beside the bytes,
each event and organization keeps small index lists of tuples ``(cursor, id, flags...)`` sorted
by ``(cursor, id)``: the ``since``/``changed_since`` filters are bisects and keyset pagination
is a bisect too. Ids are fixed-width strings, so string order is numeric order.

Humanitix cursors are epoch milliseconds (``updatedAt``); Eventbrite cursors are epoch seconds
(``changed``), the resolution of Eventbrite's timestamps.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ticketing_pipeline.sandbox.generator import SandboxSpec
    from ticketing_pipeline.sandbox.mutate import MutationSummary
    from ticketing_pipeline.sandbox.truth import AccountTruth

# Flags stored in index tuples (small ints keep the tuples cheap).
HX_TICKET_COMPLETE, HX_TICKET_CANCELLED = 0, 1
EB_ORDER_PLACED, EB_ORDER_REFUNDED, EB_ORDER_CANCELLED, EB_ORDER_DELETED = 0, 1, 2, 3
EB_ORDER_STATUS_NAMES = ("placed", "refunded", "cancelled", "deleted")
EB_ATT_ATTENDING, EB_ATT_NOT_ATTENDING, EB_ATT_DELETED = 0, 1, 2


@dataclass(slots=True)
class HxSession:
    id: str
    start_ms: int
    end_ms: int
    schedule_id: str | None
    disabled: bool = False
    deleted: bool = False


@dataclass(slots=True)
class HxTicketType:
    id: str
    name: str
    price: int  # cents; for donation types the suggested minimum
    is_donation: bool
    quantity: int
    description: str
    disabled: bool = False
    deleted: bool = False
    weight: int = 1  # how often buyers pick it (generator only)


@dataclass(slots=True, eq=False)
class HxEvent:
    id: str
    account_id: str
    name: str
    currency: str
    timezone: str
    created_ms: int
    updated_ms: int
    published: bool
    pass_fees: bool
    sessions: list[HxSession]
    ticket_types: list[HxTicketType]
    location: dict[str, Any]
    classification: dict[str, Any]
    tag_ids: list[str]
    sold_out: bool = False
    record: bytes = b""
    orders: dict[str, bytes] = field(default_factory=dict)
    # (updatedAt ms, order id, session position)
    order_index: list[tuple[int, str, int]] = field(default_factory=list)
    tickets: dict[str, bytes] = field(default_factory=dict)
    # (updatedAt ms, ticket id, session position, HX_TICKET_* status)
    ticket_index: list[tuple[int, str, int, int]] = field(default_factory=list)
    order_tickets: dict[str, list[str]] = field(default_factory=dict)
    next_ticket_number: int = 1
    # Complete tickets per (ticket type id, session position): sizes capacities.
    sold: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def start_ms(self) -> int:
        return min(s.start_ms for s in self.sessions if not s.deleted)

    @property
    def end_ms(self) -> int:
        return max(s.end_ms for s in self.sessions if not s.deleted)

    def session_pos(self, date_id: str) -> int | None:
        for pos, session in enumerate(self.sessions):
            if session.id == date_id:
                return pos
        return None


@dataclass(slots=True, eq=False)
class HxAccount:
    account_id: str
    display_name: str
    api_key: str
    user_id: str
    organiser_id: str
    currency: str
    timezone: str
    country: str
    events: dict[str, HxEvent] = field(default_factory=dict)
    # (updatedAt ms, event id)
    event_index: list[tuple[int, str]] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class EbTicketClass:
    id: str
    name: str
    cost: int | None  # cents; None for donation classes
    free: bool
    donation: bool
    hidden: bool
    quantity_total: int
    sales_start_ms: int
    sales_end_ms: int
    sorting: int
    description: str
    sold: int = 0  # Eventbrite's quantity_sold: attendees still attending
    weight: int = 1  # how often buyers pick it (generator only)


@dataclass(slots=True, eq=False)
class EbEvent:
    id: str
    org_id: str
    name: str
    summary: str
    timezone: str
    currency: str
    locale: str
    start_ms: int
    end_ms: int
    created_ms: int
    changed_ms: int
    status: str
    published_ms: int | None
    listed: bool
    online: bool
    venue_id: str | None
    is_series: bool
    is_parent: bool
    series_id: str | None
    pass_fees: bool
    category_id: str
    format_id: str
    ticket_classes: list[EbTicketClass] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    record: bytes = b""
    # (changed s, order id, EB_ORDER_*)
    order_index: list[tuple[int, str, int]] = field(default_factory=list)
    attendees: dict[str, bytes] = field(default_factory=dict)
    # (changed s, attendee id, EB_ATT_*)
    attendee_index: list[tuple[int, str, int]] = field(default_factory=list)
    order_attendees: dict[str, list[str]] = field(default_factory=dict)

    @property
    def capacity(self) -> int:
        return sum(tc.quantity_total for tc in self.ticket_classes)


@dataclass(slots=True, eq=False)
class EbOrg:
    id: str
    name: str
    token: str
    currency: str
    timezone: str
    locale: str
    country: str
    event_ids: list[str] = field(default_factory=list)
    venue_ids: list[str] = field(default_factory=list)
    # (changed s, order id, EB_ORDER_*)
    order_index: list[tuple[int, str, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SandboxAccount:
    """One configured account: what the pipeline's account config needs to reach it."""

    platform: str  # "humanitix" | "eventbrite"
    account_id: str  # Humanitix: a label like "hx-acc-1"; Eventbrite: the organization id
    display_name: str
    secret: str  # Humanitix API key or Eventbrite bearer token
    currency: str


@dataclass(frozen=True, slots=True)
class ChangeNotice:
    """One change, in the order it happened, for a webhook sender (or a relay) to announce.

    ``api_path`` is relative to the platform base (``/orders/123/`` or
    ``/events/<id>/orders/<id>``); Eventbrite webhooks send it as ``api_url``.
    """

    seq: int
    platform: str
    account_id: str
    kind: str  # order.placed | order.updated | order.refunded | attendee.updated
    object_id: str
    api_path: str
    at: str  # ISO-8601 UTC


class SandboxDataset:
    """The generated data of both platforms plus the sandbox clock. Build it with ``generate``.

    Thread-safety: readers (the API handlers) and writers (``mutate``) take ``lock``.
    """

    def __init__(self, spec: SandboxSpec, anchor_ms: int, machine: int) -> None:
        self.spec = spec
        self.anchor_ms = anchor_ms
        # The latest timestamp in the data; mutations happen strictly after it.
        self.clock_ms = anchor_ms
        self.machine = machine
        self.id_counter = 0
        self.eb_counter = 0
        self.mutation_count = 0
        self.lock = threading.RLock()
        self.hx_accounts: dict[str, HxAccount] = {}
        self.hx_by_key: dict[str, HxAccount] = {}
        self.hx_events: dict[str, HxEvent] = {}
        self.eb_orgs: dict[str, EbOrg] = {}
        self.eb_tokens: dict[str, list[str]] = {}
        self.eb_events: dict[str, EbEvent] = {}
        self.eb_venues: dict[str, tuple[str, bytes]] = {}
        self.eb_orders: dict[str, bytes] = {}
        self.eb_order_event: dict[str, EbEvent] = {}
        self.changes: list[ChangeNotice] = []

    # The lock cannot be pickled (cache.py stores data sets on disk): drop and recreate it.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()

    # --- ids -----------------------------------------------------------------------------------

    def next_counter(self, n: int = 1) -> int:
        first = self.id_counter
        self.id_counter += n
        return first

    def next_eb(self, n: int = 1) -> int:
        first = self.eb_counter
        self.eb_counter += n
        return first

    # --- public API ----------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        """The sandbox's "now": ``time_filter``, ``inFutureOnly`` and event statuses use it."""
        return self.clock_ms

    @property
    def accounts(self) -> list[SandboxAccount]:
        out = [
            SandboxAccount("humanitix", a.account_id, a.display_name, a.api_key, a.currency)
            for a in self.hx_accounts.values()
        ]
        out += [
            SandboxAccount("eventbrite", o.id, o.name, o.token, o.currency)
            for o in self.eb_orgs.values()
        ]
        return out

    @property
    def order_count(self) -> int:
        hx = sum(len(e.orders) for e in self.hx_events.values())
        return hx + len(self.eb_orders)

    def truth(self) -> dict[tuple[str, str], AccountTruth]:
        """Ground truth per (platform, account_id), computed from the stored records."""
        from ticketing_pipeline.sandbox.truth import compute_truth

        with self.lock:
            return compute_truth(self)

    def mutate(self, fraction: float = 0.01, seed: int | None = None) -> MutationSummary:
        """Change ~``fraction`` of the orders at a sandbox time later than any existing one."""
        from ticketing_pipeline.sandbox.mutate import mutate

        with self.lock:
            return mutate(self, fraction=fraction, seed=seed)

    def changes_after(self, seq: int = 0) -> list[ChangeNotice]:
        """Change notices with ``seq`` greater than the given one (notices start at 1)."""
        with self.lock:
            return self.changes[seq:]
