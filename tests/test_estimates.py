"""Size estimates: upper bounds of a value's length, cheap to compute."""

from __future__ import annotations

from typing import Any

import pytest

from composites import estimates

LIMIT = 1_000_000


@pytest.mark.parametrize(
    "value",
    [
        "text",
        b"\x00\xff bytes",
        12345678901234567890,
        -1.5e300,
        None,
        True,
        [1, "two", b"3", None, [4.5, ("six",)]],
        {"a": [1, 2], "b": {"c": "d"}},
        {"x": 1}.items(),
        {"x": 1}.values(),
        frozenset({"a"}),
        ("é" * 10, {"k": "\n"}),
    ],
)
def test_text_size_is_at_least_the_printed_length(value: Any) -> None:
    assert estimates.text_size(value, LIMIT) >= len(str(value))


def test_text_size_of_shared_references_stops_past_the_limit() -> None:
    big = "x" * 1000
    nested = [[[big] * 1000] * 1000] * 1000

    assert estimates.text_size(nested, LIMIT) > LIMIT


def test_text_size_of_self_referencing_list_terminates() -> None:
    loop: list[Any] = []
    loop.append(loop)

    assert estimates.text_size(loop, 1000) > 1000


@pytest.mark.parametrize(
    ("template", "values"),
    [
        ("%s|%5d|%-8.3f|%%|%r", ("a", 7, 3.14159, [1])),
        ("%(a)s-%(a)s", {"a": "xyz"}),
        ("%*s", (12, "a")),
        ("%.*f", (4, 2.0)),
        ("%x %o %e %g %c", (255, 8, 1e10, 0.5, "z")),
        (b"%s-%d", (b"ab", 42)),
    ],
)
def test_percent_size_is_at_least_the_formatted_length(
    template: str | bytes, values: Any
) -> None:
    assert estimates.percent_size(template, values, LIMIT) >= len(template % values)


@pytest.mark.parametrize(
    ("receiver", "name", "args", "kwargs"),
    [
        ("ab", "center", (9,), {}),
        ("ab", "ljust", (9, "-"), {}),
        ("7", "zfill", (5,), {}),
        ("a\tb\t", "expandtabs", (), {"tabsize": 6}),
        ("a\tb", "expandtabs", (), {}),
        ("-", "join", (["a", "b", "c"],), {}),
        ("banana", "replace", ("a", "xyz"), {}),
        ("banana", "replace", ("", "+"), {}),
        ("banana", "replace", ("a", "xyz", 1), {}),
        (b"ab", "center", (9,), {}),
    ],
)
def test_method_size_is_at_least_the_result_length(
    receiver: str | bytes, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    result = getattr(receiver, name)(*args, **kwargs)

    assert estimates.method_size(receiver, name, args, kwargs) >= len(result)
