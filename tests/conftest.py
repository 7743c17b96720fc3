"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache

from composites import registry, secrets, transport

pytest_plugins = ["tests.upstream_fixtures"]


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
