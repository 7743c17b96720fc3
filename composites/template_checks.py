"""Static checks of a registry template, made once when the registry loads.

``check_template`` compiles a template and checks what it uses against the
field it sits in (§4.3 of the contract: ``get_secret()`` only in header,
query and authentication values, ``response`` only in ``response_body``...)
and against the steps that run before it.  Problems go to a ``Findings``;
the compiled template is returned only when there were none.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import jinja2
from jinja2 import nodes

from composites.definitions import ConfigValue, Step
from composites.problems import Findings, quote
from composites.templating import (
    ALL_NAMES,
    AVAILABLE,
    ENVIRONMENT,
    CompiledTemplate,
    FieldKind,
    compile_template,
)

# Tags that load other templates; a registry template has no loader.
LOADING_TAGS = re.compile(r"\{%[-+]?\s*(?:extends|include|import|from)\b")
LOADING_NODES = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
TEMPLATE_MARKUP = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class StepScope:
    """Where a step stands among its composite's steps."""

    index: int
    names: tuple[object, ...]

    @property
    def last(self) -> bool:
        return self.index == len(self.names) - 1

    @property
    def earlier(self) -> tuple[object, ...]:
        return self.names[: self.index]


def check_template(
    findings: Findings, source: str, at: str, kind: FieldKind, scope: StepScope
) -> CompiledTemplate | None:
    """Compile ``source`` and check its use of names, functions and steps."""
    try:
        compiled = _compile(source)
    except jinja2.TemplateSyntaxError as exc:
        message = f"template syntax error on line {exc.lineno}: {exc.message}"
        findings.error(at, message)
        return None
    except (RecursionError, SyntaxError, MemoryError):
        findings.error(at, "the template nests expressions or blocks too deeply")
        return None

    problems = _usage_problems(compiled, kind, scope)
    if LOADING_TAGS.search(source) and _loads_templates(source):
        problems.append("extends, include and import are not available")
    for message in problems:
        findings.error(at, message)
    return None if problems else compiled


def literal_text(source: str) -> str:
    """Return ``source`` with its template markup set aside."""
    return TEMPLATE_MARKUP.sub("", source)


def has_markup(source: str) -> bool:
    """Tell whether ``source`` holds any template markup."""
    return TEMPLATE_MARKUP.search(source) is not None


def step_uses_user(step: Step) -> bool:
    """Tell whether a step's header, query or authentication uses ``user``."""
    templates = [pair.value for pair in (*step.headers, *step.query_parameters)]
    if step.authentication is not None:
        templates.extend(_config_templates(step.authentication.config))
    return any("user" in template.usage.names for template in templates)


def step_reads_user_elsewhere(step: Step) -> bool:
    """Tell whether a step's URL or bodies use ``user``."""
    templates = [step.url, step.request_body, step.response_body]
    return any(t is not None and "user" in t.usage.names for t in templates)


# Registries repeat templates (the same header in many composites), and a
# reload usually changes a few: each distinct source is compiled once.
@functools.lru_cache(maxsize=4096)
def _compile(source: str) -> CompiledTemplate:
    return compile_template(source)


def _loads_templates(source: str) -> bool:
    tree = ENVIRONMENT.parse(source)
    return any(True for _ in tree.find_all(LOADING_NODES))


def _usage_problems(
    template: CompiledTemplate, kind: FieldKind, scope: StepScope
) -> list[str]:
    usage = template.usage
    problems = []
    # ``steps.fetch-user`` reads as ``steps.fetch - user``: the words after
    # the hyphen are not names of their own.
    fragments = {
        word
        for ref in usage.step_refs
        for name in _hyphenated(ref, scope)
        for word in name[len(ref) + 1 :].split("-")
    }
    for name in sorted(usage.names - set(ENVIRONMENT.globals) - fragments):
        if name not in ALL_NAMES:
            problems.append(f"unknown variable {quote(name)}")
        elif name not in AVAILABLE[kind]:
            used = f"{name}()" if name in usage.calls else name
            problems.append(f"{used} is not available in {kind.value} templates")
    for ref in dict.fromkeys(usage.step_refs):
        message = _step_ref_problem(ref, scope)
        if message:
            problems.append(message)
    return problems


def _step_ref_problem(ref: str, scope: StepScope) -> str | None:
    if ref in scope.earlier:
        return None
    if ref == scope.names[scope.index]:
        return f"refers to its own step {quote(ref)}; only earlier steps can be used"
    if ref in scope.names[scope.index + 1 :]:
        return f"refers to step {quote(ref)}, which runs later"
    message = f"refers to unknown step {quote(ref)}"
    hyphenated = _hyphenated(ref, scope)
    if hyphenated:
        message += f"; a hyphenated name needs brackets: steps[{quote(hyphenated[0])}]"
    return message


def _hyphenated(ref: str, scope: StepScope) -> list[str]:
    if ref in scope.names:
        return []
    prefix = ref + "-"
    return [n for n in scope.names if isinstance(n, str) and n.startswith(prefix)]


def _config_templates(config: Mapping[str, ConfigValue]) -> list[CompiledTemplate]:
    templates: list[CompiledTemplate] = []
    for value in config.values():
        if isinstance(value, CompiledTemplate):
            templates.append(value)
        else:
            templates.extend(_config_templates(value))
    return templates
