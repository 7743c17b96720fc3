"""The process's pooled HTTP client, shared by every step and token request.

One ``httpx.Client`` per process keeps connections alive across requests.
It never follows redirects, never stores cookies, ignores proxy environment
variables and connects through the destination guard.  It is rebuilt when a
setting it depends on changes.
"""

from __future__ import annotations

import http.cookiejar
import logging
import ssl
import threading
import urllib.request
from typing import Any

import certifi
import httpcore
import httpx
from django.core.signals import setting_changed
from django.dispatch import receiver

from composites.conf import app_settings
from composites.destinations import GuardedBackend


class DropRequestLines(logging.Filter):
    """Drop httpx's per-request INFO line: it holds the full URL, and a query
    string may carry a secret.  The runner logs each step without it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("HTTP Request:")


logging.getLogger("httpx").addFilter(DropRequestLines())


class RefuseAllCookies(http.cookiejar.DefaultCookiePolicy):
    """Keep no cookie, so one caller's upstream cookies never reach another."""

    def set_ok(
        self, cookie: http.cookiejar.Cookie, request: urllib.request.Request
    ) -> bool:
        return False

    def return_ok(
        self, cookie: http.cookiejar.Cookie, request: urllib.request.Request
    ) -> bool:
        return False


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport whose pool connects via ``GuardedBackend``."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(),
        )


def _ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certifi.where())
    if app_settings.CA_BUNDLE:
        context.load_verify_locations(cafile=str(app_settings.CA_BUNDLE))
    return context


def _build() -> httpx.Client:
    maximum = app_settings.MAX_CONNECTIONS
    limits = httpx.Limits(max_connections=maximum, max_keepalive_connections=maximum)
    return httpx.Client(
        transport=GuardedTransport(_ssl_context(), limits),
        cookies=http.cookiejar.CookieJar(policy=RefuseAllCookies()),
        follow_redirects=False,
        trust_env=False,
        timeout=app_settings.STEP_TIMEOUT,
    )


_client: httpx.Client | None = None
_lock = threading.Lock()


def client() -> httpx.Client:
    """Return the process's pooled client, building it on first use."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = _build()
    return _client


def reset() -> None:
    """Close the pooled client; the next ``client()`` builds a new one."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
        _client = None


@receiver(setting_changed)
def _rebuild_on_settings_change(setting: str, **kwargs: Any) -> None:
    if setting == "COMPOSITES":
        reset()
