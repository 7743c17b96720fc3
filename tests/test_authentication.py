"""Authentication strategies: each one unit-tested on a mock transport, then
end to end through the execute endpoint against the HTTPS test upstream, and
every bad input answered with the documented envelope and nothing secret."""

from __future__ import annotations

import base64
import io
import json
import logging
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.management import CommandError, call_command
from django.test import Client

from composites import authentication, tokens
from composites.authentication import AuthContext, authenticate
from composites.exceptions import (
    DestinationNotAllowed,
    JWTSigningError,
    TemplateError,
)
from composites.validation import validate_document
from tests.keys import pem, public_pem
from tests.upstream import UpstreamRecorder
from tests.upstream_fixtures import RunningUpstream

Handler = Callable[[httpx.Request], httpx.Response]
Install = Callable[[list[dict[str, Any]]], None]

CLIENT_SECRET = "client-secret-9b41e7"
API_KEY = "api-key-value-5d0c3f"
PASSWORD = "password-value-77ac02"
STATIC_TOKEN = "static-bearer-token-2e8d19"
HMAC_SECRET = "hmac-secret-for-jwt-tests-6f0a8c0123456789"
TOKEN_URL = "https://auth.example.com/oauth/token"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# Unit tests on a mock transport ---------------------------------------------


class Recorded:
    """A mock token endpoint and what it received."""

    def __init__(self, answer: Callable[[int], httpx.Response] | None = None):
        self.requests: list[httpx.Request] = []
        self.answer = answer or (
            lambda n: httpx.Response(
                200, json={"access_token": f"mock-{n}", "expires_in": 3600}
            )
        )
        self.remembered: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(len(self.requests))

    def context(self, tenant: str = "tenant-a") -> AuthContext:
        client = httpx.Client(transport=httpx.MockTransport(self.handler))
        return AuthContext(
            tenant, client, lambda: httpx.Timeout(5.0), self.remembered.append
        )

    def form(self, index: int = -1) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.requests[index].content.decode()))


@pytest.fixture
def mock() -> Recorded:
    return Recorded()


def header(credentials: authentication.Credentials) -> dict[str, str]:
    return dict(credentials.headers)


def test_none_adds_nothing(mock: Recorded) -> None:
    credentials = authenticate("none", {}, mock.context())

    assert credentials == authentication.Credentials()


@pytest.mark.parametrize("kind", ["api_key", "apikey"])
@pytest.mark.parametrize(
    ("where", "expected_headers", "expected_query"),
    [
        (None, [("X-Api-Key", API_KEY)], []),
        ("header", [("X-Api-Key", API_KEY)], []),
        ("query", [], [("X-Api-Key", API_KEY)]),
    ],
)
def test_api_key_sets_header_or_query_and_remembers_value(
    mock: Recorded,
    kind: str,
    where: str | None,
    expected_headers: list[tuple[str, str]],
    expected_query: list[tuple[str, str]],
) -> None:
    config = {"key": "X-Api-Key", "value": API_KEY}
    if where:
        config["in"] = where

    credentials = authenticate(kind, config, mock.context())

    assert credentials.headers == expected_headers
    assert credentials.query == expected_query
    assert API_KEY in mock.remembered


def test_basic_encodes_username_and_password(mock: Recorded) -> None:
    config = {"username": "ada", "password": PASSWORD}

    credentials = authenticate("basic", config, mock.context())

    expected = base64.b64encode(f"ada:{PASSWORD}".encode()).decode()
    assert header(credentials) == {"Authorization": f"Basic {expected}"}
    assert {PASSWORD, expected} <= set(mock.remembered)


def test_bearer_sends_token(mock: Recorded) -> None:
    credentials = authenticate("bearer", {"token": STATIC_TOKEN}, mock.context())

    assert header(credentials) == {"Authorization": f"Bearer {STATIC_TOKEN}"}
    assert STATIC_TOKEN in mock.remembered


def client_credentials(**overrides: str) -> dict[str, str]:
    config = {
        "client_id": "client-1",
        "client_secret": CLIENT_SECRET,
        "token_url": TOKEN_URL,
    }
    return {**config, **overrides}


