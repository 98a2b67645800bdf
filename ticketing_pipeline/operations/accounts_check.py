"""``ticketing accounts check``: is each configured account able to deliver its data?

Per account, in order (a failed step makes the ones that need it ``skip``):

1. ``config``: the account's entry is valid (the whole file was validated when loaded).
2. ``secret``: the API key/token variable is set (its value is never printed or stored).
3. ``api``: the platform accepts the secret, with one cheap authenticated call through the
   sources' own client. Eventbrite: the organization is among ``/users/me/organizations/``.
   Humanitix: the first event of ``/events`` (page size 1).
4. ``webhook``: Eventbrite with ``webhook_secret_env``: the organization's webhooks, listed by
   the API; one must point at the receiver for this organization with one of the configured
   tokens (at ``[webhooks] public_url`` when set) and carry every action the pipeline needs.
   Relays (Humanitix): the receiver's secret is set. Accounts without ``webhook_secret_env``
   are sync-only (``skip``).
5. ``receiver`` (accounts with webhooks): the receiver answers ``GET /healthz`` at
   ``[webhooks] public_url`` (probed once per run).
6. ``deliveries``: when the last delivery for the account landed (``data/landing/``).
7. ``last_sync``: outcome and age of the last sync in ``ticketing_ops.sync_runs``; a failed
   last sync, none at all, or a last success older than ``max_sync_age`` is a failure.

An account is healthy when no step ``fail``s; ``warn`` (e.g. no delivery for a while) is shown
but does not fail the command. Every ``fail`` names what to fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from ticketing_pipeline.config import (
    AccountConfig,
    ConfigError,
    MissingSecretError,
    Platform,
    ProjectConfig,
)
from ticketing_pipeline.operations.landing_scan import LandingSummary, scan_landing
from ticketing_pipeline.operations.platform_calls import (
    EventbriteWebhook,
    eventbrite_pages,
    list_webhooks,
    platform_client,
)
from ticketing_pipeline.operations.webhook_registration import RECEIVER_ROUTE, REQUIRED_ACTIONS
from ticketing_pipeline.warehouse import Warehouse, WarehouseKind, resolve_warehouse
from ticketing_pipeline.webhooks.landing import FAILED, INCOMING, PROCESSED, LandingArea

DEFAULT_MAX_SYNC_AGE = timedelta(hours=2)
# A relay or webhook that has not delivered for this long is worth a look (not a failure:
# quiet accounts exist; the silent-loss asset checks judge against the account's own rate).
DELIVERY_QUIET_WARNING = timedelta(hours=24)


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass
class StepResult:
    step: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass
class AccountHealth:
    key: str
    platform: str
    account_id: str
    display_name: str
    enabled: bool
    steps: list[StepResult] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.enabled or all(s.status is not Status.FAIL for s in self.steps)

    @property
    def fixes(self) -> list[str]:
        return [s.fix for s in self.steps if s.status is Status.FAIL and s.fix]

    def step(self, name: str) -> StepResult | None:
        return next((s for s in self.steps if s.step == name), None)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["healthy"] = self.healthy
        return out


def human_age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


# -- steps --------------------------------------------------------------------------------------


def check_api(config: ProjectConfig, account: AccountConfig) -> StepResult:
    from ticketing_pipeline.ingest.sync import describe_failure

    client = platform_client(account, config.sync)
    try:
        if account.platform is Platform.EVENTBRITE:
            orgs = eventbrite_pages(client, "/users/me/organizations/", "organizations")
            ids = {str(org.get("id")) for org in orgs}
            if account.account_id not in ids:
                return StepResult(
                    "api",
                    Status.FAIL,
                    f"the token sees {len(ids)} organization(s), not {account.account_id}",
                    f"use a token of a member of organization {account.account_id}, or set "
                    f"account_id to one of: {', '.join(sorted(ids)) or '(none)'}",
                )
            return StepResult("api", Status.OK, f"token sees organization {account.account_id}")
        client.get_json("/events", params={"page": 1, "pageSize": 1})
        return StepResult("api", Status.OK, "API key accepted")
    except Exception as error:  # noqa: BLE001 - reported as the step's outcome
        message = describe_failure(error)
        fix = (
            f"the platform refuses the secret in {account.secret_env}: replace it"
            if " 401 " in message or " 403 " in message
            else f"check that {account.api_base_url} is reachable and right (base_url)"
        )
        return StepResult("api", Status.FAIL, message, fix)


def _configured_tokens(account: AccountConfig) -> set[str]:
    """The URL tokens the receiver accepts; raises ``ConfigError`` as the receiver would."""
    from ticketing_pipeline.webhooks.receiver.auth import account_auth, split_secrets

    account_auth(account)  # the receiver's own rules: refuses to start on a weak secret
    return set(split_secrets(account.webhook_secret().get_secret_value()))


def judge_eventbrite_webhooks(
    account: AccountConfig,
    webhooks: list[EventbriteWebhook],
    tokens: set[str],
    public_url: str | None,
) -> StepResult:
    """Pure decision over the organization's webhook listing (tokens are compared, not shown)."""
    ours = [w for w in webhooks if w.receiver_org() == account.account_id]
    if not ours:
        return StepResult(
            "webhook",
            Status.FAIL,
            f"none of the organization's {len(webhooks)} webhook(s) points at the receiver",
            "run `ticketing webhooks register` (webhook missing or deleted)",
        )
    usable = [w for w in ours if w.url_token() in tokens]
    if not usable:
        return StepResult(
            "webhook",
            Status.FAIL,
            f"webhook {ours[0].id} ({ours[0].masked_url}) carries a token the receiver does "
            f"not accept: its deliveries are refused with 401",
            f"run `ticketing webhooks register`, or add the token back to "
            f"{account.webhook_secret_env}",
        )
    if public_url:
        prefix = f"{public_url}{RECEIVER_ROUTE}/{account.account_id}/"
        at_receiver = [w for w in usable if w.endpoint_url.startswith(prefix)]
        if not at_receiver:
            return StepResult(
                "webhook",
                Status.FAIL,
                f"webhook {usable[0].id} posts to {usable[0].masked_url}, not to the "
                f"configured public_url {public_url}",
                "run `ticketing webhooks register`",
            )
        usable = at_receiver
    best = max(usable, key=lambda w: len(w.actions & set(REQUIRED_ACTIONS)))
    missing = sorted(set(REQUIRED_ACTIONS) - best.actions)
    if best.event_id is not None:
        return StepResult(
            "webhook",
            Status.FAIL,
            f"webhook {best.id} only covers event {best.event_id}",
            "run `ticketing webhooks register`",
        )
    if missing:
        return StepResult(
            "webhook",
            Status.FAIL,
            f"webhook {best.id} lacks the actions {', '.join(missing)}",
            "run `ticketing webhooks register`",
        )
    return StepResult(
        "webhook",
        Status.OK,
        f"webhook {best.id} -> {best.masked_url} ({len(best.actions)} actions)",
    )


