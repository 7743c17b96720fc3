"""Tests of the static checks of templates: names by field, step order."""

from __future__ import annotations

from typing import Any

import pytest

from composites.template_checks import has_markup, literal_text
from tests.registry_documents import (
    STEP,
    composite,
    document,
    problems,
    step,
    step_problems,
    validate,
)

URL_OR_BODY = "url and request_body"
HEADER_QUERY_AUTH = "header, query and authentication"
RESPONSE_BODY = "response_body"


def in_field(field: str, source: str) -> tuple[dict[str, Any], str, str]:
    """Return step fields putting ``source`` in ``field``, its location and
    the kind of template it is."""
    if field == "url":
        fields = {"url": f"https://api.example.com/{source}"}
        return fields, f"{STEP}.url", URL_OR_BODY
    if field == "request_body":
        return {"request_body": source}, f"{STEP}.request_body", URL_OR_BODY
    if field == "header":
        fields = {"headers": [{"key": "X-A", "value": source}]}
        return fields, f"{STEP}.headers[0].value", HEADER_QUERY_AUTH
    if field == "query":
        fields = {"query_parameters": [{"key": "a", "value": source}]}
        return fields, f"{STEP}.query_parameters[0].value", HEADER_QUERY_AUTH
    if field == "authentication":
        fields = {"authentication": {"type": "bearer", "config": {"token": source}}}
        return fields, f"{STEP}.authentication.config.token", HEADER_QUERY_AUTH
    return {"response_body": source}, f"{STEP}.response_body", RESPONSE_BODY


FIELDS = ["url", "request_body", "header", "query", "authentication", "response_body"]
EVERYWHERE = [
    "{{ request.body_text }}",
    "{{ request.query_parameters.page }}",
    "{{ user.email }}",
    "{{ user.profile_fields.by_id(1) }}",
    "{{ tenant_id }}",
    "{{ now(60) }}",
    "{{ get_variable('host') }}",
    "{{ range(3) | join }}",
    "{% set x = 1 %}{{ x }}",
    "{% for item in [1, 2] %}{{ loop.index }}{% endfor %}",
]


@pytest.mark.parametrize("source", EVERYWHERE)
@pytest.mark.parametrize("field", FIELDS)
def test_template_names_available_everywhere_pass(field: str, source: str) -> None:
    fields, _, _ = in_field(field, source)

    errors = [line for line in step_problems(**fields) if line.startswith("error")]
    assert errors == []


# Each row: where the use sits, what it uses, whether the contract allows it.
AVAILABILITY = [
    ("url", "{{ get_secret('k') }}", "get_secret()", False),
    ("request_body", "{{ get_secret('k') }}", "get_secret()", False),
    ("response_body", "{{ get_secret('k') }}", "get_secret()", False),
    ("header", "{{ get_secret('k') }}", "get_secret()", True),
    ("query", "{{ get_secret('k') }}", "get_secret()", True),
    ("authentication", "{{ get_secret('k') }}", "get_secret()", True),
    ("url", "{{ jwt_encode({'a': 1}, 'k') }}", "jwt_encode()", True),
    ("request_body", "{{ jwt_encode({'a': 1}, 'k') }}", "jwt_encode()", True),
    ("header", "{{ jwt_encode({'a': 1}, 'k') }}", "jwt_encode()", True),
    ("authentication", "{{ jwt_encode({'a': 1}, 'k') }}", "jwt_encode()", True),
    ("response_body", "{{ jwt_encode({'a': 1}, 'k') }}", "jwt_encode()", False),
    ("url", "{{ response.status_code }}", "response", False),
    ("request_body", "{{ response.body }}", "response", False),
    ("header", "{{ response.headers }}", "response", False),
    ("query", "{{ response.body }}", "response", False),
    ("authentication", "{{ response.body }}", "response", False),
    ("response_body", "{{ response.body | from_json | json_encode }}", "", True),
    ("url", "{{ get_secret }}", "get_secret", False),
]


@pytest.mark.parametrize(("field", "source", "used", "allowed"), AVAILABILITY)
def test_template_function_outside_its_fields_is_an_error(
    field: str, source: str, used: str, allowed: bool
) -> None:
    fields, location, kind = in_field(field, source)

    expected = (
        []
        if allowed
        else [f"error {location}: {used} is not available in {kind} templates"]
    )
    assert step_problems(**fields) == expected


