"""The render budget: each TEMPLATE_MAX_* setting bounds what it names."""

from __future__ import annotations

from typing import Any

import pytest

from composites.budget import RenderBudget, current_budget, rendering
from composites.exceptions import TemplateError
from composites.templating import compile_template, render


@pytest.mark.parametrize(
    ("setting", "value", "source", "message"),
    [
        (
            "TEMPLATE_MAX_OUTPUT_CHARS",
            10,
            "{{ 'x' * 11 }}",
            "wrote more than 10 characters",
        ),
        (
            "TEMPLATE_MAX_OUTPUT_CHARS",
            10,
            "{% set s %}{{ 'x' * 6 }}{% endset %}{{ s }}",
            "wrote more than 10 characters",
        ),
        (
            "TEMPLATE_MAX_LOOP_ITERATIONS",
            5,
            "{% for i in range(6) %}{% endfor %}",
            "ran more than 5 times",
        ),
        (
            "TEMPLATE_MAX_LOOP_ITERATIONS",
            5,
            "{% macro m() %}{% endmacro %}{{ m() }}{{ m() }}{{ m() }}"
            "{{ m() }}{{ m() }}{{ m() }}",
            "ran more than 5 times",
        ),
        (
            "TEMPLATE_MAX_OUTPUT_CHARS",
            10,
            "{% filter center(20) %}x{% endfilter %}",
            "output is longer than 10 characters",
        ),
        (
            "TEMPLATE_MAX_STRING_CHARS",
            10,
            "{{ ('x' * 11)|length }}",
            "more than 10 characters or items",
        ),
        (
            "TEMPLATE_MAX_STRING_CHARS",
            10,
            "{{ ('x' ~ 'y' * 10)|length }}",
            "more than 10 characters or items",
        ),
    ],
)
def test_render_past_setting_is_template_error(
    setting: str, value: int, source: str, message: str, settings: Any
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, setting: value}

    with pytest.raises(TemplateError, match=message):
        render(compile_template(source), {})


@pytest.mark.parametrize(
    ("setting", "value", "source"),
    [
        ("TEMPLATE_MAX_OUTPUT_CHARS", 10, "{{ 'x' * 10 }}"),
        (
            "TEMPLATE_MAX_LOOP_ITERATIONS",
            5,
            "{% for i in [1, 2, 3, 4, 5] %}{% endfor %}",
        ),
        ("TEMPLATE_MAX_STRING_CHARS", 10, "{{ ('x' * 10)|length }}"),
    ],
)
def test_render_at_setting_succeeds(
    setting: str, value: int, source: str, settings: Any
) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, setting: value}

    render(compile_template(source), {})


def test_rendering_gives_each_render_its_own_budget() -> None:
    with rendering() as outer:
        outer.spend()
        with rendering() as inner:
            assert current_budget() is inner
            assert inner.steps == 0
        assert current_budget() is outer
        assert outer.steps == 1


def test_current_budget_outside_a_render_is_fresh() -> None:
    first, second = current_budget(), current_budget()

    assert isinstance(first, RenderBudget)
    assert first is not second


def test_budget_check_time_past_deadline_is_template_error(settings: Any) -> None:
    settings.COMPOSITES = {**settings.COMPOSITES, "TEMPLATE_MAX_SECONDS": 0}
    budget = RenderBudget()

    with pytest.raises(TemplateError, match="longer than 0 s"):
        budget.spend()
