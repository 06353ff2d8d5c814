"""Builtin tools: datetime. Time zones come from the IANA database (zoneinfo + tzdata)."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadTypeRangeError, CroniterError, croniter
from pydantic import BaseModel, ConfigDict, Field

from tiangong.runtime.tools.base import Tool, ToolError
from tiangong.runtime.tools.context import ToolContext
from tiangong.runtime.tools.registry import builtin_tool

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_LOOSE_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(.*)$")
_TIMESTAMP = re.compile(r"^-?\d{1,12}(?:\.\d+)?$")

TimeZoneName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="IANA time zone such as Asia/Shanghai or America/New_York, UTC, or an "
        "offset like +08:00.",
    ),
]
MomentText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="ISO 8601 date or date-time (2024-05-01, 2024-05-01T09:30:00+08:00), "
        "2024/5/1, 2024年5月1日, a Unix timestamp, 'now' or 'today'. Without an offset it is "
        "read in `timezone`.",
    ),
]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


def get_zone(name: str) -> tzinfo:
    text = name.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return UTC
    offset = _OFFSET.match(text)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta >= timedelta(hours=24) or int(minutes or 0) >= 60:
            raise ToolError(f"Offset {name!r} is out of range.")
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ToolError(
            f"Unknown time zone {name!r}; use an IANA name such as Asia/Shanghai, "
            "America/New_York or UTC, or an offset like +08:00."
        ) from None


def _zone_name(zone: tzinfo) -> str:
    if isinstance(zone, ZoneInfo):
        return zone.key
    return "UTC" if zone is UTC else str(zone)


def parse_moment(text: str, zone: tzinfo) -> datetime:
    """An aware datetime; naive input is read in `zone`."""
    value = text.strip()
    if value.lower() == "now":
        return datetime.now(zone)
    if value.lower() == "today":
        return datetime.combine(datetime.now(zone).date(), datetime.min.time(), zone)
    try:
        if _TIMESTAMP.match(value):
            return datetime.fromtimestamp(float(value), zone)
        loose = _LOOSE_DATE.match(value)
        if loose:
            year, month, day, rest = loose.groups()
            value = f"{year}-{int(month):02d}-{int(day):02d}{rest}"
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        raise ToolError(
            f"Cannot read {text!r} as a date or time; use ISO 8601 such as 2024-05-01 or "
            "2024-05-01T09:30:00+08:00, a Unix timestamp, or 'now'."
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def in_zone(moment: datetime, zone: tzinfo) -> datetime:
    try:
        return moment.astimezone(zone)
    except (OverflowError, ValueError):
        raise ToolError(f"{moment.isoformat()} is out of range in that time zone.") from None


class Moment(BaseModel):
    iso: str = Field(description="ISO 8601 with offset.")
    date: str
    time: str
    timezone: str
    utc_offset: str = Field(description="e.g. +08:00.")
    unix: float = Field(description="Seconds since 1970-01-01T00:00:00Z.")
    weekday: str
    weekday_zh: str = Field(description="星期一 ... 星期日.")
    iso_week: int
    day_of_year: int


def describe(moment: datetime, zone: tzinfo | None = None) -> Moment:
    zone = zone or moment.tzinfo or UTC
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return Moment(
        iso=moment.isoformat(),
        date=moment.date().isoformat(),
        time=moment.time().replace(tzinfo=None).isoformat(),
        timezone=_zone_name(zone),
        utc_offset=f"{sign}{hours:02d}:{mins:02d}",
        unix=moment.timestamp(),
        weekday=WEEKDAYS[moment.weekday()],
        weekday_zh=WEEKDAYS_ZH[moment.weekday()],
        iso_week=moment.isocalendar().week,
        day_of_year=moment.timetuple().tm_yday,
    )


# --- current_time -----------------------------------------------------------------------------


class CurrentTimeInput(_Input):
    timezone: TimeZoneName = "UTC"


@builtin_tool
class CurrentTime(Tool):
    name = "current_time"
    description = (
        "Get the current date and time in a time zone (IANA name like Asia/Shanghai, or "
        "+08:00; default UTC): ISO string, Unix timestamp, weekday in English and Chinese "
        "(星期), ISO week and day of year."
    )
    category = "datetime"
    Input = CurrentTimeInput
    Output = Moment

    async def run(self, args: CurrentTimeInput, ctx: ToolContext) -> Moment:
        zone = get_zone(args.timezone)
        return describe(datetime.now(zone), zone)


# --- timezone_convert -------------------------------------------------------------------------


class TimezoneConvertInput(_Input):
    datetime: MomentText = "now"
    from_timezone: TimeZoneName = "UTC"
    to_timezone: str = Field(
        min_length=1, max_length=64, description="Target IANA time zone or offset."
    )


class TimezoneConvertOutput(BaseModel):
    source: Moment
    result: Moment


@builtin_tool
class TimezoneConvert(Tool):
    name = "timezone_convert"
    description = (
        "Convert a date-time from one time zone to another (IANA names like Europe/London, "
        "or offsets like +08:00), handling daylight saving time. A date-time without an "
        "offset is read in from_timezone."
    )
    category = "datetime"
    Input = TimezoneConvertInput
    Output = TimezoneConvertOutput

    async def run(self, args: TimezoneConvertInput, ctx: ToolContext) -> TimezoneConvertOutput:
        source_zone = get_zone(args.from_timezone)
        target_zone = get_zone(args.to_timezone)
        moment = parse_moment(args.datetime, source_zone)
        converted = in_zone(moment, target_zone)
        return TimezoneConvertOutput(
            source=describe(moment), result=describe(converted, target_zone)
        )


# --- date_diff --------------------------------------------------------------------------------


class DateDiffInput(_Input):
    start: MomentText
    end: MomentText = "now"
    timezone: TimeZoneName = "UTC"
    holidays: list[date] = Field(
        default_factory=list,
        max_length=1000,
        description="Dates (YYYY-MM-DD) not counted as business days.",
    )


class DateDiffOutput(BaseModel):
    total_seconds: float = Field(description="end - start; negative if end is earlier.")
    total_minutes: float
    total_hours: float
    total_days: float
    days: int = Field(description="Whole days of the difference (sign included).")
    hours: int = Field(description="Hours left over after whole days.")
    minutes: int
    seconds: float
    calendar_days: int = Field(description="Difference of the calendar dates in `timezone`.")
    business_days: int = Field(
        description="Monday-Friday dates from start (inclusive) to end (exclusive), less "
        "holidays; negative if end is earlier."
    )


def business_days(start: date, end: date, holidays: set[date]) -> int:
    if end < start:
        return -business_days(end, start, holidays)
    weeks, extra = divmod((end - start).days, 7)
    count = weeks * 5 + sum(1 for i in range(extra) if (start.weekday() + i) % 7 < 5)
    return count - sum(1 for h in holidays if start <= h < end and h.weekday() < 5)


@builtin_tool
class DateDiff(Tool):
    name = "date_diff"
    description = (
        "Time between two dates or date-times: totals in seconds, minutes, hours and days, a "
        "days/hours/minutes/seconds breakdown, calendar days, and business days (Mon-Fri, "
        "minus optional holidays). Inputs are ISO 8601, Unix timestamps or 'now'."
    )
    category = "datetime"
    Input = DateDiffInput
    Output = DateDiffOutput

    async def run(self, args: DateDiffInput, ctx: ToolContext) -> DateDiffOutput:
        zone = get_zone(args.timezone)
        start = in_zone(parse_moment(args.start, zone), zone)
        end = in_zone(parse_moment(args.end, zone), zone)
        seconds = (end - start).total_seconds()
        sign = -1 if seconds < 0 else 1
        whole_days, rest = divmod(abs(seconds), 86_400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        return DateDiffOutput(
            total_seconds=seconds,
            total_minutes=seconds / 60,
            total_hours=seconds / 3600,
            total_days=seconds / 86_400,
            days=sign * int(whole_days),
            hours=sign * int(hours),
            minutes=sign * int(minutes),
            seconds=sign * round(secs, 6) + 0.0,
            calendar_days=(end.date() - start.date()).days,
            business_days=business_days(start.date(), end.date(), set(args.holidays)),
        )


# --- date_add ---------------------------------------------------------------------------------


class DateAddInput(_Input):
    datetime: MomentText = "now"
    timezone: TimeZoneName = "UTC"
    years: int = Field(default=0, ge=-10_000, le=10_000)
    months: int = Field(default=0, ge=-120_000, le=120_000)
    weeks: int = Field(default=0, ge=-520_000, le=520_000)
    days: int = Field(default=0, ge=-3_660_000, le=3_660_000)
    hours: int = Field(default=0, ge=-87_840_000, le=87_840_000)
    minutes: int = Field(default=0, ge=-5_270_400_000, le=5_270_400_000)
    seconds: int = Field(default=0, ge=-316_224_000_000, le=316_224_000_000)


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months; the day is clamped to the target month's end (Jan 31 + 1 = Feb 28/29)."""
    year, month0 = divmod(moment.year * 12 + moment.month - 1 + months, 12)
    if not 1 <= year <= 9999:
        raise ToolError("The resulting date is outside years 1-9999.")
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)


