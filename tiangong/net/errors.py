"""Why an outbound request to a user-given URL did not happen or did not finish."""

from __future__ import annotations

from tiangong.errors import BadRequest, UpstreamError


class BlockedURL(BadRequest):
    """The URL points somewhere the platform must not reach (private, loopback, metadata...)."""

    code = "URL_BLOCKED"


class InvalidURL(BadRequest):
    code = "URL_INVALID"


class HttpTimeout(UpstreamError):
    code = "HTTP_TIMEOUT"
    status = 504


class ResponseTooLarge(UpstreamError):
    code = "HTTP_RESPONSE_TOO_LARGE"


class HttpUnreachable(UpstreamError):
    code = "HTTP_UNREACHABLE"
