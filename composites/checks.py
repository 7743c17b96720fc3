"""System checks: a process must not start with an invalid registry."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from composites.registry import configured_path, read_report

# One id per kind of problem, so that a deployment can tell a missing file
# from a mistake in it.
CHECK_IDS = {
    "content": "composites.E001",
    "file": "composites.E002",
    "syntax": "composites.E003",
}


@register("composites")
def check_registry(**kwargs: Any) -> list[CheckMessage]:
    """Report each error of the configured registry file.

    ``composites.E001``: a field, template or reference is invalid;
    ``composites.E002``: the file cannot be read or is too large;
    ``composites.E003``: the file is not UTF-8 or not valid JSON.
    The messages are those of ``check_composites``.
    """
    path = configured_path()
    report = read_report(path)
    return [
        Error(
            f"{problem.location}: {problem.message}",
            hint=f"Run 'manage.py check_composites {path}' to see every problem.",
            obj=str(path),
            id=CHECK_IDS[problem.category],
        )
        for problem in report.errors
    ]
