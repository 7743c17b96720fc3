"""The widget SDK and the demo widget page in a real, headless Chromium.

One ``manage.py rundemo`` process serves the platform and the demo upstream
for the module; its registry is the repository's plus the composites in
``tests/widget_browser_composites.json``, which call the session's test
upstream.  Both upstreams present certificates of one test authority, which
the platform process trusts.  One browser serves the session; every test gets
a fresh browser context (no cookies, no cache).

The browser is Debian's Chromium (``CHROMIUM_EXECUTABLE`` overrides the path),
launched with flags that keep it off the network.  Without it the tests are
skipped, except under CI (the ``CI`` environment variable), where they fail.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, sync_playwright

from tests.upstream import LATIN1_TEXT, UpstreamRecorder
from tests.upstream_fixtures import RunningUpstream
from widgetplatform.demo_upstream import Certificates, user_profile
from widgetplatform.management.commands.rundemo import DEMO_TENANT, DEMO_USER

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_COMPOSITES = Path(__file__).with_name("widget_browser_composites.json")
SCREENSHOT = PROJECT_ROOT / "test-output" / "widget-demo.png"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
SERVER_START_SECONDS = 60
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    # Any host name other than loopback fails to resolve, so nothing the
    # browser does on its own can reach another machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

# Runs one call through a fresh SDK on the page and describes how it settled.
EXECUTE = """
async ({ options, call }) => {
  const started = performance.now();
  try {
    const sdk = new window.WidgetServiceSDK(options === null ? undefined : options);
    const value = await sdk.connectors.composite.execute(call);
    const elapsedMs = performance.now() - started;
    return { outcome: "resolved", value, errorClass: null, fields: {}, elapsedMs };
  } catch (error) {
    let errorClass = typeof error;
    if (error instanceof window.ConnectorExecuteError) {
      errorClass = "ConnectorExecuteError";
    } else if (error instanceof window.ConnectorBoundaryError) {
      errorClass = "ConnectorBoundaryError";
    } else if (Object.getPrototypeOf(error) === Error.prototype) {
      errorClass = "Error";
    }
    const fields = {};
    for (const key of ["status", "code", "detail", "scope", "requestId", "field"]) {
      if (Object.prototype.hasOwnProperty.call(error, key)) {
        fields[key] = error[key];
      }
    }
    return {
      outcome: "rejected",
      errorClass,
      name: error.name,
      message: error.message,
      fields,
      elapsedMs: performance.now() - started,
    };
  }
}
"""


@dataclasses.dataclass(frozen=True)
class Platform:
    """The platform process: where it serves, and its log file."""

    base_url: str
    log: Path


@dataclasses.dataclass
class WidgetPage:
    """The demo widget page, loaded, with the requests it sent since."""

    page: Page
    sent: list[Request]

    def execute(
        self, call: dict[str, Any], options: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run ``execute(call)`` on a new SDK built with ``options``."""
        result: dict[str, Any] = self.page.evaluate(
            EXECUTE, {"options": options, "call": call}
        )
        return result

    def sent_to_execute(self) -> list[Request]:
        return [request for request in self.sent if "/execute" in request.url]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _write_secrets(path: Path, demo_port: int, upstream: RunningUpstream) -> None:
    demo_host = f"127.0.0.1:{demo_port}"
    content = {
        DEMO_TENANT: {
            "secrets": {
                "demo_client_id": "browser-test-client",
                "demo_client_secret": "browser-test-client-secret",
                "crm_api_key": "browser-test-crm-api-key",
                "analytics_jwt_secret": "browser-test-analytics-secret-0123456789",
            },
            "variables": {
                "identity_api_host": demo_host,
                "crm_api_host": demo_host,
                "analytics_api_host": demo_host,
                "test_upstream_host": urlsplit(upstream.base_url).netloc,
            },
        }
    }
    path.write_text(json.dumps(content))


def _write_registry(path: Path) -> None:
    registry = json.loads(
        (PROJECT_ROOT / "registry" / "connectors_registry.json").read_text()
    )
    extra = json.loads(TEST_COMPOSITES.read_text())["composite_connectors"]
    registry["composite_connectors"].extend(extra)
    path.write_text(json.dumps(registry))


