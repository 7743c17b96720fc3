"""The exceptions of composites, and the one place they become HTTP errors.

::

    CompositesError
    ├── RegistryInvalid              the registry file was rejected
    └── ExecutionError               a run failed; carries status, code, scope
        ├── BadRequest                   400 BAD_REQUEST
        ├── CompositeNotFound            404 NOT_FOUND
        ├── MethodNotAllowed             405 METHOD_NOT_ALLOWED
        ├── LengthRequired               411 LENGTH_REQUIRED
        ├── PayloadTooLarge              413 PAYLOAD_TOO_LARGE
        ├── AuthenticationRequired       401 AUTHENTICATION_REQUIRED
        ├── PermissionDenied             403 PERMISSION_DENIED
        ├── NoSteps                      500 NO_STEPS
        ├── UnexpectedError              500 UNEXPECTED_ERROR
        └── StepError                    a step failed; located by the runner
            ├── StepHTTPError                502 STEP_HTTP_ERROR
            ├── StepNetworkError             502 STEP_NETWORK_ERROR
            ├── TemplateError                422 TEMPLATE_ERROR
            ├── JWTSigningError              422 JWT_SIGNING_ERROR
            ├── TokenRequestError            502 TOKEN_REQUEST_ERROR
            └── DestinationNotAllowed        422 DESTINATION_NOT_ALLOWED

A ``StepError`` is raised wherever the failure is found (the template
engine, an authentication strategy, the destination guard) with a detail
only; the step runner then records which step it was.  Third-party errors
(httpx, Jinja2, PyJWT) are translated into this tree where they are caught.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from composites.validation import Problem


class CompositesError(Exception):
    """Base class of every error raised by composites."""


class RegistryInvalid(CompositesError):
    """A registry file failed validation; ``problems`` lists every error."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        super().__init__(f"registry is invalid: {count} error(s)")


class ExecutionError(CompositesError):
    """A failure of one widget request, shown to the widget as an envelope."""

    status: int = 500
    code: str = "UNEXPECTED_ERROR"
    default_detail: str = "An unexpected error occurred."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)

    @property
    def scope(self) -> str:
        return "Request"

    def envelope(self, request_id: str) -> dict[str, Any]:
        errors = {"code": self.code, "detail": self.detail, "scope": self.scope}
        return {"success": False, "errors": errors, "request_id": request_id}


class BadRequest(ExecutionError):
    status = 400
    code = "BAD_REQUEST"
    default_detail = "The request is malformed."


class CompositeNotFound(ExecutionError):
    status = 404
    code = "NOT_FOUND"
    default_detail = "No composite connector has that permalink or id."


class MethodNotAllowed(ExecutionError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    default_detail = "Composite connectors are executed with POST."


class LengthRequired(ExecutionError):
    status = 411
    code = "LENGTH_REQUIRED"
    default_detail = (
        "Send the body with a Content-Length header; a chunked body is not read."
    )


class PayloadTooLarge(ExecutionError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    default_detail = "The request body is over the size limit."


class AuthenticationRequired(ExecutionError):
    status = 401
    code = "AUTHENTICATION_REQUIRED"
    default_detail = "This composite connector needs a signed-in user."


class PermissionDenied(ExecutionError):
    status = 403
    code = "PERMISSION_DENIED"
    default_detail = "The request was refused."


class UnexpectedError(ExecutionError):
    @property
    def scope(self) -> str:
        return "Unexpected error"


class NoSteps(UnexpectedError):
    code = "NO_STEPS"
    default_detail = "This composite connector has no steps."


class StepError(ExecutionError):
    """A failure of one step; ``locate`` records which step it was."""

    status = 502
    outcome = "network_error"
    category = "Downstream (network/external service)"
    step_name: str | None = None
    step_index: int | None = None
    upstream_status: int | None = None

    def locate(self, name: str, index: int) -> None:
        self.step_name = name
        self.step_index = index

    @property
    def scope(self) -> str:
        step = f"Composite step '{self.step_name}' (index {self.step_index})"
        return f"{step}: {self.category}"


class StepHTTPError(StepError):
    code = "STEP_HTTP_ERROR"
    outcome = "http_error"
    category = "Downstream (HTTP error)"

    def __init__(self, upstream_status: int) -> None:
        self.upstream_status = upstream_status
        super().__init__(f"The upstream API answered HTTP {upstream_status}.")


class StepNetworkError(StepError):
    code = "STEP_NETWORK_ERROR"


class TemplateError(StepError):
    status = 422
    code = "TEMPLATE_ERROR"
    outcome = "template_error"
    category = "Configuration (template rendering)"


class JWTSigningError(StepError):
    status = 422
    code = "JWT_SIGNING_ERROR"
    outcome = "jwt_error"
    category = "Authentication (JWT signing)"


class TokenRequestError(StepError):
    code = "TOKEN_REQUEST_ERROR"
    outcome = "token_error"
    category = "Authentication (token request)"


class DestinationNotAllowed(StepError):
    status = 422
    code = "DESTINATION_NOT_ALLOWED"
    outcome = "destination_blocked"
    category = "Configuration (destination not allowed)"
