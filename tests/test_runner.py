"""The step runner against the real HTTPS test upstream on loopback."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from composites import runner
from composites.callers import ANONYMOUS, Caller, CallerUser, ProfileFields
from composites.definitions import Composite
from composites.exceptions import (
    DestinationNotAllowed,
    StepError,
    StepNetworkError,
    TemplateError,
)
from composites.timing import RunTimings
from composites.validation import validate_document
from tests.conftest import PLANTED_SECRET
from tests.upstream import LATIN1_TEXT
from tests.upstream_fixtures import RunningUpstream

ADA = CallerUser(
    id=7,
    email="ada@example.com",
    first_name="Ada",
    last_name="Lovelace",
    username="ada",
    profile_fields=ProfileFields({3: "gold"}.get),
)


@pytest.fixture
def loopback(
    upstream: RunningUpstream, secrets_file: Any, settings: Any
) -> RunningUpstream:
    settings.COMPOSITES = {
        **settings.COMPOSITES,
        "CA_BUNDLE": upstream.ca_bundle,
        "ALLOW_PRIVATE_NETWORKS": True,
    }
    return upstream


def build(*steps: dict[str, Any]) -> Composite:
    report = validate_document(
        {"composite_connectors": [{"name": "test", "steps": list(steps)}]}
    )
    assert report.registry is not None, report.errors
    return report.registry.composites[0]


def run(
    *steps: dict[str, Any],
    widget: runner.WidgetRequest | None = None,
    user: CallerUser = ANONYMOUS,
    timings: RunTimings | None = None,
) -> runner.Result:
    return runner.run(
        build(*steps),
        widget or runner.WidgetRequest(),
        Caller(user=user, tenant_id="demo"),
        timings or RunTimings(),
    )


def echoed(result: runner.Result) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(result.body)
    return payload


def reshape(template: str) -> dict[str, Any]:
    return {"response_body": template, "response_content_type": "text/plain"}


# Step results as templates see them ------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/latin1", LATIN1_TEXT),
        ("/misdeclared", "None"),
        ("/bytes/16", "None"),
        ("/empty", ""),
        ("/gzip", '{"compressed": true, "message": "hello from gzip"}'),
    ],
    ids=["declared-charset", "misdeclared-charset", "binary", "empty", "gzip"],
)
def test_step_body_is_decoded_text_or_none(
    loopback: RunningUpstream, path: str, expected: str
) -> None:
    result = run(
        {"name": "first", "url": loopback.url(path)},
        {
            "name": "show",
            "url": loopback.url("/empty"),
            **reshape("{{ steps.first.body }}"),
        },
    )

    assert result.body.decode() == expected


def test_step_status_code_and_lowercase_headers_reach_later_steps(
    loopback: RunningUpstream,
) -> None:
    result = run(
        {"name": "cookies", "url": loopback.url("/set-cookies/2")},
        {
            "name": "show",
            "url": loopback.url("/empty"),
            **reshape(
                "{{ steps.cookies.status_code + 1 }}|"
                "{{ steps.cookies.headers['set-cookie'] }}|"
                "{{ steps.cookies.headers['Content-Type'] }}"
            ),
        },
    )

    status, cookies, missing = result.body.decode().split("|")
    assert status == "201"
    assert cookies.startswith("cookie-1=value-1; Path=/, cookie-2=value-2")
    assert missing == ""


def test_step_response_body_output_replaces_body_for_later_steps(
    loopback: RunningUpstream,
) -> None:
    result = run(
        {
            "name": "first",
            "url": loopback.url("/echo"),
            "response_body": "{{ (response.body | from_json).method }}-"
            "{{ response.status_code }}-{{ response.headers['content-type'] }}",
        },
        {
            "name": "show",
            "url": loopback.url("/empty"),
            **reshape("{{ steps.first.body }}"),
        },
    )

    assert result.body == b"GET-200-application/json"


def test_steps_hyphenated_name_is_reachable_with_brackets(
    loopback: RunningUpstream,
) -> None:
    result = run(
        {"name": "fetch-user", "url": loopback.url("/latin1")},
        {
            "name": "show",
            "url": loopback.url("/empty"),
            **reshape("{{ steps['fetch-user'].body }}"),
        },
    )

    assert result.body.decode() == LATIN1_TEXT


def test_user_fields_reach_templates_for_signed_in_user(
    loopback: RunningUpstream,
) -> None:
    template = (
        "{{ user.id }} {{ user.email }} {{ user.first_name }} {{ user.last_name }} "
        "{{ user.username }} {{ user.profile_fields.by_id(3) }} "
        "{{ user.profile_fields.by_id(4) }} {{ tenant_id }}"
    )
    result = run(
        {"name": "show", "url": loopback.url("/empty"), **reshape(template)}, user=ADA
    )

    assert result.body == b"7 ada@example.com Ada Lovelace ada gold None demo"


def test_user_fields_are_none_for_anonymous_caller(loopback: RunningUpstream) -> None:
    template = "{{ user.id }} {{ user.email }} {{ user.profile_fields.by_id(1) }}"

    result = run({"name": "show", "url": loopback.url("/empty"), **reshape(template)})

    assert result.body == b"None None None"


def test_functions_now_and_get_variable_render(loopback: RunningUpstream) -> None:
    template = "{{ get_variable('greeting') }} {{ now(60) - now() }}"

    result = run({"name": "show", "url": loopback.url("/empty"), **reshape(template)})

    assert result.body == b"hello 60"


def test_missing_attribute_renders_empty(loopback: RunningUpstream) -> None:
    template = "[{{ steps.first.headers.absent }}][{{ request.query_parameters.x }}]"

    result = run(
        {"name": "first", "url": loopback.url("/empty")},
        {"name": "show", "url": loopback.url("/empty"), **reshape(template)},
    )

    assert result.body == b"[][]"


# Building the request --------------------------------------------------------


def test_query_parameters_are_appended_and_encoded(
    loopback: RunningUpstream, upstream_recorder: Any
) -> None:
    run(
        {
            "name": "echo",
            "url": loopback.url("/echo?fixed=1"),
            "query_parameters": [
                {"key": "q", "value": "a b&c=d/é"},
                {"key": "fixed", "value": "2"},
            ],
        }
    )

    assert upstream_recorder.last.query == {
        "fixed": ["1", "2"],
        "q": ["a b&c=d/é"],
    }


@pytest.mark.parametrize(
    ("widget_query", "expected"),
    [({"status": "closed"}, "closed"), ({}, "open"), ({"other": "x"}, "open")],
)
def test_overridable_query_parameter_takes_widget_value_when_present(
    loopback: RunningUpstream,
    upstream_recorder: Any,
    widget_query: dict[str, str],
    expected: str,
) -> None:
    step = {
        "name": "echo",
        "url": loopback.url("/echo"),
        "query_parameters": [
            {"key": "status", "value": "open", "overridable": True},
            {"key": "other", "value": "configured"},
        ],
    }

    run(step, widget=runner.WidgetRequest(query=widget_query))

    assert upstream_recorder.last.query["status"] == [expected]
    assert upstream_recorder.last.query["other"] == ["configured"]


@pytest.mark.parametrize(
    ("body", "configured", "expected"),
    [
        ('{"a": 1}', None, "application/json"),
        ("grant_type=x", None, "text/plain; charset=utf-8"),
        (
            "a=1",
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded",
        ),
    ],
)
def test_request_body_content_type_is_guessed_unless_configured(
    loopback: RunningUpstream,
    upstream_recorder: Any,
    body: str,
    configured: str | None,
    expected: str,
) -> None:
    headers = [{"key": "content-type", "value": configured}] if configured else []

    run(
        {
            "name": "echo",
            "url": loopback.url("/echo"),
            "method": "POST",
            "headers": headers,
            "request_body": body,
        }
    )

    assert upstream_recorder.last.headers["content-type"] == expected
    assert upstream_recorder.last.body == body.encode()


def test_step_without_body_sends_no_content_type(
    loopback: RunningUpstream, upstream_recorder: Any
) -> None:
    run({"name": "echo", "url": loopback.url("/echo"), "method": "POST"})

    assert "content-type" not in upstream_recorder.last.headers
    assert upstream_recorder.last.body == b""


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "tab\tok\x00", "café"])
def test_header_with_forbidden_character_is_template_error_naming_it(
    loopback: RunningUpstream, upstream_recorder: Any, value: str
) -> None:
    step = {
        "name": "echo",
        "url": loopback.url("/echo"),
        "headers": [
            {"key": "X-Custom", "value": "{{ request.query_parameters.value }}"}
        ],
    }
    widget = runner.WidgetRequest(query={"value": value})

    with pytest.raises(TemplateError, match="header 'X-Custom'"):
        run(step, widget=widget)
    assert upstream_recorder.requests == []


def test_widget_headers_never_reach_upstream(
    loopback: RunningUpstream, upstream_recorder: Any
) -> None:
    widget = runner.WidgetRequest(body=b"{}", content_type="application/json")

    run({"name": "echo", "url": loopback.url("/echo")}, widget=widget)

    sent = upstream_recorder.last.headers
    assert "content-type" not in sent
    assert sent["user-agent"] == runner.USER_AGENT


def test_cookies_set_by_one_step_do_not_reach_the_next(
    loopback: RunningUpstream, upstream_recorder: Any
) -> None:
    run(
        {"name": "set", "url": loopback.url("/set-cookies/3")},
        {"name": "echo", "url": loopback.url("/echo")},
    )
    run({"name": "again", "url": loopback.url("/echo")})

    assert [r.cookies for r in upstream_recorder.requests_to("/echo")] == [{}, {}]


def test_redirect_is_not_followed(
    loopback: RunningUpstream, upstream_recorder: Any
) -> None:
    result = run({"name": "go", "url": loopback.url("/redirect")})

    assert result.status == 302
    assert upstream_recorder.requests_to("/echo") == []


# Limits ----------------------------------------------------------------------


def test_step_timeout_is_network_error(
    loopback: RunningUpstream, settings: Any
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "STEP_TIMEOUT": 0.3}

    with pytest.raises(StepNetworkError, match="did not answer in time"):
        run({"name": "slow", "url": loopback.url("/delay/2")})


def test_run_deadline_fails_the_step_in_flight(
    loopback: RunningUpstream, settings: Any
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "RUN_DEADLINE": 0.6}
    timings = RunTimings()

    with pytest.raises(StepNetworkError) as failure:
        run(
            {"name": "first", "url": loopback.url("/delay/0.4")},
            {"name": "second", "url": loopback.url("/delay/0.4")},
            timings=timings,
        )

    assert failure.value.step_name == "second"
    assert [t.outcome for t in timings.steps] == ["ok", "network_error"]


@pytest.mark.parametrize(("size", "fails"), [(1000, False), (1001, True)])
def test_response_over_size_cap_is_network_error(
    loopback: RunningUpstream, settings: Any, size: int, fails: bool
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "MAX_RESPONSE_BYTES": 1000}
    step = {"name": "big", "url": loopback.url(f"/large/{size}")}

    if fails:
        with pytest.raises(StepNetworkError, match="over 1000 bytes"):
            run(step)
    else:
        assert len(run(step).body) == size


def test_cut_off_response_is_network_error(loopback: RunningUpstream) -> None:
    with pytest.raises(StepNetworkError, match="broke the connection"):
        run({"name": "cut", "url": loopback.url("/cut-off")})


def test_untrusted_certificate_is_network_error(
    loopback: RunningUpstream, settings: Any
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "CA_BUNDLE": None}

    with pytest.raises(StepNetworkError, match="TLS failed"):
        run({"name": "tls", "url": loopback.url("/echo")})


class KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    """Answer every GET with a small body on a connection kept alive."""

    protocol_version = "HTTP/1.1"
    connections: list[tuple[str, int]] = []

    def setup(self) -> None:
        super().setup()
        self.connections.append(self.client_address)

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def keep_alive_upstream(
    loopback: RunningUpstream,
) -> Iterator[tuple[str, list[tuple[str, int]]]]:
    """An HTTPS server that keeps connections alive and lists them."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveHandler)
    context = loopback.server.certificates.server_context()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    KeepAliveHandler.connections = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/", KeepAliveHandler.connections
    server.shutdown()
    server.server_close()
    thread.join()


