"""Measure what running a composite costs over calling its APIs directly.

Starts a keep-alive HTTPS upstream on loopback with a token endpoint and a
user endpoint, then times, in the same run:

- reference: the same two calls made directly with one httpx client;
- runner: ``composites.runner.run`` of a two-step composite;
- endpoint: the execute endpoint through Django's test client (middleware,
  DRF, registry lookup, caller resolution, runner);
- gunicorn: the execute endpoint of a gunicorn server under concurrent load,
  against the reference under the same load (``--gunicorn``).

Usage: ``python benchmarks/bench_execute.py [--runs N] [--gunicorn]``.
It prints milliseconds per run and each figure's ratio to the reference.
"""

from __future__ import annotations

import argparse
import http.server
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from widgetplatform.demo_upstream import Certificates, make_certificates  # noqa: E402

TOKEN = "benchmark-token"
USER = {"id": 1, "email": "ada@example.com", "name": "Ada"}
COMPOSITE = {
    "name": "Benchmark",
    "permalink": "benchmark",
    "steps": [
        {
            "name": "auth",
            "url": "https://{{ get_variable('host') }}/token",
            "method": "POST",
            "headers": [
                {"key": "Authorization", "value": "Basic {{ get_secret('basic') }}"}
            ],
            "request_body": "grant_type=client_credentials",
        },
        {
            "name": "user",
            "url": "https://{{ get_variable('host') }}/user",
            "headers": [
                {
                    "key": "Authorization",
                    "value": "Bearer {{ (steps.auth.body | from_json).access_token }}",
                }
            ],
            "response_body": "{{ (response.body | from_json).name }}",
        },
    ],
}


class Handler(http.server.BaseHTTPRequestHandler):
    """A token endpoint and a user endpoint on kept-alive connections."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._json({"access_token": TOKEN, "expires_in": 3600})

    def do_GET(self) -> None:  # noqa: N802
        self._json(USER)

    def _json(self, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def upstream(certificates: Certificates) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = certificates.server_context()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def configure(workdir: Path, host: str, certificates: Certificates) -> dict[str, str]:
    registry = workdir / "registry.json"
    registry.write_text(json.dumps({"composite_connectors": [COMPOSITE]}))
    secrets = workdir / "secrets.json"
    secrets.write_text(
        json.dumps(
            {
                "demo": {
                    "secrets": {"basic": "Y2xpZW50OnNlY3JldA=="},
                    "variables": {"host": host},
                }
            }
        )
    )
    environment = {
        "DJANGO_SETTINGS_MODULE": "widgetplatform.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1",
        "COMPOSITES_REGISTRY_PATH": str(registry),
        "WIDGETPLATFORM_SECRETS_FILE": str(secrets),
        "WIDGETPLATFORM_DATABASE": str(workdir / "db.sqlite3"),
        "COMPOSITES_CA_BUNDLE": str(certificates.ca_bundle),
        "COMPOSITES_ALLOW_PRIVATE_NETWORKS": "1",
    }
    os.environ.update(environment)
    return environment


def timed(label: str, runs: int, call: Callable[[], Any]) -> float:
    for _ in range(min(20, runs)):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    median = statistics.median(samples)
    print(
        f"  {label:<10} median {median:7.3f} ms  p95 {percentile(samples, 95):7.3f} ms"
    )
    return median


def percentile(samples: list[float], rank: int) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, len(ordered) * rank // 100)]


def sequential(host: str, certificates: Certificates, runs: int) -> None:
    import django
    import httpx

    django.setup()
    # The per-step INFO lines are not what is measured here.
    logging.getLogger("composites").setLevel(logging.WARNING)
    from django.test import Client

    from composites import registry, runner
    from composites.callers import ANONYMOUS, Caller
    from composites.timing import RunTimings

    client = httpx.Client(verify=certificates.client_context())

    def reference() -> None:
        token = client.post(
            f"https://{host}/token",
            content=b"grant_type=client_credentials",
            headers={"Authorization": "Basic Y2xpZW50OnNlY3JldA=="},
        ).json()["access_token"]
        client.get(
            f"https://{host}/user", headers={"Authorization": f"Bearer {token}"}
        ).json()

    composite = registry.current().find("benchmark")
    assert composite is not None
    caller = Caller(ANONYMOUS, "demo")

    def run() -> None:
        runner.run(composite, runner.WidgetRequest(), caller, RunTimings())

    django_client = Client()

    def endpoint() -> None:
        response = django_client.post(
            "/widget-service/connectors/composite/benchmark/execute"
        )
        assert response.status_code == 200, response.content

    print(f"Sequential, {runs} runs of a two-step composite:")
    base = timed("reference", runs, reference)
    for label, call in (("runner", run), ("endpoint", endpoint)):
        median = timed(label, runs, call)
        print(f"  {'':<10} {median / base:.2f}x the reference, +{median - base:.3f} ms")
    client.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def under_load(
    label: str, url: str, total: int, threads: int, verify: Any, post: bool
) -> float:
    import httpx

    local = threading.local()

    def one(_: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(verify=verify)
        response = client.post(url) if post else client.get(url)
        assert response.status_code == 200, response.status_code

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(threads * 5)))
        started = time.perf_counter()
        list(pool.map(one, range(total)))
        elapsed = time.perf_counter() - started
    rate = total / elapsed
    print(f"  {label:<10} {rate:8.1f} requests/s ({threads} client threads)")
    return rate


def gunicorn(
    host: str, certificates: Certificates, environment: dict[str, str], total: int
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "widgetplatform.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "8",
            "--worker-class",
            "gthread",
        ],
        cwd=ROOT,
        env={**os.environ, **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
        print(f"Under load, {total} requests, gunicorn with 2 workers x 8 threads:")
        ssl_context = certificates.client_context()
        base = under_load(
            "reference", f"https://{host}/user", total, 16, ssl_context, False
        )
        url = f"http://127.0.0.1:{port}/widget-service/connectors/composite/benchmark/execute"
        rate = under_load("gunicorn", url, total, 16, True, True)
        print(
            f"  {'':<10} {rate / base:.2f}x the reference's rate (each run is 2 calls)"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--gunicorn", action="store_true")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        certificates = make_certificates(workdir / "certs")
        with upstream(certificates) as host:
            environment = configure(workdir, host, certificates)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "-v0"],
                cwd=ROOT,
                env={**os.environ, **environment},
                check=True,
            )
            sequential(host, certificates, arguments.runs)
            if arguments.gunicorn:
                gunicorn(host, certificates, environment, arguments.runs * 4)


if __name__ == "__main__":
    main()
