"""End-to-end tests of ``manage.py rundemo``: a real server process whose
registry file is edited while it runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from widgetplatform.management.commands.rundemo import ensure_secrets_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REPOSITORY_REGISTRY = PROJECT_ROOT / "registry" / "connectors_registry.json"
ANALYTICS = "community-analytics-summary"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class DemoServer:
    """The running ``rundemo`` process and the registry file it serves."""

    process: subprocess.Popen[bytes]
    base_url: str
    registry_path: Path
    log_path: Path

    def execute(self, identifier: str) -> httpx.Response:
        url = (
            f"{self.base_url}/widget-service/connectors/composite/{identifier}/execute"
        )
        return httpx.post(url, timeout=30)

    def answers(self, identifier: str, status: int) -> Callable[[], bool]:
        return lambda: self.execute(identifier).status_code == status

    def write_registry(self, composites: list[dict[str, Any]]) -> None:
        # An editor saving in place: truncate and write the same inode.
        document = {"connectors": [], "composite_connectors": composites}
        self.registry_path.write_text(json.dumps(document, indent=2))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def repository_composites() -> list[dict[str, Any]]:
    document = json.loads(REPOSITORY_REGISTRY.read_text())
    return list(document["composite_connectors"])


def renamed(raw: dict[str, Any], permalink: str) -> dict[str, Any]:
    return {**raw, "name": f"{raw['name']} ({permalink})", "permalink": permalink}


def analytics() -> dict[str, Any]:
    (raw,) = [c for c in repository_composites() if c["permalink"] == ANALYTICS]
    return raw


def _started(server: DemoServer) -> bool:
    if server.process.poll() is not None:
        raise AssertionError(f"rundemo exited early:\n{server.log()}")
    try:
        server.execute("no-such-composite")
    except httpx.TransportError:
        return False
    return True


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """``manage.py rundemo`` on free loopback ports, everything under tmp."""
    directory = tmp_path_factory.mktemp("rundemo")
    registry_path = directory / "connectors_registry.json"
    registry_path.write_bytes(REPOSITORY_REGISTRY.read_bytes())
    cert_dir = directory / "certs"
    port, upstream_port = free_port(), free_port()
    environment = {
        **os.environ,
        "COMPOSITES_REGISTRY_PATH": str(registry_path),
        "WIDGETPLATFORM_SECRETS_FILE": str(directory / "secrets.json"),
        # A folder that does not exist yet, as var/ in a clean clone.
        "WIDGETPLATFORM_DATABASE": str(directory / "var" / "db.sqlite3"),
        "COMPOSITES_ALLOW_PRIVATE_NETWORKS": "1",
        "COMPOSITES_CA_BUNDLE": str(cert_dir / "ca.pem"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "manage.py",
        "rundemo",
        f"127.0.0.1:{port}",
        f"--upstream-port={upstream_port}",
        f"--cert-dir={cert_dir}",
    ]
    log_path = directory / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = DemoServer(process, f"http://127.0.0.1:{port}", registry_path, log_path)
    try:
        wait_for(lambda: _started(server), 60, "rundemo to answer")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def server(demo_server: DemoServer) -> Iterator[DemoServer]:
    """The demo server, serving the repository's registry again."""
    demo_server.write_registry(repository_composites())
    wait_for(demo_server.answers(ANALYTICS, 200), 15, "the repository registry")
    yield demo_server
    assert demo_server.process.poll() is None, "the server stopped"


def test_rundemo_runs_a_composite_against_the_demo_upstream(server: DemoServer) -> None:
    response = server.execute(ANALYTICS)

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["community"] == "demo"
    assert response.json()["issuer"] == "widget-platform"
    assert "step.summary;dur=" in response.headers["Server-Timing"]


def test_rundemo_added_composite_answers_without_a_restart(server: DemoServer) -> None:
    pid = server.process.pid
    assert server.execute("analytics-copy").status_code == 404

    server.write_registry(
        [*repository_composites(), renamed(analytics(), "analytics-copy")]
    )

    wait_for(server.answers("analytics-copy", 200), 15, "the added composite")
    assert server.execute("analytics-copy").json()["community"] == "demo"
    assert server.execute(ANALYTICS).status_code == 200
    assert server.process.pid == pid and server.process.poll() is None


def test_rundemo_renamed_permalink_moves_without_a_restart(server: DemoServer) -> None:
    others = [c for c in repository_composites() if c["permalink"] != ANALYTICS]

    server.write_registry([*others, renamed(analytics(), "analytics-renamed")])

    wait_for(server.answers("analytics-renamed", 200), 15, "the renamed composite")
    assert server.execute(ANALYTICS).json()["errors"]["code"] == "NOT_FOUND"


def test_rundemo_invalid_edit_keeps_the_previous_registry(server: DemoServer) -> None:
    log_before = server.log()
    broken = renamed(analytics(), "Broken_Permalink")

    server.write_registry([*repository_composites(), broken])
    responses = [server.execute(ANALYTICS) for _ in range(5)]

    assert [r.status_code for r in responses] == [200] * 5
    assert server.execute("Broken_Permalink").status_code == 404
    new_log = server.log()[len(log_before) :]
    rejected = [line for line in new_log.splitlines() if " ERROR composites." in line]
    assert len(rejected) == 1, new_log
    assert (
        "composite_connectors[3].permalink: 'Broken_Permalink' is not a slug"
        in (rejected[0])
    )


def test_rundemo_invalid_json_keeps_the_previous_registry(server: DemoServer) -> None:
    server.registry_path.write_text('{"composite_connectors": [')

    assert server.execute(ANALYTICS).status_code == 200
    assert "invalid JSON: Expecting value" in server.log()


def test_ensure_secrets_file_keeps_secrets_and_points_hosts_at_this_port(
    tmp_path: Path,
) -> None:
    path = tmp_path / "secrets.json"
    ensure_secrets_file(path, 8443)
    first = json.loads(path.read_text())["demo"]

    ensure_secrets_file(path, 9443)
    second = json.loads(path.read_text())["demo"]

    assert second["secrets"] == first["secrets"]
    assert set(second["variables"].values()) == {"127.0.0.1:9443"}
