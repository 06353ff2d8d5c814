"""The application's recent log records, kept in memory for GET /system-logs/app: a handler on
the `tiangong` logger holding the newest records of this process."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from tiangong.logs import request_id_var

CAPACITY = 2_000
MAX_MESSAGE = 4_000


@dataclass(frozen=True, slots=True)
class AppRecord:
    time: datetime
    level: str
    levelno: int
    logger: str
    message: str
    request_id: str
    exception: str | None


class RingHandler(logging.Handler):
    def __init__(self, capacity: int = CAPACITY) -> None:
        super().__init__()
        self.records: deque[AppRecord] = deque(maxlen=capacity)
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            exception = None
            if record.exc_info:
                exception = self._formatter.formatException(record.exc_info)[-MAX_MESSAGE:]
            self.records.append(
                AppRecord(
                    time=datetime.fromtimestamp(record.created, UTC),
                    level=record.levelname,
                    levelno=record.levelno,
                    logger=record.name,
                    message=message[:MAX_MESSAGE],
                    request_id=getattr(record, "request_id", None) or request_id_var.get(),
                    exception=exception,
                )
            )
        except Exception:
            self.handleError(record)

    def newest(self, *, min_level: int, logger: str | None, limit: int) -> list[AppRecord]:
        found = []
        # A copy: the deque may grow from another thread while it is read.
        for record in reversed(list(self.records)):
            if record.levelno < min_level:
                continue
            if logger is not None and not (
                record.logger == logger or record.logger.startswith(logger + ".")
            ):
                continue
            found.append(record)
            if len(found) >= limit:
                break
        return found


handler = RingHandler()


def install() -> None:
    """Attach the handler to the `tiangong` logger (once; records still reach the root's)."""
    target = logging.getLogger("tiangong")
    if handler not in target.handlers:
        target.addHandler(handler)
