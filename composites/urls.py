"""URLs of the composites app; the host mounts them at ``widget-service/``."""

from django.urls import path, re_path

from composites.views import ExecuteCompositeView, unknown_path

app_name = "composites"

urlpatterns = [
    path(
        "connectors/composite/<str:identifier>/execute",
        ExecuteCompositeView.as_view(),
        name="execute",
    ),
    re_path(r"^(?P<path>.*)$", unknown_path, name="unknown"),
]