def check_webhook(config: ProjectConfig, account: AccountConfig, api_ok: bool) -> StepResult:
    from ticketing_pipeline.ingest.sync import describe_failure

    if not account.webhook_secret_env:
        return StepResult("webhook", Status.SKIP, "no webhook_secret_env: sync only")
    try:
        tokens = _configured_tokens(account)
    except MissingSecretError as error:
        return StepResult(
            "webhook",
            Status.FAIL,
            "the webhook secret is not set: the receiver refuses to start, deliveries are lost",
            f"export {error.variable}",
        )
    except ConfigError as error:
        return StepResult(
            "webhook",
            Status.FAIL,
            f"the receiver refuses this webhook secret: {error}",
            f"put a valid secret in {account.webhook_secret_env}",
        )
    if account.platform is not Platform.EVENTBRITE:
        return StepResult("webhook", Status.OK, f"relay secret {account.webhook_secret_env} is set")
    if not api_ok:
        return StepResult("webhook", Status.SKIP, "not listed: the API call failed")
    try:
        webhooks = list_webhooks(platform_client(account, config.sync), account.account_id)
    except Exception as error:  # noqa: BLE001 - reported as the step's outcome
        return StepResult(
            "webhook",
            Status.FAIL,
            f"could not list webhooks: {describe_failure(error)}",
            "check the token may manage the organization's webhooks",
        )
    return judge_eventbrite_webhooks(account, webhooks, tokens, config.webhooks.public_url)


