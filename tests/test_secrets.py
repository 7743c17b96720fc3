"""The secrets backend setting."""

from __future__ import annotations

from typing import Any

from composites import secrets


def test_backend_without_setting_knows_no_name(settings: Any) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "SECRETS_BACKEND": None}

    store = secrets.backend()

    assert store.get_secret("demo", "anything") is None
    assert store.get_variable("demo", "anything") is None


def test_backend_is_created_once_per_setting(settings: Any) -> None:
    settings.COMPOSITES = {
        **settings.COMPOSITES,
        "SECRETS_BACKEND": "widgetplatform.secrets.FileSecretsBackend",
    }

    assert secrets.backend() is secrets.backend()
