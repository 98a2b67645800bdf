"""Turn pages of platform JSON records into flat, explicitly typed Arrow tables.

dlt normalizes nested Python dicts at only a few thousand rows per second; Arrow tables skip that
path entirely (about 100x faster), and declaring every column here gives each staging table
explicit types: money as exact decimals or integer minor units, times as UTC timestamps.

Nothing is dropped silently: fields a platform adds that no column knows about are kept, as JSON
text, in the ``extra_fields`` column of the row, so schema drift is visible and recoverable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
    if isinstance(money, dict) and isinstance(money.get("value"), int):
        return money["value"]
    raise TypeError(f"expected a money object with an integer value, got {money!r}")


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
        return pa.array([v if v is None or isinstance(v, str) else str(v) for v in values])
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
    return pa.array(values, type=kind.arrow_type)


def _boolean(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{value!r} is not a boolean")


@dataclass
class TableShape:
    """The typed columns of one staging table and how to read them from a platform record."""

    name: str
    columns: Sequence[Column]
    # Dotted paths that other tables load (an event's dates[]) or that add nothing (an HTML copy
    # of a text field), so they are not reported as "extra".
    handled_elsewhere: frozenset[str] = frozenset()
    _known: dict[tuple[str, ...], frozenset[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        known: dict[tuple[str, ...], set[str]] = {(): set()}
        paths = [c.path for c in self.columns]
        paths += [tuple(p.split(".")) for p in self.handled_elsewhere]
        for path in paths:
            for depth in range(len(path)):
                known.setdefault(path[:depth], set()).add(path[depth])
        for column in self.columns:
            if column.kind is Kind.MINOR_UNITS:
                known.setdefault(column.path, set()).update(MONEY_OBJECT_KEYS)
        self._known = {prefix: frozenset(keys) for prefix, keys in known.items()}
        self._read_row = compile_row_reader([c.path for c in self.columns])

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
            + [pa.field("ingested_via", pa.string()), pa.field("extra_fields", pa.string())]
        )

    def extra_fields(self, row: Mapping[str, Any]) -> str | None:
        """Fields of the record that no column reads, as JSON text (None when there are none)."""
        extra: dict[str, Any] = {}
        for prefix, keys in self._known.items():
            node: Any = row
            for key in prefix:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict) and not keys.issuperset(node):
                for key in node.keys() - keys:
                    extra[".".join((*prefix, key))] = node[key]
        return to_json_text(extra) if extra else None

    def to_arrow(
        self, rows: Iterable[Mapping[str, Any]], account_id: str, ingested_via: str = "api"
    ) -> pa.Table:
        """``ingested_via`` says which path last wrote the row: the scheduled API sync or a
        webhook; both merge into the same tables, so a sale is never counted twice."""
        rows = list(rows)
        arrays = [pa.array([account_id] * len(rows), type=pa.string())]
        read = self._read_row
        columns = list(zip(*map(read, rows), strict=True)) if rows else [()] * len(self.columns)
        for column, values in zip(self.columns, columns, strict=True):
            try:
                arrays.append(_to_array(list(values), column.kind))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as error:
                raise SchemaDriftError(
                    f"{self.name}.{column.name} ({'.'.join(column.path)}): values do not fit "
                    f"{column.kind.name}: {error}"
                ) from error
        arrays.append(pa.array([ingested_via] * len(rows), type=pa.string()))
        arrays.append(pa.array([self.extra_fields(row) for row in rows], type=pa.string()))
        if arrays[1].null_count:
            raise SchemaDriftError(
                f"{self.name}: {arrays[1].null_count} record(s) without '{self.columns[0].name}' "
                f"({'.'.join(self.columns[0].path)}); they cannot be merged"
            )
        return pa.Table.from_arrays(arrays, schema=self.arrow_schema)


class SchemaDriftError(ValueError):
    """A known field arrived with a type the staging table cannot hold exactly."""
