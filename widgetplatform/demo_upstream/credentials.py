"""What a caller must present to the demo upstream, from a secrets file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

SECRET_NAMES = {
    "client_id": "demo_client_id",
    "client_secret": "demo_client_secret",
    "crm_api_key": "crm_api_key",
    "analytics_jwt_secret": "analytics_jwt_secret",
}


@dataclasses.dataclass(frozen=True)
class DemoCredentials:
    """What a caller must present to each part of the demo API."""

    client_id: str
    client_secret: str
    crm_api_key: str
    analytics_jwt_secret: str


class ConfigurationError(Exception):
    """The secrets file cannot provide the demo credentials."""


def load_credentials(secrets_file: Path, tenant: str) -> DemoCredentials:
    """Read the demo credentials from the tenant's secrets in ``secrets_file``.

    The file maps each tenant to ``{"secrets": {...}, "variables": {...}}``.
    Errors name the missing secrets, never any value.
    """
    try:
        document = json.loads(Path(secrets_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"cannot read {secrets_file}: {error}") from error

    tenant_entry = document.get(tenant) if isinstance(document, dict) else None
    found = tenant_entry.get("secrets") if isinstance(tenant_entry, dict) else None
    tenant_secrets = found if isinstance(found, dict) else {}
    missing = [
        name
        for name in SECRET_NAMES.values()
        if not isinstance(tenant_secrets.get(name), str)
    ]
    if missing:
        raise ConfigurationError(
            f"tenant {tenant!r} in {secrets_file} lacks the secrets "
            + ", ".join(missing)
        )
    return DemoCredentials(
        **{field: tenant_secrets[name] for field, name in SECRET_NAMES.items()}
    )
