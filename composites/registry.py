"""The registry in force: read from the configured file, swapped on change.

``current()`` returns the registry a request should use.  Each call looks at
the file's modification signature (a ``stat``, no read); when the file
changed, it is read and validated, and a valid result replaces the previous
registry in one assignment, so a request keeps the snapshot it started with.
An invalid change is logged at ERROR once and the previous registry stays.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from composites.conf import app_settings
from composites.definitions import Registry
from composites.exceptions import RegistryInvalid
from composites.validation import Problem, Report, validate_text

logger = logging.getLogger("composites.registry")

Signature = tuple[int, int, int]


def configured_path() -> Path:
    """Return the registry file in force, relative paths from ``BASE_DIR``."""
    path = Path(app_settings.REGISTRY_PATH)
    base_dir = getattr(settings, "BASE_DIR", None)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


def read_report(path: Path) -> Report:
    """Read and validate the registry file at ``path``."""
    try:
        size = path.stat().st_size
        limit = app_settings.REGISTRY_MAX_BYTES
        if size > limit:
            message = f"the file is {size} bytes; the limit is {limit}"
            return Report([Problem("error", "file", message)])
        content = path.read_bytes()
    except OSError as exc:
        message = f"cannot read {path}: {exc.strerror or exc}"
        return Report([Problem("error", "file", message)])
    report = validate_text(content)
    report.content = content
    return report


def install(content: bytes, path: Path) -> None:
    """Replace the file at ``path`` with ``content`` in one atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True, slots=True)
class _Loaded:
    path: Path
    signature: Signature | None
    registry: Registry | None
    errors: tuple[Problem, ...] = ()


class RegistryStore:
    """Holds the registry in force and reloads it when its file changes."""

    def __init__(self) -> None:
        self._loaded = _Loaded(Path(), None, None)
        self._lock = threading.Lock()

    def current(self) -> Registry:
        """Return the registry in force; raise ``RegistryInvalid`` if none."""
        path = configured_path()
        loaded = self._loaded
        if loaded.path != path or loaded.signature != _signature(path):
            loaded = self._reload(path)
        if loaded.registry is None:
            raise RegistryInvalid(loaded.errors)
        return loaded.registry

    def reset(self) -> None:
        """Forget the registry in force, so the next call reads the file."""
        with self._lock:
            self._loaded = _Loaded(Path(), None, None)

    def _reload(self, path: Path) -> _Loaded:
        with self._lock:
            signature = _signature(path)
            loaded = self._loaded
            if loaded.path == path and loaded.signature == signature:
                return loaded
            report = read_report(path)
            if report.registry is not None:
                loaded = _Loaded(path, signature, report.registry)
                logger.info(
                    "Loaded registry %s with %d composites",
                    path,
                    len(report.registry.composites),
                )
            else:
                _log_rejected(path, report)
                previous = loaded.registry if loaded.path == path else None
                errors = tuple(report.errors)
                loaded = _Loaded(path, signature, previous, errors)
            self._loaded = loaded
            return loaded


def _signature(path: Path) -> Signature | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino)


def _log_rejected(path: Path, report: Report) -> None:
    logger.error(
        "Registry %s is invalid (%d errors); keeping the previous registry. %s",
        path,
        len(report.errors),
        "; ".join(str(problem) for problem in report.errors[:20]),
        extra={"registry_path": str(path), "error_count": len(report.errors)},
    )


store = RegistryStore()


def current() -> Registry:
    """Return the registry in force for this process."""
    return store.current()
