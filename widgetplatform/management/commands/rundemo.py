"""``manage.py rundemo``: set up the demo and serve it with its upstream."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from widgetplatform.demo_upstream import (
    TLSServer,
    create_app,
    load_credentials,
    make_certificates,
)
from widgetplatform.models import ProfileFieldValue

DEMO_TENANT = "demo"
DEMO_USER = {
    "username": "demo",
    "email": "demo@example.com",
    "first_name": "Dana",
    "last_name": "Demo",
}
MEMBERSHIP_LEVEL_FIELD = 1


class Command(BaseCommand):
    help = (
        "Prepare the demo (database, demo user, secrets file, certificates), "
        "start the demo upstream API on loopback and serve the platform."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "addrport",
            nargs="?",
            default="127.0.0.1:8000",
            help="Address and port of the platform (default: 127.0.0.1:8000).",
        )
        parser.add_argument(
            "--upstream-port",
            type=int,
            default=8443,
            help="Port of the demo upstream API on 127.0.0.1 (default: 8443).",
        )
        parser.add_argument(
            "--cert-dir",
            type=Path,
            default=None,
            help=(
                "Where the demo upstream's certificate authority and server "
                "certificate live; created when missing "
                "(default: var/demo-certs)."
            ),
        )
        parser.add_argument(
            "--setup-only",
            action="store_true",
            help="Prepare the demo and exit without serving.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        database = Path(settings.DATABASES["default"]["NAME"])
        database.parent.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        ensure_demo_user()
        secrets_file = Path(settings.WIDGETPLATFORM_SECRETS_FILE)
        ensure_secrets_file(secrets_file, options["upstream_port"])
        cert_dir = options["cert_dir"] or Path(settings.BASE_DIR) / "var" / "demo-certs"
        certificates = make_certificates(cert_dir)
        if options["setup_only"]:
            self.stdout.write("Demo prepared.")
            return

        credentials = load_credentials(secrets_file, DEMO_TENANT)
        upstream = TLSServer(
            create_app(credentials), certificates, port=options["upstream_port"]
        )
        with upstream:
            self.stdout.write(f"Demo upstream API on {upstream.base_url}")
            call_command("runserver", options["addrport"], use_reloader=False)


def ensure_demo_user() -> None:
    """Create the demo user (password ``demo``) and its profile field."""
    users = get_user_model()
    user, created = users.objects.get_or_create(
        username=DEMO_USER["username"], defaults=DEMO_USER
    )
    if created:
        user.set_password("demo")
        user.save()
    ProfileFieldValue.objects.get_or_create(
        user=user, field_id=MEMBERSHIP_LEVEL_FIELD, defaults={"value": "gold"}
    )


def ensure_secrets_file(path: Path, upstream_port: int) -> None:
    """Write the demo tenant's secrets unless present, and point its host
    variables at the demo upstream's port of this run."""
    content = json.loads(path.read_text()) if path.exists() else {}
    tenant = content.setdefault(DEMO_TENANT, {})
    tenant.setdefault(
        "secrets",
        {
            "demo_client_id": "widget-platform-demo",
            "demo_client_secret": secrets.token_urlsafe(24),
            "crm_api_key": secrets.token_urlsafe(24),
            "analytics_jwt_secret": secrets.token_urlsafe(32),
        },
    )
    host = f"127.0.0.1:{upstream_port}"
    tenant.setdefault("variables", {}).update(
        {
            "identity_api_host": host,
            "crm_api_host": host,
            "analytics_api_host": host,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2))
    path.chmod(0o600)
