"""Exception handlers: every failure leaves as {"error": CODE, "message": ...}.

API families with their own envelope (SmartFlow under /api/v1/agent/) register a formatter
for their path prefix; everything else gets the platform shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tiangong.errors import AppError

log = logging.getLogger("tiangong.errors")

Formatter = Callable[[int, str, str, Any], JSONResponse]
_families: list[tuple[str, Formatter]] = []

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
}

# character_not_in_repertoire, untranslatable_character
_BAD_TEXT_SQLSTATES = {"22021", "22P05"}


def platform_format(status: int, code: str, message: str, details: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status)


def register_error_family(prefix: str, formatter: Formatter) -> None:
    _families.append((prefix, formatter))


def _respond(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    formatter = next(
        (f for prefix, f in _families if request.url.path.startswith(prefix)), platform_format
    )
    response = formatter(status, code, message, details)
    if headers:
        response.headers.update(headers)
    return response


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    fields = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        fields.append(
            {"field": ".".join(loc), "message": err.get("msg", ""), "type": err.get("type")}
        )
    return fields


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        details = exc.details
        if exc.status == 422 and details is None:
            # The documented 422 always has details[]; a check without a field names the request.
            details = [{"field": "", "message": exc.message, "type": "value_error"}]
        return _respond(request, exc.status, exc.code, exc.message, details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = _field_errors(exc)
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return _respond(request, 422, "VALIDATION_ERROR", f"Invalid request: {summary}", fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        return _respond(request, exc.status_code, code, str(exc.detail), None, exc.headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Services check uniqueness first; this catches the race between two writers.
        log.warning("integrity error: %s", exc.orig)
        return _respond(request, 409, "CONFLICT", "The change conflicts with existing data")

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # PostgreSQL refuses NUL (and untranslatable) characters in text, wherever the user
        # put them: a path id, a query, a form or a JSON string. That is bad input, not a crash.
        if getattr(exc.orig, "sqlstate", None) in _BAD_TEXT_SQLSTATES:
            return _respond(
                request, 400, "BAD_REQUEST", "Text must not contain NUL or invalid characters"
            )
        log.error("database error", exc_info=exc)
        return _respond(request, 500, "INTERNAL_ERROR", "Internal server error")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _respond(request, 500, "INTERNAL_ERROR", "Internal server error")
