"""The process's pooled HTTP client, shared by every step and token request.

One ``httpx.Client`` per process keeps connections alive across requests.
It never follows redirects, never stores cookies, ignores proxy environment
variables and connects through the destination guard.  It is rebuilt when a
setting it depends on changes.

Two more bounds hold for every request it sends, whatever the upstream does:

- Time: httpx's timeouts bound each network operation, so an upstream that
  trickles its headers or body a byte at a time could go on for ever.  Here
  the request's timeout also bounds the whole exchange, from connecting to
  the last byte of the body: every connect, TLS handshake, read and write
  is given only the time left until that deadline.
- Memory: httpx decompresses a gzip or deflate body with no limit on what
  one chunk may expand to (a few hundred bytes can become gigabytes).  Here
  those bodies are decompressed in pieces of at most ``DECODE_PIECE`` bytes,
  so a size cap further up holds; a body coded more than once, or with a
  coding other than gzip and deflate, is refused.
"""

from __future__ import annotations

import contextlib
import contextvars
import http.cookiejar
import logging
import ssl
import threading
import time
import urllib.request
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import certifi
import httpcore
import httpx
from django.core.signals import setting_changed
from django.dispatch import receiver

from composites.conf import app_settings
from composites.destinations import GuardedBackend

DECODE_PIECE = 64 * 1024
WBITS = {
    "gzip": zlib.MAX_WBITS | 16,
    "x-gzip": zlib.MAX_WBITS | 16,
    "deflate": zlib.MAX_WBITS,
}
STALE_HEADERS = frozenset({"content-encoding", "content-length"})

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "composites_exchange_deadline", default=None
)


class DropRequestLines(logging.Filter):
    """Drop httpx's per-request INFO line: it holds the full URL, and a query
    string may carry a secret.  The runner logs each step without it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("HTTP Request:")


logging.getLogger("httpx").addFilter(DropRequestLines())


class RefuseAllCookies(http.cookiejar.DefaultCookiePolicy):
    """Keep no cookie, so one caller's upstream cookies never reach another."""

    def set_ok(
        self, cookie: http.cookiejar.Cookie, request: urllib.request.Request
    ) -> bool:
        return False

    def return_ok(
        self, cookie: http.cookiejar.Cookie, request: urllib.request.Request
    ) -> bool:
        return False


# Time ------------------------------------------------------------------------


@contextlib.contextmanager
def _until(deadline: float | None) -> Iterator[None]:
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def capped(
    timeout: float | None, error: type[httpcore.TimeoutException]
) -> float | None:
    """Shorten ``timeout`` to the time left; raise ``error`` if none is."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("the request's time ran out")
    return remaining if timeout is None else min(timeout, remaining)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the exchange deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        limit = capped(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, limit)
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(GuardedBackend):
    """The destination guard, with connections bound by the deadline."""

    def connect_address(
        self,
        address: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[Any] | None,
    ) -> httpcore.NetworkStream:
        limit = capped(timeout, httpcore.ConnectTimeout)
        stream = super().connect_address(
            address, port, limit, local_address, socket_options
        )
        return DeadlineStream(stream)


def _exchange_deadline(request: httpx.Request) -> float | None:
    timeouts = request.extensions.get("timeout", {}).values()
    seconds = [value for value in timeouts if value is not None]
    return time.monotonic() + max(seconds) if seconds else None


# Memory ----------------------------------------------------------------------


def _decoder(headers: httpx.Headers) -> PieceDecoder | None:
    """Return a decoder for the response's content coding, or ``None``."""
    codings = [
        coding.strip().lower()
        for coding in headers.get("content-encoding", "").split(",")
        if coding.strip() and coding.strip().lower() != "identity"
    ]
    if not codings:
        return None
    if len(codings) > 1:
        raise httpx.DecodingError("the response body is content-coded more than once")
    if codings[0] not in WBITS:
        raise httpx.DecodingError(f"content coding '{codings[0]}' is not supported")
    return PieceDecoder(codings[0])


class PieceDecoder:
    """Decompress gzip or deflate in pieces no longer than ``DECODE_PIECE``."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._zlib = zlib.decompressobj(WBITS[coding])
        self._first = True

    def pieces(self, data: bytes) -> Iterator[bytes]:
        """Yield what ``data`` decompresses to, piece by piece."""
        piece = self._start(data)
        while piece:
            yield piece
            piece = self._zlib.decompress(self._zlib.unconsumed_tail, DECODE_PIECE)

    def finish(self) -> Iterator[bytes]:
        """Yield whatever is left once the body has ended."""
        yield from self.pieces(b"")
        tail = self._zlib.flush()
        if tail:
            yield tail

    def _start(self, data: bytes) -> bytes:
        first, self._first = self._first, False
        try:
            return self._zlib.decompress(data, DECODE_PIECE)
        except zlib.error:
            # Some servers send "deflate" without its zlib wrapper.
            if not (first and self._coding == "deflate"):
                raise
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._zlib.decompress(data, DECODE_PIECE)


class BoundedBody(httpx.SyncByteStream):
    """A response body read by the deadline and decoded piece by piece."""

    def __init__(
        self,
        stream: httpx.SyncByteStream,
        deadline: float | None,
        decoder: PieceDecoder | None,
    ) -> None:
        self._stream = stream
        self._deadline = deadline
        self._decoder = decoder

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._decoded()
        except zlib.error as exc:
            raise httpx.DecodingError(f"the response body is corrupt: {exc}") from None

    def close(self) -> None:
        with _until(self._deadline):
            self._stream.close()

    def _decoded(self) -> Iterator[bytes]:
        chunks = iter(self._stream)
        while True:
            with _until(self._deadline):
                chunk = next(chunks, None)
            if chunk is None:
                break
            if self._decoder is None:
                yield chunk
            else:
                yield from self._decoder.pieces(chunk)
        if self._decoder is not None:
            yield from self._decoder.finish()


# The client ------------------------------------------------------------------


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport, guarded, and bounded in time and memory."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=DeadlineBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = _exchange_deadline(request)
        with _until(deadline):
            response = super().handle_request(request)
        try:
            decoder = _decoder(response.headers)
        except httpx.DecodingError:
            response.close()
            raise
        headers = response.headers
        if decoder is not None:
            headers = httpx.Headers(
                [
                    (key, value)
                    for key, value in response.headers.multi_items()
                    if key.lower() not in STALE_HEADERS
                ]
            )
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=headers,
            stream=BoundedBody(response.stream, deadline, decoder),
            extensions=response.extensions,
        )


def _ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certifi.where())
    if app_settings.CA_BUNDLE:
        context.load_verify_locations(cafile=str(app_settings.CA_BUNDLE))
    return context


def _build() -> httpx.Client:
    maximum = app_settings.MAX_CONNECTIONS
    limits = httpx.Limits(max_connections=maximum, max_keepalive_connections=maximum)
    return httpx.Client(
        transport=GuardedTransport(_ssl_context(), limits),
        cookies=http.cookiejar.CookieJar(policy=RefuseAllCookies()),
        follow_redirects=False,
        trust_env=False,
        timeout=app_settings.STEP_TIMEOUT,
    )


_client: httpx.Client | None = None
_lock = threading.Lock()


def client() -> httpx.Client:
    """Return the process's pooled client, building it on first use."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = _build()
    return _client


def reset() -> None:
    """Close the pooled client; the next ``client()`` builds a new one."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
        _client = None


@receiver(setting_changed)
def _rebuild_on_settings_change(setting: str, **kwargs: Any) -> None:
    if setting == "COMPOSITES":
        reset()
