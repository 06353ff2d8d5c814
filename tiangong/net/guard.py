"""Decides, at the moment of use, which addresses a host may be reached at."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import ip_address, ip_network

from tiangong.config import get_settings
from tiangong.net.addresses import (
    Host,
    IPAddress,
    IPNetwork,
    blocked_hostname,
    embedded_ipv4,
    is_blocked_ip,
    without_scope,
)
from tiangong.net.errors import BlockedURL, HttpUnreachable

logger = logging.getLogger(__name__)

# resolver(host, port) -> the host's addresses as text, like getaddrinfo. Tests pass a fake.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Allowlist:
    """Targets an admin opened on purpose: networks (CIDRs or single IPs) and exact host names."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        return _parse_allowlist(tuple(entries))

    def allows_host(self, name: str) -> bool:
        return name in self.hosts

    def allows_ip(self, ip: IPAddress) -> bool:
        address = without_scope(ip)
        candidates = [address, embedded_ipv4(address)]
        return any(
            candidate in network
            for candidate in candidates
            if candidate is not None
            for network in self.networks
            if network.version == candidate.version
        )


@lru_cache(maxsize=16)
def _parse_allowlist(entries: tuple[str, ...]) -> Allowlist:
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for entry in entries:
        text = entry.strip().lower().removeprefix("[").removesuffix("]")
        if not text:
            continue
        try:
            networks.append(ip_network(text, strict=False))
        except ValueError:
            if "/" in text or ":" in text:
                logger.warning("ignoring malformed http_allowlist entry %r", entry)
            else:
                hosts.add(text.rstrip("."))
    return Allowlist(tuple(networks), frozenset(hosts))


class Guard:
    """Every outbound connection asks this first. Nothing is cached: the allow-list is read and
    the host resolved again each time, so a URL that was fine when saved is checked when used."""

    def __init__(
        self, *, resolver: Resolver | None = None, allowlist: Iterable[str] | None = None
    ) -> None:
        self._resolver = resolver or system_resolver
        self._allowlist = None if allowlist is None else Allowlist.parse(allowlist)

    def allowlist(self) -> Allowlist:
        if self._allowlist is not None:
            return self._allowlist
        return Allowlist.parse(get_settings().http_allowlist)

    def check_host(self, host: Host) -> None:
        """The checks that need no lookup: IP literals, and names refused outright."""
        allowlist = self.allowlist()
        if host.ip is not None:
            reason = None if allowlist.allows_ip(host.ip) else is_blocked_ip(host.ip)
            if reason:
                raise _blocked(f"The URL host is {reason}")
        elif not allowlist.allows_host(host.name):
            reason = blocked_hostname(host.name)
            if reason:
                raise _blocked(f"{host.name} is {reason}")

    async def addresses(self, host: Host, port: int) -> list[IPAddress]:
        """The addresses to connect to, every one of them allowed. If any address the host
        resolves to is blocked, the host is refused: mixed answers are how rebinding starts."""
        self.check_host(host)
        if host.ip is not None:
            return [host.ip]
        addresses = await self._resolve(host.name, port)
        allowlist = self.allowlist()
        if allowlist.allows_host(host.name):
            return addresses
        for address in addresses:
            reason = None if allowlist.allows_ip(address) else is_blocked_ip(address)
            if reason:
                raise _blocked(f"{host.name} resolves to {reason}")
        return addresses

    async def _resolve(self, name: str, port: int) -> list[IPAddress]:
        try:
            answers = await self._resolver(name, port)
        except OSError as exc:
            raise HttpUnreachable(f"Cannot resolve {name}: {exc.strerror or exc}") from None
        try:
            addresses = [ip_address(answer) for answer in answers]
        except ValueError:
            raise HttpUnreachable(f"Cannot resolve {name}: unexpected answer") from None
        if not addresses:
            raise HttpUnreachable(f"Cannot resolve {name}: no addresses")
        return addresses


def _blocked(message: str) -> BlockedURL:
    logger.warning("outbound request refused: %s", message)
    return BlockedURL(message)
