"""Small pieces both platform sources use: lazy secret auth, batching, time helpers, and the
transformer that merges what changed since a cursor."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import dlt
import pyarrow as pa
from dlt.sources.helpers.rest_client.auth import AuthConfigBase
from requests import PreparedRequest

from ticketing_pipeline.config import AccountConfig
from ticketing_pipeline.sources.shaping import TableShape

# Enough rows per Arrow table that per-table overhead in dlt is negligible, few enough that a
# long backfill keeps memory flat.
ROWS_PER_TABLE = 20_000


class AccountSecretAuth(AuthConfigBase):
    """Reads the account's secret from the environment at the first request, not before.

    Building a source (e.g. when Dagster loads its definitions) must not need the secret; syncing
    without it must fail loudly, naming the variable, before any request is sent.
    """

    def __init__(self, account: AccountConfig, header: str, scheme: str | None = None) -> None:
        super().__init__()
        self._account = account
        self._header = header
        self._scheme = scheme
        self._value: str | None = None

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        if self._value is None:
            secret = self._account.api_secret().get_secret_value()
            self._value = f"{self._scheme} {secret}" if self._scheme else secret
        request.headers[self._header] = self._value
        return request

    def __repr__(self) -> str:  # never show the secret, even in a debugger or traceback
        return f"AccountSecretAuth({self._account.key}, header={self._header})"


def batched_tables(
    pages: Iterable[Iterable[Mapping[str, Any]]],
    shape: TableShape,
    account_id: str,
    rows_per_table: int = ROWS_PER_TABLE,
) -> Iterator[pa.Table | Any]:
    """Shape pages of records into Arrow tables of about ``rows_per_table`` rows each.

    Records that cannot be merged come out as ``rejected_records`` items before their batch's
    table (``TableShape.to_items``); the rest of the batch still loads.
    """
    buffer: list[Mapping[str, Any]] = []
    for page in pages:
        buffer.extend(page)
        if len(buffer) >= rows_per_table:
            yield from shape.to_items(buffer, account_id)
            buffer = []
    if buffer:
        yield from shape.to_items(buffer, account_id)


def _whole_page(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return page


def changed_rows_transformer(
    data_from: Any,
    shape: TableShape,
    account_id: str,
    cursor: str,
    lag: float,
    rows: Callable[[list[dict[str, Any]]], Iterable[Mapping[str, Any]]] = _whole_page,
) -> Any:
    """A transformer merging ``shape``'s rows (``rows`` picks them out of each page of
    ``data_from``), incremental on ``cursor``: rows unchanged since the last sync (minus
    ``lag`` seconds) are not merged again, so an incremental sync writes what changed.

    "include": records without the cursor (set aside for ``rejected_records``) pass through;
    shaping never lets such a row into the table itself.
    """

    @dlt.transformer(
        data_from=data_from,
        name=shape.name,
        write_disposition="merge",
        primary_key=shape.primary_key,
    )
    def changed(
        page: list[dict[str, Any]],
        changed_since: dlt.sources.incremental[datetime] = dlt.sources.incremental(
            cursor, lag=lag, on_cursor_value_missing="include"
        ),
    ) -> Iterator[pa.Table]:
        yield from shape.to_items(rows(page), account_id)

    return changed


def rebatch(pages: Iterable[list[Any]], size: int = ROWS_PER_TABLE) -> Iterator[list[Any]]:
    """Regroup API pages into lists of about ``size`` records."""
    buffer: list[Any] = []
    for page in pages:
        buffer.extend(page)
        if len(buffer) >= size:
            yield buffer
            buffer = []
    if buffer:
        yield buffer


def parse_utc(value: str | None) -> datetime | None:
    """Parse the platforms' ISO 8601 times ('Z' or offset) to an aware UTC datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
