"""Tests proving the test upstream behaves as the end-to-end tests assume."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.upstream import LATIN1_TEXT, UpstreamRecorder
from tests.upstream_fixtures import RunningUpstream


@pytest.fixture
def upstream_client(upstream: RunningUpstream) -> Iterator[httpx.Client]:
    verify = upstream.ssl_context()
    with httpx.Client(base_url=upstream.base_url, verify=verify, timeout=10) as client:
        yield client


def test_echo_describes_the_request(upstream_client: httpx.Client) -> None:
    response = upstream_client.put(
        "/echo?a=1&a=2&b=x",
        content=b"hello",
        headers={"X-Custom": "yes", "Cookie": "flavour=oat"},
    )

    echoed = response.json()
    assert echoed["method"] == "PUT"
    assert echoed["path"] == "/echo"
    assert echoed["query"] == {"a": ["1", "2"], "b": ["x"]}
    assert echoed["headers"]["x-custom"] == "yes"
    assert echoed["body_text"] == "hello"
    assert echoed["cookies"] == {"flavour": "oat"}


def test_echo_of_binary_body_has_no_text_but_base64(
    upstream_client: httpx.Client,
) -> None:
    echoed = upstream_client.post("/echo", content=b"\xff\xfe").json()

    assert echoed["body_text"] is None
    assert base64.b64decode(echoed["body_base64"]) == b"\xff\xfe"


def test_recorder_records_requests_and_resets(
    upstream_client: httpx.Client, upstream_recorder: UpstreamRecorder
) -> None:
    upstream_client.post("/echo?q=1", content=b"payload", headers={"X-Seen": "1"})

    assert upstream_recorder.last.body == b"payload"
    assert upstream_recorder.last.headers["x-seen"] == "1"
    assert upstream_recorder.last.query == {"q": ["1"]}
    upstream_recorder.reset()
    assert upstream_recorder.requests == []


def test_status_answers_with_that_code_and_private_body(
    upstream_client: httpx.Client,
) -> None:
    response = upstream_client.get("/status/503")

    assert response.status_code == 503
    assert response.json()["secret_upstream_detail"] == "upstream-private-body"


def test_redirect_is_302_to_echo(upstream_client: httpx.Client) -> None:
    response = upstream_client.get("/redirect")

    assert response.status_code == 302
    assert response.headers["location"] == "/echo"


def test_set_cookies_sends_that_many_headers(upstream_client: httpx.Client) -> None:
    response = upstream_client.get("/set-cookies/3")

    assert len(response.headers.get_list("set-cookie")) == 3


def test_bytes_are_deterministic_and_not_utf8(upstream_client: httpx.Client) -> None:
    response = upstream_client.get("/bytes/300")

    assert len(response.content) == 300
    assert response.content == upstream_client.get("/bytes/300").content
    assert response.headers["content-type"] == "application/octet-stream"
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")


def test_empty_has_no_body_and_no_content_type(upstream_client: httpx.Client) -> None:
    response = upstream_client.get("/empty")

    assert response.status_code == 200
    assert response.content == b""
    assert "content-type" not in response.headers


def test_latin1_is_declared_and_decodes(upstream_client: httpx.Client) -> None:
    response = upstream_client.get("/latin1")

    assert response.content == LATIN1_TEXT.encode("latin-1")
    assert response.text == LATIN1_TEXT


def test_misdeclared_sends_latin1_bytes_labelled_utf8(
    upstream_client: httpx.Client,
) -> None:
    response = upstream_client.get("/misdeclared")

    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == LATIN1_TEXT.encode("latin-1")


def test_gzip_is_content_encoded_json(upstream_client: httpx.Client) -> None:
    response = upstream_client.get("/gzip")

    assert response.headers["content-encoding"] == "gzip"
    assert response.json() == {"compressed": True, "message": "hello from gzip"}


def test_delay_answers_after_the_pause(upstream_client: httpx.Client) -> None:
    started = time.monotonic()
    response = upstream_client.get("/delay/0.3")

    assert response.json() == {"delayed": 0.3}
    assert time.monotonic() - started >= 0.3


def test_drip_streams_one_byte_chunks_chunked(upstream_client: httpx.Client) -> None:
    with upstream_client.stream("GET", "/drip?chunks=3&interval=0.05") as response:
        chunks = list(response.iter_raw())

    assert response.headers["transfer-encoding"] == "chunked"
    assert b"".join(chunks) == b"..."


def test_cut_off_ends_the_body_early(upstream_client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        upstream_client.get("/cut-off")


def test_large_streams_the_number_of_bytes(upstream_client: httpx.Client) -> None:
    response = upstream_client.get("/large/200000")

    assert response.content == b"a" * 200_000
    assert "content-length" not in response.headers


def test_large_with_declare_sends_content_length(upstream_client: httpx.Client) -> None:
    response = upstream_client.get("/large/1000?declare=1")

    assert response.headers["content-length"] == "1000"


def test_endless_can_be_abandoned_midway(upstream_client: httpx.Client) -> None:
    with upstream_client.stream("GET", "/endless") as response:
        received = 0
        for chunk in response.iter_raw():
            received += len(chunk)
            if received > 1_000_000:
                break

    assert received > 1_000_000
    assert upstream_client.get("/echo").status_code == 200


def test_whoami_echoes_user_and_cookies(upstream_client: httpx.Client) -> None:
    response = upstream_client.get(
        "/whoami", headers={"X-User": "alice", "Cookie": "k=v"}
    )

    assert response.json() == {"user": "alice", "cookies": {"k": "v"}}
    assert response.cookies["whoami"] == "alice"


def test_token_counts_calls(
    upstream_client: httpx.Client, upstream_recorder: UpstreamRecorder
) -> None:
    first = upstream_client.post(
        "/token", data={"grant_type": "client_credentials"}
    ).json()
    second = upstream_client.post("/token?expires_in=120").json()

    assert first == {
        "access_token": "tok-1",
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    assert second["access_token"] == "tok-2"
    assert second["expires_in"] == 120
    assert upstream_recorder.token_calls == 2


@pytest.mark.parametrize(
    ("mode", "status", "check"),
    [
        ("no-token", 200, lambda body: "access_token" not in body),
        ("expires-missing", 200, lambda body: "expires_in" not in body),
        ("expires-string", 200, lambda body: body["expires_in"] == "3600"),
        ("expires-zero", 200, lambda body: body["expires_in"] == 0),
        ("expires-negative", 200, lambda body: body["expires_in"] < 0),
        ("401", 401, lambda body: "access_token" not in body),
        ("500", 500, lambda body: "access_token" not in body),
        ("slow", 200, lambda body: body["access_token"] == "tok-1"),
    ],
)
def test_token_mode_shapes_the_answer(
    upstream_client: httpx.Client,
    upstream_recorder: UpstreamRecorder,
    mode: str,
    status: int,
    check: object,
) -> None:
    response = upstream_client.post(f"/token?mode={mode}&delay=0.1")

    assert response.status_code == status
    assert callable(check) and check(response.json())


def test_token_mode_not_json_answers_plain_text(upstream_client: httpx.Client) -> None:
    response = upstream_client.post("/token?mode=not-json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
