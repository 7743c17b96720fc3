"""URLs of the composites app; the host mounts them at ``widget-service/``."""

from django.urls import path

from composites.views import ExecuteCompositeView

app_name = "composites"

urlpatterns = [
    path(
        "connectors/composite/<str:identifier>/execute",
        ExecuteCompositeView.as_view(),
        name="execute",
    ),
]
