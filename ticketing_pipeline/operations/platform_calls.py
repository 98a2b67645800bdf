"""The few platform calls the operator tools make, through the sources' own HTTP client.

Same ``PlatformClient`` and ``AccountSecretAuth`` as the syncs, so authentication, retries and
the redirect policy are exactly the sources'. Operator commands are interactive, so their
retries are short: a check must answer in seconds, not wait out a five-minute ``Retry-After``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ticketing_pipeline.config import AccountConfig, Platform, SyncConfig
from ticketing_pipeline.sources.common import AccountSecretAuth
from ticketing_pipeline.sources.http import PlatformClient

# Eventbrite's paging rule: pass `continuation` until `has_more_items` is false.
_CONTINUATION = {
    "cursor_path": "pagination.continuation",
    "cursor_param": "continuation",
    "has_more_path": "pagination.has_more_items",
}
# The receiver's Eventbrite route; the last path segment is the URL token (a secret).
_RECEIVER_PATH = re.compile(r"^(?P<prefix>.*/webhooks/eventbrite/(?P<org>[^/]+)/)(?P<token>[^/]+)$")


def operator_sync_settings(sync: SyncConfig) -> SyncConfig:
    """The account's HTTP settings with retries short enough for a command someone waits on."""
    return sync.model_copy(
        update={
            "request_timeout_seconds": min(sync.request_timeout_seconds, 20.0),
            "request_max_attempts": min(sync.request_max_attempts, 3),
            "request_max_retry_delay_seconds": min(sync.request_max_retry_delay_seconds, 5.0),
        }
    )


def platform_client(account: AccountConfig, sync: SyncConfig) -> PlatformClient:
    if account.platform is Platform.HUMANITIX:
        auth = AccountSecretAuth(account, "x-api-key")
    else:
        auth = AccountSecretAuth(account, "Authorization", "Bearer")
    return PlatformClient(account, auth, operator_sync_settings(sync))


def eventbrite_pages(client: PlatformClient, path: str, selector: str) -> list[dict[str, Any]]:
    from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

    return [
        item
        for page in client.paginate(
            path, paginator=JSONResponseCursorPaginator(**_CONTINUATION), data_selector=selector
        )
        for item in page
    ]


@dataclass(frozen=True)
class EventbriteWebhook:
    """One webhook of an organization as the API lists it."""

    id: str
    endpoint_url: str
    actions: frozenset[str]
    event_id: str | None

    @classmethod
    def from_api(cls, record: dict[str, Any]) -> EventbriteWebhook:
        raw = record.get("actions") or ""
        actions = raw.split(",") if isinstance(raw, str) else list(raw)
        return cls(
            id=str(record["id"]),
            endpoint_url=str(record.get("endpoint_url") or ""),
            actions=frozenset(a.strip() for a in actions if a.strip()),
            event_id=str(record["event_id"]) if record.get("event_id") else None,
        )

    @property
    def masked_url(self) -> str:
        return mask_endpoint_url(self.endpoint_url)

    def receiver_org(self) -> str | None:
        """The organization id in the URL if it points at a ticketing receiver route."""
        match = _RECEIVER_PATH.match(self.endpoint_url)
        return match["org"] if match else None

    def url_token(self) -> str | None:
        match = _RECEIVER_PATH.match(self.endpoint_url)
        return match["token"] if match else None


def mask_endpoint_url(url: str) -> str:
    """The URL with the receiver's token (a secret) replaced by ``***``; safe to print."""
    match = _RECEIVER_PATH.match(url)
    return match["prefix"] + "***" if match else url


def list_webhooks(client: PlatformClient, org_id: str) -> list[EventbriteWebhook]:
    records = eventbrite_pages(client, f"/organizations/{org_id}/webhooks/", "webhooks")
    return [EventbriteWebhook.from_api(r) for r in records]


def create_webhook(
    client: PlatformClient, org_id: str, endpoint_url: str, actions: list[str]
) -> EventbriteWebhook:
    # Eventbrite documents `actions` as one comma-separated string.
    response = client.request(
        f"/organizations/{org_id}/webhooks/",
        method="POST",
        json={"endpoint_url": endpoint_url, "actions": ",".join(actions)},
    )
    return EventbriteWebhook.from_api(response.json())


def delete_webhook(client: PlatformClient, webhook_id: str) -> None:
    client.request(f"/webhooks/{webhook_id}/", method="DELETE")
