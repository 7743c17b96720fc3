"""The step runner: runs a composite's steps in order for one widget request.

For each step: render the URL, query parameters, headers, authentication and
body; send; read the response within the size cap and the run's deadline;
apply ``response_body``; store the result as ``steps.<name>``.  The first
failing step stops the run with a located ``StepError``.  The last step's
response becomes the ``Result`` returned to the widget.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from composites import authentication, destinations, transport
from composites.callers import Caller
from composites.conf import app_settings
from composites.context import (
    RunContext,
    Upstream,
    WidgetRequest,
    charset_of,
)
from composites.definitions import Composite, ConfigValue, Step
from composites.exceptions import (
    NoSteps,
    StepError,
    StepHTTPError,
    StepNetworkError,
    TemplateError,
)
from composites.exchange import exchange
from composites.templating import (
    CompiledTemplate,
    FieldKind,
    quote_only_source,
    render,
)
from composites.timing import RunTimings

logger = logging.getLogger("composites.runner")

HEADER_VALUE = re.compile(r"^[\t\x20-\x7e]*$")
USER_AGENT = "composites/0.1"


@dataclass(frozen=True, slots=True)
class Result:
    """The response handed back to the widget."""

    status: int
    body: bytes
    content_type: str | None


@dataclass(slots=True)
class _Run:
    """The state of one run: what templates see, its timings and deadline."""

    composite: Composite
    context: RunContext
    timings: RunTimings
    deadline: float

    def timeout(self) -> httpx.Timeout:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise StepNetworkError("the run's deadline passed before this request")
        return httpx.Timeout(min(app_settings.STEP_TIMEOUT, remaining))


def run(
    composite: Composite,
    widget: WidgetRequest,
    caller: Caller,
    timings: RunTimings,
) -> Result:
    """Run every step of ``composite`` and return the last step's response."""
    if not composite.steps:
        raise NoSteps()
    deadline = time.monotonic() + app_settings.RUN_DEADLINE
    state = _Run(composite, RunContext(widget, caller), timings, deadline)
    upstream: Upstream | None = None
    body: str | None = None
    for index, step in enumerate(composite.steps):
        upstream, body = _run_step(state, step, index)
    assert upstream is not None
    return _result(composite.steps[-1], upstream, body)


def _run_step(state: _Run, step: Step, index: int) -> tuple[Upstream, str | None]:
    started = time.perf_counter()
    upstream: Upstream | None = None
    request: httpx.Request | None = None
    try:
        request = _build_request(state, step)
        upstream = _send(state, request)
        if upstream.status >= 400:
            raise StepHTTPError(upstream.status)
        body = _transform(state, step, upstream)
    except StepError as exc:
        exc.locate(step.name, index)
        exc.detail = state.context.scrub(exc.detail)
        status = upstream.status if upstream else None
        timing = state.timings.record(step.name, index, started, status, exc.outcome)
        _log(state, step, request, timing, logging.WARNING)
        raise

    view = upstream.template_view()
    if body is not None:
        view["body"] = body
    state.context.results[step.name] = view
    timing = state.timings.record(step.name, index, started, upstream.status, "ok")
    _log(state, step, request, timing, logging.INFO)
    return upstream, body


# Building the request -------------------------------------------------------


def _build_request(state: _Run, step: Step) -> httpx.Request:
    url = _url(state, step)
    query = _query(state, step)
    headers = _headers(state, step)
    credentials = _credentials(state, step)
    body = _render(state, step.request_body, "request_body", FieldKind.URL_OR_BODY)

    query.extend(credentials.query)
    headers.extend(credentials.headers)
    if body and not any(key.lower() == "content-type" for key, _ in headers):
        headers.append(("Content-Type", _guess_content_type(body)))
    headers.append(("User-Agent", USER_AGENT))
    if query:
        url = _append_query(url, query)
    return httpx.Request(step.method, url, headers=headers, content=body.encode())


def _url(state: _Run, step: Step) -> httpx.URL:
    rendered = _render(state, step.url, "url", FieldKind.URL_OR_BODY)
    return destinations.parse_url(rendered)


def _query(state: _Run, step: Step) -> list[tuple[str, str]]:
    pairs = []
    for index, pair in enumerate(step.query_parameters):
        if pair.overridable and pair.key in state.context.widget.query:
            value = state.context.widget.query[pair.key]
        else:
            where = f"query_parameters[{index}].value"
            value = _render(state, pair.value, where, FieldKind.HEADER_QUERY_AUTH)
        pairs.append((pair.key, value))
    return pairs


