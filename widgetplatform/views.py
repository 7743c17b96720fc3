"""Pages of the host project's demo."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from composites import registry
from composites.exceptions import RegistryInvalid


def home(request: HttpRequest) -> HttpResponse:
    """Show the composites in force and how to call them."""
    try:
        composites = registry.current().composites
    except RegistryInvalid:
        composites = ()
    base = request.build_absolute_uri("/widget-service/connectors/composite/")
    return render(
        request,
        "widgetplatform/home.html",
        {"composites": composites, "execute_base": base},
    )


def widget(request: HttpRequest) -> HttpResponse:
    """Show a demo widget that calls composites through the widget SDK."""
    try:
        composites = registry.current().composites
    except RegistryInvalid:
        composites = ()
    return render(request, "widgetplatform/widget.html", {"composites": composites})
