"""The host's file-based secrets and variables."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from widgetplatform.secrets import FileSecretsBackend


@pytest.fixture
def secrets_path(tmp_path: Path, settings: Any) -> Path:
    path = tmp_path / "secrets.json"
    settings.WIDGETPLATFORM_SECRETS_FILE = str(path)
    return path


def write(path: Path, content: Any) -> None:
    path.write_text(json.dumps(content))


def test_file_backend_reads_secrets_and_variables_per_tenant(
    secrets_path: Path,
) -> None:
    write(
        secrets_path,
        {
            "a": {"secrets": {"key": "s-a"}, "variables": {"host": "a.example"}},
            "b": {"secrets": {"key": "s-b"}},
        },
    )
    backend = FileSecretsBackend()

    assert backend.get_secret("a", "key") == "s-a"
    assert backend.get_secret("b", "key") == "s-b"
    assert backend.get_variable("a", "host") == "a.example"
    assert backend.get_variable("b", "host") is None
    assert backend.get_secret("c", "key") is None


@pytest.mark.parametrize(
    "content",
    [[], {"a": []}, {"a": {"secrets": []}}, {"a": {"secrets": {"key": 1}}}],
    ids=["array", "tenant-array", "section-array", "number-value"],
)
def test_file_backend_treats_malformed_entries_as_unknown(
    secrets_path: Path, content: Any
) -> None:
    write(secrets_path, content)

    assert FileSecretsBackend().get_secret("a", "key") is None


def test_file_backend_without_file_knows_nothing(secrets_path: Path) -> None:
    assert FileSecretsBackend().get_secret("a", "key") is None


def test_file_backend_with_invalid_json_logs_error_without_content(
    secrets_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secrets_path.write_text('{"a": {"secrets": {"key": "hunter2"')

    assert FileSecretsBackend().get_secret("a", "key") is None
    assert "JSONDecodeError" in caplog.text
    assert "hunter2" not in caplog.text
    assert caplog.records[0].levelno == logging.ERROR


def test_file_backend_rereads_changed_file(secrets_path: Path) -> None:
    write(secrets_path, {"a": {"secrets": {"key": "old"}}})
    backend = FileSecretsBackend()
    assert backend.get_secret("a", "key") == "old"

    write(secrets_path, {"a": {"secrets": {"key": "new"}}})
    stat = secrets_path.stat()
    os.utime(secrets_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))

    assert backend.get_secret("a", "key") == "new"
