"""Rows of a CSV or JSON file, and the filters a CSV/JSON data source query applies."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tiangong.data_sources.errors import FileUnreadable, QueryFailed
from tiangong.data_sources.jsonsafe import json_safe
from tiangong.data_sources.schemas import RowFilter

MAX_COLUMNS = 500
_DELIMITERS = ",;\t|"


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]


def _unique(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for index, raw in enumerate(names):
        name = raw.strip() or f"column_{index + 1}"
        while name in seen:
            name = f"{name}_{index + 1}"
        seen.add(name)
        result.append(name)
    return result


def csv_reader(text: str, delimiter: str | None) -> Iterable[list[str]]:
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=_DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def read_csv(text: str, delimiter: str | None, max_rows: int | None = None) -> Table:
    """The first row names the columns; short rows are padded, long ones cut."""
    try:
        reader = iter(csv_reader(text, delimiter))
        header = next(reader, [])
        columns = _unique(header[:MAX_COLUMNS])
        rows: list[list[Any]] = []
        for row in reader:
            if max_rows is not None and len(rows) >= max_rows:
                break
            if row:
                rows.append((row + [""] * len(columns))[: len(columns)])
    except csv.Error as exc:
        raise FileUnreadable(f"The CSV file cannot be read: {exc}") from None
    return Table(columns, rows)


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FileUnreadable(f"The JSON file cannot be read: {exc}") from None


def records_table(data: Any, records_key: str | None) -> Table:
    """A list of objects as rows (columns in order of first appearance); a list of other values
    as one column `value`; a single object as one row."""
    if records_key is not None:
        if not isinstance(data, dict) or not isinstance(data.get(records_key), list):
            raise FileUnreadable(f"The JSON file has no list under {records_key!r}")
        data = data[records_key]
    items: Sequence[Any] = data if isinstance(data, list) else [data]
    columns: dict[str, None] = {}
    for item in items:
        if isinstance(item, dict):
            for key in item:
                if len(columns) < MAX_COLUMNS:
                    columns.setdefault(str(key), None)
    if not columns:
        return Table(["value"], [[json_safe(item)] for item in items])
    names = list(columns)
    rows = [
        [json_safe(item.get(name)) for name in names]
        if isinstance(item, dict)
        else [json_safe(item)] + [None] * (len(names) - 1)
        for item in items
    ]
    return Table(names, rows)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _matches(cell: Any, rule: RowFilter) -> bool:
    value = rule.value
    if rule.op == "contains":
        return cell is not None and str(value).lower() in str(cell).lower()
    if rule.op in ("eq", "ne"):
        left, right = _number(cell), _number(value)
        same = left == right if left is not None and right is not None else str(cell) == str(value)
        if value is None:
            same = cell is None or cell == ""
        return same if rule.op == "eq" else not same
    left, right = _number(cell), _number(value)
    if left is None or right is None:
        if cell is None or value is None:
            return False
        left_text, right_text = str(cell), str(value)
        return {
            "gt": left_text > right_text,
            "gte": left_text >= right_text,
            "lt": left_text < right_text,
            "lte": left_text <= right_text,
        }[rule.op]
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[
        rule.op
    ]


def select(
    table: Table,
    filters: Sequence[RowFilter],
    columns: Sequence[str],
    offset: int,
    limit: int,
) -> tuple[Table, bool]:
    """Rows matching every filter, from offset, at most limit; True when more matched."""
    index = {name: position for position, name in enumerate(table.columns)}
    unknown = [name for name in [*columns, *(f.column for f in filters)] if name not in index]
    if unknown:
        raise QueryFailed(f"Unknown column(s): {', '.join(sorted(set(unknown))[:10])}")
    wanted = [index[name] for name in columns] if columns else list(range(len(table.columns)))
    picked: list[list[Any]] = []
    skipped = 0
    for row in table.rows:
        if not all(_matches(row[index[f.column]], f) for f in filters):
            continue
        if skipped < offset:
            skipped += 1
            continue
        if len(picked) == limit:
            return Table([table.columns[i] for i in wanted], picked), True
        picked.append([row[i] for i in wanted])
    return Table([table.columns[i] for i in wanted], picked), False
