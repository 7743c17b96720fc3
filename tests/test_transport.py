"""The pooled client: no cookies, no redirects, no proxies, bounded time and
memory for every request."""

from __future__ import annotations

import gzip
import itertools
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx
import pytest

from composites import transport
from tests.upstream_fixtures import RunningUpstream


@pytest.fixture
def loopback(upstream: RunningUpstream, settings: Any) -> RunningUpstream:
    settings.COMPOSITES = {
        **settings.COMPOSITES,
        "CA_BUNDLE": upstream.ca_bundle,
        "ALLOW_PRIVATE_NETWORKS": True,
    }
    return upstream


# The client against the test upstream ----------------------------------------


def test_client_is_shared_until_reset() -> None:
    first = transport.client()

    assert transport.client() is first
    transport.reset()
    assert transport.client() is not first
    assert first.is_closed


def test_client_is_rebuilt_when_settings_change(settings: Any) -> None:
    first = transport.client()

    settings.COMPOSITES = {**settings.COMPOSITES, "STEP_TIMEOUT": 3.0}

    assert transport.client() is not first
    assert transport.client().timeout.read == 3.0


def test_client_keeps_no_cookie_from_upstream(loopback: RunningUpstream) -> None:
    client = transport.client()

    client.get(loopback.url("/set-cookies/3"))
    response = client.get(loopback.url("/whoami"))

    assert len(client.cookies.jar) == 0
    assert response.json()["cookies"] == {}


def test_client_does_not_follow_redirects(
    loopback: RunningUpstream, upstream_recorder: Any
) -> None:
    response = transport.client().get(loopback.url("/redirect"))

    assert response.status_code == 302
    assert upstream_recorder.requests_to("/echo") == []


