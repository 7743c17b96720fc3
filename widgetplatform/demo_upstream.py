"""A demo upstream API, served over HTTPS on loopback, for the demo composites.

It stands in for the third-party services a community platform talks to:

- ``POST /oauth/token`` issues bearer tokens for the client-credentials grant
  (client authentication by HTTP Basic or by form fields);
- ``GET /v1/users?email=...`` returns a user profile to a bearer of such a
  token;
- ``GET /crm/contacts?email=...`` and
  ``GET /crm/contacts/<id>/tickets?status=...`` answer to an ``X-Api-Key``;
- ``GET /analytics/v1/summary?community=...`` answers to an HS256 JWT that
  carries ``exp`` and ``iss``.

Every record is fake and derived deterministically from the request, so any
e-mail address or community id works. The server presents a certificate from
its own certificate authority; callers trust it through the CA bundle written
by :func:`make_certificates`.

Run it with::

    python -m widgetplatform.demo_upstream --secrets-file PATH --tenant demo
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import ssl
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Self

import jwt
import trustme
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CERTIFICATE_IDENTITIES = ("localhost", "127.0.0.1", "::1")
TOKEN_LIFETIME_SECONDS = 3600
PLANS = ("community", "community-plus", "team", "enterprise")
TICKET_SUBJECTS = (
    "Cannot reset my password",
    "Widget shows stale data",
    "Invoice address is wrong",
    "Export to CSV times out",
    "Badge not awarded after event",
    "Notification e-mails arrive twice",
)
SECRET_NAMES = {
    "client_id": "demo_client_id",
    "client_secret": "demo_client_secret",
    "crm_api_key": "crm_api_key",
    "analytics_jwt_secret": "analytics_jwt_secret",
}


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


@dataclasses.dataclass(frozen=True)
class DemoCredentials:
    """What a caller must present to each part of the demo API."""

    client_id: str
    client_secret: str
    crm_api_key: str
    analytics_jwt_secret: str


class ConfigurationError(Exception):
    """The secrets file cannot provide the demo credentials."""


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


class _ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        detail: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body: dict[str, str] = {"error": self.error}
        if self.detail is not None:
            body["detail"] = self.detail
        return _json(body, self.status, self.headers)


def _json(
    data: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(data),
        status=status,
        headers=dict(headers or {}),
        mimetype="application/json",
    )


class DemoUpstream:
    """The demo API as a WSGI application; issued tokens live in memory."""

    def __init__(self, credentials: DemoCredentials) -> None:
        self.credentials = credentials
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self._url_map = Map(
            [
                Rule("/oauth/token", endpoint=self._token, methods=["POST"]),
                Rule("/v1/users", endpoint=self._user, methods=["GET"]),
                Rule("/crm/contacts", endpoint=self._contacts, methods=["GET"]),
                Rule(
                    "/crm/contacts/<contact_id>/tickets",
                    endpoint=self._tickets,
                    methods=["GET"],
                ),
                Rule("/analytics/v1/summary", endpoint=self._summary, methods=["GET"]),
            ]
        )

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        response = self._dispatch(Request(environ))
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        adapter = self._url_map.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
            return endpoint(request, **arguments)  # type: ignore[no-any-return]
        except _ApiError as error:
            return error.response()
        except HTTPException as error:
            name = (error.name or "error").lower().replace(" ", "_")
            return _json({"error": name}, error.code or 500)

    def _token(self, request: Request) -> Response:
        if not self._client_authenticated(request):
            raise _ApiError(401, "invalid_client", headers=_BASIC_CHALLENGE)
        grant_type = request.form.get("grant_type")
        if not grant_type:
            raise _ApiError(400, "invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            raise _ApiError(400, "unsupported_grant_type")

        token = self._issue_token()
        body: dict[str, object] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
        }
        if scope := request.form.get("scope"):
            body["scope"] = scope
        return _json(body, headers={"Cache-Control": "no-store"})

    def _client_authenticated(self, request: Request) -> bool:
        authorization = request.authorization
        if authorization is not None and authorization.type == "basic":
            client_id = authorization.username
            client_secret = authorization.password
        else:
            client_id = request.form.get("client_id")
            client_secret = request.form.get("client_secret")
        return _matches(client_id, self.credentials.client_id) and _matches(
            client_secret, self.credentials.client_secret
        )

    def _issue_token(self) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            for expired in [t for t, expiry in self._tokens.items() if expiry <= now]:
                del self._tokens[expired]
            self._tokens[token] = now + TOKEN_LIFETIME_SECONDS
        return token

    def _require_access_token(self, request: Request) -> None:
        token = _bearer_token(request)
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is None or expiry <= time.monotonic():
            raise _ApiError(401, "invalid_token", headers=_BEARER_CHALLENGE)

    def _require_api_key(self, request: Request) -> None:
        if not _matches(request.headers.get("X-Api-Key"), self.credentials.crm_api_key):
            raise _ApiError(401, "invalid_api_key")

    def _verified_claims(self, request: Request) -> dict[str, Any]:
        token = _bearer_token(request)
        if not token:
            raise _ApiError(401, "invalid_token", "a bearer JWT is required")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.credentials.analytics_jwt_secret,
                algorithms=["HS256"],
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.InvalidTokenError as error:
            raise _ApiError(401, "invalid_token", str(error)) from error
        return claims

    def _user(self, request: Request) -> Response:
        self._require_access_token(request)
        return _json(user_profile(_required_email(request)))

    def _contacts(self, request: Request) -> Response:
        self._require_api_key(request)
        return _json({"results": [crm_contact(_required_email(request))]})

    def _tickets(self, request: Request, contact_id: str) -> Response:
        self._require_api_key(request)
        status = request.args.get("status")
        tickets = [
            ticket
            for ticket in crm_tickets(contact_id)
            if status is None or ticket["status"] == status
        ]
        return _json({"contact_id": contact_id, "tickets": tickets})

    def _summary(self, request: Request) -> Response:
        claims = self._verified_claims(request)
        community = request.args.get("community", "").strip()
        if not community:
            raise _ApiError(400, "invalid_request", "community is required")
        return _json(
            {
                "community": community,
                "active_members": 40 + _number("members", community, 960),
                "posts_last_7_days": _number("posts", community, 500),
                "issuer": claims["iss"],
            }
        )


_BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="demo-upstream"'}
_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def create_app(credentials: DemoCredentials) -> WSGIApplication:
    """Return the demo API as a WSGI application."""
    return DemoUpstream(credentials)


def _matches(presented: str | None, expected: str) -> bool:
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def _bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _required_email(request: Request) -> str:
    email = request.args.get("email", "").strip().lower()
    if "@" not in email:
        raise _ApiError(400, "invalid_request", "email is required")
    return email


def _number(purpose: str, value: str, modulus: int) -> int:
    digest = hashlib.sha256(f"{purpose}:{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % modulus


def _short_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:10]


def _display_name(email: str) -> str:
    local_part = email.partition("@")[0]
    words = [word.capitalize() for word in re.split(r"[._+\-]+", local_part) if word]
    return " ".join(words) or email


def user_profile(email: str) -> dict[str, object]:
    """Return the fake profile of the user with this e-mail address."""
    joined = dt.date(2023, 1, 1) + dt.timedelta(days=_number("joined", email, 730))
    return {
        "id": f"u-{_short_hash(email)}",
        "email": email,
        "display_name": _display_name(email),
        "plan": PLANS[_number("plan", email, len(PLANS))],
        "joined": joined.isoformat(),
        "karma": _number("karma", email, 5000),
    }


def crm_contact(email: str) -> dict[str, str]:
    """Return the fake CRM contact with this e-mail address."""
    return {
        "id": f"c-{_short_hash(email)}",
        "email": email,
        "name": _display_name(email),
    }


def crm_tickets(contact_id: str) -> list[dict[str, str]]:
    """Return the contact's fake tickets: two or three open, one closed."""
    open_count = 2 + _number("open", contact_id, 2)
    first_subject = _number("subject", contact_id, len(TICKET_SUBJECTS))
    statuses = ["open"] * open_count + ["closed"]
    return [
        {
            "id": f"t-{_short_hash(contact_id)[:6]}-{index + 1}",
            "subject": TICKET_SUBJECTS[(first_subject + index) % len(TICKET_SUBJECTS)],
            "status": status,
        }
        for index, status in enumerate(statuses)
    ]


def load_credentials(secrets_file: Path, tenant: str) -> DemoCredentials:
    """Read the demo credentials from the tenant's secrets in ``secrets_file``.

    The file maps each tenant to ``{"secrets": {...}, "variables": {...}}``.
    Errors name the missing secrets, never any value.
    """
    try:
        document = json.loads(Path(secrets_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"cannot read {secrets_file}: {error}") from error

    tenant_entry = document.get(tenant) if isinstance(document, dict) else None
    found = tenant_entry.get("secrets") if isinstance(tenant_entry, dict) else None
    tenant_secrets = found if isinstance(found, dict) else {}
    missing = [
        name
        for name in SECRET_NAMES.values()
        if not isinstance(tenant_secrets.get(name), str)
    ]
    if missing:
        raise ConfigurationError(
            f"tenant {tenant!r} in {secrets_file} lacks the secrets "
            + ", ".join(missing)
        )
    return DemoCredentials(
        **{field: tenant_secrets[name] for field, name in SECRET_NAMES.items()}
    )


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
