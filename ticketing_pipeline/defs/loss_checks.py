"""Asset checks that catch silent loss: orders that stop arriving, webhooks that stop covering.

Both failures look like "a quiet day" in the marts, which is why they need checks of their own.

**Orders keep arriving** (per account, over ``staging.stg_<platform>__orders`` and the events'
on-sale windows): an account that sold ``n`` orders during ``H`` on-sale hours of the
``window_days`` before its last order sells at about ``λ = n / H`` orders per on-sale hour. If
orders arrive as a Poisson process, no order in the ``t`` on-sale hours since the last one has
probability ``e^(-λt)``. Below ``threshold`` (while some of its events are on sale now) the
silence is not plausibly chance: the check fails, naming the account and the events on sale.
The rate is measured *before* the last order so that a long outage does not lower its own
expected rate. Accounts with fewer than ``min_orders`` in the window are not judged.

**Webhook coverage** (accounts with ``webhook_secret_env``): of the orders the warehouse saw
change in the window (from either path), the share that a webhook announced, as the landing area
(``incoming/`` and ``processed/``) shows. The landing files are matched by order id (an
Eventbrite delivery carries no change time; a repeated change of an order counts as covered).
Below ``min_coverage`` the check fails with the likely cause: the webhook secret missing, the
webhook deleted or pointing elsewhere (the Eventbrite listing of ``accounts check``), the
receiver down (nothing landed from any account), or deliveries refused or failing to load.

An event is on sale from its ticket classes' earliest ``sales_start`` (Eventbrite) or its
publication (otherwise the creation) until the classes' latest ``sales_end`` or the event's end,
unless it is cancelled, unpublished or has sales suspended (Humanitix).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import sqlalchemy as sa

from ticketing_pipeline.config import AccountConfig, Platform, ProjectConfig
from ticketing_pipeline.warehouse import Warehouse

STAGING = "staging"
DEFAULT_WINDOW_DAYS = 14
DEFAULT_THRESHOLD = 0.001
DEFAULT_MIN_ORDERS = 10
DEFAULT_COVERAGE_WINDOW = timedelta(hours=24)
# Changes younger than this may still be on their way by webhook; they are not judged yet.
DEFAULT_COVERAGE_GRACE = timedelta(minutes=10)
DEFAULT_MIN_COVERAGE = 0.5
DEFAULT_MIN_CHANGES = 5
# How far before the coverage window the landing area is read (see coverage_verdicts).
LANDING_LOOKBACK = timedelta(days=7)
MAX_LISTED = 10
HOUR = 3600.0


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class OnSaleWindow:
    event_id: str
    event_name: str
    starts: datetime
    ends: datetime


def on_sale_hours(windows: Sequence[OnSaleWindow], start: datetime, end: datetime) -> float:
    """Hours between ``start`` and ``end`` during which at least one event was on sale."""
    spans = sorted((max(w.starts, start), min(w.ends, end)) for w in windows)
    total, cursor = 0.0, start
    for begin, finish in spans:
        begin = max(begin, cursor)
        if finish > begin:
            total += (finish - begin).total_seconds()
            cursor = finish
    return total / HOUR


# -- orders keep arriving -------------------------------------------------------------------------


@dataclass
class SilenceVerdict:
    account_key: str
    failed: bool
    reason: str
    orders_in_window: int = 0
    rate_per_hour: float | None = None
    silent_on_sale_hours: float | None = None
    probability: float | None = None
    last_order_at: datetime | None = None
    on_sale_now: list[OnSaleWindow] = field(default_factory=list)


def judge_silence(
    account_key: str,
    order_times: Sequence[datetime],
    windows: Sequence[OnSaleWindow],
    now: datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    threshold: float = DEFAULT_THRESHOLD,
    min_orders: int = DEFAULT_MIN_ORDERS,
) -> SilenceVerdict:
    """Pure decision: is the time since the account's last order implausible at its own rate?"""
    on_sale_now = [w for w in windows if w.starts <= now < w.ends]
    if not order_times:
        return SilenceVerdict(account_key, False, "no orders yet: nothing to compare with")
    last = max(order_times)
    history_start = last - timedelta(days=window_days)
    # Orders strictly before the last one: the last order ends the measured period.
    n = sum(1 for t in order_times if history_start <= t < last) + 1
    verdict = SilenceVerdict(
        account_key, False, "", orders_in_window=n, last_order_at=last, on_sale_now=on_sale_now
    )
    if n < min_orders:
        verdict.reason = f"only {n} orders in the {window_days} days before the last: not judged"
        return verdict
    hours = on_sale_hours(windows, history_start, last)
    if hours <= 0:
        verdict.reason = "no on-sale time before the last order: not judged"
        return verdict
    rate = n / hours
    silent = on_sale_hours(windows, last, now)
    probability = math.exp(-rate * silent)
    verdict.rate_per_hour, verdict.silent_on_sale_hours, verdict.probability = (
        rate,
        silent,
        probability,
    )
    if not on_sale_now:
        verdict.reason = "no event is on sale now"
        return verdict
    verdict.failed = probability < threshold
    verdict.reason = (
        f"no order for {silent:.1f} on-sale hours at {rate:.2f} orders/hour "
        f"(P = {probability:.2g}{' < ' if verdict.failed else ' >= '}{threshold:g})"
    )
    return verdict