def test_client_ignores_proxy_environment(
    loopback: RunningUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    transport.reset()

    assert transport.client().get(loopback.url("/echo")).status_code == 200


def test_client_decodes_gzip_and_drops_stale_coding_headers(
    loopback: RunningUpstream,
) -> None:
    response = transport.client().get(loopback.url("/gzip"))

    assert response.json() == {"compressed": True, "message": "hello from gzip"}
    assert "content-encoding" not in response.headers
    assert "content-length" not in response.headers


def test_client_leaves_uncoded_response_headers_alone(
    loopback: RunningUpstream,
) -> None:
    response = transport.client().get(loopback.url("/bytes/16"))

    assert response.headers["content-length"] == "16"
    assert len(response.content) == 16


def test_client_exchange_ends_at_its_timeout_while_headers_trickle(
    loopback: RunningUpstream,
) -> None:
    started = time.monotonic()

    with pytest.raises(httpx.ReadTimeout):
        transport.client().get(
            loopback.url("/slow-headers?lines=50&interval=0.1"), timeout=0.5
        )

    assert time.monotonic() - started < 2


def test_client_exchange_ends_at_its_timeout_while_body_drips(
    loopback: RunningUpstream,
) -> None:
    started = time.monotonic()

    with pytest.raises(httpx.ReadTimeout):
        transport.client().get(
            loopback.url("/drip?chunks=50&interval=0.1"), timeout=0.5
        )

    assert time.monotonic() - started < 2


def test_client_refuses_body_coded_twice(loopback: RunningUpstream) -> None:
    with pytest.raises(httpx.DecodingError, match="more than once"):
        transport.client().get(loopback.url("/gzip-bomb?size=1000&layers=2"))


# Deadlines -------------------------------------------------------------------


class RecordingStream(httpcore.NetworkStream):
    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.timeouts.append(timeout)
        return b"x"

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.timeouts.append(timeout)

    def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        self.timeouts.append(kwargs.get("timeout", args[-1] if args else None))
        return self


def test_capped_without_deadline_returns_timeout_unchanged() -> None:
    assert transport.capped(7.0, httpcore.ReadTimeout) == 7.0
    assert transport.capped(None, httpcore.ReadTimeout) is None


@pytest.mark.parametrize("timeout", [30.0, None])
def test_capped_shortens_timeout_to_time_left(timeout: float | None) -> None:
    with transport._until(time.monotonic() + 1.0):
        left = transport.capped(timeout, httpcore.ReadTimeout)

    assert left is not None
    assert 0.5 < left <= 1.0


@pytest.mark.parametrize(
    "error", [httpcore.ReadTimeout, httpcore.WriteTimeout, httpcore.ConnectTimeout]
)
def test_capped_past_deadline_raises_given_timeout(
    error: type[httpcore.TimeoutException],
) -> None:
    with transport._until(time.monotonic() - 0.1), pytest.raises(error):
        transport.capped(5.0, error)


def test_deadline_stream_caps_every_operation() -> None:
    inner = RecordingStream()
    stream = transport.DeadlineStream(inner)

    with transport._until(time.monotonic() + 1.0):
        stream.read(10, timeout=30.0)
        stream.write(b"x", timeout=30.0)
        stream.start_tls(None, "example.test", 30.0)  # type: ignore[arg-type]

    assert all(t is not None and t <= 1.0 for t in inner.timeouts)
    assert len(inner.timeouts) == 3


def test_exchange_deadline_is_the_longest_timeout_from_now() -> None:
    request = httpx.Request("GET", "https://example.test/")
    request.extensions["timeout"] = httpx.Timeout(2.0, read=5.0).as_dict()

    deadline = transport._exchange_deadline(request)

    assert deadline is not None
    assert 4.5 < deadline - time.monotonic() <= 5.0


def test_exchange_deadline_without_timeouts_is_none() -> None:
    request = httpx.Request("GET", "https://example.test/")
    request.extensions["timeout"] = httpx.Timeout(None).as_dict()

    assert transport._exchange_deadline(request) is None


# Decompression in pieces -----------------------------------------------------


def _body(data: bytes, coding: str) -> Iterator[bytes]:
    headers = httpx.Headers({"content-encoding": coding})
    chunks = [data[index : index + 4096] for index in range(0, len(data), 4096)]
    stream = transport.BoundedBody(_Chunks(chunks), None, transport._decoder(headers))
    return iter(stream)


class _Chunks(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", lambda data: gzip.compress(data, mtime=0)),
        ("x-gzip", lambda data: gzip.compress(data, mtime=0)),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),
        ("identity", lambda data: data),
        ("GZip ", lambda data: gzip.compress(data, mtime=0)),
    ],
    ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw", "identity", "case"],
)
def test_bounded_body_decodes_supported_codings(coding: str, encode: Any) -> None:
    data = bytes(range(256)) * 1000

    assert b"".join(_body(encode(data), coding)) == data


def test_bounded_body_decodes_a_bomb_in_small_pieces() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9, mtime=0)
    tracemalloc.start()
    try:
        decoded = 0
        largest = 0
        for piece in itertools.islice(_body(bomb, "gzip"), 200):
            decoded += len(piece)
            largest = max(largest, len(piece))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert largest <= transport.DECODE_PIECE
    assert decoded > 10_000_000
    assert peak < 64 * 1024 * 1024


@pytest.mark.parametrize(
    ("coding", "message"),
    [
        ("gzip, gzip", "more than once"),
        ("deflate, gzip", "more than once"),
        ("br", "'br' is not supported"),
        ("zstd", "'zstd' is not supported"),
    ],
)
def test_decoder_refuses_other_codings(coding: str, message: str) -> None:
    with pytest.raises(httpx.DecodingError, match=message):
        transport._decoder(httpx.Headers({"content-encoding": coding}))


def test_bounded_body_corrupt_data_is_decoding_error() -> None:
    with pytest.raises(httpx.DecodingError, match="corrupt"):
        list(_body(b"\x1f\x8b this is not gzip", "gzip"))
