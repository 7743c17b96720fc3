"""Named secrets and variables of a tenant, read from a pluggable backend.

The backend is the class named by the ``SECRETS_BACKEND`` setting,
instantiated once per process.  It answers ``None`` for an unknown name.
"""

from __future__ import annotations

import functools
from typing import Protocol

from django.utils.module_loading import import_string

from composites.conf import app_settings


class SecretsBackend(Protocol):
    """Where a tenant's secrets and variables come from."""

    def get_secret(self, tenant_id: str, name: str) -> str | None: ...

    def get_variable(self, tenant_id: str, name: str) -> str | None: ...


class NoSecrets:
    """The backend in force when none is configured: every name is unknown."""

    def get_secret(self, tenant_id: str, name: str) -> str | None:
        return None

    def get_variable(self, tenant_id: str, name: str) -> str | None:
        return None


@functools.cache
def _instantiate(path: str | None) -> SecretsBackend:
    if path is None:
        return NoSecrets()
    backend: SecretsBackend = import_string(path)()
    return backend


def backend() -> SecretsBackend:
    """Return the configured backend, created on first use."""
    return _instantiate(app_settings.SECRETS_BACKEND)
