"""A deterministic data set for both platforms: ``generate(SandboxSpec(...))``.

Same spec, same bytes: every random choice comes from one ``random.Random(seed)`` consumed in a
fixed order, and every timestamp derives from ``spec.anchor`` (never the wall clock). Events run
from about a year before the anchor to six months after it, so some ended long ago and some are
still selling; orders are placed between an event's on-sale date and the earlier of the session
start and the anchor.

This module composes the platforms' generators (``generation/humanitix.py``,
``generation/eventbrite.py``, sharing ``generation/common.py``): the Humanitix accounts first,
then the Eventbrite organizations, each with its share of the orders. Money is integer cents
throughout (see ``money.py``); records are rendered once to orjson bytes and stored in a
``SandboxDataset``.
"""

from __future__ import annotations

import gc
import hashlib
import random
from datetime import datetime, timedelta

from ticketing_pipeline.sandbox.dataset import SandboxDataset
from ticketing_pipeline.sandbox.formats import datetime_to_ms
from ticketing_pipeline.sandbox.generation import eventbrite, humanitix
from ticketing_pipeline.sandbox.generation.common import (
    DAY_MS,
    EB_CURRENCIES,
    HX_CURRENCIES,
    TOKEN_ALPHABET,
    GenerationContext,
    secret,
)
from ticketing_pipeline.sandbox.model import DEFAULT_ANCHOR, SandboxSpec

__all__ = ["DEFAULT_ANCHOR", "SandboxSpec", "anchor_plus", "generate"]


# --- the generator -----------------------------------------------------------------------------


class _Generator:
    def __init__(self, spec: SandboxSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.anchor_ms = datetime_to_ms(spec.anchor)
        machine = int(hashlib.sha256(f"machine:{spec.seed}".encode()).hexdigest()[:4], 16)
        self.ds = SandboxDataset(spec, self.anchor_ms, machine)
        self.ctx = GenerationContext(spec, self.rng, self.anchor_ms, self.ds)

    def _order_shares(self) -> list[int]:
        accounts = self.spec.account_count
        base, extra = divmod(self.spec.orders, accounts)
        return [base + (1 if i < extra else 0) for i in range(accounts)]

    def run(self) -> SandboxDataset:
        shares = self._order_shares()
        spec = self.spec
        for k in range(spec.humanitix_accounts):
            humanitix.generate_account(
                self.ctx, k, HX_CURRENCIES[k % len(HX_CURRENCIES)], shares[k]
            )
        main_token = secret(spec.seed, "eventbrite-token-1", 20, TOKEN_ALPHABET)
        second_token = secret(spec.seed, "eventbrite-token-2", 20, TOKEN_ALPHABET)
        total_eb = spec.eventbrite_orgs + spec.eventbrite_second_token_orgs
        for k in range(total_eb):
            token = main_token if k < spec.eventbrite_orgs else second_token
            share = shares[spec.humanitix_accounts + k]
            eventbrite.generate_org(
                self.ctx, k, EB_CURRENCIES[k % len(EB_CURRENCIES)], share, token
            )
        self.ds.clock_ms = self._latest_timestamp()
        return self.ds

    def _latest_timestamp(self) -> int:
        latest = self.anchor_ms - DAY_MS
        for event in self.ds.hx_events.values():
            latest = max(latest, event.updated_ms)
            if event.order_index:
                latest = max(latest, event.order_index[-1][0])
            if event.ticket_index:
                latest = max(latest, event.ticket_index[-1][0])
        for org in self.ds.eb_orgs.values():
            if org.order_index:
                latest = max(latest, org.order_index[-1][0] * 1000 + 999)
        for eb_event in self.ds.eb_events.values():
            latest = max(latest, eb_event.changed_ms)
            if eb_event.attendee_index:
                latest = max(latest, eb_event.attendee_index[-1][0] * 1000 + 999)
        return max(latest, self.anchor_ms)


def generate(spec: SandboxSpec | None = None) -> SandboxDataset:
    """Build the data set for ``spec`` (defaults: seed 7, 10,000 orders, 2+2(+1) accounts)."""
    # Millions of long-lived tuples and dicts make every cyclic-GC pass rescan them all: pause
    # the collector while building (nothing here forms cycles), then freeze the result so later
    # collections (in the server) skip it too.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Generator(spec or SandboxSpec()).run()
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def anchor_plus(spec: SandboxSpec, days: float) -> datetime:
    """A time relative to the spec's anchor (handy for tests of ``since`` filters)."""
    return spec.anchor + timedelta(days=days)
