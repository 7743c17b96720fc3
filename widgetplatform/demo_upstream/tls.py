"""Certificates from a throwaway authority, and a WSGI server over HTTPS."""

from __future__ import annotations

import dataclasses
import os
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import trustme
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

CERTIFICATE_IDENTITIES = ("localhost", "127.0.0.1", "::1")


@dataclasses.dataclass(frozen=True)
class Certificates:
    """PEM files: a certificate authority and a loopback server certificate."""

    ca_bundle: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """Return a TLS server context presenting the server certificate."""
        context = _DeferredHandshakeContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Return a TLS client context that trusts only this authority."""
        return ssl.create_default_context(cafile=str(self.ca_bundle))


def make_certificates(directory: Path) -> Certificates:
    """Create a CA and a server certificate for loopback under ``directory``.

    Files already present are reused, so clients that trust the CA bundle
    keep working across restarts.
    """
    directory = Path(directory)
    certificates = Certificates(
        ca_bundle=directory / "ca.pem",
        cert_file=directory / "server.pem",
        key_file=directory / "server-key.pem",
    )
    if all(path.is_file() for path in dataclasses.astuple(certificates)):
        return certificates

    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA(organization_name="Widget platform demo upstream")
    leaf = authority.issue_cert(*CERTIFICATE_IDENTITIES)
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    _write_atomically(certificates.key_file, leaf.private_key_pem.bytes(), 0o600)
    _write_atomically(certificates.cert_file, chain, 0o644)
    _write_atomically(certificates.ca_bundle, authority.cert_pem.bytes(), 0o644)
    return certificates


def _write_atomically(path: Path, content: bytes, mode: int) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    os.replace(partial, path)


class _DeferredHandshakeContext(ssl.SSLContext):
    """A server context whose TLS handshakes run in the connection's thread.

    werkzeug wraps the listening socket, so by default each handshake runs
    inside ``accept()`` in the serving loop, where one client that connects
    and sends nothing would stall every other client.
    """

    def wrap_socket(
        self,
        sock: Any,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )


class _RequestHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"


class _QuietRequestHandler(_RequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class TLSServer:
    """Serve a WSGI application over HTTPS from a daemon thread.

    The socket is bound on construction (port 0 picks a free port); requests
    are answered between :meth:`start` and :meth:`stop`. Used as a context
    manager, it starts on entry and stops on exit.
    """

    def __init__(
        self,
        app: WSGIApplication,
        certificates: Certificates,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_requests: bool = False,
    ) -> None:
        handler = _RequestHandler if log_requests else _QuietRequestHandler
        self.certificates = certificates
        self.log_requests = log_requests
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            app,
            threaded=True,
            request_handler=handler,
            ssl_context=certificates.server_context(),
        )
        self.host = host
        self.port = self._server.port
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def base_url(self) -> str:
        """The server's origin, such as ``https://127.0.0.1:8443``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def start(self) -> None:
        """Start answering requests."""
        if self._thread is not None or self._closed:
            raise RuntimeError("a TLSServer starts once")
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name=f"tls-server-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting connections and close the listening socket."""
        if self._closed:
            return
        self._closed = True
        if self._thread is None:
            self._server.server_close()
            return
        self._server.shutdown()
        self._thread.join()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
