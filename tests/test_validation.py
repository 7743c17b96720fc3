"""Tests of registry validation: the document, its composites, the report."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from composites import validation
from composites.definitions import composite_id
from composites.validation import derive_permalink, validate_document, validate_text
from tests.registry_documents import (
    COMPOSITE,
    SLUG_RULE,
    composite,
    document,
    problems,
    step,
    text,
    validate,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REPOSITORY_REGISTRY = PROJECT_ROOT / "registry" / "connectors_registry.json"


def test_validate_repository_registry_has_no_problem() -> None:
    report = validate_text(REPOSITORY_REGISTRY.read_bytes())

    assert report.problems == []
    assert report.registry is not None
    assert [c.permalink for c in report.registry.composites] == [
        "auth-and-fetch-user",
        "member-open-tickets",
        "community-analytics-summary",
    ]


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ("[]", "an array"),
        ("null", "null"),
        ('"registry"', "a string"),
        ("3", "a number"),
        ("true", "a boolean"),
    ],
)
def test_validate_top_level_that_is_not_an_object_is_an_error(
    content: str, kind: str
) -> None:
    assert problems(content) == [f"error (top level): must be an object, not {kind}"]


def test_validate_empty_object_is_an_empty_registry() -> None:
    report = validate_text(b"{}")

    assert report.problems == []
    assert report.registry is not None
    assert report.registry.composites == ()


@pytest.mark.parametrize("key", ["connectors", "composite_connectors"])
@pytest.mark.parametrize(
    ("value", "kind"), [(None, "null"), ({}, "an object"), ("x", "a string")]
)
def test_validate_top_level_array_of_another_type_is_an_error(
    key: str, value: Any, kind: str
) -> None:
    content = {"connectors": [], "composite_connectors": [], key: value}

    assert problems(content) == [f"error {key}: must be an array, not {kind}"]


def test_validate_connectors_are_accepted_and_not_checked() -> None:
    report = validate(composite(), connectors=[{"name": "regular", "anything": 1}])

    assert report.problems == []
    assert report.registry is not None
    assert len(report.registry.composites) == 1


@pytest.mark.parametrize(
    ("value", "kind"),
    [(1, "a number"), ("demo", "a string"), (None, "null"), ([], "an array")],
)
def test_validate_composite_that_is_not_an_object_is_an_error(
    value: Any, kind: str
) -> None:
    assert problems(document(value)) == [
        f"error {COMPOSITE}: must be an object, not {kind}"
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (7, "must be a string, not a number"),
        (None, "must be a string, not null"),
        (["Demo"], "must be a string, not an array"),
        ({"en": "Demo"}, "must be a string, not an object"),
        (False, "must be a string, not a boolean"),
        ("", "must not be empty"),
        ("  \t", "must not be empty"),
        ("n" * 256, "is 256 characters long; the limit is 255"),
    ],
)
def test_validate_composite_name_that_is_not_a_short_string_is_an_error(
    name: Any, message: str
) -> None:
    assert problems(document(composite(name=name))) == [
        f"error {COMPOSITE}.name: {message}"
    ]


def test_validate_composite_name_missing_is_an_error() -> None:
    raw = composite()
    del raw["name"]

    assert problems(document(raw)) == [f"error {COMPOSITE}.name: is required"]


def test_validate_composite_without_name_or_permalink_reports_the_name() -> None:
    raw = composite()
    del raw["name"], raw["permalink"]

    assert problems(document(raw)) == [f"error {COMPOSITE}.name: is required"]


def test_validate_composite_name_of_255_characters_passes() -> None:
    assert problems(document(composite(name="n" * 255))) == []


@pytest.mark.parametrize(
    ("permalink", "message"),
    [
        (7, "must be a string, not a number"),
        (None, "must be a string, not null"),
        ("", "must not be empty"),
        ("p" * 256, "is 256 characters long; the limit is 255"),
        ("Demo", f"'Demo' {SLUG_RULE}"),
        ("DEMO", f"'DEMO' {SLUG_RULE}"),
        ("auth_fetch", f"'auth_fetch' {SLUG_RULE}"),
        ("-demo", f"'-demo' {SLUG_RULE}"),
        ("demo-", f"'demo-' {SLUG_RULE}"),
        ("auth--fetch", f"'auth--fetch' {SLUG_RULE}"),
        ("auth fetch", f"'auth fetch' {SLUG_RULE}"),
        ("demo\n", f"'demo\\n' {SLUG_RULE}"),
        ("café", f"'café' {SLUG_RULE}"),
        ("demo/1", f"'demo/1' {SLUG_RULE}"),
    ],
)
def test_validate_permalink_that_is_not_a_slug_is_an_error(
    permalink: Any, message: str
) -> None:
    assert problems(document(composite(permalink=permalink))) == [
        f"error {COMPOSITE}.permalink: {message}"
    ]


@pytest.mark.parametrize(
    "permalink", ["demo", "a", "2024", "auth-and-fetch-2", "p" * 255]
)
def test_validate_permalink_that_is_a_slug_passes(permalink: str) -> None:
    report = validate(composite(permalink=permalink))

    assert report.problems == []
    assert report.registry is not None
    assert report.registry.composites[0].permalink == permalink


@pytest.mark.parametrize(
    ("name", "permalink"),
    [
        ("Auth and fetch user", "auth-and-fetch-user"),
        ("  Auth   and\tfetch  ", "auth-and-fetch"),
        ("Auth & Fetch: v2.0 (beta)!", "auth-fetch-v2-0-beta"),
        ("snake_case_name", "snake-case-name"),
        ("--Leading and trailing--", "leading-and-trailing"),
        ("Café crème brûlée", "cafe-creme-brulee"),
        ("Straße", "strasse"),
        ("Ångström Øresund", "angstrom-resund"),
        ("ＦＵＬＬ ｗｉｄｔｈ", "full-width"),
        ("Snow☃man", "snow-man"),
        ("日本語 API", "api"),
        ("Ünïcode — name", "unicode-name"),
        ("2024 report", "2024-report"),
    ],
)
def test_derive_permalink_makes_a_slug_of_the_name(name: str, permalink: str) -> None:
    assert derive_permalink(name) == permalink


def test_validate_permalink_absent_is_derived_from_the_name() -> None:
    registry = validate(derived("Auth & Fetch: v2")).registry

    assert registry is not None
    assert registry.composites[0].permalink == "auth-fetch-v2"
    assert registry.composites[0].id == composite_id("auth-fetch-v2")


def test_validate_permalink_derived_from_a_long_name_is_cut_at_255() -> None:
    registry = validate(derived("ab " * 85)).registry

    assert registry is not None
    permalink = registry.composites[0].permalink
    assert len(permalink) == 254
    assert permalink.endswith("ab")


@pytest.mark.parametrize("name", ["日本語", "!!!", "---", "☃"])
def test_validate_permalink_that_cannot_be_derived_is_an_error(name: str) -> None:
    assert problems(document(derived(name))) == [
        f"error {COMPOSITE}.name: no permalink can be derived; set one"
    ]


def derived(name: str) -> dict[str, Any]:
    """A composite whose permalink is derived from ``name``."""
    raw = composite(name=name)
    del raw["permalink"]
    return raw


@pytest.mark.parametrize(
    ("first", "second", "permalink"),
    [
        (composite(), composite(name="Other"), "demo"),
        (derived("Auth & Fetch"), derived("auth fetch"), "auth-fetch"),
        (composite(permalink="auth-fetch"), derived("Auth: Fetch"), "auth-fetch"),
    ],
    ids=["explicit", "both-derived", "explicit-and-derived"],
)
def test_validate_permalink_used_twice_is_an_error(
    first: dict[str, Any], second: dict[str, Any], permalink: str
) -> None:
    assert problems(document(first, second)) == [
        f"error composite_connectors[1].permalink: duplicate permalink "
        f"'{permalink}' (also composite_connectors[0])"
    ]


def test_validate_permalink_used_twice_is_reported_when_the_first_is_invalid() -> None:
    found = problems(document(composite(name=1), composite()))

    assert found == [
        f"error {COMPOSITE}.name: must be a string, not a number",
        "error composite_connectors[1].permalink: duplicate permalink 'demo' "
        "(also composite_connectors[0])",
    ]


def test_validate_permalink_equal_to_another_composites_id_is_an_error() -> None:
    number = str(composite_id("demo"))
    composites = [composite(), composite(permalink=number)]

    assert problems(document(*composites)) == [
        f"error composite_connectors[1].permalink: '{number}' is the id of "
        "composite_connectors[0]; rename one"
    ]


def test_validate_ids_that_collide_are_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(validation, "composite_id", lambda permalink: 42)

    found = problems(document(composite(), composite(permalink="other")))

    assert found == [
        "error composite_connectors[1].permalink: its id 42 is also that of "
        "composite_connectors[0]; rename one"
    ]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ({}, "must be an array, not an object"),
        (None, "must be an array, not null"),
        ("fetch", "must be an array, not a string"),
    ],
)
def test_validate_steps_that_are_not_an_array_are_an_error(
    steps: Any, message: str
) -> None:
    assert problems(document(composite(steps=steps))) == [
        f"error {COMPOSITE}.steps: {message}"
    ]


def test_validate_steps_missing_is_an_error() -> None:
    raw = composite()
    del raw["steps"]

    assert problems(document(raw)) == [f"error {COMPOSITE}.steps: is required"]


def test_validate_empty_steps_is_a_warning_and_loads() -> None:
    report = validate(composite(steps=[]))

    assert [str(p) for p in report.problems] == [
        f"warning {COMPOSITE}.steps: has no steps; running it fails"
    ]
    assert report.registry is not None
    assert report.registry.composites[0].steps == ()


def test_validate_invalid_only_step_is_not_reported_as_empty_steps() -> None:
    assert problems(document(composite(step(name="Bad")))) == [
        f"error {COMPOSITE}.steps[0].name: 'Bad' {SLUG_RULE}"
    ]


def test_validate_unknown_keys_anywhere_are_warnings_and_load() -> None:
    raw = composite(
        step(
            reponse_body="x",
            headers=[{"key": "X-A", "value": "1", "overidable": True}],
            authentication={"type": "none", "confg": {}},
        ),
        description="misspelt",
    )

    report = validate(raw, version=2)

    assert [str(p) for p in report.problems] == [
        "warning version: unknown key, ignored",
        f"warning {COMPOSITE}.description: unknown key, ignored",
        f"warning {COMPOSITE}.steps[0].reponse_body: unknown key, ignored",
        f"warning {COMPOSITE}.steps[0].headers[0].overidable: unknown key, ignored",
        f"warning {COMPOSITE}.steps[0].authentication.confg: unknown key, ignored",
    ]
    assert report.registry is not None


def test_validate_key_given_twice_is_a_warning() -> None:
    content = (
        '{"composite_connectors": [{"name": "A", "name": "B", "permalink": "b", '
        '"steps": []}]}'
    )
    report = validate_text(content)

    assert [str(p) for p in report.problems] == [
        f"warning {COMPOSITE}.name: is given more than once; the last is used",
        f"warning {COMPOSITE}.steps: has no steps; running it fails",
    ]
    assert report.registry is not None
    assert report.registry.composites[0].name == "B"


def test_validate_every_problem_of_every_composite_is_reported() -> None:
    composites = [
        composite(name=""),
        composite(permalink="Bad", steps=[step(url="http://x/")]),
        composite(permalink="fine"),
        composite(permalink="fine", steps=[step(method="get")]),
    ]

    assert problems(document(*composites)) == [
        f"error {COMPOSITE}.name: must not be empty",
        f"error composite_connectors[1].permalink: 'Bad' {SLUG_RULE}",
        "error composite_connectors[1].steps[0].url: must use https://, not http://",
        "warning composite_connectors[3].steps[0].method: write 'GET' in upper case",
        "error composite_connectors[3].permalink: duplicate permalink 'fine' "
        "(also composite_connectors[2])",
    ]


def test_validate_invalid_document_has_no_registry() -> None:
    report = validate(composite(), composite(permalink="x", name=""))

    assert report.registry is None
    assert len(report.errors) == 1
    assert report.warnings == []


def test_validate_report_indexes_composites_by_permalink_and_id() -> None:
    report = validate(composite(), composite(name="Other", permalink="other"))

    registry = report.registry
    assert registry is not None
    other = registry.composites[1]
    assert registry.by_permalink["other"] is other
    assert registry.by_id[composite_id("other")] is other
    assert set(report.raw_composites) == {"demo", "other"}
    assert report.raw_composites["other"]["name"] == "Other"


def test_validate_document_takes_parsed_python_values() -> None:
    report = validate_document(document(composite()))

    assert report.problems == []
    assert report.registry is not None


def test_validate_document_deeply_nested_python_values_are_refused() -> None:
    nested: Any = "x"
    for _ in range(5000):
        nested = [nested]

    assert [str(p) for p in validate_document({"extra": nested}).problems] == [
        "error file: invalid JSON: nested more than 32 levels deep"
    ]


def many_composites(count: int) -> str:
    """A registry of ``count`` composites in the shapes of the repository's."""
    shapes = json.loads(REPOSITORY_REGISTRY.read_text())["composite_connectors"]
    composites = []
    for index in range(count):
        raw = json.loads(json.dumps(shapes[index % len(shapes)]))
        raw["name"] = f"{raw['name']} {index}"
        raw["permalink"] = f"{raw['permalink']}-{index}"
        if index % 10 == 0:
            raw["steps"][0]["url"] += f"?page={index}"
        composites.append(raw)
    return json.dumps({"composite_connectors": composites}, indent=2)


