"""Send alerts to a person: a Slack-compatible incoming webhook and/or email over SMTP.

``AlertNotifier(config).send(alert)`` posts ``{"text": ...}`` to the URL in the environment
variable named by ``[alerts] slack_webhook_url_env`` (the format Slack, Mattermost, Rocket.Chat
and Discord's ``/slack`` endpoints accept) and mails ``email_to`` through ``smtp_host``.

Secrets stay out of alerts and logs: the webhook URL is read from the environment when sending
and never printed (an error names only the channel and the HTTP status); every alert text is
passed through ``Redactor``, which masks the values of every secret variable the configuration
names (API keys, webhook secrets) and the token part of Eventbrite webhook URLs.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage

import requests

from ticketing_pipeline.config import AlertsConfig, ProjectConfig

log = logging.getLogger(__name__)

MAX_DETAIL_CHARS = 1500
_MASK = "***"
# /webhooks/eventbrite/<org id>/<token>: the last segment is the account's webhook secret.
_EVENTBRITE_WEBHOOK_PATH = re.compile(r"(/webhooks/eventbrite/[^/\s]+/)[^/\s?#\"']+")
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)


class AlertDeliveryError(Exception):
    """No configured channel took the alert; the message names the channels, never a URL."""


@dataclass(frozen=True)
class Alert:
    """One notification: what happened (``event``), to which account(s), and the details."""

    event: str  # e.g. "asset check failed", "run failed", "account stale"
    subject: str  # one line naming the thing: the check, the job, the account
    accounts: tuple[str, ...] = ()  # platform-account_id keys, or "all accounts"
    detail: str = ""
    link: str | None = None

    def text(self) -> str:
        accounts = ", ".join(self.accounts) if self.accounts else "not tied to one account"
        lines = [f"[ticketing-pipeline] {self.event}: {self.subject}", f"Account: {accounts}"]
        if self.detail:
            detail = self.detail.strip()
            if len(detail) > MAX_DETAIL_CHARS:
                detail = detail[:MAX_DETAIL_CHARS] + " ..."
            lines.append(detail)
        if self.link:
            lines.append(self.link)
        return "\n".join(lines)


@dataclass
class Redactor:
    """Masks known secret values and secret-shaped URL parts in text bound for an alert."""

    secrets: set[str] = field(default_factory=set)

    @classmethod
    def from_config(cls, config: ProjectConfig) -> Redactor:
        names = {a.secret_env for a in config.accounts}
        names |= {a.webhook_secret_env for a in config.accounts if a.webhook_secret_env}
        names |= {
            n for n in (config.alerts.slack_webhook_url_env, config.alerts.smtp_password_env) if n
        }
        values: set[str] = set()
        for name in names:
            # Webhook secret variables may hold several secrets (rotation): mask each.
            for value in re.split(r"[\s,]+", os.environ.get(name, "")):
                if len(value) >= 6:  # a very short value would mask ordinary words
                    values.add(value)
        return cls(values)

    def __call__(self, text: str) -> str:
        for value in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(value, _MASK)
        text = _EVENTBRITE_WEBHOOK_PATH.sub(lambda m: m.group(1) + _MASK, text)
        return _URL_CREDENTIALS.sub(lambda m: m.group(1) + _MASK + "@", text)


class AlertNotifier:
    """Delivers alerts to every configured channel; ``channels`` is empty when none is."""

    def __init__(
        self, config: AlertsConfig, redactor: Redactor | None = None, timeout: float = 10.0
    ) -> None:
        self.config = config
        self.redact = redactor or Redactor()
        self.timeout = timeout

    @classmethod
    def from_project(cls, config: ProjectConfig) -> AlertNotifier:
        return cls(config.alerts, Redactor.from_config(config))

    def __repr__(self) -> str:  # no URL, no password
        return f"AlertNotifier(channels={self.channels})"

    @property
    def channels(self) -> list[str]:
        channels = []
        if self.config.slack_webhook_url_env:
            channels.append("slack")
        if self.config.email_to:
            channels.append("email")
        return channels

    def send(self, alert: Alert) -> list[str]:
        """Send to every channel; returns those that took it. Raises ``AlertDeliveryError``
        when channels are configured and none of them took it (so a sensor tick fails visibly
        and the state change is retried on the next tick)."""
        text = self.redact(alert.text())
        delivered, failures = [], []
        for channel, sender in (("slack", self._slack), ("email", self._email)):
            if channel not in self.channels:
                continue
            try:
                sender(alert, text)
                delivered.append(channel)
            except Exception as error:  # noqa: BLE001 - one channel failing must not stop another
                failures.append(f"{channel}: {self.redact(_describe(error))}")
        if failures:
            log.warning("alert not delivered to %s", "; ".join(failures))
            if not delivered:
                raise AlertDeliveryError("alert not delivered: " + "; ".join(failures))
        return delivered

    def _slack(self, alert: Alert, text: str) -> None:
        variable = self.config.slack_webhook_url_env
        assert variable is not None
        url = os.environ.get(variable, "").strip()
        if not url:
            raise AlertDeliveryError(f"the environment variable {variable} is not set")
        # No redirects: the URL's secret path must not be sent on to another origin.
        response = requests.post(
            url, json={"text": text}, timeout=self.timeout, allow_redirects=False
        )
        if not 200 <= response.status_code < 300:
            raise AlertDeliveryError(f"the incoming webhook answered HTTP {response.status_code}")

    def _email(self, alert: Alert, text: str) -> None:
        config = self.config
        assert config.smtp_host is not None
        message = EmailMessage()
        message["Subject"] = self.redact(f"[ticketing-pipeline] {alert.event}: {alert.subject}")
        message["From"] = config.email_from
        message["To"] = ", ".join(config.email_to)
        message.set_content(text)
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=self.timeout) as smtp:
            if config.smtp_starttls:
                smtp.starttls()
            if config.smtp_username_env:
                smtp.login(
                    os.environ.get(config.smtp_username_env, ""),
                    os.environ.get(config.smtp_password_env or "", ""),
                )
            smtp.send_message(message)


def _describe(error: BaseException) -> str:
    # requests' connection errors repeat the URL (and so its secret path): name the class only.
    if isinstance(error, requests.RequestException):
        return f"{type(error).__name__} (connection to the incoming webhook failed)"
    return f"{type(error).__name__}: {error}"
