"""INSERT one ORM object's row straight through the session's connection, on SQLite.

The chat turn stores its messages on the event loop (see `one_hop`), where every microsecond
is time to first token. Inserting three rows through the ORM's unit of work cost about three
times as much as the same INSERTs with statements compiled once: the flush (state tracking,
dependency sorting, per-statement compilation checks) is the larger part, not SQLite. This
inserts the row the ORM would insert: the attributes that are set, plus the columns' Python
defaults (applied here and set on the object), with the columns' own bind processing. The object
is not added to the session; the caller makes what it returns (views) from it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from tiangong.db.base import Base

Processor = Callable[[Any], Any] | None


@cache
def _statement(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[str, tuple[str, ...], tuple[Processor, ...]]:
    compiled = insert(table).values({c: bindparam(c) for c in columns}).compile(dialect=dialect)
    order = tuple(compiled.positiontup or ())
    processors = tuple(
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order
    )
    return str(compiled), order, processors


def _values(obj: Base, table: Table) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.key in obj.__dict__:
            values[column.key] = obj.__dict__[column.key]
        elif column.default is not None:
            default: Any = column.default
            if not (default.is_scalar or default.is_callable):
                raise TypeError(f"{table.name}.{column.key}: unsupported default")
            # SQLAlchemy wraps plain callables to take the execution context.
            value = default.arg if default.is_scalar else default.arg(None)
            values[column.key] = value
            setattr(obj, column.key, value)
    return values


def insert_row(session: Session, obj: Base) -> Any:
    """Insert `obj`'s row now, in the session's transaction; returns the generated row id."""
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "sqlite":
        raise TypeError("insert_row is for SQLite (it relies on the cursor's lastrowid)")
    table = obj.__table__
    assert isinstance(table, Table)
    values = _values(obj, table)
    sql, order, processors = _statement(dialect, table, tuple(sorted(values)))
    params = tuple(
        p(values[name]) if p is not None else values[name]
        for name, p in zip(order, processors, strict=True)
    )
    return connection.exec_driver_sql(sql, params).lastrowid
