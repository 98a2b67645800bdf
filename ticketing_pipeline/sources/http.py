"""The HTTP layer both platform sources share: dlt's REST client with retries and exact money.

Why a subclass of dlt's ``RESTClient`` at all:
- JSON numbers must become ``Decimal``, never ``float`` (Humanitix sends money as numbers).
- dlt's client and its paginators call ``response.json()`` several times per page; a page of
  1,000 orders parsed three times is the slowest part of a backfill, so each body is parsed once.
- A 200 with a truncated body (a proxy hiccup) should be retried like a 5xx, then fail loudly.
Retries, back-off and ``Retry-After`` handling stay dlt's own (``dlt.sources.helpers.requests``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import AuthConfigBase
from requests import HTTPError, Request, Response

from ticketing_pipeline.config import AccountConfig, SyncConfig

_PARSED = "_ticketing_parsed_json"
_PARSE_ERROR = "_ticketing_parse_error"


class PlatformAPIError(RuntimeError):
    """A platform answered with an error (after retries); says which account and why."""

    def __init__(self, account: AccountConfig, status: int, url: str, message: str) -> None:
        self.status = status
        super().__init__(
            f"{account.platform.value} account '{account.account_id}': HTTP {status} from "
            f"{_strip_query(url)}: {message}"
        )


class MalformedResponseError(RuntimeError):
    """A 2xx response whose body is not valid JSON, still after retries."""


def _strip_query(url: str) -> str:
    # Query strings can carry cursors and continuation tokens; they add noise, not meaning.
    return url.split("?", 1)[0]


def parse_json_exact(body: bytes) -> Any:
    """Parse JSON with every non-integer number as Decimal (exact money)."""
    return json.loads(body, parse_float=Decimal)


def _parse_and_cache(response: Response) -> None:
    if hasattr(response, _PARSED) or hasattr(response, _PARSE_ERROR):
        return
    try:
        parsed = parse_json_exact(response.content)
    except ValueError as error:
        setattr(response, _PARSE_ERROR, error)
        return
    setattr(response, _PARSED, parsed)
    # Paginators call response.json(); answer from the cache instead of parsing again.
    response.json = lambda **_: parsed  # type: ignore[method-assign]


def _retry_on_malformed_body(response: Response | None, exception: BaseException | None) -> bool:
    if response is None or not (200 <= response.status_code < 300):
        return False
    _parse_and_cache(response)
    return hasattr(response, _PARSE_ERROR)


class PlatformClient(RESTClient):
    """dlt's RESTClient for one account, with exact JSON parsing and errors that name it."""

    def __init__(self, account: AccountConfig, auth: AuthConfigBase, sync: SyncConfig) -> None:
        http = Client(
            request_timeout=sync.request_timeout_seconds,
            request_max_attempts=sync.request_max_attempts,
            request_backoff_factor=sync.request_backoff_factor,
            request_max_retry_delay=sync.request_max_retry_delay_seconds,
            retry_condition=_retry_on_malformed_body,
            raise_for_status=False,
        )
        super().__init__(
            base_url=account.api_base_url,
            auth=auth,
            session=http.session,
            headers={"Accept": "application/json", "User-Agent": "ticketing-pipeline/0.1"},
        )
        self.account = account

    def _send_request(self, request: Request, **kwargs: Any) -> Response:
        try:
            response = super()._send_request(request, **kwargs)
        except HTTPError as error:
            # dlt's retry raises once its attempts on a 429/5xx are used up.
            if error.response is None:
                raise
            raise PlatformAPIError(
                self.account,
                error.response.status_code,
                error.response.url,
                _error_message(error.response),
            ) from error
        if response.status_code >= 400:
            raise PlatformAPIError(
                self.account, response.status_code, response.url, _error_message(response)
            )
        _parse_and_cache(response)
        if error := getattr(response, _PARSE_ERROR, None):
            raise MalformedResponseError(
                f"{self.account.platform.value} account '{self.account.account_id}': "
                f"invalid JSON from {_strip_query(response.url)}: {error}"
            )
        return response

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """One non-paginated GET, parsed exactly."""
        request = Request(
            method="GET",
            url=self._join(path),
            params=params,
            headers=self.headers,
            auth=self.auth,
        )
        return self._send_request(request).json()

    def _join(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


def _error_message(response: Response) -> str:
    """The platform's own error text (both platforms send JSON error bodies), kept short."""
    try:
        body = parse_json_exact(response.content)
    except ValueError:
        return response.reason or response.text[:200]
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            if body.get(key):
                return str(body[key])[:300]
    return response.reason or ""
