"""The budget of one template render: steps, time, value sizes and output.

``rendering`` gives the render run inside it a budget of its own, held in a
context variable so that the sandbox's operators, filters and calls can
spend from it.  Outside a render (constant folding while a template
compiles) a fresh budget is used.  The limits are the ``TEMPLATE_MAX_*``
settings, read when a render starts.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from typing import Any

from composites import estimates
from composites.conf import app_settings
from composites.exceptions import TemplateError


class RenderBudget:
    """What one render may still spend: steps, time and characters."""

    __slots__ = (
        "max_output",
        "max_string",
        "max_steps",
        "seconds",
        "deadline",
        "steps",
        "written",
    )

    def __init__(self) -> None:
        self.max_output: int = app_settings.TEMPLATE_MAX_OUTPUT_CHARS
        self.max_string: int = app_settings.TEMPLATE_MAX_STRING_CHARS
        self.max_steps: int = app_settings.TEMPLATE_MAX_LOOP_ITERATIONS
        self.seconds: float = app_settings.TEMPLATE_MAX_SECONDS
        self.deadline = time.monotonic() + self.seconds
        self.steps = 0
        self.written = 0

    def spend(self) -> None:
        """Spend one step: a loop iteration or a call."""
        self.steps += 1
        if self.steps > self.max_steps:
            raise TemplateError(f"loops and calls ran more than {self.max_steps} times")
        self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateError(f"rendering took longer than {self.seconds} s")

    def check_size(self, value: Any) -> Any:
        """Return ``value`` unless it is longer than a value may be."""
        if isinstance(value, str | bytes | list | tuple | dict | set) and (
            len(value) > self.max_string
        ):
            raise TemplateError(
                f"a value grew past {self.max_string} characters or items"
            )
        return value

    def check_estimate(self, size: int, what: str) -> None:
        """Refuse an operation whose result would be too long."""
        if size > self.max_string:
            raise TemplateError(
                f"{what} would make a value of more than {self.max_string} "
                "characters or items"
            )

    def check_printable(self, value: Any) -> None:
        """Refuse a value that would print as too long a text."""
        if isinstance(value, str):
            return
        if estimates.text_size(value, self.max_string) > self.max_string:
            raise TemplateError(
                f"a value would print as more than {self.max_string} characters"
            )

    def write(self, values: list[Any]) -> str:
        """Count ``values`` as written and return them joined as text."""
        texts = []
        for value in values:
            if not isinstance(value, str):
                remaining = self.max_output - self.written
                if estimates.text_size(value, remaining) > remaining:
                    self._overflow()
                value = str(value)
            texts.append(value)
        text = "".join(texts)
        self.written += len(text)
        if self.written > self.max_output:
            self._overflow()
        return text

    def _overflow(self) -> None:
        raise TemplateError(
            f"the template wrote more than {self.max_output} characters"
        )


_budget: contextvars.ContextVar[RenderBudget] = contextvars.ContextVar("budget")


def current_budget() -> RenderBudget:
    """Return the budget of the render in progress, or a fresh one."""
    try:
        return _budget.get()
    except LookupError:
        return RenderBudget()


@contextlib.contextmanager
def rendering() -> Iterator[RenderBudget]:
    """Give the render run inside this block a budget of its own."""
    budget = RenderBudget()
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)
