"""The template engine: a bounded Jinja2 sandbox, its filters and functions.

Templates are compiled once, when the registry loads, by ``compile_template``
and rendered per request by ``render``.  Which functions a template may call
depends on the field it sits in (``FieldKind``); a function used where it is
not available raises a rendering error instead of rendering an empty value.
Every failure while rendering becomes a ``TemplateError`` here, except those
the functions raise on purpose (``JWTSigningError``).
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import enum
import json
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from composites.conf import app_settings
from composites.exceptions import StepError, TemplateError


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
LOOP_FILTER = "_bounded_loop"


@dataclass(frozen=True, slots=True)
class RenderBudget:
    """The bounds of one render, shared by its loops, calls and operators."""

    max_output: int
    max_string: int
    loop_iterations: list[int]
    max_loop_iterations: int

    def spend_iteration(self) -> None:
        self.loop_iterations[0] += 1
        if self.loop_iterations[0] > self.max_loop_iterations:
            raise TemplateError(
                f"loops ran more than {self.max_loop_iterations} iterations"
            )

    def check_size(self, value: Any) -> Any:
        if isinstance(value, str | bytes | list | tuple) and (
            len(value) > self.max_string
        ):
            raise TemplateError(
                f"a value grew past {self.max_string} characters or items"
            )
        return value


_budget: contextvars.ContextVar[RenderBudget] = contextvars.ContextVar("budget")


def _current_budget() -> RenderBudget:
    try:
        return _budget.get()
    except LookupError:
        return _new_budget()


def _new_budget() -> RenderBudget:
    return RenderBudget(
        max_output=app_settings.TEMPLATE_MAX_OUTPUT_CHARS,
        max_string=app_settings.TEMPLATE_MAX_STRING_CHARS,
        loop_iterations=[0],
        max_loop_iterations=app_settings.TEMPLATE_MAX_LOOP_ITERATIONS,
    )


def _bounded_loop(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _current_budget()
    for item in iterable:
        budget.spend_iteration()
        yield item


def _repeat(left: Any, right: Any) -> Any:
    budget = _current_budget()
    sequence, count = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(sequence, str | bytes | list | tuple) and isinstance(count, int):
        budget.check_size(range(len(sequence) * max(count, 0)))
    return operator.mul(left, right)


def _power(left: Any, right: Any) -> Any:
    if isinstance(right, int) and abs(right) > 1000:
        raise TemplateError("an exponent over 1000 is not allowed")
    return operator.pow(left, right)


def _concatenate(left: Any, right: Any) -> Any:
    return _current_budget().check_size(operator.add(left, right))


class BoundedSandbox(SandboxedEnvironment):
    """A sandbox whose loops, repetitions and values have upper bounds."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def __init__(self) -> None:
        super().__init__(
            autoescape=False,
            keep_trailing_newline=True,
            undefined=jinja2.Undefined,
        )
        self.binop_table.update({"*": _repeat, "**": _power, "+": _concatenate})
        self.filters[LOOP_FILTER] = _bounded_loop
        self.filters.update(_FILTERS)
        for unbounded in ("lipsum", "cycler", "joiner"):
            self.globals.pop(unbounded, None)

    def _parse(
        self, source: str, name: str | None, filename: str | None
    ) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(
                loop.iter, LOOP_FILTER, [], [], None, None, lineno=loop.lineno
            )
        return tree

    def call(
        __self,  # noqa: N805
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        budget = _current_budget()
        for argument in (*args, *kwargs.values()):
            budget.check_size(argument)
        result = super().call(__context, __obj, *args, **kwargs)
        return budget.check_size(result)


# Filters ------------------------------------------------------------------


def from_json(value: str | bytes | None) -> Any:
    if value is None:
        raise TemplateError("from_json got None instead of a JSON text")
    try:
        return json.loads(value)
    except ValueError as exc:
        raise TemplateError(f"from_json got invalid JSON: {exc}") from None


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


_FILTERS: dict[str, Callable[..., Any]] = {
    "from_json": from_json,
    "json_encode": json_encode,
    "base64_encode": base64_encode,
    "base64_decode": base64_decode,
}

ENVIRONMENT = BoundedSandbox()


# Compiling ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TemplateUsage:
    """What a template refers to, found by reading its syntax tree."""

    names: frozenset[str]
    step_refs: tuple[str, ...]
    calls: frozenset[str]


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
    return TemplateUsage(frozenset(names), tuple(step_refs), frozenset(calls))


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
    budget = _new_budget()
    token = _budget.set(budget)
    try:
        return _collect(template.template.generate(variables), budget)
    except StepError:
        raise
    except RecursionError:
        raise TemplateError("the template recursed too deeply") from None
    except Exception as exc:
        raise TemplateError(_describe(exc)) from None
    finally:
        _budget.reset(token)


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


def now(offset: int = 0) -> int:
    """Return the current Unix time in whole seconds, plus ``offset``."""
    return int(time.time()) + int(offset)


def unavailable(name: str, kind: FieldKind) -> Callable[..., Any]:
    """Return a stand-in that fails loudly where ``name`` is not allowed."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise TemplateError(f"{name}() is not available in {kind.value} templates")

    return refuse
