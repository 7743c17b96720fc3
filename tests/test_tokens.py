"""Token requests and the token cache: parsing every answer a token endpoint
gives, lifetimes on a controlled clock, single flight across threads, and
across two server processes sharing a real Redis."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.cache import cache, caches
from django.test import Client

from composites import tokens, transport
from composites.exceptions import (
    DestinationNotAllowed,
    StepNetworkError,
    TemplateError,
    TokenRequestError,
)
from tests.upstream import UpstreamRecorder
from tests.upstream_fixtures import RunningUpstream

PROJECT = Path(__file__).resolve().parents[1]
CLIENT_SECRET = "client-secret-a81f3e"
TOKEN_URL = "https://auth.example.com/token"
Install = Callable[[list[dict[str, Any]]], None]


def five_seconds() -> httpx.Timeout:
    return httpx.Timeout(5.0)


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def answer(*args: Any, **kwargs: Any) -> httpx.Client:
    return mock_client(lambda request: httpx.Response(*args, **kwargs))


# Cache keys ------------------------------------------------------------------


PARTS = ("oauth_client_credentials", "demo", "client-1", CLIENT_SECRET, TOKEN_URL, "")


def test_cache_key_is_stable_short_and_hides_every_part() -> None:
    key = tokens.cache_key(*PARTS)

    assert key == tokens.cache_key(*PARTS)
    assert key.startswith("composites:token:") and len(key) < 100
    assert not any(part and part in key for part in PARTS)


@pytest.mark.parametrize("index", range(1, len(PARTS)))
def test_cache_key_changes_with_each_part(index: int) -> None:
    changed = list(PARTS)
    changed[index] += "x"

    assert tokens.cache_key(*changed) != tokens.cache_key(*PARTS)


def test_cache_key_parts_cannot_run_into_each_other() -> None:
    assert tokens.cache_key("ab", "c") != tokens.cache_key("a", "bc")


# Requesting and parsing ------------------------------------------------------


def test_request_token_posts_form_with_json_accept_header() -> None:
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200, json={"access_token": "abc", "expires_in": 60})

    form = {"grant_type": "client_credentials", "client_secret": CLIENT_SECRET}
    response = tokens.request_token(mock_client(handler), five_seconds, TOKEN_URL, form)

    assert response == tokens.TokenResponse("abc", 60.0)
    request = received[0]
    assert (request.method, request.headers["accept"]) == ("POST", "application/json")
    assert request.headers["user-agent"] == tokens.USER_AGENT
    assert dict(urllib.parse.parse_qsl(request.content.decode())) == form


@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [
        (None, None),
        (3600, 3600.0),
        (3599.5, 3599.5),
        ("3600", 3600.0),
        (" 120 ", 120.0),
        (0, 0.0),
        (-30, -30.0),
    ],
)
def test_request_token_reads_expires_in_as_seconds(
    expires_in: Any, expected: float | None
) -> None:
    body: dict[str, Any] = {"access_token": "abc"}
    if expires_in is not None:
        body["expires_in"] = expires_in

    response = tokens.request_token(answer(200, json=body), five_seconds, TOKEN_URL, {})

    assert response.expires_in == expected


PARSE_ERRORS: list[tuple[httpx.Response, str]] = [
    (
        httpx.Response(401, json={"error": "invalid_client"}),
        "HTTP 401 (invalid_client)",
    ),
    (httpx.Response(400, json={"error": "made_up"}), "answered HTTP 400"),
    (httpx.Response(400, json={"error": {"nested": 1}}), "answered HTTP 400"),
    (httpx.Response(500, text="upstream-private-body"), "answered HTTP 500"),
    (httpx.Response(302, headers={"Location": "/x"}), "answered HTTP 302"),
    (httpx.Response(200, text="<html>"), "not JSON (Content-Type: text/plain)"),
    (httpx.Response(200, content=b"\xff\xfe"), "not JSON (Content-Type: none)"),
    (httpx.Response(200, json=["abc"]), "JSON is not an object"),
    (httpx.Response(200, json={"token": "x"}), "no access_token (its fields: token)"),
    (httpx.Response(200, json={"access_token": ""}), "no access_token"),
    (httpx.Response(200, json={"access_token": 12}), "no access_token"),
    (httpx.Response(200, json={"access_token": "a\nb"}), "not allowed in an Author"),
    (httpx.Response(200, json={"access_token": "a b"}), "not allowed in an Author"),
    (
        httpx.Response(200, json={"access_token": "abc", "expires_in": "soon"}),
        "expires_in is not a number of seconds",
    ),
    (
        httpx.Response(200, json={"access_token": "abc", "expires_in": "NaN"}),
        "expires_in is not a number of seconds",
    ),
    (
        httpx.Response(200, json={"access_token": "abc", "expires_in": True}),
        "expires_in is not a number of seconds",
    ),
    (
        httpx.Response(200, json={"access_token": "abc", "expires_in": [60]}),
        "expires_in is not a number of seconds",
    ),
]


@pytest.mark.parametrize(("response", "expected"), PARSE_ERRORS)
def test_request_token_with_unusable_answer_raises_without_body(
    response: httpx.Response, expected: str
) -> None:
    client = mock_client(lambda request: response)

    with pytest.raises(TokenRequestError) as caught:
        tokens.request_token(client, five_seconds, TOKEN_URL, {})

    assert expected in caught.value.detail
    assert "upstream-private-body" not in caught.value.detail
    assert (caught.value.status, caught.value.code) == (502, "TOKEN_REQUEST_ERROR")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("connection refused"), "failed: connection refused"),
        (httpx.ReadTimeout("timed out"), "did not answer in time"),
        (httpx.ConnectTimeout("timed out"), "did not answer in time"),
        (httpx.RemoteProtocolError("peer closed"), "broke the connection: peer closed"),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]"), "TLS failed with"),
    ],
)
def test_request_token_network_failure_raises_token_request_error(
    error: Exception, expected: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(TokenRequestError, match=expected):
        tokens.request_token(mock_client(handler), five_seconds, TOKEN_URL, {})


def test_request_token_over_size_limit_raises(settings: Any) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "MAX_RESPONSE_BYTES": 100}
    client = answer(200, json={"access_token": "a" * 200})

    with pytest.raises(TokenRequestError, match="over 100 bytes"):
        tokens.request_token(client, five_seconds, TOKEN_URL, {})


def test_request_token_after_deadline_sends_nothing() -> None:
    received: list[httpx.Request] = []

    def deadline_passed() -> httpx.Timeout:
        raise StepNetworkError("the run's deadline passed before this request")

    client = mock_client(lambda r: received.append(r) or httpx.Response(200))
    with pytest.raises(TokenRequestError, match="no token was requested: the run's"):
        tokens.request_token(client, deadline_passed, TOKEN_URL, {})
    assert received == []


@pytest.mark.parametrize(
    ("url", "allow_http", "expected"),
    [
        ("http://auth.example.com/token", False, "must be an absolute https://"),
        ("ftp://auth.example.com/token", True, "must be an absolute https://"),
        ("/token", False, "must be an absolute https://"),
        ("https://", False, "must be an absolute https://"),
        ("https://[::1/token", False, "is not a valid URL"),
    ],
)
def test_request_token_refuses_token_url_outside_policy(
    settings: Any, url: str, allow_http: bool, expected: str
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "ALLOW_HTTP": allow_http}

    with pytest.raises(DestinationNotAllowed, match=expected):
        tokens.request_token(answer(200), five_seconds, url, {})


def test_request_token_to_private_address_is_refused_before_connecting(
    upstream: RunningUpstream, upstream_recorder: UpstreamRecorder, settings: Any
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "CA_BUNDLE": upstream.ca_bundle}

    with pytest.raises(DestinationNotAllowed, match="non-public address"):
        tokens.request_token(
            transport.client(), five_seconds, upstream.url("/token"), {}
        )
    assert upstream_recorder.requests == []


def test_request_token_logs_host_but_no_path_query_or_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="composites")
    client = answer(200, json={"access_token": "tok-secret-1"})
    url = "https://auth.example.com/p-secret/token?key=q-secret"

    tokens.request_token(client, five_seconds, url, {})

    [record] = caplog.records
    message = record.getMessage()
    assert "host=auth.example.com status=200" in message
    assert "p-secret" not in message and "q-secret" not in message
    assert "tok-secret-1" not in repr(record.__dict__)


# The cache on a controlled clock ---------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The token cache's clock; a test moves it by assigning ``clock[0]``."""
    now = [1_700_000_000.0]
    monkeypatch.setattr(tokens, "clock", lambda: now[0])
    return now


