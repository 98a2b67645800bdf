"""``ticketing webhooks register``: each Eventbrite organization's webhook, created or fixed.

The webhook the pipeline needs, per enabled Eventbrite account:

* ``endpoint_url`` = ``[webhooks] public_url`` + ``/webhooks/eventbrite/<org id>/<token>``, the
  token being the first value of the account's ``webhook_secret_env`` (the receiver accepts any
  of the listed values, so a rotation adds the new one first, registers, then drops the old);
* ``actions`` = ``REQUIRED_ACTIONS``.

"Ours" is every webhook of the organization whose URL is a ticketing receiver route for this
organization (``.../webhooks/eventbrite/<org id>/<anything>``), whatever its host: so a changed
``public_url`` or token replaces the old webhook instead of adding a second one.

Idempotent: when one of ours already has the wanted URL and exactly the wanted actions, nothing
is sent. Otherwise the wanted webhook is created *first* and the other ones of ours deleted
after, so deliveries never pause (for a moment two webhooks may announce the same change; the
receiver and the loader take a change twice without counting it twice). Eventbrite documents
create, list and delete for webhooks but no update, so an update is create-then-delete; this is
a choice on documented calls, not a guess at an undocumented one. Webhooks that point elsewhere
(another tool's) are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ticketing_pipeline.config import AccountConfig, ConfigError, Platform, ProjectConfig
from ticketing_pipeline.operations.platform_calls import (
    EventbriteWebhook,
    create_webhook,
    delete_webhook,
    list_webhooks,
    mask_endpoint_url,
    platform_client,
)

# What the loader and the marts use: order changes (placed, edited, refunded), attendee
# changes (the ticket lines), and event/ticket class changes (schedule, capacity, prices).
REQUIRED_ACTIONS: tuple[str, ...] = (
    "order.placed",
    "order.updated",
    "order.refunded",
    "attendee.updated",
    "event.created",
    "event.updated",
    "event.published",
    "event.unpublished",
    "ticket_class.created",
    "ticket_class.updated",
    "ticket_class.deleted",
    "venue.updated",
)
RECEIVER_ROUTE = "/webhooks/eventbrite"


class Change(StrEnum):
    UNCHANGED = "unchanged"
    CREATED = "created"
    UPDATED = "updated"  # the wanted one created, the outdated ones deleted


@dataclass
class RegistrationPlan:
    """What registration does (or did) for one organization. Holds no secret in its text."""

    account: AccountConfig
    wanted_url: str
    existing: list[EventbriteWebhook]
    keep: EventbriteWebhook | None
    delete: list[EventbriteWebhook] = field(default_factory=list)
    created: EventbriteWebhook | None = None

    @property
    def change(self) -> Change:
        if self.keep is not None:
            return Change.UPDATED if self.delete else Change.UNCHANGED
        return Change.UPDATED if self.delete else Change.CREATED

    def describe(self, dry_run: bool = False) -> str:
        url = mask_endpoint_url(self.wanted_url)
        verb = {
            Change.UNCHANGED: "webhook already registered",
            Change.CREATED: "would create" if dry_run else "created",
            Change.UPDATED: "would replace" if dry_run else "replaced",
        }[self.change]
        if self.change is not Change.UNCHANGED:
            verb += " webhook"
        text = f"{self.account.key}: {verb} -> {url}"
        if self.keep is not None:
            text += f" (id {self.keep.id})"
        elif self.created is not None:
            text += f" (id {self.created.id})"
        if self.delete:
            gone = ", ".join(f"{w.id} ({w.masked_url})" for w in self.delete)
            text += f"; {'would delete' if dry_run else 'deleted'} {gone}"
        return text


def wanted_endpoint_url(config: ProjectConfig, account: AccountConfig) -> str:
    """The URL Eventbrite must post to for this account (contains the token: do not print)."""
    if not config.webhooks.public_url:
        raise ConfigError(
            "no [webhooks] public_url is configured: set it to the receiver's public base URL "
            '(e.g. public_url = "https://hooks.example.com") in ticketing.toml'
        )
    from ticketing_pipeline.webhooks.receiver.auth import account_auth, split_secrets

    account_auth(account)  # never register a token the receiver would refuse
    tokens = split_secrets(account.webhook_secret().get_secret_value())
    return f"{config.webhooks.public_url}{RECEIVER_ROUTE}/{account.account_id}/{tokens[0]}"


def is_ours(webhook: EventbriteWebhook, account: AccountConfig) -> bool:
    return webhook.receiver_org() == account.account_id


def satisfies(webhook: EventbriteWebhook, wanted_url: str) -> bool:
    return (
        webhook.endpoint_url == wanted_url
        and webhook.actions == frozenset(REQUIRED_ACTIONS)
        and webhook.event_id is None
    )


def plan_registration(
    account: AccountConfig, wanted_url: str, existing: list[EventbriteWebhook]
) -> RegistrationPlan:
    """Pure decision: which webhook to keep, whether to create one, which of ours to delete."""
    ours = [w for w in existing if is_ours(w, account)]
    keep = next((w for w in ours if satisfies(w, wanted_url)), None)
    return RegistrationPlan(
        account=account,
        wanted_url=wanted_url,
        existing=existing,
        keep=keep,
        delete=[w for w in ours if w is not keep],
    )


def register_account(
    config: ProjectConfig, account: AccountConfig, dry_run: bool = False
) -> RegistrationPlan:
    if account.platform is not Platform.EVENTBRITE:
        raise ConfigError(f"{account.key}: only Eventbrite has webhooks to register")
    wanted_url = wanted_endpoint_url(config, account)
    client = platform_client(account, config.sync)
    plan = plan_registration(account, wanted_url, list_webhooks(client, account.account_id))
    if dry_run:
        return plan
    if plan.keep is None:
        plan.created = create_webhook(
            client, account.account_id, wanted_url, list(REQUIRED_ACTIONS)
        )
    for outdated in plan.delete:
        delete_webhook(client, outdated.id)
    return plan


@dataclass
class RegistrationOutcome:
    account: AccountConfig
    plan: RegistrationPlan | None = None
    error: str | None = None


def register_all(
    config: ProjectConfig, dry_run: bool = False, accounts: list[AccountConfig] | None = None
) -> list[RegistrationOutcome]:
    """Every enabled Eventbrite account; one failing does not stop the others."""
    from ticketing_pipeline.ingest.sync import describe_failure

    outcomes = []
    for account in accounts or config.enabled_accounts(Platform.EVENTBRITE):
        try:
            outcomes.append(
                RegistrationOutcome(account, register_account(config, account, dry_run))
            )
        except Exception as error:  # noqa: BLE001 - reported per account
            message = _without_tokens(describe_failure(error), account)
            outcomes.append(RegistrationOutcome(account, error=message))
    return outcomes


def _without_tokens(message: str, account: AccountConfig) -> str:
    """An error text with the account's URL tokens masked (a platform may echo the URL)."""
    from ticketing_pipeline.webhooks.receiver.auth import split_secrets

    try:
        tokens = split_secrets(account.webhook_secret().get_secret_value())
    except ConfigError:
        return message
    for token in tokens:
        message = message.replace(token, "***")
    return message
