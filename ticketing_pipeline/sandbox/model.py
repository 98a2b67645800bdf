"""The sandbox's data model: the spec, the stored records and their indexes, nothing else.

Every other sandbox module builds on this one and it imports none of them: imports inside the
package run one way (see the package docstring). ``SandboxStore`` is the store ``generate``
fills; ``dataset.SandboxDataset`` adds ``truth()`` and ``mutate()`` on top of it.

Every served record is kept as pre-serialized orjson bytes, so a page is a ``b",".join`` of
stored values and a data set of a million orders fits comfortably in memory. Beside the bytes,
each event and organization keeps small index lists of tuples ``(cursor, id, flags...)`` sorted
by ``(cursor, id)``: the ``since``/``changed_since`` filters are bisects and keyset pagination
is a bisect too. Ids are fixed-width strings, so string order is numeric order.

Humanitix cursors are epoch milliseconds (``updatedAt``); Eventbrite cursors are epoch seconds
(``changed``), the resolution of Eventbrite's timestamps.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_ANCHOR = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)

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


@dataclass(slots=True)
class HxPackage:
    """A Humanitix package (``packagedTickets[]``): several tickets sold together for one price."""

    id: str
    name: str
    price: int  # cents, for the whole package
    # (ticket type, quantity, the package entry's own _id)
    items: list[tuple[HxTicketType, int, str]]
    description: str = ""


class HxTicketStore(MutableMapping[str, bytes]):
    """Ticket bytes by id, stored as ``(head, tail)`` and served as ``head + tail``.

    Every ticket carries ``totalsV2`` (about 4.8 KB of JSON, almost all zeros): stored whole per
    ticket that would multiply the data set's memory by six. Its text depends only on the
    ticket's money and status, so the tail (``totalsV2`` and the closing brace) is one shared
    bytes object per distinct value and each ticket keeps only its own head.
    """

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes, bytes]] = {}

    def put(self, ticket_id: str, head: bytes, tail: bytes) -> None:
        self._data[ticket_id] = (head, tail)

    def __getitem__(self, ticket_id: str) -> bytes:
        head, tail = self._data[ticket_id]
        return head + tail

    def __setitem__(self, ticket_id: str, value: bytes) -> None:
        self._data[ticket_id] = (value, b"")

    def __delitem__(self, ticket_id: str) -> None:
        del self._data[ticket_id]

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getstate__(self) -> dict[str, tuple[bytes, bytes]]:
        return self._data

    def __setstate__(self, state: dict[str, tuple[bytes, bytes]]) -> None:
        self._data = state


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
    # The region whose store holds the event (and its orders and tickets): ``location``.
    region: str = ""
    packages: list[HxPackage] = field(default_factory=list)
    sold_out: bool = False
    record: bytes = b""
    orders: dict[str, bytes] = field(default_factory=dict)
    # (updatedAt ms, order id, session position)
    order_index: list[tuple[int, str, int]] = field(default_factory=list)
    tickets: HxTicketStore = field(default_factory=HxTicketStore)
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
    country: str  # the key owner's region: what the API answers without overrideLocation
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
    # Humanitix: the regions holding the account's events, its own (the default) first. A region
    # other than the first is only served with ``overrideLocation=<region>``.
    regions: tuple[str, ...] = ()


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


@dataclass(frozen=True)
class SandboxSpec:
    """What to generate. ``orders`` is the total across all accounts of both platforms."""

    seed: int = 7
    orders: int = 10_000
    humanitix_accounts: int = 2
    # Organizations visible to the first Eventbrite token (one token, several orgs).
    eventbrite_orgs: int = 2
    # Organizations behind a second token, so tests can prove token isolation. 0 disables it.
    eventbrite_second_token_orgs: int = 1
    anchor: datetime = DEFAULT_ANCHOR
    # Top-level events per account; None scales with the account's share of orders.
    events_per_account: int | None = None
    # Humanitix accounts also hold events in a second region (AU <-> NZ, GB -> US, US -> GB),
    # every third regular event. Those events, their orders and tickets are served
    # only with ``overrideLocation=<region>``, as on the real platform (data lives per region).
    # Off by default: a client that does not sync regions would miss them.
    humanitix_second_region: bool = False

    @property
    def account_count(self) -> int:
        return self.humanitix_accounts + self.eventbrite_orgs + self.eventbrite_second_token_orgs

    def events_for(self, orders_of_account: int) -> int:
        if self.events_per_account is not None:
            return self.events_per_account
        # ~6 for small sets, ~75 per account for 250k orders: a few hundred events at 1M.
        return 6 + orders_of_account // 3500

    def cache_key(self) -> str:
        text = repr(
            (
                self.seed,
                self.orders,
                self.humanitix_accounts,
                self.eventbrite_orgs,
                self.eventbrite_second_token_orgs,
                self.anchor.isoformat(),
                self.events_per_account,
                self.humanitix_second_region,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class SandboxStore:
    """The generated data of both platforms plus the sandbox clock: what ``generate`` fills.

    ``dataset.SandboxDataset`` adds ``truth()`` and ``mutate()``; ``generate`` returns one.
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
            SandboxAccount(
                "humanitix",
                a.account_id,
                a.display_name,
                a.api_key,
                a.currency,
                (a.country, *sorted({e.region for e in a.events.values()} - {a.country})),
            )
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

    def changes_after(self, seq: int = 0) -> list[ChangeNotice]:
        """Change notices with ``seq`` greater than the given one (notices start at 1)."""
        with self.lock:
            return self.changes[seq:]
