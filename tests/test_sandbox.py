"""The bounded sandbox: hostile templates end in a rendering error, quickly.

Each attack is rendered with ``tracemalloc`` watching, so a test fails if
the template got its error only after allocating far more than the bounds
allow.  The wall-time measure is a guard against a hang, not the assertion.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest

from composites.callers import CallerUser, ProfileFields
from composites.exceptions import TemplateError
from composites.templating import compile_template, now, render

SECRET = "sandbox-secret-4b1f"
WALL_GUARD_SECONDS = 20.0
PEAK_GUARD_BYTES = 64 * 1024 * 1024
BIG = "{% set big = 'x' * 1000000 %}"


def _secret(name: str) -> str:
    return {"api": SECRET}[name]


def _context() -> dict[str, Any]:
    fields = {3: "gold"}
    return {
        "user": CallerUser(
            id=7,
            username="ada",
            profile_fields=ProfileFields(lambda field_id: fields.get(field_id)),
        ),
        "now": now,
        "get_secret": lambda name: _secret(name),
        "steps": {"auth": {"body": '{"token": "t"}', "status_code": 200}},
        "request": {"body_raw": b"%999999999d", "query_parameters": {"q": "1"}},
        "tenant_id": "demo",
    }


def render_source(source: str) -> str:
    return render(compile_template(source), _context())


def hostile(source: str) -> TemplateError:
    """Render ``source``, expecting a TemplateError within the time guard."""
    template = compile_template(source)
    started = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        render(template, _context())
    assert time.monotonic() - started < WALL_GUARD_SECONDS
    assert SECRET not in caught.value.detail
    return caught.value


def hostile_in_bounded_memory(source: str) -> TemplateError:
    """Like ``hostile``, and the render's allocations stay small."""
    tracemalloc.start()
    try:
        error = hostile(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_GUARD_BYTES
    return error


# Python internals ------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ ''.__class__ }}", "'__class__'"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "'__class__'"),
        ("{{ ''['__class__'] }}", "'__class__'"),
        ("{{ ''|attr('__class__') }}", "'__class__'"),
        ("{{ (range(1)|map('string')|first)|attr('__class__') }}", "'__class__'"),
        ("{{ dict.mro() }}", "'mro'"),
        ("{{ dict.fromkeys }}", "'fromkeys'"),
        ("{{ namespace.__init__ }}", "'__init__'"),
        ("{{ now.__globals__ }}", "'__globals__'"),
        ("{{ now['__globals__'] }}", "'__globals__'"),
        ("{{ now.__code__.co_consts }}", "'__code__'"),
        ("{{ get_secret.__closure__ }}", "'__closure__'"),
        ("{{ get_secret.__closure__[0].cell_contents }}", "'__closure__'"),
        ("{{ user.profile_fields.lookup.__globals__ }}", "'__globals__'"),
        ("{{ user.profile_fields.lookup.__closure__ }}", "'__closure__'"),
        ("{{ user.profile_fields.by_id.__func__ }}", "'__func__'"),
        ("{{ user.profile_fields.by_id.__self__ }}", "'__self__'"),
        ("{{ user.__class__.__init__.__globals__ }}", "'__class__'"),
        ("{{ user.profile_fields.__class__ }}", "'__class__'"),
        ("{{ self._TemplateReference__context }}", "_TemplateReference__context"),
        ("{{ (range(3)|map('string')).gi_frame }}", "'gi_frame'"),
        ("{{ (range(3)|map('string')).gi_code }}", "'gi_code'"),
        ("{{ ''.split.__self__ }}", "'__self__'"),
        ("{{ lipsum.__globals__ }}", "'lipsum' is undefined"),
        ("{{ cycler.__init__.__globals__ }}", "'__init__'"),
        ("{{ '{0.__class__}'.format('') }}", "str.format()"),
        ("{{ '{a.__class__}'.format_map({'a': ''}) }}", "str.format()"),
        ("{{ ''['format']('{0}', 1) }}", "str.format()"),
        ("{{ ('{0.__class__}'|attr('format'))('') }}", "str.format()"),
        ("{{ 'abc'.translate({97: 'x'}) }}", "str.translate()"),
    ],
)
def test_render_python_internals_are_refused(source: str, message: str) -> None:
    error = hostile(source)

    assert message in error.detail


