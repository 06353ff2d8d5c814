"""Utility tools: IP address facts and number formatting."""

from __future__ import annotations

from typing import Any

import pytest

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin tools
from tiangong.runtime.tools import BUILTIN, ToolContext, ToolError, ToolInputError
from tiangong.runtime.tools.executor import run_tool


async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    tool = BUILTIN.get(name)
    assert tool is not None, f"{name} is not registered"
    return await run_tool(tool, args, ToolContext())


def test_utility_tools_are_registered() -> None:
    for name in ("ip_info", "number_format"):
        tool = BUILTIN.get(name)
        assert tool is not None and tool.category == "utility"


# --- ip_info ----------------------------------------------------------------------------------


async def test_ip_info_private_address() -> None:
    out = await call("ip_info", {"address": "192.168.1.10"})
    assert out["kind"] == "address" and out["version"] == 4
    assert out["is_private"] is True and out["is_global"] is False
    assert out["reverse_pointer"] == "10.1.168.192.in-addr.arpa"


async def test_ip_info_network_without_listing_hosts() -> None:
    out = await call("ip_info", {"address": "10.0.0.0/8", "contains": "10.1.2.3"})
    assert out["netmask"] == "255.0.0.0"
    assert out["broadcast"] == "10.255.255.255"
    assert (out["first_host"], out["last_host"]) == ("10.0.0.1", "10.255.255.254")
    assert out["address_count"] == 2**24
    assert out["contains"] is True


async def test_ip_info_ipv6_subnet_membership() -> None:
    out = await call("ip_info", {"address": "2001:db8::/32", "contains": "2001:db8:1::/48"})
    assert out["version"] == 6 and out["contains"] is True
    outside = await call("ip_info", {"address": "2001:db8::/32", "contains": "10.0.0.1"})
    assert outside["contains"] is False
    mapped = await call("ip_info", {"address": "::ffff:1.2.3.4"})
    assert mapped["ipv4_mapped"] == "1.2.3.4"
    scoped = await call("ip_info", {"address": "fe80::1%eth0"})
    assert scoped["is_link_local"] is True


async def test_ip_info_invalid() -> None:
    with pytest.raises(ToolError, match="Not a valid IP"):
        await call("ip_info", {"address": "999.1.1.1"})
    with pytest.raises(ToolError, match="host bits"):
        await call("ip_info", {"address": "10.0.0.1/8", "strict": True})
    with pytest.raises(ToolError, match="needs `address` to be a network"):
        await call("ip_info", {"address": "10.0.0.1", "contains": "10.0.0.2"})


# --- number_format ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "result"),
    [
        ({"value": "255", "to_base": 16}, "ff"),
        ({"value": "0xff", "from_base": 16, "to_base": 2}, "11111111"),
        ({"value": "-zz", "from_base": 36, "to_base": 10}, "-1295"),
        ({"value": "0o17", "from_base": 8, "to_base": 36}, "f"),
    ],
)
async def test_number_format_bases(args: dict[str, Any], result: str) -> None:
    out = await call("number_format", {"operation": "base", **args})
    assert out["result"] == result


async def test_number_format_thousands_percent_scientific() -> None:
    out = await call("number_format", {"operation": "thousands", "value": "1234567.891"})
    assert out["result"] == "1,234,567.891"
    europe = await call(
        "number_format",
        {"operation": "thousands", "value": "1234567.895", "decimals": 2, "separator": "."},
    )
    assert europe["result"] == "1.234.567,90"
    percent = await call("number_format", {"operation": "percent", "value": "0.25678"})
    assert percent["result"] == "25.68%"
    sci = await call("number_format", {"operation": "scientific", "value": "123456"})
    assert sci["result"] == "1.235e+5"
    zero = await call("number_format", {"operation": "scientific", "value": "0", "decimals": 1})
    assert zero["result"] == "0.0e+0"


@pytest.mark.parametrize(
    ("value", "chinese"),
    [
        ("0", "零"),
        ("10", "十"),
        ("15", "十五"),
        ("110", "一百一十"),
        ("1010", "一千零一十"),
        ("10001", "一万零一"),
        ("100010", "十万零一十"),
        ("110000000", "一亿一千万"),
        ("2000000010", "二十亿零一十"),
        ("-3.14", "负三点一四"),
    ],
)
async def test_number_format_to_chinese(value: str, chinese: str) -> None:
    out = await call("number_format", {"operation": "to_chinese", "value": value})
    assert out["result"] == chinese
    back = await call("number_format", {"operation": "from_chinese", "value": chinese})
    assert back["result"] == value


async def test_number_format_financial_numerals() -> None:
    out = await call(
        "number_format", {"operation": "to_chinese", "value": "12345", "financial": True}
    )
    assert out["result"] == "壹万贰仟叁佰肆拾伍"
    back = await call("number_format", {"operation": "from_chinese", "value": "壹拾贰万叁仟"})
    assert back["number"] == 123000


@pytest.mark.parametrize(
    ("chinese", "number"),
    [
        ("两千五", 2500),
        ("三百五", 350),
        ("一万五", 15000),
        ("一万零五", 10005),
        ("3万5千", 35000),
        ("1.5亿", 150000000),
        ("一万亿", 10**12),
        ("一九四九", 1949),
        ("万", 10000),
    ],
)
async def test_number_format_from_chinese(chinese: str, number: int) -> None:
    out = await call("number_format", {"operation": "from_chinese", "value": chinese})
    assert out["number"] == number


async def test_number_format_bad_input() -> None:
    with pytest.raises(ToolError, match="not a base-2 integer"):
        await call("number_format", {"operation": "base", "value": "12", "from_base": 2})
    with pytest.raises(ToolError, match="not a number"):
        await call("number_format", {"operation": "thousands", "value": "abc"})
    with pytest.raises(ToolError, match="out of order"):
        await call("number_format", {"operation": "from_chinese", "value": "十十"})
    with pytest.raises(ToolError, match="Unexpected 'x'"):
        await call("number_format", {"operation": "from_chinese", "value": "三x"})
    with pytest.raises(ToolError, match="too large"):
        await call("number_format", {"operation": "scientific", "value": "1e999999"})
    with pytest.raises(ToolError, match="below"):
        await call("number_format", {"operation": "to_chinese", "value": "1" + "0" * 16})
    with pytest.raises(ToolInputError, match="to_base"):
        await call("number_format", {"operation": "base", "value": "1", "to_base": 37})