class Fetcher:
    """A ``fetch`` callable that counts calls and hands out ``t-<n>``."""

    def __init__(self, lifetime: float = 3600, delay: float = 0.0) -> None:
        self.lifetime = lifetime
        self.delay = delay
        self.error: Exception | None = None
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> tokens.Token:
        with self._lock:
            self.calls += 1
            number = self.calls
        time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return tokens.Token(f"t-{number}", self.lifetime)


KEY = tokens.cache_key("test", "key")


@pytest.mark.parametrize(
    ("lifetime", "reused_until"),
    [(3600, 3540), (61, 1), (10**9, tokens.MAX_LIFETIME - 60)],
)
def test_obtain_reuses_token_until_lifetime_minus_margin(
    clock: list[float], lifetime: float, reused_until: float
) -> None:
    fetch = Fetcher(lifetime)
    start = clock[0]

    seen = [tokens.obtain(KEY, fetch, five_seconds)]
    clock[0] = start + reused_until - 0.5
    seen.append(tokens.obtain(KEY, fetch, five_seconds))
    clock[0] = start + reused_until + 0.5
    seen.append(tokens.obtain(KEY, fetch, five_seconds))

    assert seen == ["t-1", "t-1", "t-2"]


@pytest.mark.parametrize("lifetime", [60, 30, 0, -30])
def test_obtain_does_not_cache_token_with_nothing_left_after_margin(
    clock: list[float], lifetime: float
) -> None:
    fetch = Fetcher(lifetime)

    seen = [tokens.obtain(KEY, fetch, five_seconds) for _ in range(2)]

    assert seen == ["t-1", "t-2"]
    assert cache.get(KEY) is None


