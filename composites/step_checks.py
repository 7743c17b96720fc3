"""Checks of one step of a composite (§3 of the contract), compiled as read.

``check_step`` reads a step object field by field, reports every problem to
a ``Findings`` and returns the ``Step`` when it had none.  Templates are
checked by ``template_checks`` and the authentication object by
``authentication_checks``, against the strategy table it is given.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from composites.authentication_checks import check_authentication
from composites.conf import app_settings
from composites.definitions import Authentication, KeyValue, Step
from composites.problems import Findings, child, kind, quote
from composites.template_checks import (
    StepScope,
    check_template,
    has_markup,
    literal_text,
)
from composites.templating import CompiledTemplate, FieldKind, compile_template

if TYPE_CHECKING:
    from composites.validation import StrategyFields

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
MAX_NAME = 255
MAX_URL = 2048
MAX_KEY = 255
MAX_VALUE = 1000
MAX_CONTENT_TYPE = 255

STEP_KEYS = frozenset(
    {"name", "url", "method", "headers", "query_parameters", "authentication"}
    | {"request_body", "response_body", "response_content_type"}
)
KEY_VALUE_KEYS = frozenset({"key", "value", "overridable"})
HTTP_MESSAGE = "must use https://, not http://"


@dataclass(frozen=True, slots=True)
class StrategyTable:
    """The authentication strategies a step may name, and their options."""

    strategies: Mapping[str, StrategyFields]
    aliases: Mapping[str, str]
    algorithms: Collection[str]


def check_step(
    findings: Findings, raw: Any, at: str, scope: StepScope, table: StrategyTable
) -> Step | None:
    """Check the step object at ``at``; return it compiled if it is valid."""
    if not isinstance(raw, dict):
        findings.error(at, f"must be an object, not {kind(raw)}")
        return None
    findings.unknown_keys(raw, STEP_KEYS, at)
    errors_before = findings.error_count
    fields = _StepFields(findings, raw, at, scope)
    step = Step(
        name=fields.name() or "",
        url=fields.url() or compile_template(""),
        method=fields.method(),
        headers=fields.key_values("headers"),
        query_parameters=fields.key_values("query_parameters"),
        authentication=fields.authentication(table),
        request_body=fields.body("request_body", FieldKind.URL_OR_BODY),
        response_body=fields.body("response_body", FieldKind.RESPONSE_BODY),
        response_content_type=fields.content_type(),
    )
    return None if findings.error_count > errors_before else step


def slug_message(value: str) -> str:
    """Say why ``value`` is not a slug."""
    return (
        f"{quote(value)} is not a slug: use lower-case letters, digits and single "
        "hyphens, with no hyphen at either end"
    )


class _StepFields:
    def __init__(
        self, findings: Findings, raw: dict[str, Any], at: str, scope: StepScope
    ) -> None:
        self.findings = findings
        self.raw = raw
        self.at = at
        self.scope = scope

    def template(
        self, source: str, at: str, kind_: FieldKind
    ) -> CompiledTemplate | None:
        return check_template(self.findings, source, at, kind_, self.scope)

    def name(self) -> str | None:
        name = self.findings.string(self.raw, "name", self.at, MAX_NAME, required=True)
        if name is None:
            return None
        at = child(self.at, "name")
        if not SLUG.fullmatch(name):
            self.findings.error(at, slug_message(name))
            return None
        if name in self.scope.earlier:
            first = self.scope.earlier.index(name)
            message = f"duplicate step name {quote(name)} (also steps[{first}])"
            self.findings.error(at, message)
            return None
        return name

    def url(self) -> CompiledTemplate | None:
        source = self.findings.string(self.raw, "url", self.at, MAX_URL, required=True)
        if source is None:
            return None
        at = child(self.at, "url")
        message = _url_problem(source)
        if message == HTTP_MESSAGE and app_settings.ALLOW_HTTP:
            message = "uses http://, accepted only because ALLOW_HTTP is on"
            self.findings.warning(at, message)
        elif message is not None:
            self.findings.error(at, message)
            return None
        compiled = self.template(source, at, FieldKind.URL_OR_BODY)
        usage = compiled.usage if compiled is not None else None
        if usage and "request" in usage.names and "url_segment" not in usage.filters:
            self.findings.warning(
                at,
                "puts the visitor's input (request.*) into the URL, where it "
                "could change the host or the path; keep it to the path and "
                "pass it through the url_segment filter",
            )
        return compiled

    def method(self) -> str:
        method = self.findings.string(self.raw, "method", self.at, None)
        if method is None:
            return "GET"
        at = child(self.at, "method")
        if method.upper() not in METHODS:
            allowed = ", ".join(sorted(METHODS))
            self.findings.error(at, f"{quote(method)} is not one of {allowed}")
        elif method != method.upper():
            message = f"write {quote(method.upper())} in upper case"
            self.findings.warning(at, message)
        return method.upper()

    def key_values(self, key: str) -> tuple[KeyValue, ...]:
        items = self.findings.array(self.raw, key, self.at) or []
        pairs = (
            self.key_value(item, f"{self.at}.{key}[{index}]", key == "headers")
            for index, item in enumerate(items)
        )
        return tuple(pair for pair in pairs if pair is not None)

    def key_value(self, raw: Any, at: str, header: bool) -> KeyValue | None:
        if not isinstance(raw, dict):
            self.findings.error(at, f"must be an object, not {kind(raw)}")
            return None
        self.findings.unknown_keys(raw, KEY_VALUE_KEYS, at)
        errors_before = self.findings.error_count
        key = self.findings.string(raw, "key", at, MAX_KEY, required=True)
        source = self.findings.string(
            raw, "value", at, MAX_VALUE, required=True, empty=True
        )
        overridable = self.findings.boolean(raw, "overridable", at)
        if header:
            self.header_rules(key, source, overridable, at)
        if self.findings.error_count > errors_before:
            return None

        assert key is not None and source is not None and overridable is not None
        value_at = child(at, "value")
        value = self.template(source, value_at, FieldKind.HEADER_QUERY_AUTH)
        return None if value is None else KeyValue(key, value, overridable)

    def header_rules(
        self, key: str | None, source: str | None, overridable: bool | None, at: str
    ) -> None:
        if key is not None and not HEADER_NAME.fullmatch(key):
            self.findings.error(
                child(at, "key"), f"{quote(key)} is not a valid header name"
            )
        if source is not None and _breaks_line(literal_text(source)):
            self.findings.error(child(at, "value"), "must not contain a line break")
        if overridable:
            message = "has no effect on a composite step's header"
            self.findings.warning(child(at, "overridable"), message)

    def authentication(self, table: StrategyTable) -> Authentication | None:
        if "authentication" not in self.raw:
            return None
        return check_authentication(
            self.findings,
            self.raw["authentication"],
            child(self.at, "authentication"),
            self.scope,
            table.strategies,
            table.aliases,
            table.algorithms,
        )

    def body(self, key: str, kind_: FieldKind) -> CompiledTemplate | None:
        source = self.findings.string(self.raw, key, self.at, None, empty=True)
        if not source:
            return None
        return self.template(source, child(self.at, key), kind_)

    def content_type(self) -> str:
        key = "response_content_type"
        value = self.findings.string(
            self.raw, key, self.at, MAX_CONTENT_TYPE, empty=True
        )
        if not value:
            return ""
        at = child(self.at, key)
        if not self.scope.last:
            self.findings.warning(at, "has no effect on a step other than the last")
        if _breaks_line(value):
            self.findings.error(at, "must not contain a line break")
            return ""
        return value


def _url_problem(source: str) -> str | None:
    scheme = source[:8].lower()
    if scheme.startswith("http://"):
        return HTTP_MESSAGE
    if scheme != "https://":
        if source.startswith("{"):
            return "must start with https:// before any template"
        return "must be an absolute https:// URL"
    literal = literal_text(source)
    if any(character.isspace() or not character.isprintable() for character in literal):
        return "must not contain spaces or control characters outside its templates"
    if not has_markup(source) and not urlsplit(source).hostname:
        return "has no host"
    return None


def _breaks_line(value: str) -> bool:
    return any(character in value for character in "\r\n\0")
