"""Builtin tools: utility. IP address facts and number formatting."""

from __future__ import annotations

import ipaddress
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tiangong.runtime.tools.base import Tool, ToolError
from tiangong.runtime.tools.context import ToolContext
from tiangong.runtime.tools.registry import builtin_tool

# Decimal exponents beyond this are refused: formatting them would print huge strings.
MAX_EXPONENT = 100
# Enough digits for any accepted number with 20 decimals, so nothing is rounded silently.
_DECIMALS = Context(prec=MAX_EXPONENT * 2 + 50, rounding=ROUND_HALF_UP)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- ip_info ----------------------------------------------------------------------------------


class IpInfoInput(_Input):
    address: str = Field(
        min_length=1,
        max_length=100,
        description="An IPv4/IPv6 address (192.168.1.10, 2001:db8::1) or a network in CIDR "
        "notation (10.0.0.0/8).",
    )
    contains: str | None = Field(
        default=None,
        max_length=100,
        description="For a network: an address or network to test for membership.",
    )
    strict: bool = Field(
        default=False, description="Reject networks with host bits set, such as 10.0.0.1/8."
    )


class IpInfoOutput(BaseModel):
    kind: Literal["address", "network"]
    version: int
    compressed: str
    exploded: str
    is_private: bool
    is_global: bool
    is_loopback: bool
    is_multicast: bool
    is_link_local: bool
    is_reserved: bool
    is_unspecified: bool
    reverse_pointer: str | None = Field(description="Reverse-DNS name of an address.")
    ipv4_mapped: str | None = Field(description="IPv4 address inside an ::ffff: IPv6 address.")
    network: str | None = Field(description="The network in CIDR notation.")
    netmask: str | None
    hostmask: str | None
    prefix_length: int | None
    broadcast: str | None = Field(description="IPv4 broadcast address.")
    first_host: str | None
    last_host: str | None
    address_count: int | None = Field(description="Addresses in the network.")
    contains: bool | None = Field(description="Whether the network contains `contains`.")


def _network_hosts(network: IPNetwork) -> tuple[str, str]:
    """First and last usable host without listing hosts (a /8 has 16 million)."""
    first, last = network.network_address, network.broadcast_address
    if network.version == 4 and network.prefixlen < 31:
        return str(first + 1), str(last - 1)
    if network.version == 6 and network.prefixlen < 127:
        return str(first + 1), str(last)
    return str(first), str(last)


