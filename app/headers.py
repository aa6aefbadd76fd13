"""What every answer says about itself, and whom to believe about the request.

* Headers (flask-talisman): a Content-Security-Policy with no inline script and nothing
  from another host, which no other page may frame (``frame-ancestors 'none'``, and
  ``X-Frame-Options: DENY`` for older browsers), ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: same-origin``. HTTPS itself is the reverse proxy's business.
* ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only from
  CRONWELL_TRUSTED_PROXIES (werkzeug's ProxyFix applies to those requests alone; under
  gunicorn its ``forwarded_allow_ips`` is set from the same list, gunicorn.conf.py).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from flask import Flask, has_request_context, request
from flask_talisman import Talisman
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Settings
from app.runtime import current

SELF = "'self'"
POLICY = {
    "default-src": SELF,
    "script-src": SELF,
    # Swagger UI (/docs) sets style attributes as it draws; no script can be inline.
    "style-src": [SELF, "'unsafe-inline'"],
    "img-src": [SELF, "data:"],
    "connect-src": SELF,
    "font-src": SELF,
    "object-src": "'none'",
    "base-uri": SELF,
    "form-action": SELF,
    "frame-ancestors": "'none'",
}


def init_app(app: Flask, settings: Settings) -> None:
    Talisman(
        app,
        force_https=False,
        strict_transport_security=False,
        session_cookie_secure=False,  # Secure when the page came over https (app/ui/auth.py)
        content_security_policy=POLICY,
        frame_options="DENY",
        referrer_policy="same-origin",
    )
    if settings.trusted_proxies:
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies)


class TrustedProxies:
    """ProxyFix for requests whose peer is a trusted proxy; every other request as it came."""

    def __init__(self, wsgi_app: Any, trusted: Iterable[str]) -> None:
        self.plain = wsgi_app
        self.fixed = ProxyFix(wsgi_app, x_for=1, x_proto=1)
        self.networks = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def __call__(self, environ: dict, start_response: Any) -> Any:
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:
            return self.plain(environ, start_response)
        if any(peer in network for network in self.networks):
            return self.fixed(environ, start_response)
        return self.plain(environ, start_response)


def public_base_url() -> str:
    """The service's address as people reach it: CRONWELL_PUBLIC_URL, else the address
    this request came to (as a trusted proxy tells it), else "" (no request)."""
    configured = current().settings.public_url
    if configured:
        return configured
    return request.host_url if has_request_context() else ""
