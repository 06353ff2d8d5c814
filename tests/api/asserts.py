"""Assertions the API tests share."""

from __future__ import annotations

from typing import Any

import httpx


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The platform error shape with this status and code, and a message; returns the body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code and body["message"], body
    return body
