"""The template engine: filters, functions, undefined values, availability."""

from __future__ import annotations

import json
from typing import Any

import pytest

from composites import runner
from composites.callers import ANONYMOUS, Caller
from composites.definitions import Composite, KeyValue, Step
from composites.exceptions import TemplateError
from composites.templating import (
    AVAILABLE,
    FUNCTIONS,
    FieldKind,
    compile_template,
    now,
    render,
    unavailable,
)
from composites.timing import RunTimings
from tests.upstream_fixtures import RunningUpstream


def render_source(source: str, **variables: Any) -> str:
    return render(compile_template(source), variables)


def render_error(source: str, **variables: Any) -> str:
    with pytest.raises(TemplateError) as caught:
        render_source(source, **variables)
    return caught.value.detail


# Filters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("{{ (v|from_json).a }}", '{"a": [1, 2]}', "[1, 2]"),
        ("{{ (v|from_json)[1] }}", "[true, null]", "None"),
        ("{{ v|from_json }}", b'{"b": "\xc3\xa9"}', "{'b': 'é'}"),
        ("{{ v|json_encode }}", {"a": [1, "é"], "b": None}, '{"a":[1,"é"],"b":null}'),
        ("{{ v|json_encode }}", "x", '"x"'),
        (
            "{{ v|tojson }}",
            {"b": 1, "a": "<&>"},
            '{"a": "\\u003c\\u0026\\u003e", "b": 1}',
        ),
        ("{{ v|base64_encode }}", "user:pa ss", "dXNlcjpwYSBzcw=="),
        ("{{ v|base64_encode }}", b"\xff\x00", "/wA="),
        ("{{ v|base64_decode }}", "dXNlcjpwYSBzcw==", "user:pa ss"),
        ("{{ v|base64_decode }}", "w6k=", "é"),
        ("{{ v|base64_encode|base64_decode }}", "round trip", "round trip"),
        ("{{ v|url_segment }}", "../a b/?x=1#y", "..%2Fa%20b%2F%3Fx%3D1%23y"),
        ("{{ v|url_segment }}", 42, "42"),
        ("{{ v|url_segment }}", None, ""),
    ],
)
def test_render_filter_gives_documented_result(
    source: str, value: Any, expected: str
) -> None:
    assert render_source(source, v=value) == expected


@pytest.mark.parametrize(
    ("source", "value", "message"),
    [
        ("{{ v|from_json }}", "{not json", "from_json got invalid JSON"),
        ("{{ v|from_json }}", None, "from_json got None"),
        ("{{ v|from_json }}", "[" * 100_000, "from_json got JSON nested too deeply"),
        ("{{ v|base64_decode }}", "abc", "base64_decode got invalid base64"),
        ("{{ v|base64_decode }}", "/wA=", "not UTF-8"),
        ("{{ v|json_encode }}", {1, 2}, "set"),
    ],
    ids=["invalid", "none", "deep", "bad-base64", "not-utf8", "unencodable"],
)
def test_render_filter_failure_is_template_error(
    source: str, value: Any, message: str
) -> None:
    assert message in render_error(source, v=value)


def test_render_json_encode_is_compact_and_keeps_non_ascii() -> None:
    encoded = render_source("{{ v|json_encode }}", v={"k": ["é", 1.5]})

    assert encoded == '{"k":["é",1.5]}'
    assert json.loads(encoded) == {"k": ["é", 1.5]}


