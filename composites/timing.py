"""Per-step timings of one run, recorded by the runner for the middleware."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class StepTiming:
    """How one step went: its duration, upstream status and outcome."""

    name: str
    index: int
    duration_ms: float
    status_code: int | None
    outcome: str


@dataclass(slots=True)
class RunTimings:
    """The timings of one widget request, keyed by a fresh request id."""

    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.perf_counter)
    steps: list[StepTiming] = field(default_factory=list)

    def record(
        self,
        name: str,
        index: int,
        started: float,
        status_code: int | None,
        outcome: str,
    ) -> StepTiming:
        elapsed = (time.perf_counter() - started) * 1000
        timing = StepTiming(name, index, round(elapsed, 1), status_code, outcome)
        self.steps.append(timing)
        return timing

    def total_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 1)
