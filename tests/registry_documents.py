"""Builders of registry documents for the tests of validation and commands.

``step()`` and ``composite()`` return valid JSON objects that a test changes
through keyword arguments; ``problems()`` validates a document and returns
its problems as the lines ``check_composites`` prints.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError

from composites.validation import Report, validate_text

COMPOSITE = "composite_connectors[0]"
STEP = "composite_connectors[0].steps[0]"
SLUG_RULE = (
    "is not a slug: use lower-case letters, digits and single hyphens, with no "
    "hyphen at either end"
)


PROJECT_ROOT = Path(__file__).resolve().parent.parent


def step(**fields: Any) -> dict[str, Any]:
    """Return a valid step, with ``fields`` added or replaced."""
    return {"name": "fetch", "url": "https://api.example.com/items", **fields}


def composite(*steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Return a valid composite of ``steps`` (one step when none is given)."""
    chain = list(steps) if steps else [step()]
    return {"name": "Demo", "permalink": "demo", "steps": chain, **fields}


def document(*composites: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"composite_connectors": list(composites), **fields}


def text(*composites: dict[str, Any], **fields: Any) -> str:
    return json.dumps(document(*composites, **fields))


def write(path: Path, *composites: dict[str, Any], **fields: Any) -> Path:
    path.write_text(json.dumps(document(*composites, **fields), indent=2))
    return path


def validate(*composites: dict[str, Any], **fields: Any) -> Report:
    return validate_text(text(*composites, **fields).encode())


def problems(source: str | bytes | dict[str, Any]) -> list[str]:
    """Return the problems of a document as ``check_composites`` lines."""
    if isinstance(source, dict):
        source = json.dumps(source)
    return [str(problem) for problem in validate_text(source).problems]


def step_problems(**fields: Any) -> list[str]:
    """Return the problems of a composite of one step with ``fields``."""
    return problems(document(composite(step(**fields))))


def manage(*arguments: str, registry_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` in a process of its own with that registry."""
    environment = {**os.environ, "COMPOSITES_REGISTRY_PATH": str(registry_path)}
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_command(name: str, *arguments: str) -> tuple[int, list[str], str]:
    """Run a management command; return its exit status, stdout lines and
    failure message."""
    stdout = io.StringIO()
    try:
        call_command(name, *arguments, stdout=stdout, no_color=True)
    except CommandError as error:
        return error.returncode, stdout.getvalue().splitlines(), str(error)
    return 0, stdout.getvalue().splitlines(), ""
