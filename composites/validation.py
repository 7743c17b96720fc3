"""Validation of a registry document into read-only structures.

``validate_text`` parses and checks a whole registry file and returns a
``Report``: every problem found, each with its location (such as
``composite_connectors[2].steps[1].url``), and the ``Registry`` when there
was no error.  Warnings never reject a registry; one error rejects all of it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import jinja2

from composites.definitions import (
    Authentication,
    Composite,
    ConfigValue,
    KeyValue,
    Registry,
    Step,
    composite_id,
)
from composites.templating import (
    ALL_NAMES,
    AVAILABLE,
    ENVIRONMENT,
    CompiledTemplate,
    FieldKind,
    compile_template,
)

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
ALGORITHMS = frozenset(
    {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"}
    | {"ES512", "PS256", "PS384", "PS512", "EdDSA"}
)
MAX_NAME = 255
MAX_URL = 2048
MAX_KEY = 255
MAX_VALUE = 1000
MAX_CONTENT_TYPE = 255

TOP_LEVEL_KEYS = frozenset({"connectors", "composite_connectors"})
COMPOSITE_KEYS = frozenset({"name", "permalink", "steps"})
STEP_KEYS = frozenset(
    {"name", "url", "method", "headers", "query_parameters", "authentication"}
    | {"request_body", "response_body", "response_content_type"}
)
KEY_VALUE_KEYS = frozenset({"key", "value", "overridable"})
AUTHENTICATION_KEYS = frozenset({"type", "config"})


@dataclass(frozen=True, slots=True)
class StrategyFields:
    """The config fields an authentication strategy takes."""

    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    objects: frozenset[str] = frozenset()


STRATEGIES: dict[str, StrategyFields] = {
    "none": StrategyFields(),
    "api_key": StrategyFields(frozenset({"key", "value"}), frozenset({"in"})),
    "basic": StrategyFields(frozenset({"username", "password"})),
    "bearer": StrategyFields(frozenset({"token"})),
    "oauth_client_credentials": StrategyFields(
        frozenset({"client_id", "client_secret", "token_url"}),
        frozenset({"scope"}),
    ),
    "jwt": StrategyFields(
        frozenset({"private_key"}),
        frozenset({"algorithm", "claims", "jwt_headers"}),
        frozenset({"claims", "jwt_headers"}),
    ),
    "oauth_jwt_bearer": StrategyFields(
        frozenset({"client_id", "private_key", "token_url"}),
        frozenset({"subject", "audience", "token_ttl", "algorithm"})
        | frozenset({"additional_claims", "jwt_headers"}),
        frozenset({"additional_claims", "jwt_headers"}),
    ),
}
STRATEGY_ALIASES = {"apikey": "api_key"}

Level = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of validation, with where it is in the document."""

    level: Level
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.level} {self.location}: {self.message}"


@dataclass(slots=True)
class Report:
    """The outcome of validating one registry document."""

    problems: list[Problem] = field(default_factory=list)
    registry: Registry | None = None
    raw_composites: dict[str, Any] = field(default_factory=dict)
    content: bytes = b""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


def derive_permalink(name: str) -> str:
    """Turn a composite name into a slug: "Auth & fetch" becomes auth-fetch."""
    folded = unicodedata.normalize("NFKD", name)
    ascii_name = folded.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")


def validate_text(text: str | bytes) -> Report:
    """Parse a registry file's content and validate it."""
    report = Report()
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            message = f"the file is not UTF-8 (byte {exc.start})"
            report.problems.append(Problem("error", "file", message))
            return report
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        location = f"line {exc.lineno}, column {exc.colno}"
        report.problems.append(Problem("error", location, f"invalid JSON: {exc.msg}"))
        return report
    except RecursionError:
        message = "invalid JSON: nested too deeply"
        report.problems.append(Problem("error", "file", message))
        return report
    return validate_document(document)