def check_deliveries(account: AccountConfig, landing: LandingSummary, now: datetime) -> StepResult:
    if not account.webhook_secret_env:
        return StepResult("deliveries", Status.SKIP, "no webhooks configured")
    seen = landing.for_account(account.key)
    if seen.last_received_at is None:
        scope = " among the newest files read" if landing.truncated else ""
        sender = "Eventbrite" if account.platform is Platform.EVENTBRITE else "the relay"
        return StepResult(
            "deliveries",
            Status.WARN,
            f"no delivery from {sender} has landed{scope}",
            f"check that {sender} posts to the receiver and the receiver runs",
        )
    age = now - seen.last_received_at
    failed = seen.counts.get("failed", 0)
    detail = f"last {seen.last_action} {human_age(age)} ago"
    if failed:
        detail += f"; {failed} failed to load (landing/failed/)"
    status = Status.WARN if age > DELIVERY_QUIET_WARNING or failed else Status.OK
    return StepResult("deliveries", status, detail)


def probe_receiver(public_url: str | None, timeout: float = 5.0) -> StepResult:
    """Is the webhook receiver answering at its public URL? (``GET /healthz``; no secret.)"""
    import httpx

    if not public_url:
        return StepResult("receiver", Status.SKIP, "no [webhooks] public_url to probe")
    url = f"{public_url}/healthz"
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as error:
        return StepResult(
            "receiver",
            Status.FAIL,
            f"{url} does not answer ({type(error).__name__}): deliveries are being lost",
            "start the receiver (`ticketing webhooks serve`) or fix the proxy in front of it",
        )
    try:
        state = response.json().get("status")
    except ValueError:
        state = None
    if response.status_code == 200 and state == "ok":
        return StepResult("receiver", Status.OK, f"{url} answers ok")
    return StepResult(
        "receiver",
        Status.FAIL,
        f"{url} answers HTTP {response.status_code} ({state or 'not the receiver'})",
        "check the receiver's landing area is writable and public_url points at it",
    )


@dataclass
class SyncRun:
    status: str
    finished_at: datetime
    rows_loaded: int
    error: str | None


def latest_sync_runs(warehouse: Warehouse) -> dict[str, tuple[SyncRun, SyncRun | None]]:
    """Per ``platform-account_id``: the last sync run and the last successful one."""
    if warehouse.kind is WarehouseKind.DUCKDB and not (
        warehouse.duckdb_path and warehouse.duckdb_path.exists()
    ):
        return {}
    with warehouse.connect(read_only=True) as connection:
        if not sa.inspect(connection).has_table("sync_runs", schema="ticketing_ops"):
            return {}
        rows = connection.execute(
            sa.text(
                "select platform, account_id, status, finished_at, rows_loaded, error "
                "from ticketing_ops.sync_runs order by finished_at"
            )
        ).all()
    out: dict[str, tuple[SyncRun, SyncRun | None]] = {}
    for platform, account_id, status, finished_at, rows_loaded, error in rows:
        finished = finished_at if finished_at.tzinfo else finished_at.replace(tzinfo=UTC)
        run = SyncRun(status, finished.astimezone(UTC), rows_loaded, error)
        key = f"{platform}-{account_id}"
        last_ok = out.get(key, (None, None))[1]
        out[key] = (run, run if status == "succeeded" else last_ok)
    return out


