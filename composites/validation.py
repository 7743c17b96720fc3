"""Validation of a registry document into read-only structures.

``validate_text`` parses and checks a whole registry file and returns a
``Report``: every problem found, each with its location (such as
``composite_connectors[2].steps[1].url``), and the ``Registry`` when there
was no error.  Warnings never reject a registry; one error rejects all of it.

This module checks the document and its composites; a step's fields are
checked by ``step_checks``, its templates by ``template_checks`` and its
authentication by ``authentication_checks``, against ``STRATEGIES`` below.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from composites.definitions import Composite, Registry, Step, composite_id
from composites.parsing import MAX_DEPTH, nested_too_deeply, parse
from composites.problems import TOP_LEVEL, Findings, Level, Problem, child, kind, quote
from composites.signing import ALGORITHMS
from composites.step_checks import (
    MAX_CONTENT_TYPE,
    MAX_KEY,
    MAX_NAME,
    MAX_URL,
    MAX_VALUE,
    METHODS,
    SLUG,
    StrategyTable,
    check_step,
    slug_message,
)
from composites.template_checks import (
    StepScope,
    step_reads_user_elsewhere,
    step_uses_user,
)

__all__ = [
    "ALGORITHMS",
    "MAX_CONTENT_TYPE",
    "MAX_DEPTH",
    "MAX_KEY",
    "MAX_NAME",
    "MAX_URL",
    "MAX_VALUE",
    "METHODS",
    "STRATEGIES",
    "STRATEGY_ALIASES",
    "Level",
    "Problem",
    "Report",
    "StrategyFields",
    "derive_permalink",
    "validate_document",
    "validate_text",
]

TOP_LEVEL_KEYS = frozenset({"connectors", "composite_connectors"})
COMPOSITE_KEYS = frozenset({"name", "permalink", "steps"})


@dataclass(frozen=True, slots=True)
class StrategyFields:
    """The config fields an authentication strategy takes."""

    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    objects: frozenset[str] = frozenset()


STRATEGIES: dict[str, StrategyFields] = {
    "none": StrategyFields(),
    "api_key": StrategyFields(frozenset({"key", "value"}), frozenset({"in"})),
    "basic": StrategyFields(frozenset({"username", "password"})),
    "bearer": StrategyFields(frozenset({"token"})),
    "oauth_client_credentials": StrategyFields(
        frozenset({"client_id", "client_secret", "token_url"}),
        frozenset({"scope"}),
    ),
    "jwt": StrategyFields(
        frozenset({"private_key"}),
        frozenset({"algorithm", "claims", "jwt_headers"}),
        frozenset({"claims", "jwt_headers"}),
    ),
    "oauth_jwt_bearer": StrategyFields(
        frozenset({"client_id", "private_key", "token_url"}),
        frozenset({"subject", "audience", "token_ttl", "algorithm"})
        | frozenset({"additional_claims", "jwt_headers"}),
        frozenset({"additional_claims", "jwt_headers"}),
    ),
}
STRATEGY_ALIASES = {"apikey": "api_key"}


@dataclass(slots=True)
class Report:
    """The outcome of validating one registry document.

    ``raw_composites`` maps the permalink of each composite that passed its
    own checks to its JSON object, and ``content`` holds the bytes read, so
    that ``sync_registry`` can compare and install them.
    """

    problems: list[Problem] = field(default_factory=list)
    registry: Registry | None = None
    raw_composites: dict[str, Any] = field(default_factory=dict)
    content: bytes = b""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


def derive_permalink(name: str) -> str:
    """Turn a composite name into a slug: "Café & Bar" becomes cafe-bar.

    Accents are dropped from the letters they sit on; every run of other
    characters that are not ASCII letters or digits becomes one hyphen.
    """
    folded = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "-", bare).strip("-")


def validate_text(text: str | bytes) -> Report:
    """Parse a registry file's content and validate it."""
    findings = Findings()
    document = parse(text, findings)
    if findings.problems:
        return Report(findings.problems)
    return validate_document(document)


def validate_document(document: Any) -> Report:
    """Validate an already parsed registry document."""
    return _Validator().document(document)


@dataclass(frozen=True, slots=True)
class _Checked:
    """A composite after its own checks; ``composite`` is None if invalid."""

    location: str
    permalink: str | None
    composite: Composite | None
    raw: Any


