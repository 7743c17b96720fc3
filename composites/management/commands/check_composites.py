"""``manage.py check_composites``: validate a registry file for CI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from composites.registry import configured_path, read_report
from composites.validation import Report


class Command(BaseCommand):
    help = (
        "Validate a registry file without changing anything. Exit 0 when it "
        "has no errors (with --strict, no warnings either), 1 otherwise."
    )

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
        report = read_report(path)

        if options["format"] == "json":
            self.stdout.write(json.dumps(_as_json(path, report), indent=2))
        else:
            self._write_text(path, report)

        failed = report.errors or (options["strict"] and report.warnings)
        if failed:
            raise CommandError(_summary(path, report), returncode=1)

    def _write_text(self, path: Path, report: Report) -> None:
        for problem in report.problems:
            style = self.style.ERROR if problem.level == "error" else self.style.WARNING
            self.stdout.write(style(str(problem)))
        if report.registry is not None:
            for composite in report.registry.composites:
                steps = len(composite.steps)
                self.stdout.write(
                    f"ok {composite.permalink} (id {composite.id}): {steps} step(s)"
                )
        self.stdout.write(_summary(path, report))


def _summary(path: Path, report: Report) -> str:
    errors, warnings = len(report.errors), len(report.warnings)
    composites = len(report.registry.composites) if report.registry else 0
    return (
        f"{path}: {errors} error(s), {warnings} warning(s), {composites} composite(s)"
    )


def _as_json(path: Path, report: Report) -> dict[str, Any]:
    composites = report.registry.composites if report.registry else ()
    return {
        "path": str(path),
        "valid": not report.errors,
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


def _problem(problem: Any) -> dict[str, str]:
    return {"location": problem.location, "message": problem.message}
