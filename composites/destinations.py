"""Where steps may send requests: https URLs of public addresses only.

Two checks guard every outbound request.  ``check_url`` refuses a rendered
URL that is not absolute ``https://`` before anything is sent.
``GuardedBackend`` resolves the host itself when a connection opens, refuses
the connection if any address is not public, and connects to an address it
checked, so a DNS answer that changes between check and connect cannot get
through.  TLS still verifies the certificate against the host name.

The ``ALLOW_HTTP``, ``ALLOW_PRIVATE_NETWORKS`` and ``ALLOWED_PRIVATE_HOSTS``
settings relax this for development and tests; all are off by default.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from composites.conf import app_settings
from composites.exceptions import DestinationNotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]

# Tests replace this to simulate DNS answers.
resolve: Resolver = socket.getaddrinfo


def check_url(url: httpx.URL) -> None:
    """Refuse a URL that is not absolute ``https://`` (or allowed ``http://``)."""
    schemes = {"https", "http"} if app_settings.ALLOW_HTTP else {"https"}
    if url.scheme not in schemes:
        shown = f"'{url.scheme}://'" if url.scheme else "no scheme"
        raise DestinationNotAllowed(
            f"the step URL must be an absolute https:// URL; it has {shown}"
        )
    if not url.host:
        raise DestinationNotAllowed("the step URL has no host")


def is_public(address: IPAddress) -> bool:
    """Tell whether ``address`` is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return is_public(address.ipv4_mapped)
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


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
    return host.lower() in {h.lower() for h in app_settings.ALLOWED_PRIVATE_HOSTS}


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        answers = resolve(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve host: {exc}") from exc
    found: dict[IPAddress, None] = {}
    for family, _, _, _, sockaddr in answers:
        if family in (socket.AF_INET, socket.AF_INET6):
            found[ipaddress.ip_address(str(sockaddr[0]).split("%")[0])] = None
    return list(found)


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
        addresses = vet_addresses(host, _resolve(host, port))
        last_error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error