def test_render_profile_field_lookup_is_callable_like_by_id() -> None:
    assert render_source("{{ user.profile_fields.lookup(3) }}") == "gold"


# Growth and time -------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        # operators
        "{{ 'a' * 10**9 }}",
        "{{ ([1] * 10**9)|length }}",
        "{{ 10**9 * 'a' }}",
        "{{ (10**1000)**1000 }}",
        "{{ 2 ** 100000 }}",
        "{% set ns = namespace(n=3) %}{% for i in range(64) %}"
        "{% set ns.n = ns.n * ns.n %}{% endfor %}",
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}",
        BIG + "{{ [big] ~ [big] * 1000 }}",
        # %-formatting
        "{{ '%999999999s' % 'a' }}",
        "{{ '%-999999999d' % 1 }}",
        "{{ '%*s' % (999999999, 'a') }}",
        "{{ '%.999999999f' % 1.0 }}",
        BIG + "{{ '%(a)s%(a)s%(a)s%(a)s' % {'a': big} }}",
        BIG + "{{ ('%s' * 1000) % ((big,) * 1000) }}",
        "{{ request.body_raw % 1 }}",
        # str.format is refused outright, widths included
        "{{ '{:>999999999}'.format('a') }}",
        # filters
        "{{ '%999999999s'|format('a') }}",
        "{{ 'a'|center(999999999) }}",
        "{{ ('a\n' * 1000)|indent(999999999) }}",
        BIG + "{{ ('a\n' * 1000)|indent(big) }}",
        BIG + "{{ 'a b c d e f'|wordwrap(1, wrapstring=big) }}",
        "{{ ('a' * 1000000)|wordwrap(1) }}",
        "{{ ('-' * 1000000)|wordwrap(5) }}",
        BIG + "{{ ('a' * 1000000)|replace('', big) }}",
        BIG + "{{ ('a' * 1000000)|replace('a', big) }}",
        BIG + "{{ ([big] * 1000000)|join }}",
        BIG + "{{ ('a' * 1000000)|join(big) }}",
        "{{ [1]|batch(999999999, 'x')|list }}",
        "{{ [1]|slice(999999999)|list|length }}",
        "{{ ([[1]] * 1000000)|sum(start=[]) }}",
        "{{ (range(1000)|list)|tojson(indent=999999) }}",
        BIG + "{{ ([big] * 1000000)|tojson }}",
        BIG + "{{ ([big] * 1000000)|json_encode }}",
        BIG + "{{ ([big] * 1000000)|string }}",
        BIG + "{{ ([big] * 1000000)|e }}",
        "{{ ('&' * 1000000)|e|e|e|e|e|length }}",
        # methods
        "{{ 'a'.ljust(999999999) }}",
        "{{ 'a'.rjust(999999999) }}",
        "{{ 'a'.center(999999999) }}",
        "{{ 'a'.zfill(999999999) }}",
        "{{ ('\t' * 1000000).expandtabs(tabsize=999999) }}",
        "{{ request.body_raw.center(999999999) }}",
        "{{ request.body_raw.ljust(999999999) }}",
        BIG + "{{ ('a' * 1000000).replace('a', big) }}",
        BIG + "{{ big.join(['a'] * 1000000) }}",
        "{{ (1).to_bytes(999999999, 'big') }}",
        "{{ (1).to_bytes(length=999999999, byteorder='big') }}",
        "{% set l = [1] %}{% for i in range(64) %}{{ l.extend(l) }}{% endfor %}",
        "{% set l = [] %}{% for i in range(100) %}"
        "{{ l.extend(range(100000)) }}{% endfor %}",
        "{% set d = {} %}{% for i in range(100) %}"
        "{{ d.update(dict.fromkeys(range(i * 100000, (i + 1) * 100000))) }}"
        "{% endfor %}",
        # printing shared references
        BIG + "{{ [big] * 1000000 }}",
        "{% set a = ['x' * 1000] * 1000 %}{% set b = [a] * 1000 %}{{ [b] * 1000 }}",
        BIG + "{{ namespace(a=[big] * 1000000) }}",
        BIG + "{{ dict(a=[big] * 1000000).items() }}",
        BIG + "{{ dict(a=big, b=big, c=big).values() }}",
        # written output, captured or not
        BIG + "{% for i in range(1000) %}{{ big }}{% endfor %}",
        "{% set x %}{% for i in range(100000) %}{{ 'x' * 1000000 }}{% endfor %}"
        "{% endset %}",
        "{% macro m() %}{% for i in range(100000) %}{{ 'x' * 1000000 }}"
        "{% endfor %}{% endmacro %}{{ m()|length }}",
        "{% set x %}{% for i in range(100000) %}" + "y" * 1000 + "{% endfor %}"
        "{% endset %}",
        "{% filter upper %}{% for i in range(100000) %}{{ 'x' * 1000000 }}"
        "{% endfor %}{% endfilter %}",
        "{% macro m() %}{% for i in range(100000) %}{{ caller() }}{% endfor %}"
        "{% endmacro %}{% call m() %}{{ 'x' * 1000000 }}{% endcall %}",
    ],
)
def test_render_hostile_growth_ends_in_template_error(source: str) -> None:
    hostile_in_bounded_memory(source)