def validate_document(document: Any) -> Report:
    """Validate an already parsed registry document."""
    return _Validator().document(document)


class _Validator:
    def __init__(self) -> None:
        self.report = Report()

    def error(self, location: str, message: str) -> None:
        self.report.problems.append(Problem("error", location, message))

    def warning(self, location: str, message: str) -> None:
        self.report.problems.append(Problem("warning", location, message))

    # Document and composites -------------------------------------------------

    def document(self, document: Any) -> Report:
        if not isinstance(document, dict):
            self.error("(top level)", f"must be an object, not {_kind(document)}")
            return self.report
        self.unknown_keys(document, TOP_LEVEL_KEYS, "(top level)")
        if not isinstance(document.get("connectors", []), list):
            self.error("connectors", "must be an array")
        raw = document.get("composite_connectors", [])
        if not isinstance(raw, list):
            self.error("composite_connectors", "must be an array")
            return self.report
        composites = self.composites(raw)
        if not self.report.errors:
            self.report.registry = Registry.of(tuple(composites))
        return self.report

    def composites(self, raw: list[Any]) -> list[Composite]:
        composites: list[Composite] = []
        seen_permalinks: dict[str, str] = {}
        seen_ids: dict[int, str] = {}
        for index, item in enumerate(raw):
            location = f"composite_connectors[{index}]"
            composite = self.composite(item, location)
            if composite is None:
                continue
            first = seen_permalinks.setdefault(composite.permalink, location)
            if first != location:
                message = f"duplicate permalink '{composite.permalink}' (also {first})"
                self.error(f"{location}.permalink", message)
                continue
            other = seen_ids.setdefault(composite.id, location)
            if other != location:
                message = f"id {composite.id} collides with {other}; rename one"
                self.error(f"{location}.permalink", message)
                continue
            self.report.raw_composites[composite.permalink] = item
            composites.append(composite)
        return composites

    def composite(self, raw: Any, location: str) -> Composite | None:
        if not isinstance(raw, dict):
            self.error(location, f"must be an object, not {_kind(raw)}")
            return None
        self.unknown_keys(raw, COMPOSITE_KEYS, location)
        errors_before = len(self.report.errors)
        name = self.string(raw, "name", location, MAX_NAME, required=True)
        permalink = self.permalink(raw, name, location)
        steps = self.steps(raw.get("steps"), f"{location}.steps")
        if len(self.report.errors) > errors_before or name is None:
            return None
        assert permalink is not None and steps is not None
        if not steps:
            self.warning(f"{location}.steps", "has no steps; running it fails")
        return Composite(
            id=composite_id(permalink),
            name=name,
            permalink=permalink,
            steps=tuple(steps),
            requires_user=any(_step_uses_user(step) for step in steps),
        )

    def permalink(self, raw: dict[str, Any], name: str | None, at: str) -> str | None:
        if "permalink" not in raw:
            if name is None:
                return None
            derived = derive_permalink(name)
            if not derived:
                self.error(f"{at}.name", "no permalink can be derived; set one")
                return None
            return derived[:MAX_NAME].rstrip("-")
        permalink = self.string(raw, "permalink", at, MAX_NAME, required=True)
        if permalink is not None and not SLUG.match(permalink):
            self.error(f"{at}.permalink", _slug_message(permalink))
            return None
        return permalink

    # Steps -------------------------------------------------------------------

    def steps(self, raw: Any, location: str) -> list[Step] | None:
        if raw is None:
            self.error(location, "is required")
            return None
        if not isinstance(raw, list):
            self.error(location, f"must be an array, not {_kind(raw)}")
            return None
        names = [item.get("name") if isinstance(item, dict) else None for item in raw]
        steps: list[Step] = []
        for index, item in enumerate(raw):
            scope = _StepScope(index, names, last=index == len(raw) - 1)
            step = self.step(item, f"{location}[{index}]", scope)
            if step is not None:
                steps.append(step)
        return steps

    def step(self, raw: Any, location: str, scope: _StepScope) -> Step | None:
        if not isinstance(raw, dict):
            self.error(location, f"must be an object, not {_kind(raw)}")
            return None
        self.unknown_keys(raw, STEP_KEYS, location)
        errors_before = len(self.report.errors)
        name = self.step_name(raw, location, scope)
        url = self.url(raw, location, scope)
        step = Step(
            name=name or "",
            url=url or compile_template(""),
            method=self.method(raw, location),
            headers=self.key_values(raw, "headers", location, scope),
            query_parameters=self.key_values(raw, "query_parameters", location, scope),
            authentication=self.authentication(raw, location, scope),
            request_body=self.body(raw, "request_body", location, scope),
            response_body=self.body(raw, "response_body", location, scope),
            response_content_type=self.content_type(raw, location, scope),
        )
        if len(self.report.errors) > errors_before:
            return None
        return step

    def step_name(self, raw: dict[str, Any], at: str, scope: _StepScope) -> str | None:
        name = self.string(raw, "name", at, MAX_NAME, required=True)
        if name is None:
            return None
        if not SLUG.match(name):
            self.error(f"{at}.name", _slug_message(name))
            return None
        if name in scope.names[: scope.index]:
            self.error(f"{at}.name", f"duplicate step name '{name}'")
            return None
        return name

    def url(
        self, raw: dict[str, Any], at: str, scope: _StepScope
    ) -> CompiledTemplate | None:
        source = self.string(raw, "url", at, MAX_URL, required=True)
        if source is None:
            return None
        if not source.startswith("https://"):
            self.error(f"{at}.url", _scheme_message(source))
            return None
        return self.template(source, f"{at}.url", FieldKind.URL_OR_BODY, scope)

    def method(self, raw: dict[str, Any], at: str) -> str:
        method = self.string(raw, "method", at, 16) or "GET"
        if method.upper() not in METHODS:
            allowed = ", ".join(sorted(METHODS))
            self.error(f"{at}.method", f"'{method}' is not one of {allowed}")
        elif method != method.upper():
            self.warning(f"{at}.method", f"write '{method.upper()}' in upper case")
        return method.upper()

    def key_values(
        self, raw: dict[str, Any], key: str, at: str, scope: _StepScope
    ) -> tuple[KeyValue, ...]:
        items = raw.get(key, [])
        if not isinstance(items, list):
            self.error(f"{at}.{key}", f"must be an array, not {_kind(items)}")
            return ()
        pairs = []
        for index, item in enumerate(items):
            pair = self.key_value(item, f"{at}.{key}[{index}]", scope)
            if pair is not None:
                pairs.append(pair)
        if key == "headers":
            for index, pair in enumerate(pairs):
                if pair.overridable:
                    where = f"{at}.headers[{index}].overridable"
                    self.warning(where, "has no effect on a composite step's header")
        return tuple(pairs)

    def key_value(self, raw: Any, at: str, scope: _StepScope) -> KeyValue | None:
        if not isinstance(raw, dict):
            self.error(at, f"must be an object, not {_kind(raw)}")
            return None
        self.unknown_keys(raw, KEY_VALUE_KEYS, at)
        key = self.string(raw, "key", at, MAX_KEY, required=True)
        source = self.string(raw, "value", at, MAX_VALUE, required=True, empty=True)
        overridable = raw.get("overridable", False)
        if not isinstance(overridable, bool):
            self.error(f"{at}.overridable", "must be true or false")
        if key is not None and ".headers[" in at and not HEADER_NAME.match(key):
            self.error(f"{at}.key", f"'{key}' is not a valid header name")
            return None
        if key is None or source is None or not isinstance(overridable, bool):
            return None
        kind = FieldKind.HEADER_QUERY_AUTH
        value = self.template(source, f"{at}.value", kind, scope)
        return None if value is None else KeyValue(key, value, overridable)

    def body(
        self, raw: dict[str, Any], key: str, at: str, scope: _StepScope
    ) -> CompiledTemplate | None:
        source = self.string(raw, key, at, None, empty=True)
        if not source:
            return None
        kind = (
            FieldKind.RESPONSE_BODY
            if key == "response_body"
            else (FieldKind.URL_OR_BODY)
        )
        return self.template(source, f"{at}.{key}", kind, scope)

    def content_type(self, raw: dict[str, Any], at: str, scope: _StepScope) -> str:
        key = "response_content_type"
        value = self.string(raw, key, at, MAX_CONTENT_TYPE, empty=True) or ""
        if value and not scope.last:
            self.warning(f"{at}.{key}", "has no effect on a step other than the last")
        if any(character in value for character in "\r\n\0"):
            self.error(f"{at}.{key}", "must not contain line breaks")
            return ""
        return value

    # Authentication ----------------------------------------------------------

    def authentication(
        self, raw: dict[str, Any], at: str, scope: _StepScope
    ) -> Authentication | None:
        if "authentication" not in raw:
            return None
        value, at = raw["authentication"], f"{at}.authentication"
        if not isinstance(value, dict):
            self.error(at, f"must be an object, not {_kind(value)}")
            return None
        self.unknown_keys(value, AUTHENTICATION_KEYS, at)
        kind = self.string(value, "type", at, MAX_KEY, required=True)
        if kind is None:
            return None
        kind = STRATEGY_ALIASES.get(kind, kind)
        if kind not in STRATEGIES:
            known = ", ".join(sorted({*STRATEGIES, *STRATEGY_ALIASES}))
            self.error(f"{at}.type", f"'{kind}' is not one of {known}")
            return None
        config = value.get("config", {})
        if not isinstance(config, dict):
            self.error(f"{at}.config", f"must be an object, not {_kind(config)}")
            return None
        compiled = self.config(config, STRATEGIES[kind], f"{at}.config", scope)
        if compiled is None:
            return None
        return Authentication(kind, compiled)

    def config(
        self,
        config: dict[str, Any],
        fields: StrategyFields,
        at: str,
        scope: _StepScope,
    ) -> Mapping[str, ConfigValue] | None:
        errors_before = len(self.report.errors)
        for missing in sorted(fields.required - config.keys()):
            self.error(f"{at}.{missing}", "is required")
        self.unknown_keys(config, fields.required | fields.optional, at)
        compiled: dict[str, ConfigValue] = {}
        for key, value in config.items():
            if key not in fields.required | fields.optional:
                continue
            if key in fields.objects and not isinstance(value, dict):
                self.error(f"{at}.{key}", f"must be an object, not {_kind(value)}")
                continue
            result = self.config_value(value, f"{at}.{key}", scope)
            if result is not None:
                compiled[key] = result
        self.literal_choices(config, at)
        if len(self.report.errors) > errors_before:
            return None
        return MappingProxyType(compiled)

    def config_value(
        self, value: Any, at: str, scope: _StepScope
    ) -> ConfigValue | None:
        if isinstance(value, dict):
            nested = {}
            for key, item in value.items():
                result = self.config_value(item, f"{at}.{key}", scope)
                if result is not None:
                    nested[str(key)] = result
            return MappingProxyType(nested)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(at, f"must be a string or a number, not {_kind(value)}")
            return None
        source = value if isinstance(value, str) else json.dumps(value)
        return self.template(source, at, FieldKind.HEADER_QUERY_AUTH, scope)

    def literal_choices(self, config: dict[str, Any], at: str) -> None:
        algorithm = config.get("algorithm")
        if _is_literal(algorithm) and algorithm not in ALGORITHMS:
            allowed = ", ".join(sorted(ALGORITHMS))
            self.error(f"{at}.algorithm", f"'{algorithm}' is not one of {allowed}")
        where = config.get("in")
        if _is_literal(where) and where not in ("header", "query"):
            self.error(f"{at}.in", f"'{where}' is not 'header' or 'query'")

    # Templates ---------------------------------------------------------------

    def template(
        self, source: str, at: str, kind: FieldKind, scope: _StepScope
    ) -> CompiledTemplate | None:
        try:
            compiled = compile_template(source)
        except jinja2.TemplateSyntaxError as exc:
            self.error(at, f"template syntax error on line {exc.lineno}: {exc.message}")
            return None
        problems = _usage_problems(compiled, kind, scope)
        for message in problems:
            self.error(at, message)
        return None if problems else compiled

    # Primitive fields --------------------------------------------------------

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
        if key not in raw:
            if required:
                self.error(f"{at}.{key}", "is required")
            return None
        value = raw[key]
        if not isinstance(value, str):
            self.error(f"{at}.{key}", f"must be a string, not {_kind(value)}")
            return None
        if not value and not empty:
            self.error(f"{at}.{key}", "must not be empty")
            return None
        if max_length is not None and len(value) > max_length:
            message = f"is {len(value)} characters long; the limit is {max_length}"
            self.error(f"{at}.{key}", message)
            return None
        return value

    def unknown_keys(
        self, raw: dict[str, Any], known: frozenset[str], location: str
    ) -> None:
        for key in raw:
            if key not in known:
                where = f"{location}.{key}" if location != "(top level)" else key
                self.warning(where, "unknown key, ignored")


