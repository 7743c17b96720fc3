"""The execute endpoint end to end: Django's test client, a real HTTPS
upstream on loopback, the envelope of every error and what it must not
carry."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.test import Client

from composites import runner
from tests.conftest import PLANTED_SECRET
from tests.upstream import PRIVATE_DETAIL
from tests.upstream_fixtures import RunningUpstream

Install = Callable[[list[dict[str, Any]]], None]
EARLIER_DATA = "earlier-step-data-7d1e"

pytestmark = pytest.mark.django_db


def execute(client: Client, identifier: str, query: str = "", **kwargs: Any) -> Any:
    url = f"/widget-service/connectors/composite/{identifier}/execute"
    return client.post(f"{url}?{query}" if query else url, **kwargs)


def execute_path(
    client: Client, install: Install, upstream: RunningUpstream, path: str
) -> Any:
    """Run a composite of one GET step to ``path`` on the test upstream."""
    install([composite("one-step", {"name": "get", "url": upstream.url(path)})])
    return execute(client, "one-step")


def composite(permalink: str, *steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": permalink.replace("-", " "),
        "permalink": permalink,
        "steps": list(steps),
    }


def echo_step(upstream: RunningUpstream, name: str = "first") -> dict[str, Any]:
    return {
        "name": name,
        "url": upstream.url(f"/echo?marker={EARLIER_DATA}"),
        "headers": [{"key": "X-Token", "value": "{{ get_secret('api_token') }}"}],
    }


def envelope(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.content)
    assert body["success"] is False
    assert body["request_id"] == response["X-Request-ID"]
    return body["errors"]


def assert_leaks_nothing(response: Any) -> None:
    text = response.content.decode() + json.dumps(dict(response.headers))
    assert PLANTED_SECRET not in text
    assert PRIVATE_DETAIL not in text
    assert EARLIER_DATA not in text
    assert "Traceback" not in text


# Success ---------------------------------------------------------------------


def test_execute_two_steps_returns_last_step_response(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    composites_env(
        [
            composite(
                "chain",
                echo_step(upstream),
                {
                    "name": "second",
                    "url": upstream.url("/echo"),
                    "method": "POST",
                    "request_body": "{{ (steps.first.body | from_json)"
                    ".query.marker[0] }}",
                },
            )
        ]
    )

    response = execute(client, "chain")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["body_text"] == EARLIER_DATA


def test_execute_by_numeric_id_runs_the_same_composite(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    from composites.definitions import composite_id

    composites_env([composite("by-id", echo_step(upstream))])

    response = execute(client, str(composite_id("by-id")))

    assert response.status_code == 200


def test_execute_passes_binary_upstream_body_unchanged(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    response = execute_path(client, composites_env, upstream, "/bytes/300")

    assert response.content == bytes((255 - i) % 256 for i in range(300))
    assert response["Content-Type"] == "application/octet-stream"


def test_execute_gzip_upstream_relays_decoded_body_without_content_encoding(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    response = execute_path(client, composites_env, upstream, "/gzip")

    assert json.loads(response.content)["compressed"] is True
    assert "Content-Encoding" not in response


def test_execute_upstream_cookies_are_not_relayed(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    response = execute_path(client, composites_env, upstream, "/set-cookies/20")

    assert response.status_code == 200
    assert "Set-Cookie" not in response
    assert not response.cookies


def test_execute_redirect_is_a_successful_step_relayed_as_is(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    response = execute_path(client, composites_env, upstream, "/redirect")

    assert response.status_code == 302
    assert "Location" not in response
    assert json.loads(response.content) == {"redirected_to": "/echo"}


def test_execute_response_content_type_overrides_upstream(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    step = {
        "name": "shape",
        "url": upstream.url("/echo"),
        "response_body": "{{ (response.body | from_json).method }}",
        "response_content_type": "text/plain; charset=utf-8",
    }
    composites_env([composite("shape", step)])

    response = execute(client, "shape")

    assert response.content == b"GET"
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_execute_head_last_step_gives_empty_body(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    step = {"name": "head", "url": upstream.url("/echo"), "method": "HEAD"}
    composites_env([composite("head", step)])

    response = execute(client, "head")

    assert response.status_code == 200
    assert response.content == b""


def test_execute_widget_body_and_query_reach_templates(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    step = {
        "name": "echo",
        "url": upstream.url("/echo"),
        "method": "POST",
        "request_body": "{{ request.body_text }}|{{ request.query_parameters.page }}"
        "|{{ request.headers['Content-Type'] }}",
    }
    composites_env([composite("widget-input", step)])

    response = execute(
        client,
        "widget-input",
        query="page=1&page=2",
        data=b'{"q": "caf\xc3\xa9"}',
        content_type="application/json",
    )

    sent = json.loads(response.content)["body_text"]
    assert sent == '{"q": "café"}|2|application/json'


def test_execute_binary_widget_body_gives_none_text_and_raw_bytes(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    step = {
        "name": "echo",
        "url": upstream.url("/echo"),
        "method": "POST",
        "request_body": "{{ request.body_text }} {{ request.body_raw | length }}",
    }
    composites_env([composite("binary-input", step)])

    response = execute(
        client, "binary-input", data=b"\xff\xfe\x00", content_type="image/png"
    )

    assert json.loads(response.content)["body_text"] == "None 3"


def test_execute_signed_in_user_reaches_templates(
    composites_env: Install, upstream: RunningUpstream
) -> None:
    user = User.objects.create_user("ada", "ada@example.com", "pw", first_name="Ada")
    client = Client()
    client.force_login(user)
    step = {
        "name": "who",
        "url": upstream.url("/echo"),
        "query_parameters": [{"key": "email", "value": "{{ user.email }}"}],
        "response_body": "{{ user.first_name }} {{ tenant_id }} "
        "{{ (response.body | from_json).query.email[0] }}",
    }
    composites_env([composite("who", step)])

    response = execute(client, "who")

    assert response.content == b"Ada demo ada@example.com"


# Request errors --------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_execute_other_methods_answer_405_envelope(
    client: Client, composites_env: Install, method: str
) -> None:
    response = getattr(client, method)(
        "/widget-service/connectors/composite/anything/execute"
    )

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert envelope(response)["code"] == "METHOD_NOT_ALLOWED"


def test_execute_head_answers_405_without_body(
    client: Client, composites_env: Install
) -> None:
    response = client.head("/widget-service/connectors/composite/anything/execute")

    assert response.status_code == 405
    assert response.content == b""


@pytest.mark.parametrize("identifier", ["missing", "12345", "99999999999999999999999"])
def test_execute_unknown_identifier_answers_404_envelope(
    client: Client, composites_env: Install, identifier: str
) -> None:
    composites_env([])

    response = execute(client, identifier)

    assert response.status_code == 404
    assert envelope(response)["code"] == "NOT_FOUND"


def test_execute_body_over_limit_answers_413_and_sends_nothing(
    client: Client,
    composites_env: Install,
    upstream: RunningUpstream,
    upstream_recorder: Any,
    settings: Any,
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "MAX_REQUEST_BYTES": 100}
    composites_env([composite("big", echo_step(upstream))])

    response = execute(client, "big", data=b"x" * 101, content_type="text/plain")

    assert response.status_code == 413
    assert envelope(response)["code"] == "PAYLOAD_TOO_LARGE"
    assert upstream_recorder.requests == []


def test_execute_body_at_limit_is_accepted(
    client: Client, composites_env: Install, upstream: RunningUpstream, settings: Any
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "MAX_REQUEST_BYTES": 100}
    composites_env([composite("exact", echo_step(upstream))])

    response = execute(client, "exact", data=b"x" * 100, content_type="text/plain")

    assert response.status_code == 200


def test_execute_anonymous_caller_of_user_composite_answers_401_before_any_step(
    client: Client,
    composites_env: Install,
    upstream: RunningUpstream,
    upstream_recorder: Any,
) -> None:
    step = {
        "name": "me",
        "url": upstream.url("/echo"),
        "headers": [{"key": "X-Email", "value": "{{ user.email }}"}],
    }
    composites_env([composite("needs-user", step)])

    response = execute(client, "needs-user")

    assert response.status_code == 401
    assert envelope(response)["code"] == "AUTHENTICATION_REQUIRED"
    assert upstream_recorder.requests == []


def test_execute_signed_in_caller_without_csrf_token_answers_403(
    composites_env: Install, upstream: RunningUpstream
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("bob", "bob@example.com", "pw"))
    composites_env([composite("csrf", echo_step(upstream))])

    response = execute(client, "csrf")

    assert response.status_code == 403
    assert envelope(response)["code"] == "PERMISSION_DENIED"
    assert "CSRF" in envelope(response)["detail"]


def test_execute_signed_in_caller_with_csrf_token_succeeds(
    composites_env: Install, upstream: RunningUpstream
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("eve", "eve@example.com", "pw"))
    client.get("/")
    token = client.cookies["csrftoken"].value
    composites_env([composite("csrf-ok", echo_step(upstream))])

    response = execute(client, "csrf-ok", headers={"X-CSRFToken": token})

    assert response.status_code == 200


def test_execute_anonymous_caller_needs_no_csrf_token(
    composites_env: Install, upstream: RunningUpstream
) -> None:
    composites_env([composite("anonymous", echo_step(upstream))])

    response = execute(Client(enforce_csrf_checks=True), "anonymous")

    assert response.status_code == 200


# Step errors: every row of the error table -----------------------------------


def failing_after_first(upstream: RunningUpstream, second: dict[str, Any]) -> Any:
    return composite("failing", echo_step(upstream), {"name": "second", **second})


@pytest.mark.parametrize(
    ("second", "status", "code", "category"),
    [
        (
            {"url": "{base}/status/500"},
            502,
            "STEP_HTTP_ERROR",
            "Downstream (HTTP error)",
        ),
        (
            {"url": "{base}/status/404"},
            502,
            "STEP_HTTP_ERROR",
            "Downstream (HTTP error)",
        ),
        (
            {"url": "{base}/cut-off"},
            502,
            "STEP_NETWORK_ERROR",
            "Downstream (network/external service)",
        ),
        (
            {"url": "{base}/large/5000"},
            502,
            "STEP_NETWORK_ERROR",
            "Downstream (network/external service)",
        ),
        (
            {
                "url": "{base}/echo",
                "request_body": "{{ (steps.first.body | from_json)"
                ".query.nope.deeper }}",
            },
            422,
            "TEMPLATE_ERROR",
            "Configuration (template rendering)",
        ),
        (
            {
                "url": "{base}/echo",
                "headers": [
                    {
                        "key": "X-Bad",
                        "value": "{{ get_secret('api_token') }}{{ '\\n' }}Injected: 1",
                    }
                ],
            },
            422,
            "TEMPLATE_ERROR",
            "Configuration (template rendering)",
        ),
        (
            {
                "url": "{base}/echo",
                "request_body": "{{ jwt_encode({'sub': 'x'}, 'not a key', 'RS256') }}",
            },
            422,
            "JWT_SIGNING_ERROR",
            "Authentication (JWT signing)",
        ),
        (
            {"url": "https://localhost:1/never"},
            422,
            "DESTINATION_NOT_ALLOWED",
            "Configuration (destination not allowed)",
        ),
    ],
    ids=[
        "http-500",
        "http-404",
        "cut-off",
        "oversize",
        "template",
        "header-injection",
        "jwt",
        "destination",
    ],
)
def test_execute_failing_second_step_answers_envelope_and_leaks_nothing(
    client: Client,
    composites_env: Install,
    upstream: RunningUpstream,
    settings: Any,
    second: dict[str, Any],
    status: int,
    code: str,
    category: str,
) -> None:
    second = json.loads(json.dumps(second).replace("{base}", upstream.base_url))
    composites_env([failing_after_first(upstream, second)])
    settings.COMPOSITES = {**settings.COMPOSITES, "MAX_RESPONSE_BYTES": 4096}
    # Only the first step's host is let through to loopback.
    settings.COMPOSITES = {
        **settings.COMPOSITES,
        "ALLOW_PRIVATE_NETWORKS": False,
        "ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"],
    }

    response = execute(client, "failing")

    errors = envelope(response)
    assert response.status_code == status
    assert errors["code"] == code
    assert errors["scope"] == f"Composite step 'second' (index 1): {category}"
    assert_leaks_nothing(response)


def test_execute_http_error_detail_names_upstream_status(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    errors = envelope(execute_path(client, composites_env, upstream, "/status/418"))

    assert errors["detail"] == "The upstream API answered HTTP 418."


def test_execute_template_error_detail_names_field_and_message(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    step = {"name": "vars", "url": upstream.url("/echo?v={{ get_variable('nope') }}")}
    composites_env([composite("unknown-variable", step)])

    errors = envelope(execute(client, "unknown-variable"))

    assert errors["detail"] == "url: unknown variable 'nope' for this tenant"


def test_execute_unknown_secret_detail_names_secret_not_value(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    step = {
        "name": "secret",
        "url": upstream.url("/echo"),
        "headers": [{"key": "X-Key", "value": "{{ get_secret('absent') }}"}],
    }
    composites_env([composite("unknown-secret", step)])

    response = execute(client, "unknown-secret")

    assert envelope(response)["detail"] == (
        "headers[0].value: unknown secret 'absent' for this tenant"
    )


def test_execute_secret_in_failing_template_message_is_redacted(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    step = {
        "name": "leaky",
        "url": upstream.url("/echo"),
        "headers": [
            {"key": "X-Key", "value": "{{ get_secret('api_token') | from_json }}"}
        ],
    }
    composites_env([composite("leaky", step)])

    response = execute(client, "leaky")

    assert envelope(response)["code"] == "TEMPLATE_ERROR"
    assert_leaks_nothing(response)


def test_execute_composite_without_steps_answers_500_no_steps(
    client: Client, composites_env: Install
) -> None:
    composites_env([composite("empty")])

    response = execute(client, "empty")

    assert response.status_code == 500
    assert envelope(response) == {
        "code": "NO_STEPS",
        "detail": "This composite connector has no steps.",
        "scope": "Unexpected error",
    }


def test_execute_unexpected_exception_answers_500_without_details(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    composites_env([composite("boom", echo_step(upstream))])

    with mock.patch.object(runner, "run", side_effect=RuntimeError(PLANTED_SECRET)):
        response = execute(client, "boom")

    assert response.status_code == 500
    assert envelope(response)["code"] == "UNEXPECTED_ERROR"
    assert envelope(response)["scope"] == "Unexpected error"
    assert_leaks_nothing(response)


def test_execute_keeps_serving_after_a_failure(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    composites_env(
        [
            composite("broken", {"name": "cut", "url": upstream.url("/cut-off")}),
            composite("fine", echo_step(upstream)),
        ]
    )

    assert execute(client, "broken").status_code == 502
    assert execute(client, "fine").status_code == 200


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b'{"page": 2}', "application/json"),
        (b"page=2&csrfmiddlewaretoken=wrong", "application/x-www-form-urlencoded"),
        (b"\x00\x01binary", "application/octet-stream"),
    ],
    ids=["json", "form", "binary"],
)
def test_execute_signed_in_caller_with_csrf_header_accepts_any_body(
    composites_env: Install,
    upstream: RunningUpstream,
    data: bytes,
    content_type: str,
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("kim", "kim@example.com", "pw"))
    client.get("/")
    token = client.cookies["csrftoken"].value
    step = {
        "name": "echo",
        "url": upstream.url("/echo"),
        "method": "POST",
        "request_body": "{{ request.body_raw | length }}",
    }
    composites_env([composite("any-body", step)])

    response = execute(
        client,
        "any-body",
        data=data,
        content_type=content_type,
        headers={"X-CSRFToken": token},
    )

    assert response.status_code == 200
    assert json.loads(response.content)["body_text"] == str(len(data))


def test_execute_error_is_json_whatever_the_accept_header(
    client: Client, composites_env: Install
) -> None:
    composites_env([])

    response = execute(client, "missing", headers={"Accept": "text/html"})

    assert response["Content-Type"] == "application/json"
    assert envelope(response)["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a=1&a=2&a=3", {"a": "3"}),
        (
            "name=caf%C3%A9&plus=a+b&space=a%20b",
            {"name": "café", "plus": "a b", "space": "a b"},
        ),
        ("bad=%ZZ&latin=%E9", {"bad": "%ZZ", "latin": "\ufffd"}),
        ("flag&empty=", {"flag": "", "empty": ""}),
    ],
    ids=["repeated", "encoded", "malformed", "valueless"],
)
def test_execute_widget_query_reaches_templates_decoded(
    client: Client,
    composites_env: Install,
    upstream: RunningUpstream,
    query: str,
    expected: dict[str, str],
) -> None:
    step = {
        "name": "echo",
        "url": upstream.url("/echo"),
        "method": "POST",
        "request_body": "{{ request.query_parameters | json_encode }}",
    }
    composites_env([composite("query", step)])

    response = execute(client, "query", query=query)

    assert json.loads(json.loads(response.content)["body_text"]) == expected


@pytest.mark.parametrize(
    ("data", "content_type", "text"),
    [
        (b"", "text/plain", "None"),
        (b"{not json", "application/json", "{not json"),
        (b"caf\xe9", "text/plain", "None"),
        (b"caf\xe9", "text/plain; charset=iso-8859-1", "café"),
        (b"\x89PNG\r\n\x1a\n\x00", "image/png", "None"),
    ],
    ids=["empty", "invalid-json", "not-utf8", "declared-latin1", "binary"],
)
def test_execute_odd_widget_bodies_reach_templates_as_documented(
    client: Client,
    composites_env: Install,
    upstream: RunningUpstream,
    data: bytes,
    content_type: str,
    text: str,
) -> None:
    step = {
        "name": "echo",
        "url": upstream.url("/echo"),
        "method": "POST",
        "request_body": "{{ request.body_text }}|{{ request.body_raw }}",
    }
    composites_env([composite("bodies", step)])
    url = "/widget-service/connectors/composite/bodies/execute"

    response = client.generic("POST", url, data, content_type=content_type)

    body_text, _, raw = json.loads(response.content)["body_text"].partition("|")
    assert body_text == text
    assert raw == ("None" if not data else str(data))


def test_execute_without_valid_registry_answers_500_without_traceback(
    client: Client, registry_file: Any, caplog: pytest.LogCaptureFixture
) -> None:
    registry_file.write_text('{"composite_connectors": [{"name": ""}]}')

    response = execute(client, "anything")

    assert response.status_code == 500
    assert envelope(response) == {
        "code": "UNEXPECTED_ERROR",
        "detail": "No valid registry of composite connectors is loaded.",
        "scope": "Unexpected error",
    }
    assert not any(record.exc_info for record in caplog.records)


def test_execute_with_too_many_query_parameters_answers_400(
    client: Client, composites_env: Install, upstream: RunningUpstream, caplog: Any
) -> None:
    composites_env([composite("many", echo_step(upstream))])
    query = "&".join(f"k{number}=v" for number in range(1500))

    response = execute(client, "many", query=query)

    assert response.status_code == 400
    assert envelope(response)["code"] == "BAD_REQUEST"
    assert not any(record.exc_info for record in caplog.records)


def test_execute_chunked_body_without_length_answers_411(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    composites_env([composite("chunked", echo_step(upstream))])
    url = "/widget-service/connectors/composite/chunked/execute"

    response = client.generic(
        "POST", url, b"", HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH=""
    )

    assert response.status_code == 411
    assert envelope(response)["code"] == "LENGTH_REQUIRED"


@pytest.mark.parametrize(
    "path",
    [
        "connectors/composite/x/execute/",
        "connectors/composite/x",
        "connectors/composite/a%2Fb/execute",
        "",
    ],
    ids=["trailing-slash", "no-execute", "encoded-slash", "root"],
)
def test_other_paths_of_the_app_answer_404_envelope(client: Client, path: str) -> None:
    response = client.post(f"/widget-service/{path}")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert envelope(response)["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "algorithm",
    [
        "{{ get_secret('api_token')[:12] }}",
        "{{ get_secret('api_token') | reverse | join }}",
    ],
    ids=["slice", "reversed"],
)
def test_execute_signing_error_does_not_quote_a_rendered_algorithm(
    client: Client, composites_env: Install, upstream: RunningUpstream, algorithm: str
) -> None:
    step = {
        "name": "sign",
        "url": upstream.url("/echo"),
        "query_parameters": [
            {
                "key": "t",
                "value": "{{ jwt_encode({'a': 1}, 'k', " + algorithm[3:-3] + ") }}",
            }
        ],
    }
    composites_env([composite("sign", step)])

    response = execute(client, "sign")

    assert envelope(response)["code"] == "JWT_SIGNING_ERROR"
    assert PLANTED_SECRET[:12] not in response.content.decode()
    assert PLANTED_SECRET[::-1] not in response.content.decode()


@pytest.mark.parametrize(
    "value",
    [
        "{{ {}[get_secret('api_token')[1:]].x }}",
        "{{ {}[get_secret('api_token') | upper].x }}",
        "{{ {}[get_secret('api_token') | base64_encode].x }}",
        "{{ now(get_secret('api_token')[1:]) }}",
        "{{ get_variable(get_secret('api_token')[1:]) }}",
        "{{ get_secret(get_secret('api_token')[1:]) }}",
        "{{ steps[get_secret('api_token')[1:]].x }}",
        "{{ {}[steps.first.body].x }}",
    ],
)
def test_execute_template_error_quotes_no_value_computed_while_rendering(
    client: Client, composites_env: Install, upstream: RunningUpstream, value: str
) -> None:
    second = {
        "name": "second",
        "url": upstream.url("/echo"),
        "headers": [{"key": "X-Value", "value": value}],
    }
    composites_env([composite("quoting", echo_step(upstream), second)])

    response = execute(client, "quoting")

    text = response.content.decode()
    assert envelope(response)["code"] == "TEMPLATE_ERROR"
    assert PLANTED_SECRET[1:] not in text
    assert PLANTED_SECRET.upper() not in text
    assert base64.b64encode(PLANTED_SECRET.encode()).decode() not in text
    assert EARLIER_DATA not in text


def test_execute_relayed_html_cannot_run_in_the_platform_origin(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    step = {
        "name": "page",
        "url": upstream.url("/echo"),
        "response_body": "<p>{{ request.query_parameters.name }}</p>",
        "response_content_type": "text/html",
    }
    composites_env([composite("html", step)])

    response = execute(client, "html", query="name=%3Cscript%3Ex()%3C/script%3E")

    assert response["Content-Type"] == "text/html"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("declared", ["abc", "1e3", "-5", "1.0"])
def test_execute_malformed_content_length_answers_400(
    client: Client, composites_env: Install, upstream: RunningUpstream, declared: str
) -> None:
    composites_env([composite("length", echo_step(upstream))])
    url = "/widget-service/connectors/composite/length/execute"

    response = client.generic("POST", url, b"", CONTENT_LENGTH=declared)

    assert response.status_code == 400
    assert envelope(response)["detail"] == (
        "The Content-Length header is not a whole number."
    )


def test_execute_authentication_error_detail_names_the_strategy(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    step = {
        "name": "keyed",
        "url": upstream.url("/echo"),
        "authentication": {
            "type": "api_key",
            "config": {"key": "X-Key", "value": "v", "in": "{{ 'cookie' }}"},
        },
    }
    composites_env([composite("keyed", step)])

    errors = envelope(execute(client, "keyed"))

    assert errors["detail"] == (
        "authentication (api_key): api_key 'in' must render 'header' or 'query'"
    )
