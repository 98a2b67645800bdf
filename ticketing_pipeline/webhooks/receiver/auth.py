"""Authentication of webhook requests: per-account secrets, URL tokens, Standard Webhooks.

Each enabled account's ``webhook_secret_env`` variable holds one or more secrets separated by
whitespace or commas; several are accepted at once so a secret can be rotated without downtime
(add the new one, re-register the sender, remove the old one).

* Eventbrite does not sign its webhooks. The endpoint URL carries a token that must equal one of
  the account's secrets, so those secrets must be URL-safe and long enough not to be guessed.
  An Eventbrite account accepts only these references (the loader re-fetches the object from the
  API); it accepts no relays: a URL token travels in URLs (proxies, sender dashboards, logs) and
  must never become a key that can sign records into the warehouse.
* Relays (Humanitix accounts) sign with Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature``). A secret written ``whsec_<base64>`` is the standard's form (the HMAC key
  is the decoded bytes); a secret without the prefix is used as raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from standardwebhooks.webhooks import Webhook

from ...config import AccountConfig, ConfigError, Platform, ProjectConfig

MIN_SECRET_LENGTH = 16
_WHSEC = "whsec_"
# Unreserved URL characters (RFC 3986): a token made of them survives any proxy or router.
_URL_TOKEN = re.compile(r"^[A-Za-z0-9._~-]+$")
_SPLIT = re.compile(r"[\s,]+")
# Compared against when the account is unknown, so that case costs the same time as a bad token.
_DUMMY_TOKEN = b"x" * 32
# The Standard Webhooks library's tolerance for webhook-timestamp (seconds either way).
SIGNATURE_TOLERANCE_SECONDS = 5 * 60
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@dataclass(frozen=True)
class AccountAuth:
    """What it takes to authenticate one account's webhooks (holds secrets: never log it)."""

    account: AccountConfig
    tokens: tuple[bytes, ...]
    signers: tuple[Webhook, ...]

    def __repr__(self) -> str:  # keep secrets out of tracebacks and debug output
        return f"AccountAuth({self.account.key}, {len(self.tokens)} secret(s))"

    def check_token(self, token: str) -> bool:
        """Constant-time comparison of a URL token with every accepted secret."""
        candidate = token.encode("utf-8", "surrogateescape")
        matched = False
        for expected in self.tokens:
            # No short-circuit: the time taken does not tell which secret (if any) matched.
            matched |= hmac.compare_digest(candidate, expected)
        return matched

    @property
    def accepts_relays(self) -> bool:
        return bool(self.signers)

    def check_signature(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """Standard Webhooks verification (5-minute tolerance) against every accepted secret."""
        wanted = {name: headers.get(name, "") for name in SIGNATURE_HEADERS}
        for signer in self.signers:
            try:
                signer.verify(body, wanted, json_parse=False)
                return True
            except Exception:  # noqa: BLE001 - any failure (bad header, bad base64, ...) is a no
                continue
        return False


def signature_headers_plausible(headers: Mapping[str, str], now: float | None = None) -> bool:
    """What can be checked of a relay before reading its body: the three signature headers are
    there and the timestamp is within the tolerance (the signature itself covers the body)."""
    if not all(headers.get(name) for name in SIGNATURE_HEADERS):
        return False
    try:
        timestamp = int(headers["webhook-timestamp"])
    except ValueError:
        return False
    now = time.time() if now is None else now
    return abs(now - timestamp) <= SIGNATURE_TOLERANCE_SECONDS


def check_dummy_token(token: str) -> None:
    hmac.compare_digest(token.encode("utf-8", "surrogateescape"), _DUMMY_TOKEN)


def split_secrets(value: str) -> list[str]:
    return [part for part in _SPLIT.split(value.strip()) if part]


def account_auth(account: AccountConfig) -> AccountAuth:
    """Read and check an account's webhook secrets; raises ``ConfigError`` naming the variable."""
    raw = account.webhook_secret().get_secret_value()  # raises MissingSecretError / ConfigError
    variable = account.webhook_secret_env
    where = f"{account.platform.value} account '{account.account_id}': {variable}"
    tokens, signers = [], []
    for number, secret in enumerate(split_secrets(raw), start=1):
        if account.platform == Platform.EVENTBRITE:
            # The secret is the URL token Eventbrite is given: it must be URL-safe and long.
            if not _URL_TOKEN.match(secret) or len(secret) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"{where}: secret #{number} must be at least {MIN_SECRET_LENGTH} characters "
                    "of A-Z a-z 0-9 . _ ~ - (it goes into the webhook URL); generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
                )
            tokens.append(secret.encode())
        else:
            signers.append(_signer(secret, f"{where}: secret #{number}"))
    return AccountAuth(account=account, tokens=tuple(tokens), signers=tuple(signers))


def _signer(secret: str, where: str) -> Webhook:
    if secret.startswith(_WHSEC):
        encoded = secret[len(_WHSEC) :]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error as error:
            raise ConfigError(f"{where}: 'whsec_' must be followed by base64") from error
    else:
        key = secret.encode()
    if len(key) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{where}: the secret must be at least {MIN_SECRET_LENGTH} bytes")
    return Webhook(key)


def load_account_auth(config: ProjectConfig) -> dict[tuple[str, str], AccountAuth]:
    """Secrets of every enabled account, keyed by (platform, account id).

    Raises ``ConfigError`` (``MissingSecretError`` when a variable is unset) for the first enabled
    account without usable secrets: the receiver must not start half-authenticated.
    """
    return {
        (account.platform.value, account.account_id): account_auth(account)
        for account in config.enabled_accounts()
    }