def test_validate_registry_of_several_megabytes_loads_in_seconds() -> None:
    content = many_composites(5000).encode()
    started = time.perf_counter()

    report = validate_text(content)

    elapsed = time.perf_counter() - started
    assert len(content) > 5_000_000
    assert report.problems == []
    assert report.registry is not None
    assert len(report.registry.by_id) == 5000
    assert elapsed < 30, f"validating {len(content)} bytes took {elapsed:.1f} s"


def test_validate_text_and_bytes_give_the_same_report() -> None:
    content = text(composite(name="Café"))

    from_text = validate_text(content)
    from_bytes = validate_text(content.encode())

    assert from_text.problems == from_bytes.problems == []
    assert from_text.registry == from_bytes.registry


@pytest.mark.parametrize(
    ("fields", "requires_user", "warned"),
    [
        ({"headers": [{"key": "X-Email", "value": "{{ user.email }}"}]}, True, False),
        ({"url": "https://api.example.com/users/{{ user.id }}"}, False, True),
        ({"response_body": "{{ user.email }}"}, False, True),
        ({}, False, False),
    ],
    ids=["header", "url", "response-body", "none"],
)
def test_composite_user_use_decides_requirement_and_warning(
    fields: dict[str, Any], requires_user: bool, warned: bool
) -> None:
    report = validate(composite(step(**fields)))

    assert report.registry is not None
    assert report.registry.composites[0].requires_user is requires_user
    warnings = [p.location for p in report.warnings]
    assert warnings == (["composite_connectors[0].steps"] if warned else [])
