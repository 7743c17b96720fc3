"""Cross-cutting security sweeps through the execute endpoint, end to end.

- Hostile upstreams: every way an upstream can misbehave (cut-off bodies,
  silence, drip-fed bodies and headers, bad certificates, oversized or
  endless answers, compression bombs) ends in the documented envelope
  within the configured time, and the next request is served.
- Secret hygiene: a planted secret in every field that may hold one never
  shows in a response body, a response header or a log record, on any
  error path or on success.
- Isolation: concurrent runs for different users each see only their own
  data, and cookies set by upstreams never reach another request.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import trustme
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from composites import runner
from composites.callers import Caller, CallerUser
from composites.timing import RunTimings
from composites.validation import validate_document
from tests.conftest import PLANTED_SECRET
from tests.upstream import create_app
from tests.upstream_fixtures import RunningUpstream
from widgetplatform.demo_upstream import Certificates, TLSServer, make_certificates

pytestmark = pytest.mark.django_db

Install = Callable[[list[dict[str, Any]]], None]


def execute(client: Client, permalink: str) -> Any:
    return client.post(f"/widget-service/connectors/composite/{permalink}/execute")


def composite(permalink: str, *steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": permalink, "permalink": permalink, "steps": list(steps)}


def errors_of(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.content)
    assert body["success"] is False
    assert body["request_id"] == response["X-Request-ID"]
    return body["errors"]


def timed(client: Client, permalink: str) -> tuple[Any, float]:
    started = time.monotonic()
    response = execute(client, permalink)
    return response, time.monotonic() - started


def assert_network_error(response: Any, fragment: str, step: str = "hostile") -> None:
    errors = errors_of(response)
    assert response.status_code == 502, errors
    assert errors["code"] == "STEP_NETWORK_ERROR"
    assert errors["scope"] == (
        f"Composite step '{step}' (index 0): Downstream (network/external service)"
    )
    assert fragment in errors["detail"]
    assert "Traceback" not in response.content.decode()


@pytest.fixture
def serving(
    composites_env: Install, upstream: RunningUpstream, settings: Any
) -> Callable[..., None]:
    """Install a hostile composite and a healthy one; override settings."""

    def install(url: str, **overrides: Any) -> None:
        composites_env(
            [
                composite("hostile", {"name": "hostile", "url": url}),
                composite("healthy", {"name": "healthy", "url": upstream.url("/echo")}),
            ]
        )
        settings.COMPOSITES = {**settings.COMPOSITES, **overrides}

    return install


# Hostile upstreams -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "overrides", "seconds", "fragment"),
    [
        ("/cut-off", {}, 5, "broke the connection"),
        ("/delay/10", {"STEP_TIMEOUT": 0.5}, 3, "did not answer in time"),
        (
            "/drip?chunks=100&interval=0.1",
            {"STEP_TIMEOUT": 5, "RUN_DEADLINE": 1},
            3,
            "in time",
        ),
        (
            "/drip?chunks=3&interval=3",
            {"STEP_TIMEOUT": 5, "RUN_DEADLINE": 1},
            2.5,
            "in time",
        ),
        (
            "/slow-headers?lines=100&interval=0.1",
            {"STEP_TIMEOUT": 5, "RUN_DEADLINE": 1},
            3,
            "in time",
        ),
        (
            "/slow-headers?lines=100&interval=0.1",
            {"STEP_TIMEOUT": 1, "RUN_DEADLINE": 30},
            3,
            "in time",
        ),
        ("/endless", {"MAX_RESPONSE_BYTES": 65536}, 5, "over 65536 bytes"),
        ("/large/100000000?declare=1", {"MAX_RESPONSE_BYTES": 4096}, 5, "over 4096"),
        ("/headers/1?size=200000", {}, 5, "broke the connection"),
        ("/headers/5000?size=8", {}, 5, "broke the connection"),
        (
            "/gzip-bomb?size=20000000",
            {"MAX_RESPONSE_BYTES": 1048576},
            5,
            "over 1048576 bytes",
        ),
        ("/gzip-bomb?size=20000000&layers=2", {}, 5, "content-coded more than once"),
        ("/coded/br", {}, 5, "content coding 'br' is not supported"),
        ("/coded/gzip", {}, 5, "could not be decoded"),
    ],
    ids=[
        "cut-off",
        "never-answers",
        "drip-past-run-deadline",
        "slow-drip-cut-at-run-deadline",
        "slow-headers-past-run-deadline",
        "slow-headers-past-step-timeout",
        "endless",
        "declared-oversize",
        "oversized-header",
        "many-headers",
        "gzip-bomb",
        "double-gzip-bomb",
        "unsupported-coding",
        "corrupt-gzip",
    ],
)
def test_execute_hostile_upstream_gives_envelope_in_time_and_keeps_serving(
    client: Client,
    serving: Callable[..., None],
    upstream: RunningUpstream,
    path: str,
    overrides: dict[str, Any],
    seconds: float,
    fragment: str,
) -> None:
    serving(upstream.url(path), **overrides)

    response, elapsed = timed(client, "hostile")

    assert_network_error(response, fragment)
    assert elapsed < seconds
    assert execute(client, "healthy").status_code == 200


# Certificates ----------------------------------------------------------------


def _certificates(
    directory: Path, *identities: str, not_after: dt.datetime | None = None
) -> Certificates:
    directory.mkdir(parents=True)
    authority = trustme.CA()
    leaf = authority.issue_cert(*identities, not_after=not_after)
    certificates = Certificates(
        ca_bundle=directory / "ca.pem",
        cert_file=directory / "server.pem",
        key_file=directory / "server-key.pem",
    )
    authority.cert_pem.write_to_path(str(certificates.ca_bundle))
    leaf.private_key_pem.write_to_path(str(certificates.key_file))
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    certificates.cert_file.write_bytes(chain)
    return certificates


@pytest.fixture(scope="session")
def odd_servers(
    tmp_path_factory: pytest.TempPathFactory, upstream: RunningUpstream
) -> Iterator[dict[str, TLSServer]]:
    """Upstreams whose certificates the step must refuse."""
    base = tmp_path_factory.mktemp("odd-certificates")
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    certificates = {
        "untrusted-authority": make_certificates(base / "foreign"),
        "other-host-name": _certificates(base / "misnamed", "other.example.test"),
        "expired": _certificates(base / "expired", "127.0.0.1", not_after=yesterday),
    }
    servers = {
        name: TLSServer(create_app(upstream.recorder), certs)
        for name, certs in certificates.items()
    }
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("untrusted-authority", "upstream"),
        ("other-host-name", "own"),
        ("expired", "own"),
    ],
)
def test_execute_upstream_with_bad_certificate_fails_tls_and_keeps_serving(
    client: Client,
    serving: Callable[..., None],
    upstream: RunningUpstream,
    odd_servers: dict[str, TLSServer],
    tmp_path: Path,
    name: str,
    trusted: str,
) -> None:
    server = odd_servers[name]
    bundle = tmp_path / "bundle.pem"
    own = server.certificates.ca_bundle.read_bytes() if trusted == "own" else b""
    bundle.write_bytes(Path(upstream.ca_bundle).read_bytes() + own)
    serving(f"{server.base_url}/echo", CA_BUNDLE=str(bundle))

    response, elapsed = timed(client, "hostile")

    assert_network_error(response, "TLS failed")
    assert elapsed < 5
    assert execute(client, "healthy").status_code == 200


# Secret hygiene --------------------------------------------------------------

SECRET = "{{ get_secret('api_token') }}"
AUTH_VARIANTS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "api-key-header": {
        "type": "api_key",
        "config": {"key": "X-Api-Key", "value": SECRET, "in": "header"},
    },
    "api-key-query": {
        "type": "apikey",
        "config": {"key": "api_key", "value": SECRET, "in": "query"},
    },
    "basic": {"type": "basic", "config": {"username": "ada", "password": SECRET}},
    "bearer": {"type": "bearer", "config": {"token": SECRET}},
    "client-credentials": {
        "type": "oauth_client_credentials",
        "config": {
            "client_id": "client",
            "client_secret": SECRET,
            "token_url": "{base}/token",
        },
    },
    "jwt": {
        "type": "jwt",
        "config": {
            "private_key": SECRET,
            "algorithm": "HS256",
            "claims": {"sub": "ada", "exp": "{{ now(60) }}"},
        },
    },
    "jwt-bearer": {
        "type": "oauth_jwt_bearer",
        "config": {
            "client_id": "client",
            "private_key": SECRET,
            "algorithm": "HS256",
            "token_url": "{base}/token",
        },
    },
}
TOKEN_REFUSED = {
    "type": "oauth_client_credentials",
    "config": {
        "client_id": "client",
        "client_secret": SECRET,
        "token_url": "{base}/token?mode=401",
    },
}
# Each path: what to change in the step, settings, expected status and code.
ERROR_PATHS: dict[str, tuple[dict[str, Any], dict[str, Any], int, str]] = {
    "success": ({"url": "{base}/empty"}, {}, 200, ""),
    "http-error": ({"url": "{base}/status/500"}, {}, 502, "STEP_HTTP_ERROR"),
    "cut-off": ({"url": "{base}/cut-off"}, {}, 502, "STEP_NETWORK_ERROR"),
    "timeout": (
        {"url": "{base}/delay/5"},
        {"STEP_TIMEOUT": 0.3},
        502,
        "STEP_NETWORK_ERROR",
    ),
    "oversize": (
        {"url": "{base}/large/100000"},
        {"MAX_RESPONSE_BYTES": 1000},
        502,
        "STEP_NETWORK_ERROR",
    ),
    "template-error": (
        {
            "url": "{base}/echo",
            "request_body": "{{ request.query_parameters.missing.deeper }}",
        },
        {},
        422,
        "TEMPLATE_ERROR",
    ),
    "template-error-quoting-secret": (
        {
            "url": "{base}/echo",
            "extra_query": [
                {"key": "at", "value": "{{ now(get_secret('api_token')) }}"}
            ],
        },
        {},
        422,
        "TEMPLATE_ERROR",
    ),
    "header-injection": (
        {
            "url": "{base}/echo",
            "extra_headers": [
                {"key": "X-Bad", "value": SECRET + "{{ '\\n' }}Injected: 1"}
            ],
        },
        {},
        422,
        "TEMPLATE_ERROR",
    ),
    "jwt-error": (
        {
            "url": "{base}/echo",
            "extra_headers": [
                {
                    "key": "X-Jwt",
                    "value": "{{ jwt_encode({'a': 1}, get_secret('api_token'), "
                    "'RS256') }}",
                }
            ],
        },
        {},
        422,
        "JWT_SIGNING_ERROR",
    ),
    "token-error": (
        {"url": "{base}/echo", "authentication": TOKEN_REFUSED},
        {},
        502,
        "TOKEN_REQUEST_ERROR",
    ),
    "destination": (
        {"url": "https://localhost:{port}/echo"},
        {},
        422,
        "DESTINATION_NOT_ALLOWED",
    ),
    "unexpected": (
        {"url": "{base}/echo", "explode": True},
        {},
        500,
        "UNEXPECTED_ERROR",
    ),
    "no-steps": ({"no_steps": True}, {}, 500, "NO_STEPS"),
}


def _secret_step(
    path: dict[str, Any], auth: dict[str, Any] | None, upstream: RunningUpstream
) -> dict[str, Any]:
    step: dict[str, Any] = {
        "name": "secretive",
        "url": path["url"],
        "headers": [
            {"key": "X-Secret", "value": SECRET},
            *path.get("extra_headers", []),
        ],
        "query_parameters": [
            {"key": "token", "value": SECRET},
            *path.get("extra_query", []),
        ],
    }
    if "request_body" in path:
        step["request_body"] = path["request_body"]
    authentication = path.get("authentication", auth)
    if authentication is not None:
        step["authentication"] = authentication
    text = json.dumps(step)
    text = text.replace("{base}", upstream.base_url)
    text = text.replace("{port}", str(upstream.server.port))
    result: dict[str, Any] = json.loads(text)
    return result


def _forms_of(secret: str) -> list[str]:
    basic = base64.b64encode(f"ada:{secret}".encode()).decode()
    return [secret, urllib.parse.quote(secret), basic]


@pytest.mark.parametrize("auth", list(AUTH_VARIANTS))
@pytest.mark.parametrize("path", list(ERROR_PATHS))
def test_execute_planted_secret_never_leaves_in_body_headers_or_logs(
    client: Client,
    composites_env: Install,
    upstream: RunningUpstream,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    path: str,
    auth: str,
) -> None:
    change, overrides, status, code = ERROR_PATHS[path]
    steps = (
        []
        if change.get("no_steps")
        else [_secret_step(change, AUTH_VARIANTS[auth], upstream)]
    )
    composites_env([composite("secretive", *steps)])
    settings.COMPOSITES = {
        **settings.COMPOSITES,
        "ALLOW_PRIVATE_NETWORKS": False,
        "ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"],
        **overrides,
    }
    caplog.set_level(logging.DEBUG)

    if change.get("explode"):
        with mock.patch.object(runner, "_transform", side_effect=RuntimeError("boom")):
            response = execute(client, "secretive")
    else:
        response = execute(client, "secretive")

    assert response.status_code == status, response.content
    if code:
        assert errors_of(response)["code"] == code
    seen = [response.content.decode(errors="replace")]
    seen += [f"{key}: {value}" for key, value in response.items()]
    seen += [record.getMessage() for record in caplog.records]
    seen += [str(record.__dict__) for record in caplog.records]
    for form in _forms_of(PLANTED_SECRET):
        assert not [text for text in seen if form in text], form


# Isolation -------------------------------------------------------------------

CONCURRENT_USERS = 200
WORKERS = 32


def _whoami_steps(upstream: RunningUpstream) -> list[dict[str, Any]]:
    again = "{{ (steps.first.body | from_json).user }}-again"
    return [
        {
            "name": "first",
            "url": upstream.url("/whoami"),
            "headers": [{"key": "X-User", "value": "{{ user.username }}"}],
        },
        {
            "name": "second",
            "url": upstream.url("/whoami"),
            "headers": [{"key": "X-User", "value": again}],
        },
    ]


def test_run_concurrent_users_each_get_only_their_own_data(
    upstream: RunningUpstream, upstream_recorder: Any, settings: Any
) -> None:
    settings.COMPOSITES = {
        **settings.COMPOSITES,
        "CA_BUNDLE": upstream.ca_bundle,
        "ALLOW_PRIVATE_NETWORKS": True,
    }
    document = {"composite_connectors": [composite("who", *_whoami_steps(upstream))]}
    report = validate_document(document)
    assert report.registry is not None
    who = report.registry.composites[0]

    def run_for(number: int) -> tuple[int, dict[str, Any]]:
        user = CallerUser(id=number, username=f"user-{number}")
        caller = Caller(user=user, tenant_id=f"tenant-{number % 7}")
        result = runner.run(who, runner.WidgetRequest(), caller, RunTimings())
        return number, json.loads(result.body)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        answers = list(pool.map(run_for, range(CONCURRENT_USERS)))

    for number, answer in answers:
        assert answer == {"user": f"user-{number}-again", "cookies": {}}
    received = upstream_recorder.requests_to("/whoami")
    assert len(received) == 2 * CONCURRENT_USERS
    assert all(request.cookies == {} for request in received)
    seen = sorted(request.headers["x-user"] for request in received)
    expected = [f"user-{n}" for n in range(CONCURRENT_USERS)]
    assert seen == sorted(expected + [f"{name}-again" for name in expected])


@pytest.mark.django_db(transaction=True)
def test_execute_concurrent_signed_in_users_each_get_only_their_own_data(
    composites_env: Install, upstream: RunningUpstream, upstream_recorder: Any
) -> None:
    composites_env([composite("who", *_whoami_steps(upstream))])
    clients = []
    for number in range(CONCURRENT_USERS):
        user = User.objects.create(username=f"member-{number}")
        signed_in = Client()
        signed_in.force_login(user)
        clients.append(signed_in)

    def execute_as(number: int) -> tuple[int, Any]:
        try:
            return number, execute(clients[number], "who")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        responses = list(pool.map(execute_as, range(CONCURRENT_USERS)))

    for number, response in responses:
        assert response.status_code == 200, response.content
        assert json.loads(response.content) == {
            "user": f"member-{number}-again",
            "cookies": {},
        }
        assert "Set-Cookie" not in response or "whoami" not in response["Set-Cookie"]
    received = upstream_recorder.requests_to("/whoami")
    assert len(received) == 2 * CONCURRENT_USERS
    assert all(request.cookies == {} for request in received)
