from django.apps import AppConfig


class WidgetPlatformConfig(AppConfig):
    name = "widgetplatform"
    verbose_name = "Widget platform (host project)"
    default_auto_field = "django.db.models.BigAutoField"