def describe_silence(verdict: SilenceVerdict) -> str:
    shown = verdict.on_sale_now[:MAX_LISTED]
    events = ", ".join(f"{w.event_name} ({w.event_id})" for w in shown) or "nothing"
    if len(verdict.on_sale_now) > MAX_LISTED:
        events += f" and {len(verdict.on_sale_now) - MAX_LISTED} more"
    last = verdict.last_order_at.isoformat() if verdict.last_order_at else "never"
    return f"{verdict.account_key}: {verdict.reason}; last order {last}; on sale now: {events}"


_WINDOWS_SQL = {
    Platform.EVENTBRITE: """
        select e.account_id, e.event_id, e.event_name,
               coalesce(min(tc.sales_start_at), e.published_at, e.created_at) as on_sale_from,
               coalesce(max(tc.sales_end_at), e.ends_at) as on_sale_until
        from {schema}.stg_eventbrite__events e
        left join {schema}.stg_eventbrite__ticket_classes tc
          on tc.account_id = e.account_id and tc.event_id = e.event_id
        where e.event_status <> 'cancelled' and e.is_published and not e.is_series_parent
        group by e.account_id, e.event_id, e.event_name, e.published_at, e.created_at, e.ends_at
    """,
    Platform.HUMANITIX: """
        select e.account_id, e.event_id, e.event_name,
               coalesce(e.published_at, e.created_at) as on_sale_from,
               coalesce(max(d.ends_at), e.ends_at) as on_sale_until
        from {schema}.stg_humanitix__events e
        left join {schema}.stg_humanitix__event_dates d
          on d.account_id = e.account_id and d.event_id = e.event_id and not d.is_deleted
        where e.is_published and not coalesce(e.is_sales_suspended, false)
        group by e.account_id, e.event_id, e.event_name, e.published_at, e.created_at, e.ends_at
    """,
}


def _rows(warehouse: Warehouse, sql: str, **params: Any) -> list[sa.Row[Any]]:
    with warehouse.connect(read_only=True) as connection:
        return list(connection.execute(sa.text(sql), params))


def on_sale_windows(
    warehouse: Warehouse, platform: Platform, schema: str = STAGING
) -> dict[str, list[OnSaleWindow]]:
    out: dict[str, list[OnSaleWindow]] = {}
    for row in _rows(warehouse, _WINDOWS_SQL[platform].format(schema=schema)):
        starts, ends = _utc(row.on_sale_from), _utc(row.on_sale_until)
        if starts is None or ends is None or ends <= starts:
            continue
        out.setdefault(row.account_id, []).append(
            OnSaleWindow(str(row.event_id), row.event_name or "", starts, ends)
        )
    return out


