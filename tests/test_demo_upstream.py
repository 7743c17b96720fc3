"""Tests of the demo upstream API over real HTTPS."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.upstream_fixtures import DEMO_TEST_CREDENTIALS, RunningDemoUpstream
from widgetplatform.demo_upstream import (
    ConfigurationError,
    TLSServer,
    crm_tickets,
    load_credentials,
    make_certificates,
    user_profile,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMAIL = "ada.lovelace@example.com"


@pytest.fixture
def demo_client(demo_upstream: RunningDemoUpstream) -> Iterator[httpx.Client]:
    verify = demo_upstream.ssl_context()
    with httpx.Client(
        base_url=demo_upstream.base_url, verify=verify, timeout=10
    ) as client:
        yield client


@pytest.fixture
def access_token(demo_client: httpx.Client, demo_upstream: RunningDemoUpstream) -> str:
    credentials = demo_upstream.credentials
    response = demo_client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials.client_id, credentials.client_secret),
    )
    return str(response.json()["access_token"])


def crm_headers(demo_upstream: RunningDemoUpstream) -> dict[str, str]:
    return {"X-Api-Key": demo_upstream.credentials.crm_api_key}


def analytics_jwt(secret: str, **claims: object) -> str:
    payload = {"iss": "widget-platform", "exp": int(time.time()) + 60, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_with_basic_credentials_is_issued(
    demo_client: httpx.Client, demo_upstream: RunningDemoUpstream
) -> None:
    credentials = demo_upstream.credentials
    response = demo_client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials.client_id, credentials.client_secret),
    )

    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"
    assert response.json()["expires_in"] == 3600
    assert response.json()["access_token"]


def test_token_with_form_credentials_is_issued(
    demo_client: httpx.Client, demo_upstream: RunningDemoUpstream
) -> None:
    credentials = demo_upstream.credentials
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
    }
    response = demo_client.post("/oauth/token", data=form)

    assert response.status_code == 200
    assert response.json()["access_token"]


def test_tokens_are_fresh_for_every_request(
    demo_client: httpx.Client, demo_upstream: RunningDemoUpstream
) -> None:
    credentials = demo_upstream.credentials
    form = {"grant_type": "client_credentials"}
    auth = (credentials.client_id, credentials.client_secret)
    first = demo_client.post("/oauth/token", data=form, auth=auth).json()
    second = demo_client.post("/oauth/token", data=form, auth=auth).json()

    assert first["access_token"] != second["access_token"]


@pytest.mark.parametrize(
    "auth",
    [
        (DEMO_TEST_CREDENTIALS.client_id, "wrong-secret"),
        ("someone-else", DEMO_TEST_CREDENTIALS.client_secret),
    ],
)
def test_token_with_bad_credentials_is_401_invalid_client(
    demo_client: httpx.Client, auth: tuple[str, str]
) -> None:
    response = demo_client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=auth
    )

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_token_without_credentials_is_401_invalid_client(
    demo_client: httpx.Client,
) -> None:
    response = demo_client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}
    )

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_token_with_other_grant_type_is_400_unsupported(
    demo_client: httpx.Client, demo_upstream: RunningDemoUpstream
) -> None:
    credentials = demo_upstream.credentials
    response = demo_client.post(
        "/oauth/token",
        data={"grant_type": "password"},
        auth=(credentials.client_id, credentials.client_secret),
    )

    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


def test_token_endpoint_with_get_is_405(demo_client: httpx.Client) -> None:
    response = demo_client.get("/oauth/token")

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json"


def test_user_with_issued_token_returns_profile(
    demo_client: httpx.Client, access_token: str
) -> None:
    response = demo_client.get(
        "/v1/users", params={"email": EMAIL}, headers=bearer(access_token)
    )

    assert response.status_code == 200
    assert response.json() == user_profile(EMAIL)
    assert response.json()["display_name"] == "Ada Lovelace"


def test_user_profile_is_deterministic_per_email() -> None:
    profile = user_profile("someone@example.org")

    assert profile == user_profile("someone@example.org")
    assert profile["id"] != user_profile("other@example.org")["id"]
    assert isinstance(profile["karma"], int)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-issued"}, {"Authorization": "Basic eDp5"}],
)
def test_user_without_issued_token_is_401_invalid_token(
    demo_client: httpx.Client, headers: dict[str, str]
) -> None:
    response = demo_client.get("/v1/users", params={"email": EMAIL}, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token"}


def test_user_without_email_is_400(
    demo_client: httpx.Client, access_token: str
) -> None:
    response = demo_client.get("/v1/users", headers=bearer(access_token))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_contacts_with_api_key_returns_contact(
    demo_client: httpx.Client, demo_upstream: RunningDemoUpstream
) -> None:
    response = demo_client.get(
        "/crm/contacts", params={"email": EMAIL}, headers=crm_headers(demo_upstream)
    )

    [contact] = response.json()["results"]
    assert contact["id"].startswith("c-")
    assert contact == {"id": contact["id"], "email": EMAIL, "name": "Ada Lovelace"}


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong"}])
def test_contacts_without_api_key_is_401(
    demo_client: httpx.Client, headers: dict[str, str]
) -> None:
    response = demo_client.get(
        "/crm/contacts", params={"email": EMAIL}, headers=headers
    )

    assert response.status_code == 401


def test_tickets_with_open_status_returns_only_open_tickets(
    demo_client: httpx.Client, demo_upstream: RunningDemoUpstream
) -> None:
    response = demo_client.get(
        "/crm/contacts/c-123/tickets",
        params={"status": "open"},
        headers=crm_headers(demo_upstream),
    )

    tickets = response.json()["tickets"]
    assert response.json()["contact_id"] == "c-123"
    assert 2 <= len(tickets) <= 3
    assert {ticket["status"] for ticket in tickets} == {"open"}


def test_tickets_without_status_include_closed_ones(
    demo_client: httpx.Client, demo_upstream: RunningDemoUpstream
) -> None:
    response = demo_client.get(
        "/crm/contacts/c-123/tickets", headers=crm_headers(demo_upstream)
    )

    assert response.json()["tickets"] == crm_tickets("c-123")
    assert "closed" in {ticket["status"] for ticket in crm_tickets("c-123")}


def test_tickets_without_api_key_is_401(demo_client: httpx.Client) -> None:
    response = demo_client.get("/crm/contacts/c-123/tickets", params={"status": "open"})

    assert response.status_code == 401


def test_summary_with_valid_jwt_returns_figures_and_issuer(
    demo_client: httpx.Client, demo_upstream: RunningDemoUpstream
) -> None:
    token = analytics_jwt(demo_upstream.credentials.analytics_jwt_secret)
    response = demo_client.get(
        "/analytics/v1/summary", params={"community": "c42"}, headers=bearer(token)
    )

    summary = response.json()
    assert response.status_code == 200
    assert summary["community"] == "c42"
    assert summary["issuer"] == "widget-platform"
    assert isinstance(summary["active_members"], int)
    assert isinstance(summary["posts_last_7_days"], int)


@pytest.mark.parametrize(
    "token",
    [
        analytics_jwt("a-different-secret-of-sufficient-length-1234"),
        analytics_jwt(
            DEMO_TEST_CREDENTIALS.analytics_jwt_secret, exp=int(time.time()) - 600
        ),
        jwt.encode(
            {"iss": "widget-platform"},
            DEMO_TEST_CREDENTIALS.analytics_jwt_secret,
            algorithm="HS256",
        ),
        jwt.encode(
            {"exp": int(time.time()) + 600},
            DEMO_TEST_CREDENTIALS.analytics_jwt_secret,
            algorithm="HS256",
        ),
        "not-a-jwt",
    ],
    ids=["wrong-secret", "expired", "no-exp", "no-iss", "malformed"],
)
def test_summary_with_invalid_jwt_is_401_with_detail(
    demo_client: httpx.Client, token: str
) -> None:
    response = demo_client.get(
        "/analytics/v1/summary", params={"community": "c42"}, headers=bearer(token)
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.json()["detail"]


def test_summary_without_jwt_is_401(demo_client: httpx.Client) -> None:
    response = demo_client.get("/analytics/v1/summary", params={"community": "c42"})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_server_certificate_is_rejected_without_the_ca_bundle(
    demo_upstream: RunningDemoUpstream,
) -> None:
    with pytest.raises(httpx.ConnectError), httpx.Client(timeout=10) as client:
        client.get(demo_upstream.url("/v1/users"))


def test_server_with_idle_connection_still_answers_others(
    demo_client: httpx.Client, demo_upstream: RunningDemoUpstream
) -> None:
    host, port = demo_upstream.server.host, demo_upstream.server.port
    with socket.create_connection((host, port)):
        response = demo_client.get("/v1/users")

    assert response.status_code == 401


def test_certificates_in_existing_directory_are_reused(tmp_path: Path) -> None:
    first = make_certificates(tmp_path)
    authority = first.ca_bundle.read_bytes()
    second = make_certificates(tmp_path)

    assert second == first
    assert second.ca_bundle.read_bytes() == authority


def test_server_stopped_before_start_closes_its_socket(tmp_path: Path) -> None:
    server = TLSServer(lambda environ, start_response: [], make_certificates(tmp_path))
    server.stop()

    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=1).close()


def write_secrets(path: Path, secrets: dict[str, str]) -> Path:
    path.write_text(json.dumps({"demo": {"secrets": secrets, "variables": {}}}))
    return path


DEMO_SECRETS = {
    "demo_client_id": "cli-client",
    "demo_client_secret": "cli-client-secret",
    "crm_api_key": "cli-crm-key",
    "analytics_jwt_secret": "cli-analytics-secret-0123456789abcdef",
}


def test_credentials_are_read_from_the_tenant_secrets(tmp_path: Path) -> None:
    credentials = load_credentials(
        write_secrets(tmp_path / "s.json", DEMO_SECRETS), "demo"
    )

    assert credentials.client_id == "cli-client"
    assert credentials.analytics_jwt_secret == DEMO_SECRETS["analytics_jwt_secret"]


def test_credentials_missing_a_secret_name_it_without_values(tmp_path: Path) -> None:
    secrets = {**DEMO_SECRETS}
    del secrets["crm_api_key"]
    path = write_secrets(tmp_path / "s.json", secrets)

    with pytest.raises(ConfigurationError, match="crm_api_key") as raised:
        load_credentials(path, "demo")
    assert "cli-client-secret" not in str(raised.value)


def test_credentials_of_unknown_tenant_are_a_configuration_error(
    tmp_path: Path,
) -> None:
    path = write_secrets(tmp_path / "s.json", DEMO_SECRETS)

    with pytest.raises(ConfigurationError, match="'other'"):
        load_credentials(path, "other")


@pytest.fixture
def demo_command(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    secrets_file = write_secrets(tmp_path / "secrets.json", DEMO_SECRETS)
    command = [
        sys.executable,
        "-m",
        "widgetplatform.demo_upstream",
        "--port=0",
        f"--secrets-file={secrets_file}",
        f"--cert-dir={tmp_path / 'certs'}",
    ]
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    with subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=environment, stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def test_command_serves_until_sigterm(
    demo_command: subprocess.Popen[str], tmp_path: Path
) -> None:
    assert demo_command.stdout is not None
    announcement = demo_command.stdout.readline()
    base_url = re.search(r"https://127\.0\.0\.1:\d+", announcement)
    assert base_url is not None, announcement
    response = httpx.post(
        f"{base_url.group()}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("cli-client", "cli-client-secret"),
        verify=make_certificates(tmp_path / "certs").client_context(),
    )
    demo_command.send_signal(signal.SIGTERM)

    assert response.status_code == 200
    assert demo_command.wait(timeout=10) == 0