def test_sequential_runs_reuse_one_pooled_connection(
    keep_alive_upstream: tuple[str, list[tuple[str, int]]],
) -> None:
    url, connections = keep_alive_upstream

    for _ in range(20):
        assert run({"name": "ping", "url": url}).body == b"ok"

    assert len(connections) == 1


# Timings and logs ------------------------------------------------------------


def test_timings_record_every_step_with_status_and_outcome(
    loopback: RunningUpstream,
) -> None:
    timings = RunTimings()

    with pytest.raises(StepError):
        run(
            {"name": "first", "url": loopback.url("/echo")},
            {"name": "second", "url": loopback.url("/status/503")},
            timings=timings,
        )

    recorded = [(t.name, t.index, t.status_code, t.outcome) for t in timings.steps]
    assert recorded == [("first", 0, 200, "ok"), ("second", 1, 503, "http_error")]
    assert all(t.duration_ms >= 0 for t in timings.steps)


def test_each_step_logs_one_line_without_query_headers_or_secrets(
    loopback: RunningUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    step = {
        "name": "echo",
        "url": loopback.url("/echo"),
        "query_parameters": [
            {"key": "token", "value": "{{ get_secret('api_token') }}"}
        ],
        "headers": [{"key": "X-Key", "value": "{{ get_secret('api_token') }}"}],
    }

    with pytest.raises(StepError):
        run(step, {"name": "fail", "url": loopback.url("/status/500")})

    lines = [r for r in caplog.records if r.name == "composites.runner"]
    assert [r.levelno for r in lines] == [logging.INFO, logging.WARNING]
    assert "path=/echo " in lines[0].getMessage()
    assert all(PLANTED_SECRET not in r.getMessage() for r in caplog.records)
    assert all("token=" not in r.getMessage() for r in caplog.records)
    assert lines[1].status_code == 500  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "value",
    ["../../token", "..", "./echo", "%2e%2e/token", "..%2Ftoken", "..\\token"],
)
def test_visitor_input_making_dot_segments_is_refused_before_sending(
    loopback: RunningUpstream, upstream_recorder: Any, value: str
) -> None:
    step = {
        "name": "lookup",
        "url": loopback.url("/echo/{{ request.query_parameters.id }}"),
    }

    with pytest.raises(DestinationNotAllowed, match="'..' segment"):
        run(step, widget=runner.WidgetRequest(query={"id": value}))
    assert upstream_recorder.requests == []


def test_url_segment_keeps_visitor_input_in_one_segment(
    loopback: RunningUpstream, upstream_recorder: Any
) -> None:
    step = {
        "name": "lookup",
        "url": loopback.url("/echo/{{ request.query_parameters.id | url_segment }}"),
    }

    # The upstream has no such path; what matters is what it was asked for.
    with pytest.raises(StepError):
        run(step, widget=runner.WidgetRequest(query={"id": "a/b?admin=1#x"}))

    assert upstream_recorder.last.path == "/echo/a/b?admin=1#x"
    assert upstream_recorder.last.query == {}
