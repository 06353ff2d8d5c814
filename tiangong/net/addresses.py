"""What a URL's host really is, and whether an address may be reached from the platform.

Hosts are read the way the connecting code reads them: httpx parses the URL, then numeric hosts
are normalised with the WHATWG/inet_aton rules (decimal, octal, hex and short forms), so
"http://0x7f.1/" and "http://2130706433/" are both 127.0.0.1 here, as they are to libc.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Protocol

import httpx

from tiangong.net.errors import BlockedURL, InvalidURL

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

SCHEMES = ("http", "https")

_PRIVATE = "a private address"
_SPECIAL = "a special-purpose address"
_DOCUMENTATION = "a documentation address"

# First match wins. Whatever these miss but ipaddress does not call global is still refused.
_V4_RULES: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ip_network(net), label)
    for net, label in (
        ("0.0.0.0/8", "an unspecified address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", _PRIVATE),
        ("172.16.0.0/12", _PRIVATE),
        ("192.168.0.0/16", _PRIVATE),
        ("169.254.0.0/16", "a link-local address"),
        ("100.64.0.0/10", "a carrier-grade NAT address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("192.0.0.0/24", _SPECIAL),
        ("192.88.99.0/24", _SPECIAL),
        ("198.18.0.0/15", "a benchmarking address"),
        ("192.0.2.0/24", _DOCUMENTATION),
        ("198.51.100.0/24", _DOCUMENTATION),
        ("203.0.113.0/24", _DOCUMENTATION),
    )
)

_V6_RULES: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ip_network(net), label)
    for net, label in (
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("::/96", "a deprecated IPv4-compatible address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001::/32", "a Teredo tunnel address"),
        ("2001:db8::/32", _DOCUMENTATION),
        ("3fff::/20", _DOCUMENTATION),
        ("fc00::/7", _PRIVATE),
        ("fec0::/10", "a site-local address"),
        ("fe80::/10", "a link-local address"),
        ("ff00::/8", "a multicast address"),
    )
)

_GLOBAL_UNICAST_V6 = ip_network("2000::/3")
_NAT64 = ip_network("64:ff9b::/96")

# Instance metadata services (AWS, GCP, Azure, ECS/EKS, Alibaba, Tencent).
_METADATA_IPS = frozenset(
    ip_address(address)
    for address in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.170.23",
        "169.254.0.23",
        "100.100.100.200",
        "fd00:ec2::254",
    )
)

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
    }
)

_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,62})?")
_ZONE = re.compile(r"[a-z0-9_.-]+")


@dataclass(frozen=True)
class Host:
    """A URL host after normalisation: lower case, no trailing dot, IPs in canonical form."""

    name: str
    ip: IPAddress | None = None


class ParsedURL(Protocol):
    """What parse_url reads of an already parsed URL (httpx.URL, httpx2.URL)."""

    @property
    def scheme(self) -> str: ...

    @property
    def raw_host(self) -> bytes: ...

    @property
    def port(self) -> int | None: ...


@dataclass(frozen=True)
class Target:
    scheme: str
    host: Host
    port: int


def without_scope(ip: IPAddress) -> IPAddress:
    """The address without an IPv6 zone id (fe80::1%eth0 -> fe80::1)."""
    if isinstance(ip, IPv6Address) and ip.scope_id:
        return IPv6Address(int(ip))
    return ip


def embedded_ipv4(ip: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 or 6to4 address delivers to."""
    if isinstance(ip, IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def is_blocked_ip(ip: IPAddress | str) -> str | None:
    """Why the platform must not connect to ip (e.g. "a private address 10.0.0.5"), or None."""
    address = without_scope(ip_address(ip.split("%", 1)[0]) if isinstance(ip, str) else ip)
    if address in _METADATA_IPS:
        return f"a cloud metadata address {address}"
    inner = embedded_ipv4(address)
    if inner is not None:
        reason = is_blocked_ip(inner)
        return None if reason is None else f"{reason} (inside {address})"
    rules = _V4_RULES if isinstance(address, IPv4Address) else _V6_RULES
    for network, label in rules:
        if address in network:
            return f"{label} {address}"
    if isinstance(address, IPv6Address) and address not in _GLOBAL_UNICAST_V6:
        return f"a reserved address {address}"
    if not address.is_global:
        return f"a non-public address {address}"
    return None


def blocked_hostname(name: str) -> str | None:
    """Why a host name is refused before any lookup, or None. name is already normalised."""
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return "a loopback host name"
    if name in _METADATA_NAMES:
        return "a cloud metadata host name"
    return None


def parse_url(url: str | ParsedURL) -> Target:
    """Scheme, host and port of url as httpx will use them. Raises InvalidURL or BlockedURL."""
    parsed: ParsedURL
    if isinstance(url, str):
        _refuse_ambiguous_authority(url)
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise InvalidURL(f"Invalid URL: {exc}") from None
    else:
        parsed = url
    scheme = parsed.scheme
    if scheme not in SCHEMES:
        shown = f"the {scheme}: scheme" if scheme else "a URL without a scheme"
        raise BlockedURL(f"{shown} is not allowed; use http or https")
    host = parse_host(parsed.raw_host.decode("ascii"))
    return Target(scheme, host, parsed.port or (443 if scheme == "https" else 80))


def parse_host(raw: str) -> Host:
    """Normalise a URL host (as in httpx.URL.raw_host, without brackets). Raises InvalidURL."""
    host = raw.lower()
    if not host:
        raise InvalidURL("The URL has no host")
    if ":" in host:
        return _parse_ipv6(host)
    if host.endswith("."):
        host = host[:-1]
    if not host or host.endswith("."):
        raise InvalidURL(f"Invalid host {raw!r}")
    if _ends_in_number(host):
        ipv4 = _parse_ipv4(host)
        if ipv4 is None:
            raise InvalidURL(f"Invalid IPv4 address {raw!r}")
        return Host(str(ipv4), ipv4)
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise InvalidURL(f"Invalid host name {raw!r}")
    return Host(host)


def _refuse_ambiguous_authority(url: str) -> None:
    # Browsers read "\" as "/", httpx reads it as part of the user name: refuse what parsers
    # disagree on rather than guess which one a later reader of the URL will be.
    _, sep, rest = url.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0] if sep else ""
    if "\\" in authority:
        raise InvalidURL("Invalid URL: backslash in the host part")


