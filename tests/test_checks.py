"""Tests of the system checks that stop a process with a broken registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.checks import Error
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from composites.checks import check_registry
from tests.registry_documents import composite, manage, step, write


def test_check_registry_valid_file_has_no_error(registry_file: Path) -> None:
    write(registry_file, composite())

    assert check_registry() == []


def test_check_registry_warnings_do_not_stop_a_process(registry_file: Path) -> None:
    write(registry_file, composite(steps=[]), extra=1)

    assert check_registry() == []


def test_check_registry_reports_every_error_with_its_location(
    registry_file: Path,
) -> None:
    write(
        registry_file,
        composite(permalink="Bad"),
        composite(step(url="http://x/"), permalink="b"),
    )

    hint = f"Run 'manage.py check_composites {registry_file}' to see every problem."
    assert check_registry() == [
        Error(
            "composite_connectors[0].permalink: 'Bad' is not a slug: use lower-case "
            "letters, digits and single hyphens, with no hyphen at either end",
            hint=hint,
            obj=str(registry_file),
            id="composites.E001",
        ),
        Error(
            "composite_connectors[1].steps[0].url: must use https://, not http://",
            hint=hint,
            obj=str(registry_file),
            id="composites.E001",
        ),
    ]


@pytest.mark.parametrize(
    ("content", "check_id", "message"),
    [
        (
            None,
            "composites.E002",
            "file: cannot read {path}: No such file or directory",
        ),
        (
            b'{"composite_connectors": [',
            "composites.E003",
            "line 1, column 27: invalid JSON: Expecting value",
        ),
        (
            b"\xff",
            "composites.E003",
            "line 1, column 1: the file is not UTF-8 (byte 0xff)",
        ),
        (b"[]", "composites.E001", "(top level): must be an object, not an array"),
    ],
    ids=["missing", "json", "encoding", "content"],
)
def test_check_registry_id_tells_the_kind_of_problem(
    registry_file: Path, content: bytes | None, check_id: str, message: str
) -> None:
    if content is None:
        registry_file.unlink()
    else:
        registry_file.write_bytes(content)

    (error,) = check_registry()

    assert error.id == check_id
    assert error.msg == message.format(path=registry_file)


def test_check_command_with_an_invalid_registry_fails(registry_file: Path) -> None:
    write(registry_file, composite(name=""))

    with pytest.raises(SystemCheckError) as raised:
        call_command("check")

    assert "composites.E001" in str(raised.value)
    assert "composite_connectors[0].name: must not be empty" in str(raised.value)


def test_check_command_with_a_valid_registry_passes(registry_file: Path) -> None:
    write(registry_file, composite())

    call_command("check")


def test_manage_check_process_with_an_invalid_registry_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", composite(step(url="https://x/{{ steps.x }}")))

    result = manage("check", registry_path=path)

    assert result.returncode == 1
    assert (
        "?: (composites.E001) composite_connectors[0].steps[0].url: refers to "
        "unknown step 'x'" in result.stderr.replace(f"{path}: ", "?: ")
    )


def test_manage_check_process_with_a_valid_registry_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", composite())

    result = manage("check", registry_path=path)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
