"""A werkzeug application standing in for third-party APIs in end-to-end tests.

Every request is recorded in an :class:`UpstreamRecorder`, so a test can
check what actually arrived upstream. The endpoints cover what a step runner
meets in the wild:

==============================  ===============================================
``/echo``                       any method; the request as JSON
``/status/<code>``              that status, with a body widgets must not see
``/redirect``                   302 to ``/echo``
``/set-cookies/<n>``            n ``Set-Cookie`` headers
``/bytes/<n>``                  n bytes of binary, not valid UTF-8
``/empty``                      200, no body and no ``Content-Type``
``/latin1``, ``/misdeclared``   latin-1 text, declared correctly or as UTF-8
``/gzip``                       gzip-encoded JSON
``/delay/<seconds>``            answers after a pause
``/drip?chunks=&interval=``     one-byte chunks with pauses between
``/cut-off``                    declares 1000 bytes, sends 10, hangs up
``/large/<n>``                  n bytes streamed (``?declare=1`` adds a length)
``/endless``                    a chunked stream that never ends
``/whoami``                     the ``X-User`` header and cookies received
``/token``                      a counting token endpoint with failure modes
``/headers/<n>?size=``          n extra headers of ``size`` bytes each
``/slow-headers?lines=&...``    header lines written one per ``interval``
``/gzip-bomb?size=&layers=``    ``size`` zero bytes, gzipped ``layers`` times
``/coded/<coding>``             a body declared with that content coding
==============================  ===============================================
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PRIVATE_DETAIL = "upstream-private-body"
LATIN1_TEXT = "café naïve"
STREAM_CHUNK_SIZE = 64 * 1024
CUT_OFF_DECLARED_LENGTH = 1000
CUT_OFF_SENT = b"0123456789"
TOKEN_MODES = (
    "not-json",
    "no-token",
    "expires-missing",
    "expires-string",
    "expires-zero",
    "expires-negative",
    "401",
    "500",
    "slow",
)


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived upstream; header names are lower-case."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str]

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)


class UpstreamRecorder:
    """Thread-safe record of the requests the test upstream received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._token_calls = 0

    def record(self, request: RecordedRequest) -> None:
        """Append one received request."""
        with self._lock:
            self._requests.append(request)

    def count_token_call(self) -> int:
        """Count one call of the token endpoint and return the new total."""
        with self._lock:
            self._token_calls += 1
            return self._token_calls

    def reset(self) -> None:
        """Forget every request and the token call count."""
        with self._lock:
            self._requests.clear()
            self._token_calls = 0

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def token_calls(self) -> int:
        """How many times the token endpoint was called."""
        with self._lock:
            return self._token_calls

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The requests received for ``path``, oldest first."""
        return [request for request in self.requests if request.path == path]

    @property
    def last(self) -> RecordedRequest:
        """The most recent request; ``IndexError`` when there is none."""
        with self._lock:
            return self._requests[-1]


def _json(data: object, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _record_of(request: Request) -> RecordedRequest:
    return RecordedRequest(
        method=request.method,
        path=request.path,
        query=request.args.to_dict(flat=False),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=request.get_data(cache=True),
        cookies=request.cookies.to_dict(),
    )


def _text_or_none(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _float_argument(request: Request, name: str, default: float) -> float:
    try:
        return float(request.args.get(name, default))
    except ValueError as error:
        raise BadRequest(f"{name} must be a number") from error


def _int_argument(request: Request, name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError as error:
        raise BadRequest(f"{name} must be an integer") from error


def echo(request: Request) -> Response:
    """Describe the request: method, path, query, headers, body, cookies."""
    record = _record_of(request)
    return _json(
        {
            "method": record.method,
            "path": record.path,
            "query": record.query,
            "headers": record.headers,
            "body_text": _text_or_none(record.body),
            "body_base64": base64.b64encode(record.body).decode("ascii"),
            "cookies": record.cookies,
        }
    )


def status(request: Request, code: int) -> Response:
    """Answer with ``code`` and a body carrying an upstream-private detail."""
    return _json({"status": code, "secret_upstream_detail": PRIVATE_DETAIL}, code)


def redirect(request: Request) -> Response:
    """Redirect to ``/echo`` with a small body of its own."""
    response = _json({"redirected_to": "/echo"}, 302)
    response.headers["Location"] = "/echo"
    return response


def set_cookies(request: Request, count: int) -> Response:
    """Set ``count`` cookies named ``cookie-1`` ... ``cookie-<count>``."""
    response = _json({"cookies_set": count})
    for number in range(1, count + 1):
        response.set_cookie(f"cookie-{number}", f"value-{number}", path="/")
    return response


def binary(request: Request, count: int) -> Response:
    """Return ``count`` bytes counting down from 0xFF, invalid as UTF-8."""
    body = bytes((255 - index) % 256 for index in range(count))
    return Response(body, mimetype="application/octet-stream")


def empty(request: Request) -> Response:
    """Return 200 with no body and no ``Content-Type``."""
    response = Response(b"")
    del response.headers["Content-Type"]
    return response


def latin1(request: Request) -> Response:
    """Return latin-1 text declared as latin-1."""
    return Response(
        LATIN1_TEXT.encode("latin-1"),
        content_type="text/plain; charset=iso-8859-1",
    )


def misdeclared(request: Request) -> Response:
    """Return latin-1 bytes declared as UTF-8."""
    return Response(
        LATIN1_TEXT.encode("latin-1"), content_type="text/plain; charset=utf-8"
    )


def gzipped(request: Request) -> Response:
    """Return gzip-compressed JSON with ``Content-Encoding: gzip``."""
    payload = json.dumps({"compressed": True, "message": "hello from gzip"})
    response = Response(
        gzip.compress(payload.encode(), mtime=0), mimetype="application/json"
    )
    response.headers["Content-Encoding"] = "gzip"
    return response


def delay(request: Request, seconds: float) -> Response:
    """Answer after ``seconds``."""
    time.sleep(seconds)
    return _json({"delayed": seconds})


def drip(request: Request) -> Response:
    """Stream ``chunks`` one-byte chunks, ``interval`` seconds apart."""
    chunks = _int_argument(request, "chunks", 5)
    interval = _float_argument(request, "interval", 0.1)

    def generate() -> Iterator[bytes]:
        for index in range(chunks):
            if index:
                time.sleep(interval)
            yield b"."

    return Response(generate(), mimetype="application/octet-stream")


def cut_off(request: Request) -> Response:
    """Declare 1000 bytes, send 10, then shut the connection down."""
    connection: socket.socket = request.environ["werkzeug.socket"]

    def generate() -> Iterator[bytes]:
        yield CUT_OFF_SENT
        connection.shutdown(socket.SHUT_RDWR)

    response = Response(generate(), mimetype="application/octet-stream")
    response.headers["Content-Length"] = str(CUT_OFF_DECLARED_LENGTH)
    return response


def large(request: Request, count: int) -> Response:
    """Stream ``count`` bytes of ``a``, chunked unless ``?declare=1``."""

    def generate() -> Iterator[bytes]:
        remaining = count
        while remaining > 0:
            size = min(remaining, STREAM_CHUNK_SIZE)
            remaining -= size
            yield b"a" * size

    response = Response(generate(), mimetype="application/octet-stream")
    if request.args.get("declare") == "1":
        response.headers["Content-Length"] = str(count)
    return response


def endless(request: Request) -> Response:
    """Stream 64 KiB chunks until the client goes away."""

    def generate() -> Iterator[bytes]:
        chunk = b"e" * STREAM_CHUNK_SIZE
        while True:
            yield chunk

    return Response(generate(), mimetype="application/octet-stream")


def whoami(request: Request) -> Response:
    """Echo ``X-User`` and the cookies, and set a cookie naming the user."""
    user = request.headers.get("X-User")
    response = _json({"user": user, "cookies": request.cookies.to_dict()})
    response.set_cookie("whoami", user or "anonymous", path="/")
    return response


def many_headers(request: Request, count: int) -> Response:
    """Answer with ``count`` extra headers of ``?size=`` bytes each."""
    size = _int_argument(request, "size", 16)
    response = _json({"headers": count, "size": size})
    for number in range(count):
        response.headers.add(f"X-Filler-{number}", "h" * size)
    return response


def slow_headers(request: Request) -> Response:
    """Write the status line, then one header line per ``?interval=``.

    The response is written straight to the socket, ``?lines=`` header lines
    in all, then the connection is shut; werkzeug writes nothing of its own.
    """
    lines = _int_argument(request, "lines", 100)
    interval = _float_argument(request, "interval", 0.1)
    connection: socket.socket = request.environ["werkzeug.socket"]
    try:
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        for number in range(lines):
            time.sleep(interval)
            connection.sendall(b"X-Slow-%d: .\r\n" % number)
        connection.sendall(b"Content-Length: 0\r\n\r\n")
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    raise ConnectionAbortedError("the slow headers were written by hand")


def gzip_bomb(request: Request) -> Response:
    """Return ``?size=`` zero bytes gzip-coded ``?layers=`` times."""
    size = _int_argument(request, "size", 1024 * 1024)
    layers = _int_argument(request, "layers", 1)
    body = b"\0" * size
    for _ in range(layers):
        body = gzip.compress(body, compresslevel=9, mtime=0)
    response = Response(body, mimetype="application/octet-stream")
    response.headers["Content-Encoding"] = ", ".join(["gzip"] * layers)
    return response


def coded(request: Request, coding: str) -> Response:
    """Return a plain body that claims the content coding ``coding``."""
    response = Response(b"not really coded", mimetype="text/plain")
    response.headers["Content-Encoding"] = coding
    return response


class TokenEndpoint:
    """Issue ``tok-<n>`` for the n-th call; ``?mode=`` selects a failure."""

    def __init__(self, recorder: UpstreamRecorder) -> None:
        self.recorder = recorder

    def __call__(self, request: Request) -> Response:
        number = self.recorder.count_token_call()
        mode = request.args.get("mode", "")
        if mode and mode not in TOKEN_MODES:
            raise BadRequest(f"unknown token mode {mode!r}")
        if mode == "slow":
            time.sleep(_float_argument(request, "delay", 1.0))
        if mode == "not-json":
            return Response("this is not json", mimetype="text/plain")
        if mode in {"401", "500"}:
            return _json({"error": "token_refused", "call": number}, int(mode))

        expires_in = _int_argument(request, "expires_in", 3600)
        return _json(self._token_body(number, mode, expires_in))

    def _token_body(self, number: int, mode: str, expires_in: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": f"tok-{number}",
            "token_type": "Bearer",
            "expires_in": expires_in,
        }
        if mode == "no-token":
            del body["access_token"]
        elif mode == "expires-missing":
            del body["expires_in"]
        elif mode == "expires-string":
            body["expires_in"] = str(expires_in)
        elif mode == "expires-zero":
            body["expires_in"] = 0
        elif mode == "expires-negative":
            body["expires_in"] = -30
        return body


class UpstreamApp:
    """The test upstream as a WSGI application recording into ``recorder``."""

    def __init__(self, recorder: UpstreamRecorder) -> None:
        self.recorder = recorder
        self._url_map = Map(self._rules())

    def _rules(self) -> list[Rule]:
        endpoints: dict[str, Callable[..., Response]] = {
            "/echo": echo,
            "/status/<int:code>": status,
            "/redirect": redirect,
            "/set-cookies/<int:count>": set_cookies,
            "/bytes/<int:count>": binary,
            "/empty": empty,
            "/latin1": latin1,
            "/misdeclared": misdeclared,
            "/gzip": gzipped,
            "/delay/<int:seconds>": delay,
            "/delay/<float:seconds>": delay,
            "/drip": drip,
            "/cut-off": cut_off,
            "/large/<int:count>": large,
            "/endless": endless,
            "/whoami": whoami,
            "/headers/<int:count>": many_headers,
            "/slow-headers": slow_headers,
            "/gzip-bomb": gzip_bomb,
            "/coded/<coding>": coded,
        }
        rules = [Rule(path, endpoint=view) for path, view in endpoints.items()]
        token = TokenEndpoint(self.recorder)
        return [*rules, Rule("/token", endpoint=token, methods=["POST"])]

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        request = Request(environ)
        self.recorder.record(_record_of(request))
        return self._dispatch(request)(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        adapter = self._url_map.bind_to_environ(request.environ)
        try:
            view, arguments = adapter.match()
            return view(request, **arguments)  # type: ignore[no-any-return]
        except HTTPException as error:
            name = (error.name or "error").lower().replace(" ", "_")
            return _json(
                {"error": name, "detail": error.description}, error.code or 500
            )


def create_app(recorder: UpstreamRecorder) -> WSGIApplication:
    """Return the test upstream, recording every request into ``recorder``."""
    return UpstreamApp(recorder)
