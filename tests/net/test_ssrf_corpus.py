"""SSRF: attack URLs are refused before any connection, connections go to the checked address,
redirects are checked hop by hop, and responses are capped in size and time."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import httpx2
import pytest

from tests.net.conftest import FakeNetwork, FakeResolver, RecordingNetwork, TlsServer
from tiangong.config import get_settings
from tiangong.net import (
    BlockedURL,
    HttpTimeout,
    HttpUnreachable,
    InvalidURL,
    ResponseTooLarge,
    SafeHttpClient,
    check_url,
    is_blocked_ip,
    parse_url,
    safe_async_client,
)
from tiangong.net.addresses import parse_host
from tiangong.net.guard import system_resolver
from tiangong.net.mcp_http import safe_mcp_http_client

PUBLIC_IP = "93.184.216.34"

DNS: dict[str, list[str]] = {
    "public.test": [PUBLIC_IP],
    "evil.test": ["127.0.0.1"],
    "private.test": ["10.0.0.5"],
    "metadata.evil.test": ["169.254.169.254"],
    "cgnat.evil.test": ["100.64.1.1"],
    "zero.evil.test": ["0.0.0.0"],  # noqa: S104
    "mixed.evil.test": [PUBLIC_IP, "10.0.0.1"],
    "mixed6.evil.test": ["2606:2800:220:1:248:1893:25c8:1946", "::1"],
    "aaaa.evil.test": ["::1"],
    "mapped.evil.test": ["::ffff:10.0.0.1"],
    "nat64.evil.test": ["64:ff9b::a9fe:a9fe"],
    "ula.evil.test": ["fd12:3456::1"],
    "linklocal6.evil.test": ["fe80::1%2"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
}

ATTACKS = [
    # loopback, in every spelling libc or a browser accepts
    "http://127.0.0.1/",
    "http://127.0.0.1:8080/admin",
    "http://127.1/",
    "http://127.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.0.0.1/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://0177.1/",
    "http://017700000001/",
    "http://0177.0x0.0.1/",
    "http://127.000.000.001/",
    "http://127.0.0.1./",
    "http://127.255.255.254:22/",
    "HTTP://127.0.0.1/",
    # loopback and metadata by name
    "http://localhost/",
    "http://LOCALHOST:8000/",
    "http://localhost./",
    "http://api.localhost/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.GOOGLE.INTERNAL./",
    "http://metadata/",
    "http://instance-data/latest/meta-data/",
    # unspecified
    "http://0.0.0.0/",
    "http://0/",
    "http://0.0.0.0:6379/",
    "http://[::]/",
    # IPv6 loopback, mapped, compatible, NAT64, 6to4, Teredo
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]:8080/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[::127.0.0.1]/",
    "http://[::ffff:0:7f00:1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::]/",
    "http://[2002:a00:5::1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    # IPv6 link-local, unique-local, site-local, multicast, AWS metadata, documentation
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[fd12:3456:789a::1]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[2001:db8::1]/",
    # private IPv4
    "http://10.0.0.5/",
    "http://10.255.255.255/",
    "http://0x0a.0x00.0x00.0x01/",
    "http://167772165/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1/",
    "https://192.168.0.1:8443/",
    # link-local and cloud metadata
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://169.254.170.2/v2/credentials",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://0251.0376.0251.0376/",
    "http://169.254.43518/",
    "http://100.100.100.200/latest/meta-data/",
    "http://169.254.1.1/",
    # CGNAT, multicast, reserved, broadcast, special-purpose and documentation
    "http://100.64.0.1/",
    "http://100.127.255.254/",
    "http://224.0.0.1/",
    "http://239.255.255.250:1900/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.0.170/",
    "http://192.0.2.1/",
    "http://198.18.0.1/",
    "http://198.51.100.7/",
    "http://203.0.113.9/",
    # userinfo and backslash tricks
    "http://example.com@127.0.0.1/",
    "http://user:pass@169.254.169.254/",
    "http://public.test@10.0.0.5:80/",
    "http://public.test\\@127.0.0.1/",
    "http://127.0.0.1\\@public.test/",
    # unicode, percent-encoding and malformed hosts
    "http://127\u30020\u30020\u30021/",
    "http://\u2460\u2461\u2466.0.0.1/",
    "http://%31%32%37.0.0.1/",
    "http://1.2.3.4.5/",
    "http:///etc/passwd",
    # other schemes
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "ftp://public.test/",
    "dict://127.0.0.1:11211/stat",
    "data:text/plain,hello",
    "ldap://127.0.0.1/",
    "javascript:alert(1)",
    "//127.0.0.1/",
    # names that resolve somewhere they must not
    "http://evil.test/",
    "http://private.test:8080/",
    "https://metadata.evil.test/",
    "http://cgnat.evil.test/",
    "http://zero.evil.test/",
    "http://mixed.evil.test/",
    "http://mixed6.evil.test/",
    "http://aaaa.evil.test/",
    "http://mapped.evil.test/",
    "http://nat64.evil.test/",
    "http://ula.evil.test/",
    "http://linklocal6.evil.test/",
    "http://127.0.0.1.nip.io/",
    "http://EVIL.TEST./",
]


def test_corpus_is_large_and_distinct() -> None:
    assert len(ATTACKS) >= 60
    assert len(set(ATTACKS)) == len(ATTACKS)


@pytest.mark.parametrize("url", ATTACKS)
async def test_attack_is_refused_without_connecting(url: str, fake_network: FakeNetwork) -> None:
    resolver = FakeResolver(DNS)
    client = SafeHttpClient(resolver=resolver, allowlist=[], network_backend=fake_network)
    with pytest.raises((BlockedURL, InvalidURL)) as refused:
        await client.request("GET", url)
    assert refused.value.code in ("URL_BLOCKED", "URL_INVALID")
    with pytest.raises(type(refused.value)):
        await check_url(url, resolver=resolver, allowlist=[])
    assert fake_network.connects == []
    assert set(resolver.calls) <= set(DNS) - {"public.test"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://private.test/", "private.test resolves to a private address 10.0.0.5"),
        ("http://mixed.evil.test/", "resolves to a private address 10.0.0.1"),
        ("http://10.0.0.5/", "The URL host is a private address 10.0.0.5"),
        ("http://169.254.169.254/", "a cloud metadata address 169.254.169.254"),
        ("http://[::ffff:10.0.0.5]/", "a private address 10.0.0.5 (inside ::ffff:a00:5)"),
        ("http://localhost/", "localhost is a loopback host name"),
        ("gopher://public.test/", "the gopher: scheme is not allowed"),
    ],
)
async def test_refusal_names_the_reason(url: str, message: str, fake_network: FakeNetwork) -> None:
    client = SafeHttpClient(resolver=FakeResolver(DNS), allowlist=[], network_backend=fake_network)
    with pytest.raises(BlockedURL) as refused:
        await client.request("GET", url)
    assert message in refused.value.message
    assert (refused.value.code, refused.value.status) == ("URL_BLOCKED", 400)


@pytest.mark.parametrize(
    ("url", "ip"),
    [
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://0177.0.1/", "127.0.0.1"),
        ("http://127.0.0.1./", "127.0.0.1"),
        ("http://169.254.43518/", "169.254.169.254"),
        ("http://0/", "0.0.0.0"),  # noqa: S104
        ("http://[fe80::1%25eth0]/", "fe80::1%eth0"),
        ("http://[0:0::1]/", "::1"),
    ],
)
def test_numeric_hosts_are_read_like_libc(url: str, ip: str) -> None:
    assert str(parse_url(url).host.ip) == ip


@pytest.mark.parametrize(
    ("host", "ip"),
    [
        ("0177.0.0.1", "127.0.0.1"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("0x7F.1.", "127.0.0.1"),
    ],
)
def test_forms_httpx_rejects_are_still_understood(host: str, ip: str) -> None:
    # httpx refuses these URLs outright (URL_INVALID); the guard still reads them as libc does.
    assert str(parse_host(host).ip) == ip


@pytest.mark.parametrize(
    "ip", ["8.8.8.8", PUBLIC_IP, "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(ip: str) -> None:
    assert is_blocked_ip(ip) is None


async def test_connection_goes_to_the_checked_address(fake_network: FakeNetwork) -> None:
    # The second lookup would answer with loopback: it must never happen for this request.
    resolver = FakeResolver({"rebind.test": [PUBLIC_IP]}, then={"rebind.test": ["127.0.0.1"]})
    client = SafeHttpClient(resolver=resolver, allowlist=[], network_backend=fake_network)
    result = await client.request("GET", "http://rebind.test/page")
    assert (result.status, result.text, result.url) == (200, "ok", "http://rebind.test/page")
    assert resolver.calls == ["rebind.test"]
    assert fake_network.connects == [(PUBLIC_IP, 80)]
    assert b"\r\nHost: rebind.test\r\n" in fake_network.written

    # Checked again at the time of use: the next request sees the new answer and is refused.
    with pytest.raises(BlockedURL, match="rebind.test resolves to a loopback address"):
        await client.request("GET", "http://rebind.test/page")
    assert fake_network.connects == [(PUBLIC_IP, 80)]


async def test_https_verifies_the_real_name(fake_network: FakeNetwork) -> None:
    client = SafeHttpClient(resolver=FakeResolver(DNS), allowlist=[], network_backend=fake_network)
    result = await client.request("GET", "https://public.test/x")
    assert result.status == 200
    assert fake_network.connects == [(PUBLIC_IP, 443)]
    assert fake_network.tls_names == ["public.test"]
    assert b"\r\nHost: public.test\r\n" in fake_network.written


async def test_allowlist_opens_a_cidr(fake_network: FakeNetwork) -> None:
    resolver = FakeResolver({"intranet.test": ["10.1.2.7"], "other.test": ["10.1.3.7"]})
    client = SafeHttpClient(
        resolver=resolver, allowlist=["10.1.2.0/24"], network_backend=fake_network
    )
    assert (await client.request("GET", "http://intranet.test/")).status == 200
    assert (await client.request("GET", "http://10.1.2.9:8080/")).status == 200
    with pytest.raises(BlockedURL):
        await client.request("GET", "http://other.test/")
    with pytest.raises(BlockedURL):
        await client.request("GET", "http://10.1.3.1/")
    assert fake_network.connects == [("10.1.2.7", 80), ("10.1.2.9", 8080)]


async def test_allowlist_opens_a_host_name(fake_network: FakeNetwork) -> None:
    resolver = FakeResolver({"intranet.local": ["10.9.9.9"], "intranet2.local": ["10.9.9.9"]})
    client = SafeHttpClient(
        resolver=resolver, allowlist=["Intranet.Local."], network_backend=fake_network
    )
    assert (await client.request("GET", "http://intranet.local/")).status == 200
    with pytest.raises(BlockedURL):
        await client.request("GET", "http://intranet2.local/")
    with pytest.raises(BlockedURL):
        await client.request("GET", "http://10.9.9.9/")
    assert fake_network.connects == [("10.9.9.9", 80)]


async def test_unresolvable_host_is_unreachable(fake_network: FakeNetwork) -> None:
    client = SafeHttpClient(resolver=FakeResolver({}), allowlist=[], network_backend=fake_network)
    with pytest.raises(HttpUnreachable):
        await client.request("GET", "http://nxdomain.test/")
    with pytest.raises(HttpUnreachable):
        await check_url("http://nxdomain.test/", resolver=FakeResolver({}), allowlist=[])
    await check_url("https://public.test/", resolver=FakeResolver(DNS), allowlist=[])
    assert fake_network.connects == []


def test_safe_client_refuses_options_that_bypass_it() -> None:
    for option in ("transport", "mounts", "proxy", "trust_env"):
        with pytest.raises(TypeError):
            options: dict[str, Any] = {option: None}
            safe_async_client(**options)


# Against a real server on 127.0.0.1, allow-listed for these tests only.


def loopback_client(network: RecordingNetwork, *, allowlist: list[str]) -> SafeHttpClient:
    resolver = FakeResolver({"svc.test": ["127.0.0.1"], **DNS})
    return SafeHttpClient(resolver=resolver, allowlist=allowlist, network_backend=network)


async def test_allowlisted_request_end_to_end(
    loopback_port: int, loopback_network: RecordingNetwork
) -> None:
    client = loopback_client(loopback_network, allowlist=["svc.test"])
    result = await client.request("POST", f"http://svc.test:{loopback_port}/echo", json={"a": 1})
    assert result.status == 200
    assert result.text == f"POST host=svc.test:{loopback_port}"
    assert result.elapsed_ms > 0
    assert loopback_network.connects == [("127.0.0.1", loopback_port)]


async def test_settings_allowlist_is_read_at_use(
    loopback_port: int, loopback_network: RecordingNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = SafeHttpClient(network_backend=loopback_network)
    url = f"http://127.0.0.1:{loopback_port}/echo"
    with pytest.raises(BlockedURL):
        await client.request("GET", url)
    monkeypatch.setattr(get_settings(), "http_allowlist", ["127.0.0.0/8"])
    assert (await client.request("GET", url)).text == f"GET host=127.0.0.1:{loopback_port}"
    assert loopback_network.connects == [("127.0.0.1", loopback_port)]


async def test_allowed_redirect_is_followed(
    loopback_port: int, loopback_network: RecordingNetwork
) -> None:
    client = loopback_client(loopback_network, allowlist=["127.0.0.1"])
    result = await client.request("GET", f"http://127.0.0.1:{loopback_port}/redirect?to=/echo")
    assert (result.status, result.url) == (200, f"http://127.0.0.1:{loopback_port}/echo")


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/echo",
        "http://localhost:{port}/echo",
        "http://10.0.0.5:{port}/echo",
        "http://0x0a000005:{port}/echo",
        "http://private.test:{port}/echo",
        "http://mixed.evil.test/",
        "http://[::ffff:169.254.169.254]/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/_x",
    ],
)
async def test_redirect_to_a_blocked_target_is_refused(
    location: str, loopback_port: int, loopback_network: RecordingNetwork
) -> None:
    client = loopback_client(loopback_network, allowlist=["127.0.0.1"])
    target = quote(location.format(port=loopback_port), safe="")
    with pytest.raises(BlockedURL):
        await client.request("GET", f"http://127.0.0.1:{loopback_port}/redirect?to={target}")
    assert loopback_network.connects == [("127.0.0.1", loopback_port)]


async def test_redirect_loop_stops(loopback_port: int, loopback_network: RecordingNetwork) -> None:
    client = loopback_client(loopback_network, allowlist=["127.0.0.1"])
    with pytest.raises(HttpUnreachable, match="redirected more than 5 times"):
        await client.request("GET", f"http://127.0.0.1:{loopback_port}/loop")


async def test_response_size_is_capped(
    loopback_port: int, loopback_network: RecordingNetwork
) -> None:
    client = loopback_client(loopback_network, allowlist=["127.0.0.1"])
    base = f"http://127.0.0.1:{loopback_port}"
    with pytest.raises(ResponseTooLarge) as too_large:
        await client.request("GET", f"{base}/big?n=1000000", max_bytes=65536)
    assert (too_large.value.code, too_large.value.status) == ("HTTP_RESPONSE_TOO_LARGE", 502)
    with pytest.raises(ResponseTooLarge):
        await client.request("GET", f"{base}/declared", max_bytes=65536)
    exact = await client.request("GET", f"{base}/big?n=5000", max_bytes=5000)
    assert exact.content == b"x" * 5000


async def test_slow_response_times_out(
    loopback_port: int, loopback_network: RecordingNetwork
) -> None:
    client = loopback_client(loopback_network, allowlist=["127.0.0.1"])
    with pytest.raises(HttpTimeout) as timed_out:
        await client.request("GET", f"http://127.0.0.1:{loopback_port}/slow", timeout_s=0.3)
    assert (timed_out.value.code, timed_out.value.status) == ("HTTP_TIMEOUT", 504)


async def test_closed_port_is_unreachable(loopback_network: RecordingNetwork) -> None:
    client = loopback_client(loopback_network, allowlist=["127.0.0.1"])
    with pytest.raises(HttpUnreachable):
        await client.request("GET", "http://127.0.0.1:1/")


async def test_safe_async_client_checks_every_hop(
    loopback_port: int, loopback_network: RecordingNetwork
) -> None:
    async with safe_async_client(allowlist=["127.0.0.1"], network_backend=loopback_network) as http:
        assert (await http.get(f"http://127.0.0.1:{loopback_port}/echo")).status_code == 200
        with pytest.raises(BlockedURL):
            await http.get(
                f"http://127.0.0.1:{loopback_port}/redirect?to=http%3A%2F%2F169.254.169.254%2F"
            )
        with pytest.raises(BlockedURL):
            await http.get("http://192.168.1.1/")
    assert isinstance(http, httpx.AsyncClient)


async def test_tls_is_verified_against_the_host_name(
    tls_server: TlsServer, loopback_network: RecordingNetwork
) -> None:
    # The connection is pinned to 127.0.0.1, yet the certificate (for svc.test only) must be
    # checked against the URL's name: pinning must not weaken TLS.
    resolver = FakeResolver({"svc.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    client = SafeHttpClient(
        resolver=resolver,
        allowlist=["svc.test", "other.test", "127.0.0.1"],
        network_backend=loopback_network,
        verify=tls_server.client_context,
    )
    result = await client.request("GET", f"https://svc.test:{tls_server.port}/echo")
    assert result.text == f"GET host=svc.test:{tls_server.port}"
    for wrong_name in ("other.test", "127.0.0.1"):
        with pytest.raises(HttpUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
            await client.request("GET", f"https://{wrong_name}:{tls_server.port}/echo")
    assert loopback_network.connects == [("127.0.0.1", tls_server.port)] * 3


async def test_mcp_client_checks_every_request(loopback_port: int) -> None:
    # The MCP SDK speaks httpx2; its client gets the same guard. Only loopback is ever dialled.
    resolver = FakeResolver(DNS)
    async with safe_mcp_http_client(resolver=resolver, allowlist=["127.0.0.1"]) as http:
        assert isinstance(http, httpx2.AsyncClient)
        response = await http.get(f"http://127.0.0.1:{loopback_port}/echo")
        assert response.text == f"GET host=127.0.0.1:{loopback_port}"
        for url in ("http://169.254.169.254/", "http://private.test/", "http://localhost/"):
            with pytest.raises(BlockedURL):
                await http.get(url)
        hop = quote(f"http://[::1]:{loopback_port}/echo", safe="")
        with pytest.raises(BlockedURL):
            await http.get(
                f"http://127.0.0.1:{loopback_port}/redirect?to={hop}", follow_redirects=True
            )
    assert resolver.calls == ["private.test"]


async def test_system_resolver_returns_addresses_as_text() -> None:
    # A numeric host: getaddrinfo answers without any DNS query.
    assert await system_resolver("127.0.0.1", 80) == ["127.0.0.1"]
