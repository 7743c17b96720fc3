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

from composites.authentication import NUMBER
from composites.definitions import Authentication, ConfigValue
from composites.problems import Findings, child, kind, quote
from composites.template_checks import StepScope, check_template
from composites.templating import FieldKind
from composites.tokens import EXPIRY_MARGIN

if TYPE_CHECKING:
    from composites.validation import StrategyFields

AUTHENTICATION_KEYS = frozenset({"type", "config"})
MAX_TYPE = 255
NUMERIC_CLAIMS = ("exp", "iat", "nbf")
# Claims of an oauth_jwt_bearer assertion that the strategy sets itself.
ASSERTION_CLAIMS = frozenset({"iss", "sub", "aud", "iat", "exp"})
SECRET_FIELDS = ("private_key", "client_secret")


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
            if key not in fields.objects and isinstance(value, dict):
                message = "must be a string or a number, not an object"
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
        self.token_literals(config, at)
        self.claim_literals(config, at)

    def token_literals(self, config: dict[str, Any], at: str) -> None:
        url = config.get("token_url")
        if isinstance(url, str) and url and not url.startswith("https://"):
            message = "must be an absolute https:// URL (before any template)"
            self.findings.error(child(at, "token_url"), message)
        ttl: Any = config.get("token_ttl")
        if _is_literal(ttl) or _is_number(ttl):
            if not NUMBER.fullmatch(str(ttl).strip()) or float(ttl) < 1:
                message = "must be a positive number of seconds"
                self.findings.error(child(at, "token_ttl"), message)
            elif float(ttl) <= EXPIRY_MARGIN:
                message = (
                    f"leaves nothing to cache after the {EXPIRY_MARGIN:.0f} s "
                    "margin; every call requests a token"
                )
                self.findings.warning(child(at, "token_ttl"), message)
        for key in SECRET_FIELDS:
            if _is_literal(config.get(key)) and config[key]:
                message = "is written into the registry; read it with get_secret()"
                self.findings.warning(child(at, key), message)

    def claim_literals(self, config: dict[str, Any], at: str) -> None:
        for key in ("claims", "additional_claims"):
            claims = config.get(key)
            if not isinstance(claims, dict):
                continue
            for name in NUMERIC_CLAIMS:
                value: Any = claims.get(name)
                if _is_literal(value) and not NUMBER.fullmatch(value.strip()):
                    message = "must be a number of seconds since the epoch"
                    self.findings.error(child(child(at, key), name), message)
        additional = config.get("additional_claims")
        names = set(additional) if isinstance(additional, dict) else set()
        for name in sorted(ASSERTION_CLAIMS & names):
            message = "is set by oauth_jwt_bearer itself; remove it"
            self.findings.error(child(child(at, "additional_claims"), name), message)
        headers = config.get("jwt_headers")
        if isinstance(headers, dict) and "alg" in headers:
            message = "set the algorithm with 'algorithm', not a header"
            self.findings.error(child(child(at, "jwt_headers"), "alg"), message)


def _is_literal(value: Any) -> bool:
    return isinstance(value, str) and "{" not in value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
