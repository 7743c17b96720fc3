"""Per-step authentication strategies.

A strategy turns a step's rendered ``authentication.config`` into
credentials: headers and query parameters added to the step's request.
Strategies that need a token from an authorisation server ask for it through
the ``AuthContext`` they are given.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from composites.exceptions import TemplateError

RenderedConfig = Mapping[str, Any]


@dataclass(slots=True)
class Credentials:
    """What a strategy adds to a step's request."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    query: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AuthContext:
    """What a strategy may use besides its config."""

    tenant_id: str
    client: httpx.Client
    timeout: Callable[[], httpx.Timeout]
    remember_secret: Callable[[str], None]


Strategy = Callable[[RenderedConfig, AuthContext], Credentials]


def _text(config: RenderedConfig, key: str, default: str | None = None) -> str:
    value = config.get(key, default)
    if value is None:
        raise TemplateError(f"authentication config '{key}' is required")
    if not isinstance(value, str):
        raise TemplateError(f"authentication config '{key}' must be a string")
    return value


def no_authentication(config: RenderedConfig, context: AuthContext) -> Credentials:
    return Credentials()


def api_key(config: RenderedConfig, context: AuthContext) -> Credentials:
    key, value = _text(config, "key"), _text(config, "value")
    context.remember_secret(value)
    where = _text(config, "in", "header")
    if where == "query":
        return Credentials(query=[(key, value)])
    if where != "header":
        raise TemplateError(f"api_key 'in' must be 'header' or 'query', not '{where}'")
    return Credentials(headers=[(key, value)])


def basic(config: RenderedConfig, context: AuthContext) -> Credentials:
    pair = f"{_text(config, 'username')}:{_text(config, 'password')}"
    encoded = base64.b64encode(pair.encode()).decode("ascii")
    context.remember_secret(encoded)
    return Credentials(headers=[("Authorization", f"Basic {encoded}")])


def bearer(config: RenderedConfig, context: AuthContext) -> Credentials:
    token = _text(config, "token")
    context.remember_secret(token)
    return Credentials(headers=[("Authorization", f"Bearer {token}")])


STRATEGIES: dict[str, Strategy] = {
    "none": no_authentication,
    "api_key": api_key,
    "basic": basic,
    "bearer": bearer,
}


def authenticate(
    kind: str, config: RenderedConfig, context: AuthContext
) -> Credentials:
    """Return the credentials of strategy ``kind`` for a rendered config."""
    strategy = STRATEGIES.get(kind)
    if strategy is None:
        raise TemplateError(f"authentication type '{kind}' is not supported")
    return strategy(config, context)
