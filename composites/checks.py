"""System checks: a process must not start with an invalid registry."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from composites.registry import configured_path, read_report


@register("composites")
def check_registry(**kwargs: Any) -> list[CheckMessage]:
    """Report each error of the configured registry as ``composites.E001``.

    A file that cannot be read is ``composites.E002``; invalid JSON is
    ``composites.E003``.
    """
    path = configured_path()
    report = read_report(path)
    return [
        Error(
            f"{problem.location}: {problem.message}",
            hint=f"Run 'manage.py check_composites {path}' for every problem.",
            obj=str(path),
            id=_check_id(problem.location, problem.message),
        )
        for problem in report.errors
    ]


def _check_id(location: str, message: str) -> str:
    if location == "file":
        return "composites.E002"
    if location.startswith("line "):
        return "composites.E003"
    return "composites.E001"
