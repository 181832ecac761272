"""Where a webhook may be sent: public addresses only, unless local mode allows private ones.

An admin chooses the URL, so without this check the dispatcher would be a way to make requests
into our own network (cloud metadata at 169.254.169.254, the database, localhost services). The
host is resolved once, every address it resolves to must be allowed, and the request then goes
to that vetted address (the URL's host still goes in `Host` and TLS SNI), so a DNS answer that
changes between the check and the connection (rebinding) cannot reach anywhere else.

One set of rules for both who ask: the dispatcher (server/webhooks/worker.py) before each
request, and the admin's Webhooks screen (app/client/webhooks.py) before saving a URL, so what
the screen accepts is what the dispatcher will send to. It lives here, not in server/, because
the desktop build ships without server/. No Qt, no HTTP: the standard library's resolver only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetRefused(Exception):
    """The URL cannot be sent to: bad URL, name does not resolve, or a non-public address."""


@dataclass(frozen=True)
class Target:
    """A vetted destination: connect to `address`, present `host` as Host and SNI."""

    scheme: str
    host: str
    port: int
    path: str
    address: IPAddress

    @property
    def connect_url(self) -> str:
        """The URL with the vetted address in place of the host name."""
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{literal}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def refusal(address: IPAddress) -> str | None:
    """Why `address` is not a public destination, or None when it is."""
    # ::ffff:10.0.0.1 is 10.0.0.1 on a dual-stack socket.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # Most specific first: Python counts loopback and link-local as private too.
    for name, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return f"{address} is a {name} address"
    if not address.is_global:
        # e.g. 100.64.0.0/10 (carrier-grade NAT), 192.0.0.0/24: not reachable on the internet.
        return f"{address} is not a public address"
    return None


def split_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path?query) of an http(s) URL, or TargetRefused saying what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"invalid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise TargetRefused(f"only http and https URLs can be sent to (got {scheme or 'none'})")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("the URL must not contain credentials")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme], path


async def resolve_addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"{host} does not resolve: {exc.strerror}") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # Scope ids ("fe80::1%eth0") are link-local anyway; strip them to parse.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetRefused(f"{host} does not resolve")
    return addresses


async def resolve_target(url: str, *, allow_private: bool = False) -> Target:
    """Vet `url`: every address its host resolves to must be public unless `allow_private`."""
    scheme, host, port, path = split_url(url)
    addresses = await resolve_addresses(host, port)
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason:
                raise TargetRefused(
                    f"{host} resolves to {reason}; private targets are allowed only in local mode"
                )
    return Target(scheme, host, port, path, addresses[0])
