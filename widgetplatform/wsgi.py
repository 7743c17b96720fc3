"""WSGI entry point.  Runs the composites system checks before serving, so a
process with an invalid registry fails at start under any WSGI server."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "widgetplatform.settings")

application = get_wsgi_application()


def _fail_on_invalid_registry() -> None:
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    errors = checks.run_checks(tags=["composites"])
    if errors:
        lines = "\n".join(f"{error.id}: {error.msg}" for error in errors)
        raise ImproperlyConfigured(f"Invalid composites registry:\n{lines}")


_fail_on_invalid_registry()
