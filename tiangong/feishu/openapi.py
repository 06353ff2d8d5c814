"""Feishu's open API: a tenant access token (cached until shortly before it expires) and
text replies. Calls go through the SSRF-safe client like every other outbound request."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tiangong.config import get_settings
from tiangong.errors import ServiceUnavailable, UpstreamError
from tiangong.net import SafeHttpClient

# Feishu caps a text message well above this; long answers are cut, not refused.
MAX_REPLY_CHARS = 20_000
# Refresh this long before Feishu's stated expiry, so a token never dies mid-request.
EXPIRY_MARGIN_S = 300

# (app_id, token, refresh after this time.monotonic())
_token: tuple[str, str, float] | None = None
_token_lock = asyncio.Lock()


def _base() -> str:
    return get_settings().feishu_base_url.rstrip("/")


async def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    result = await SafeHttpClient().request(
        "POST", url, json=body, headers=headers, timeout_s=15, max_bytes=1_000_000
    )
    try:
        data = json.loads(result.content)
    except ValueError:
        data = None
    if result.status >= 400 or not isinstance(data, dict) or data.get("code") != 0:
        code = data.get("code") if isinstance(data, dict) else None
        raise UpstreamError(
            f"Feishu answered HTTP {result.status} (code {code})", code="FEISHU_API_ERROR"
        )
    return data


async def tenant_token() -> str:
    global _token
    settings = get_settings()
    if not settings.feishu_app_id or not settings.feishu_app_secret:
        raise ServiceUnavailable(
            "Feishu app id/secret not configured", code="FEISHU_NOT_CONFIGURED"
        )
    async with _token_lock:
        if _token is not None and _token[0] == settings.feishu_app_id:
            if time.monotonic() < _token[2]:
                return _token[1]
        data = await _post(
            f"{_base()}/open-apis/auth/v3/tenant_access_token/internal",
            {"app_id": settings.feishu_app_id, "app_secret": settings.feishu_app_secret},
        )
        token = str(data.get("tenant_access_token") or "")
        if not token:
            raise UpstreamError("Feishu gave no tenant access token", code="FEISHU_API_ERROR")
        expire = int(data.get("expire") or 0)
        _token = (settings.feishu_app_id, token, time.monotonic() + expire - EXPIRY_MARGIN_S)
        return token


def forget_token() -> None:
    """Drop the cached token (tests; a token Feishu refused)."""
    global _token
    _token = None


async def send_text(chat_id: str, text: str) -> None:
    token = await tenant_token()
    body = {
        "receive_id": chat_id,
        "msg_type": "text",
        "content": json.dumps({"text": text[:MAX_REPLY_CHARS]}, ensure_ascii=False),
    }
    try:
        await _post(
            f"{_base()}/open-apis/im/v1/messages?receive_id_type=chat_id",
            body,
            headers={"Authorization": f"Bearer {token}"},
        )
    except UpstreamError:
        # The token may have been revoked or the app reconfigured: fetch a new one next time.
        forget_token()
        raise
