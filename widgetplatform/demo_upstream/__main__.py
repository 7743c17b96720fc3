"""Serve the demo upstream until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from widgetplatform.demo_upstream.api import create_app
from widgetplatform.demo_upstream.credentials import (
    ConfigurationError,
    load_credentials,
)
from widgetplatform.demo_upstream.tls import TLSServer, make_certificates


def _parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m widgetplatform.demo_upstream",
        description="Serve the demo upstream API over HTTPS.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=8443, help="port to listen on (0 picks one)"
    )
    parser.add_argument(
        "--secrets-file",
        type=Path,
        default=os.environ.get("WIDGETPLATFORM_SECRETS_FILE"),
        required="WIDGETPLATFORM_SECRETS_FILE" not in os.environ,
        help="secrets-and-variables JSON file (default: $WIDGETPLATFORM_SECRETS_FILE)",
    )
    parser.add_argument(
        "--tenant", default="demo", help="tenant whose secrets hold the credentials"
    )
    parser.add_argument(
        "--cert-dir",
        type=Path,
        default=Path("var/demo-certs"),
        help="where the certificate authority and server certificate live",
    )
    parser.add_argument(
        "--log-requests", action="store_true", help="log each request to stderr"
    )
    return parser.parse_args(argv)


def _wait_for_termination() -> None:
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {
        signum: signal.signal(signum, request_stop)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the demo upstream until SIGINT or SIGTERM; return an exit code."""
    arguments = _parse_arguments(argv)
    try:
        credentials = load_credentials(arguments.secrets_file, arguments.tenant)
    except ConfigurationError as error:
        print(f"demo upstream: {error}", file=sys.stderr)
        return 2

    certificates = make_certificates(arguments.cert_dir)
    with TLSServer(
        create_app(credentials),
        certificates,
        arguments.host,
        arguments.port,
        log_requests=arguments.log_requests,
    ) as server:
        print(
            f"Demo upstream listening on {server.base_url} "
            f"(CA bundle: {certificates.ca_bundle})",
            flush=True,
        )
        _wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
