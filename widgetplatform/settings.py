"""Settings of the host project, read from the environment where a
deployment would want to set them.  The defaults give the local demo."""

from __future__ import annotations

import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes"}


DEBUG = _flag("DJANGO_DEBUG", "1")
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "insecure-demo-key-set-DJANGO_SECRET_KEY-in-production"
)
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "composites",
    "widgetplatform.apps.WidgetPlatformConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "composites.middleware.TimingHeadersMiddleware",
]

ROOT_URLCONF = "widgetplatform.urls"
WSGI_APPLICATION = "widgetplatform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get(
            "WIDGETPLATFORM_DATABASE", BASE_DIR / "var" / "db.sqlite3"
        ),
    }
}

# Django's own Redis backend (redis-py underneath): processes and machines
# share cached tokens through it.  Short socket timeouts make an unreachable
# Redis fail a request in seconds instead of holding a worker.
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": "widgetplatform",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

COMPOSITES = {
    "REGISTRY_PATH": os.environ.get(
        "COMPOSITES_REGISTRY_PATH", BASE_DIR / "registry" / "connectors_registry.json"
    ),
    "CALLER_RESOLVER": "widgetplatform.callers.resolve_caller",
    "SECRETS_BACKEND": "widgetplatform.secrets.FileSecretsBackend",
    "CA_BUNDLE": os.environ.get("COMPOSITES_CA_BUNDLE") or None,
    "ALLOW_HTTP": _flag("COMPOSITES_ALLOW_HTTP"),
    "ALLOW_PRIVATE_NETWORKS": _flag("COMPOSITES_ALLOW_PRIVATE_NETWORKS"),
}

WIDGETPLATFORM_SECRETS_FILE = os.environ.get(
    "WIDGETPLATFORM_SECRETS_FILE", str(BASE_DIR / "var" / "secrets.json")
)
WIDGETPLATFORM_TENANTS: dict[str, str] = json.loads(
    os.environ.get("WIDGETPLATFORM_TENANTS") or "{}"
)
WIDGETPLATFORM_DEFAULT_TENANT = os.environ.get("WIDGETPLATFORM_DEFAULT_TENANT", "demo")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "composites": {"handlers": ["console"], "level": "INFO", "propagate": True},
    },
}
