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

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from django.test import Client

from composites import registry
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


# Hostile upstreams ---------------------------------------------------------


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
    registry.store.reset()
