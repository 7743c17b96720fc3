"""Tests of reading a registry file's bytes as strict JSON."""

from __future__ import annotations

import json

import pytest

from composites.parsing import MAX_DEPTH, nested_too_deeply, parse
from composites.problems import Findings, JSONObject
from tests.registry_documents import problems


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b'{"composite_connectors": [}',
            "error line 1, column 27: invalid JSON: Expecting value",
        ),
        (
            b'{\n  "composite_connectors": [\n    {"name": "x",}\n  ]\n}',
            "error line 3, column 18: invalid JSON: Expecting property name "
            "enclosed in double quotes",
        ),
        (b"", "error line 1, column 1: invalid JSON: Expecting value"),
        (
            b'{"composite_connectors": []} []',
            "error line 1, column 30: invalid JSON: Extra data",
        ),
        (
            b'{"composite_connectors": []}\n{"\xc3\xa9\xff"}',
            "error line 2, column 4: the file is not UTF-8 (byte 0xff)",
        ),
        (
            "{}".encode("utf-16"),
            "error line 1, column 1: the file is not UTF-8 (byte 0xff)",
        ),
        (b'{"a": NaN}', "error file: invalid JSON: NaN is not a JSON value"),
        (
            b'{"a": -Infinity}',
            "error file: invalid JSON: -Infinity is not a JSON value",
        ),
        (b'{"a": 1e400}', "error file: invalid JSON: the number 1e400 is too large"),
        (
            b'{"a": ' + b"9" * 5000 + b"}",
            "error file: invalid JSON: a number of 5000 digits is too long",
        ),
        (b"[" * 100_000, "error file: invalid JSON: nested too deeply"),
        (
            b"[" * 100_000 + b"]" * 100_000,
            "error file: invalid JSON: nested too deeply",
        ),
    ],
    ids=[
        "syntax",
        "syntax-on-line-3",
        "empty-file",
        "extra-data",
        "not-utf8",
        "utf16",
        "nan",
        "infinity",
        "huge-float",
        "long-integer",
        "unclosed-deep-arrays",
        "deep-arrays",
    ],
)
def test_parse_bad_bytes_reports_one_syntax_problem(
    content: bytes, expected: str
) -> None:
    findings = Findings()

    assert parse(content, findings) is None
    assert [str(problem) for problem in findings.problems] == [expected]
    assert findings.problems[0].category == "syntax"


def test_parse_byte_order_mark_is_accepted() -> None:
    findings = Findings()

    document = parse(b'\xef\xbb\xbf{"composite_connectors": []}', findings)

    assert document == {"composite_connectors": []}
    assert findings.problems == []


def test_parse_objects_remember_repeated_keys() -> None:
    document = parse(b'{"a": 1, "b": 2, "a": 3}', Findings())

    assert isinstance(document, JSONObject)
    assert document == {"a": 3, "b": 2}
    assert document.duplicates == ("a",)


def test_parse_text_is_accepted_as_well_as_bytes() -> None:
    assert parse('{"a": [1, 2.5, "é"]}', Findings()) == {"a": [1, 2.5, "é"]}


@pytest.mark.parametrize(
    ("depth", "too_deep"), [(MAX_DEPTH, False), (MAX_DEPTH + 1, True)]
)
def test_nested_too_deeply_counts_objects_and_arrays(
    depth: int, too_deep: bool
) -> None:
    value: object = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}

    assert nested_too_deeply(value) is too_deep


def test_validation_deep_nesting_that_parses_is_rejected_without_recursion() -> None:
    nested: object = {}
    for _ in range(900):
        nested = {"a": nested}
    content = json.dumps({"composite_connectors": [], "extra": nested})

    assert problems(content) == [
        "error file: invalid JSON: nested more than 32 levels deep"
    ]


def test_validation_problem_of_syntax_stops_before_content_checks() -> None:
    found = problems(b'{"composite_connectors": [{"name": 1}], }')

    assert found == [
        "error line 1, column 41: invalid JSON: Expecting property name enclosed "
        "in double quotes"
    ]