def _wait_until_serving(
    process: subprocess.Popen[bytes], base_url: str, log: Path
) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"rundemo exited with {process.returncode}:\n{log.read_text()}",
                pytrace=False,
            )
        try:
            if httpx.get(f"{base_url}/", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(
        f"rundemo did not serve {base_url} within {SERVER_START_SECONDS} s:\n"
        f"{log.read_text()}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's Chromium; skipped when missing, except under CI."""
    path = os.environ.get("CHROMIUM_EXECUTABLE") or DEFAULT_CHROMIUM
    if os.access(path, os.X_OK):
        return path

    reason = (
        f"no Chromium at {path}: install Debian's chromium package "
        "(apt-get install chromium) or set CHROMIUM_EXECUTABLE"
    )
    if os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}:
        pytest.fail(f"{reason}; CI is set, so browser tests may not be skipped")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser(chromium_executable: str) -> Iterator[Browser]:
    """One headless Chromium for the session, with a throwaway profile.

    ``launch`` gives the browser a fresh user-data-dir of its own, deleted
    when the browser closes.
    """
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def platform(
    chromium_executable: str,
    upstream: RunningUpstream,
    upstream_certificates: Certificates,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    """``manage.py rundemo`` in a subprocess, on free loopback ports."""
    workdir = tmp_path_factory.mktemp("widget-platform")
    port, demo_port = _free_port(), _free_port()
    _write_secrets(workdir / "secrets.json", demo_port, upstream)
    _write_registry(workdir / "registry.json")
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "COMPOSITES_ALLOW_PRIVATE_NETWORKS": "1",
        "COMPOSITES_CA_BUNDLE": upstream.ca_bundle,
        "COMPOSITES_REGISTRY_PATH": str(workdir / "registry.json"),
        "WIDGETPLATFORM_SECRETS_FILE": str(workdir / "secrets.json"),
        "WIDGETPLATFORM_DATABASE": str(workdir / "db.sqlite3"),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("REDIS_URL", "WIDGETPLATFORM_TENANTS", "COMPOSITES_ALLOW_HTTP"):
        env.pop(name, None)
    command = [
        sys.executable,
        "manage.py",
        "rundemo",
        f"127.0.0.1:{port}",
        "--upstream-port",
        str(demo_port),
        # The demo upstream then presents a certificate of the test authority.
        "--cert-dir",
        str(upstream_certificates.ca_bundle.parent),
    ]

    log = workdir / "rundemo.log"
    base_url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=output
        )
        try:
            _wait_until_serving(process, base_url, log)
            yield Platform(base_url=base_url, log=log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def _browser_page(
    browser: Browser, platform: Platform, storage_state: Any = None
) -> Iterator[Page]:
    """Open a page in a fresh browser context; it may only send to loopback."""
    context = browser.new_context(
        base_url=platform.base_url, storage_state=storage_state
    )
    page = context.new_page()
    hosts: set[str | None] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))
    try:
        yield page
    finally:
        context.close()
    assert hosts <= {"127.0.0.1"}, f"the page sent requests off loopback: {hosts}"


def _open_widget(page: Page) -> WidgetPage:
    """Load the widget page, wait for its profile call, then log requests."""
    page.goto("/widget/")
    page.wait_for_selector("#profile-widget:not([data-state=loading])")
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))
    return WidgetPage(page=page, sent=sent)


@pytest.fixture(scope="module")
def signed_in_state(browser: Browser, platform: Platform) -> Any:
    """Cookies of the demo user, signed in once through the sign-in form.

    Signing in hashes the password, which takes a second or two; every
    signed-in test starts from these cookies instead.
    """
    with _browser_page(browser, platform) as page:
        page.goto("/accounts/login/?next=/widget/")
        page.fill("input[name=username]", DEMO_USER["username"])
        page.fill("input[name=password]", "demo")
        page.click("button[type=submit]")
        page.wait_for_url("**/widget/")
        state = page.context.storage_state()
    return state


