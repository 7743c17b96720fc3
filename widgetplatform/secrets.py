"""The host's secrets backend: a JSON file outside the repository.

The file, named by ``WIDGETPLATFORM_SECRETS_FILE``, is shaped
``{"<tenant>": {"secrets": {...}, "variables": {...}}}``.  It is read again
when its modification time changes.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger("composites.secrets")


class FileSecretsBackend:
    """Secrets and variables per tenant, from the configured JSON file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signature: tuple[str, int] | None = None
        self._data: dict[str, Any] = {}

    def get_secret(self, tenant_id: str, name: str) -> str | None:
        return self._lookup(tenant_id, "secrets", name)

    def get_variable(self, tenant_id: str, name: str) -> str | None:
        return self._lookup(tenant_id, "variables", name)

    def _lookup(self, tenant_id: str, section: str, name: str) -> str | None:
        tenant = self._load().get(tenant_id)
        if not isinstance(tenant, dict):
            return None
        values = tenant.get(section)
        value = values.get(name) if isinstance(values, dict) else None
        return value if isinstance(value, str) else None

    def _load(self) -> dict[str, Any]:
        path = Path(settings.WIDGETPLATFORM_SECRETS_FILE)
        try:
            signature = (str(path), path.stat().st_mtime_ns)
        except OSError:
            return {}
        with self._lock:
            if signature != self._signature:
                self._data = _read(path)
                self._signature = signature
            return self._data


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.error("Cannot read the secrets file %s: %s", path, type(exc).__name__)
        return {}
    return data if isinstance(data, dict) else {}
