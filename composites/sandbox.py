"""The bounded Jinja2 sandbox every registry template is rendered in.

Jinja's ``SandboxedEnvironment`` keeps templates away from underscore
attributes and the internals of functions, frames and generators.  This
environment goes further and bounds what a template can spend, so a hostile
template ends in a rendering error instead of exhausting the process:

- Python internals: attributes of classes, functions, methods, modules and
  ``functools.partial`` objects are refused, as are ``mro``, ``str.format``
  and ``str.format_map``; an unsafe attribute is an error, never an empty
  value.
- Steps: every loop iteration (``recursive`` loops and ``loop()`` included)
  and every call (macros, methods, functions) spends one step of
  ``TEMPLATE_MAX_LOOP_ITERATIONS``; a render also stops after
  ``TEMPLATE_MAX_SECONDS``.
- Sizes: every value an operator, call or filter makes is at most
  ``TEMPLATE_MAX_STRING_CHARS`` characters or items, and operations that can
  multiply sizes (``*``, ``**``, ``%``, ``~``, ``center``, ``indent``,
  ``replace``, ``join``, ``format``, ``wordwrap``, ``tojson``...) estimate
  their result before they allocate it.  Turning a value into text is
  estimated first too, so a list holding the same long string a million
  times cannot be printed.
- Output: every character a template writes, into its output or into a
  ``{% set %}`` block, macro or ``{% filter %}`` block, counts against
  ``TEMPLATE_MAX_OUTPUT_CHARS``.
- Removed: the globals ``lipsum``, ``cycler`` and ``joiner`` and the HTML
  filters ``pprint`` and ``urlize``, whose output is hard to bound and of no
  use in a JSON or text body.

What a render may still spend is its ``RenderBudget``.
"""

from __future__ import annotations

import functools
import inspect
import operator
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import pass_context
from jinja2.visitor import NodeTransformer

from composites import estimates
from composites.budget import RenderBudget, current_budget
from composites.exceptions import TemplateError

LOOP_FILTER = "_bounded_loop"
CONCAT_FILTER = "_bounded_concat"
WRITE_FILTER = "_bounded_write"
MAX_INT_BITS = 16_384
REMOVED_GLOBALS = ("lipsum", "cycler", "joiner")
REMOVED_FILTERS = ("pprint", "urlize")
# Values of these types show nothing a template needs through attributes.
OPAQUE_TYPES = (
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.ModuleType,
    types.GeneratorType,
    functools.partial,
)
SIZED_RECEIVERS = (list, dict, set)


# Operators -------------------------------------------------------------------


def _multiply(left: Any, right: Any) -> Any:
    if _is_int(left) and _is_int(right):
        _check_bits(abs(left).bit_length() + abs(right).bit_length())
    elif _is_int(right) or _is_int(left):
        sequence, count = (left, right) if _is_int(right) else (right, left)
        if isinstance(sequence, str | bytes | list | tuple):
            size = len(sequence) * max(count, 0)
            current_budget().check_estimate(size, "repeating a sequence")
    return operator.mul(left, right)


def _power(left: Any, right: Any) -> Any:
    if _is_int(left) and _is_int(right) and right > 0:
        _check_bits(max(abs(left).bit_length(), 1) * right)
    return operator.pow(left, right)


