"""Where steps may send requests: https URLs of public addresses only.

Two checks guard every outbound request, step and token request alike.
``parse_url`` refuses a rendered URL that is not absolute ``https://``
before anything is sent.  ``GuardedBackend`` resolves the host itself when a
connection opens, refuses the connection if any address is not public, and
connects to an address it checked, so a DNS answer that changes between
check and connect cannot get through.  TLS still verifies the certificate
against the host name, never against the address.

Not public: loopback, private, shared (carrier-grade NAT, 100.64.0.0/10),
link-local, site-local, multicast, reserved, documentation and unspecified
addresses, IPv4 and IPv6.  An IPv6 address that embeds an IPv4 address
(IPv4-mapped ``::ffff:0:0/96``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``)
is judged by the IPv4 address it leads to; Teredo (``2001::/32``) and the
local-use NAT64 prefix (``64:ff9b:1::/48``) are refused outright.  Numeric
host spellings that resolvers accept (``2130706433``, ``0x7f.0.0.1``,
``127.1``) are read as the address they spell, without asking the resolver.

The ``ALLOW_HTTP``, ``ALLOW_PRIVATE_NETWORKS`` and ``ALLOWED_PRIVATE_HOSTS``
settings relax this for development and tests; all are off by default.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from composites.conf import app_settings
from composites.exceptions import DestinationNotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]

NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
# Special-purpose blocks that not every Python release counts as non-global.
NOT_PUBLIC = tuple(
    ipaddress.ip_network(block)
    for block in (
        "100.64.0.0/10",
        "192.0.0.0/24",
        "198.18.0.0/15",
        "64:ff9b:1::/48",
        "2001::/23",
        "2001:db8::/32",
        "fec0::/10",
    )
)
# Spellings of an IPv4 address that inet_aton() and resolvers accept:
# one to four dot-separated numbers in decimal, octal or hexadecimal.
NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}$")

# Tests replace this to simulate DNS answers.
resolve: Resolver = socket.getaddrinfo


def parse_url(text: str, what: str = "the step URL") -> httpx.URL:
    """Parse a rendered URL; refuse one that is not absolute ``https://``
    (or allowed ``http://``), or whose path has a ``.`` or ``..`` segment.

    ``what`` names the URL in the details, such as ``token_url``.
    """
    text = text.strip()
    try:
        url = httpx.URL(text)
        dotted = _has_dot_segment(text)
    except (httpx.InvalidURL, ValueError) as exc:
        raise DestinationNotAllowed(f"{what} is not a valid URL: {exc}") from None
    wrong = _wrong_part(url)
    if wrong:
        raise DestinationNotAllowed(
            f"{what} must be an absolute https:// URL; it has {wrong}"
        )
    if dotted:
        raise DestinationNotAllowed(
            f"{what}'s path has a '.' or '..' segment, which would lead "
            "elsewhere on the host"
        )
    return url


def _wrong_part(url: httpx.URL) -> str | None:
    schemes = {"https", "http"} if app_settings.ALLOW_HTTP else {"https"}
    if not url.scheme:
        return "no scheme"
    if url.scheme not in schemes:
        return f"'{url.scheme}://'"
    return None if url.host else "no host"


def _has_dot_segment(url: str) -> bool:
    path = urllib.parse.urlsplit(url).path
    segments = urllib.parse.unquote(path).replace("\\", "/").split("/")
    return any(segment in (".", "..") for segment in segments)


def is_public(address: IPAddress) -> bool:
    """Tell whether ``address`` is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    if any(address in block for block in NOT_PUBLIC):
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def vet_addresses(host: str, addresses: Iterable[IPAddress]) -> list[IPAddress]:
    """Return ``addresses`` if all may be connected to, else raise."""
    checked = list(addresses)
    if not checked:
        raise DestinationNotAllowed(f"the host '{host}' has no address")
    if _private_allowed(host):
        return checked
    for address in checked:
        if not is_public(address):
            raise DestinationNotAllowed(
                f"the host '{host}' resolves to a non-public address"
            )
    return checked


def _private_allowed(host: str) -> bool:
    if app_settings.ALLOW_PRIVATE_NETWORKS:
        return True
    allowed = {_normal_host(name) for name in app_settings.ALLOWED_PRIVATE_HOSTS}
    return _normal_host(host) in allowed


def _normal_host(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def addresses_of(host: str, port: int) -> list[IPAddress]:
    """Return the addresses ``host`` stands for, literal or resolved."""
    literal = _literal_address(_normal_host(host))
    if literal is not None:
        return [literal]
    # TODO: a slow DNS lookup is bounded only by the system resolver's own
    # timeouts, not by STEP_TIMEOUT or RUN_DEADLINE.
    try:
        answers = resolve(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve host: {exc}") from exc
    found: dict[IPAddress, None] = {}
    for family, _, _, _, sockaddr in answers:
        if family in (socket.AF_INET, socket.AF_INET6):
            found[ipaddress.ip_address(str(sockaddr[0]).split("%")[0])] = None
    return list(found)


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    if NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


class GuardedBackend(httpcore.SyncBackend):
    """A network backend that connects only to vetted addresses."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = vet_addresses(host, addresses_of(host, port))
        last_error: Exception | None = None
        for address in addresses:
            try:
                return self.connect_address(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def connect_address(
        self,
        address: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[Any] | None,
    ) -> httpcore.NetworkStream:
        """Open a TCP connection to ``address``, one the guard vetted."""
        return super().connect_tcp(
            address, port, timeout, local_address, socket_options
        )