def recent_order_times(
    warehouse: Warehouse, platform: Platform, window_days: int, schema: str = STAGING
) -> dict[str, list[datetime]]:
    """Per account, the times of its orders in the ``window_days`` up to its last order."""
    table = f"{schema}.stg_{platform.value}__orders"
    rows = _rows(
        warehouse,
        f"""
        with latest as (
            select account_id, max(ordered_at) as last_order_at from {table} group by account_id
        )
        select o.account_id, o.ordered_at
        from {table} o join latest l on l.account_id = o.account_id
        where o.ordered_at >= l.last_order_at - (:days * interval '1 day')
        """,
        days=window_days,
    )
    out: dict[str, list[datetime]] = {}
    for account_id, ordered_at in rows:
        if ordered_at is not None:
            out.setdefault(account_id, []).append(_utc(ordered_at))
    return out


def silence_verdicts(
    warehouse: Warehouse,
    accounts: Sequence[AccountConfig],
    now: datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    threshold: float = DEFAULT_THRESHOLD,
    min_orders: int = DEFAULT_MIN_ORDERS,
) -> list[SilenceVerdict]:
    verdicts = []
    for platform in Platform:
        mine = [a for a in accounts if a.platform is platform]
        if not mine:
            continue
        windows = on_sale_windows(warehouse, platform)
        orders = recent_order_times(warehouse, platform, window_days)
        for account in mine:
            verdicts.append(
                judge_silence(
                    account.key,
                    orders.get(account.account_id, []),
                    windows.get(account.account_id, []),
                    now,
                    window_days,
                    threshold,
                    min_orders,
                )
            )
    return verdicts


# -- webhook coverage -----------------------------------------------------------------------------


@dataclass
class CoverageVerdict:
    account_key: str
    failed: bool
    changed: int
    covered: int
    diagnosis: str

    @property
    def coverage(self) -> float | None:
        return self.covered / self.changed if self.changed else None


def judge_coverage(
    account_key: str,
    changed_order_ids: set[str],
    delivered_order_ids: set[str],
    *,
    deliveries_for_account: int,
    deliveries_any_account_recent: int,
    failed_deliveries: int,
    webhook_secret_set: bool,
    webhook_listing_problem: str | None = None,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    min_changes: int = DEFAULT_MIN_CHANGES,
) -> CoverageVerdict:
    """Pure decision: did webhooks announce enough of the changes the API sync found, and if
    not, what is the most likely reason?"""
    changed = len(changed_order_ids)
    covered = len(changed_order_ids & delivered_order_ids)
    if changed < min_changes:
        return CoverageVerdict(
            account_key, False, changed, covered, f"only {changed} changed orders: not judged"
        )
    share = covered / changed
    if share >= min_coverage:
        return CoverageVerdict(
            account_key, False, changed, covered, f"{covered} of {changed} came by webhook"
        )
    if not webhook_secret_set:
        cause = "the webhook secret is not set, so the receiver cannot accept (or start)"
    elif webhook_listing_problem:
        cause = f"the webhook is not registered right: {webhook_listing_problem}"
    elif deliveries_any_account_recent == 0:
        cause = "nothing landed from any account: the receiver is down or unreachable"
    elif deliveries_for_account == 0:
        cause = "no delivery for this account landed: the sender (webhook or relay) stopped"
    elif failed_deliveries:
        cause = f"{failed_deliveries} deliveries failed to load (landing/failed/)"
    else:
        cause = "deliveries arrive but miss changes: check the receiver's rejections (/metrics)"
    return CoverageVerdict(
        account_key,
        True,
        changed,
        covered,
        f"only {covered} of {changed} changed orders came by webhook ({share:.0%}): {cause}",
    )