def _add(left: Any, right: Any) -> Any:
    return current_budget().check_size(operator.add(left, right))


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str | bytes):
        budget = current_budget()
        size = estimates.percent_size(left, right, budget.max_string)
        budget.check_estimate(size, "%-formatting")
        return budget.check_size(operator.mod(left, right))
    return operator.mod(left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateError(f"an integer would grow past {MAX_INT_BITS} bits")


# Filters the parse step inserts ----------------------------------------------


def _bounded_loop(iterable: Any) -> Iterator[Any]:
    budget = current_budget()
    for item in iterable:
        budget.spend()
        yield item


@pass_context
def _bounded_concat(context: Any, values: list[Any]) -> str:
    budget = current_budget()
    size = sum(estimates.text_size(value, budget.max_string) for value in values)
    budget.check_estimate(size, "joining with ~")
    return "".join(str(value) for value in values)


@pass_context
def _bounded_write(context: Any, values: list[Any]) -> str:
    return current_budget().write(values)


class _Bounds(NodeTransformer):
    """Route loops, ``~`` and everything written through the bounds."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _filtered(node.iter, LOOP_FILTER)
        if node.recursive:
            _bound_recursion(node)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        values = nodes.List(node.nodes, lineno=node.lineno)
        return _filtered(values, CONCAT_FILTER)

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        values = nodes.List(node.nodes, lineno=node.lineno)
        node.nodes = [_filtered(values, WRITE_FILTER)]
        return node


def _filtered(node: nodes.Node, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def _bound_recursion(loop: nodes.For) -> None:
    """Count the iterations of ``loop(...)`` calls in a recursive loop.

    The iterable of a recursive call never passes through the loop's own
    ``iter``, so each call's argument is routed through the loop filter.
    ``loop`` may only be called or read from, so it cannot escape the count
    under another name.
    """
    allowed: set[int] = set()
    for body in (loop.body, loop.else_):
        for statement in body:
            for call in statement.find_all(nodes.Call):
                if _is_loop_name(call.node):
                    _bound_recursive_call(call)
                    allowed.add(id(call.node))
            for attribute in statement.find_all(nodes.Getattr):
                allowed.add(id(attribute.node))
            for item in statement.find_all(nodes.Getitem):
                allowed.add(id(item.node))
    for body in (loop.body, loop.else_):
        for statement in body:
            for name in statement.find_all(nodes.Name):
                if _is_loop_name(name) and id(name) not in allowed:
                    raise jinja2.TemplateSyntaxError(
                        "in a recursive loop, 'loop' can only be called or read from",
                        name.lineno,
                    )


def _bound_recursive_call(call: nodes.Call) -> None:
    if call.dyn_args is not None or call.dyn_kwargs is not None:
        raise jinja2.TemplateSyntaxError(
            "loop() takes its iterable directly, not through * or **",
            call.lineno,
        )
    if call.args:
        call.args[0] = _filtered(call.args[0], LOOP_FILTER)
    for keyword in call.kwargs:
        keyword.value = _filtered(keyword.value, LOOP_FILTER)


def _is_loop_name(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "loop" and node.ctx == "load"


# Filters and calls -----------------------------------------------------------


def _bounded_filter(
    environment: jinja2.Environment, name: str, function: Callable[..., Any]
) -> Callable[..., Any]:
    """Wrap a filter so its inputs, estimated result and result are bounded."""
    skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0
    estimate = estimates.FILTER_ESTIMATES.get(name)
    prints_input = name not in estimates.STRUCTURAL_FILTERS
    listed = name in estimates.LISTED_FILTERS

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.check_time()
        if listed and len(args) > skip:
            args = (*args[:skip], list(args[skip]), *args[skip + 1 :])
        values = args[skip:]
        if prints_input:
            for value in (*values, *kwargs.values()):
                budget.check_printable(value)
        if estimate is not None:
            size = _estimate(estimate, environment, budget, values, kwargs)
            budget.check_estimate(size, f"the {name} filter")
        return budget.check_size(function(*args, **kwargs))

    return bounded


def _estimate(
    estimate: Callable[..., int],
    environment: jinja2.Environment,
    budget: RenderBudget,
    values: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> int:
    try:
        return estimate(environment, budget.max_string, *values, **kwargs)
    except TypeError:
        try:
            inspect.signature(estimate).bind(None, None, *values, **kwargs)
        except TypeError:
            # The filter itself will refuse these arguments, in its own words.
            return 0
        raise


def _check_call(
    budget: RenderBudget, function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Check a method call that can grow a value; return its arguments."""
    receiver = getattr(function, "__self__", None)
    name = getattr(function, "__name__", "")
    if isinstance(receiver, str | bytes):
        if name == "translate" and isinstance(receiver, str):
            raise SecurityError("str.translate() is not available in templates")
        if name == "join" and args:
            args = (list(args[0]), *args[1:])
        size = estimates.method_size(receiver, name, args, kwargs)
        budget.check_estimate(size, f"{name}()")
    elif _is_int(receiver) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        budget.check_estimate(length if _is_int(length) else 0, "to_bytes()")
    return args


class BoundedSandbox(SandboxedEnvironment):
    """A sandbox whose steps, time, values and output have upper bounds."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, filters: Mapping[str, Callable[..., Any]]) -> None:
        super().__init__(
            autoescape=False,
            keep_trailing_newline=True,
            undefined=jinja2.Undefined,
        )
        self.binop_table.update({"*": _multiply, "**": _power, "+": _add, "%": _modulo})
        for name in REMOVED_GLOBALS:
            self.globals.pop(name, None)
        for name in REMOVED_FILTERS:
            self.filters.pop(name, None)
        self.filters.update(filters)
        for name, function in list(self.filters.items()):
            self.filters[name] = _bounded_filter(self, name, function)
        self.filters[LOOP_FILTER] = _bounded_loop
        self.filters[CONCAT_FILTER] = _bounded_concat
        self.filters[WRITE_FILTER] = _bounded_write

    def _parse(
        self, source: str, name: str | None, filename: str | None
    ) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        bounded: nodes.Template = _Bounds().visit(tree)
        return bounded

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr == "mro" or isinstance(obj, OPAQUE_TYPES):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise SecurityError(
            f"access to attribute '{attribute}' of a "
            f"'{type(obj).__name__}' value is not allowed"
        )

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if super().wrap_str_format(value) is None:
            return None
        raise SecurityError(
            "str.format() and str.format_map() are not available in templates; "
            "use the format filter or ~"
        )

    def call(
        __self,  # noqa: N805
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        budget = current_budget()
        budget.spend()
        for argument in (*args, *kwargs.values()):
            budget.check_size(argument)
        args = _check_call(budget, __obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        receiver = getattr(__obj, "__self__", None)
        if isinstance(receiver, SIZED_RECEIVERS):
            budget.check_size(receiver)
        return budget.check_size(result)
