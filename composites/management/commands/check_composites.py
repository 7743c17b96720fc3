"""``manage.py check_composites``: validate a registry file for CI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from composites.registry import configured_path, read_report
from composites.validation import Problem, Report


class Command(BaseCommand):
    help = (
        "Validate a registry file without changing anything. Exit 0 when it "
        "has no errors (with --strict, no warnings either), 1 otherwise."
    )
    # Checking a file must work while the configured registry is broken.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path",
            nargs="?",
            help="Registry file to check (default: the configured registry).",
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Fail on warnings as well as errors.",
        )
        parser.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="Output format (default: text).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"]) if options["path"] else configured_path()
        strict = options["strict"]
        report = read_report(path)
        passed = not report.errors and not (strict and report.warnings)

        if options["format"] == "json":
            document = as_json(path, report, strict=strict, passed=passed)
            self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))
        else:
            self.write_text(path, report)

        if not passed:
            raise CommandError(_failure(path, report), returncode=1)

    def write_text(self, path: Path, report: Report) -> None:
        for problem in report.problems:
            style = self.style.ERROR if problem.level == "error" else self.style.WARNING
            self.stdout.write(style(str(problem)))
        if report.registry is not None:
            for composite in report.registry.composites:
                steps = len(composite.steps)
                self.stdout.write(
                    f"ok {composite.permalink} (id {composite.id}): {steps} step(s)"
                )
        self.stdout.write(summary(path, report))


def summary(path: Path, report: Report) -> str:
    """Return the closing line: counts of errors, warnings and composites."""
    errors, warnings = len(report.errors), len(report.warnings)
    composites = len(report.registry.composites) if report.registry else 0
    return (
        f"{path}: {errors} error(s), {warnings} warning(s), {composites} composite(s)"
    )


def as_json(
    path: Path, report: Report, *, strict: bool, passed: bool
) -> dict[str, Any]:
    """Return the ``--format json`` document of a check."""
    composites = report.registry.composites if report.registry else ()
    return {
        "path": str(path),
        "valid": not report.errors,
        "strict": strict,
        "passed": passed,
        "errors": [_problem(p) for p in report.errors],
        "warnings": [_problem(p) for p in report.warnings],
        "composites": [
            {
                "id": c.id,
                "permalink": c.permalink,
                "name": c.name,
                "steps": [s.name for s in c.steps],
            }
            for c in composites
        ],
    }


def _problem(problem: Problem) -> dict[str, str]:
    return {"location": problem.location, "message": problem.message}


def _failure(path: Path, report: Report) -> str:
    if report.errors:
        return f"{path} is invalid: {len(report.errors)} error(s)."
    return f"{path} has {len(report.warnings)} warning(s), which --strict rejects."
