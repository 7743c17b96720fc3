"""Tests of ``manage.py sync_registry``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from composites import registry
from composites.definitions import composite_id
from tests.registry_documents import composite, run_command, step, write

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def sync(*arguments: str) -> tuple[int, list[str], str]:
    return run_command("sync_registry", *arguments)


def line(action: str, permalink: str) -> str:
    return f"{action} {permalink} (id {composite_id(permalink)})"


def snapshot(path: Path) -> tuple[bytes, int, int]:
    status = path.stat()
    return path.read_bytes(), status.st_ino, status.st_mtime_ns


def test_sync_registry_prints_each_change_and_installs_the_source(
    registry_file: Path, tmp_path: Path
) -> None:
    write(
        registry_file,
        composite(permalink="kept"),
        composite(permalink="changed"),
        composite(permalink="removed"),
    )
    source = write(
        tmp_path / "new.json",
        composite(permalink="kept"),
        composite(step(method="POST"), permalink="changed"),
        composite(permalink="added"),
    )

    status, lines, _ = sync("--source", str(source))

    assert status == 0
    assert lines == [
        line("created", "added"),
        line("updated", "changed"),
        line("deleted", "removed"),
        "1 created, 1 updated, 1 deleted",
        f"Installed {source} as {registry_file}.",
    ]
    assert registry_file.read_bytes() == source.read_bytes()


def test_sync_registry_installed_file_is_picked_up_by_the_running_process(
    registry_file: Path, tmp_path: Path
) -> None:
    write(registry_file, composite())
    assert registry.current().find("demo") is not None
    source = write(tmp_path / "new.json", composite(permalink="synced"))

    sync("--source", str(source))

    assert [c.permalink for c in registry.current().composites] == ["synced"]


def test_sync_registry_replaces_the_file_by_renaming_a_new_one(
    registry_file: Path, tmp_path: Path
) -> None:
    write(registry_file, composite())
    before = registry_file.stat()
    source = write(tmp_path / "new.json", composite(permalink="other"))

    sync("--source", str(source))

    assert registry_file.stat().st_ino != before.st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "connectors_registry.json",
        "new.json",
    ]


def test_sync_registry_reformatting_and_reordering_keys_is_no_update(
    registry_file: Path, tmp_path: Path
) -> None:
    registry_file.write_text(
        '{"composite_connectors": [{"name": "Demo", "permalink": "demo", '
        '"steps": [{"name": "fetch", "url": "https://api.example.com/items"}]}]}'
    )
    source = write(tmp_path / "new.json", composite())

    status, lines, _ = sync("--source", str(source))

    assert status == 0
    assert lines[0] == "0 created, 0 updated, 0 deleted"


def test_sync_registry_renamed_permalink_is_a_deletion_and_a_creation(
    registry_file: Path, tmp_path: Path
) -> None:
    write(registry_file, composite(permalink="old-name"))
    source = write(tmp_path / "new.json", composite(permalink="new-name"))

    _, lines, _ = sync("--source", str(source))

    assert lines[:2] == [line("created", "new-name"), line("deleted", "old-name")]


def test_sync_registry_dry_run_prints_changes_and_changes_nothing(
    registry_file: Path, tmp_path: Path
) -> None:
    write(registry_file, composite())
    before = snapshot(registry_file)
    source = write(tmp_path / "new.json", composite(), composite(permalink="added"))

    status, lines, _ = sync("--source", str(source), "--dry-run")

    assert status == 0
    assert lines == [
        line("created", "added"),
        "1 created, 0 updated, 0 deleted",
        "Dry run: nothing installed.",
    ]
    assert snapshot(registry_file) == before


def test_sync_registry_invalid_source_exits_1_and_changes_nothing(
    registry_file: Path, tmp_path: Path
) -> None:
    write(registry_file, composite())
    before = snapshot(registry_file)
    source = write(
        tmp_path / "new.json",
        composite(step(url="http://x/"), permalink="Bad"),
        composite(steps=[], extra=1),
    )

    status, lines, failure = sync("--source", str(source))

    assert status == 1
    assert lines == [
        "error composite_connectors[0].permalink: 'Bad' is not a slug: use "
        "lower-case letters, digits and single hyphens, with no hyphen at either "
        "end",
        "error composite_connectors[0].steps[0].url: must use https://, not http://",
        "warning composite_connectors[1].extra: unknown key, ignored",
        "warning composite_connectors[1].steps: has no steps; running it fails",
    ]
    assert failure == f"{source} is invalid (2 error(s)); nothing was changed."
    assert snapshot(registry_file) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "connectors_registry.json",
        "new.json",
    ]


def test_sync_registry_invalid_json_exits_1_with_its_position(
    registry_file: Path, tmp_path: Path
) -> None:
    before = snapshot(registry_file)
    source = tmp_path / "new.json"
    source.write_text('{\n  "composite_connectors": [,]\n}')

    status, lines, _ = sync("--source", str(source))

    assert status == 1
    assert lines == ["error line 2, column 28: invalid JSON: Expecting value"]
    assert snapshot(registry_file) == before


def test_sync_registry_missing_source_exits_1(
    registry_file: Path, tmp_path: Path
) -> None:
    before = snapshot(registry_file)
    source = tmp_path / "missing.json"

    status, lines, _ = sync("--source", str(source))

    assert status == 1
    assert lines == [f"error file: cannot read {source}: No such file or directory"]
    assert snapshot(registry_file) == before


def test_sync_registry_warnings_are_printed_and_do_not_stop_it(
    registry_file: Path, tmp_path: Path
) -> None:
    source = write(tmp_path / "new.json", composite(step(method="get")))

    status, lines, _ = sync("--source", str(source))

    assert status == 0
    assert lines[:2] == [
        "warning composite_connectors[0].steps[0].method: write 'GET' in upper case",
        line("created", "demo"),
    ]
    assert registry_file.read_bytes() == source.read_bytes()


def test_sync_registry_missing_target_is_created(tmp_path: Path, settings: Any) -> None:
    target = tmp_path / "deploy" / "registry.json"
    settings.COMPOSITES = {**settings.COMPOSITES, "REGISTRY_PATH": str(target)}
    source = write(tmp_path / "new.json", composite())

    status, lines, _ = sync("--source", str(source))

    assert status == 0
    assert lines == [
        line("created", "demo"),
        "1 created, 0 updated, 0 deleted",
        f"Installed {source} as {target}.",
    ]
    assert target.read_bytes() == source.read_bytes()


def test_sync_registry_invalid_target_is_replaced_with_a_warning(
    registry_file: Path, tmp_path: Path
) -> None:
    write(registry_file, composite(permalink="kept"), composite(name=""))
    source = write(tmp_path / "new.json", composite(permalink="kept"))

    status, lines, _ = sync("--source", str(source))

    assert status == 0
    assert lines == [
        f"warning {registry_file}: the registry file in force is invalid (1 "
        "error(s)); changes are listed against its valid composites",
        "0 created, 0 updated, 0 deleted",
        f"Installed {source} as {registry_file}.",
    ]
    assert registry_file.read_bytes() == source.read_bytes()


def test_sync_registry_without_a_source_validates_the_file_in_force(
    registry_file: Path,
) -> None:
    write(registry_file, composite())
    before = snapshot(registry_file)

    status, lines, _ = sync()

    assert status == 0
    assert lines == [
        "0 created, 0 updated, 0 deleted",
        f"{registry_file} is already the registry in force.",
    ]
    assert snapshot(registry_file) == before


def test_sync_registry_process_repairs_a_broken_configured_registry(
    tmp_path: Path,
) -> None:
    target = tmp_path / "registry.json"
    target.write_text("{")
    source = write(tmp_path / "good.json", composite())
    environment = {**os.environ, "COMPOSITES_REGISTRY_PATH": str(target)}

    result = subprocess.run(
        [sys.executable, "manage.py", "sync_registry", "--source", str(source)],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert line("created", "demo") in result.stdout.splitlines()
    assert target.read_bytes() == source.read_bytes()


def test_sync_registry_process_invalid_source_exits_1(tmp_path: Path) -> None:
    target = write(tmp_path / "registry.json", composite())
    before = snapshot(target)
    source = write(tmp_path / "bad.json", composite(name=""))
    environment = {**os.environ, "COMPOSITES_REGISTRY_PATH": str(target)}

    result = subprocess.run(
        [sys.executable, "manage.py", "sync_registry", f"--source={source}"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "error composite_connectors[0].name: must not be empty"
    ]
    assert result.stderr.strip() == (
        f"CommandError: {source} is invalid (1 error(s)); nothing was changed."
    )
    assert snapshot(target) == before


def test_sync_registry_empty_steps_are_reported_and_installed(
    registry_file: Path, tmp_path: Path
) -> None:
    source = write(tmp_path / "new.json", composite(steps=[]))

    status, lines, _ = sync("--source", str(source))

    assert status == 0
    assert lines[:2] == [
        "warning composite_connectors[0].steps: has no steps; running it fails",
        line("created", "demo"),
    ]
    assert registry.current().find("demo") is not None


def test_sync_registry_strict_refuses_a_misspelt_top_level_key(
    registry_file: Path, tmp_path: Path
) -> None:
    write(registry_file, composite())
    before = snapshot(registry_file)
    source = tmp_path / "typo.json"
    source.write_text('{"composite_conectors": []}')

    status, lines, failure = sync("--source", str(source), "--strict")

    assert status == 1
    assert lines == ["warning composite_conectors: unknown key, ignored"]
    assert failure == (
        f"{source} has 1 warning(s), which --strict rejects; nothing was changed."
    )
    assert snapshot(registry_file) == before


def test_sync_registry_without_strict_installs_despite_warnings(
    registry_file: Path, tmp_path: Path
) -> None:
    write(registry_file, composite())
    source = write(tmp_path / "new.json", composite(extra=1))

    status, lines, _ = sync("--source", str(source))

    assert status == 0
    assert lines[-1] == f"Installed {source} as {registry_file}."
