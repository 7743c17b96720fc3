"""Static checks of a step's ``authentication`` object.

``check_authentication`` reads ``{type, config}``: the type must name a
strategy of the table it is given (``validation.STRATEGIES``), the config
must hold that strategy's required fields, and every config value is a
template of the header, query and authentication kind, compiled here.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from composites.definitions import Authentication, ConfigValue
from composites.problems import Findings, child, kind, quote
from composites.template_checks import StepScope, check_template
from composites.templating import FieldKind

if TYPE_CHECKING:
    from composites.validation import StrategyFields

AUTHENTICATION_KEYS = frozenset({"type", "config"})
MAX_TYPE = 255


def check_authentication(
    findings: Findings,
    value: Any,
    at: str,
    scope: StepScope,
    strategies: Mapping[str, StrategyFields],
    aliases: Mapping[str, str],
    algorithms: Collection[str],
) -> Authentication | None:
    """Check the ``authentication`` object at ``at``; return it compiled."""
    if not isinstance(value, dict):
        findings.error(at, f"must be an object, not {kind(value)}")
        return None
    findings.unknown_keys(value, AUTHENTICATION_KEYS, at)
    name = findings.string(value, "type", at, MAX_TYPE, required=True)
    if name is None:
        return None
    name = aliases.get(name, name)
    if name not in strategies:
        known = ", ".join(sorted({*strategies, *aliases}))
        findings.error(child(at, "type"), f"{quote(name)} is not one of {known}")
        return None

    config = value.get("config", {})
    if not isinstance(config, dict):
        findings.error(child(at, "config"), f"must be an object, not {kind(config)}")
        return None
    errors_before = findings.error_count
    checker = _ConfigChecker(findings, scope)
    compiled = checker.config(config, strategies[name], child(at, "config"))
    checker.literal_choices(config, child(at, "config"), algorithms)
    if findings.error_count > errors_before:
        return None
    return Authentication(name, compiled)


class _ConfigChecker:
    def __init__(self, findings: Findings, scope: StepScope) -> None:
        self.findings = findings
        self.scope = scope

    def config(
        self, config: dict[str, Any], fields: StrategyFields, at: str
    ) -> Mapping[str, ConfigValue]:
        known = fields.required | fields.optional
        for missing in sorted(fields.required - config.keys()):
            self.findings.error(child(at, missing), "is required")
        self.findings.unknown_keys(config, known, at)

        compiled: dict[str, ConfigValue] = {}
        for key, value in config.items():
            if key not in known:
                continue
            if key in fields.objects and not isinstance(value, dict):
                message = f"must be an object, not {kind(value)}"
                self.findings.error(child(at, key), message)
                continue
            result = self.value(value, child(at, key))
            if result is not None:
                compiled[key] = result
        return MappingProxyType(compiled)

    def value(self, value: Any, at: str) -> ConfigValue | None:
        if isinstance(value, dict):
            nested: dict[str, ConfigValue] = {}
            for key, item in value.items():
                result = self.value(item, child(at, key))
                if result is not None:
                    nested[key] = result
            return MappingProxyType(nested)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            message = f"must be a string or a number, not {kind(value)}"
            self.findings.error(at, message)
            return None
        source = value if isinstance(value, str) else json.dumps(value)
        kind_ = FieldKind.HEADER_QUERY_AUTH
        return check_template(self.findings, source, at, kind_, self.scope)

    def literal_choices(
        self, config: dict[str, Any], at: str, algorithms: Collection[str]
    ) -> None:
        choices = {"algorithm": sorted(algorithms), "in": ["header", "query"]}
        for key, allowed in choices.items():
            value = config.get(key)
            if isinstance(value, str) and "{" not in value and value not in allowed:
                message = f"{quote(value)} is not one of {', '.join(allowed)}"
                self.findings.error(child(at, key), message)