def _contains(network: IPNetwork, text: str) -> bool:
    other: IPAddress | IPNetwork
    try:
        other = (
            ipaddress.ip_network(text, strict=False)
            if "/" in text
            else ipaddress.ip_address(text.strip())
        )
    except ValueError as exc:
        raise ToolError(f"`contains` is not an IP address or network: {exc}") from exc
    if other.version != network.version:
        return False
    if isinstance(other, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return other.subnet_of(network)  # type: ignore[arg-type]
    return other in network


@builtin_tool
class IpInfo(Tool):
    name = "ip_info"
    description = (
        "Describe an IPv4/IPv6 address or CIDR network offline (no lookups): version, "
        "private/global/loopback/multicast flags, and for networks the netmask, broadcast, "
        "first and last host and address count; optionally test whether it contains another "
        "address or network."
    )
    category = "utility"
    Input = IpInfoInput
    Output = IpInfoOutput

    async def run(self, args: IpInfoInput, ctx: ToolContext) -> IpInfoOutput:
        text = args.address.strip()
        try:
            if "/" in text:
                network = ipaddress.ip_network(text, strict=args.strict)
                return self._network(network, args.contains)
            # A zone index (fe80::1%eth0) names a local interface; the address facts ignore it.
            address = ipaddress.ip_address(text.partition("%")[0])
        except ValueError as exc:
            raise ToolError(f"Not a valid IP address or network: {exc}") from exc
        if args.contains is not None:
            raise ToolError("`contains` needs `address` to be a network such as 10.0.0.0/8.")
        mapped = getattr(address, "ipv4_mapped", None)
        return IpInfoOutput(
            kind="address",
            version=address.version,
            compressed=address.compressed,
            exploded=address.exploded,
            is_private=address.is_private,
            is_global=address.is_global,
            is_loopback=address.is_loopback,
            is_multicast=address.is_multicast,
            is_link_local=address.is_link_local,
            is_reserved=address.is_reserved,
            is_unspecified=address.is_unspecified,
            reverse_pointer=address.reverse_pointer,
            ipv4_mapped=str(mapped) if mapped else None,
            network=None,
            netmask=None,
            hostmask=None,
            prefix_length=None,
            broadcast=None,
            first_host=None,
            last_host=None,
            address_count=None,
            contains=None,
        )

    def _network(self, network: IPNetwork, contains: str | None) -> IpInfoOutput:
        first, last = _network_hosts(network)
        return IpInfoOutput(
            kind="network",
            version=network.version,
            compressed=network.compressed,
            exploded=network.exploded,
            is_private=network.is_private,
            is_global=network.is_global,
            is_loopback=network.is_loopback,
            is_multicast=network.is_multicast,
            is_link_local=network.is_link_local,
            is_reserved=network.is_reserved,
            is_unspecified=network.is_unspecified,
            reverse_pointer=None,
            ipv4_mapped=None,
            network=network.with_prefixlen,
            netmask=str(network.netmask),
            hostmask=str(network.hostmask),
            prefix_length=network.prefixlen,
            broadcast=str(network.broadcast_address) if network.version == 4 else None,
            first_host=first,
            last_host=last,
            address_count=network.num_addresses,
            contains=None if contains is None else _contains(network, contains),
        )


# --- number_format ----------------------------------------------------------------------------

_BASE_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_PREFIXES = {2: "0b", 8: "0o", 16: "0x"}

_CN_DIGITS = "零一二三四五六七八九"
_CN_DIGITS_FINANCIAL = "零壹贰叁肆伍陆柒捌玖"
_CN_SMALL = ("", "十", "百", "千")
_CN_SMALL_FINANCIAL = ("", "拾", "佰", "仟")
_CN_BIG = ("", "万", "亿", "万亿")
_CN_LIMIT = 10**16

_CN_DIGIT_VALUES = {
    **{c: i for i, c in enumerate(_CN_DIGITS)},
    **{c: i for i, c in enumerate(_CN_DIGITS_FINANCIAL)},
    "〇": 0,
    "两": 2,
    "貮": 2,
    "陸": 6,
}
_CN_SMALL_VALUES = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG_VALUES = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}


class NumberFormatInput(_Input):
    operation: Literal[
        "base", "thousands", "to_chinese", "from_chinese", "percent", "scientific"
    ] = Field(
        description="base: convert `value` from from_base to to_base; thousands: group "
        "digits (1,234,567.89); to_chinese: 12345 -> 一万二千三百四十五; from_chinese: "
        "一万二千 / 3万5千 / 一九四九 -> digits; percent: 0.256 -> 25.60%; scientific: "
        "123456 -> 1.235e+5."
    )
    value: str = Field(min_length=1, max_length=200, description="The number, as text.")
    from_base: int = Field(default=10, ge=2, le=36, description="base: base of `value`.")
    to_base: int = Field(default=16, ge=2, le=36, description="base: base of the result.")
    decimals: int | None = Field(
        default=None, ge=0, le=20, description="Digits after the decimal point (rounded)."
    )
    separator: str = Field(
        default=",", max_length=3, description="thousands: group separator, e.g. ',' ' ' '.'"
    )
    financial: bool = Field(
        default=False, description="to_chinese: financial numerals 壹贰叁 with 拾佰仟."
    )

    @model_validator(mode="after")
    def _separator_digits(self) -> NumberFormatInput:
        if any(c.isdigit() for c in self.separator):
            raise ValueError("separator cannot contain digits")
        return self


class NumberFormatOutput(BaseModel):
    result: str
    number: int | float | None = Field(description="The numeric value, where it has one.")


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "").replace("_", ""))
    except InvalidOperation:
        raise ToolError(f"{text!r} is not a number.") from None
    if not value.is_finite():
        raise ToolError(f"{text!r} is not a finite number.")
    if value and abs(value.adjusted()) > MAX_EXPONENT:
        raise ToolError(f"{text!r} is too large or too small to format.")
    return value


