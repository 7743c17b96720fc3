"""The template engine: the bounded sandbox, its filters and functions.

Templates are compiled once, when the registry loads, by ``compile_template``
and rendered per request by ``render``, within the bounds of
``composites.sandbox``.  Which functions a template may call
depends on the field it sits in (``FieldKind``); a function used where it is
not available raises a rendering error instead of rendering an empty value.
Every failure while rendering becomes a ``TemplateError`` here, except those
the functions raise on purpose (``JWTSigningError``).
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes

from composites.budget import RenderBudget, rendering
from composites.exceptions import StepError, TemplateError
from composites.sandbox import BoundedSandbox


class FieldKind(enum.Enum):
    """Where a template sits, which decides the functions it may call."""

    URL_OR_BODY = "url and request_body"
    HEADER_QUERY_AUTH = "header, query and authentication"
    RESPONSE_BODY = "response_body"


CONTEXT_NAMES = frozenset({"steps", "request", "user", "tenant_id"})
FUNCTIONS = frozenset({"now", "get_variable", "get_secret", "jwt_encode"})
AVAILABLE: dict[FieldKind, frozenset[str]] = {
    FieldKind.URL_OR_BODY: CONTEXT_NAMES | {"now", "get_variable", "jwt_encode"},
    FieldKind.HEADER_QUERY_AUTH: CONTEXT_NAMES | FUNCTIONS,
    FieldKind.RESPONSE_BODY: CONTEXT_NAMES | {"now", "get_variable", "response"},
}
ALL_NAMES = CONTEXT_NAMES | FUNCTIONS | {"response"}


# Filters ------------------------------------------------------------------


def from_json(value: str | bytes | None) -> Any:
    if value is None:
        raise TemplateError("from_json got None instead of a JSON text")
    try:
        return json.loads(value)
    except ValueError as exc:
        raise TemplateError(f"from_json got invalid JSON: {exc}") from None
    except RecursionError:
        raise TemplateError("from_json got JSON nested too deeply") from None


def json_encode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def base64_encode(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")


def base64_decode(value: str | bytes) -> str:
    try:
        raw = base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise TemplateError(f"base64_decode got invalid base64: {exc}") from None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise TemplateError("base64_decode produced bytes that are not UTF-8") from None


def url_segment(value: Any) -> str:
    """Percent-encode ``value`` so it stays one path segment or query value.

    Unlike Jinja's ``urlencode``, it also encodes ``/``, ``?`` and ``#``, so
    a visitor's input cannot change the path or start a query.
    """
    return urllib.parse.quote("" if value is None else str(value), safe="")


_FILTERS: dict[str, Callable[..., Any]] = {
    "url_segment": url_segment,
    "from_json": from_json,
    "json_encode": json_encode,
    "base64_encode": base64_encode,
    "base64_decode": base64_decode,
}

ENVIRONMENT = BoundedSandbox(_FILTERS)


# Compiling ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TemplateUsage:
    """What a template refers to, found by reading its syntax tree."""

    names: frozenset[str]
    step_refs: tuple[str, ...]
    calls: frozenset[str]
    filters: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, eq=False)
class CompiledTemplate:
    """A template source compiled once, with what it refers to."""

    source: str
    template: jinja2.Template
    usage: TemplateUsage

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompiledTemplate):
            return NotImplemented
        return self.source == other.source

    def __hash__(self) -> int:
        return hash(self.source)

    @property
    def is_empty(self) -> bool:
        return self.source == ""


def compile_template(source: str) -> CompiledTemplate:
    """Compile ``source``; raise ``jinja2.TemplateSyntaxError`` if invalid."""
    tree = ENVIRONMENT.parse(source)
    template = ENVIRONMENT.from_string(tree)
    return CompiledTemplate(source, template, _usage(tree))


def _usage(tree: nodes.Template) -> TemplateUsage:
    from jinja2 import meta

    step_refs: list[str] = []
    for attribute in tree.find_all(nodes.Getattr):
        if _is_steps(attribute.node):
            step_refs.append(attribute.attr)
    for item in tree.find_all(nodes.Getitem):
        if _is_steps(item.node) and isinstance(item.arg, nodes.Const):
            step_refs.append(str(item.arg.value))
    calls = {
        call.node.name
        for call in tree.find_all(nodes.Call)
        if isinstance(call.node, nodes.Name)
    }
    names = meta.find_undeclared_variables(tree)
    filters = {node.name for node in tree.find_all(nodes.Filter)}
    return TemplateUsage(
        frozenset(names), tuple(step_refs), frozenset(calls), frozenset(filters)
    )


def _is_steps(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "steps"


# Rendering ----------------------------------------------------------------


def render(template: CompiledTemplate, variables: Mapping[str, Any]) -> str:
    """Render ``template`` within the configured bounds.

    Raise ``TemplateError`` for any failure of the template itself; errors
    raised on purpose by the functions (a ``StepError``) pass through.
    """
    if template.is_empty:
        return ""
    with rendering() as budget:
        try:
            return _collect(template.template.generate(variables), budget)
        except StepError:
            raise
        except RecursionError:
            raise TemplateError("the template recursed too deeply") from None
        except Exception as exc:
            raise TemplateError(_describe(exc)) from None


def _collect(chunks: Iterator[str], budget: RenderBudget) -> str:
    output: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > budget.max_output:
            raise TemplateError(
                f"the output is longer than {budget.max_output} characters"
            )
        output.append(chunk)
    return "".join(output)


def _describe(exc: Exception) -> str:
    if isinstance(exc, jinja2.TemplateError):
        return exc.message or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
TYPE_NAMES = frozenset(
    {"int", "float", "str", "bool", "bytes", "list", "tuple", "dict", "set"}
    | {"NoneType", "Undefined"}
)


def quote_only_source(detail: str, source: str) -> str:
    """Mask every quoted value of ``detail`` that ``source`` does not hold.

    Error messages of Jinja and Python quote the values they failed on, and
    a value computed while rendering may hold a secret, part of one, or
    another step's data.  Names written in the template itself, and type
    names, stay readable.
    """

    def mask(match: re.Match[str]) -> str:
        text = match.group(1) if match.group(1) is not None else match.group(2)
        if text in source or text in TYPE_NAMES or text.endswith(" object"):
            return match.group(0)
        return "'…'"

    return QUOTED.sub(mask, detail)


def now(offset: int = 0) -> int:
    """Return the current Unix time in whole seconds, plus ``offset``."""
    return int(time.time()) + int(offset)


def unavailable(name: str, kind: FieldKind) -> Callable[..., Any]:
    """Return a stand-in that fails loudly where ``name`` is not allowed."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise TemplateError(f"{name}() is not available in {kind.value} templates")

    return refuse
