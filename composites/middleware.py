"""Write the run's timings into headers of every response of the app's URLs."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from composites.timing import RunTimings

REQUEST_ID_HEADER = "X-Request-ID"
SERVER_TIMING_HEADER = "Server-Timing"
CONNECTOR_TIMING_HEADER = "X-Connector-Timing"
APP_NAMESPACE = "composites"


class TimingHeadersMiddleware:
    """Start the clock, get the response, write the timing headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timings = RunTimings()
        request.composite_timings = timings  # type: ignore[attr-defined]
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.namespace == APP_NAMESPACE:
            _write_headers(response, timings)
        return response


def _write_headers(response: HttpResponse, timings: RunTimings) -> None:
    total = timings.total_ms()
    entries = [
        f'step.{step.name};dur={step.duration_ms:.1f};desc="Step: {step.name}"'
        for step in timings.steps
    ]
    entries.append(f'total;dur={total:.1f};desc="Total"')
    response[REQUEST_ID_HEADER] = timings.request_id
    response[SERVER_TIMING_HEADER] = ", ".join(entries)
    response[CONNECTOR_TIMING_HEADER] = json.dumps(
        {
            "request_id": timings.request_id,
            "total_ms": total,
            "steps": [
                {
                    "name": step.name,
                    "index": step.index,
                    "duration_ms": step.duration_ms,
                    "status_code": step.status_code,
                    "outcome": step.outcome,
                }
                for step in timings.steps
            ],
        },
        separators=(",", ":"),
    )
