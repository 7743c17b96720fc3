"""Tests of the checks of a step's ``authentication`` object."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from composites.templating import CompiledTemplate
from tests.registry_documents import STEP, composite, step, step_problems, validate

AUTH = f"{STEP}.authentication"
KEY = "{{ get_secret('key') }}"
TYPES = (
    "api_key, apikey, basic, bearer, jwt, none, oauth_client_credentials, "
    "oauth_jwt_bearer"
)
ALGORITHMS = (
    "ES256, ES384, ES512, EdDSA, HS256, HS384, HS512, PS256, PS384, PS512, RS256, "
    "RS384, RS512"
)
VALID = [
    {"type": "none"},
    {"type": "api_key", "config": {"key": "X-Key", "value": "{{ get_secret('k') }}"}},
    {"type": "apikey", "config": {"key": "k", "value": "v", "in": "query"}},
    {"type": "basic", "config": {"username": "u", "password": "p"}},
    {"type": "bearer", "config": {"token": "{{ get_secret('t') }}"}},
    {
        "type": "oauth_client_credentials",
        "config": {
            "client_id": "c",
            "client_secret": "{{ get_secret('s') }}",
            "token_url": "https://auth.example.com/token",
            "scope": "read",
        },
    },
    {
        "type": "jwt",
        "config": {
            "private_key": "{{ get_secret('key') }}",
            "algorithm": "ES256",
            "claims": {"sub": "{{ user.id }}", "exp": "{{ now(60) }}", "n": 1},
            "jwt_headers": {"kid": "k1"},
        },
    },
    {
        "type": "oauth_jwt_bearer",
        "config": {
            "client_id": "c",
            "private_key": KEY,
            "token_url": "https://auth.example.com/token",
            "token_ttl": 600,
            "additional_claims": {"scope": {"nested": "{{ tenant_id }}"}},
        },
    },
]


@pytest.mark.parametrize("authentication", VALID)
def test_authentication_of_each_strategy_passes(authentication: Any) -> None:
    assert step_problems(authentication=authentication) == []


def test_authentication_config_is_compiled_with_aliases_resolved() -> None:
    authentication = {
        "type": "apikey",
        "config": {"key": "k", "value": "{{ get_secret('k') }}"},
    }

    registry = validate(composite(step(authentication=authentication))).registry

    assert registry is not None
    compiled = registry.composites[0].steps[0].authentication
    assert compiled is not None
    assert compiled.type == "api_key"
    assert isinstance(compiled.config, MappingProxyType)
    value = compiled.config["value"]
    assert isinstance(value, CompiledTemplate)
    assert value.source == "{{ get_secret('k') }}"


def test_authentication_number_becomes_a_template_of_its_json() -> None:
    authentication = VALID[-1]

    registry = validate(composite(step(authentication=authentication))).registry

    assert registry is not None
    compiled = registry.composites[0].steps[0].authentication
    assert compiled is not None
    ttl = compiled.config["token_ttl"]
    assert isinstance(ttl, CompiledTemplate)
    assert ttl.source == "600"


@pytest.mark.parametrize(
    ("authentication", "expected"),
    [
        ("bearer", f"error {AUTH}: must be an object, not a string"),
        (["bearer"], f"error {AUTH}: must be an object, not an array"),
        ({}, f"error {AUTH}.type: is required"),
        ({"type": 1}, f"error {AUTH}.type: must be a string, not a number"),
        ({"type": ""}, f"error {AUTH}.type: must not be empty"),
        ({"type": "magic"}, f"error {AUTH}.type: 'magic' is not one of {TYPES}"),
        ({"type": "API_KEY"}, f"error {AUTH}.type: 'API_KEY' is not one of {TYPES}"),
        (
            {"type": "bearer", "config": "t"},
            f"error {AUTH}.config: must be an object, not a string",
        ),
        ({"type": "bearer"}, f"error {AUTH}.config.token: is required"),
        (
            {"type": "bearer", "config": {"token": True}},
            f"error {AUTH}.config.token: must be a string or a number, not a boolean",
        ),
        (
            {"type": "bearer", "config": {"token": None}},
            f"error {AUTH}.config.token: must be a string or a number, not null",
        ),
        (
            {"type": "bearer", "config": {"token": ["a"]}},
            f"error {AUTH}.config.token: must be a string or a number, not an array",
        ),
        (
            {"type": "jwt", "config": {"private_key": KEY, "claims": ["a"]}},
            f"error {AUTH}.config.claims: must be an object, not an array",
        ),
        (
            {"type": "jwt", "config": {"private_key": KEY, "claims": {"a": True}}},
            f"error {AUTH}.config.claims.a: must be a string or a number, not a "
            "boolean",
        ),
        (
            {"type": "jwt", "config": {"private_key": KEY, "algorithm": "HS1"}},
            f"error {AUTH}.config.algorithm: 'HS1' is not one of {ALGORITHMS}",
        ),
        (
            {"type": "api_key", "config": {"key": "k", "value": "v", "in": "body"}},
            f"error {AUTH}.config.in: 'body' is not one of header, query",
        ),
        (
            {"type": "bearer", "config": {"token": "{{ response.body }}"}},
            f"error {AUTH}.config.token: response is not available in header, "
            "query and authentication templates",
        ),
        (
            {"type": "bearer", "config": {"token": "{% if %}"}},
            f"error {AUTH}.config.token: template syntax error on line 1: Expected "
            "an expression, got 'end of statement block'",
        ),
    ],
)
def test_authentication_bad_object_is_an_error(
    authentication: Any, expected: str
) -> None:
    assert step_problems(authentication=authentication) == [expected]


def test_authentication_templated_choices_are_left_to_run_time() -> None:
    config = {"private_key": KEY, "algorithm": "{{ get_variable('alg') }}"}

    assert step_problems(authentication={"type": "jwt", "config": config}) == []


def test_authentication_unknown_keys_are_warnings() -> None:
    authentication = {
        "type": "bearer",
        "config": {"token": "t", "tokne": "t"},
        "confg": {},
    }

    assert step_problems(authentication=authentication) == [
        f"warning {AUTH}.confg: unknown key, ignored",
        f"warning {AUTH}.config.tokne: unknown key, ignored",
    ]


def test_authentication_missing_fields_are_all_reported() -> None:
    authentication = {"type": "oauth_client_credentials", "config": {}}

    assert step_problems(authentication=authentication) == [
        f"error {AUTH}.config.client_id: is required",
        f"error {AUTH}.config.client_secret: is required",
        f"error {AUTH}.config.token_url: is required",
    ]


@pytest.mark.parametrize("exp", ["17e8", "soon", "1,5"])
def test_authentication_literal_claim_date_that_is_not_a_number_is_an_error(
    exp: str,
) -> None:
    authentication = {
        "type": "jwt",
        "config": {"private_key": "{{ get_secret('k') }}", "claims": {"exp": exp}},
    }

    lines = step_problems(authentication=authentication)

    assert len(lines) == 1
    assert lines[0].startswith(
        "error composite_connectors[0].steps[0].authentication.config.claims.exp"
    )
