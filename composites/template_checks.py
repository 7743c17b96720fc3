"""Static checks of a registry template, made once when the registry loads.

``check_template`` compiles a template and checks what it uses against the
field it sits in (§4.3 of the contract: ``get_secret()`` only in header,
query and authentication values, ``response`` only in ``response_body``...)
and against the steps that run before it, and reads the attributes it takes
of the variables whose shape the contract fixes (§4.2: ``steps.<name>``,
``response``, ``request``, ``user``), so a misspelt ``steps.auth.bdy`` is
found here instead of rendering as an empty string.  Problems go to a
``Findings``; the compiled template is returned only when there were none.
"""

from __future__ import annotations

import difflib
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

# The attributes of the variables whose shape is fixed, keyed by how the
# variable reads (``steps.*`` stands for any step).  What lies deeper, such
# as a header or a body parsed from JSON, has no fixed shape.
STEP_ATTRIBUTES = ("body", "status_code", "headers")
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "steps.*": STEP_ATTRIBUTES,
    "response": STEP_ATTRIBUTES,
    "request": ("body_text", "body_raw", "headers", "query_parameters"),
    "user": (
        "id",
        "email",
        "first_name",
        "last_name",
        "username",
        "profile_fields",
        "is_authenticated",
    ),
    "user.profile_fields": ("by_id",),
}
SHAPED_NAMES = frozenset({"steps", "response", "request", "user"})


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
    """Compile ``source``; check its names, functions, steps and attributes."""
    try:
        compiled, attribute_problems = _compile(source)
    except jinja2.TemplateSyntaxError as exc:
        message = f"template syntax error on line {exc.lineno}: {exc.message}"
        findings.error(at, message)
        return None
    except (RecursionError, SyntaxError, MemoryError):
        findings.error(at, "the template nests expressions or blocks too deeply")
        return None

    problems = _usage_problems(compiled, kind, scope)
    problems.extend(attribute_problems)
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
# reload usually changes a few: each distinct source is compiled and its
# attributes read once.
@functools.lru_cache(maxsize=4096)
def _compile(source: str) -> tuple[CompiledTemplate, tuple[str, ...]]:
    compiled = compile_template(source)
    tree = ENVIRONMENT.parse(source)
    return compiled, _attribute_problems(tree, compiled.usage.names)


def _attribute_problems(tree: nodes.Template, free: frozenset[str]) -> tuple[str, ...]:
    """Name each attribute taken of a fixed-shape variable that it lacks.

    ``free`` holds the names the template does not define itself.
    """
    # A name the template binds anywhere ({% set %}, a loop, a macro
    # argument) may not be the variable at a given use: such names are left
    # unchecked rather than guessed at.
    bound = {
        name.name
        for name in tree.find_all(nodes.Name)
        if name.ctx in ("store", "param")
    }
    checked = SHAPED_NAMES & (free - bound)
    problems: list[str] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        access = _access(node)
        shape = _shape(access[0], checked) if access else None
        if access is None or shape is None:
            continue
        written, key = shape
        if access[1] not in ATTRIBUTES[key]:
            problems.append(_no_attribute(written, access[1], ATTRIBUTES[key]))
    return tuple(dict.fromkeys(problems))


def _access(node: nodes.Node) -> tuple[nodes.Node, str] | None:
    """Return what ``node`` takes a constant attribute or key of, and which."""
    if isinstance(node, nodes.Getattr):
        return node.node, node.attr
    if not isinstance(node, nodes.Getitem) or not isinstance(node.arg, nodes.Const):
        return None
    key = node.arg.value
    return (node.node, key) if isinstance(key, str) else None


def _shape(node: nodes.Node, checked: frozenset[str]) -> tuple[str, str] | None:
    """Return how ``node`` reads and its ``ATTRIBUTES`` key, if it has one."""
    if isinstance(node, nodes.Name):
        if node.name in checked and node.name in ATTRIBUTES:
            return node.name, node.name
        return None
    access = _access(node)
    if access is None:
        return None
    parent, attribute = access
    if not isinstance(parent, nodes.Name) or parent.name not in checked:
        return None
    if parent.name == "steps":
        if attribute.isidentifier():
            return f"steps.{attribute}", "steps.*"
        return f"steps[{quote(attribute)}]", "steps.*"
    if parent.name == "user" and attribute == "profile_fields":
        return "user.profile_fields", "user.profile_fields"
    return None


def _no_attribute(written: str, attribute: str, valid: tuple[str, ...]) -> str:
    message = f"{written} has no attribute {quote(attribute)}"
    close = difflib.get_close_matches(attribute, valid, n=1)
    if close:
        message += f" (did you mean {quote(close[0])}?)"
    return f"{message}; it has {', '.join(valid)}"


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
