"""Properties that hold for any input, checked with generated examples.

- The registry loader answers any JSON value, and any file content, with a
  ``Report`` (a registry or located errors); it never raises.
- Rendering a template with any widget body and query string either gives
  text or raises ``TemplateError``; nothing else escapes.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composites import runner
from composites.callers import CallerUser, ProfileFields
from composites.exceptions import TemplateError
from composites.templating import compile_template, now, render
from composites.validation import Report, validate_document, validate_text

EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | st.integers() | finite | st.text()
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)

# Registry-shaped documents reach deeper into validation than random JSON.
FIELD_NAMES = st.sampled_from(
    ["name", "permalink", "steps", "url", "method", "headers", "query_parameters"]
    + ["authentication", "request_body", "response_body", "response_content_type"]
    + ["key", "value", "overridable", "type", "config", "reponse_body"]
)
TEMPLATE_TEXTS = st.sampled_from(
    [
        "https://api.example.com/v1",
        "https://{{ steps.first.body }}",
        "{{ get_secret('k') }}",
        "{{ steps.later.body }}",
        "{% for x in range(3) %}{{ x }}{% endfor %}",
        "{{ unclosed",
        "{{ response.body|from_json }}",
        "http://insecure.example.com",
        "",
    ]
)
AUTH_TYPES = st.sampled_from(
    ["none", "api_key", "apikey", "basic", "bearer", "jwt", "oauth_jwt_bearer"]
    + ["oauth_client_credentials", "unknown"]
)


def _shaped(leaf: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaf,
        lambda children: st.lists(children, max_size=3)
        | st.dictionaries(FIELD_NAMES, children, max_size=6),
        max_leaves=30,
    )


registry_like = st.fixed_dictionaries(
    {
        "composite_connectors": st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.text(max_size=20) | st.integers(),
                    "steps": st.lists(
                        st.dictionaries(
                            FIELD_NAMES,
                            _shaped(TEMPLATE_TEXTS | AUTH_TYPES | scalars),
                            max_size=8,
                        ),
                        max_size=3,
                    ),
                },
                optional={"permalink": st.text(max_size=12) | scalars},
            ),
            max_size=3,
        )
    },
    optional={"connectors": json_values},
)


def _assert_report(report: Any) -> None:
    assert isinstance(report, Report)
    assert (report.registry is None) == bool(report.errors)


@EXAMPLES
@given(json_values)
def test_validate_document_any_json_value_gives_a_report(document: Any) -> None:
    _assert_report(validate_document(document))


@EXAMPLES
@given(registry_like)
def test_validate_document_registry_shaped_value_gives_a_report(
    document: dict[str, Any],
) -> None:
    _assert_report(validate_document(document))


@EXAMPLES
@given(registry_like)
def test_validate_text_of_serialised_document_matches_validate_document(
    document: dict[str, Any],
) -> None:
    from_text = validate_text(json.dumps(document))

    _assert_report(from_text)
    assert from_text.problems == validate_document(document).problems


@EXAMPLES
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_validate_text_any_content_gives_a_report(content: bytes | str) -> None:
    _assert_report(validate_text(content))


# Rendering with hostile widget input -----------------------------------------

WIDGET_TEMPLATES = [
    compile_template(source)
    for source in (
        "{{ request.body_text }}",
        "{{ request.body_raw }}",
        "{{ request.body_text|from_json }}",
        "{{ (request.body_text|from_json).a.b }}",
        "{{ request.body_raw|base64_encode|base64_decode }}",
        "{{ request.body_text|base64_decode }}",
        "{{ request.body_text|json_encode }}|{{ request.body_text|tojson }}",
        "{{ request.query_parameters|tojson }}",
        "{% for k, v in request.query_parameters.items() %}{{ k }}={{ v }}&"
        "{% endfor %}",
        "{{ request.query_parameters.q|int * 1000 }}",
        "{{ request.query_parameters.q * 3 }}",
        "{{ request.query_parameters.q|format(request.body_text) }}",
        "{{ request.body_text % request.query_parameters }}",
        "{{ request.body_text|replace(request.query_parameters.q or 'x', 'yy') }}",
        "{{ request.body_text|center(request.query_parameters.q|int) }}",
        "{{ request.body_text.split(request.query_parameters.q or none)|join('-') }}",
        "{{ request.headers['Content-Type'] }}",
        "{{ user.profile_fields.by_id(request.query_parameters.q) }}",
        "{{ now(request.query_parameters.q|int) > 0 }}",
        "{{ request.body_text|wordwrap(request.query_parameters.q|int(1)) }}",
        "{{ request.body_text|indent(request.query_parameters.q|int) }}",
        "{{ (request.body_text|from_json)|sum }}",
    )
]
USER = CallerUser(
    id=1,
    username="ada",
    profile_fields=ProfileFields(lambda field_id: {1: "one"}.get(field_id)),
)
query_values = st.text(max_size=20) | st.integers(-(10**12), 10**12).map(str)
widget_requests = st.builds(
    runner.WidgetRequest,
    body=st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | json_values.map(lambda value: json.dumps(value).encode()),
    content_type=st.none() | st.text(max_size=30),
    query=st.dictionaries(
        st.sampled_from(["q", "a", "b"]) | st.text(max_size=5),
        query_values,
        max_size=4,
    ),
)


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(widget_requests)
def test_render_any_widget_request_gives_text_or_template_error(
    widget: runner.WidgetRequest,
) -> None:
    variables = {
        "request": widget.template_view(),
        "user": USER,
        "steps": {},
        "tenant_id": "demo",
        "now": now,
    }
    for template in WIDGET_TEMPLATES:
        try:
            output = render(template, variables)
        except TemplateError:
            continue
        assert isinstance(output, str)


@EXAMPLES
@given(st.text(max_size=60))
def test_compile_and_render_any_source_raise_only_documented_errors(
    source: str,
) -> None:
    import jinja2

    try:
        template = compile_template(source)
    except (jinja2.TemplateSyntaxError, RecursionError):
        return
    with contextlib.suppress(TemplateError):
        assert isinstance(render(template, {"steps": {}, "now": now}), str)
