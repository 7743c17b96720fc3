"""One request sent and its response read whole, within the size limit.

This is the one place where httpx's errors become ``StepNetworkError``s;
the runner sends steps and the token cache sends token requests through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from composites.conf import app_settings
from composites.exceptions import StepNetworkError


@dataclass(frozen=True, slots=True)
class Reply:
    """A response read whole: status, headers and decoded body."""

    status: int
    headers: httpx.Headers
    content: bytes


def exchange(
    client: httpx.Client,
    request: httpx.Request,
    timeout: httpx.Timeout,
    party: str = "the upstream API",
) -> Reply:
    """Send ``request`` and read its body up to ``MAX_RESPONSE_BYTES``.

    ``timeout`` bounds each operation and, through the transport, the whole
    exchange.  Any failure raises ``StepNetworkError`` with a detail that
    names ``party``.
    """
    request.extensions["timeout"] = timeout.as_dict()
    try:
        response = client.send(request, stream=True)
        try:
            content = _read_capped(response, party)
        finally:
            response.close()
    except httpx.TimeoutException:
        raise StepNetworkError(f"{party} did not answer in time") from None
    except httpx.HTTPError as exc:
        raise StepNetworkError(_describe(exc, party)) from None
    return Reply(response.status_code, response.headers, content)


def _read_capped(response: httpx.Response, party: str) -> bytes:
    limit = app_settings.MAX_RESPONSE_BYTES
    too_large = StepNetworkError(f"the response body of {party} is over {limit} bytes")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(exc: httpx.HTTPError, party: str) -> str:
    message = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in message or "SSL" in message:
        return f"TLS failed with {party}: {message}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{party} broke the connection: {message}"
    if isinstance(exc, httpx.DecodingError):
        return f"the response of {party} could not be decoded: {message}"
    return f"the request to {party} failed: {message}"
