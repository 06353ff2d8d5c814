"""The one error hierarchy.

Services and engines raise these; one exception handler per API family turns them
into the documented shape. Nothing below the endpoint layer raises HTTPException.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """A failure the caller should see, with a stable code and an HTTP status."""

    code = "APP_ERROR"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details
        self.headers = headers


class ValidationFailed(AppError):
    code = "VALIDATION_ERROR"
    status = 422


class BadRequest(AppError):
    code = "BAD_REQUEST"
    status = 400


class Unauthorized(AppError):
    code = "UNAUTHORIZED"
    status = 401


class Forbidden(AppError):
    code = "FORBIDDEN"
    status = 403


class NotFound(AppError):
    code = "NOT_FOUND"
    status = 404


class Conflict(AppError):
    code = "CONFLICT"
    status = 409


class TooManyRequests(AppError):
    code = "TOO_MANY_REQUESTS"
    status = 429


class ServiceUnavailable(AppError):
    code = "SERVICE_UNAVAILABLE"
    status = 503


class UpstreamError(AppError):
    """An external provider (LLM, embeddings, HTTP tool) failed."""

    code = "UPSTREAM_ERROR"
    status = 502
