"""Per-step authentication strategies.

A strategy turns a step's rendered ``authentication.config`` (the runner has
already rendered every value, giving nested dicts of strings) into
credentials: headers and query parameters added to the step's request.
Strategies that need a token from an authorisation server get it through
``composites.tokens``, which caches it and makes one request at a time per
token.  Every secret a strategy handles or obtains is registered with
``AuthContext.remember_secret`` so that error details are scrubbed of it.

Configuration mistakes found at run time raise ``TemplateError``; key and
claim problems raise ``JWTSigningError``; token endpoint failures raise
``TokenRequestError``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from composites import signing, tokens
from composites.exceptions import JWTSigningError, TemplateError

RenderedConfig = Mapping[str, Any]

DEFAULT_ALGORITHM = "RS256"
DEFAULT_TOKEN_TTL = 3600
ASSERTION_LIFETIME = 180
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
NUMERIC_CLAIMS = ("exp", "iat", "nbf")
# Claims that change on every assertion and so stay out of the cache key.
VOLATILE_CLAIMS = frozenset({"iat", "exp", "nbf", "jti"})
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


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


# Config access ---------------------------------------------------------------


def _text(config: RenderedConfig, key: str, default: str | None = None) -> str:
    value = config.get(key, default)
    if value is None:
        raise TemplateError(f"authentication config '{key}' is required")
    if not isinstance(value, str):
        raise TemplateError(f"authentication config '{key}' must be a string")
    return value


def _required(config: RenderedConfig, key: str) -> str:
    value = _text(config, key)
    if not value.strip():
        raise TemplateError(f"authentication config '{key}' rendered empty")
    return value


def _object(config: RenderedConfig, key: str) -> dict[str, Any]:
    value = config.get(key, {})
    if not isinstance(value, Mapping):
        raise TemplateError(f"authentication config '{key}' must be an object")
    return dict(value)


def _seconds(config: RenderedConfig, key: str, default: int) -> int:
    value = _text(config, key, str(default)).strip()
    if not NUMBER.fullmatch(value) or float(value) < 1:
        raise TemplateError(
            f"authentication config '{key}' must be a positive number of seconds"
        )
    return int(float(value))


def _claims(raw: Mapping[str, Any]) -> dict[str, Any]:
    claims = dict(raw)
    for name in NUMERIC_CLAIMS:
        if name in claims:
            claims[name] = _numeric_date(name, claims[name])
    return claims


def _numeric_date(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if NUMBER.fullmatch(text):
        return int(float(text))
    shown = "an empty value" if not text else "text that is not a number"
    raise JWTSigningError(
        f"claim '{name}' must be a number of seconds since the epoch; it "
        f"rendered {shown} (use now() or now(<offset>))"
    )


def _bearer(token: str) -> Credentials:
    return Credentials(headers=[("Authorization", f"Bearer {token}")])


# Strategies ------------------------------------------------------------------


def no_authentication(config: RenderedConfig, context: AuthContext) -> Credentials:
    return Credentials()


def api_key(config: RenderedConfig, context: AuthContext) -> Credentials:
    key, value = _text(config, "key"), _text(config, "value")
    context.remember_secret(value)
    where = _text(config, "in", "header")
    if where == "query":
        return Credentials(query=[(key, value)])
    if where != "header":
        raise TemplateError("api_key 'in' must render 'header' or 'query'")
    return Credentials(headers=[(key, value)])


def basic(config: RenderedConfig, context: AuthContext) -> Credentials:
    password = _text(config, "password")
    context.remember_secret(password)
    pair = f"{_text(config, 'username')}:{password}"
    encoded = base64.b64encode(pair.encode()).decode("ascii")
    context.remember_secret(encoded)
    return Credentials(headers=[("Authorization", f"Basic {encoded}")])


def bearer(config: RenderedConfig, context: AuthContext) -> Credentials:
    token = _text(config, "token")
    context.remember_secret(token)
    return _bearer(token)


def oauth_client_credentials(
    config: RenderedConfig, context: AuthContext
) -> Credentials:
    """Bearer token of the client credentials grant (RFC 6749 section 4.4).

    The client authenticates with ``client_id`` and ``client_secret`` in the
    form.  A response without ``expires_in`` is taken to live
    ``tokens.DEFAULT_LIFETIME`` seconds.
    """
    client_id = _required(config, "client_id")
    secret = _required(config, "client_secret")
    context.remember_secret(secret)
    url = _required(config, "token_url")
    scope = _text(config, "scope", "").strip()
    # TODO: offer client authentication by HTTP Basic (client_secret_basic),
    # which RFC 6749 has every server support; only the form fields are sent.
    form = {"grant_type": "client_credentials", "client_id": client_id}
    form["client_secret"] = secret
    if scope:
        form["scope"] = scope

    def fetch() -> tokens.Token:
        answer = tokens.request_token(context.client, context.timeout, url, form)
        lifetime = answer.expires_in
        if lifetime is None:
            lifetime = tokens.DEFAULT_LIFETIME
        return tokens.Token(answer.access_token, lifetime)

    key = tokens.cache_key(
        "oauth_client_credentials", context.tenant_id, client_id, secret, url, scope
    )
    token = tokens.obtain(key, fetch, context.timeout)
    context.remember_secret(token)
    return _bearer(token)


def signed_jwt(config: RenderedConfig, context: AuthContext) -> Credentials:
    """A JWT signed for every call from ``claims``, sent as a bearer token."""
    private_key = _required(config, "private_key")
    context.remember_secret(private_key)
    algorithm = _text(config, "algorithm", DEFAULT_ALGORITHM).strip()
    claims = _claims(_object(config, "claims"))
    headers = _object(config, "jwt_headers")
    token = signing.sign_jwt(claims, private_key, algorithm, headers)
    context.remember_secret(token)
    return _bearer(token)


def oauth_jwt_bearer(config: RenderedConfig, context: AuthContext) -> Credentials:
    """Bearer token of the JWT bearer grant (RFC 7523 section 2.1).

    ``subject`` defaults to ``client_id`` and ``audience`` to ``token_url``.
    The access token is cached for ``token_ttl`` seconds, or for the
    endpoint's ``expires_in`` when that is shorter, minus the margin.
    """
    client_id = _required(config, "client_id")
    private_key = _required(config, "private_key")
    context.remember_secret(private_key)
    url = _required(config, "token_url")
    subject = _text(config, "subject", "").strip() or client_id
    audience = _text(config, "audience", "").strip() or url
    algorithm = _text(config, "algorithm", DEFAULT_ALGORITHM).strip()
    ttl = _seconds(config, "token_ttl", DEFAULT_TOKEN_TTL)
    extra = _claims(_object(config, "additional_claims"))
    headers = _object(config, "jwt_headers")

    def fetch() -> tokens.Token:
        now = int(tokens.clock())
        claims = {"jti": uuid.uuid4().hex, **extra, "iss": client_id}
        claims.update(sub=subject, aud=audience, iat=now)
        claims["exp"] = now + ASSERTION_LIFETIME
        assertion = signing.sign_jwt(claims, private_key, algorithm, headers)
        context.remember_secret(assertion)
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
        answer = tokens.request_token(context.client, context.timeout, url, form)
        lifetime = float(ttl)
        if answer.expires_in is not None:
            lifetime = min(lifetime, answer.expires_in)
        return tokens.Token(answer.access_token, lifetime)

    stable = {name: extra[name] for name in extra.keys() - VOLATILE_CLAIMS}
    scope = json.dumps([subject, audience, algorithm, stable, headers], sort_keys=True)
    key = tokens.cache_key(
        "oauth_jwt_bearer", context.tenant_id, client_id, private_key, url, scope
    )
    token = tokens.obtain(key, fetch, context.timeout)
    context.remember_secret(token)
    return _bearer(token)


STRATEGIES: dict[str, Strategy] = {
    "none": no_authentication,
    "api_key": api_key,
    "apikey": api_key,
    "basic": basic,
    "bearer": bearer,
    "oauth_client_credentials": oauth_client_credentials,
    "jwt": signed_jwt,
    "oauth_jwt_bearer": oauth_jwt_bearer,
}


def authenticate(
    kind: str, config: RenderedConfig, context: AuthContext
) -> Credentials:
    """Return the credentials of strategy ``kind`` for a rendered config."""
    strategy = STRATEGIES.get(kind)
    if strategy is None:
        raise TemplateError(f"authentication type '{kind}' is not supported")
    return strategy(config, context)
