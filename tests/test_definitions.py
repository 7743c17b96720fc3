"""Tests of the read-only registry structures and of composite ids."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from composites.definitions import Registry, composite_id
from composites.validation import validate_text
from tests.registry_documents import composite, validate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REPOSITORY_REGISTRY = PROJECT_ROOT / "registry" / "connectors_registry.json"

# Fixed forever: a changed value would break every widget that calls by id.
KNOWN_IDS = {
    "auth-and-fetch-user": 195397378017318,
    "member-open-tickets": 78174140809132,
    "community-analytics-summary": 58798944459612,
    "demo": 161777647429086,
}


@pytest.mark.parametrize(("permalink", "number"), KNOWN_IDS.items())
def test_composite_id_is_fixed_for_a_permalink(permalink: str, number: int) -> None:
    assert composite_id(permalink) == number


def test_composite_id_is_a_safe_javascript_integer() -> None:
    ids = [composite_id(f"composite-{index}") for index in range(10_000)]

    assert all(0 <= number < 2**48 for number in ids)
    assert len(set(ids)) == len(ids)


def ids_in_process(path: Path) -> dict[str, int]:
    registry = validate_text(path.read_bytes()).registry
    assert registry is not None
    return {c.permalink: c.id for c in registry.composites}


@pytest.mark.parametrize("hash_seed", ["0", "12345"])
def test_composite_ids_are_the_same_in_another_process(hash_seed: str) -> None:
    command = [
        sys.executable,
        "manage.py",
        "check_composites",
        str(REPOSITORY_REGISTRY),
        "--format=json",
    ]
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}

    result = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    printed = json.loads(result.stdout)["composites"]
    assert {c["permalink"]: c["id"] for c in printed} == ids_in_process(
        REPOSITORY_REGISTRY
    )
    assert {c["permalink"]: c["id"] for c in printed} == {
        p: n for p, n in KNOWN_IDS.items() if p != "demo"
    }


def test_registry_find_takes_a_permalink_or_an_id() -> None:
    registry = validate(composite()).registry
    assert registry is not None
    demo = registry.composites[0]

    assert registry.find("demo") is demo
    assert registry.find(str(demo.id)) is demo


@pytest.mark.parametrize(
    "identifier",
    [
        "missing",
        "",
        "0",
        "0161777647429086",
        "161777647429086\n",
        " 161777647429086",
        "+161777647429086",
        "161_777_647_429_086",
        "١٦١٧٧٧٦٤٧٤٢٩٠٨٦",
        "9" * 4000,
    ],
)
def test_registry_find_other_text_finds_nothing(identifier: str) -> None:
    registry = validate(composite()).registry
    assert registry is not None

    assert registry.find(identifier) is None


def test_registry_find_prefers_a_numeric_permalink_to_an_id() -> None:
    registry = validate(composite(permalink="2024")).registry
    assert registry is not None

    assert registry.find("2024") is registry.composites[0]


def test_registry_structures_are_read_only() -> None:
    registry = validate(composite()).registry
    assert registry is not None
    demo = registry.composites[0]

    with pytest.raises(dataclasses.FrozenInstanceError):
        demo.name = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        demo.steps[0].url = demo.steps[0].url  # type: ignore[misc]
    with pytest.raises(TypeError):
        registry.by_permalink["x"] = demo  # type: ignore[index]
    assert isinstance(registry.composites, tuple)
    assert isinstance(demo.steps, tuple)


def test_registry_empty_finds_nothing() -> None:
    assert Registry().find("demo") is None
    assert Registry.of(()).composites == ()