@pytest.mark.parametrize(
    "source",
    [
        "{% for a in range(100000) %}{% for b in range(100000) %}"
        "{% endfor %}{% endfor %}",
        "{% for a in range(1000) %}{% for b in range(1000) %}"
        "{% for c in range(1000) %}{% endfor %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        "{% macro f(n) %}{% if n < 60 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}"
        "{% endmacro %}{{ f(0) }}",
        "{% macro f(n) %}{% for i in range(10) %}{{ f(n + 1) if n < 30 }}"
        "{% endfor %}{% endmacro %}{{ f(0) }}",
        "{% for x in [1, 2] recursive %}{{ loop([1, 2]) }}{% endfor %}",
        "{% for x in [1] recursive %}"
        "{{ loop(range(100000)) if loop.depth < 50 }}{% endfor %}",
        "{% for x in [1] recursive %}"
        "{{ loop(iterable=range(100000)) if loop.depth < 50 }}{% endfor %}",
        BIG + "{{ range(100000)|map('string')|join(big) }}",
        "{% set l = [] %}{{ l.append(l) }}{{ l }}",
    ],
)
def test_render_hostile_loops_calls_and_printing_end_in_template_error(
    source: str,
) -> None:
    hostile(source)


def test_render_slow_template_stops_at_the_time_bound(settings: Any) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "TEMPLATE_MAX_SECONDS": 0.2}

    error = hostile(
        "{% for i in range(100000) %}{% set y = ('a' * 100000).upper() %}{% endfor %}"
    )

    assert "longer than 0.2 s" in error.detail


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'a' * 10**9 }}", "repeating a sequence would make a value"),
        ("{{ 2 ** 100000 }}", "an integer would grow past"),
        ("{{ '%999999999s' % 'a' }}", "%-formatting would make a value"),
        ("{{ 'a'|center(999999999) }}", "the center filter would make a value"),
        ("{{ 'a'.ljust(999999999) }}", "ljust() would make a value"),
        ("{{ ('a' * 100000)|wordwrap(1) }}", "wordwrap filter takes at most"),
        ("{{ [1]|sum(start=[]) }}", "its start must be one"),
        (BIG + "{{ [big] * 1000000 }}", "wrote more than"),
        (BIG + "{{ ([big] * 1000000)|string }}", "would print as more than"),
        (
            "{% for a in range(1000) %}{% for b in range(1000) %}"
            "{% endfor %}{% endfor %}",
            "loops and calls ran more than",
        ),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursed too deeply"),
    ],
)
def test_render_bound_error_says_which_bound(source: str, message: str) -> None:
    assert message in hostile(source).detail


