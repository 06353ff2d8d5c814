"""Brute-force protection: failed logins are counted per account and per client address."""

from __future__ import annotations

from tiangong.cache import get_cache
from tiangong.config import get_settings
from tiangong.errors import TooManyRequests


def _keys(login: str, client_ip: str) -> tuple[str, str]:
    return f"login-fail:user:{login.strip().lower()}", f"login-fail:ip:{client_ip}"


async def check(login: str, client_ip: str) -> None:
    settings = get_settings()
    cache = get_cache()
    # An address gets more room than one account: offices share an IP.
    limits = (settings.login_max_failures, settings.login_max_failures * 4)
    for key, limit in zip(_keys(login, client_ip), limits, strict=True):
        count = await cache.get(key)
        if count is not None and int(count) >= limit:
            retry = await cache.ttl(key) or settings.login_window_seconds
            raise TooManyRequests(
                f"Too many failed logins; try again in {retry} seconds",
                code="LOGIN_THROTTLED",
                headers={"Retry-After": str(retry)},
            )


async def record_failure(login: str, client_ip: str) -> None:
    window = get_settings().login_window_seconds
    cache = get_cache()
    for key in _keys(login, client_ip):
        await cache.incr(key, ttl=window)


async def clear(login: str) -> None:
    await get_cache().delete(_keys(login, "")[0])
