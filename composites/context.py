"""What templates see during one run, and the secrets they have read.

``RunContext`` builds the variables of each render: ``steps`` (the results
of earlier steps), ``request`` (the widget's body, content type and query),
``user``, ``tenant_id``, the functions allowed in the field being rendered,
and ``response`` in ``response_body``.  It remembers every secret and token
a template produced, so error details can be scrubbed of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from composites import secrets, signing
from composites.callers import Caller
from composites.exceptions import TemplateError
from composites.templating import AVAILABLE, FUNCTIONS, FieldKind, now, unavailable


@dataclass(frozen=True, slots=True)
class WidgetRequest:
    """What the widget sent that templates may see."""

    body: bytes = b""
    content_type: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    # Decoded once: every template of a run sees it.
    text: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.body:
            text = decode(self.body, charset_of(self.content_type))
            object.__setattr__(self, "text", text)

    def template_view(self) -> dict[str, Any]:
        return {
            "body_text": self.text,
            "body_raw": self.body or None,
            "headers": {"Content-Type": self.content_type} if self.content_type else {},
            "query_parameters": dict(self.query),
        }


@dataclass(frozen=True, slots=True)
class Upstream:
    """A step's upstream response, read whole."""

    status: int
    headers: dict[str, str]
    content: bytes
    # Decoded once, for response_body and for steps.<name> alike.
    text: str | None = field(init=False, default="")

    def __post_init__(self) -> None:
        if self.content:
            charset = charset_of(self.headers.get("content-type"))
            object.__setattr__(self, "text", decode(self.content, charset))

    def template_view(self) -> dict[str, Any]:
        return {
            "body": self.text,
            "status_code": self.status,
            "headers": dict(self.headers),
        }


class StepsView:
    """``steps`` in templates: earlier steps by name and nothing else."""

    __slots__ = ("_results",)

    def __init__(self, results: Mapping[str, Mapping[str, Any]]) -> None:
        self._results = results

    def __getattr__(self, name: str) -> Mapping[str, Any]:
        try:
            return self._results[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        return self._results[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __contains__(self, name: object) -> bool:
        return name in self._results


@dataclass(slots=True)
class RunContext:
    """The caller, the widget's request and what earlier steps returned."""

    widget: WidgetRequest
    caller: Caller
    results: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)

    def remember_secret(self, value: str) -> None:
        """Have ``value`` redacted from any error detail of this run."""
        if len(value) >= 4:
            self.secrets.add(value)

    def scrub(self, text: str) -> str:
        """Replace every remembered secret in ``text`` by ``[redacted]``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return text

    def variables(
        self, kind: FieldKind, response: Upstream | None = None
    ) -> dict[str, Any]:
        """Return the variables of a template of field ``kind``."""
        variables: dict[str, Any] = {
            "steps": StepsView(self.results),
            "request": self.widget.template_view(),
            "user": self.caller.user,
            "tenant_id": self.caller.tenant_id,
        }
        functions = {
            "now": now,
            "get_variable": lambda name: self._named_value("variable", name),
            "get_secret": lambda name: self._named_value("secret", name),
            "jwt_encode": self._jwt_encode,
        }
        assert functions.keys() == FUNCTIONS
        for name, function in functions.items():
            allowed = name in AVAILABLE[kind]
            variables[name] = function if allowed else unavailable(name, kind)
        if response is not None:
            variables["response"] = response.template_view()
        return variables

    def _named_value(self, kind: str, name: Any) -> str:
        store = secrets.backend()
        tenant = self.caller.tenant_id
        if kind == "secret":
            value = store.get_secret(tenant, str(name))
        else:
            value = store.get_variable(tenant, str(name))
        if value is None:
            raise TemplateError(f"unknown {kind} '{name}' for this tenant")
        if kind == "secret":
            self.remember_secret(value)
        return value

    def _jwt_encode(
        self,
        payload: Mapping[str, Any],
        key: str,
        algorithm: str = "HS256",
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        token = signing.sign_jwt(payload, key, algorithm, headers)
        self.remember_secret(token)
        return token


def charset_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def decode(content: bytes, charset: str | None) -> str | None:
    try:
        return content.decode(charset or "utf-8")
    except LookupError:
        return decode(content, "utf-8") if charset != "utf-8" else None
    except UnicodeDecodeError:
        return None
