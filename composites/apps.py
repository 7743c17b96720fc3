"""Django application configuration for composites."""

from django.apps import AppConfig


class CompositesConfig(AppConfig):
    name = "composites"
    verbose_name = "Composite connectors"

    def ready(self) -> None:
        # Importing the module registers the system checks.
        from composites import checks  # noqa: F401
