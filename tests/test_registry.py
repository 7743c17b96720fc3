"""Tests of the registry in force: reading, reloading and installing files."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from composites import registry
from composites.exceptions import RegistryInvalid
from composites.validation import Report
from tests.registry_documents import composite, document

HOUR_NS = 3600 * 10**9


def content(*composites: dict[str, Any]) -> bytes:
    return json.dumps(document(*composites), indent=2).encode()


def permalinks() -> list[str]:
    return [c.permalink for c in registry.current().composites]


def age(path: Path, nanoseconds: int = HOUR_NS) -> None:
    """Set the file's modification time ``nanoseconds`` in the past."""
    then = time.time_ns() - nanoseconds
    os.utime(path, ns=(then, then))


def rejections(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "composites.registry" and r.levelno == logging.ERROR
    ]


# Reading -------------------------------------------------------------------


def test_configured_path_relative_is_taken_from_base_dir(settings: Any) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "REGISTRY_PATH": "r/x.json"}

    assert registry.configured_path() == Path(settings.BASE_DIR) / "r" / "x.json"


def test_read_report_missing_file_is_an_error_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"

    report = registry.read_report(path)

    assert [str(p) for p in report.problems] == [
        f"error file: cannot read {path}: No such file or directory"
    ]
    assert report.problems[0].category == "file"


def test_read_report_directory_is_an_error_of_the_file(tmp_path: Path) -> None:
    report = registry.read_report(tmp_path)

    assert [str(p) for p in report.problems] == [
        f"error file: cannot read {tmp_path}: Is a directory"
    ]


def test_read_report_file_over_the_size_limit_is_not_read(
    tmp_path: Path, settings: Any
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "REGISTRY_MAX_BYTES": 10}
    path = tmp_path / "r.json"
    path.write_bytes(b'{"composite_connectors": []}')

    report = registry.read_report(path)

    assert [str(p) for p in report.problems] == [
        "error file: the file is 28 bytes; the limit is 10"
    ]
    assert report.content == b""