@pytest.mark.parametrize("field", FIELDS)
def test_template_unknown_name_is_an_error(field: str) -> None:
    fields, location, _ = in_field(field, "{{ stepz.auth.body }}")

    assert step_problems(**fields) == [f"error {location}: unknown variable 'stepz'"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{% if %}",
            "template syntax error on line 1: Expected an expression, got 'end of "
            "statement block'",
        ),
        ("{{ x | nope }}", "template syntax error on line 1: No filter named 'nope'."),
        (
            "a\n\n{{ 1 + }}",
            "template syntax error on line 3: unexpected 'end of print statement'",
        ),
        ("{% include 'other' %}", "extends, include and import are not available"),
        ("{%- extends 'base' %}", "extends, include and import are not available"),
        ("{% import 'm' as m %}", "extends, include and import are not available"),
        ("{% from 'm' import f %}", "extends, include and import are not available"),
        (
            "{% for i in range(1) %}" * 25 + "{% endfor %}" * 25,
            "the template nests expressions or blocks too deeply",
        ),
        (
            "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
            "the template nests expressions or blocks too deeply",
        ),
        (
            "{{ " + "[" * 400 + "]" * 400 + " }}",
            "the template nests expressions or blocks too deeply",
        ),
    ],
    ids=[
        "syntax",
        "unknown-filter",
        "line-3",
        "include",
        "extends",
        "import",
        "from-import",
        "nested-blocks",
        "nested-parentheses",
        "nested-lists",
    ],
)
def test_template_that_cannot_compile_is_an_error(source: str, message: str) -> None:
    assert step_problems(request_body=source) == [
        f"error {STEP}.request_body: {message}"
    ]


def test_template_tag_words_inside_text_are_not_loading_tags() -> None:
    assert step_problems(request_body="{% raw %}{% include %}{% endraw %}") == []


def chain(*sources: str) -> list[str]:
    """Problems of a chain of steps a, b-c, d whose URLs end in ``sources``."""
    names = ["a", "b-c", "d"]
    steps = [
        step(name=name, url=f"https://api.example.com/{source}")
        for name, source in zip(names, sources, strict=False)
    ]
    return problems(document(composite(*steps)))


def test_template_step_reference_to_an_earlier_step_passes() -> None:
    assert chain("", "{{ steps.a.body }}", "{{ steps['b-c'].status_code }}") == []


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (
            ["{{ steps.a.body }}"],
            "error composite_connectors[0].steps[0].url: refers to its own step "
            "'a'; only earlier steps can be used",
        ),
        (
            ["{{ steps.d.body }}", "", ""],
            "error composite_connectors[0].steps[0].url: refers to step 'd', which "
            "runs later",
        ),
        (
            ["", "{{ steps['d'].headers }}", ""],
            "error composite_connectors[0].steps[1].url: refers to step 'd', which "
            "runs later",
        ),
        (
            ["", "", "{{ steps.nope.body }}"],
            "error composite_connectors[0].steps[2].url: refers to unknown step 'nope'",
        ),
        (
            ["", "", "{{ steps.b-c.body }}"],
            "error composite_connectors[0].steps[2].url: refers to unknown step "
            "'b'; a hyphenated name needs brackets: steps['b-c']",
        ),
    ],
    ids=["itself", "later", "later-bracketed", "unknown", "hyphen-dotted"],
)
def test_template_step_reference_out_of_order_is_an_error(
    sources: list[str], expected: str
) -> None:
    assert chain(*sources) == [expected]


@pytest.mark.parametrize("field", ["header", "authentication", "response_body"])
def test_template_step_reference_to_a_later_step_is_an_error_in_any_field(
    field: str,
) -> None:
    fields, location, _ = in_field(field, "{{ steps.later.body }}")
    chain = composite(step(**fields), step(name="later"))

    assert problems(document(chain)) == [
        f"error {location}: refers to step 'later', which runs later"
    ]


@pytest.mark.parametrize(
    ("field", "requires_user"),
    [
        ("header", True),
        ("query", True),
        ("authentication", True),
        ("url", False),
        ("request_body", False),
        ("response_body", False),
    ],
)
def test_template_user_in_header_query_or_authentication_requires_a_user(
    field: str, requires_user: bool
) -> None:
    fields, _, _ = in_field(field, "{{ user.email }}")

    registry = validate(composite(step(**fields))).registry

    assert registry is not None
    assert registry.composites[0].requires_user is requires_user


@pytest.mark.parametrize(
    ("source", "literal", "markup"),
    [
        ("https://x/{{ a }}/y", "https://x//y", True),
        ("{% if a %}b{% endif %}c{# note #}", "bc", True),
        ("{{ '}}' }}", "' }}", True),
        ("plain { text }", "plain { text }", False),
    ],
)
def test_literal_text_sets_template_markup_aside(
    source: str, literal: str, markup: bool
) -> None:
    assert literal_text(source) == literal
    assert has_markup(source) is markup


STEP_HAS = "it has body, status_code, headers"
REQUEST_HAS = "it has body_text, body_raw, headers, query_parameters"
USER_HAS = (
    "it has id, email, first_name, last_name, username, profile_fields, "
    "is_authenticated"
)


def errors_after_auth(source: str) -> list[str]:
    """Errors of ``source`` as the response_body of a step after ``auth``."""
    chain = composite(step(name="auth"), step(response_body=source))
    return [line for line in problems(document(chain)) if line.startswith("error")]