class _Validator:
    def __init__(self) -> None:
        self.findings = Findings()

    def error(self, location: str, message: str) -> None:
        self.findings.error(location, message)

    def warning(self, location: str, message: str) -> None:
        self.findings.warning(location, message)

    def document(self, document: Any) -> Report:
        report = Report(self.findings.problems)
        if not isinstance(document, dict):
            self.error(TOP_LEVEL, f"must be an object, not {kind(document)}")
            return report
        if nested_too_deeply(document):
            message = f"invalid JSON: nested more than {MAX_DEPTH} levels deep"
            self.findings.error("file", message, "syntax")
            return report
        self.findings.unknown_keys(document, TOP_LEVEL_KEYS, TOP_LEVEL)
        self.findings.array(document, "connectors", TOP_LEVEL)
        raw = self.findings.array(document, "composite_connectors", TOP_LEVEL)
        if raw is None:
            return report

        checked = [
            self.composite(item, f"composite_connectors[{index}]")
            for index, item in enumerate(raw)
        ]
        self.identifiers(checked)
        if not report.errors:
            composites = tuple(c.composite for c in checked if c.composite)
            report.registry = Registry.of(composites)
        report.raw_composites = {
            c.permalink: c.raw for c in checked if c.permalink and c.composite
        }
        return report

    # Composites --------------------------------------------------------------

    def identifiers(self, checked: list[_Checked]) -> None:
        """Report a permalink given twice, and ids that would be ambiguous."""
        seen: dict[str, str] = {}
        ids: dict[int, str] = {}
        for item in checked:
            if item.permalink is None:
                continue
            at = child(item.location, "permalink")
            if item.permalink in seen:
                also = seen[item.permalink]
                self.error(
                    at, f"duplicate permalink {quote(item.permalink)} (also {also})"
                )
                continue
            seen[item.permalink] = item.location
            number = composite_id(item.permalink)
            if number in ids:
                message = f"its id {number} is also that of {ids[number]}; rename one"
                self.error(at, message)
                continue
            ids[number] = item.location
        for permalink, location in seen.items():
            other = ids.get(int(permalink)) if permalink.isdigit() else None
            if other is not None:
                message = f"{quote(permalink)} is the id of {other}; rename one"
                self.error(child(location, "permalink"), message)

    def composite(self, raw: Any, at: str) -> _Checked:
        if not isinstance(raw, dict):
            self.error(at, f"must be an object, not {kind(raw)}")
            return _Checked(at, None, None, raw)
        self.findings.unknown_keys(raw, COMPOSITE_KEYS, at)
        errors_before = self.findings.error_count
        name = self.findings.string(raw, "name", at, MAX_NAME, required=True)
        permalink = self.permalink(raw, name, at)
        steps = self.steps(raw, at)
        if raw.get("steps") == []:
            self.warning(child(at, "steps"), "has no steps; running it fails")

        if self.findings.error_count > errors_before:
            return _Checked(at, permalink, None, raw)
        assert name is not None and permalink is not None and steps is not None
        requires_user = any(step_uses_user(step) for step in steps)
        if not requires_user and any(map(step_reads_user_elsewhere, steps)):
            self.warning(
                child(at, "steps"),
                "uses user.* only in a URL or body, so anonymous visitors may run "
                "it with every user field None; use user.* in a header, query "
                "or authentication value to require a signed-in user",
            )
        composite = Composite(
            id=composite_id(permalink),
            name=name,
            permalink=permalink,
            steps=tuple(steps),
            requires_user=requires_user,
        )
        return _Checked(at, permalink, composite, raw)

    def permalink(self, raw: dict[str, Any], name: str | None, at: str) -> str | None:
        if "permalink" not in raw:
            if name is None:
                return None
            derived = derive_permalink(name)[:MAX_NAME].rstrip("-")
            if not derived:
                self.error(child(at, "name"), "no permalink can be derived; set one")
                return None
            return derived
        permalink = self.findings.string(raw, "permalink", at, MAX_NAME, required=True)
        if permalink is not None and not SLUG.fullmatch(permalink):
            self.error(child(at, "permalink"), slug_message(permalink))
            return None
        return permalink

    # Steps -------------------------------------------------------------------

    def steps(self, raw: dict[str, Any], at: str) -> list[Step] | None:
        if "steps" not in raw:
            self.error(child(at, "steps"), "is required")
            return None
        items = self.findings.array(raw, "steps", at)
        if items is None:
            return None
        names = tuple(
            item.get("name") if isinstance(item, dict) else None for item in items
        )
        table = StrategyTable(STRATEGIES, STRATEGY_ALIASES, ALGORITHMS)
        steps = []
        for index, item in enumerate(items):
            where, scope = f"{at}.steps[{index}]", StepScope(index, names)
            step = check_step(self.findings, item, where, scope, table)
            if step is not None:
                steps.append(step)
        return steps