def _rounded(value: Decimal, decimals: int | None) -> Decimal:
    if decimals is None:
        return value
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def _plain(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _convert_base(text: str, from_base: int, to_base: int) -> tuple[str, int]:
    digits = text.strip().replace("_", "").replace(" ", "").lower()
    negative = digits.startswith("-")
    if digits[:1] in ("+", "-"):
        digits = digits[1:]
    prefix = _PREFIXES.get(from_base)
    if prefix and digits.startswith(prefix):
        digits = digits[len(prefix) :]
    try:
        number = int(digits, from_base)
    except ValueError:
        raise ToolError(f"{text!r} is not a base-{from_base} integer.") from None
    out = ""
    rest = number
    while rest:
        rest, digit = divmod(rest, to_base)
        out = _BASE_DIGITS[digit] + out
    out = out or "0"
    return ("-" + out if negative and number else out), (-number if negative else number)


def _group_thousands(value: Decimal, separator: str, decimals: int | None) -> str:
    grouped = format(value, ",f") if decimals is None else format(value, f",.{decimals}f")
    whole, point, fraction = grouped.partition(".")
    mark = "," if separator == "." else "."
    return whole.replace(",", separator) + (mark + fraction if point else "")


def _section_to_chinese(number: int, digits: str, small: tuple[str, ...]) -> str:
    out = ""
    zero = False
    for position in (3, 2, 1, 0):
        digit = number // 10**position % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += digits[0]
            zero = False
        out += digits[digit] + small[position]
    return out


def to_chinese(value: Decimal, financial: bool = False) -> str:
    digits = _CN_DIGITS_FINANCIAL if financial else _CN_DIGITS
    small = _CN_SMALL_FINANCIAL if financial else _CN_SMALL
    sign = "负" if value < 0 else ""
    whole = int(abs(value))
    if whole >= _CN_LIMIT:
        raise ToolError("to_chinese supports numbers below 10,000,000,000,000,000 (一亿亿).")
    sections = [whole // 10 ** (4 * i) % 10**4 for i in range(4)]
    out = ""
    gap = False
    for index in (3, 2, 1, 0):
        section = sections[index]
        if section == 0:
            gap = bool(out)
            continue
        if out and (gap or section < 1000):
            out += digits[0]
        out += _section_to_chinese(section, digits, small) + _CN_BIG[index]
        gap = False
    out = out or digits[0]
    if not financial and out.startswith("一十"):
        out = out[1:]
    fraction = format(abs(value), "f").partition(".")[2].rstrip("0")
    if fraction:
        out += "点" + "".join(digits[int(d)] for d in fraction)
    return sign + out


def from_chinese(text: str) -> Decimal:
    """一万二千三百 / 两千五 / 3万5千 / 一九四九 / 负三点一四 -> a number."""
    source = text.strip().replace(" ", "").replace(",", "")
    negative = source[:1] in ("负", "-")
    body = source[1:] if negative else source
    whole_text, point, fraction_text = body.partition("点")
    if not whole_text and not fraction_text:
        raise ToolError(f"{text!r} has no number in it.")
    value = _chinese_whole(whole_text, text) if whole_text else Decimal(0)
    if point:
        digits = []
        for char in fraction_text:
            if char in _CN_DIGIT_VALUES:
                digits.append(str(_CN_DIGIT_VALUES[char]))
            elif char.isdigit():
                digits.append(char)
            else:
                raise ToolError(f"Unexpected {char!r} after 点 in {text!r}.")
        if digits:
            value += Decimal("0." + "".join(digits))
    return -value if negative else value


def _chinese_tokens(text: str, original: str) -> list[tuple[str, Decimal]]:
    """("digit", value), ("small", unit) and ("big", unit) tokens; Arabic numbers are digits."""
    tokens: list[tuple[str, Decimal]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isdigit() or char == ".":
            j = i
            while j < len(text) and (text[j].isdigit() or text[j] == "."):
                j += 1
            tokens.append(("digit", _decimal(text[i:j])))
            i = j
            continue
        if char in _CN_DIGIT_VALUES:
            tokens.append(("digit", Decimal(_CN_DIGIT_VALUES[char])))
        elif char in _CN_SMALL_VALUES:
            tokens.append(("small", Decimal(_CN_SMALL_VALUES[char])))
        elif char in _CN_BIG_VALUES:
            tokens.append(("big", Decimal(_CN_BIG_VALUES[char])))
        else:
            raise ToolError(f"Unexpected {char!r} in Chinese number {original!r}.")
        i += 1
    return tokens


def _chinese_whole(text: str, original: str) -> Decimal:
    tokens = _chinese_tokens(text, original)
    if len(tokens) > 1 and all(kind == "digit" for kind, _ in tokens):
        # Read digit by digit, as in years: 一九四九 -> 1949.
        return Decimal("".join(str(int(v)) for _, v in tokens))
    total = wan = section = Decimal(0)
    number: Decimal | None = None
    last_small = Decimal(10**4)
    for kind, value in tokens:
        if kind == "digit":
            if number is not None and number != 0:
                raise ToolError(f"Two digits in a row in {original!r}.")
            number = value
            continue
        if kind == "small":
            if value >= last_small:
                raise ToolError(f"Units out of order in {original!r}.")
            section += (number if number is not None else Decimal(1)) * value
            last_small = value
        elif value == 10**4:
            wan = (section + (number or 0) or Decimal(1)) * value
            section = Decimal(0)
        else:
            total = (total + wan + section + (number or 0) or Decimal(1)) * value
            wan = section = Decimal(0)
        number = None
        if kind == "big":
            last_small = Decimal(10**4)
    tail = number or Decimal(0)
    # Colloquial: 一万五 = 15000 and 三百五 = 350, but 一万零五 = 10005.
    if tail and len(tokens) > 1 and tokens[-2][0] in ("small", "big"):
        tail *= tokens[-2][1] / 10
    return total + wan + section + tail


@builtin_tool
class NumberFormat(Tool):
    name = "number_format"
    description = (
        "Format or convert a number given as text: between bases 2-36 (binary, octal, hex, "
        "base36), with thousands separators, to and from Chinese numerals (一万二千, 3万5千, "
        "financial 壹万贰仟; up to 万亿), as a percentage, or in scientific notation. "
        "`decimals` rounds (half up)."
    )
    category = "utility"
    Input = NumberFormatInput
    Output = NumberFormatOutput

    async def run(self, args: NumberFormatInput, ctx: ToolContext) -> NumberFormatOutput:
        with localcontext(_DECIMALS):
            return self._format(args)

    def _format(self, args: NumberFormatInput) -> NumberFormatOutput:
        if args.operation == "base":
            text, number = _convert_base(args.value, args.from_base, args.to_base)
            return NumberFormatOutput(result=text, number=number)
        if args.operation == "from_chinese":
            parsed = from_chinese(args.value)
            if parsed and abs(parsed.adjusted()) > MAX_EXPONENT:
                raise ToolError(f"{args.value!r} is too large.")
            parsed = _rounded(parsed, args.decimals)
            return NumberFormatOutput(result=format(parsed.normalize(), "f"), number=_plain(parsed))
        value = _decimal(args.value)
        if args.operation == "to_chinese":
            value = _rounded(value, args.decimals)
            return NumberFormatOutput(
                result=to_chinese(value, args.financial), number=_plain(value)
            )
        if args.operation == "thousands":
            value = _rounded(value, args.decimals)
            return NumberFormatOutput(
                result=_group_thousands(value, args.separator, args.decimals), number=_plain(value)
            )
        if args.operation == "percent":
            decimals = 2 if args.decimals is None else args.decimals
            return NumberFormatOutput(
                result=f"{_rounded(value * 100, decimals):f}%", number=_plain(value)
            )
        decimals = 3 if args.decimals is None else args.decimals
        # Decimal writes zero as 0.000e+3; keep the exponent of a plain 0.
        text = format(value, f".{decimals}e") if value else f"{0:.{decimals}f}e+0"
        return NumberFormatOutput(result=text, number=_plain(value))
