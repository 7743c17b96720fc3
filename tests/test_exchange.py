"""Sending one request and reading its response within the size limit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from composites.exceptions import StepNetworkError
from composites.exchange import exchange

TIMEOUT = httpx.Timeout(5.0)


def client_answering(handler: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def request() -> httpx.Request:
    return httpx.Request("GET", "https://api.example.com/data")


def test_exchange_returns_status_headers_and_body() -> None:
    client = client_answering(
        lambda r: httpx.Response(201, headers={"X-A": "1"}, content=b"done")
    )

    reply = exchange(client, request(), TIMEOUT)

    assert (reply.status, reply.headers["x-a"], reply.content) == (201, "1", b"done")


def test_exchange_sets_the_timeout_on_the_request() -> None:
    seen: list[Any] = []
    client = client_answering(
        lambda r: seen.append(r.extensions["timeout"]) or httpx.Response(204)
    )

    exchange(client, request(), httpx.Timeout(2.5))

    assert seen == [httpx.Timeout(2.5).as_dict()]


@pytest.mark.parametrize(
    "headers", [{}, {"Content-Length": "11"}], ids=["streamed", "declared"]
)
def test_exchange_body_over_limit_is_network_error(
    settings: Any, headers: dict[str, str]
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "MAX_RESPONSE_BYTES": 10}
    client = client_answering(
        lambda r: httpx.Response(200, headers=headers, content=b"x" * 11)
    )

    with pytest.raises(StepNetworkError, match="of the upstream API is over 10 bytes"):
        exchange(client, request(), TIMEOUT)


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (httpx.ReadTimeout("slow"), "the token endpoint did not answer in time"),
        (httpx.RemoteProtocolError("eof"), "the token endpoint broke the connection"),
        (httpx.ConnectError("[SSL] bad"), "TLS failed with the token endpoint"),
        (httpx.DecodingError("zlib"), "of the token endpoint could not be decoded"),
        (httpx.ConnectError("refused"), "the request to the token endpoint failed"),
    ],
)
def test_exchange_translates_httpx_errors_naming_the_party(
    error: Exception, detail: str
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(StepNetworkError, match=detail):
        exchange(client_answering(fail), request(), TIMEOUT, "the token endpoint")
