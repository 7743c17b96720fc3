"""Access tokens from OAuth token endpoints: requested, parsed and cached.

``request_token`` POSTs a form to a token endpoint through the pooled client
and turns every way that can fail (network error, timeout, non-2xx answer,
a body that is not a JSON object with an ``access_token``, an unreadable
``expires_in``) into a ``TokenRequestError``; it is the one place where the
errors of token requests are translated.

``obtain`` returns a token from Django's cache (the ``TOKEN_CACHE_ALIAS``
alias) or fetches one, so that concurrent requests for a missing or expired
token make one token request, not one each:

- within a process, the first caller of a key leads a *flight* and the
  others wait for its outcome, success or failure;
- across processes sharing the cache (Redis), the leader first takes a
  short lock entry with ``cache.add``; a process that finds the lock taken
  polls the cache for the token until the lock goes away or its wait bound
  passes, and only then fetches on its own.

A token is cached for its lifetime minus ``EXPIRY_MARGIN`` seconds; one whose
remaining lifetime is not positive is used for the request that fetched it
and not cached.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.core.cache import BaseCache, caches
from django.utils.crypto import salted_hmac

from composites import destinations
from composites.conf import app_settings
from composites.exceptions import (
    ExecutionError,
    StepNetworkError,
    TokenRequestError,
    UnexpectedError,
)
from composites.exchange import exchange

logger = logging.getLogger("composites.tokens")

EXPIRY_MARGIN = 60.0
DEFAULT_LIFETIME = 300.0
MAX_LIFETIME = 86_400.0
POLL_INTERVAL = 0.05
LOCK_MARGIN = 5
KEY_PREFIX = "composites:token:"
USER_AGENT = "composites/0.1"
# The registered error codes of RFC 6749 section 5.2: a fixed vocabulary,
# safe to repeat in a detail, unlike anything else the endpoint says.
OAUTH_ERRORS = frozenset(
    {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client"}
    | {"unsupported_grant_type", "invalid_scope"}
)
FIELD_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
TOKEN_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")

# Tests replace this to move time forward without sleeping.
clock: Callable[[], float] = time.time

Timeout = Callable[[], httpx.Timeout]


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """What a token endpoint answered: the token and ``expires_in``."""

    access_token: str
    expires_in: float | None


@dataclass(frozen=True, slots=True)
class Token:
    """A fetched token and how many seconds its issuer says it lives."""

    access_token: str
    lifetime: float


def cache_key(*parts: str) -> str:
    """Return the cache key of a token identified by ``parts``.

    The parts (tenant, client id, client secret or private key, token URL,
    scope...) go through an HMAC keyed with ``SECRET_KEY``, so the key
    reveals nothing of them, not even to someone who can list the cache.
    """
    material = json.dumps(parts, separators=(",", ":"))
    digest = salted_hmac("composites.tokens", material, algorithm="sha256")
    return KEY_PREFIX + digest.hexdigest()


# Requesting ------------------------------------------------------------------


def request_token(
    client: httpx.Client, timeout: Timeout, url: str, form: Mapping[str, str]
) -> TokenResponse:
    """POST ``form`` to the token endpoint ``url`` and parse its answer."""
    request = client.build_request(
        "POST",
        destinations.parse_url(url, "token_url"),
        data=dict(form),
        headers={"Accept": "application/json", "User-Agent": USER_AGENT},
    )
    started = time.perf_counter()
    status: int | None = None
    try:
        status, content_type, content = _send(client, request, timeout)
        response = _parse(status, content_type, content)
    except TokenRequestError as exc:
        _log(request, started, status, logging.WARNING, exc.detail)
        raise
    _log(request, started, status, logging.INFO, "ok")
    return response


def _timeout(timeout: Timeout) -> httpx.Timeout:
    try:
        return timeout()
    except StepNetworkError as exc:
        raise TokenRequestError(f"no token was requested: {exc.detail}") from None


def _send(
    client: httpx.Client, request: httpx.Request, timeout: Timeout
) -> tuple[int, str, bytes]:
    try:
        reply = exchange(client, request, _timeout(timeout), "the token endpoint")
    except StepNetworkError as exc:
        raise TokenRequestError(exc.detail) from None
    content_type = reply.headers.get("content-type", "")
    return reply.status, content_type, reply.content


def _parse(status: int, content_type: str, content: bytes) -> TokenResponse:
    if not 200 <= status < 300:
        raise TokenRequestError(_refusal(status, content))
    try:
        body = json.loads(content)
    except ValueError:
        shown = content_type.split(";")[0].strip() or "none"
        raise TokenRequestError(
            f"the token endpoint answered HTTP {status} with a body that is not "
            f"JSON (Content-Type: {shown})"
        ) from None
    if not isinstance(body, dict):
        raise TokenRequestError("the token endpoint's JSON is not an object")
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        names = sorted(name for name in body if FIELD_NAME.match(str(name)))[:10]
        raise TokenRequestError(
            "the token endpoint's JSON has no access_token "
            f"(its fields: {', '.join(names) or 'none'})"
        )
    if not TOKEN_CHARACTERS.match(token):
        raise TokenRequestError(
            "the token endpoint's access_token has characters not allowed in "
            "an Authorization header"
        )
    return TokenResponse(token, _expires_in(body.get("expires_in")))


def _refusal(status: int, content: bytes) -> str:
    detail = f"the token endpoint answered HTTP {status}"
    try:
        error = json.loads(content).get("error")
    except (ValueError, AttributeError):
        return detail
    if isinstance(error, str) and error in OAUTH_ERRORS:
        return f"{detail} ({error})"
    return detail


def _expires_in(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float):
        value = math.nan
    if not math.isfinite(value):
        raise TokenRequestError(
            "the token endpoint's expires_in is not a number of seconds"
        )
    return float(value)


def _log(
    request: httpx.Request,
    started: float,
    status: int | None,
    level: int,
    outcome: str,
) -> None:
    duration_ms = (time.perf_counter() - started) * 1000
    logger.log(
        level,
        "token request host=%s status=%s duration_ms=%.1f outcome=%s",
        request.url.host,
        status,
        duration_ms,
        outcome,
        extra={
            "host": request.url.host,
            "status_code": status,
            "duration_ms": duration_ms,
        },
    )


# Caching ---------------------------------------------------------------------


@dataclass(slots=True)
class _Flight:
    """One fetch in progress in this process, and its outcome."""

    done: threading.Event = field(default_factory=threading.Event)
    token: str | None = None
    error: BaseException | None = None

    def result(self, wait: float) -> str:
        if not self.done.wait(wait):
            raise TokenRequestError(
                "a token request for the same credentials did not finish "
                f"within {wait:.1f} s"
            )
        if isinstance(self.error, ExecutionError):
            raise copy.copy(self.error) from None
        if self.error is not None or self.token is None:
            raise UnexpectedError() from None
        return self.token


_flights: dict[str, _Flight] = {}
_flights_lock = threading.Lock()


def obtain(key: str, fetch: Callable[[], Token], timeout: Timeout) -> str:
    """Return the cached token under ``key``, or ``fetch`` one and cache it."""
    # TODO: drop the cached token when the step it authenticated answers 401,
    # so that a token revoked before its expiry is not reused until then.
    store = caches[app_settings.TOKEN_CACHE_ALIAS]
    token = _cached(store, key)
    if token is not None:
        return token

    wait = _timeout(timeout).read or app_settings.STEP_TIMEOUT
    with _flights_lock:
        flight = _flights.get(key)
        leading = flight is None
        if flight is None:
            flight = _flights[key] = _Flight()
    if not leading:
        return flight.result(wait)

    try:
        flight.token = _fetch_shared(store, key, fetch, wait)
    except BaseException as exc:
        # A copy, taken before the runner records its step in the original.
        flight.error = copy.copy(exc) if isinstance(exc, ExecutionError) else exc
        raise
    finally:
        with _flights_lock:
            del _flights[key]
        flight.done.set()
    return flight.token


def _cached(store: BaseCache, key: str) -> str | None:
    entry = store.get(key)
    if not isinstance(entry, dict) or entry.get("expires_at", 0) <= clock():
        return None
    token = entry.get("access_token")
    return token if isinstance(token, str) else None


def _fetch_shared(
    store: BaseCache, key: str, fetch: Callable[[], Token], wait: float
) -> str:
    lock_key = f"{key}:lock"
    give_up = time.monotonic() + wait
    while True:
        # A flight that ended just before this one began may have stored it.
        token = _cached(store, key)
        if token is not None:
            return token
        if store.add(lock_key, os.getpid(), timeout=_lock_seconds()):
            try:
                return _fetch_and_store(store, key, fetch)
            finally:
                store.delete(lock_key)
        token = _await_other_process(store, key, lock_key, give_up)
        if token is not None:
            return token
        if time.monotonic() >= give_up:
            break
    logger.warning("token request of another process still running; fetching")
    return _fetch_and_store(store, key, fetch)


def _await_other_process(
    store: BaseCache, key: str, lock_key: str, give_up: float
) -> str | None:
    while time.monotonic() < give_up:
        time.sleep(POLL_INTERVAL)
        token = _cached(store, key)
        if token is not None:
            return token
        if store.get(lock_key) is None:
            return None
    return None


def _lock_seconds() -> int:
    return math.ceil(float(app_settings.STEP_TIMEOUT)) + LOCK_MARGIN


def _fetch_and_store(store: BaseCache, key: str, fetch: Callable[[], Token]) -> str:
    token = fetch()
    cache_for = min(token.lifetime, MAX_LIFETIME) - EXPIRY_MARGIN
    if cache_for > 0:
        entry = {"access_token": token.access_token, "expires_at": clock() + cache_for}
        store.set(key, entry, timeout=math.ceil(cache_for))
    else:
        logger.info("token not cached: its lifetime is %.0f s", token.lifetime)
    return token.access_token
