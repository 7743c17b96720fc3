"""Tests of the checks of a step's fields (§3): types, limits, rules."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from tests.registry_documents import (
    SLUG_RULE,
    STEP,
    composite,
    document,
    problems,
    step,
    step_problems,
    validate,
)

HOST = "https://api.example.com/"
METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"


def header(**fields: Any) -> dict[str, Any]:
    return {"key": "X-Api-Key", "value": "v", **fields}


# Each field with a value of every wrong JSON type.
WRONG_TYPES = [
    ("name", 7, "a number"),
    ("name", None, "null"),
    ("name", ["fetch"], "an array"),
    ("url", {"href": HOST}, "an object"),
    ("url", True, "a boolean"),
    ("method", 1, "a number"),
    ("method", None, "null"),
    ("request_body", {"a": 1}, "an object"),
    ("request_body", 1, "a number"),
    ("response_body", ["x"], "an array"),
    ("response_content_type", 1, "a number"),
]


@pytest.mark.parametrize(("field", "value", "kind"), WRONG_TYPES)
def test_step_field_of_the_wrong_type_is_an_error(
    field: str, value: Any, kind: str
) -> None:
    assert step_problems(**{field: value}) == [
        f"error {STEP}.{field}: must be a string, not {kind}"
    ]


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("headers", {"key": "a"}, "an object"),
        ("headers", "X-A: 1", "a string"),
        ("query_parameters", None, "null"),
        ("query_parameters", 1, "a number"),
    ],
)
def test_step_list_field_that_is_not_an_array_is_an_error(
    field: str, value: Any, kind: str
) -> None:
    assert step_problems(**{field: value}) == [
        f"error {STEP}.{field}: must be an array, not {kind}"
    ]


@pytest.mark.parametrize("value", ["fetch", [], 3, None])
def test_step_that_is_not_an_object_is_an_error(value: Any) -> None:
    kinds = {str: "a string", list: "an array", int: "a number"}
    kind = kinds.get(type(value), "null")

    assert problems(document(composite(value))) == [
        f"error {STEP}: must be an object, not {kind}"
    ]


@pytest.mark.parametrize("field", ["name", "url"])
def test_step_required_field_missing_is_an_error(field: str) -> None:
    raw = step()
    del raw[field]

    assert problems(document(composite(raw))) == [f"error {STEP}.{field}: is required"]


@pytest.mark.parametrize(
    ("field", "limit"),
    [("name", 255), ("url", 2048), ("response_content_type", 255)],
)
def test_step_string_at_its_limit_passes_and_one_more_fails(
    field: str, limit: int
) -> None:
    def value(length: int) -> str:
        if field == "url":
            return HOST + "a" * (length - len(HOST))
        if field == "name":
            return "n" * length
        return "application/" + "x" * (length - len("application/"))

    assert step_problems(**{field: value(limit)}) == []
    assert step_problems(**{field: value(limit + 1)}) == [
        f"error {STEP}.{field}: is {limit + 1} characters long; the limit is {limit}"
    ]


@pytest.mark.parametrize("field", ["headers", "query_parameters"])
@pytest.mark.parametrize(("part", "limit"), [("key", 255), ("value", 1000)])
def test_step_key_and_value_at_their_limits_pass_and_one_more_fails(
    field: str, part: str, limit: int
) -> None:
    def pair(length: int) -> list[dict[str, Any]]:
        return [header(**{part: "k" * length})]

    assert step_problems(**{field: pair(limit)}) == []
    assert step_problems(**{field: pair(limit + 1)}) == [
        f"error {STEP}.{field}[0].{part}: is {limit + 1} characters long; the "
        f"limit is {limit}"
    ]


@pytest.mark.parametrize(
    ("name", "fine"),
    [
        ("fetch", True),
        ("fetch-user-2", True),
        ("2fa", True),
        ("Fetch", False),
        ("fetch_user", False),
        ("-fetch", False),
        ("fetch-", False),
        ("fetch--user", False),
        ("fetch user", False),
        ("fetch\n", False),
        ("fétch", False),
    ],
)
def test_step_name_must_be_a_slug(name: str, fine: bool) -> None:
    expected = [] if fine else [f"error {STEP}.name: {_quoted(name)} {SLUG_RULE}"]

    assert step_problems(name=name) == expected


def test_step_name_empty_is_an_error() -> None:
    assert step_problems(name="") == [f"error {STEP}.name: must not be empty"]


def test_step_name_repeated_in_a_composite_is_an_error() -> None:
    chain = composite(step(name="a"), step(name="b"), step(name="a"))

    assert problems(document(chain)) == [
        "error composite_connectors[0].steps[2].name: duplicate step name 'a' "
        "(also steps[0])"
    ]


def test_step_name_repeated_in_another_composite_passes() -> None:
    other = composite(permalink="other")

    assert problems(document(composite(), other)) == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.example.com/", "must use https://, not http://"),
        ("HTTP://api.example.com/", "must use https://, not http://"),
        ("ftp://api.example.com/", "must be an absolute https:// URL"),
        ("/items", "must be an absolute https:// URL"),
        ("api.example.com/items", "must be an absolute https:// URL"),
        (" https://api.example.com/", "must be an absolute https:// URL"),
        ("{{ base }}/items", "must start with https:// before any template"),
        ("https://", "has no host"),
        ("https:///items", "has no host"),
        (
            "https://api.example.com/a b",
            "must not contain spaces or control characters outside its templates",
        ),
        (
            "https://api.example.com/\n",
            "must not contain spaces or control characters outside its templates",
        ),
        ("", "must not be empty"),
    ],
)
def test_step_url_that_is_not_https_is_an_error(url: str, message: str) -> None:
    assert step_problems(url=url) == [f"error {STEP}.url: {message}"]


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/items",
        "HTTPS://api.example.com/items",
        "https://{{ get_variable('host') }}/items",
        "https://api.example.com/{{ ' a b ' | trim }}",
        "https://{{ get_variable('host') }}",
    ],
)
def test_step_url_that_is_https_once_templates_are_set_aside_passes(
    url: str,
) -> None:
    assert step_problems(url=url) == []


@override_settings(COMPOSITES={"ALLOW_HTTP": True})
def test_step_url_http_with_allow_http_is_a_warning() -> None:
    report = validate(composite(step(url="http://127.0.0.1:8080/")))

    assert [str(p) for p in report.problems] == [
        f"warning {STEP}.url: uses http://, accepted only because ALLOW_HTTP is on"
    ]
    assert report.registry is not None


@pytest.mark.parametrize("method", sorted(METHODS.split(", ")))
def test_step_method_of_the_contract_passes(method: str) -> None:
    registry = validate(composite(step(method=method))).registry

    assert registry is not None
    assert registry.composites[0].steps[0].method == method


def test_step_method_defaults_to_get() -> None:
    registry = validate(composite(step())).registry

    assert registry is not None
    assert registry.composites[0].steps[0].method == "GET"


def test_step_method_in_lower_case_is_upper_cased_with_a_warning() -> None:
    report = validate(composite(step(method="post")))

    assert [str(p) for p in report.problems] == [
        f"warning {STEP}.method: write 'POST' in upper case"
    ]
    assert report.registry is not None
    assert report.registry.composites[0].steps[0].method == "POST"


@pytest.mark.parametrize(
    ("method", "shown"),
    [("FETCH", "'FETCH'"), ("CONNECT", "'CONNECT'"), ("X" * 80, f"'{'X' * 60}...'")],
)
def test_step_method_unknown_is_an_error(method: str, shown: str) -> None:
    assert step_problems(method=method) == [
        f"error {STEP}.method: {shown} is not one of {METHODS}"
    ]


@pytest.mark.parametrize("field", ["headers", "query_parameters"])
@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("X-A: 1", "[0]: must be an object, not a string"),
        ({"value": "v"}, "[0].key: is required"),
        ({"key": "k"}, "[0].value: is required"),
        (header(key=1), "[0].key: must be a string, not a number"),
        (header(key=""), "[0].key: must not be empty"),
        (header(value=None), "[0].value: must be a string, not null"),
        (header(value=1), "[0].value: must be a string, not a number"),
        (
            header(overridable="yes"),
            "[0].overridable: must be true or false, not a string",
        ),
        (header(overridable=1), "[0].overridable: must be true or false, not a number"),
    ],
)
def test_step_key_value_of_the_wrong_shape_is_an_error(
    field: str, item: Any, expected: str
) -> None:
    assert step_problems(**{field: [item]}) == [f"error {STEP}.{field}{expected}"]


@pytest.mark.parametrize("field", ["headers", "query_parameters"])
def test_step_key_value_empty_value_passes(field: str) -> None:
    assert step_problems(**{field: [header(value="")]}) == []


@pytest.mark.parametrize(
    "key", ["bad key", "X-A:", "X-A\n", "X-A\r\nX-B", "Ünï", "(x)"]
)
def test_step_header_key_that_is_not_a_header_name_is_an_error(key: str) -> None:
    assert step_problems(headers=[header(key=key)]) == [
        f"error {STEP}.headers[0].key: {_quoted(key)} is not a valid header name"
    ]


def test_step_query_key_may_be_any_text() -> None:
    assert step_problems(query_parameters=[header(key="filter[name] é")]) == []


@pytest.mark.parametrize("value", ["a\nb", "a\r\nX-Injected: 1", "a\0"])
def test_step_header_value_with_a_literal_line_break_is_an_error(value: str) -> None:
    assert step_problems(headers=[header(value=value)]) == [
        f"error {STEP}.headers[0].value: must not contain a line break"
    ]


def test_step_header_line_break_inside_a_template_is_left_to_run_time() -> None:
    source = "{{ 'a\nb' }}"

    assert step_problems(headers=[header(value=source)]) == []


def test_step_header_overridable_is_a_warning_at_its_own_index() -> None:
    headers = [header(key="bad key"), header(overridable=True)]

    assert step_problems(headers=headers) == [
        f"error {STEP}.headers[0].key: 'bad key' is not a valid header name",
        f"warning {STEP}.headers[1].overridable: has no effect on a composite "
        "step's header",
    ]


def test_step_header_overridable_alone_is_a_warning_and_loads() -> None:
    report = validate(composite(step(headers=[header(overridable=True)])))

    assert [str(p) for p in report.problems] == [
        f"warning {STEP}.headers[0].overridable: has no effect on a composite "
        "step's header"
    ]
    assert report.registry is not None


def test_step_query_parameter_overridable_passes_and_is_kept() -> None:
    report = validate(composite(step(query_parameters=[header(overridable=True)])))

    assert report.problems == []
    assert report.registry is not None
    assert report.registry.composites[0].steps[0].query_parameters[0].overridable


def test_step_response_content_type_on_a_step_other_than_the_last_is_a_warning() -> (
    None
):
    chain = composite(
        step(name="a", response_content_type="application/json"),
        step(name="b", response_content_type="text/plain"),
    )
    report = validate(chain)

    assert [str(p) for p in report.problems] == [
        "warning composite_connectors[0].steps[0].response_content_type: has no "
        "effect on a step other than the last"
    ]
    assert report.registry is not None


def test_step_response_content_type_with_a_line_break_is_an_error() -> None:
    assert step_problems(response_content_type="text/plain\r\nX-A: 1") == [
        f"error {STEP}.response_content_type: must not contain a line break"
    ]


def test_step_unknown_keys_are_warnings_and_the_step_loads() -> None:
    report = validate(composite(step(reponse_body="{{ 1 }}", **{"a b": 1})))

    assert [str(p) for p in report.problems] == [
        f"warning {STEP}.reponse_body: unknown key, ignored",
        f'warning {STEP}["a b"]: unknown key, ignored',
    ]
    assert report.registry is not None


def test_step_every_problem_is_reported_at_once() -> None:
    raw = {
        "name": "Bad_Name",
        "url": "http://x/",
        "method": "FETCH",
        "headers": [header(key="a b")],
        "query_parameters": [{"key": 1, "value": "v"}],
        "request_body": "{{ get_secret('k') }}",
        "response_body": "{% if %}",
        "response_content_type": 5,
    }

    assert [p.split(":")[0] for p in problems(document(composite(raw)))] == [
        f"error {STEP}.name",
        f"error {STEP}.url",
        f"error {STEP}.method",
        f"error {STEP}.headers[0].key",
        f"error {STEP}.query_parameters[0].key",
        f"error {STEP}.request_body",
        f"error {STEP}.response_body",
        f"error {STEP}.response_content_type",
    ]


def test_step_fields_are_compiled_into_the_registry() -> None:
    raw = step(
        method="PATCH",
        headers=[header(value="{{ get_secret('k') }}")],
        query_parameters=[header(key="q", value="{{ tenant_id }}")],
        request_body='{"a": 1}',
        response_body="{{ response.body }}",
        response_content_type="application/json",
    )

    registry = validate(composite(raw)).registry

    assert registry is not None
    compiled = registry.composites[0].steps[0]
    assert compiled.url.source == "https://api.example.com/items"
    assert compiled.headers[0].value.source == "{{ get_secret('k') }}"
    assert compiled.query_parameters[0].key == "q"
    assert compiled.request_body is not None
    assert compiled.request_body.source == '{"a": 1}'
    assert compiled.response_body is not None
    assert compiled.response_content_type == "application/json"


def test_step_empty_bodies_are_no_templates() -> None:
    registry = validate(composite(step(request_body="", response_body=""))).registry

    assert registry is not None
    assert registry.composites[0].steps[0].request_body is None
    assert registry.composites[0].steps[0].response_body is None


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("https://api.example.com/items/{{ request.query_parameters.id }}", True),
        (
            "https://api.example.com/items/{{ request.query_parameters.id|urlencode }}",
            True,
        ),
        (
            "https://api.example.com/{{ request.query_parameters.id|url_segment }}",
            False,
        ),
        ("https://api.example.com/items/{{ tenant_id }}", False),
    ],
    ids=["raw", "urlencode", "url-segment", "not-visitor-input"],
)
def test_step_url_with_visitor_input_warns_unless_url_segment(
    url: str, warned: bool
) -> None:
    warning = (
        "warning composite_connectors[0].steps[0].url: puts the visitor's input "
        "(request.*) into the URL, where it could change the host or the path; "
        "keep it to the path and pass it through the url_segment filter"
    )

    assert step_problems(url=url) == ([warning] if warned else [])