@pytest.fixture
def widget(browser: Browser, platform: Platform) -> Iterator[WidgetPage]:
    """The widget page of an anonymous visitor, in a fresh browser context."""
    with _browser_page(browser, platform) as page:
        yield _open_widget(page)


@pytest.fixture
def signed_in_widget(
    browser: Browser, platform: Platform, signed_in_state: Any
) -> Iterator[WidgetPage]:
    """The widget page of the signed-in demo user, in a fresh context."""
    with _browser_page(browser, platform, signed_in_state) as page:
        yield _open_widget(page)


def _field(page: Page, container: str, name: str) -> str:
    return page.locator(f"{container} [data-field={name}]").inner_text()


def test_widget_page_signed_in_shows_profile_from_composite(
    signed_in_widget: WidgetPage,
) -> None:
    page = signed_in_widget.page
    expected = user_profile(DEMO_USER["email"])

    page.wait_for_selector("#profile-widget[data-state=profile]")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    assert page.locator(".profile-name").inner_text() == expected["display_name"]
    assert _field(page, "#profile-widget", "email") == DEMO_USER["email"]
    assert _field(page, "#profile-widget", "user-id") == expected["id"]
    assert _field(page, "#profile-widget", "membership-level") == "gold"
    assert _field(page, "#profile-widget", "community") == DEMO_TENANT


def test_widget_page_anonymous_shows_sign_in_link(widget: WidgetPage) -> None:
    page = widget.page

    page.wait_for_selector("#profile-widget[data-state=signed-out]")

    assert "Sign in to see your profile" in page.inner_text("#profile-widget")
    link = page.locator("#profile-sign-in")
    assert link.get_attribute("href") == "/accounts/login/?next=%2Fwidget%2F"


def test_widget_page_failing_composite_shows_code_scope_and_request_id(
    widget: WidgetPage,
) -> None:
    page = widget.page
    page.select_option("#runner-permalink", "browser-upstream-error")

    with page.expect_response("**/browser-upstream-error/execute") as response:
        page.click("#runner-run")
    page.wait_for_selector("#runner-result[data-state=error]")

    assert _field(page, "#runner-result", "status") == "502"
    assert _field(page, "#runner-result", "code") == "STEP_HTTP_ERROR"
    assert _field(page, "#runner-result", "scope") == (
        "Composite step 'flaky-service' (index 1): Downstream (HTTP error)"
    )
    request_id = response.value.headers["x-request-id"]
    assert _field(page, "#runner-result", "request-id") == request_id


def test_widget_page_unknown_composite_button_shows_not_found(
    widget: WidgetPage,
) -> None:
    page = widget.page

    page.click("button[data-permalink=no-such-composite]")
    page.wait_for_selector("#runner-result[data-state=error]")

    assert _field(page, "#runner-result", "code") == "NOT_FOUND"
    assert _field(page, "#runner-result", "scope") == "Request"
    assert re.fullmatch(r"\S+", _field(page, "#runner-result", "request-id"))


def test_widget_page_runner_shows_result_and_server_timing(widget: WidgetPage) -> None:
    page = widget.page

    page.click("button[data-permalink=community-analytics-summary]")
    page.wait_for_selector("#runner-result[data-state=success]")

    assert json.loads(page.inner_text("#runner-data"))["community"] == DEMO_TENANT
    assert "Step: summary" in page.inner_text("#runner-result table.timing")


def test_execute_successful_call_resolves_with_parsed_body(
    widget: WidgetPage,
) -> None:
    result = widget.execute({"permalink": "community-analytics-summary"})

    assert result["outcome"] == "resolved"
    assert result["value"]["community"] == DEMO_TENANT
    assert result["value"]["issuer"] == "widget-platform"


def test_execute_payload_and_query_params_reach_step_templates(
    widget: WidgetPage, upstream_recorder: UpstreamRecorder
) -> None:
    payload = {"locale": "fr", "tags": ["a", "b"], "note": "café & co"}

    result = widget.execute(
        {
            "permalink": "browser-echo",
            "payload": payload,
            "queryParams": {"page": 2, "q": "café & co"},
        }
    )

    assert result["outcome"] == "resolved", result
    assert result["value"]["upstream_body"] == payload
    assert result["value"]["template_query"] == {"page": "2", "q": "café & co"}
    assert result["value"]["upstream_query"] == {"page": ["2"], "q": ["café & co"]}
    assert upstream_recorder.last.json() == payload