@pytest.mark.parametrize(
    ("scope", "expected_scope"),
    [("", None), ("read write", "read write"), ("  ", None)],
)
def test_oauth_client_credentials_posts_form_and_sends_bearer(
    mock: Recorded, scope: str, expected_scope: str | None
) -> None:
    credentials = authenticate(
        "oauth_client_credentials", client_credentials(scope=scope), mock.context()
    )

    assert header(credentials) == {"Authorization": "Bearer mock-1"}
    request = mock.requests[0]
    assert (request.method, str(request.url)) == ("POST", TOKEN_URL)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    expected = {
        "grant_type": "client_credentials",
        "client_id": "client-1",
        "client_secret": CLIENT_SECRET,
    }
    if expected_scope:
        expected["scope"] = expected_scope
    assert mock.form() == expected
    assert {CLIENT_SECRET, "mock-1"} <= set(mock.remembered)


def test_oauth_client_credentials_second_call_uses_cached_token(
    mock: Recorded,
) -> None:
    for _ in range(3):
        authenticate("oauth_client_credentials", client_credentials(), mock.context())

    assert len(mock.requests) == 1


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("tenant", "tenant-b"),
        ("client_id", "client-2"),
        ("client_secret", "another-secret"),
        ("token_url", TOKEN_URL + "?audience=x"),
        ("scope", "admin"),
    ],
)
def test_oauth_client_credentials_other_identity_gets_own_token(
    mock: Recorded, change: str, value: str
) -> None:
    authenticate("oauth_client_credentials", client_credentials(), mock.context())

    if change == "tenant":
        config, context = client_credentials(), mock.context(tenant=value)
    else:
        config, context = client_credentials(**{change: value}), mock.context()
    credentials = authenticate("oauth_client_credentials", config, context)

    assert header(credentials) == {"Authorization": "Bearer mock-2"}


def test_jwt_signs_fresh_token_each_call_with_integer_time_claims(
    mock: Recorded, rsa_key: rsa.RSAPrivateKey
) -> None:
    config = {
        "private_key": pem(rsa_key),
        "claims": {"iss": "platform", "iat": "1700000000", "exp": " 1700000300 "},
        "jwt_headers": {"kid": "key-7"},
    }

    first = authenticate("jwt", config, mock.context())
    config["claims"] = {**config["claims"], "iat": "1700000001"}
    second = authenticate("jwt", config, mock.context())

    token = header(first)["Authorization"].removeprefix("Bearer ")
    assert header(second)["Authorization"] != header(first)["Authorization"]
    claims = jwt.decode(
        token, rsa_key.public_key(), ["RS256"], options={"verify_exp": False}
    )
    assert claims == {"iss": "platform", "iat": 1700000000, "exp": 1700000300}
    assert jwt.get_unverified_header(token)["kid"] == "key-7"
    assert {pem(rsa_key), token} <= set(mock.remembered)
    assert mock.requests == []


def test_jwt_with_hmac_algorithm_and_nested_claims_signs(mock: Recorded) -> None:
    config = {
        "private_key": HMAC_SECRET,
        "algorithm": "HS512",
        "claims": {"ctx": {"tenant": "t1"}, "nbf": "1700000000.0"},
    }

    credentials = authenticate("jwt", config, mock.context())

    token = header(credentials)["Authorization"].removeprefix("Bearer ")
    decoded = jwt.decode(token, HMAC_SECRET, ["HS512"], options={"verify_nbf": False})
    assert decoded == {"ctx": {"tenant": "t1"}, "nbf": 1700000000}


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1_700_000_000.0]
    monkeypatch.setattr(tokens, "clock", lambda: now[0])
    return now


def jwt_bearer(key: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "client_id": "svc@example.com",
        "private_key": pem(key),
        "token_url": TOKEN_URL,
        **overrides,
    }


def assertion_of(mock: Recorded, key: Any, audience: str) -> dict[str, Any]:
    form = mock.form()
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert set(form) == {"grant_type", "assertion"}
    claims: dict[str, Any] = jwt.decode(
        form["assertion"],
        key.public_key(),
        ["RS256", "ES256"],
        audience=audience,
        options={"verify_exp": False, "verify_iat": False},
    )
    return claims


def test_oauth_jwt_bearer_defaults_subject_and_audience(
    mock: Recorded, rsa_key: rsa.RSAPrivateKey, frozen_clock: list[float]
) -> None:
    credentials = authenticate("oauth_jwt_bearer", jwt_bearer(rsa_key), mock.context())

    assert header(credentials) == {"Authorization": "Bearer mock-1"}
    claims = assertion_of(mock, rsa_key, TOKEN_URL)
    jti = claims.pop("jti")
    assert len(jti) == 32
    assert claims == {
        "iss": "svc@example.com",
        "sub": "svc@example.com",
        "aud": TOKEN_URL,
        "iat": 1_700_000_000,
        "exp": 1_700_000_180,
    }
    assert pem(rsa_key) in mock.remembered