@dataclass(frozen=True, slots=True)
class _StepScope:
    """Where a step stands among its composite's steps."""

    index: int
    names: list[Any]
    last: bool


def _usage_problems(
    template: CompiledTemplate, kind: FieldKind, scope: _StepScope
) -> list[str]:
    usage = template.usage
    problems = []
    for name in sorted(usage.names - set(ENVIRONMENT.globals)):
        if name not in ALL_NAMES:
            problems.append(f"unknown variable '{name}'")
        elif name not in AVAILABLE[kind]:
            used = f"{name}()" if name in usage.calls else name
            problems.append(f"{used} is not available in {kind.value} templates")
    for ref in dict.fromkeys(usage.step_refs):
        message = _step_ref_problem(ref, scope)
        if message:
            problems.append(message)
    return problems


def _step_ref_problem(ref: str, scope: _StepScope) -> str | None:
    earlier = scope.names[: scope.index]
    if ref in earlier:
        return None
    if ref == scope.names[scope.index]:
        return f"refers to its own step '{ref}'; only earlier steps can be used"
    if ref in scope.names[scope.index + 1 :]:
        return f"refers to step '{ref}', which runs later"
    message = f"refers to unknown step '{ref}'"
    hyphenated = [n for n in earlier if isinstance(n, str) and n.startswith(ref + "-")]
    if hyphenated:
        message += f"; a hyphenated name needs brackets: steps['{hyphenated[0]}']"
    return message


def _step_uses_user(step: Step) -> bool:
    templates = [pair.value for pair in (*step.headers, *step.query_parameters)]
    if step.authentication is not None:
        templates.extend(_config_templates(step.authentication.config))
    return any("user" in template.usage.names for template in templates)


def _config_templates(config: Mapping[str, ConfigValue]) -> list[CompiledTemplate]:
    templates: list[CompiledTemplate] = []
    for value in config.values():
        if isinstance(value, CompiledTemplate):
            templates.append(value)
        else:
            templates.extend(_config_templates(value))
    return templates


def _is_literal(value: Any) -> bool:
    return isinstance(value, str) and "{" not in value


def _slug_message(value: str) -> str:
    return (
        f"'{value}' is not a slug: use lower-case letters, digits and single "
        "hyphens, with no hyphen at either end"
    )


def _scheme_message(source: str) -> str:
    if source.startswith("http://"):
        return "must use https://, not http://"
    if source.startswith("{"):
        return "must start with https:// before any template"
    return "must be an absolute https:// URL"


def _kind(value: Any) -> str:
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