def changed_orders(
    warehouse: Warehouse,
    platform: Platform,
    since: datetime,
    until: datetime,
    schema: str = STAGING,
) -> dict[str, dict[str, datetime]]:
    """Per account, the orders whose last change is in [since, until), with that time."""
    rows = _rows(
        warehouse,
        f"select account_id, order_id, updated_at from {schema}.stg_{platform.value}__orders "
        "where updated_at >= :since and updated_at < :until",
        since=since,
        until=until,
    )
    out: dict[str, dict[str, datetime]] = {}
    for account_id, order_id, updated_at in rows:
        out.setdefault(account_id, {})[str(order_id)] = _utc(updated_at)
    return out


def coverage_verdicts(
    config: ProjectConfig,
    warehouse: Warehouse,
    accounts: Sequence[AccountConfig],
    since: datetime,
    until: datetime,
    received_since: datetime | None = None,
    from_first_delivery: bool = False,
    list_webhooks: bool = True,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    min_changes: int = DEFAULT_MIN_CHANGES,
) -> list[CoverageVerdict]:
    """Coverage of the order changes made in [since, until) by deliveries received since
    ``received_since`` (default: ``since``; a separate argument because a sandbox's clock is not
    the wall clock the receiver stamps deliveries with).

    ``from_first_delivery``: for an account that has deliveries, judge only the changes made
    after its oldest delivery still in the landing area, so that the changes made before its
    webhook existed (a newly registered one) do not count as missed. Needs the platform's and
    the receiver's clocks to agree, which real ones do and a sandbox's does not.
    """
    from ticketing_pipeline.config import ConfigError
    from ticketing_pipeline.operations.accounts_check import Status, check_webhook
    from ticketing_pipeline.operations.landing_scan import scan_landing
    from ticketing_pipeline.webhooks.landing import LandingArea

    with_webhooks = [a for a in accounts if a.webhook_secret_env]
    if not with_webhooks:
        return []
    received_since = received_since or since
    # Older deliveries only matter to tell whether an account delivered before ``since``.
    landing = scan_landing(
        LandingArea.for_data_dir(config.data_dir),
        received_after=min(received_since, since) - LANDING_LOOKBACK,
    )
    any_recent = sum(s.received_since(received_since) for s in landing.accounts.values())
    verdicts = []
    for platform in Platform:
        mine = [a for a in with_webhooks if a.platform is platform]
        if not mine:
            continue
        changed = changed_orders(warehouse, platform, since, until)
        for account in mine:
            seen = landing.for_account(account.key)
            account_changes = changed.get(account.account_id, {})
            if from_first_delivery and seen.received:
                first = min(seen.received)
                account_changes = {o: at for o, at in account_changes.items() if at >= first}
            try:
                account.webhook_secret()
                secret_set = True
            except ConfigError:  # missing, or no variable configured: both mean "not set"
                secret_set = False
            problem = None
            if list_webhooks and secret_set and platform is Platform.EVENTBRITE:
                step = check_webhook(config, account, api_ok=True)
                problem = step.detail if step.status is Status.FAIL else None
            delivered = {oid for oid, at in seen.order_ids.items() if at >= received_since}
            verdicts.append(
                judge_coverage(
                    account.key,
                    set(account_changes),
                    delivered,
                    deliveries_for_account=seen.received_since(received_since),
                    deliveries_any_account_recent=any_recent,
                    failed_deliveries=seen.counts.get("failed", 0),
                    webhook_secret_set=secret_set,
                    webhook_listing_problem=problem,
                    min_coverage=min_coverage,
                    min_changes=min_changes,
                )
            )
    return verdicts


# -- Dagster --------------------------------------------------------------------------------------


def _check_name(prefix: str, platform: Platform) -> str:
    return re.sub(r"[^a-z0-9_]", "_", f"{prefix}_{platform.value}")