# Functions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ now() }}", 1_700_000_000),
        ("{{ now(60) }}", 1_700_000_060),
        ("{{ now(-3600) }}", 1_699_996_400),
        ("{{ now('300') }}", 1_700_000_300),
        ("{{ now(offset=1) }}", 1_700_000_001),
    ],
)
def test_render_now_gives_whole_unix_seconds_plus_offset(
    source: str, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("composites.templating.time.time", lambda: 1_700_000_000.9)

    assert render_source(source, now=now) == str(expected)


def test_render_now_with_non_numeric_offset_is_template_error() -> None:
    assert "invalid literal" in render_error("{{ now('soon') }}", now=now)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("kind", list(FieldKind))
def test_unavailable_function_refuses_naming_function_and_field(
    name: str, kind: FieldKind
) -> None:
    stand_in = unavailable(name, kind)

    with pytest.raises(TemplateError) as caught:
        stand_in("anything")

    assert caught.value.detail == (
        f"{name}() is not available in {kind.value} templates"
    )


def test_available_table_matches_the_contract() -> None:
    assert AVAILABLE[FieldKind.URL_OR_BODY] >= {"now", "get_variable", "jwt_encode"}
    assert "get_secret" not in AVAILABLE[FieldKind.URL_OR_BODY]
    assert "response" not in AVAILABLE[FieldKind.URL_OR_BODY]
    assert AVAILABLE[FieldKind.HEADER_QUERY_AUTH] >= FUNCTIONS
    assert "response" not in AVAILABLE[FieldKind.HEADER_QUERY_AUTH]
    assert AVAILABLE[FieldKind.RESPONSE_BODY] >= {"now", "get_variable", "response"}
    assert not {"get_secret", "jwt_encode"} & AVAILABLE[FieldKind.RESPONSE_BODY]
    for kind in FieldKind:
        assert {"steps", "request", "user", "tenant_id"} <= AVAILABLE[kind]


# Availability at run time: templates that bypassed validation ----------------


def _step(**fields: Any) -> Step:
    compiled = {
        key: compile_template(value) if isinstance(value, str) else value
        for key, value in fields.items()
    }
    return Step(name="only", **compiled)


def _run(step: Step) -> runner.Result:
    composite = Composite(id=1, name="raw", permalink="raw", steps=(step,))
    caller = Caller(user=ANONYMOUS, tenant_id="demo")
    return runner.run(composite, runner.WidgetRequest(), caller, RunTimings())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"url": "https://example.test/{{ get_secret('api_token') }}"},
            "url: get_secret() is not available in url and request_body templates",
        ),
        (
            {
                "url": "https://example.test/",
                "request_body": "{{ get_secret('api_token') }}",
            },
            "request_body: get_secret() is not available in url and request_body",
        ),
        (
            {"url": "https://example.test/{{ response.body }}"},
            "url: 'response' is undefined",
        ),
        (
            {
                "url": "https://example.test/",
                "headers": (
                    KeyValue("X-A", compile_template("{{ response.status_code }}")),
                ),
            },
            "headers[0].value: 'response' is undefined",
        ),
    ],
)
def test_run_function_outside_its_fields_is_template_error_before_sending(
    fields: dict[str, Any], message: str, secrets_file: Any
) -> None:
    with pytest.raises(TemplateError) as caught:
        _run(_step(**fields))

    assert caught.value.detail.startswith(message)
    assert "planted-secret" not in caught.value.detail


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ get_secret('api_token') }}", "get_secret() is not available in"),
        ("{{ jwt_encode({}, 'k') }}", "jwt_encode() is not available in"),
    ],
)
def test_run_response_body_calling_header_only_function_is_template_error(
    template: str,
    message: str,
    upstream: RunningUpstream,
    secrets_file: Any,
    settings: Any,
) -> None:
    settings.COMPOSITES = {
        **settings.COMPOSITES,
        "CA_BUNDLE": upstream.ca_bundle,
        "ALLOW_PRIVATE_NETWORKS": True,
    }
    step = _step(url=upstream.url("/echo"), response_body=template)

    with pytest.raises(TemplateError) as caught:
        _run(step)

    assert caught.value.detail.startswith(f"response_body: {message}")


# Undefined values ------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("[{{ user.nickname }}]", "[]"),
        ("[{{ steps.auth.missing }}]", "[]"),
        ("[{{ steps['auth']['missing'] }}]", "[]"),
        ("[{{ request.query_parameters.absent }}]", "[]"),
        ("{{ user.email }}", "None"),
        ("{{ user.email|default('anonymous', true) }}", "anonymous"),
        ("{{ user.nickname|default('none given') }}", "none given"),
        ("{{ steps.auth.missing is defined }}", "False"),
    ],
)
def test_render_missing_attribute_is_empty_and_none_is_none(
    source: str, expected: str
) -> None:
    variables = {
        "user": {"email": None},
        "steps": {"auth": {"body": "x"}},
        "request": {"query_parameters": {}},
    }

    assert render_source(source, **variables) == expected


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("{{ stepz.auth.body }}", "stepz"),
        ("{{ stepz['auth'] }}", "stepz"),
        ("{{ steps.auth.missing.deeper }}", "missing"),
        ("{{ nothing() }}", "nothing"),
    ],
)
def test_render_undefined_used_as_object_is_error_naming_it(
    source: str, name: str
) -> None:
    assert name in render_error(source, steps={"auth": {}})


def test_render_has_no_html_autoescape() -> None:
    assert render_source("{{ v }}", v="<b>&'\"") == "<b>&'\""


def test_render_keeps_trailing_newline() -> None:
    assert render_source("{{ v }}\n", v="x") == "x\n"


# Compiling -------------------------------------------------------------------


def test_compile_template_records_names_step_refs_and_calls() -> None:
    template = compile_template(
        "{{ steps.auth.body }}{{ steps['fetch-user'].status_code }}"
        "{{ get_secret('k') }}{{ user.id }}{% for x in range(2) %}{{ x }}{% endfor %}"
    )

    assert template.usage.names >= {"steps", "get_secret", "user"}
    assert "x" not in template.usage.names
    assert template.usage.step_refs == ("auth", "fetch-user")
    assert "get_secret" in template.usage.calls


def test_compile_template_syntax_error_raises_jinja_error() -> None:
    import jinja2

    with pytest.raises(jinja2.TemplateSyntaxError):
        compile_template("{{ unclosed ")


def test_compiled_templates_compare_by_source() -> None:
    assert compile_template("{{ a }}") == compile_template("{{ a }}")
    assert compile_template("").is_empty
    assert render(compile_template(""), {}) == ""
