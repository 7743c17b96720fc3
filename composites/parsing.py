"""Reading a registry file's bytes as JSON, strictly.

``parse`` decodes UTF-8 and parses JSON, reporting a failure as a problem
with its line and column.  It refuses what Python's parser would otherwise
let through: ``NaN`` and ``Infinity``, numbers too large to be finite or too
long to convert, and nesting too deep to walk.  Objects come back as
``JSONObject``, which remembers keys given more than once.
"""

from __future__ import annotations

import json
import math
from typing import Any

from composites.problems import Findings, JSONObject

MAX_DEPTH = 32
MAX_DIGITS = 100


class _Refused(ValueError):
    """JSON that Python's parser accepts but the registry does not."""


def parse(text: str | bytes, findings: Findings) -> Any:
    """Return the document in ``text``, or report why not and return None."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            location = _position(exc.object[: exc.start])
            message = f"the file is not UTF-8 (byte 0x{exc.object[exc.start]:02x})"
            findings.error(location, message, "syntax")
            return None
    try:
        return json.loads(
            text,
            object_pairs_hook=JSONObject.from_pairs,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except json.JSONDecodeError as exc:
        location = f"line {exc.lineno}, column {exc.colno}"
        findings.error(location, f"invalid JSON: {exc.msg}", "syntax")
    except _Refused as exc:
        findings.error("file", f"invalid JSON: {exc}", "syntax")
    except RecursionError:
        findings.error("file", "invalid JSON: nested too deeply", "syntax")
    return None


def nested_too_deeply(document: Any) -> bool:
    """Tell whether objects and arrays nest more than ``MAX_DEPTH`` levels."""
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            return True
        children = value.values() if isinstance(value, dict) else value
        pending.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _position(before: bytes) -> str:
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8-sig")) + 1
    return f"line {line}, column {column}"


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:40]} is too large")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > MAX_DIGITS:
        raise _Refused(f"a number of {len(text)} digits is too long")
    return int(text)