def build_loss_checks(
    config: ProjectConfig,
    warehouse: Warehouse,
    pool: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[dg.AssetChecksDefinition]:
    """Per platform with enabled accounts: orders keep arriving; webhook coverage if used."""
    checks = []
    for platform in Platform:
        accounts = config.enabled_accounts(platform)
        if not accounts:
            continue
        asset = dg.AssetKey([STAGING, f"stg_{platform.value}__orders"])
        checks.append(_orders_check(asset, platform, accounts, warehouse, pool, clock))
        if any(a.webhook_secret_env for a in accounts):
            checks.append(
                _coverage_check(asset, platform, accounts, config, warehouse, pool, clock)
            )
    return checks


def _orders_check(asset, platform, accounts, warehouse, pool, clock):
    @dg.asset_check(
        asset=asset,
        name=_check_name("orders_keep_arriving", platform),
        description=(
            "Fails when an account's orders stop while its events are on sale: the time since "
            "its last order is implausible at its own recent sales rate (Poisson, P < "
            f"{DEFAULT_THRESHOLD:g}). Names the account and the events on sale."
        ),
        pool=pool,
    )
    def orders_keep_arriving() -> dg.AssetCheckResult:
        verdicts = silence_verdicts(warehouse, accounts, clock())
        failed = [v for v in verdicts if v.failed]
        return dg.AssetCheckResult(
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR,
            description="\n".join(describe_silence(v) for v in (failed or verdicts)),
            metadata={
                "silent_accounts": dg.MetadataValue.json([v.account_key for v in failed]),
                "probabilities": dg.MetadataValue.json(
                    {v.account_key: v.probability for v in verdicts}
                ),
            },
        )

    return orders_keep_arriving


def _coverage_check(asset, platform, accounts, config, warehouse, pool, clock):
    @dg.asset_check(
        asset=asset,
        name=_check_name("webhook_coverage", platform),
        description=(
            "Of the orders that changed in the last 24 h, the share announced by webhook; "
            f"fails below {DEFAULT_MIN_COVERAGE:.0%} with the likely cause (secret missing, "
            "webhook deleted, receiver down, deliveries failing)."
        ),
        pool=pool,
    )
    def webhook_coverage() -> dg.AssetCheckResult:
        now = clock()
        verdicts = coverage_verdicts(
            config,
            warehouse,
            accounts,
            since=now - DEFAULT_COVERAGE_WINDOW,
            until=now - DEFAULT_COVERAGE_GRACE,
            from_first_delivery=True,
        )
        failed = [v for v in verdicts if v.failed]
        return dg.AssetCheckResult(
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR,
            description="\n".join(f"{v.account_key}: {v.diagnosis}" for v in verdicts),
            metadata={
                "coverage": dg.MetadataValue.json({v.account_key: v.coverage for v in verdicts}),
                "failing_accounts": dg.MetadataValue.json([v.account_key for v in failed]),
            },
        )

    return webhook_coverage


LOSS_CHECKS_JOB = "silent_loss_checks_job"
# Silence is exactly when nothing new is materialized, so the checks cannot wait for a
# materialization of the orders: they run on their own schedule.
LOSS_CHECKS_CRON = "*/30 * * * *"


def build_loss_defs(
    config: ProjectConfig,
    warehouse: Warehouse,
    pool: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dg.Definitions:
    """The loss checks, a job that runs only them, and its schedule (every 30 minutes)."""
    checks = build_loss_checks(config, warehouse, pool=pool, clock=clock)
    if not checks:
        return dg.Definitions()
    job = dg.define_asset_job(LOSS_CHECKS_JOB, selection=dg.AssetSelection.checks(*checks))
    schedule = dg.ScheduleDefinition(
        name="silent_loss_checks_schedule",
        job=job,
        cron_schedule=LOSS_CHECKS_CRON,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return dg.Definitions(asset_checks=checks, jobs=[job], schedules=[schedule])
