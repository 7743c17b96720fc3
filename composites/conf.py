"""Access to the ``COMPOSITES`` settings dict, read lazily on every lookup.

Nothing is read at import time, so ``override_settings`` in tests and a
changed ``COMPOSITES`` dict take effect on the next attribute access.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

MIB = 1024 * 1024

DEFAULTS: dict[str, Any] = {
    "REGISTRY_PATH": "registry/connectors_registry.json",
    "REGISTRY_MAX_BYTES": 10 * MIB,
    "MAX_REQUEST_BYTES": 1 * MIB,
    "MAX_RESPONSE_BYTES": 10 * MIB,
    "STEP_TIMEOUT": 15.0,
    "RUN_DEADLINE": 60.0,
    "MAX_CONNECTIONS": 100,
    "CALLER_RESOLVER": "composites.callers.resolve_django_user",
    "SECRETS_BACKEND": None,
    "TOKEN_CACHE_ALIAS": "default",
    "ALLOW_HTTP": False,
    "ALLOW_PRIVATE_NETWORKS": False,
    "ALLOWED_PRIVATE_HOSTS": (),
    "CA_BUNDLE": None,
    "TEMPLATE_MAX_OUTPUT_CHARS": 1 * MIB,
    "TEMPLATE_MAX_LOOP_ITERATIONS": 100_000,
    "TEMPLATE_MAX_STRING_CHARS": 1 * MIB,
    "TEMPLATE_MAX_SECONDS": 5.0,
}


class CompositesSettings:
    """Attribute access to ``settings.COMPOSITES`` with documented defaults."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown composites setting: {name!r}")
        user_settings = getattr(django_settings, "COMPOSITES", {})
        return user_settings.get(name, DEFAULTS[name])


app_settings = CompositesSettings()