def test_read_report_keeps_the_bytes_it_validated(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(content(composite()))

    report = registry.read_report(path)

    assert report.content == path.read_bytes()
    assert report.registry is not None


# Installing ----------------------------------------------------------------


def test_install_replaces_the_file_with_the_exact_bytes(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(b"old")

    registry.install(b"new \xe2\x9c\x93", path)

    assert path.read_bytes() == b"new \xe2\x9c\x93"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_install_is_a_rename_so_a_reader_of_the_old_file_sees_it_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(b"old content")
    old_inode = path.stat().st_ino

    with path.open("rb") as reader:
        registry.install(b"new content", path)
        assert reader.read() == b"old content"

    assert path.stat().st_ino != old_inode
    assert path.read_bytes() == b"new content"


def test_install_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(b"old")
    path.chmod(0o640)

    registry.install(b"new", path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_install_new_file_is_readable_by_other_processes(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "r.json"

    registry.install(b"new", path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_install_that_fails_leaves_the_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(b"old")

    def fail(source: str, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(registry.os, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        registry.install(b"new", path)

    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


# The registry in force -----------------------------------------------------


def test_current_loads_the_configured_file(registry_file: Path) -> None:
    registry.install(content(composite()), registry_file)

    assert permalinks() == ["demo"]


def test_current_without_change_returns_the_same_snapshot(registry_file: Path) -> None:
    registry.install(content(composite()), registry_file)
    age(registry_file)

    assert registry.current() is registry.current()


def test_current_changed_file_is_swapped_in_without_a_restart(
    registry_file: Path,
) -> None:
    registry.install(content(composite()), registry_file)
    before = registry.current()

    registry.install(content(composite(), composite(permalink="added")), registry_file)

    assert permalinks() == ["demo", "added"]
    assert [c.permalink for c in before.composites] == ["demo"]


def test_current_snapshot_held_by_a_request_is_unchanged_by_a_reload(
    registry_file: Path,
) -> None:
    registry.install(content(composite(name="Before")), registry_file)
    held = registry.current()
    held_composite = held.find("demo")

    registry.install(
        content(composite(name="After", permalink="renamed")), registry_file
    )
    current = registry.current()

    assert held.find("demo") is held_composite
    assert held_composite is not None and held_composite.name == "Before"
    assert held.find("renamed") is None
    assert current.find("demo") is None
    renamed = current.find("renamed")
    assert renamed is not None and renamed.name == "After"


def test_current_emptied_file_keeps_the_previous_registry_and_logs_once(
    registry_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry.install(content(composite()), registry_file)
    before = registry.current()

    registry_file.write_bytes(b"")
    with caplog.at_level(logging.INFO, logger="composites"):
        served = [registry.current() for _ in range(5)]

    assert all(snapshot is before for snapshot in served)
    assert len(rejections(caplog)) == 1


def test_current_invalid_change_keeps_the_previous_registry_and_logs_once(
    registry_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry.install(content(composite()), registry_file)
    before = registry.current()

    registry.install(content(composite(permalink="Bad")), registry_file)
    with caplog.at_level(logging.INFO, logger="composites"):
        served = [registry.current() for _ in range(5)]
    age(registry_file)
    with caplog.at_level(logging.INFO, logger="composites"):
        served += [registry.current() for _ in range(5)]

    assert all(snapshot is before for snapshot in served)
    (record,) = rejections(caplog)
    assert record.getMessage() == (
        f"Registry {registry_file} is invalid (1 error(s)); keeping the previous "
        "registry. error composite_connectors[0].permalink: 'Bad' is not a slug: "
        "use lower-case letters, digits and single hyphens, with no hyphen at "
        "either end"
    )
    assert record.error_count == 1  # type: ignore[attr-defined]


def test_current_fixed_file_after_an_invalid_change_is_loaded(
    registry_file: Path,
) -> None:
    registry.install(content(composite()), registry_file)
    registry.current()
    registry.install(b"{", registry_file)
    registry.current()

    registry.install(content(composite(permalink="fixed")), registry_file)

    assert permalinks() == ["fixed"]


def test_current_deleted_file_keeps_the_previous_registry(
    registry_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry.install(content(composite()), registry_file)
    before = registry.current()

    registry_file.unlink()
    with caplog.at_level(logging.ERROR, logger="composites"):
        served = [registry.current() for _ in range(3)]

    assert all(snapshot is before for snapshot in served)
    (record,) = rejections(caplog)
    assert "No such file or directory" in record.getMessage()


def test_current_invalid_file_at_start_raises_with_every_error(
    registry_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry.install(
        content(composite(name=""), composite(permalink="B")), registry_file
    )

    with caplog.at_level(logging.ERROR, logger="composites"):
        with pytest.raises(RegistryInvalid) as raised:
            registry.current()
        with pytest.raises(RegistryInvalid):
            registry.current()

    assert [p.location for p in raised.value.problems] == [
        "composite_connectors[0].name",
        "composite_connectors[1].permalink",
    ]
    (record,) = rejections(caplog)
    assert "no registry is in force" in record.getMessage()


def test_current_file_rewritten_with_the_same_content_is_not_reloaded(
    registry_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry.install(content(composite()), registry_file)
    before = registry.current()
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="composites"):
        registry.install(content(composite()), registry_file)
        after = registry.current()

    assert after is before
    assert caplog.records == []


def test_current_change_hidden_from_stat_is_seen_while_the_file_is_fresh(
    registry_file: Path,
) -> None:
    registry.install(content(composite(permalink="aaaa")), registry_file)
    assert permalinks() == ["aaaa"]
    signature = registry_file.stat()

    # Same size, same inode, same modification time: only the bytes differ,
    # as when two writes land within one tick of a coarse file system clock.
    with registry_file.open("r+b") as handle:
        handle.write(content(composite(permalink="bbbb")))
    os.utime(registry_file, ns=(signature.st_atime_ns, signature.st_mtime_ns))

    assert registry_file.stat().st_ino == signature.st_ino
    assert permalinks() == ["bbbb"]


def test_current_settled_file_is_not_read_again(
    registry_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.install(content(composite()), registry_file)
    age(registry_file)
    registry.current()
    reads: list[Path] = []
    real_read = registry.read_report

    def counting_read(path: Path) -> Report:
        reads.append(path)
        return real_read(path)

    monkeypatch.setattr(registry, "read_report", counting_read)
    for _ in range(10):
        registry.current()

    assert reads == []


def test_current_other_requests_keep_serving_while_one_reloads(
    registry_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.install(content(composite()), registry_file)
    before = registry.current()
    reading, release = threading.Event(), threading.Event()
    real_read = registry.read_report

    def slow_read(path: Path) -> Report:
        reading.set()
        assert release.wait(10)
        return real_read(path)

    monkeypatch.setattr(registry, "read_report", slow_read)
    registry.install(content(composite(permalink="new")), registry_file)
    reloaded: list[Any] = []
    reloader = threading.Thread(target=lambda: reloaded.append(registry.current()))
    reloader.start()
    assert reading.wait(10)

    started = time.monotonic()
    during = registry.current()
    waited = time.monotonic() - started
    release.set()
    reloader.join(10)

    assert during is before
    assert waited < 1
    assert [c.permalink for c in reloaded[0].composites] == ["new"]
    assert permalinks() == ["new"]


def test_current_follows_a_changed_registry_path_setting(
    tmp_path: Path, settings: Any
) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    registry.install(content(composite(permalink="first")), first)
    registry.install(content(composite(permalink="second")), second)

    settings.COMPOSITES = {**settings.COMPOSITES, "REGISTRY_PATH": str(first)}
    assert permalinks() == ["first"]
    settings.COMPOSITES = {**settings.COMPOSITES, "REGISTRY_PATH": str(second)}
    assert permalinks() == ["second"]