# Each row: a template in the response_body of the second step of a chain
# whose first step is ``auth``, and the attribute problem it has, if any.
ATTRIBUTES = [
    ("{{ steps.auth.body }}", None),
    ("{{ steps.auth.status_code }}{{ steps.auth.headers }}", None),
    ("{{ steps['auth'].headers }}", None),
    ("{{ steps.auth['status_code'] }}", None),
    (
        "{{ steps.auth.bdy }}",
        f"steps.auth has no attribute 'bdy' (did you mean 'body'?); {STEP_HAS}",
    ),
    (
        "{{ steps['auth'].stauts_code }}",
        "steps.auth has no attribute 'stauts_code' (did you mean "
        f"'status_code'?); {STEP_HAS}",
    ),
    (
        "{{ steps.auth['header'] }}",
        f"steps.auth has no attribute 'header' (did you mean 'headers'?); {STEP_HAS}",
    ),
    ("{{ steps.auth.json }}", f"steps.auth has no attribute 'json'; {STEP_HAS}"),
    ("{{ response.body }}{{ response.status_code }}{{ response.headers }}", None),
    (
        "{{ response.stauts_code }}",
        "response has no attribute 'stauts_code' (did you mean 'status_code'?); "
        f"{STEP_HAS}",
    ),
    ("{{ response['text'] }}", f"response has no attribute 'text'; {STEP_HAS}"),
    ("{{ request.body_text }}{{ request.body_raw }}{{ request.headers }}", None),
    ("{{ request['query_parameters'] }}", None),
    (
        "{{ request.query_parameter }}",
        "request has no attribute 'query_parameter' (did you mean "
        f"'query_parameters'?); {REQUEST_HAS}",
    ),
    ("{{ request.query }}", f"request has no attribute 'query'; {REQUEST_HAS}"),
    ("{{ user.id }}{{ user.email }}{{ user.first_name }}", None),
    ("{{ user.last_name }}{{ user['username'] }}", None),
    ("{{ user.profile_fields.by_id(3) }}", None),
    ("{% if user.is_authenticated %}in{% endif %}", None),
    (
        "{{ user.mail }}",
        f"user has no attribute 'mail' (did you mean 'email'?); {USER_HAS}",
    ),
    (
        "{{ user['firstname'] }}",
        f"user has no attribute 'firstname' (did you mean 'first_name'?); {USER_HAS}",
    ),
    (
        "{{ user.profile_fields.byid(3) }}",
        "user.profile_fields has no attribute 'byid' (did you mean 'by_id'?); "
        "it has by_id",
    ),
    (
        "{{ user.profile_fields['lookup'] }}",
        "user.profile_fields has no attribute 'lookup'; it has by_id",
    ),
]


@pytest.mark.parametrize(("source", "problem"), ATTRIBUTES)
def test_template_attribute_of_a_fixed_shape_variable_is_checked(
    source: str, problem: str | None
) -> None:
    location = "composite_connectors[0].steps[1].response_body"
    expected = [] if problem is None else [f"error {location}: {problem}"]
    assert errors_after_auth(source) == expected


def test_template_attribute_of_a_hyphenated_step_is_named_in_brackets() -> None:
    assert chain("", "", "{{ steps['b-c'].bdy }}") == [
        "error composite_connectors[0].steps[2].url: steps['b-c'] has no "
        f"attribute 'bdy' (did you mean 'body'?); {STEP_HAS}"
    ]


def test_template_attribute_misspelt_twice_is_one_error() -> None:
    assert step_problems(request_body="{{ user.mail }}, {{ user.mail }}") == [
        f"error {STEP}.request_body: user has no attribute 'mail' (did you mean "
        f"'email'?); {USER_HAS}"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "{% set steps = {'auth': {'bdy': 1}} %}{{ steps.auth.bdy }}",
        "{% set user = {'mail': 1} %}{{ user.mail }}",
        "{% for request in [{'q': 1}] %}{{ request.q }}{% endfor %}",
        "{% for user in [] %}{{ user.mail }}{% endfor %}{{ user.email }}",
        "{% with response = {'text': 1} %}{{ response.text }}{% endwith %}",
        "{% macro show(user) %}{{ user.mail }}{% endmacro %}{{ show({}) }}",
    ],
    ids=["set-steps", "set-user", "loop", "loop-then-free", "with", "macro"],
)
def test_template_attribute_of_a_shadowing_name_is_not_checked(source: str) -> None:
    assert errors_after_auth(source) == []


@pytest.mark.parametrize(
    "source",
    [
        "{{ steps.auth.headers['x-anything'] }}",
        "{{ steps.auth.headers.anything }}",
        "{{ (steps.auth.body | from_json).anything }}",
        "{{ request.query_parameters.anything }}",
        "{{ request.headers['Content-Type'] }}",
        "{{ (response.body | from_json)['items'][0].anything }}",
        "{{ steps[request.query_parameters.step].anything }}",
        "{{ response[0] }}",
    ],
)
def test_template_attribute_deeper_than_the_fixed_shape_is_not_checked(
    source: str,
) -> None:
    assert errors_after_auth(source) == []
