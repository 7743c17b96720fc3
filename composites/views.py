"""The endpoint a widget calls to run a composite connector.

``POST /widget-service/connectors/composite/<permalink-or-id>/execute``
finds the composite, reads the widget's body within the size limit, asks
the host who the caller is, refuses an anonymous caller where the composite
needs a user, and hands the rest to the step runner.  Every failure is
turned into the error envelope by ``handle_exception``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from composites import registry, runner
from composites.callers import resolve_caller
from composites.conf import app_settings
from composites.context import WidgetRequest
from composites.exceptions import (
    AuthenticationRequired,
    BadRequest,
    CompositeNotFound,
    ExecutionError,
    LengthRequired,
    MethodNotAllowed,
    PayloadTooLarge,
    PermissionDenied,
    RegistryInvalid,
    UnexpectedError,
)
from composites.timing import RunTimings

logger = logging.getLogger("composites.views")

RELAYED_CONTENT_POLICY = "default-src 'none'; sandbox"


class OpaqueBody(BaseParser):
    """Accept a body of any type without parsing it; steps see it raw."""

    media_type = "*/*"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Any = None,
    ) -> dict[str, Any]:
        return {}


class AlwaysJSON(BaseContentNegotiation):
    """Take any body as opaque and answer JSON whatever ``Accept`` says."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0]

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


class ExecuteCompositeView(APIView):
    """Run a composite connector and return its last step's response."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]
    parser_classes = [OpaqueBody]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON
    http_method_names = ["post"]
    widget_body = b""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # The body is read, within the limit, before the CSRF check of
        # session authentication looks at the request's form data.
        if request.method == "POST":
            self.widget_body = _read_body(request._request)
        super().initial(request, *args, **kwargs)

    def post(self, request: Request, identifier: str) -> HttpResponse:
        composite = registry.current().find(identifier)
        if composite is None:
            raise CompositeNotFound()
        widget = _widget_request(request, self.widget_body)
        caller = resolve_caller(request._request)
        if composite.requires_user and not caller.user.is_authenticated:
            raise AuthenticationRequired()

        result = runner.run(composite, widget, caller, timings_of(request))

        response = HttpResponse(result.body, status=result.status)
        if result.content_type:
            response["Content-Type"] = result.content_type
        else:
            del response["Content-Type"]
        # The body is an upstream's or a template's, on the platform's own
        # origin: a browser opening it as a page must not run anything.
        response["Content-Security-Policy"] = RELAYED_CONTENT_POLICY
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def handle_exception(self, exc: Exception) -> Response:
        error = _as_execution_error(exc)
        request_id = timings_of(self.request).request_id
        return Response(error.envelope(request_id), status=error.status)


def timings_of(request: HttpRequest | Request) -> RunTimings:
    """Return the timings the middleware attached to ``request``."""
    timings = getattr(request, "composite_timings", None)
    if timings is None:
        timings = RunTimings()
        request.composite_timings = timings  # type: ignore[union-attr]
    return timings


def _widget_request(request: Request, body: bytes) -> WidgetRequest:
    query = {key: request.query_params.getlist(key)[-1] for key in request.query_params}
    return WidgetRequest(
        body=body,
        content_type=request.META.get("CONTENT_TYPE") or None,
        query=query,
    )


def _read_body(request: HttpRequest) -> bytes:
    limit = app_settings.MAX_REQUEST_BYTES
    too_large = PayloadTooLarge(f"The request body is over {limit} bytes.")
    declared = request.META.get("CONTENT_LENGTH") or ""
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not declared:
        raise LengthRequired()
    if declared and not declared.isdigit():
        raise BadRequest("The Content-Length header is not a whole number.")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_large from None
    if len(body) > limit:
        raise too_large
    return body


def _as_execution_error(exc: Exception) -> ExecutionError:
    if isinstance(exc, ExecutionError):
        return exc
    if isinstance(exc, SuspiciousOperation):
        return BadRequest(f"The request was refused: {exc}")
    if isinstance(exc, RegistryInvalid):
        # The registry logged its errors once when it rejected the file.
        return UnexpectedError("No valid registry of composite connectors is loaded.")
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return MethodNotAllowed()
    if isinstance(
        exc, drf_exceptions.NotAuthenticated | drf_exceptions.PermissionDenied
    ):
        return PermissionDenied(str(exc.detail))
    if isinstance(exc, drf_exceptions.AuthenticationFailed):
        return PermissionDenied(str(exc.detail))
    logger.exception("Unexpected error while running a composite")
    return UnexpectedError()


@csrf_exempt
def unknown_path(request: HttpRequest, path: str) -> JsonResponse:
    """Answer any other path of the app with the 404 envelope."""
    error = CompositeNotFound(
        "Nothing answers at this path; composites run at "
        "connectors/composite/<permalink-or-id>/execute."
    )
    request_id = timings_of(request).request_id
    return JsonResponse(
        error.envelope(request_id),
        status=error.status,
        json_dumps_params={"separators": (",", ":")},
    )
