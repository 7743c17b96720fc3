"""URLs of the host project."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from widgetplatform import views

urlpatterns = [
    path("", views.home, name="home"),
    path("widget/", views.widget, name="widget"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("widget-service/", include("composites.urls")),
]
