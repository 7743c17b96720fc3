"""pytest fixtures serving the test upstream and the demo upstream over HTTPS.

Load with ``pytest_plugins = ["tests.upstream_fixtures"]``. Both servers run
once per session on 127.0.0.1 with a free port and present certificates from
the same throwaway authority, ``upstream_certificates.ca_bundle``. Tests that
inspect what arrived upstream request ``upstream_recorder``, which starts
them with an empty record.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Iterator

import pytest

from tests.upstream import UpstreamRecorder, create_app
from widgetplatform.demo_upstream import (
    Certificates,
    DemoCredentials,
    TLSServer,
    make_certificates,
)
from widgetplatform.demo_upstream import create_app as create_demo_app

DEMO_TEST_CREDENTIALS = DemoCredentials(
    client_id="demo-test-client",
    client_secret="demo-test-client-secret",
    crm_api_key="demo-test-crm-api-key",
    analytics_jwt_secret="demo-test-analytics-jwt-secret-0123456789",
)


@dataclasses.dataclass(frozen=True)
class RunningServer:
    """A started :class:`TLSServer` and how to reach it."""

    server: TLSServer

    @property
    def base_url(self) -> str:
        """The origin, ``https://127.0.0.1:<port>``."""
        return self.server.base_url

    @property
    def ca_bundle(self) -> str:
        """Path of the PEM file with the authority that signed the server."""
        return str(self.server.certificates.ca_bundle)

    def ssl_context(self) -> ssl.SSLContext:
        """Return a client TLS context that trusts this server."""
        return self.server.certificates.client_context()

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` on this server."""
        return f"{self.base_url}/{path.lstrip('/')}"


@dataclasses.dataclass(frozen=True)
class RunningUpstream(RunningServer):
    """The test upstream; ``recorder`` holds the requests it received."""

    recorder: UpstreamRecorder


@dataclasses.dataclass(frozen=True)
class RunningDemoUpstream(RunningServer):
    """The demo upstream; ``credentials`` are what it accepts."""

    credentials: DemoCredentials


@pytest.fixture(scope="session")
def upstream_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A certificate authority and a loopback server certificate."""
    return make_certificates(tmp_path_factory.mktemp("upstream-certificates"))


@pytest.fixture(scope="session")
def upstream(upstream_certificates: Certificates) -> Iterator[RunningUpstream]:
    """The test upstream of ``tests.upstream``, shared by the session."""
    recorder = UpstreamRecorder()
    with TLSServer(create_app(recorder), upstream_certificates) as server:
        yield RunningUpstream(server=server, recorder=recorder)


@pytest.fixture
def upstream_recorder(upstream: RunningUpstream) -> UpstreamRecorder:
    """The test upstream's recorder, emptied for this test."""
    upstream.recorder.reset()
    return upstream.recorder


@pytest.fixture(scope="session")
def demo_upstream(
    upstream_certificates: Certificates,
) -> Iterator[RunningDemoUpstream]:
    """The demo upstream, accepting ``DEMO_TEST_CREDENTIALS``."""
    app = create_demo_app(DEMO_TEST_CREDENTIALS)
    with TLSServer(app, upstream_certificates) as server:
        yield RunningDemoUpstream(server=server, credentials=DEMO_TEST_CREDENTIALS)
