"""Tests of ``manage.py check_composites``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from composites.definitions import composite_id
from tests.registry_documents import composite, step, write

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REPOSITORY_REGISTRY = PROJECT_ROOT / "registry" / "connectors_registry.json"


def check(*arguments: str) -> tuple[int, list[str], str]:
    """Run the command; return its exit status, stdout lines and failure."""
    stdout = io.StringIO()
    try:
        call_command("check_composites", *arguments, stdout=stdout, no_color=True)
    except CommandError as error:
        return error.returncode, stdout.getvalue().splitlines(), str(error)
    return 0, stdout.getvalue().splitlines(), ""


def test_check_composites_repository_registry_exits_0() -> None:
    status, lines, _ = check(str(REPOSITORY_REGISTRY))

    assert status == 0
    assert lines == [
        f"ok auth-and-fetch-user (id {composite_id('auth-and-fetch-user')}): 2 step(s)",
        f"ok member-open-tickets (id {composite_id('member-open-tickets')}): 2 step(s)",
        "ok community-analytics-summary "
        f"(id {composite_id('community-analytics-summary')}): 1 step(s)",
        f"{REPOSITORY_REGISTRY}: 0 error(s), 0 warning(s), 3 composite(s)",
    ]


def test_check_composites_repository_registry_passes_strict() -> None:
    status, _, _ = check(str(REPOSITORY_REGISTRY), "--strict")

    assert status == 0


def test_check_composites_without_a_path_checks_the_configured_file(
    registry_file: Path,
) -> None:
    write(registry_file, composite())

    status, lines, _ = check()

    assert status == 0
    assert lines[-1] == f"{registry_file}: 0 error(s), 0 warning(s), 1 composite(s)"


def test_check_composites_errors_exit_1_with_one_line_each(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.json",
        composite(step(url="http://x/", method="FETCH"), permalink="Bad"),
        composite(permalink="other", steps=[]),
    )

    status, lines, failure = check(str(path))

    assert status == 1
    assert lines == [
        "error composite_connectors[0].permalink: 'Bad' is not a slug: use "
        "lower-case letters, digits and single hyphens, with no hyphen at either "
        "end",
        "error composite_connectors[0].steps[0].url: must use https://, not http://",
        "error composite_connectors[0].steps[0].method: 'FETCH' is not one of "
        "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT",
        "warning composite_connectors[1].steps: has no steps; running it fails",
        f"{path}: 3 error(s), 1 warning(s), 0 composite(s)",
    ]
    assert failure == f"{path} is invalid: 3 error(s)."


def test_check_composites_warnings_alone_exit_0(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", composite(steps=[], extra=True))

    status, lines, _ = check(str(path))

    assert status == 0
    assert lines == [
        "warning composite_connectors[0].extra: unknown key, ignored",
        "warning composite_connectors[0].steps: has no steps; running it fails",
        f"ok demo (id {composite_id('demo')}): 0 step(s)",
        f"{path}: 0 error(s), 2 warning(s), 1 composite(s)",
    ]


def test_check_composites_warnings_with_strict_exit_1(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", composite(step(reponse_body="x")))

    status, lines, failure = check(str(path), "--strict")

    assert status == 1
    assert lines[0] == (
        "warning composite_connectors[0].steps[0].reponse_body: unknown key, ignored"
    )
    assert failure == f"{path} has 1 warning(s), which --strict rejects."


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (
            b'{"composite_connectors": [',
            "error line 1, column 27: invalid JSON: Expecting value",
        ),
        (
            b'{"composite_connectors": []}\n\xff',
            "error line 2, column 1: the file is not UTF-8 (byte 0xff)",
        ),
        (b'["not an object"]', "error (top level): must be an object, not an array"),
    ],
)
def test_check_composites_unreadable_document_exits_1(
    tmp_path: Path, content: bytes, line: str
) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(content)

    status, lines, _ = check(str(path))

    assert status == 1
    assert lines == [line, f"{path}: 1 error(s), 0 warning(s), 0 composite(s)"]


def test_check_composites_missing_file_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"

    status, lines, _ = check(str(path))

    assert status == 1
    assert lines[0] == f"error file: cannot read {path}: No such file or directory"


def test_check_composites_changes_nothing(registry_file: Path, tmp_path: Path) -> None:
    write(registry_file, composite())
    path = write(tmp_path / "other.json", composite(permalink="other"))
    before = (registry_file.read_bytes(), registry_file.stat().st_mtime_ns)

    check(str(path))

    assert (registry_file.read_bytes(), registry_file.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "connectors_registry.json",
        "other.json",
    ]


def check_json(*arguments: str) -> tuple[int, dict[str, Any]]:
    status, lines, _ = check("--format=json", *arguments)
    return status, json.loads("\n".join(lines))


def test_check_composites_json_of_a_valid_registry(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.json",
        composite(step(name="auth"), step(name="fetch-user"), name="Café"),
    )

    assert check_json(str(path)) == (
        0,
        {
            "path": str(path),
            "valid": True,
            "strict": False,
            "passed": True,
            "errors": [],
            "warnings": [],
            "composites": [
                {
                    "id": composite_id("demo"),
                    "permalink": "demo",
                    "name": "Café",
                    "steps": ["auth", "fetch-user"],
                }
            ],
        },
    )


def test_check_composites_json_of_an_invalid_registry(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", composite(step(url="ftp://x/"), extra=1))

    assert check_json(str(path)) == (
        1,
        {
            "path": str(path),
            "valid": False,
            "strict": False,
            "passed": False,
            "errors": [
                {
                    "location": "composite_connectors[0].steps[0].url",
                    "message": "must be an absolute https:// URL",
                }
            ],
            "warnings": [
                {
                    "location": "composite_connectors[0].extra",
                    "message": "unknown key, ignored",
                }
            ],
            "composites": [],
        },
    )


def test_check_composites_json_with_strict_and_warnings_fails(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", composite(extra=1))

    status, document = check_json(str(path), "--strict")

    assert status == 1
    assert (document["valid"], document["strict"], document["passed"]) == (
        True,
        True,
        False,
    )
    assert [c["permalink"] for c in document["composites"]] == ["demo"]


def manage(*arguments: str, registry_path: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COMPOSITES_REGISTRY_PATH": str(registry_path)}
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_composites_process_exit_status_is_1_for_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", composite(name=""))

    result = manage("check_composites", registry_path=path)

    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        "error composite_connectors[0].name: must not be empty"
    )
    assert result.stderr.strip() == f"CommandError: {path} is invalid: 1 error(s)."


def test_check_composites_process_runs_while_the_configured_registry_is_broken(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")

    result = manage("check_composites", str(REPOSITORY_REGISTRY), registry_path=broken)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith(
        "0 error(s), 0 warning(s), 3 composite(s)"
    )