def test_obtain_stores_token_under_hashed_key_with_cache_timeout(
    clock: list[float],
) -> None:
    tokens.obtain(KEY, Fetcher(3600), five_seconds)

    assert cache.get(KEY) == {"access_token": "t-1", "expires_at": clock[0] + 3540}
    assert caches["default"]._expire_info[  # type: ignore[attr-defined]
        cache.make_key(KEY)
    ] == pytest.approx(time.time() + 3540, abs=5)


def test_obtain_uses_configured_cache_alias(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "tokens": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tokens",
        },
    }
    settings.COMPOSITES = {**settings.COMPOSITES, "TOKEN_CACHE_ALIAS": "tokens"}

    tokens.obtain(KEY, Fetcher(), five_seconds)

    assert caches["tokens"].get(KEY)["access_token"] == "t-1"
    assert cache.get(KEY) is None


# Single flight within a process ----------------------------------------------


def concurrently(count: int, call: Callable[[], Any]) -> list[Any]:
    """Run ``call`` in ``count`` threads released at once; return outcomes."""
    barrier = threading.Barrier(count)

    def run() -> Any:
        barrier.wait()
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: run(), range(count)))


def test_obtain_from_fifty_threads_with_cold_cache_fetches_once() -> None:
    fetch = Fetcher(delay=0.2)

    seen = concurrently(50, lambda: tokens.obtain(KEY, fetch, five_seconds))

    assert (fetch.calls, set(seen)) == (1, {"t-1"})


def test_obtain_failure_is_shared_by_waiting_threads_as_separate_errors() -> None:
    fetch = Fetcher(delay=0.2)
    fetch.error = TokenRequestError("the token endpoint answered HTTP 500")

    seen = concurrently(20, lambda: tokens.obtain(KEY, fetch, five_seconds))

    assert fetch.calls == 1
    assert all(isinstance(error, TokenRequestError) for error in seen)
    assert {error.detail for error in seen} == {fetch.error.detail}
    assert len({id(error) for error in seen}) == 20


def test_obtain_after_failed_flight_tries_again() -> None:
    fetch = Fetcher()
    fetch.error = TokenRequestError("down")
    with pytest.raises(TokenRequestError):
        tokens.obtain(KEY, fetch, five_seconds)
    fetch.error = None

    assert tokens.obtain(KEY, fetch, five_seconds) == "t-2"


def test_obtain_unexpected_failure_reaches_waiting_threads_as_unexpected() -> None:
    fetch = Fetcher(delay=0.2)
    fetch.error = RuntimeError("bug")

    seen = concurrently(5, lambda: tokens.obtain(KEY, fetch, five_seconds))

    kinds = sorted(type(error).__name__ for error in seen)
    assert kinds == ["RuntimeError"] + ["UnexpectedError"] * 4


def test_obtain_waiting_thread_gives_up_after_its_timeout() -> None:
    fetch = Fetcher(delay=1.0)
    leader = threading.Thread(target=tokens.obtain, args=(KEY, fetch, five_seconds))
    leader.start()
    time.sleep(0.1)

    with pytest.raises(TokenRequestError, match="did not finish within 0.2 s"):
        tokens.obtain(KEY, fetch, lambda: httpx.Timeout(0.2))
    leader.join()
    assert fetch.calls == 1


