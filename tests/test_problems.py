"""Tests of problems, their locations and the readers of plain fields."""

from __future__ import annotations

from typing import Any

import pytest

from composites.problems import (
    TOP_LEVEL,
    Findings,
    JSONObject,
    Problem,
    child,
    kind,
    quote,
)


@pytest.mark.parametrize(
    ("location", "key", "expected"),
    [
        (TOP_LEVEL, "connectors", "connectors"),
        ("composite_connectors", 2, "composite_connectors[2]"),
        ("composite_connectors[0]", "steps", "composite_connectors[0].steps"),
        ("x", "response_body", "x.response_body"),
        ("x", "fetch-user", "x.fetch-user"),
        ("x", "a b", 'x["a b"]'),
        ("x", "line\nbreak", 'x["line\\nbreak"]'),
        ("x", "", 'x[""]'),
        (TOP_LEVEL, "a.b", '["a.b"]'),
        ("x", "k" * 61, f'x["{"k" * 60}..."]'),
    ],
)
def test_child_location_is_one_printable_line(
    location: str, key: str | int, expected: str
) -> None:
    assert child(location, key) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("demo", "'demo'"),
        ("a\nb\tc", "'a\\nb\\tc'"),
        ("café", "'café'"),
        ("x" * 100, f"'{'x' * 60}...'"),
    ],
)
def test_quote_escapes_and_shortens(value: str, expected: str) -> None:
    assert quote(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "a boolean"),
        (1, "a number"),
        (1.5, "a number"),
        ("", "a string"),
        ([], "an array"),
        ({}, "an object"),
    ],
)
def test_kind_names_json_types(value: Any, expected: str) -> None:
    assert kind(value) == expected


def test_problem_prints_level_location_and_message() -> None:
    problem = Problem("warning", "a.b", "unknown key, ignored")

    assert str(problem) == "warning a.b: unknown key, ignored"
    assert problem.category == "content"


@pytest.mark.parametrize(
    ("raw", "options", "value", "expected"),
    [
        ({"k": "v"}, {}, "v", []),
        ({}, {}, None, []),
        ({}, {"required": True}, None, ["error at.k: is required"]),
        ({"k": 1}, {}, None, ["error at.k: must be a string, not a number"]),
        ({"k": None}, {}, None, ["error at.k: must be a string, not null"]),
        ({"k": ""}, {}, None, ["error at.k: must not be empty"]),
        ({"k": " \t\n"}, {}, None, ["error at.k: must not be empty"]),
        ({"k": ""}, {"empty": True}, "", []),
        ({"k": "x" * 5}, {"max_length": 5}, "x" * 5, []),
        (
            {"k": "x" * 6},
            {"max_length": 5},
            None,
            ["error at.k: is 6 characters long; the limit is 5"],
        ),
        ({"k": "é" * 5}, {"max_length": 5}, "é" * 5, []),
    ],
)
def test_findings_string_reads_or_reports(
    raw: dict[str, Any], options: dict[str, Any], value: str | None, expected: list[str]
) -> None:
    findings = Findings()
    max_length = options.pop("max_length", None)

    assert findings.string(raw, "k", "at", max_length, **options) == value
    assert [str(p) for p in findings.problems] == expected


@pytest.mark.parametrize(
    ("raw", "value", "expected"),
    [
        ({}, False, []),
        ({"k": True}, True, []),
        ({"k": "true"}, None, ["error at.k: must be true or false, not a string"]),
        ({"k": 1}, None, ["error at.k: must be true or false, not a number"]),
    ],
)
def test_findings_boolean_reads_or_reports(
    raw: dict[str, Any], value: bool | None, expected: list[str]
) -> None:
    findings = Findings()

    assert findings.boolean(raw, "k", "at") == value
    assert [str(p) for p in findings.problems] == expected


def test_findings_array_defaults_to_empty_and_reports_other_types() -> None:
    findings = Findings()

    assert findings.array({}, "k", "at") == []
    assert findings.array({"k": "x"}, "k", "at") is None
    assert [str(p) for p in findings.problems] == [
        "error at.k: must be an array, not a string"
    ]


def test_findings_unknown_keys_warns_about_unknown_and_repeated_keys() -> None:
    findings = Findings()
    raw = JSONObject.from_pairs([("name", 1), ("nmae", 2), ("name", 3)])

    findings.unknown_keys(raw, {"name"}, "at")

    assert [str(p) for p in findings.problems] == [
        "warning at.name: is given more than once; the last is used",
        "warning at.nmae: unknown key, ignored",
    ]
    assert findings.error_count == 0