def test_oauth_jwt_bearer_uses_configured_claims_headers_and_algorithm(
    mock: Recorded, frozen_clock: list[float]
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    config = jwt_bearer(
        key,
        subject="ada@example.com",
        audience="https://auth.example.com",
        algorithm="ES256",
        additional_claims={"scope": "read", "nbf": "1700000000"},
        jwt_headers={"kid": "k1"},
    )

    authenticate("oauth_jwt_bearer", config, mock.context())

    claims = assertion_of(mock, key, "https://auth.example.com")
    assert claims["sub"] == "ada@example.com"
    assert (claims["scope"], claims["nbf"]) == ("read", 1_700_000_000)
    assertion = mock.form()["assertion"]
    assert jwt.get_unverified_header(assertion) == {
        "alg": "ES256",
        "kid": "k1",
        "typ": "JWT",
    }


@pytest.mark.parametrize(
    ("token_ttl", "expires_in", "reused_until"),
    [
        (None, 3600, 3540),  # token_ttl 3600 minus the margin
        ("600", 3600, 540),  # token_ttl shorter than expires_in
        ("3600", 300, 240),  # expires_in shorter than token_ttl
        ("600", None, 540),  # no expires_in: token_ttl alone
    ],
)
def test_oauth_jwt_bearer_caches_for_shorter_of_ttl_and_expires_in(
    rsa_key: rsa.RSAPrivateKey,
    frozen_clock: list[float],
    token_ttl: str | None,
    expires_in: int | None,
    reused_until: int,
) -> None:
    body: dict[str, Any] = {"access_token": "t"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    mock = Recorded(lambda n: httpx.Response(200, json=body))
    config = jwt_bearer(rsa_key)
    if token_ttl:
        config["token_ttl"] = token_ttl
    start = frozen_clock[0]

    authenticate("oauth_jwt_bearer", config, mock.context())
    frozen_clock[0] = start + reused_until - 1
    authenticate("oauth_jwt_bearer", config, mock.context())
    calls_before_expiry = len(mock.requests)
    frozen_clock[0] = start + reused_until + 1
    authenticate("oauth_jwt_bearer", config, mock.context())

    assert (calls_before_expiry, len(mock.requests)) == (1, 2)


def test_oauth_jwt_bearer_changed_time_claims_keep_cached_token(
    mock: Recorded, rsa_key: rsa.RSAPrivateKey
) -> None:
    for second in range(3):
        extra = {"nbf": str(1_700_000_000 + second), "jti": f"id-{second}"}
        config = jwt_bearer(rsa_key, additional_claims=extra)
        authenticate("oauth_jwt_bearer", config, mock.context())

    assert len(mock.requests) == 1


def test_oauth_jwt_bearer_other_subject_gets_own_token(
    mock: Recorded, rsa_key: rsa.RSAPrivateKey
) -> None:
    for subject in ("ada", "grace", "ada"):
        config = jwt_bearer(rsa_key, subject=subject)
        authenticate("oauth_jwt_bearer", config, mock.context())

    assert len(mock.requests) == 2


# Bad configs at run time ----------------------------------------------------

CONFIG_ERRORS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("api_key", {"value": API_KEY}, TemplateError, "'key' is required"),
    ("api_key", {"key": "k", "value": {"a": "b"}}, TemplateError, "must be a string"),
    (
        "api_key",
        {"key": "k", "value": API_KEY, "in": "body"},
        TemplateError,
        "api_key 'in' must render 'header' or 'query'",
    ),
    ("basic", {"username": "ada"}, TemplateError, "'password' is required"),
    ("bearer", {}, TemplateError, "'token' is required"),
    (
        "oauth_client_credentials",
        client_credentials(client_secret=""),
        TemplateError,
        "'client_secret' rendered empty",
    ),
    (
        "oauth_client_credentials",
        client_credentials(token_url="http://auth.example.com/token"),
        DestinationNotAllowed,
        "token_url must be an absolute https:// URL",
    ),
    (
        "oauth_client_credentials",
        client_credentials(token_url="/oauth/token"),
        DestinationNotAllowed,
        "token_url must be an absolute https:// URL",
    ),
    ("jwt", {"claims": {}}, TemplateError, "'private_key' is required"),
    (
        "jwt",
        {"private_key": HMAC_SECRET, "algorithm": "HS256", "claims": "sub=1"},
        TemplateError,
        "'claims' must be an object",
    ),
    (
        "jwt",
        {"private_key": HMAC_SECRET, "algorithm": "HS256", "claims": {"exp": ""}},
        JWTSigningError,
        "claim 'exp' must be a number of seconds since the epoch; it rendered an "
        "empty value",
    ),
    (
        "jwt",
        {"private_key": HMAC_SECRET, "algorithm": "HS256", "claims": {"iat": "now"}},
        JWTSigningError,
        "rendered text that is not a number",
    ),
    ("jwt", {"private_key": HMAC_SECRET}, JWTSigningError, "RS256 needs a PEM"),
    (
        "jwt",
        {"private_key": HMAC_SECRET, "algorithm": "none"},
        JWTSigningError,
        "the algorithm is not one of",
    ),
    (
        "oauth_jwt_bearer",
        {"client_id": "c", "private_key": HMAC_SECRET, "token_url": TOKEN_URL}
        | {"token_ttl": "an hour"},
        TemplateError,
        "'token_ttl' must be a positive number of seconds",
    ),
    (
        "oauth_jwt_bearer",
        {"client_id": "c", "private_key": HMAC_SECRET, "token_url": TOKEN_URL}
        | {"token_ttl": "0"},
        TemplateError,
        "'token_ttl' must be a positive number of seconds",
    ),
    (
        "oauth_jwt_bearer",
        {"client_id": "c", "private_key": HMAC_SECRET, "token_url": TOKEN_URL},
        JWTSigningError,
        "RS256 needs a PEM private key",
    ),
    ("kerberos", {}, TemplateError, "authentication type 'kerberos'"),
]


@pytest.mark.parametrize(("kind", "config", "error", "expected"), CONFIG_ERRORS)
def test_bad_config_raises_precise_error_without_secret(
    mock: Recorded,
    kind: str,
    config: dict[str, Any],
    error: type[Exception],
    expected: str,
) -> None:
    with pytest.raises(error) as caught:
        authenticate(kind, config, mock.context())

    detail = caught.value.detail  # type: ignore[attr-defined]
    assert expected in detail
    for secret in (HMAC_SECRET, CLIENT_SECRET, API_KEY):
        assert secret not in detail
    assert mock.requests == []


# End to end through the execute endpoint ------------------------------------


@pytest.fixture
def tenant_secrets(
    secrets_file: Path, rsa_key: rsa.RSAPrivateKey, upstream: RunningUpstream
) -> dict[str, str]:
    """Secrets of the test client's tenant, written over the secrets file."""
    values = {
        "client_secret": CLIENT_SECRET,
        "api_key": API_KEY,
        "password": PASSWORD,
        "static_token": STATIC_TOKEN,
        "hmac_secret": HMAC_SECRET,
        "rsa_key": pem(rsa_key),
        "rsa_key_escaped": pem(rsa_key).replace("\n", "\\n"),
        "public_key": public_pem(rsa_key),
    }
    variables = {"token_host": upstream.base_url.removeprefix("https://")}
    document = {"demo": {"secrets": values, "variables": variables}}
    secrets_file.write_text(json.dumps(document))
    return values


@pytest.fixture
def run_auth(
    client: Client,
    composites_env: Install,
    tenant_secrets: dict[str, str],
    upstream: RunningUpstream,
    upstream_recorder: UpstreamRecorder,
) -> Callable[..., Any]:
    """Run a one-step composite calling ``/echo`` with this authentication."""

    def run(kind: str, config: dict[str, Any], path: str = "/echo") -> Any:
        step = {
            "name": "call",
            "url": upstream.url(path),
            "authentication": {"type": kind, "config": config},
        }
        composites_env([{"name": "auth", "permalink": "auth", "steps": [step]}])
        url = "/widget-service/connectors/composite/auth/execute"
        return client.post(url)

    return run


def received_headers(response: Any) -> dict[str, str]:
    assert response.status_code == 200, response.content
    headers: dict[str, str] = json.loads(response.content)["headers"]
    return headers


def bearer_of(response: Any) -> str:
    scheme, _, token = received_headers(response)["authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


def secret(name: str) -> str:
    return "{{ get_secret('" + name + "') }}"


def token_url(mode: str = "") -> str:
    query = f"?mode={mode}" if mode else ""
    return "https://{{ get_variable('token_host') }}/token" + query


def test_end_to_end_api_key_in_query_reaches_upstream(
    run_auth: Callable[..., Any], upstream_recorder: UpstreamRecorder
) -> None:
    config = {"key": "api_key", "value": secret("api_key"), "in": "query"}

    response = run_auth("apikey", config)

    assert response.status_code == 200
    assert upstream_recorder.requests_to("/echo")[0].query == {"api_key": [API_KEY]}


@pytest.mark.parametrize(
    ("kind", "config", "expected"),
    [
        ("api_key", {"key": "X-Api-Key", "value": secret("api_key")}, API_KEY),
        (
            "basic",
            {"username": "ada", "password": secret("password")},
            "Basic " + base64.b64encode(f"ada:{PASSWORD}".encode()).decode(),
        ),
        ("bearer", {"token": secret("static_token")}, f"Bearer {STATIC_TOKEN}"),
    ],
)
def test_end_to_end_static_credentials_reach_upstream(
    run_auth: Callable[..., Any], kind: str, config: dict[str, str], expected: str
) -> None:
    response = run_auth(kind, config)

    headers = received_headers(response)
    assert expected in (headers.get("x-api-key"), headers.get("authorization"))


def test_end_to_end_client_credentials_fetches_once_and_sends_bearer(
    run_auth: Callable[..., Any],
    upstream_recorder: UpstreamRecorder,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    config = {
        "client_id": "client-{{ tenant_id }}",
        "client_secret": secret("client_secret"),
        "token_url": token_url(),
        "scope": "profile",
    }

    tokens_sent = [bearer_of(run_auth("oauth_client_credentials", config))]
    tokens_sent.append(bearer_of(run_auth("oauth_client_credentials", config)))

    assert tokens_sent == ["tok-1", "tok-1"]
    assert upstream_recorder.token_calls == 1
    form = urllib.parse.parse_qs(upstream_recorder.requests_to("/token")[0].body)
    assert form == {
        b"grant_type": [b"client_credentials"],
        b"client_id": [b"client-demo"],
        b"client_secret": [CLIENT_SECRET.encode()],
        b"scope": [b"profile"],
    }
    assert_logs_nothing(debug_logs, "tok-1", CLIENT_SECRET)


@pytest.mark.parametrize("key_secret", ["rsa_key", "rsa_key_escaped"])
def test_end_to_end_jwt_sends_verifiable_fresh_token(
    run_auth: Callable[..., Any], rsa_key: rsa.RSAPrivateKey, key_secret: str
) -> None:
    config = {
        "private_key": secret(key_secret),
        "algorithm": "PS256",
        "claims": {
            "sub": "{{ tenant_id }}",
            "iat": "{{ now() }}",
            "exp": "{{ now(60) }}",
        },
    }

    first = bearer_of(run_auth("jwt", config))
    second = bearer_of(run_auth("jwt", config))

    claims = jwt.decode(first, rsa_key.public_key(), ["PS256"])
    assert claims["sub"] == "demo"
    assert claims["exp"] - claims["iat"] == 60
    assert jwt.decode(second, rsa_key.public_key(), ["PS256"])["sub"] == "demo"


def test_end_to_end_jwt_bearer_exchanges_assertion_for_cached_token(
    run_auth: Callable[..., Any],
    debug_logs: pytest.LogCaptureFixture,
    rsa_key: rsa.RSAPrivateKey,
    upstream: RunningUpstream,
    upstream_recorder: UpstreamRecorder,
) -> None:
    config = {
        "client_id": "svc-{{ tenant_id }}",
        "private_key": secret("rsa_key"),
        "token_url": token_url(),
        "additional_claims": {"scope": "read"},
    }

    first = bearer_of(run_auth("oauth_jwt_bearer", config))
    second = bearer_of(run_auth("oauth_jwt_bearer", config))

    assert (first, second, upstream_recorder.token_calls) == ("tok-1", "tok-1", 1)
    form = urllib.parse.parse_qs(upstream_recorder.requests_to("/token")[0].body)
    assert form[b"grant_type"] == [b"urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(
        form[b"assertion"][0],
        rsa_key.public_key(),
        ["RS256"],
        audience=upstream.url("/token"),
    )
    assert (claims["iss"], claims["sub"], claims["scope"]) == (
        "svc-demo",
        "svc-demo",
        "read",
    )
    assert claims["exp"] - claims["iat"] == 180
    assertion = form[b"assertion"][0].decode()
    assert_logs_nothing(debug_logs, "tok-1", assertion, pem(rsa_key)[40:80])


# Bad input end to end: envelope, status and nothing secret ------------------

TOKEN_SCOPE = "Composite step 'call' (index 0): Authentication (token request)"
SIGNING_SCOPE = "Composite step 'call' (index 0): Authentication (JWT signing)"
TEMPLATE_SCOPE = "Composite step 'call' (index 0): Configuration (template rendering)"

TOKEN_FAILURES = [
    ("not-json", "not JSON (Content-Type: text/plain)"),
    ("no-token", "has no access_token (its fields: expires_in, token_type)"),
    ("401", "the token endpoint answered HTTP 401"),
    ("500", "the token endpoint answered HTTP 500"),
    ("slow&delay=3", "the token endpoint did not answer in time"),
]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def assert_logs_nothing(caplog: pytest.LogCaptureFixture, *values: str) -> None:
    assert caplog.records
    for record in caplog.records:
        logged = record.getMessage() + repr(record.__dict__)
        assert not any(value in logged for value in values), record.getMessage()


def assert_nothing_secret(
    response: Any, caplog: pytest.LogCaptureFixture, secrets: dict[str, str]
) -> None:
    text = response.content.decode() + json.dumps(dict(response.headers))
    for value in [*secrets.values(), "tok-"]:
        assert value not in text
    assert_logs_nothing(caplog, *secrets.values(), "tok-")
    for line in secrets["rsa_key"].splitlines()[1:-1]:
        assert line not in text
    assert "Traceback" not in text


def envelope(response: Any) -> dict[str, str]:
    body = json.loads(response.content)
    assert (body["success"], body["request_id"]) == (False, response["X-Request-ID"])
    errors: dict[str, str] = body["errors"]
    return errors


@pytest.mark.parametrize("kind", ["oauth_client_credentials", "oauth_jwt_bearer"])
@pytest.mark.parametrize(("mode", "expected"), TOKEN_FAILURES)
def test_end_to_end_failing_token_endpoint_gives_token_request_error(
    run_auth: Callable[..., Any],
    settings: Any,
    tenant_secrets: dict[str, str],
    debug_logs: pytest.LogCaptureFixture,
    upstream_recorder: UpstreamRecorder,
    kind: str,
    mode: str,
    expected: str,
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "STEP_TIMEOUT": 1.0}
    config = {"client_id": "c1", "token_url": token_url(mode)}
    if kind == "oauth_client_credentials":
        config["client_secret"] = secret("client_secret")
    else:
        config["private_key"] = secret("rsa_key")

    response = run_auth(kind, config)

    assert response.status_code == 502
    assert envelope(response) == {
        "code": "TOKEN_REQUEST_ERROR",
        "detail": envelope(response)["detail"],
        "scope": TOKEN_SCOPE,
    }
    assert expected in envelope(response)["detail"]
    timing = json.loads(response["X-Connector-Timing"])["steps"][0]
    assert (timing["outcome"], timing["status_code"]) == ("token_error", None)
    assert upstream_recorder.requests_to("/echo") == []
    assert_nothing_secret(response, debug_logs, tenant_secrets)
    for endpoint_said in ("token_refused", "this is not json", "Bearer"):
        assert endpoint_said not in response.content.decode()


@pytest.mark.parametrize(
    ("mode", "calls_for_two_runs"),
    [
        ("expires-missing", 1),  # the default lifetime applies
        ("expires-string", 1),  # "3600" is read as a number
        ("expires-zero", 2),  # used once, never cached
        ("expires-negative", 2),
    ],
)
def test_end_to_end_unusual_expires_in_is_handled_as_documented(
    run_auth: Callable[..., Any],
    upstream_recorder: UpstreamRecorder,
    mode: str,
    calls_for_two_runs: int,
) -> None:
    config = {
        "client_id": "c1",
        "client_secret": secret("client_secret"),
        "token_url": token_url(mode),
    }

    first = run_auth("oauth_client_credentials", config)
    second = run_auth("oauth_client_credentials", config)

    assert bearer_of(first) == "tok-1"
    assert bearer_of(second) == f"tok-{calls_for_two_runs}"
    assert upstream_recorder.token_calls == calls_for_two_runs


KEY_FAILURES = [
    ("{{ get_secret('public_key') }}", "RS256", "is a public key or certificate"),
    ("{{ get_secret('hmac_secret') }}", "RS256", "RS256 needs a PEM private key"),
    ("{{ get_secret('rsa_key') }}", "ES256", "ES256 needs an EC private key"),
    ("{{ get_secret('rsa_key') }}", "HS256", "HS256 signs with a shared secret"),
    ("{{ get_secret('rsa_key')[:300] }}", "RS256", "could not be read"),
    ("{{ get_secret('rsa_key') }}", "{{ 'RS' ~ '1' }}", "algorithm is not one of"),
]


@pytest.mark.parametrize("kind", ["jwt", "oauth_jwt_bearer"])
@pytest.mark.parametrize(("key", "algorithm", "expected"), KEY_FAILURES)
def test_end_to_end_unusable_key_gives_jwt_signing_error(
    run_auth: Callable[..., Any],
    tenant_secrets: dict[str, str],
    debug_logs: pytest.LogCaptureFixture,
    upstream_recorder: UpstreamRecorder,
    kind: str,
    key: str,
    algorithm: str,
    expected: str,
) -> None:
    config = {"private_key": key, "algorithm": algorithm}
    if kind == "oauth_jwt_bearer":
        config |= {"client_id": "c1", "token_url": token_url()}

    response = run_auth(kind, config)

    assert response.status_code == 422
    errors = envelope(response)
    assert (errors["code"], errors["scope"]) == ("JWT_SIGNING_ERROR", SIGNING_SCOPE)
    assert expected in errors["detail"]
    assert upstream_recorder.requests == []
    assert_nothing_secret(response, debug_logs, tenant_secrets)


@pytest.mark.parametrize(
    ("kind", "config", "expected"),
    [
        (
            "oauth_jwt_bearer",
            {"client_id": "c1", "private_key": secret("rsa_key")}
            | {
                "token_url": token_url(),
                "token_ttl": "{{ get_variable('token_host') }}",
            },
            "'token_ttl' must be a positive number of seconds",
        ),
        (
            "oauth_client_credentials",
            {"client_id": "c1", "client_secret": "{{ get_secret('missing') }}"}
            | {"token_url": token_url()},
            "unknown secret 'missing'",
        ),
        (
            "api_key",
            {"key": "k", "value": secret("api_key"), "in": "{{ 'cookie' }}"},
            "api_key 'in' must render 'header' or 'query'",
        ),
    ],
)
def test_end_to_end_config_error_at_run_time_gives_template_error(
    run_auth: Callable[..., Any],
    tenant_secrets: dict[str, str],
    debug_logs: pytest.LogCaptureFixture,
    upstream_recorder: UpstreamRecorder,
    kind: str,
    config: dict[str, str],
    expected: str,
) -> None:
    response = run_auth(kind, config)

    assert response.status_code == 422
    errors = envelope(response)
    assert (errors["code"], errors["scope"]) == ("TEMPLATE_ERROR", TEMPLATE_SCOPE)
    assert expected in errors["detail"]
    assert upstream_recorder.requests == []
    assert_nothing_secret(response, debug_logs, tenant_secrets)


# Static checks: what check_composites reports before anything runs ----------


def problems_of(kind: str, config: Any) -> list[tuple[str, str, str]]:
    step = {
        "name": "call",
        "url": "https://api.example.com/data",
        "authentication": {"type": kind, "config": config},
    }
    document = {"composite_connectors": [{"name": "auth", "steps": [step]}]}
    report = validate_document(document)
    prefix = "composite_connectors[0].steps[0].authentication.config"
    return [
        (p.level, p.location.removeprefix(prefix), p.message) for p in report.problems
    ]


JWT_BEARER = {
    "client_id": "svc",
    "private_key": "{{ get_secret('key') }}",
    "token_url": "https://auth.example.com/token",
}
CLIENT_CREDENTIALS = {
    "client_id": "c1",
    "client_secret": "{{ get_secret('client_secret') }}",
    "token_url": "https://auth.example.com/token",
}


@pytest.mark.parametrize(
    ("kind", "config"),
    [
        ("none", {}),
        ("apikey", {"key": "X-Key", "value": "{{ get_secret('k') }}", "in": "query"}),
        ("oauth_client_credentials", CLIENT_CREDENTIALS | {"scope": "a b"}),
        (
            "jwt",
            {
                "private_key": "{{ get_secret('key') }}",
                "algorithm": "ES256",
                "claims": {"iat": "{{ now() }}", "exp": 1700000300, "sub": "x"},
                "jwt_headers": {"kid": "k1"},
            },
        ),
        (
            "oauth_jwt_bearer",
            JWT_BEARER
            | {"token_ttl": 600, "additional_claims": {"scope": "read", "nbf": "1"}},
        ),
        ("oauth_jwt_bearer", JWT_BEARER | {"token_ttl": "{{ get_variable('ttl') }}"}),
    ],
)
def test_static_check_accepts_valid_strategy_configs(kind: str, config: Any) -> None:
    assert problems_of(kind, config) == []


STATIC_PROBLEMS: list[tuple[str, dict[str, Any], tuple[str, str, str]]] = [
    (
        "oauth_client_credentials",
        {"client_id": "c1", "client_secret": "{{ get_secret('s') }}"},
        ("error", ".token_url", "is required"),
    ),
    (
        "oauth_client_credentials",
        CLIENT_CREDENTIALS | {"client_id": {"id": "c1"}},
        ("error", ".client_id", "must be a string or a number, not an object"),
    ),
    (
        "oauth_client_credentials",
        CLIENT_CREDENTIALS | {"scope": ["read", "write"]},
        ("error", ".scope", "must be a string or a number, not an array"),
    ),
    (
        "oauth_client_credentials",
        CLIENT_CREDENTIALS | {"token_url": "http://auth.example.com/token"},
        ("error", ".token_url", "must be an absolute https:// URL (before any"),
    ),
    (
        "oauth_client_credentials",
        CLIENT_CREDENTIALS | {"client_secret": "s3cr3t"},
        ("warning", ".client_secret", "is written into the registry; read it with"),
    ),
    (
        "oauth_client_credentials",
        CLIENT_CREDENTIALS | {"client_secret": "{{ get_secret('a') }}", "scpoe": "x"},
        ("warning", ".scpoe", "unknown key, ignored"),
    ),
    (
        "jwt",
        {"private_key": "{{ get_secret('k') }}", "claims": "sub=ada"},
        ("error", ".claims", "must be an object, not a string"),
    ),
    (
        "jwt",
        {"private_key": "{{ get_secret('k') }}", "algorithm": "none"},
        ("error", ".algorithm", "'none' is not one of ES256, ES384"),
    ),
    (
        "jwt",
        {"private_key": "{{ get_secret('k') }}", "claims": {"exp": "tomorrow"}},
        ("error", ".claims.exp", "must be a number of seconds since the epoch"),
    ),
    (
        "jwt",
        {"private_key": "{{ get_secret('k') }}", "jwt_headers": {"alg": "none"}},
        ("error", ".jwt_headers.alg", "set the algorithm with 'algorithm'"),
    ),
    (
        "jwt",
        {"private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"},
        ("warning", ".private_key", "is written into the registry; read it with"),
    ),
    (
        "jwt",
        {"private_key": "{{ get_secret('k') }}", "claims": {"sub": True}},
        ("error", ".claims.sub", "must be a string or a number, not a boolean"),
    ),
    (
        "oauth_jwt_bearer",
        JWT_BEARER | {"token_ttl": "an hour"},
        ("error", ".token_ttl", "must be a positive number of seconds"),
    ),
    (
        "oauth_jwt_bearer",
        JWT_BEARER | {"token_ttl": -5},
        ("error", ".token_ttl", "must be a positive number of seconds"),
    ),
    (
        "oauth_jwt_bearer",
        JWT_BEARER | {"token_ttl": 60},
        ("warning", ".token_ttl", "leaves nothing to cache after the 60 s margin"),
    ),
    (
        "oauth_jwt_bearer",
        JWT_BEARER | {"additional_claims": {"aud": "elsewhere"}},
        ("error", ".additional_claims.aud", "is set by oauth_jwt_bearer itself"),
    ),
    (
        "oauth_jwt_bearer",
        JWT_BEARER | {"additional_claims": ["scope"]},
        ("error", ".additional_claims", "must be an object, not an array"),
    ),
    (
        "oauth_jwt_bearer",
        {"private_key": "{{ get_secret('k') }}", "token_url": TOKEN_URL},
        ("error", ".client_id", "is required"),
    ),
]


@pytest.mark.parametrize(("kind", "config", "expected"), STATIC_PROBLEMS)
def test_static_check_reports_config_problem_at_its_location(
    kind: str, config: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    found = problems_of(kind, config)

    assert [(level, at) for level, at, _ in found] == [expected[:2]]
    assert expected[2] in found[0][2]


def test_check_composites_fails_registry_with_bad_strategy_config(
    tmp_path: Path,
) -> None:
    config = JWT_BEARER | {"token_ttl": "soon", "additional_claims": {"iss": "x"}}
    step = {
        "name": "call",
        "url": "https://api.example.com/data",
        "authentication": {"type": "oauth_jwt_bearer", "config": config},
    }
    path = tmp_path / "registry.json"
    path.write_text(
        json.dumps({"composite_connectors": [{"name": "a", "steps": [step]}]})
    )
    out = io.StringIO()

    with pytest.raises(CommandError):
        call_command("check_composites", str(path), stdout=out)

    lines = out.getvalue().splitlines()
    assert sum(line.startswith("error ") for line in lines) == 2
    assert any(".config.token_ttl: must be a positive" in line for line in lines)