def test_obtain_passes_template_error_of_fetch_through() -> None:
    fetch = Fetcher()
    fetch.error = TemplateError("bad config")

    with pytest.raises(TemplateError, match="bad config"):
        tokens.obtain(KEY, fetch, five_seconds)


# Single flight across processes, simulated on one cache ----------------------

LOCK = f"{KEY}:lock"


def later(seconds: float, action: Callable[[], Any]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def test_obtain_while_other_process_fetches_waits_for_its_token(
    clock: list[float],
) -> None:
    fetch = Fetcher()
    cache.add(LOCK, 1, timeout=30)
    entry = {"access_token": "from-other-process", "expires_at": clock[0] + 100}
    timer = later(0.3, lambda: (cache.set(KEY, entry), cache.delete(LOCK)))

    token = tokens.obtain(KEY, fetch, five_seconds)

    timer.join()
    assert (token, fetch.calls) == ("from-other-process", 0)


def test_obtain_after_other_process_failed_fetches_itself() -> None:
    fetch = Fetcher()
    cache.add(LOCK, 1, timeout=30)
    timer = later(0.2, lambda: cache.delete(LOCK))

    token = tokens.obtain(KEY, fetch, five_seconds)

    timer.join()
    assert (token, fetch.calls) == ("t-1", 1)
    assert cache.get(LOCK) is None


def test_obtain_with_stuck_lock_fetches_after_its_wait_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fetch = Fetcher()
    cache.add(LOCK, 1, timeout=30)
    started = time.monotonic()

    token = tokens.obtain(KEY, fetch, lambda: httpx.Timeout(0.3))

    assert (token, fetch.calls) == ("t-1", 1)
    assert 0.3 <= time.monotonic() - started < 2
    assert "still running; fetching" in caplog.text


def test_obtain_releases_lock_after_failed_fetch() -> None:
    fetch = Fetcher()
    fetch.error = TokenRequestError("down")

    with pytest.raises(TokenRequestError):
        tokens.obtain(KEY, fetch, five_seconds)

    assert cache.get(LOCK) is None


# End to end through the execute endpoint -------------------------------------


@pytest.fixture
def token_composite(
    composites_env: Install, secrets_file: Path, upstream: RunningUpstream
) -> Callable[[str], None]:
    """Install a composite whose one step uses the client credentials grant."""
    document = {"demo": {"secrets": {"client_secret": CLIENT_SECRET}}}
    secrets_file.write_text(json.dumps(document))

    def install(query: str) -> None:
        composites_env([token_composite_document(upstream.base_url, query)])

    return install


def token_composite_document(base_url: str, query: str) -> dict[str, Any]:
    step = {
        "name": "call",
        "url": f"{base_url}/echo",
        "authentication": {
            "type": "oauth_client_credentials",
            "config": {
                "client_id": "client-1",
                "client_secret": "{{ get_secret('client_secret') }}",
                "token_url": f"{base_url}/token?{query}",
            },
        },
    }
    return {"name": "Token", "permalink": "token", "steps": [step]}


EXECUTE = "/widget-service/connectors/composite/token/execute"


def bearer_sent(response: Any) -> str:
    assert response.status_code == 200, response.content
    authorization: str = json.loads(response.content)["headers"]["authorization"]
    return authorization.removeprefix("Bearer ")


def test_fifty_concurrent_executions_with_cold_cache_make_one_token_request(
    token_composite: Callable[[str], None], upstream_recorder: UpstreamRecorder
) -> None:
    token_composite("mode=slow&delay=0.5")
    Client().post(EXECUTE.replace("token", "missing"))  # loads the registry

    responses = concurrently(50, lambda: Client().post(EXECUTE))

    assert {bearer_sent(response) for response in responses} == {"tok-1"}
    assert upstream_recorder.token_calls == 1
    assert len(upstream_recorder.requests_to("/echo")) == 50


def test_token_is_reused_until_expires_in_minus_margin_then_refreshed(
    token_composite: Callable[[str], None],
    upstream_recorder: UpstreamRecorder,
    clock: list[float],
) -> None:
    token_composite("expires_in=600")
    start = clock[0]

    seen = []
    for offset in (0, 539, 541, 600):
        clock[0] = start + offset
        seen.append(bearer_sent(Client().post(EXECUTE)))

    assert seen == ["tok-1", "tok-1", "tok-2", "tok-2"]
    assert upstream_recorder.token_calls == 2


# Two server processes sharing a real Redis -----------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(ready: Callable[[], bool], what: str, seconds: float = 30) -> None:
    give_up = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > give_up:
            pytest.fail(f"{what} did not start within {seconds:.0f} s")
        time.sleep(0.05)


def answers(probe: Callable[[], Any]) -> bool:
    try:
        probe()
    except Exception:
        return False
    return True


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throwaway ``redis-server`` on a free loopback port."""
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    import redis

    port = free_port()
    directory = tmp_path / "redis"
    directory.mkdir()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--dir", str(directory), "--save", "", "--appendonly", "no"]
    log = (directory / "redis.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        wait_until(lambda: answers(client.ping), "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        server.terminate()
        server.wait(10)
        log.close()


@pytest.fixture
def redis_cache(redis_url: str, settings: Any) -> str:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
        }
    }
    return redis_url


@pytest.mark.redis
def test_obtain_on_redis_from_many_threads_fetches_once_and_hides_secret(
    redis_cache: str,
) -> None:
    import redis

    fetch = Fetcher(delay=0.3)
    key = tokens.cache_key("oauth_client_credentials", "demo", "c", CLIENT_SECRET)

    seen = concurrently(20, lambda: tokens.obtain(key, fetch, five_seconds))

    assert (fetch.calls, set(seen)) == (1, {"t-1"})
    stored = redis.Redis.from_url(redis_cache).keys("*")
    assert stored == [f":1:{key}".encode()]
    assert CLIENT_SECRET.encode() not in stored[0]


class Server:
    """A ``manage.py runserver`` process of the host project."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        command = [sys.executable, "manage.py", "runserver", "--noreload"]
        command.append(f"127.0.0.1:{self.port}")
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"runserver exited:\n{self.log.read_text()}")
        return answers(lambda: httpx.get(self.url("/"), timeout=1))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self._log.close()