def _headers(state: _Run, step: Step) -> list[tuple[str, str]]:
    headers = []
    for index, pair in enumerate(step.headers):
        where = f"headers[{index}].value"
        value = _render(state, pair.value, where, FieldKind.HEADER_QUERY_AUTH)
        _check_header(pair.key, value)
        headers.append((pair.key, value))
    return headers


def _check_header(key: str, value: str) -> None:
    if not HEADER_VALUE.match(value):
        raise TemplateError(
            f"header '{key}' rendered a line break or another character "
            "not allowed in a header value"
        )


def _credentials(state: _Run, step: Step) -> authentication.Credentials:
    auth = step.authentication
    if auth is None:
        return authentication.Credentials()
    config = _render_config(state, auth.config, "authentication.config")
    context = authentication.AuthContext(
        tenant_id=state.context.caller.tenant_id,
        client=transport.client(),
        timeout=state.timeout,
        remember_secret=state.context.remember_secret,
    )
    try:
        credentials = authentication.authenticate(auth.type, config, context)
    except StepError as exc:
        if not exc.detail.startswith("authentication"):
            exc.detail = f"authentication ({auth.type}): {exc.detail}"
        raise
    for key, value in credentials.headers:
        _check_header(key, value)
    return credentials


def _render_config(
    state: _Run, config: Mapping[str, ConfigValue], where: str
) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, CompiledTemplate):
            kind = FieldKind.HEADER_QUERY_AUTH
            rendered[key] = _render(state, value, f"{where}.{key}", kind)
        else:
            rendered[key] = _render_config(state, value, f"{where}.{key}")
    return rendered


def _append_query(url: httpx.URL, pairs: list[tuple[str, str]]) -> httpx.URL:
    extra = urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
    query = url.query.decode("ascii")
    combined = f"{query}&{extra}" if query else extra
    return url.copy_with(query=combined.encode("ascii"))


def _guess_content_type(body: str) -> str:
    try:
        import json

        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json"


# Rendering -----------------------------------------------------------------


def _render(
    state: _Run,
    template: CompiledTemplate | None,
    where: str,
    kind: FieldKind,
    response: Upstream | None = None,
) -> str:
    if template is None:
        return ""
    try:
        return render(template, state.context.variables(kind, response))
    except StepError as exc:
        exc.detail = f"{where}: {quote_only_source(exc.detail, template.source)}"
        raise


# Sending and reading ---------------------------------------------------------


def _send(state: _Run, request: httpx.Request) -> Upstream:
    reply = exchange(transport.client(), request, state.timeout())
    return Upstream(reply.status, _flatten(reply.headers), reply.content)


def _flatten(headers: httpx.Headers) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in headers.multi_items():
        key = key.lower()
        flat[key] = f"{flat[key]}, {value}" if key in flat else value
    return flat


# The step's output and the widget's response ---------------------------------


def _transform(state: _Run, step: Step, upstream: Upstream) -> str | None:
    if step.response_body is None:
        return None
    kind = FieldKind.RESPONSE_BODY
    return _render(state, step.response_body, "response_body", kind, upstream)


def _result(step: Step, upstream: Upstream, body: str | None) -> Result:
    content_type = upstream.headers.get("content-type")
    content = upstream.content if body is None else body.encode()
    if body is not None and content_type and charset_of(content_type):
        content_type = _with_utf8(content_type)
    if step.method == "HEAD":
        content = b""
    return Result(upstream.status, content, step.response_content_type or content_type)


def _with_utf8(content_type: str) -> str:
    media_type = content_type.split(";")[0].strip()
    return f"{media_type}; charset=utf-8"


def _log(
    state: _Run,
    step: Step,
    request: httpx.Request | None,
    timing: Any,
    level: int,
) -> None:
    host = request.url.host if request is not None else "-"
    path = request.url.path if request is not None else "-"
    logger.log(
        level,
        "composite=%s step=%s method=%s host=%s path=%s status=%s outcome=%s "
        "duration_ms=%.1f",
        state.composite.permalink,
        step.name,
        step.method,
        host,
        path,
        timing.status_code,
        timing.outcome,
        timing.duration_ms,
        extra={
            "composite": state.composite.permalink,
            "step": step.name,
            "step_index": timing.index,
            "status_code": timing.status_code,
            "outcome": timing.outcome,
            "duration_ms": timing.duration_ms,
            "request_id": state.timings.request_id,
        },
    )
