"""Turn pages of platform JSON records into flat, explicitly typed Arrow tables.

dlt normalizes nested Python dicts at only a few thousand rows per second; Arrow tables skip that
path entirely (about 100x faster), and declaring every column here gives each staging table
explicit types: money as exact decimals or integer minor units, times as UTC timestamps.

Nothing is dropped silently, and one bad value never stops a load:

- fields a platform adds that no column knows about are kept, as JSON text, in the row's
  ``extra_fields`` column, so schema drift is visible and recoverable;
- a value that does not fit its column (text where a number was, a float for money, an object
  where text was) leaves that cell null and is kept with its reason in the row's
  ``invalid_fields`` column (``{"totals.grossSales": {"value": ..., "error": ...}}``);
- a record that cannot be merged (no key, or no usable incremental cursor) is set aside whole,
  with its reason, as a row of the ``rejected_records`` table, loaded by the same dlt pipeline
  run as the good rows of its page (``TableShape.to_items``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
import pyarrow as pa


class Kind(Enum):
    STRING = "string"
    INT = "int"
    BOOL = "bool"
    # Humanitix sends decimal major units; 4 places keep any sub-cent value exact.
    MONEY = "money"
    # Eventbrite's money object {currency, value, major_value, display}: its integer `value`.
    MINOR_UNITS = "minor_units"
    TIMESTAMP = "timestamp"
    # A wall-clock time without zone (Eventbrite's start.local); the zone is in another column.
    LOCAL_TIMESTAMP = "local_timestamp"
    JSON = "json"

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self]


_ARROW_TYPES = {
    Kind.STRING: pa.string(),
    Kind.INT: pa.int64(),
    Kind.BOOL: pa.bool_(),
    Kind.MONEY: pa.decimal128(18, 4),
    Kind.MINOR_UNITS: pa.int64(),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.LOCAL_TIMESTAMP: pa.timestamp("us"),
    Kind.JSON: pa.string(),
}


@dataclass(frozen=True)
class Column:
    name: str
    path: tuple[str, ...]
    kind: Kind = Kind.STRING


def col(name: str, path: str, kind: Kind = Kind.STRING) -> Column:
    """A column read from a dotted path of the record (``"totals.grossSales"``)."""
    return Column(name, tuple(path.split(".")), kind)


MONEY_OBJECT_KEYS = frozenset({"currency", "value", "major_value", "display"})


def _path_expression(path: tuple[str, ...]) -> str:
    """Python source reading ``path`` from ``row``; None where any level is not an object."""
    expression = f"row.get({path[0]!r})"
    for key in path[1:]:
        expression = f"(_v.get({key!r}) if (_v := {expression}).__class__ is dict else None)"
    return expression


def compile_row_reader(paths: list[tuple[str, ...]]) -> Callable[[Mapping[str, Any]], tuple]:
    """One function reading every path of a record into a tuple.

    Generated once per table shape from the shape's own column paths (never from data): one
    call per record instead of one per field makes shaping several times faster.
    """
    source = "def read(row):\n    return (" + ", ".join(map(_path_expression, paths)) + ",)\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<row reader>", "exec"), namespace)  # noqa: S102 - our own paths only
    return namespace["read"]


def _minor_units(money: Any) -> int | None:
    """``value`` of a money object; anything else there is drift, not a silent null."""
    if money is None:
        return None
    if isinstance(money, dict) and _is_int(money.get("value")):
        return money["value"]
    raise TypeError(f"expected a money object with an integer value, got {money!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(value: Any) -> int | None:
    # pyarrow would truncate Decimal("1.5") to 1 without a word: only whole numbers pass.
    if value is None or _is_int(value):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise TypeError(f"{value!r} is not an integer")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        # An object where text was is a changed shape, not a value to flatten into a string.
        raise TypeError(f"expected text, got a JSON {type(value).__name__}")
    return str(value)  # ids sent as numbers are still ids


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def to_json_text(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, default=_json_default).decode()


def _to_array(values: list[Any], kind: Kind) -> pa.Array:
    if kind is Kind.JSON:
        return pa.array([to_json_text(v) for v in values], type=pa.string())
    if kind is Kind.STRING:
        return pa.array([_text(v) for v in values], type=pa.string())
    if kind in (Kind.TIMESTAMP, Kind.LOCAL_TIMESTAMP):
        # Arrow parses ISO 8601 (with 'Z' or an offset) in C, far faster than Python.
        text = pa.array([v or None for v in values], type=pa.string())
        if kind is Kind.LOCAL_TIMESTAMP:
            return text.cast(pa.timestamp("us"))
        return text.cast(pa.timestamp("us", tz="UTC"))
    if kind is Kind.MONEY:
        # pyarrow itself refuses floats, text and decimals that would lose digits.
        return pa.array(values, type=kind.arrow_type)
    if kind is Kind.MINOR_UNITS:
        return pa.array([_minor_units(v) for v in values], type=kind.arrow_type)
    if kind is Kind.BOOL:
        return pa.array([_boolean(v) for v in values], type=pa.bool_())
    return pa.array([_integer(v) for v in values], type=kind.arrow_type)


def _boolean(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{value!r} is not a boolean")


_CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError)


INVALID_FIELDS = "invalid_fields"
REJECTED_RECORDS = "rejected_records"
# The rejected_records table, the same in both raw schemas (dlt types, for the table hints).
REJECTED_RECORDS_COLUMNS: dict[str, dict[str, Any]] = {
    # A digest of (account, table, record): the same record set aside by every sync that reads
    # it again is one row (merged, its rejected_at the latest), so re-running changes nothing.
    "rejection_id": {"data_type": "text", "nullable": False},
    "account_id": {"data_type": "text", "nullable": False},
    "table_name": {"data_type": "text", "nullable": False},
    "reason": {"data_type": "text", "nullable": False},
    "record": {"data_type": "text", "nullable": False},  # the record as received, JSON text
    "rejected_at": {"data_type": "timestamp", "nullable": False},
}


@dataclass
class ShapedPage:
    """A page of records shaped for loading: the rows that load, and the records set aside."""

    table: pa.Table
    # Rows of the rejected_records table (see REJECTED_RECORDS_COLUMNS).
    rejected: list[dict[str, Any]]


@dataclass
class TableShape:
    """The typed columns of one staging table and how to read them from a platform record."""

    name: str
    columns: Sequence[Column]
    # Dotted paths that other tables load (an event's dates[]) or that add nothing (an HTML copy
    # of a text field), so they are not reported as "extra".
    handled_elsewhere: frozenset[str] = frozenset()
    # The column dlt's incremental cursor reads: a record without a usable value there cannot
    # move (or be filtered by) the cursor, so it is set aside like a record without its key.
    cursor: str | None = None
    # Adds keys computed from the record (e.g. a city found in a list of address parts), read
    # by columns like any other path; applied on every path that shapes records (API, webhooks).
    derive: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    _known: dict[tuple[str, ...], frozenset[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        handled = [tuple(p.split(".")) for p in self.handled_elsewhere]

        def inside_handled(prefix: tuple[str, ...]) -> bool:
            # Below a handled path nothing is drift: a few columns may read leaves there (a
            # fee's total), the rest is accounted for as a whole.
            return any(prefix[: len(h)] == h and len(prefix) > len(h) for h in handled)

        known: dict[tuple[str, ...], set[str]] = {(): set()}
        for path in [c.path for c in self.columns] + handled:
            for depth in range(len(path)):
                known.setdefault(path[:depth], set()).add(path[depth])
        for column in self.columns:
            if column.kind is Kind.MINOR_UNITS:
                known.setdefault(column.path, set()).update(MONEY_OBJECT_KEYS)
        self._known = {
            prefix: frozenset(keys) for prefix, keys in known.items() if not inside_handled(prefix)
        }
        self._read_paths = frozenset(c.path for c in self.columns)
        self._read_row = compile_row_reader([c.path for c in self.columns])
        names = [c.name for c in self.columns]
        if self.cursor is not None and self.cursor not in names:
            raise ValueError(f"{self.name}: cursor {self.cursor!r} is not a column")
        self._cursor_index = names.index(self.cursor) if self.cursor else None

    @property
    def primary_key(self) -> tuple[str, str]:
        """The merge key: the account, and the record's own id (always the first column)."""
        return ("account_id", self.columns[0].name)

    @property
    def arrow_schema(self) -> pa.Schema:
        key = self.primary_key
        return pa.schema(
            [pa.field("account_id", pa.string(), nullable=False)]
            + [
                pa.field(c.name, c.kind.arrow_type, nullable=c.name not in key)
                for c in self.columns
            ]
            + [
                pa.field("ingested_via", pa.string()),
                pa.field("extra_fields", pa.string()),
                pa.field(INVALID_FIELDS, pa.string()),
            ]
        )

    def extra_fields(
        self, row: Mapping[str, Any], invalid: dict[str, Any] | None = None
    ) -> str | None:
        """Fields of the record that no column reads, as JSON text (None when there are none).

        An object the columns read into that arrived as something else (a list, a number) is
        a changed shape, not an absent one: it goes to ``invalid`` when given.
        """
        extra: dict[str, Any] = {}
        for prefix, keys in self._known.items():
            node: Any = row
            for key in prefix:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict):
                if not keys.issuperset(node):
                    for key in sorted(node.keys() - keys):  # same text in every process
                        extra[".".join((*prefix, key))] = node[key]
            elif node is not None and invalid is not None and prefix not in self._read_paths:
                invalid[".".join(prefix)] = {
                    "value": node,
                    "error": f"expected an object, got a JSON {type(node).__name__}",
                }
        return to_json_text(extra) if extra else None

    def shape(
        self, rows: Iterable[Mapping[str, Any]], account_id: str, ingested_via: str = "api"
    ) -> ShapedPage:
        """Typed rows of the records that can be merged, and the records set aside (with why).

        ``ingested_via`` says which path last wrote the row: the scheduled API sync or a
        webhook; both merge into the same tables, so a sale is never counted twice.
        """
        rows = [self.derive(row) for row in rows] if self.derive else list(rows)
        arrays = [pa.array([account_id] * len(rows), type=pa.string())]
        read = self._read_row
        columns = list(zip(*map(read, rows), strict=True)) if rows else [()] * len(self.columns)
        invalid: dict[int, dict[str, Any]] = {}
        for column, values in zip(self.columns, columns, strict=True):
            values = list(values)
            try:
                # The fast path: one conversion for the whole column.
                arrays.append(_to_array(values, column.kind))
            except _CONVERSION_ERRORS:
                arrays.append(self._convert_each(column, values, invalid))
        arrays.append(pa.array([ingested_via] * len(rows), type=pa.string()))
        extra = []
        for index, row in enumerate(rows):
            shape_errors: dict[str, Any] = {}
            extra.append(self.extra_fields(row, shape_errors))
            if shape_errors:
                invalid.setdefault(index, {}).update(shape_errors)
        arrays.append(pa.array(extra, type=pa.string()))
        arrays.append(
            pa.array([to_json_text(invalid.get(i)) for i in range(len(rows))], type=pa.string())
            if invalid
            else pa.nulls(len(rows), type=pa.string())
        )
        table = pa.Table.from_arrays(arrays, schema=self._loose_schema())
        rejected = self._rejected(rows, table, invalid, account_id)
        if rejected:
            keep = pa.array([i not in rejected for i in range(len(rows))], type=pa.bool_())
            table = table.filter(keep)
        table = pa.Table.from_arrays(table.columns, schema=self.arrow_schema)
        return ShapedPage(table, list(rejected.values()))

    def _convert_each(
        self, column: Column, values: list[Any], invalid: dict[int, dict[str, Any]]
    ) -> pa.Array:
        """The slow path, only for a column that failed as a whole: value by value."""
        path = ".".join(column.path)
        clean: list[Any] = []
        for index, value in enumerate(values):
            try:
                _to_array([value], column.kind)
            except _CONVERSION_ERRORS as error:
                invalid.setdefault(index, {})[path] = {
                    "value": value,
                    "error": f"does not fit {column.kind.name}: {str(error)[:200]}",
                }
                value = None
            clean.append(value)
        return _to_array(clean, column.kind)

    def _loose_schema(self) -> pa.Schema:
        # Before rejection the key may be null; the final schema says it never is.
        return pa.schema([f.with_nullable(True) for f in self.arrow_schema])

    def _rejected(
        self,
        rows: list[Mapping[str, Any]],
        table: pa.Table,
        invalid: dict[int, dict[str, Any]],
        account_id: str,
    ) -> dict[int, dict[str, Any]]:
        """Records that cannot be merged: no key, or no usable cursor (by position)."""
        checks = [self.columns[0]]
        if self._cursor_index is not None:
            checks.append(self.columns[self._cursor_index])
        rejected: dict[int, dict[str, Any]] = {}
        rejected_at = datetime.now(UTC)
        for column in checks:
            cells = table.column(column.name)
            if not cells.null_count:
                continue
            path = ".".join(column.path)
            for index, is_valid in enumerate(cells.is_valid().to_pylist()):
                if is_valid or index in rejected:
                    continue
                problem = (invalid.get(index) or {}).get(path)
                reason = (
                    f"{path} {problem['error']}"
                    if problem
                    else f"no {path}: the record cannot be merged"
                )
                record = to_json_text(rows[index]) or "null"
                digest = hashlib.sha256(f"{account_id}\n{self.name}\n{record}".encode())
                rejected[index] = {
                    "rejection_id": digest.hexdigest()[:32],
                    "account_id": account_id,
                    "table_name": self.name,
                    "reason": reason,
                    "record": record,
                    "rejected_at": rejected_at,
                }
        return rejected

    def to_arrow(
        self, rows: Iterable[Mapping[str, Any]], account_id: str, ingested_via: str = "api"
    ) -> pa.Table:
        """The typed rows of ``rows``; bad values are null cells listed in ``invalid_fields``.

        A caller that has no way to set records aside gets an error rather than a silently
        shorter table when a record cannot be merged; the sources use ``to_items``.
        """
        page = self.shape(rows, account_id, ingested_via)
        if page.rejected:
            reasons = sorted({r["reason"] for r in page.rejected})
            raise SchemaDriftError(
                f"{self.name}: {len(page.rejected)} record(s) cannot be merged: "
                + "; ".join(reasons)
            )
        return page.table

    def to_items(
        self, rows: Iterable[Mapping[str, Any]], account_id: str, ingested_via: str = "api"
    ) -> list[Any]:
        """What a dlt resource yields for a page: its table, after any records set aside.

        The set-aside records go to ``rejected_records`` in the same extract, so they load
        atomically with the good rows of their page. They are plain dicts (no cursor field) and
        come *before* the table: dlt's incremental step sees every item of a resource, passes
        dicts without its cursor through (``on_cursor_value_missing="include"``), and the Arrow
        table after them writes the cursor state last.
        """
        page = self.shape(rows, account_id, ingested_via)
        items: list[Any] = []
        if page.rejected:
            items.append(rejected_records_item(page.rejected))
        items.append(page.table)
        return items


def rejected_records_item(rows: list[dict[str, Any]]) -> Any:
    """``rows`` marked for the ``rejected_records`` table, merged on ``rejection_id``."""
    import dlt

    hints = dlt.mark.make_hints(
        table_name=REJECTED_RECORDS,
        write_disposition="merge",
        # Not the resource's merge key: a rejected record may lack it.
        primary_key=["rejection_id"],
        columns=REJECTED_RECORDS_COLUMNS,
    )
    return dlt.mark.with_hints(rows, hints, create_table_variant=True)


def count_invalid(table: pa.Table) -> dict[str, int]:
    """How many rows of a raw table hold an invalid value, per field (dotted path).

    For checks and sync summaries; ``table`` needs only its ``invalid_fields`` column.
    """
    counts: dict[str, int] = {}
    if INVALID_FIELDS not in table.column_names:
        return counts
    for text in table.column(INVALID_FIELDS).drop_null().to_pylist():
        for path in orjson.loads(text):
            counts[path] = counts.get(path, 0) + 1
    return dict(sorted(counts.items()))


class SchemaDriftError(ValueError):
    """Records that cannot be loaded as they are (see ``TableShape.to_arrow``)."""