def _parse_ipv6(host: str) -> Host:
    address, _, zone = host.partition("%")
    if zone.startswith("25"):
        zone = zone[2:]
    try:
        ip = IPv6Address(address)
        if zone:
            if not _ZONE.fullmatch(zone):
                raise ValueError(zone)
            ip = IPv6Address(f"{address}%{zone}")
    except ValueError:
        raise InvalidURL(f"Invalid IPv6 address {host!r}") from None
    return Host(str(ip), ip)


def _ends_in_number(host: str) -> bool:
    last = host.rsplit(".", 1)[-1]
    return last.isdigit() or _ipv4_number(last) is not None


def _parse_ipv4(host: str) -> IPv4Address | None:
    """The WHATWG IPv4 parser: 1 to 4 parts, each decimal, 0-octal or 0x-hex; the last part
    fills the remaining bytes (127.1 is 127.0.0.1). None when the host is not a valid IPv4."""
    parts = host.split(".")
    if len(parts) > 4:
        return None
    numbers = [_ipv4_number(part) for part in parts]
    if any(number is None for number in numbers):
        return None
    values = [number for number in numbers if number is not None]
    if any(value > 255 for value in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    total = values[-1]
    for index, value in enumerate(values[:-1]):
        total += value << (8 * (3 - index))
    return IPv4Address(total)


def _ipv4_number(part: str) -> int | None:
    if not part:
        return None
    base = 10
    if part[:2] in ("0x", "0X"):
        base, part = 16, part[2:]
    elif len(part) > 1 and part[0] == "0":
        base, part = 8, part[1:]
    if not part:
        return 0
    try:
        return int(part, base) if part.isalnum() and part.isascii() else None
    except ValueError:
        return None
