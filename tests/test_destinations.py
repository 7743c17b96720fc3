"""The destination guard: which addresses steps and token requests may reach.

Every refusal is checked end to end through the execute endpoint, with
``socket.create_connection`` patched to record each connection attempt and
to refuse any address off loopback, so no test ever leaves this machine.
DNS answers come from the ``destinations.resolve`` hook; only ``localhost``
is looked up for real (it never leaves the machine either).
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client

from composites import destinations, registry
from composites.exceptions import DestinationNotAllowed
from tests.upstream_fixtures import RunningUpstream

pytestmark = pytest.mark.django_db

RELAXATIONS = ("ALLOW_HTTP", "ALLOW_PRIVATE_NETWORKS", "ALLOWED_PRIVATE_HOSTS")
PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
Attempts = list[tuple[str, int]]
Answers = dict[str, list[str]]
Install = Callable[..., Any]


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> Attempts:
    """Every TCP connection attempt; any address off loopback is refused."""
    recorded: Attempts = []
    real_connect = socket.create_connection

    def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        recorded.append((address[0], address[1]))
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise ConnectionRefusedError("tests never connect off loopback")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", connect)
    return recorded


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Answers:
    """Fake DNS answers by host name; ``localhost`` resolves for real."""
    answers: Answers = {}
    real_resolve = socket.getaddrinfo

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host.rstrip(".").lower() == "localhost":
            return real_resolve("localhost", port, *args, **kwargs)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [_answer(address, port) for address in answers[host]]

    monkeypatch.setattr(destinations, "resolve", resolve)
    return answers


def _answer(address: str, port: int) -> tuple[Any, ...]:
    if ipaddress.ip_address(address).version == 6:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


@pytest.fixture
def strict(registry_file: Path, settings: Any) -> Install:
    """Serve composites with the default, unrelaxed guard."""
    base = {k: v for k, v in settings.COMPOSITES.items() if k not in RELAXATIONS}
    settings.COMPOSITES = {**base, "CA_BUNDLE": None}

    def install(*steps: dict[str, Any], **overrides: Any) -> None:
        settings.COMPOSITES = {**settings.COMPOSITES, **overrides}
        document = {"composite_connectors": [{"name": "guarded", "steps": steps}]}
        registry_file.write_text(json.dumps(document))
        registry.store.reset()

    return install


def execute(client: Client) -> Any:
    return client.post("/widget-service/connectors/composite/guarded/execute")


def errors_of(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.content)
    assert body["success"] is False
    return body["errors"]


def assert_refused(response: Any, step: str = "fetch", index: int = 0) -> None:
    errors = errors_of(response)
    assert response.status_code == 422
    assert errors["code"] == "DESTINATION_NOT_ALLOWED"
    assert errors["scope"] == (
        f"Composite step '{step}' (index {index}): "
        "Configuration (destination not allowed)"
    )
    timing = json.loads(response["X-Connector-Timing"])
    assert timing["steps"][-1]["outcome"] == "destination_blocked"


# Refused destinations, end to end --------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "0.0.0.0",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "[fc00::1]",
        "[fe80::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[64:ff9b::a00:1]",
        "[2002:7f00:1::1]",
        "[2001::1]",
        "[fec0::1]",
        "[::]",
        "224.0.0.1",
        "[ff02::1]",
        "255.255.255.255",
        "2130706433",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "0x7f000001",
        "127.1",
        "LOCALHOST.",
    ],
)
def test_execute_step_to_non_public_host_is_refused_without_connecting(
    client: Client, strict: Install, attempts: Attempts, dns: Answers, host: str
) -> None:
    strict({"name": "fetch", "url": f"https://{host}/data"})

    response = execute(client)

    assert_refused(response)
    assert attempts == []


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.1.2.3"],
        ["fd12:3456::1"],
        [PUBLIC_V4, "192.168.0.10"],
        [PUBLIC_V6, "::1"],
        ["::ffff:10.0.0.1", PUBLIC_V4],
    ],
    ids=[
        "private",
        "unique-local",
        "public-then-private",
        "v6-then-loopback",
        "mapped",
    ],
)
def test_execute_step_to_name_resolving_to_non_public_is_refused_without_connecting(
    client: Client,
    strict: Install,
    attempts: Attempts,
    dns: Answers,
    addresses: list[str],
) -> None:
    dns["api.example.test"] = addresses
    strict({"name": "fetch", "url": "https://api.example.test/data"})

    response = execute(client)

    assert_refused(response)
    assert "non-public address" in errors_of(response)["detail"]
    assert attempts == []


def test_execute_refused_second_step_names_its_index(
    client: Client,
    strict: Install,
    attempts: Attempts,
    dns: Answers,
    upstream: RunningUpstream,
) -> None:
    port = upstream.server.port
    strict(
        {"name": "first", "url": f"https://localhost:{port}/echo"},
        {"name": "second", "url": f"https://127.0.0.1:{port}/echo"},
        ALLOWED_PRIVATE_HOSTS=["localhost"],
        CA_BUNDLE=upstream.ca_bundle,
    )

    response = execute(client)

    assert_refused(response, "second", 1)
    assert {host for host, _ in attempts} <= {"127.0.0.1", "::1"}
    assert len(upstream.recorder.requests_to("/echo")) >= 1


def test_execute_defaults_refuse_loopback_even_with_the_upstream_trusted(
    client: Client,
    strict: Install,
    attempts: Attempts,
    upstream: RunningUpstream,
    upstream_recorder: Any,
) -> None:
    strict(
        {"name": "fetch", "url": upstream.url("/echo")}, CA_BUNDLE=upstream.ca_bundle
    )

    response = execute(client)

    assert_refused(response)
    assert attempts == []
    assert upstream_recorder.requests == []


def test_execute_token_request_to_private_address_is_refused_without_connecting(
    client: Client, strict: Install, attempts: Attempts, dns: Answers
) -> None:
    dns["api.example.test"] = [PUBLIC_V4]
    config = {
        "client_id": "client",
        "client_secret": "secret-value",
        "token_url": "https://169.254.169.254/latest/token",
    }
    strict(
        {
            "name": "fetch",
            "url": "https://api.example.test/data",
            "authentication": {"type": "oauth_client_credentials", "config": config},
        }
    )

    response = execute(client)

    errors = errors_of(response)
    assert response.status_code == 422
    assert errors["code"] == "DESTINATION_NOT_ALLOWED"
    assert attempts == []


# Public destinations: connected to the vetted address, never for real --------


@pytest.mark.parametrize("address", [PUBLIC_V4, PUBLIC_V6, "64:ff9b::5db8:d70e"])
def test_execute_step_to_public_name_connects_to_the_vetted_address(
    client: Client, strict: Install, attempts: Attempts, dns: Answers, address: str
) -> None:
    dns["api.example.test"] = [address]
    strict({"name": "fetch", "url": "https://api.example.test:8443/data"})

    response = execute(client)

    assert response.status_code == 502
    assert errors_of(response)["code"] == "STEP_NETWORK_ERROR"
    assert attempts == [(address, 8443)]


def test_execute_resolves_once_per_connection_so_a_changed_answer_is_not_used(
    client: Client,
    strict: Install,
    attempts: Attempts,
    dns: Answers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = iter([[PUBLIC_V4], ["127.0.0.1"], ["127.0.0.1"]])
    resolved: list[str] = []

    def rebinding(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        addresses = next(answers)
        resolved.extend(addresses)
        return [_answer(address, port) for address in addresses]

    monkeypatch.setattr(destinations, "resolve", rebinding)
    strict({"name": "fetch", "url": "https://rebind.example.test/data"})

    execute(client)

    assert resolved == [PUBLIC_V4]
    assert attempts == [(PUBLIC_V4, 443)]


# TLS verifies the host name, not the address ---------------------------------


def test_execute_name_mapped_to_loopback_fails_tls_when_certificate_lacks_it(
    client: Client,
    strict: Install,
    attempts: Attempts,
    dns: Answers,
    upstream: RunningUpstream,
) -> None:
    dns["api.example.test"] = ["127.0.0.1"]
    url = f"https://api.example.test:{upstream.server.port}/echo"
    strict(
        {"name": "fetch", "url": url},
        ALLOW_PRIVATE_NETWORKS=True,
        CA_BUNDLE=upstream.ca_bundle,
    )

    response = execute(client)

    errors = errors_of(response)
    assert response.status_code == 502
    assert errors["code"] == "STEP_NETWORK_ERROR"
    assert "TLS" in errors["detail"]
    assert attempts == [("127.0.0.1", upstream.server.port)]


def test_execute_localhost_matching_its_certificate_succeeds(
    client: Client,
    strict: Install,
    attempts: Attempts,
    dns: Answers,
    upstream: RunningUpstream,
) -> None:
    url = f"https://localhost:{upstream.server.port}/echo"
    strict(
        {"name": "fetch", "url": url},
        ALLOW_PRIVATE_NETWORKS=True,
        CA_BUNDLE=upstream.ca_bundle,
    )

    response = execute(client)

    assert response.status_code == 200
    assert json.loads(response.content)["headers"]["host"].startswith("localhost")


def test_execute_loopback_without_the_ca_bundle_fails_tls(
    client: Client, strict: Install, attempts: Attempts, upstream: RunningUpstream
) -> None:
    strict({"name": "fetch", "url": upstream.url("/echo")}, ALLOW_PRIVATE_NETWORKS=True)

    response = execute(client)

    assert response.status_code == 502
    assert "TLS" in errors_of(response)["detail"]


# Relaxations -----------------------------------------------------------------


@pytest.mark.parametrize(
    "relaxation",
    [{"ALLOW_PRIVATE_NETWORKS": True}, {"ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"]}],
    ids=["private-networks", "named-host"],
)
def test_execute_relaxed_guard_reaches_loopback_upstream(
    client: Client,
    strict: Install,
    attempts: Attempts,
    upstream: RunningUpstream,
    relaxation: dict[str, Any],
) -> None:
    url = upstream.url("/echo")
    strict({"name": "fetch", "url": url}, CA_BUNDLE=upstream.ca_bundle, **relaxation)

    response = execute(client)

    assert response.status_code == 200
    assert attempts == [("127.0.0.1", upstream.server.port)]


def test_execute_allowed_private_host_does_not_allow_other_hosts(
    client: Client, strict: Install, attempts: Attempts, dns: Answers
) -> None:
    dns["intranet.example.test"] = ["10.0.0.5"]
    strict(
        {"name": "fetch", "url": "https://intranet.example.test/data"},
        ALLOWED_PRIVATE_HOSTS=["other.example.test"],
    )

    response = execute(client)

    assert_refused(response)
    assert attempts == []


def test_execute_http_url_is_refused_at_run_time_without_allow_http(
    client: Client,
    strict: Install,
    attempts: Attempts,
    upstream: RunningUpstream,
    settings: Any,
) -> None:
    url = upstream.url("/echo").replace("https://", "http://")
    # Loaded while ALLOW_HTTP was on; the setting is read again at run time.
    strict({"name": "fetch", "url": url}, ALLOW_PRIVATE_NETWORKS=True, ALLOW_HTTP=True)
    registry.current()
    settings.COMPOSITES = {**settings.COMPOSITES, "ALLOW_HTTP": False}

    response = execute(client)

    assert_refused(response)
    assert "https://" in errors_of(response)["detail"]
    assert attempts == []


def test_execute_http_url_with_allow_http_is_sent_in_plain_text(
    client: Client, strict: Install, attempts: Attempts, upstream: RunningUpstream
) -> None:
    url = upstream.url("/echo").replace("https://", "http://")
    strict({"name": "fetch", "url": url}, ALLOW_PRIVATE_NETWORKS=True, ALLOW_HTTP=True)

    response = execute(client)

    # The upstream speaks only TLS, so the plain request reaches it and fails.
    assert errors_of(response)["code"] == "STEP_NETWORK_ERROR"
    assert attempts == [("127.0.0.1", upstream.server.port)]


def test_settings_default_to_no_relaxation() -> None:
    from composites.conf import DEFAULTS

    assert DEFAULTS["ALLOW_HTTP"] is False
    assert DEFAULTS["ALLOW_PRIVATE_NETWORKS"] is False
    assert tuple(DEFAULTS["ALLOWED_PRIVATE_HOSTS"]) == ()
    assert DEFAULTS["CA_BUNDLE"] is None


# Units -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        (PUBLIC_V4, True),
        (PUBLIC_V6, True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("2002:808:808::1", True),
        ("127.0.0.1", False),
        ("127.255.255.254", False),
        ("0.0.0.0", False),
        ("0.1.2.3", False),
        ("10.255.0.1", False),
        ("172.31.255.255", False),
        ("192.168.0.1", False),
        ("169.254.0.1", False),
        ("100.64.0.1", False),
        ("100.127.255.255", False),
        ("192.0.0.8", False),
        ("192.0.2.1", False),
        ("198.18.0.1", False),
        ("198.51.100.1", False),
        ("203.0.113.1", False),
        ("224.0.0.251", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::", False),
        ("::1", False),
        ("::127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:0:7f00:1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("64:ff9b:1::808:808", False),
        ("2002:a00:1::1", False),
        ("2002:c0a8:101::1", False),
        ("2001::1", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
        ("2001:db8::1", False),
        ("fc00::1", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("ff0e::1", False),
        ("100::1", False),
    ],
)
def test_is_public_classifies_address(address: str, public: bool) -> None:
    assert destinations.is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("[::1]", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("192.168.1.1.", "192.168.1.1"),
    ],
)
def test_addresses_of_reads_numeric_spellings_without_resolving(
    host: str, address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> list[Any]:
        raise AssertionError("a numeric host must not be resolved")

    monkeypatch.setattr(destinations, "resolve", no_dns)

    assert destinations.addresses_of(host, 443) == [ipaddress.ip_address(address)]


def test_addresses_of_numeric_looking_name_that_is_no_address_is_resolved(
    dns: Answers,
) -> None:
    dns["1.2.3.4.5"] = [PUBLIC_V4]

    assert destinations.addresses_of("1.2.3.4.5", 443) == [
        ipaddress.ip_address(PUBLIC_V4)
    ]


def test_vet_addresses_without_any_address_is_refused() -> None:
    with pytest.raises(DestinationNotAllowed, match="has no address"):
        destinations.vet_addresses("empty.example.test", [])


def test_addresses_of_unresolvable_name_is_a_connect_error(dns: Answers) -> None:
    import httpcore

    with pytest.raises(httpcore.ConnectError, match="cannot resolve host"):
        destinations.addresses_of("nowhere.example.test", 443)


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("ftp://example.com/", "must be an absolute https:// URL; it has 'ftp://'"),
        ("/relative", "must be an absolute https:// URL; it has no scheme"),
        ("file:///etc/passwd", "must be an absolute https:// URL; it has 'file://'"),
        ("https:///path", "must be an absolute https:// URL; it has no host"),
        ("https://[::1/", "is not a valid URL"),
        ("https://api.example.com/a/../b", "has a '.' or '..' segment"),
    ],
)
def test_parse_url_refuses_what_is_not_an_absolute_https_url(
    url: str, detail: str
) -> None:
    with pytest.raises(DestinationNotAllowed, match=f"^token_url.*{re.escape(detail)}"):
        destinations.parse_url(url, "token_url")


def test_parse_url_accepts_https_url() -> None:
    url = destinations.parse_url(" https://api.example.com/v1 ")

    assert url == httpx.URL("https://api.example.com/v1")


def test_vet_addresses_with_allowed_host_ignores_case_and_trailing_dot(
    settings: Any,
) -> None:
    settings.COMPOSITES = {
        **settings.COMPOSITES,
        "ALLOW_PRIVATE_NETWORKS": False,
        "ALLOWED_PRIVATE_HOSTS": ["Intranet.Example.Test"],
    }
    private = [ipaddress.ip_address("10.0.0.5")]

    assert destinations.vet_addresses("intranet.example.test.", private) == private