@builtin_tool
class DateAdd(Tool):
    name = "date_add"
    description = (
        "Add (or, with negative numbers, subtract) years, months, weeks, days, hours, minutes "
        "and seconds to a date-time. Months and years clamp to the month's end (Jan 31 + 1 "
        "month = Feb 28/29); days keep the wall-clock time, hours and smaller add elapsed time."
    )
    category = "datetime"
    Input = DateAddInput
    Output = Moment

    async def run(self, args: DateAddInput, ctx: ToolContext) -> Moment:
        zone = get_zone(args.timezone)
        moment = parse_moment(args.datetime, zone)
        local_zone = moment.tzinfo or zone
        try:
            moment = add_months(moment, args.years * 12 + args.months)
            moment = moment + timedelta(weeks=args.weeks, days=args.days)
            elapsed = timedelta(hours=args.hours, minutes=args.minutes, seconds=args.seconds)
            moment = (moment.astimezone(UTC) + elapsed).astimezone(local_zone)
        except (OverflowError, ValueError):
            raise ToolError("The resulting date is outside years 1-9999.") from None
        return describe(moment, local_zone)


# --- cron_next --------------------------------------------------------------------------------


class CronNextInput(_Input):
    expression: str = Field(
        min_length=1,
        max_length=200,
        description="Cron: minute hour day-of-month month day-of-week, e.g. '0 9 * * MON-FRI'; "
        "an optional 6th field is seconds; @daily, @hourly, @weekly also work.",
    )
    timezone: TimeZoneName = "UTC"
    start: str = Field(
        default="now",
        min_length=1,
        max_length=64,
        description="Find runs after this moment (ISO 8601 or 'now').",
    )
    count: int = Field(default=5, ge=1, le=100, description="How many run times to list.")


class CronNextOutput(BaseModel):
    times: list[str] = Field(description="Next run times, ISO 8601 in `timezone`.")
    timezone: str


@builtin_tool
class CronNext(Tool):
    name = "cron_next"
    description = (
        "List the next run times (1-100) of a cron expression in a time zone, after `start` "
        "(default now). Five fields (minute hour day month weekday) or six with seconds "
        "last; names like MON-FRI and @daily are accepted."
    )
    category = "datetime"
    Input = CronNextInput
    Output = CronNextOutput

    async def run(self, args: CronNextInput, ctx: ToolContext) -> CronNextOutput:
        zone = get_zone(args.timezone)
        start = in_zone(parse_moment(args.start, zone), zone)
        try:
            schedule = croniter(args.expression, start, max_years_between_matches=50)
            times = [schedule.get_next(datetime).isoformat() for _ in range(args.count)]
        except (CroniterError, CroniterBadTypeRangeError, ValueError, OverflowError) as exc:
            raise ToolError(
                f"Invalid or unsatisfiable cron expression {args.expression!r}: {exc}"
            ) from exc
        return CronNextOutput(times=times, timezone=_zone_name(zone))
