"""``manage.py sync_registry``: install a validated registry file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from composites.definitions import composite_id
from composites.registry import configured_path, install, read_report


class Command(BaseCommand):
    help = (
        "Validate a registry file and, when it is valid, install it as the "
        "configured registry so running processes pick it up."
    )
    # Installing a good file must work while the configured one is broken.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source",
            help="Registry file to install (default: the configured registry).",
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Refuse a source with warnings too, such as a misspelt key.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and print the changes without installing anything.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        target = configured_path()
        source = Path(options["source"]) if options["source"] else target
        report = read_report(source)
        for problem in report.problems:
            style = self.style.ERROR if problem.level == "error" else self.style.WARNING
            self.stdout.write(style(str(problem)))
        if report.errors:
            raise CommandError(
                f"{source} is invalid ({len(report.errors)} error(s)); "
                "nothing was changed.",
                returncode=1,
            )
        if options["strict"] and report.warnings:
            raise CommandError(
                f"{source} has {len(report.warnings)} warning(s), which --strict "
                "rejects; nothing was changed.",
                returncode=1,
            )

        changes = _changes(self.in_force(target), report.raw_composites)
        for action, permalink in changes:
            line = f"{action} {permalink} (id {composite_id(permalink)})"
            self.stdout.write(self.style.SUCCESS(line))
        counts = {a: sum(1 for c in changes if c[0] == a) for a in ACTIONS}
        self.stdout.write(", ".join(f"{n} {a}" for a, n in counts.items()))

        if options["dry_run"]:
            self.stdout.write("Dry run: nothing installed.")
        elif source.resolve() == target.resolve():
            self.stdout.write(f"{target} is already the registry in force.")
        else:
            install(report.content, target)
            self.stdout.write(f"Installed {source} as {target}.")

    def in_force(self, target: Path) -> dict[str, Any]:
        """Return the composites of the target file, by permalink."""
        if not target.exists():
            return {}
        report = read_report(target)
        if report.errors:
            self.stdout.write(
                self.style.WARNING(
                    f"warning {target}: the registry file in force is invalid "
                    f"({len(report.errors)} error(s)); changes are listed "
                    "against its valid composites"
                )
            )
        return report.raw_composites


ACTIONS = ("created", "updated", "deleted")


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str]]:
    changes = [("created", p) for p in after if p not in before]
    changes += [
        ("updated", p)
        for p in after
        if p in before and _canonical(before[p]) != _canonical(after[p])
    ]
    changes += [("deleted", p) for p in before if p not in after]
    return changes


def _canonical(raw: Any) -> str:
    return json.dumps(raw, sort_keys=True)
