"""The HTTP layer both platform sources share: dlt's REST client with retries and exact money.

Why a subclass of dlt's ``RESTClient`` at all:
- JSON numbers must become ``Decimal``, never ``float`` (Humanitix sends money as numbers).
- dlt's client and its paginators call ``response.json()`` several times per page; a page of
  1,000 orders parsed three times is the slowest part of a backfill, so each body is parsed once.
- A 200 with a truncated body (a proxy hiccup) should be retried like a 5xx, then fail loudly.
- Redirects are never followed. A redirect would carry the account's credential (``x-api-key``,
  ``Authorization``) to wherever the ``Location`` points, and the sync would store what that
  host served. Both platforms answer their API paths directly, so a 3xx means a wrong
  ``base_url`` or a hijacked one: it fails loudly, naming the target's origin only.
- Eventbrite calls take a permit from the token's call budget first (``ratelimit.py``), retries
  included, so a backfill stays under the platform's hourly limit instead of collecting 429s.
- One ``requests`` session per thread (dlt's ``Client`` keeps them): sessions are not thread-safe,
  and the Humanitix source pages several events at once.
Retries, back-off and ``Retry-After`` handling stay dlt's own (``dlt.sources.helpers.requests``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin, urlsplit

from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import AuthConfigBase
from requests import HTTPError, PreparedRequest, Request, Response, Session
from requests.adapters import HTTPAdapter

from ticketing_pipeline.config import AccountConfig, Platform, SyncConfig
from ticketing_pipeline.sources.ratelimit import CallBudget, CallLimiter, shared_limiter

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


class RedirectRefusedError(PlatformAPIError):
    """The API answered a redirect; it is not followed, so the credential stays at home."""

    def __init__(self, account: AccountConfig, response: Response) -> None:
        target = _origin(urljoin(response.url, response.headers.get("Location", "")))
        where = "the same origin" if target == _origin(response.url) else "another origin"
        super().__init__(
            account,
            response.status_code,
            response.url,
            f"redirect to {where}, {target}, refused: redirects are never followed, so the "
            "account's credential is not sent there; check the account's base_url",
        )
        self.target_origin = target


class MalformedResponseError(RuntimeError):
    """A 2xx response whose body is not valid JSON, still after retries."""


def _strip_query(url: str) -> str:
    # Query strings can carry cursors and continuation tokens; they add noise, not meaning.
    return url.split("?", 1)[0]


def _origin(url: str) -> str:
    """scheme://host[:port] only: a redirect's path or query may carry anything, secrets too."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" if parts.scheme else "(no Location)"


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


class _BudgetedAdapter(HTTPAdapter):
    """Takes a permit from the call budget before each attempt: dlt's retries wrap ``send``,
    so a retried call is counted as the platform counts it."""

    def __init__(self, acquire: Callable[[], None]) -> None:
        super().__init__(pool_maxsize=50)
        self._acquire = acquire

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        self._acquire()
        return super().send(request, *args, **kwargs)


_PREPARED = "_ticketing_session_prepared"


class PlatformClient(RESTClient):
    """dlt's RESTClient for one account, with exact JSON parsing and errors that name it."""

    def __init__(self, account: AccountConfig, auth: AuthConfigBase, sync: SyncConfig) -> None:
        self._http = Client(
            request_timeout=sync.request_timeout_seconds,
            request_max_attempts=sync.request_max_attempts,
            request_backoff_factor=sync.request_backoff_factor,
            request_max_retry_delay=sync.request_max_retry_delay_seconds,
            retry_condition=_retry_on_malformed_body,
            raise_for_status=False,
        )
        self.account = account
        self.budget: CallBudget | None = None
        if account.platform is Platform.EVENTBRITE:
            self.budget = CallBudget(sync.eventbrite_calls_per_hour, sync.eventbrite_burst)
        self._limiter: CallLimiter | None = None
        self._adapter = _BudgetedAdapter(self._acquire) if self.budget else None
        super().__init__(
            base_url=account.api_base_url,
            auth=auth,
            session=self._http.session,
            headers={"Accept": "application/json", "User-Agent": "ticketing-pipeline/0.1"},
        )

    @property  # type: ignore[override]
    def session(self) -> Session:
        """This thread's session, with the call budget mounted (once per thread)."""
        session = self._http.session
        if self._adapter is not None and not getattr(session, _PREPARED, False):
            session.mount("http://", self._adapter)
            session.mount("https://", self._adapter)
            setattr(session, _PREPARED, True)
        return session

    @session.setter
    def session(self, _: Session) -> None:
        # RESTClient.__init__ stores the constructing thread's session; each thread uses its own.
        pass

    @property
    def limiter(self) -> CallLimiter | None:
        """The token's shared limiter once a call was made (None for unbudgeted platforms)."""
        return self._limiter

    def _acquire(self) -> None:
        if self._limiter is None:
            assert self.budget is not None
            # Keyed by the token's hash: organizations behind one token share its budget.
            secret = self.account.api_secret().get_secret_value()
            self._limiter = shared_limiter(secret, self.budget)
        self._limiter.acquire()

    def _send_request(self, request: Request, **kwargs: Any) -> Response:
        # Every call goes through here (paginate and get_json alike): no redirect is followed.
        # (Not session.max_redirects = 0: requests still works out the next hop without
        # sending it, and that limit would make it raise before the 3xx can be reported.)
        kwargs["allow_redirects"] = False
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
        if 300 <= response.status_code < 400:
            raise RedirectRefusedError(self.account, response)
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