def test_compile_hostile_constant_is_not_folded_at_load_time() -> None:
    tracemalloc.start()
    try:
        template = compile_template("{{ 'a'|center(999999999) }}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < PEAK_GUARD_BYTES
    with pytest.raises(TemplateError):
        render(template, {})


@pytest.mark.parametrize(
    "source",
    [
        "{% for x in [1] recursive %}{% set f = loop %}{{ f([1]) }}{% endfor %}",
        "{% for x in [1] recursive %}{{ [loop]|first }}{% endfor %}",
        "{% for x in [1] recursive %}{{ loop(*[[1]]) }}{% endfor %}",
    ],
)
def test_compile_recursive_loop_escaping_its_count_is_a_syntax_error(
    source: str,
) -> None:
    import jinja2

    with pytest.raises(jinja2.TemplateSyntaxError, match="loop"):
        compile_template(source)


@pytest.mark.parametrize("name", ["pprint", "urlize"])
def test_compile_removed_filter_is_unknown(name: str) -> None:
    import jinja2

    with pytest.raises(jinja2.TemplateSyntaxError, match=name):
        compile_template(f"{{{{ 'x'|{name} }}}}")


# What stays possible within the bounds ---------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{{ [1, 2] * 2 }}", "[1, 2, 1, 2]"),
        ("{{ 2 ** 10 }}|{{ 7 % 3 }}|{{ 1.5 * 2 }}", "1024|1|3.0"),
        ("{{ '%5s|%-3d|%.2f|%%' % ('a', 7, 3.14159) }}", "    a|7  |3.14|%"),
        ("{{ '%(a)s-%(b)s' % {'a': 1, 'b': 2} }}", "1-2"),
        ("{{ '%s=%s'|format('k', 'v') }}", "k=v"),
        ("{{ 'a' ~ 1 ~ none }}", "a1None"),
        ("{{ 'x'|center(5) }}", "  x  "),
        ("{{ 'a\nb'|indent(2, true) }}", "  a\n  b"),
        ("{{ 'aaa bbb ccc'|wordwrap(4) }}", "aaa\nbbb\nccc"),
        ("{{ 'a-b-c'|replace('-', '+') }}", "a+b+c"),
        ("{{ [1, 2, 3]|join(', ') }}", "1, 2, 3"),
        ("{{ range(3)|map('string')|join('-') }}", "0-1-2"),
        ("{{ [{'n': 'a'}, {'n': 'b'}]|join('/', attribute='n') }}", "a/b"),
        ("{{ [1, 2, 3]|sum }}|{{ [1.5]|sum(start=1) }}", "6|2.5"),
        ("{{ range(5)|batch(2)|list }}", "[[0, 1], [2, 3], [4]]"),
        ("{{ range(4)|slice(2)|list }}", "[[0, 1], [2, 3]]"),
        ("{{ {'b': 1, 'a': [1, 2]}|tojson(indent=2) }}", '{\n  "a": [\n    1,'),
        ("{{ 'a'.ljust(3) }}|{{ '7'.zfill(3) }}|{{ '-'.join('ab') }}", "a  |007|a-b"),
        ("{{ 'a\tb'.expandtabs(2) }}|{{ 'aXa'.replace('X', 'yy') }}", "a b|ayya"),
        ("{{ (258).to_bytes(2, 'big') }}", "b'\\x01\\x02'"),
        (
            "{% set l = [] %}{% for i in range(3) %}{{ l.append(i) or '' }}"
            "{% endfor %}{{ l }}",
            "[0, 1, 2]",
        ),
        (
            "{% set ns = namespace(total=0) %}{% for i in range(1000) %}"
            "{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}",
            "499500",
        ),
        (
            "{% macro item(x) %}<{{ x }}>{% endmacro %}"
            "{% for x in range(3) %}{{ item(x) }}{% endfor %}",
            "<0><1><2>",
        ),
        (
            "{% for node in [{'n': 'a', 'c': [{'n': 'b', 'c': []}]}] recursive %}"
            "{{ node.n }}({{ loop(node.c) }}){% endfor %}",
            "a(b())",
        ),
        ("{% set x %}{{ 'in' }}{% endset %}{{ x }}{{ x }}", "inin"),
        ("{{ 'x' * 100000 }}", "x" * 100000),
        ("{{ {'a': 1}.items()|list }}", "[('a', 1)]"),
        ("{{ [[1, 2]] * 2 }}", "[[1, 2], [1, 2]]"),
    ],
)
def test_render_ordinary_template_within_bounds(source: str, expected: str) -> None:
    assert render_source(source).startswith(expected)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'a'|center(1, 2, 3) }}", "center"),
        ("{{ 'a'|replace }}", "replace"),
        ("{{ [1]|join(nope=1) }}", "nope"),
    ],
)
def test_render_filter_with_wrong_arguments_keeps_the_filter_message(
    source: str, message: str
) -> None:
    assert message in hostile(source).detail
