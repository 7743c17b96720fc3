"""The host's caller resolver: the Django user and the host's tenant."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.test import RequestFactory

from widgetplatform.callers import resolve_caller, tenant_of
from widgetplatform.models import ProfileFieldValue


@pytest.mark.parametrize(
    ("host", "tenant"),
    [
        ("acme.example.com", "acme"),
        ("ACME.example.com:8000", "acme"),
        ("other.example.com", "fallback"),
    ],
)
def test_tenant_of_maps_host_name_or_falls_back(
    settings: Any, host: str, tenant: str
) -> None:
    settings.ALLOWED_HOSTS = ["*"]
    settings.WIDGETPLATFORM_TENANTS = {"acme.example.com": "acme"}
    settings.WIDGETPLATFORM_DEFAULT_TENANT = "fallback"

    request = RequestFactory().post("/", headers={"host": host})

    assert tenant_of(request) == tenant


@pytest.mark.django_db
def test_resolve_caller_reads_profile_fields_of_signed_in_user() -> None:
    user = User.objects.create_user("lin", "lin@example.com", "pw")
    ProfileFieldValue.objects.create(user=user, field_id=1, value="gold")
    request = RequestFactory().post("/")
    request.user = user

    caller = resolve_caller(request)

    assert caller.user.email == "lin@example.com"
    assert caller.user.profile_fields.by_id(1) == "gold"
    assert caller.user.profile_fields.by_id(2) is None
    assert caller.tenant_id == "demo"


def test_resolve_caller_of_anonymous_visitor_has_no_user() -> None:
    request = RequestFactory().post("/")
    request.user = AnonymousUser()

    caller = resolve_caller(request)

    assert caller.user.is_authenticated is False
    assert caller.user.profile_fields.by_id(1) is None
