"""The address tables: IANA's special-purpose blocks refused, public unicast accepted, on any Python."""

from __future__ import annotations

import ipaddress

import pytest

from common.special_addresses import IPV4_SPECIAL, IPV6_SPECIAL, embedded_ipv4, is_public

PUBLIC = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "192.0.1.1",  # just past 192.0.0.0/24
    "100.128.0.1",  # just past 100.64.0.0/10
    "198.20.0.1",  # just past 198.18.0.0/15
    "223.255.255.254",
    "2606:2800:220:1:248:1893:25c8:1946",
    "2a00:1450:4001:80b::200e",
    "64:ff9b::5db8:d822",  # NAT64 of a public address reaches that address
    "2002:5db8:d822::1",  # 6to4 of a public address
    "::ffff:93.184.216.34",
    "2606:2800:220:1::1%eth0",  # a zone suffix is ignored
]


@pytest.mark.parametrize("address", PUBLIC)
def test_a_public_unicast_address_is_public(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize(("prefix", "name"), IPV4_SPECIAL + IPV6_SPECIAL)
def test_every_address_of_every_special_purpose_block_is_refused(prefix: str, name: str) -> None:
    """First, last and a middle address of each block; 6to4 and NAT64 by the private IPv4 inside."""
    network = ipaddress.ip_network(prefix)
    samples = [network[0], network[-1], network[network.num_addresses // 2]]
    for address in samples:
        inner = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        if inner is not None and is_public(inner):
            continue  # judged by the IPv4 address it reaches (tested above and below)
        assert not is_public(address), (prefix, name, str(address))


@pytest.mark.parametrize(
    "address",
    ["fec0::1", "feff::1", "ff02::1", "ff0e::1", "::7f00:1", "::a00:1", "4000::1", "e000::1", "224.0.0.251"],
)
def test_outside_global_unicast_nothing_is_public(address: str) -> None:
    """IPv6 outside 2000::/3 (site-local, multicast, IPv4-compatible, reserved) and IPv4 multicast."""
    assert not is_public(address)


def test_ipv4_inside_ipv6_is_judged_by_the_ipv4_address() -> None:
    assert embedded_ipv4(ipaddress.IPv6Address("::ffff:10.0.0.1")) == ipaddress.IPv4Address("10.0.0.1")
    assert embedded_ipv4(ipaddress.IPv6Address("64:ff9b::a9fe:a9fe")) == ipaddress.IPv4Address("169.254.169.254")
    assert embedded_ipv4(ipaddress.IPv6Address("2002:c000:c0::")) == ipaddress.IPv4Address("192.0.0.192")
    assert embedded_ipv4(ipaddress.IPv6Address("2606:2800:220:1::1")) is None
    for address in ["::ffff:192.0.0.192", "64:ff9b::c000:c0", "2002:c000:c0::", "2002:6440:1::"]:
        assert not is_public(address), address


def test_the_answer_does_not_follow_the_standard_library() -> None:
    """192.0.0.192 is 'global' to ipaddress on Python 3.11.7; the tables refuse it on every version."""
    assert not is_public("192.0.0.192")
    assert not is_public(ipaddress.IPv4Address("192.0.0.192"))
