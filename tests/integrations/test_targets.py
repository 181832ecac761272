"""Which webhook destinations the dispatcher refuses, and how it pins the vetted address."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from app.webhook_targets import TargetRefused, refusal, resolve_target


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped IPv6 is the IPv4 address
        ("100.64.0.1", "not a public"),  # carrier-grade NAT
    ],
)
def test_non_public_addresses_are_refused(address, kind):
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert refusal(ipaddress.ip_address(address)) is None


def resolve(url: str, allow_private: bool = False):
    return asyncio.run(resolve_target(url, allow_private=allow_private))


def test_a_name_resolving_to_loopback_is_refused():
    with pytest.raises(TargetRefused, match=r"localhost resolves to .* loopback"):
        resolve("http://localhost:8080/hook")


def test_local_mode_allows_loopback_and_pins_the_address():
    target = resolve("http://localhost:8080/hook?x=1", allow_private=True)
    assert target.address.is_loopback
    assert target.host_header == "localhost:8080"
    assert target.connect_url.endswith(":8080/hook?x=1")


def test_public_literal_keeps_host_for_tls_and_default_port():
    target = resolve("https://93.184.215.14/in")
    assert target.connect_url == "https://93.184.215.14:443/in"
    assert target.host_header == "93.184.215.14"


def test_ipv6_literals_are_bracketed():
    target = resolve("https://[2606:4700:4700::1111]:8443/x")
    assert target.connect_url == "https://[2606:4700:4700::1111]:8443/x"
    assert target.host_header == "[2606:4700:4700::1111]:8443"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "only http and https"),
        ("https://user:pw@93.184.215.14/", "credentials"),
        ("https:///nohost", "no host"),
        ("https://93.184.215.14:99999/", "invalid URL"),
        ("https://no-such-host.invalid/x", "does not resolve"),
    ],
)
def test_unusable_urls_say_why(url, message):
    with pytest.raises(TargetRefused, match=message):
        resolve(url)
