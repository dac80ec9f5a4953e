"""Which IP addresses a worker may fetch from: IANA's special-purpose registries, written out.

``ipaddress.is_global`` follows the registries of the Python release it ships with (on 3.11.7
``192.0.0.192``, Oracle Cloud's metadata address, is "global"), so the answer would change with the
interpreter. These tables are IANA's IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890,
as updated to 2025) and the parts of the address spaces that are not unicast on the internet.

Every special-purpose block is refused, even the few IANA marks globally reachable (anycast
service addresses, AS112 DNS sinks, ORCHIDv2, drone tags): none of them serves a video. An IPv6
address that carries an IPv4 one that a host may reach (IPv4-mapped, NAT64, 6to4) is judged by that
IPv4 address too.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Address = IPv4Address | IPv6Address

IPV4_SPECIAL: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private use"),
    ("100.64.0.0/10", "shared address space (carrier NAT; Alibaba Cloud's metadata)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link local (cloud metadata)"),
    ("172.16.0.0/12", "private use"),
    ("192.0.0.0/24", "IETF protocol assignments (192.0.0.192: Oracle Cloud's metadata)"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.31.196.0/24", "AS112-v4"),
    ("192.52.193.0/24", "AMT"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
    ("192.168.0.0/16", "private use"),
    ("192.175.48.0/24", "direct delegation AS112 service"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "limited broadcast"),
)
IPV4_NOT_UNICAST = (("224.0.0.0/4", "multicast"),)

IPV6_SPECIAL: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("64:ff9b::/96", "IPv4-IPv6 translation (well-known NAT64 prefix)"),
    ("64:ff9b:1::/48", "IPv4-IPv6 translation (local use)"),
    ("100::/64", "discard only"),
    ("100:0:0:1::/64", "dummy prefix"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001::/32", "Teredo"),
    ("2001:2::/48", "benchmarking"),
    ("2001:3::/32", "AMT"),
    ("2001:4:112::/48", "AS112-v6"),
    ("2001:10::/28", "deprecated ORCHID"),
    ("2001:20::/28", "ORCHIDv2"),
    ("2001:30::/28", "drone remote ID tags"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"),
    ("2620:4f:8000::/48", "direct delegation AS112 service"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing SIDs"),
    ("fc00::/7", "unique local"),
    ("fe80::/10", "link local"),
)
# IANA's IPv6 address space: only 2000::/3 is global unicast. The rest is reserved (::/8 with the
# deprecated IPv4-compatible ::a.b.c.d, fec0::/10 site-local) or multicast (ff00::/8).
IPV6_GLOBAL_UNICAST = IPv6Network("2000::/3")

_V4_BLOCKS = tuple(IPv4Network(prefix) for prefix, _ in IPV4_SPECIAL + IPV4_NOT_UNICAST)
_V6_BLOCKS = tuple(IPv6Network(prefix) for prefix, _ in IPV6_SPECIAL)
# Blocks judged by the IPv4 address they carry rather than refused outright.
_MAPPED = IPv6Network("::ffff:0:0/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_SIXTOFOUR = IPv6Network("2002::/16")


def is_public(address: str | Address) -> bool:
    """Whether ``address`` (an IPv6 zone suffix allowed) is a unicast address on the public internet."""
    ip = ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, IPv4Address):
        return not any(ip in block for block in _V4_BLOCKS)
    inner = embedded_ipv4(ip)
    if inner is not None:
        return is_public(inner)
    return ip in IPV6_GLOBAL_UNICAST and not any(ip in block for block in _V6_BLOCKS)


def embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4 address reaches; None for others."""
    if ip in _MAPPED or ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIXTOFOUR:
        return IPv4Address((int(ip) >> 80) & 0xFFFFFFFF)
    return None
