"""Outbound HTTP to user-configured URLs, refusing private, loopback and metadata targets.

Every user-given URL (HTTP tools, webhooks, URL imports, MCP servers, Feishu callbacks) goes
through `SafeHttpClient` or `safe_async_client`; `check_url` validates one when it is saved.
MCP clients (the SDK speaks httpx2) use `tiangong.net.mcp_http.safe_mcp_http_client`.
"""

from tiangong.net.addresses import is_blocked_ip, parse_url
from tiangong.net.client import SafeHttpClient, check_url
from tiangong.net.errors import (
    BlockedURL,
    HttpTimeout,
    HttpUnreachable,
    InvalidURL,
    ResponseTooLarge,
)
from tiangong.net.guard import Allowlist, Resolver
from tiangong.net.transport import SafeTransport, safe_async_client

__all__ = [
    "Allowlist",
    "BlockedURL",
    "HttpTimeout",
    "HttpUnreachable",
    "InvalidURL",
    "Resolver",
    "ResponseTooLarge",
    "SafeHttpClient",
    "SafeTransport",
    "check_url",
    "is_blocked_ip",
    "parse_url",
    "safe_async_client",
]
