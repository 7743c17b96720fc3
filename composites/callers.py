"""Who is calling: the signed-in user and the tenant of a widget request.

The host project decides both, through the resolver named by the
``CALLER_RESOLVER`` setting; nothing in the widget's body, query or headers
is consulted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.utils.module_loading import import_string

from composites.conf import app_settings


def _no_profile_fields(field_id: int) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class ProfileFields:
    """Custom profile fields of a user, looked up by numeric id."""

    lookup: Callable[[int], str | None] = _no_profile_fields

    def by_id(self, field_id: Any) -> str | None:
        """Return the value of field ``field_id``, ``None`` when unknown."""
        try:
            return self.lookup(int(field_id))
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class CallerUser:
    """The user as templates see it; every field is ``None`` when anonymous."""

    id: int | str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    profile_fields: ProfileFields = field(default_factory=ProfileFields)

    @property
    def is_authenticated(self) -> bool:
        return self.id is not None


ANONYMOUS = CallerUser()


@dataclass(frozen=True, slots=True)
class Caller:
    """The user and tenant one widget request runs for."""

    user: CallerUser
    tenant_id: str


def resolve_caller(request: HttpRequest) -> Caller:
    """Return the caller of ``request`` from the configured resolver."""
    resolver: Callable[[HttpRequest], Caller] = import_string(
        app_settings.CALLER_RESOLVER
    )
    return resolver(request)


def resolve_django_user(request: HttpRequest) -> Caller:
    """Resolve the Django user of the request, in the tenant ``default``."""
    return Caller(user=caller_user(request), tenant_id="default")


def caller_user(
    request: HttpRequest, profile_fields: ProfileFields | None = None
) -> CallerUser:
    """Describe the request's Django user, or ``ANONYMOUS``."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    return CallerUser(
        id=user.pk,
        email=getattr(user, "email", None),
        first_name=getattr(user, "first_name", None),
        last_name=getattr(user, "last_name", None),
        username=user.get_username(),
        profile_fields=profile_fields or ProfileFields(),
    )
