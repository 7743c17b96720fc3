"""Who the caller is: the Django user, and the tenant from the host name."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from composites.callers import Caller, ProfileFields, caller_user
from widgetplatform.models import ProfileFieldValue


def resolve_caller(request: HttpRequest) -> Caller:
    """Resolve the signed-in user and the tenant of the request's host."""
    user_id = getattr(request.user, "pk", None)
    fields = ProfileFields(lambda field_id: _profile_field(user_id, field_id))
    return Caller(user=caller_user(request, fields), tenant_id=tenant_of(request))


def tenant_of(request: HttpRequest) -> str:
    """Map the request's host name to a tenant (``WIDGETPLATFORM_TENANTS``)."""
    host = request.get_host().rsplit(":", 1)[0].lower()
    tenants: dict[str, str] = settings.WIDGETPLATFORM_TENANTS
    return tenants.get(host, settings.WIDGETPLATFORM_DEFAULT_TENANT)


def _profile_field(user_id: int | None, field_id: int) -> str | None:
    if user_id is None:
        return None
    value = (
        ProfileFieldValue.objects.filter(user_id=user_id, field_id=field_id)
        .values_list("value", flat=True)
        .first()
    )
    return value
