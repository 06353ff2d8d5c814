"""Small helpers shared by the monitoring services: the time window, day keys, percentiles and
the numbers databases hand back (MySQL returns SUM and AVG as Decimal)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func

from tiangong.db.base import utcnow

# Percentiles are computed in Python, so they read at most this many of the newest rows of
# the window (every database can sort and limit; not all of them have percentile functions).
# Counts, sums and averages are aggregated in SQL over the whole window, except workflow run
# durations (see `system_repository.run_spans`).
SAMPLE_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class Window:
    """`days` calendar days in UTC, today included, from midnight of the first."""

    days: int
    since: datetime
    # The window's dates, oldest first, today last.
    dates: list[str]


def window(days: int) -> Window:
    first = utcnow().date() - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    dates = [(first + timedelta(days=offset)).isoformat() for offset in range(days)]
    return Window(days=days, since=since, dates=dates)


def day_key(value: Any) -> str:
    """`func.date(column)` gives a date on PostgreSQL and MySQL, a string on SQLite."""
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def as_int(value: Any) -> int:
    return int(value or 0)


def as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest rank: the smallest value with at least `q` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """COUNT of the group's rows that match, as a portable SUM(CASE ...)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
