"""A demo upstream API, served over HTTPS on loopback, for the demo composites.

It stands in for the third-party services a community platform talks to:

- ``POST /oauth/token`` issues bearer tokens for the client-credentials grant
  (client authentication by HTTP Basic or by form fields);
- ``GET /v1/users?email=...`` returns a user profile to a bearer of such a
  token;
- ``GET /crm/contacts?email=...`` and
  ``GET /crm/contacts/<id>/tickets?status=...`` answer to an ``X-Api-Key``;
- ``GET /analytics/v1/summary?community=...`` answers to an HS256 JWT that
  carries ``exp`` and ``iss``.

Every record is fake and derived deterministically from the request, so any
e-mail address or community id works. The server presents a certificate from
its own certificate authority; callers trust it through the CA bundle written
by :func:`make_certificates`.

Run it with::

    python -m widgetplatform.demo_upstream --secrets-file PATH --tenant demo
"""

from widgetplatform.demo_upstream.api import (
    DemoUpstream,
    create_app,
    crm_contact,
    crm_tickets,
    user_profile,
)
from widgetplatform.demo_upstream.credentials import (
    SECRET_NAMES,
    ConfigurationError,
    DemoCredentials,
    load_credentials,
)
from widgetplatform.demo_upstream.tls import Certificates, TLSServer, make_certificates

__all__ = [
    "SECRET_NAMES",
    "Certificates",
    "ConfigurationError",
    "DemoCredentials",
    "DemoUpstream",
    "TLSServer",
    "create_app",
    "crm_contact",
    "crm_tickets",
    "load_credentials",
    "make_certificates",
    "user_profile",
]
