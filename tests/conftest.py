"""Fixtures shared by the whole suite."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.core.cache import cache

from composites import registry, secrets, transport

if TYPE_CHECKING:
    from tests.upstream_fixtures import RunningUpstream
pytest_plugins = ["tests.upstream_fixtures"]

PLANTED_SECRET = "planted-secret-5f2c9a"


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """Give every test its own registry snapshot, client and cache."""
    registry.store.reset()
    transport.reset()
    secrets._instantiate.cache_clear()
    cache.clear()
    yield
    registry.store.reset()
    transport.reset()


@pytest.fixture
def registry_file(tmp_path: Path, settings: pytest.FixtureRequest) -> Path:
    """A registry file of this test's own, configured as the one in force."""
    path = tmp_path / "connectors_registry.json"
    path.write_text('{"composite_connectors": []}')
    settings.COMPOSITES = {**settings.COMPOSITES, "REGISTRY_PATH": str(path)}
    return path


@pytest.fixture
def secrets_file(tmp_path: Path, settings: pytest.FixtureRequest) -> Path:
    """A secrets file for the tenant ``demo``, the test client's tenant."""
    path = tmp_path / "secrets.json"
    path.write_text(
        json.dumps(
            {
                "demo": {
                    "secrets": {"api_token": PLANTED_SECRET},
                    "variables": {"greeting": "hello"},
                }
            }
        )
    )
    settings.WIDGETPLATFORM_SECRETS_FILE = str(path)
    return path


@pytest.fixture
def composites_env(
    registry_file: Path,
    secrets_file: Path,
    upstream: RunningUpstream,
    settings: pytest.FixtureRequest,
) -> Callable[[list[dict[str, Any]]], None]:
    """Serve composites against the loopback test upstream.

    Returns a function that installs the given composites as the registry.
    """
    settings.COMPOSITES = {
        **settings.COMPOSITES,
        "CA_BUNDLE": upstream.ca_bundle,
        "ALLOW_PRIVATE_NETWORKS": True,
    }

    def install(composites: list[dict[str, Any]]) -> None:
        registry_file.write_text(json.dumps({"composite_connectors": composites}))
        registry.store.reset()

    return install
