"""Cron expressions (croniter) evaluated in the schedule's IANA time zone; stored times are UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from tiangong.errors import ValidationFailed


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(
            f"unknown time zone {name!r}", details=[{"field": "timezone", "message": str(exc)}]
        ) from exc


def next_times(cron: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """The next `count` fire times strictly after `after`, in the schedule's time zone."""
    tz = zone(timezone)
    # Five fields (minute precision) or an @alias; croniter's seconds/year forms are refused.
    if not (cron.startswith("@") or len(cron.split()) == 5) or not croniter.is_valid(cron):
        raise ValidationFailed(
            f"invalid cron expression {cron!r}",
            details=[{"field": "cron", "message": "expected five fields or an @alias"}],
        )
    try:
        it = croniter(cron, after.astimezone(tz))
        return [it.get_next(datetime) for _ in range(count)]
    except CroniterBadDateError as exc:
        raise ValidationFailed(
            f"cron expression {cron!r} never fires",
            details=[{"field": "cron", "message": str(exc)}],
        ) from exc


def next_after(cron: str, timezone: str, after: datetime) -> datetime:
    return next_times(cron, timezone, after, 1)[0].astimezone(UTC)
