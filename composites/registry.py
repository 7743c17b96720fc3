"""The registry in force: read from the configured file, swapped on change.

``current()`` returns the registry a request should use.  Each call looks at
the file's modification signature (a ``stat``, no read); when the file
changed, it is read and validated, and a valid result replaces the previous
registry in one assignment, so a request keeps the snapshot it started with.
An invalid change is logged at ERROR once and the previous registry stays;
so does the previous registry when the file disappears.

While one thread reads a changed file, other threads go on with the registry
in force instead of waiting.  A file modified within the last
``SETTLE_SECONDS`` may change again without its signature changing (file
systems keep modification times at a coarse grain), so until it is older
than that, each call compares its content as well.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings

from composites.conf import app_settings
from composites.definitions import Registry
from composites.exceptions import RegistryInvalid
from composites.validation import Problem, Report, validate_text

logger = logging.getLogger("composites.registry")

Signature = tuple[int, int, int]
SETTLE_SECONDS = 2.0
NEW_FILE_MODE = 0o644


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
            return Report([Problem("error", "file", message, "file")])
        content = path.read_bytes()
    except OSError as exc:
        message = f"cannot read {path}: {exc.strerror or exc}"
        return Report([Problem("error", "file", message, "file")])
    report = validate_text(content)
    report.content = content
    return report


def install(content: bytes, path: Path) -> None:
    """Replace the file at ``path`` with ``content`` in one atomic rename.

    The new file keeps the mode of the one it replaces (``NEW_FILE_MODE``
    when there is none) and is on disk before the rename.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


@dataclass(frozen=True, slots=True)
class _Loaded:
    path: Path
    signature: Signature | None
    registry: Registry | None
    errors: tuple[Problem, ...] = ()
    digest: bytes = b""
    settled: bool = True


class RegistryStore:
    """Holds the registry in force and reloads it when its file changes."""

    def __init__(self) -> None:
        self._loaded = _Loaded(Path(), None, None)
        self._lock = threading.Lock()

    def current(self) -> Registry:
        """Return the registry in force; raise ``RegistryInvalid`` if none."""
        path = configured_path()
        loaded = self._loaded
        if (
            loaded.path != path
            or loaded.signature != _signature(path)
            or not loaded.settled
        ):
            loaded = self._refresh(path, loaded)
        if loaded.registry is None:
            raise RegistryInvalid(loaded.errors)
        return loaded.registry

    def reset(self) -> None:
        """Forget the registry in force, so the next call reads the file."""
        with self._lock:
            self._loaded = _Loaded(Path(), None, None)

    def _refresh(self, path: Path, seen: _Loaded) -> _Loaded:
        # TODO: validate a changed file off the request thread; the request
        # that notices the change waits for its validation (1 to 2 ms per
        # distinct template, so seconds for a large registry).
        # Only a caller with nothing to serve waits for another's reload.
        must_wait = seen.path != path or seen.registry is None
        if not self._lock.acquire(blocking=must_wait):
            return seen
        try:
            return self._reload(path)
        finally:
            self._lock.release()

    def _reload(self, path: Path) -> _Loaded:
        loaded = self._loaded
        signature = _signature(path)
        if loaded.path == path and loaded.signature == signature and loaded.settled:
            return loaded

        settled = signature is None or _is_settled(signature)
        report = read_report(path)
        digest = hashlib.sha256(report.content).digest()
        if loaded.path == path and digest == loaded.digest:
            loaded = replace(loaded, signature=signature, settled=settled)
        elif report.registry is not None:
            loaded = _Loaded(path, signature, report.registry, (), digest, settled)
            count = len(report.registry.composites)
            logger.info("Loaded registry %s with %d composites", path, count)
        else:
            previous = loaded.registry if loaded.path == path else None
            _log_rejected(path, report, kept=previous is not None)
            errors = tuple(report.errors)
            loaded = _Loaded(path, signature, previous, errors, digest, settled)
        self._loaded = loaded
        return loaded


def _signature(path: Path) -> Signature | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino)


def _is_settled(signature: Signature) -> bool:
    age = time.time() - signature[0] / 1e9
    return age > SETTLE_SECONDS


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return NEW_FILE_MODE


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _log_rejected(path: Path, report: Report, *, kept: bool) -> None:
    outcome = "keeping the previous registry" if kept else "no registry is in force"
    logger.error(
        "Registry %s is invalid (%d error(s)); %s. %s",
        path,
        len(report.errors),
        outcome,
        "; ".join(str(problem) for problem in report.errors[:20]),
        extra={"registry_path": str(path), "error_count": len(report.errors)},
    )


store = RegistryStore()


def current() -> Registry:
    """Return the registry in force for this process."""
    return store.current()