def test_execute_error_envelope_rejects_with_connector_execute_error(
    widget: WidgetPage,
) -> None:
    with widget.page.expect_response("**/execute") as response:
        result = widget.execute({"permalink": "browser-upstream-error"})

    assert result["errorClass"] == "ConnectorExecuteError"
    assert result["name"] == "ConnectorExecuteError"
    fields = result["fields"]
    assert fields["status"] == 502
    assert fields["code"] == "STEP_HTTP_ERROR"
    assert "503" in fields["detail"]
    assert fields["scope"] == (
        "Composite step 'flaky-service' (index 1): Downstream (HTTP error)"
    )
    assert fields["requestId"] == response.value.headers["x-request-id"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({}, "permalink"),
        ({"permalink": ""}, "permalink"),
        ({"permalink": "browser-echo", "payload": '{"a": 1}'}, "payload"),
        ({"permalink": "browser-echo", "payload": [1, 2]}, "payload"),
        ({"permalink": "browser-echo", "pathParams": {"id": 1}}, "pathParams"),
        (
            {"permalink": "browser-echo", "queryParams": {"a": {"b": 1}}},
            "queryParams.a",
        ),
        ({"permalink": "browser-echo", "timeout": 0}, "timeout"),
    ],
)
def test_execute_malformed_call_rejects_with_boundary_error_and_sends_nothing(
    widget: WidgetPage, call: dict[str, Any], field: str
) -> None:
    result = widget.execute(call)
    # Anything sent would have been logged by the time a round trip returns.
    widget.execute({"permalink": "browser-echo", "payload": {"marker": True}})

    assert result["errorClass"] == "ConnectorBoundaryError"
    assert result["fields"] == {"field": field}
    assert [request.post_data for request in widget.sent_to_execute()] == [
        '{"marker":true}'
    ]


def test_execute_network_failure_rejects_with_plain_error(
    widget: WidgetPage,
) -> None:
    closed = f"http://127.0.0.1:{_free_port()}/widget-service"

    result = widget.execute({"permalink": "browser-echo"}, {"baseUrl": closed})

    assert result["errorClass"] == "Error"
    assert result["message"].startswith(
        "Network error calling composite 'browser-echo':"
    )
    assert result["fields"] == {}


def test_execute_timeout_rejects_with_plain_error_after_timeout(
    widget: WidgetPage,
) -> None:
    result = widget.execute({"permalink": "browser-slow", "timeout": 500})

    assert result["errorClass"] == "Error"
    assert result["message"] == "Composite 'browser-slow' timed out after 500 ms"
    assert 500 <= result["elapsedMs"] < 2500


def test_execute_non_json_body_rejects_with_plain_error(widget: WidgetPage) -> None:
    result = widget.execute({"permalink": "browser-not-json"})

    assert result["errorClass"] == "Error"
    assert result["message"] == (
        "Composite 'browser-not-json' answered 200 with a body that is not JSON "
        "(Content-Type: text/plain; charset=iso-8859-1)"
    )
    assert LATIN1_TEXT not in json.dumps(result["fields"])


@pytest.mark.parametrize(
    ("query_params", "statuses"),
    [({}, {"open"}), ({"status": "closed"}, {"closed"})],
    ids=["configured-value", "widget-value"],
)
def test_execute_query_params_override_overridable_step_parameter(
    signed_in_widget: WidgetPage, query_params: dict[str, str], statuses: set[str]
) -> None:
    result = signed_in_widget.execute(
        {"permalink": "member-open-tickets", "queryParams": query_params}
    )

    assert result["outcome"] == "resolved", result
    tickets = result["value"]["tickets"]
    assert tickets
    assert {ticket["status"] for ticket in tickets} == statuses


# Each hides where the SDK looks for the token: the meta element, the form
# inputs, the cookie.
HIDE_META_AND_INPUTS = """() => document
  .querySelectorAll('meta[name=csrftoken], input[name=csrfmiddlewaretoken]')
  .forEach((element) => element.remove())"""
