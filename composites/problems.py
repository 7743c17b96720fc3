"""Problems found in a registry document, and readers of its plain fields.

A ``Problem`` is one finding with where it is in the document, such as
``composite_connectors[2].steps[1].url``.  ``Findings`` collects problems
while the validators walk a document, and reads strings, booleans and arrays
with the same messages everywhere.  Values and keys quoted in messages and
locations are shortened and escaped, so one problem is always one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["error", "warning"]

# What a problem is about: the file as a whole (missing, unreadable, too
# large), its syntax (encoding, JSON, nesting) or its content.
Category = Literal["file", "syntax", "content"]

TOP_LEVEL = "(top level)"
PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
MAX_QUOTED = 60


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of validation, with where it is in the document."""

    level: Level
    location: str
    message: str
    category: Category = "content"

    def __str__(self) -> str:
        return f"{self.level} {self.location}: {self.message}"


class JSONObject(dict[str, Any]):
    """A parsed JSON object that remembers keys it held more than once."""

    duplicates: tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> JSONObject:
        value = cls(pairs)
        if len(value) != len(pairs):
            keys = [key for key, _ in pairs]
            repeated = {key for key in keys if keys.count(key) > 1}
            value.duplicates = tuple(sorted(repeated))
        return value


@dataclass(slots=True)
class Findings:
    """The problems found so far, and readers that add to them."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return sum(1 for problem in self.problems if problem.level == "error")

    def error(
        self, location: str, message: str, category: Category = "content"
    ) -> None:
        self.problems.append(Problem("error", location, message, category))

    def warning(self, location: str, message: str) -> None:
        self.problems.append(Problem("warning", location, message))

    def string(
        self,
        raw: dict[str, Any],
        key: str,
        at: str,
        max_length: int | None,
        *,
        required: bool = False,
        empty: bool = False,
    ) -> str | None:
        """Return ``raw[key]`` if it is an acceptable string, else ``None``.

        Unless ``empty`` is set, a string of nothing but white space counts
        as empty.
        """
        where = child(at, key)
        if key not in raw:
            if required:
                self.error(where, "is required")
            return None
        value = raw[key]
        if not isinstance(value, str):
            self.error(where, f"must be a string, not {kind(value)}")
            return None
        if not empty and not value.strip():
            self.error(where, "must not be empty")
            return None
        if max_length is not None and len(value) > max_length:
            message = f"is {len(value)} characters long; the limit is {max_length}"
            self.error(where, message)
            return None
        return value

    def boolean(self, raw: dict[str, Any], key: str, at: str) -> bool | None:
        """Return ``raw[key]`` (false when absent) if it is a boolean."""
        value = raw.get(key, False)
        if not isinstance(value, bool):
            self.error(child(at, key), f"must be true or false, not {kind(value)}")
            return None
        return value

    def array(self, raw: dict[str, Any], key: str, at: str) -> list[Any] | None:
        """Return ``raw[key]`` (empty when absent) if it is an array."""
        value = raw.get(key, [])
        if not isinstance(value, list):
            self.error(child(at, key), f"must be an array, not {kind(value)}")
            return None
        return value

    def unknown_keys(
        self, raw: dict[str, Any], known: Collection[str], at: str
    ) -> None:
        """Warn about keys outside ``known`` and keys given more than once."""
        for key in getattr(raw, "duplicates", ()):
            self.warning(child(at, key), "is given more than once; the last is used")
        for key in raw:
            if key not in known:
                self.warning(child(at, key), "unknown key, ignored")


def child(location: str, key: str | int) -> str:
    """Return the location of ``key`` inside the value at ``location``.

    A key that is not a plain name is shown in brackets as a JSON string.
    """
    if isinstance(key, int):
        return f"{location}[{key}]"
    if not PLAIN_KEY.fullmatch(key) or len(key) > MAX_QUOTED:
        return f"{'' if location == TOP_LEVEL else location}[{_json(key)}]"
    return key if location == TOP_LEVEL else f"{location}.{key}"


def quote(value: str) -> str:
    """Quote ``value`` for a message: shortened, control characters escaped."""
    return f"'{_json(value)[1:-1]}'"


def kind(value: Any) -> str:
    """Name the JSON type of ``value`` for a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _json(value: str) -> str:
    if len(value) > MAX_QUOTED:
        value = value[:MAX_QUOTED] + "..."
    return json.dumps(value, ensure_ascii=False)
