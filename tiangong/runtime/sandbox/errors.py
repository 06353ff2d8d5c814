"""Sandbox failures that belong to the platform or the caller, not to the user's code.

Failures *of* the user's code (exceptions, timeouts, limits) are not raised: they come back as
`CodeResult(ok=False, error=...)`.
"""

from __future__ import annotations

from tiangong.errors import AppError


class SandboxUnavailable(AppError):
    """No working sandbox here, so code execution is refused (never run unsandboxed)."""

    code = "SANDBOX_UNAVAILABLE"
    status = 503


class UnsupportedLanguage(AppError):
    """The language is unknown, or its runtime is not installed on this host."""

    code = "UNSUPPORTED_LANGUAGE"
    status = 400
