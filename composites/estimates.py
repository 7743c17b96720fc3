"""Size estimates the template sandbox makes before it allocates a value.

Each function returns an upper estimate, within a small constant factor, of
how long a value would become, so that an operation able to multiply sizes
(``"%9999999s" % x``, ``s.replace("", big)``, ``items|join(big)``) is refused
before it runs.  Estimates of how long a value prints stop counting once
past the limit they are given, so estimating a list that holds the same
long string a million times costs no more than the limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, ItemsView, KeysView, Mapping, ValuesView
from typing import Any

from jinja2.filters import make_attrgetter
from jinja2.utils import Namespace

from composites.exceptions import TemplateError

WORDWRAP_MAX_CHARS = 20_000
# Python's textwrap takes quadratic time on long words, hence the cap above.
PERCENT = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?"
    r"(?:\.(?P<precision>\*|\d+))?[hlL]?(?P<kind>.)",
    re.DOTALL,
)
FLOAT_DIGITS = 330
CONTAINERS = (list, tuple, set, frozenset, KeysView, ValuesView, ItemsView)
SCALARS = (str, bytes, int, float, type(None))

# Filters that never turn their input into text.
STRUCTURAL_FILTERS = frozenset(
    {"abs", "attr", "batch", "count", "d", "default", "dictsort", "first"}
    | {"float", "groupby", "int", "items", "last", "length", "list", "map"}
    | {"max", "min", "random", "reject", "rejectattr", "reverse", "round"}
    | {"select", "selectattr", "slice", "sort", "sum", "unique", "from_json"}
    | {"base64_decode", "base64_encode"}
)
# Filters whose input is read twice (estimate, then filter), so an iterator
# is turned into a list first.
LISTED_FILTERS = frozenset({"join"})


def text_size(value: Any, limit: int, indent: int = 0) -> int:
    """Estimate ``len(str(value))``; stop counting once past ``limit``.

    ``indent`` adds the line breaks and indentation ``json.dumps(indent=)``
    would put before every item.
    """
    if isinstance(value, SCALARS):
        return _scalar_size(value, 0)
    total = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending and total <= limit:
        item, depth = pending.pop()
        children = _children(item)
        if children is None:
            total += _scalar_size(item, depth)
            continue
        per_item = 2 + (1 + indent * (depth + 1) if indent else 0)
        total += len(type(item).__name__) + 4 + len(children) * per_item
        if total <= limit:
            pending.extend((child, depth + 1) for child in children)
    return total


def _children(item: Any) -> list[Any] | None:
    if isinstance(item, SCALARS):
        return None
    if isinstance(item, Namespace):
        item = item._Namespace__attrs
    if isinstance(item, Mapping):
        return [part for pair in item.items() for part in pair]
    if isinstance(item, CONTAINERS):
        return list(item)
    return None


def _scalar_size(item: Any, depth: int) -> int:
    if isinstance(item, str):
        return len(item) + (2 if depth else 0)
    if isinstance(item, bytes):
        return 4 * len(item) + 3
    if isinstance(item, bool) or item is None:
        return 5
    if isinstance(item, int):
        return item.bit_length() // 3 + 2
    if isinstance(item, float):
        return 24
    return len(str(item))


def percent_size(template: str | bytes, values: Any, limit: int) -> int:
    """Estimate the length of ``template % values``."""
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    positional = list(values) if isinstance(values, tuple) else [values]
    mapping = values if isinstance(values, Mapping) else {}
    size = len(text)
    for match in PERCENT.finditer(text):
        if match["kind"] == "%":
            continue
        width = _star_or_number(match["width"], positional)
        precision = _star_or_number(match["precision"], positional)
        if match["key"] is not None:
            value = mapping.get(match["key"])
        else:
            value = positional.pop(0) if positional else None
        size += max(width, _conversion_size(match["kind"], value, precision, limit))
        if size > limit:
            break
    return size


def _star_or_number(spec: str | None, positional: list[Any]) -> int:
    if spec is None:
        return 0
    if spec == "*":
        value = positional.pop(0) if positional else 0
        return abs(value) if isinstance(value, int) else 0
    return int(spec)


def _conversion_size(kind: str, value: Any, precision: int, limit: int) -> int:
    if kind in "sra":
        size = text_size(value, limit)
        return min(size, precision) if precision else size
    if isinstance(value, int):
        return max(value.bit_length() // 3 + 2, precision) + 2
    return FLOAT_DIGITS + precision


def method_size(
    receiver: str | bytes, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> int:
    """Estimate the length of what a str or bytes method returns."""
    length = len(receiver)
    if name in {"center", "ljust", "rjust", "zfill"}:
        return max(length, _number(_argument(args, kwargs, 0, "width", 0)))
    if name == "expandtabs":
        tabsize = _number(_argument(args, kwargs, 0, "tabsize", 8))
        if isinstance(receiver, str):
            tabs = receiver.count("\t")
        else:
            tabs = receiver.count(b"\t")
        return length + tabs * max(tabsize, 0)
    if name == "join" and args:
        items = args[0]
        parts = sum(len(item) for item in items if isinstance(item, str | bytes))
        return parts + length * max(len(items) - 1, 0)
    if name == "replace" and len(args) >= 2:
        return _replaced_size(receiver, args[0], args[1], args[2:])
    return 0


def _replaced_size(
    receiver: str | bytes, old: Any, new: Any, rest: tuple[Any, ...]
) -> int:
    if not isinstance(old, str | bytes) or not isinstance(new, str | bytes):
        return 0
    occurrences = receiver.count(old) if old else len(receiver) + 1  # type: ignore[arg-type]
    count = rest[0] if rest and isinstance(rest[0], int) else -1
    if count >= 0:
        occurrences = min(occurrences, count)
    return len(receiver) + occurrences * max(len(new) - len(old), 0)


def _argument(
    args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any
) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _number(value: Any) -> int:
    return value if isinstance(value, int) else 0


# Filter estimates: each takes the environment, the limit, then the filter's
# own arguments under the filter's own parameter names.


def _center(environment: Any, limit: int, value: Any, width: Any = 80) -> int:
    return max(text_size(value, limit), _number(width))


def _indent(
    environment: Any,
    limit: int,
    s: Any,
    width: Any = 4,
    first: Any = False,
    blank: Any = False,
) -> int:
    step = len(width) if isinstance(width, str) else _number(width)
    text = str(s)
    return len(text) + (text.count("\n") + 1) * step


def _wordwrap(
    environment: Any,
    limit: int,
    s: Any,
    width: Any = 79,
    break_long_words: Any = True,
    wrapstring: Any = None,
    break_on_hyphens: Any = True,
) -> int:
    size = text_size(s, limit)
    if size > WORDWRAP_MAX_CHARS:
        raise TemplateError(
            f"the wordwrap filter takes at most {WORDWRAP_MAX_CHARS} characters"
        )
    separator = wrapstring if wrapstring is not None else "\n"
    return size + (size + 1) * len(str(separator))


def _replace(
    environment: Any, limit: int, s: Any, old: Any, new: Any, count: Any = None
) -> int:
    rest = (count,) if isinstance(count, int) else ()
    return _replaced_size(str(s), str(old), str(new), rest)


def _join(
    environment: Any, limit: int, value: Any, d: Any = "", attribute: Any = None
) -> int:
    items = list(value)
    if attribute is not None:
        getter = make_attrgetter(environment, attribute)
        items = [getter(item) for item in items]
    size = len(str(d)) * max(len(items) - 1, 0)
    for item in items:
        if size > limit:
            break
        size += text_size(item, limit)
    return size


def _format(environment: Any, limit: int, value: Any, *args: Any, **kwargs: Any) -> int:
    return percent_size(str(value), kwargs or args, limit)


def _tojson(environment: Any, limit: int, value: Any, indent: Any = None) -> int:
    return text_size(value, limit, _number(indent))


def _json_encode(environment: Any, limit: int, value: Any) -> int:
    return text_size(value, limit)


def _batch(
    environment: Any, limit: int, value: Any, linecount: Any, fill_with: Any = None
) -> int:
    return _number(linecount)


def _slice(
    environment: Any, limit: int, value: Any, slices: Any, fill_with: Any = None
) -> int:
    return _number(slices)


def _sum(
    environment: Any,
    limit: int,
    iterable: Any,
    attribute: Any = None,
    start: Any = 0,
) -> int:
    # Adding lists or strings one by one takes quadratic time.
    if not isinstance(start, int | float):
        raise TemplateError("the sum filter adds numbers; its start must be one")
    return 0


FILTER_ESTIMATES: dict[str, Callable[..., int]] = {
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "replace": _replace,
    "join": _join,
    "format": _format,
    "tojson": _tojson,
    "json_encode": _json_encode,
    "batch": _batch,
    "slice": _slice,
    "sum": _sum,
}