DELETE_CSRF_COOKIE = "() => { document.cookie = 'csrftoken=; Max-Age=0; path=/'; }"


@pytest.mark.parametrize(
    ("hidden", "token_source"),
    [
        ([], "document.querySelector('meta[name=csrftoken]').content"),
        ([HIDE_META_AND_INPUTS], "document.cookie.match(/csrftoken=([^;]+)/)[1]"),
    ],
    ids=["meta-element", "cookie"],
)
def test_execute_signed_in_with_discovered_csrf_token_succeeds(
    signed_in_widget: WidgetPage, hidden: list[str], token_source: str
) -> None:
    page = signed_in_widget.page
    token = page.evaluate(f"() => {token_source}")
    for script in hidden:
        page.evaluate(script)

    result = signed_in_widget.execute({"permalink": "auth-and-fetch-user"})

    assert result["outcome"] == "resolved", result
    assert result["value"]["email"] == DEMO_USER["email"]
    (request,) = signed_in_widget.sent_to_execute()
    assert request.headers["x-csrftoken"] == token


@pytest.mark.parametrize(
    ("hidden", "options", "detail"),
    [
        ([], {"csrfToken": "w" * 64}, "CSRF token from the 'X-Csrftoken' HTTP header"),
        ([HIDE_META_AND_INPUTS, DELETE_CSRF_COOKIE], None, "CSRF cookie not set"),
    ],
    ids=["wrong-token", "no-token"],
)
def test_execute_signed_in_without_valid_csrf_token_gets_403_envelope(
    signed_in_widget: WidgetPage,
    hidden: list[str],
    options: dict[str, Any] | None,
    detail: str,
) -> None:
    for script in hidden:
        signed_in_widget.page.evaluate(script)

    result = signed_in_widget.execute({"permalink": "auth-and-fetch-user"}, options)

    assert result["errorClass"] == "ConnectorExecuteError"
    assert result["fields"]["status"] == 403
    assert result["fields"]["code"] == "PERMISSION_DENIED"
    assert detail in result["fields"]["detail"]
    assert result["fields"]["requestId"]


@pytest.mark.parametrize(
    ("permalink", "status", "code"),
    [
        ("auth-and-fetch-user", 401, "AUTHENTICATION_REQUIRED"),
        ("member-open-tickets", 401, "AUTHENTICATION_REQUIRED"),
        ("community-analytics-summary", 200, None),
        ("browser-echo", 200, None),
    ],
)
def test_execute_anonymous_caller_gets_401_only_for_user_composites(
    widget: WidgetPage, permalink: str, status: int, code: str | None
) -> None:
    with widget.page.expect_response(f"**/{permalink}/execute") as response:
        result = widget.execute({"permalink": permalink, "payload": {}})

    assert response.value.status == status
    assert result["fields"].get("code") == code


def test_execute_server_timing_entries_visible_to_page(widget: WidgetPage) -> None:
    with widget.page.expect_response("**/browser-echo/execute") as response:
        widget.execute({"permalink": "browser-echo", "payload": {"a": 1}})
    widget.page.wait_for_function(
        "() => performance.getEntriesByType('resource')"
        ".some((entry) => entry.name.includes('/browser-echo/execute'))"
    )

    entries = widget.page.evaluate(
        """() => performance.getEntriesByType("resource")
            .filter((entry) => entry.name.includes("/browser-echo/execute"))
            .at(-1).serverTiming.map((timing) => ({
              name: timing.name,
              duration: timing.duration,
              description: timing.description,
            }))"""
    )

    assert [(entry["name"], entry["description"]) for entry in entries] == [
        ("step.warm-up", "Step: warm-up"),
        ("step.echo", "Step: echo"),
        ("total", "Total"),
    ]
    header = response.value.headers["server-timing"]
    durations = [float(value) for value in re.findall(r"dur=([\d.]+)", header)]
    assert [entry["duration"] for entry in entries] == durations
    assert all(duration > 0 for duration in durations)
    assert durations[2] >= durations[0] + durations[1]