def check_last_sync(
    account: AccountConfig,
    runs: dict[str, tuple[SyncRun, SyncRun | None]] | None,
    now: datetime,
    max_age: timedelta,
    runs_error: str | None = None,
) -> StepResult:
    if runs is None:
        return StepResult("last_sync", Status.WARN, f"sync log unreadable: {runs_error}")
    if account.key not in runs:
        return StepResult(
            "last_sync",
            Status.FAIL,
            "never synced",
            f"run `ticketing sync --account {account.key}`",
        )
    last, last_ok = runs[account.key]
    if last.status != "succeeded":
        since = f"; last success {human_age(now - last_ok.finished_at)} ago" if last_ok else ""
        return StepResult(
            "last_sync",
            Status.FAIL,
            f"last sync failed {human_age(now - last.finished_at)} ago: {last.error}{since}",
            "fix the error above, then `ticketing sync --account " + account.key + "`",
        )
    age = now - last.finished_at
    detail = f"succeeded {human_age(age)} ago ({last.rows_loaded:,} rows)"
    if age > max_age:
        return StepResult(
            "last_sync",
            Status.FAIL,
            detail + f", older than {human_age(max_age)}",
            "are the sync schedules running? (Dagster daemon, or cron with `ticketing sync`)",
        )
    return StepResult("last_sync", Status.OK, detail)


# -- the whole check ------------------------------------------------------------------------------


def check_account(
    config: ProjectConfig,
    account: AccountConfig,
    landing: LandingSummary,
    runs: dict[str, tuple[SyncRun, SyncRun | None]] | None,
    now: datetime,
    max_sync_age: timedelta = DEFAULT_MAX_SYNC_AGE,
    runs_error: str | None = None,
    receiver: StepResult | None = None,
) -> AccountHealth:
    health = AccountHealth(
        account.key,
        account.platform.value,
        account.account_id,
        account.display_name,
        account.enabled,
    )
    steps = health.steps
    if not account.enabled:
        steps.append(StepResult("config", Status.SKIP, "disabled: not checked"))
        return health
    steps.append(StepResult("config", Status.OK, f"valid; API {account.api_base_url}"))
    try:
        account.api_secret()
        steps.append(StepResult("secret", Status.OK, f"{account.secret_env} is set"))
        secret_ok = True
    except MissingSecretError:
        steps.append(
            StepResult(
                "secret",
                Status.FAIL,
                f"{account.secret_env} is not set",
                f"export {account.secret_env}",
            )
        )
        secret_ok = False
    if secret_ok:
        api = check_api(config, account)
    else:
        api = StepResult("api", Status.SKIP, "no secret to try")
    steps.append(api)
    steps.append(check_webhook(config, account, api.status is Status.OK))
    if account.webhook_secret_env and receiver is not None:
        steps.append(receiver)
    steps.append(check_deliveries(account, landing, now))
    steps.append(check_last_sync(account, runs, now, max_sync_age, runs_error))
    return health


def check_accounts(
    config: ProjectConfig,
    accounts: list[AccountConfig] | None = None,
    now: datetime | None = None,
    max_sync_age: timedelta = DEFAULT_MAX_SYNC_AGE,
) -> list[AccountHealth]:
    now = now or datetime.now(UTC)
    chosen = accounts if accounts is not None else config.accounts
    runs: dict[str, tuple[SyncRun, SyncRun | None]] | None
    runs_error = None
    try:
        runs = latest_sync_runs(resolve_warehouse(config))
    except (ConfigError, sa.exc.SQLAlchemyError) as error:
        runs, runs_error = None, str(error).splitlines()[0]
    keys = [a.key for a in chosen if a.webhook_secret_env]
    area = LandingArea.for_data_dir(config.data_dir)
    # processed/ keeps every loaded delivery: read only until each account's last one is found.
    landing = scan_landing(area, keys, folders=(INCOMING, PROCESSED), stop_when_seen=True)
    for key, failed in scan_landing(area, keys, folders=(FAILED,)).accounts.items():
        landing.accounts.setdefault(key, failed).counts[FAILED] = failed.counts.get(FAILED, 0)
    receiver = None
    if any(a.enabled and a.webhook_secret_env for a in chosen):
        receiver = probe_receiver(config.webhooks.public_url)
    return [
        check_account(config, account, landing, runs, now, max_sync_age, runs_error, receiver)
        for account in chosen
    ]
