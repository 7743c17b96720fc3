"""Who is calling: the caller structures and the default resolver."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.test import RequestFactory

from composites.callers import (
    ANONYMOUS,
    CallerUser,
    ProfileFields,
    caller_user,
    resolve_caller,
    resolve_django_user,
)


def request_of(user: Any) -> Any:
    request = RequestFactory().post("/")
    request.user = user
    return request


@pytest.mark.parametrize(
    ("field_id", "expected"), [(1, "gold"), ("1", "gold"), (2, None), ("x", None)]
)
def test_profile_fields_by_id_returns_value_or_none(
    field_id: Any, expected: str | None
) -> None:
    fields = ProfileFields({1: "gold"}.get)

    assert fields.by_id(field_id) == expected


def test_profile_fields_default_knows_no_field() -> None:
    assert ProfileFields().by_id(1) is None


def test_anonymous_caller_user_has_every_field_none() -> None:
    assert (ANONYMOUS.id, ANONYMOUS.email, ANONYMOUS.username) == (None, None, None)
    assert ANONYMOUS.is_authenticated is False


def test_caller_user_of_anonymous_request_is_anonymous() -> None:
    assert caller_user(request_of(AnonymousUser())) is ANONYMOUS


@pytest.mark.django_db
def test_caller_user_of_signed_in_request_copies_user_fields() -> None:
    user = User.objects.create_user(
        "grace", "grace@example.com", "pw", first_name="Grace", last_name="Hopper"
    )

    described = caller_user(request_of(user))

    assert described == CallerUser(
        id=user.pk,
        email="grace@example.com",
        first_name="Grace",
        last_name="Hopper",
        username="grace",
        profile_fields=described.profile_fields,
    )
    assert described.is_authenticated is True


def test_default_resolver_puts_every_request_in_tenant_default() -> None:
    caller = resolve_django_user(request_of(AnonymousUser()))

    assert caller.tenant_id == "default"
    assert caller.user is ANONYMOUS


def test_resolve_caller_uses_the_configured_resolver(settings: Any) -> None:
    settings.COMPOSITES = {
        **settings.COMPOSITES,
        "CALLER_RESOLVER": "composites.callers.resolve_django_user",
    }

    assert resolve_caller(request_of(AnonymousUser())).tenant_id == "default"
