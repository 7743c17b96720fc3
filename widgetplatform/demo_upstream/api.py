"""The demo upstream API: token, user, CRM and analytics endpoints."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import jwt
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from widgetplatform.demo_upstream.credentials import DemoCredentials

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