@pytest.fixture
def two_servers(
    redis_url: str, upstream: RunningUpstream, tmp_path: Path
) -> Iterator[list[Server]]:
    """Two host processes sharing ``redis_url``, serving a token composite."""
    registry = tmp_path / "registry.json"
    document = token_composite_document(upstream.base_url, "mode=slow&delay=0.5")
    registry.write_text(json.dumps({"composite_connectors": [document]}))
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"demo": {"secrets": {"client_secret": "s3cr3t"}}}))
    environment = {
        **os.environ,
        "REDIS_URL": redis_url,
        "COMPOSITES_REGISTRY_PATH": str(registry),
        "COMPOSITES_CA_BUNDLE": upstream.ca_bundle,
        "COMPOSITES_ALLOW_PRIVATE_NETWORKS": "1",
        "WIDGETPLATFORM_SECRETS_FILE": str(secrets),
        "WIDGETPLATFORM_DATABASE": str(tmp_path / "db.sqlite3"),
        "DJANGO_DEBUG": "0",
    }
    servers = [Server(environment, tmp_path / f"server-{n}.log") for n in (1, 2)]
    try:
        for server in servers:
            wait_until(server.ready, "runserver")
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.mark.redis
def test_two_server_processes_on_redis_share_one_token(
    two_servers: list[Server], upstream_recorder: UpstreamRecorder, redis_url: str
) -> None:
    import redis

    urls = [server.url(EXECUTE) for server in two_servers] * 10

    with httpx.Client(timeout=30) as client:
        responses = concurrently(20, lambda: client.post(urls.pop()))

    tokens_sent = {bearer_sent(response) for response in responses}
    assert (tokens_sent, upstream_recorder.token_calls) == ({"tok-1"}, 1)
    assert len(upstream_recorder.requests_to("/echo")) == 20
    [stored] = redis.Redis.from_url(redis_url).keys("*")
    assert stored.startswith(b"widgetplatform:1:composites:token:")


def test_unreachable_redis_fails_run_fast_as_unexpected_error(
    token_composite: Callable[[str], None],
    upstream_recorder: UpstreamRecorder,
    settings: Any,
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    token_composite("")
    started = time.monotonic()

    response = Client().post(EXECUTE)

    assert response.status_code == 500
    assert json.loads(response.content)["errors"]["code"] == "UNEXPECTED_ERROR"
    assert CLIENT_SECRET not in response.content.decode()
    assert time.monotonic() - started < 5
    assert upstream_recorder.token_calls == 0
