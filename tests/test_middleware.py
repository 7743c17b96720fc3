"""Timing headers written on every response of the execute endpoint."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from composites.middleware import (
    CONNECTOR_TIMING_HEADER,
    REQUEST_ID_HEADER,
    SERVER_TIMING_HEADER,
)
from tests.upstream_fixtures import RunningUpstream

Install = Callable[[list[dict[str, Any]]], None]
SERVER_TIMING_ENTRY = re.compile(
    r'^(?P<name>[!#$%&\'*+\-.^_`|~0-9A-Za-z]+);dur=(?P<dur>\d+\.\d);desc="(?P<desc>[^"]*)"$'
)

pytestmark = pytest.mark.django_db


def execute(client: Client, identifier: str) -> Any:
    return client.post(f"/widget-service/connectors/composite/{identifier}/execute")


def two_steps(upstream: RunningUpstream, second_path: str) -> dict[str, Any]:
    return {
        "name": "timed",
        "steps": [
            {"name": "fetch-token", "url": upstream.url("/echo")},
            {"name": "fetch", "url": upstream.url(second_path)},
        ],
    }


def server_timing(response: Any) -> list[dict[str, str]]:
    entries = []
    for entry in response[SERVER_TIMING_HEADER].split(", "):
        match = SERVER_TIMING_ENTRY.match(entry)
        assert match, entry
        entries.append(match.groupdict())
    return entries


def test_successful_run_has_one_server_timing_entry_per_step_then_total(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    composites_env([two_steps(upstream, "/echo")])

    entries = server_timing(execute(client, "timed"))

    assert [(e["name"], e["desc"]) for e in entries] == [
        ("step.fetch-token", "Step: fetch-token"),
        ("step.fetch", "Step: fetch"),
        ("total", "Total"),
    ]
    step_total = sum(float(e["dur"]) for e in entries[:2])
    assert float(entries[2]["dur"]) >= step_total - 0.2


def test_failed_run_reports_steps_that_ran_with_outcome_and_status(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    composites_env([two_steps(upstream, "/status/500")])

    response = execute(client, "timed")

    timing = json.loads(response[CONNECTOR_TIMING_HEADER])
    assert timing["request_id"] == response[REQUEST_ID_HEADER]
    assert timing["request_id"] == json.loads(response.content)["request_id"]
    assert [
        (s["name"], s["index"], s["status_code"], s["outcome"]) for s in timing["steps"]
    ] == [("fetch-token", 0, 200, "ok"), ("fetch", 1, 500, "http_error")]
    assert timing["total_ms"] >= 0
    assert "\n" not in response[CONNECTOR_TIMING_HEADER]


def test_step_without_response_reports_null_status(
    client: Client, composites_env: Install, upstream: RunningUpstream
) -> None:
    composites_env([two_steps(upstream, "/cut-off")])

    timing = json.loads(execute(client, "timed")[CONNECTOR_TIMING_HEADER])

    assert timing["steps"][1]["status_code"] is None
    assert timing["steps"][1]["outcome"] == "network_error"


@pytest.mark.parametrize(
    ("method", "identifier", "status"),
    [("post", "missing", 404), ("get", "missing", 405), ("put", "timed", 405)],
)
def test_error_responses_before_any_step_carry_timing_headers(
    client: Client,
    composites_env: Install,
    upstream: RunningUpstream,
    method: str,
    identifier: str,
    status: int,
) -> None:
    composites_env([two_steps(upstream, "/echo")])
    url = f"/widget-service/connectors/composite/{identifier}/execute"

    response = getattr(client, method)(url)

    assert response.status_code == status
    assert [e["name"] for e in server_timing(response)] == ["total"]
    assert json.loads(response[CONNECTOR_TIMING_HEADER])["steps"] == []


def test_request_ids_are_fresh_for_every_request(
    client: Client, composites_env: Install
) -> None:
    composites_env([])

    ids = {execute(client, "missing")[REQUEST_ID_HEADER] for _ in range(5)}

    assert len(ids) == 5


def test_other_pages_carry_no_timing_headers(client: Client) -> None:
    response = client.get("/accounts/login/")

    assert REQUEST_ID_HEADER not in response
    assert SERVER_TIMING_HEADER not in response
