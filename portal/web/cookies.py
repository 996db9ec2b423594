"""The session cookie is marked Secure wherever a browser can send it back; the API has none.

A Secure cookie is never sent over plain HTTP, so a portal tried out on
`http://127.0.0.1:8000` (`make run`) could not keep a session or a CSRF token. `COOKIE_SECURE`
is `"auto"` by default: Secure for every request that came over HTTPS or to any host that is
not this machine's loopback address; `true` or `false` force it either way.
"""

from __future__ import annotations

import ipaddress

from flask import Flask, Request, has_request_context, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

LOCAL_NAMES = frozenset({"localhost"})
API_PREFIX = "/api/"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the Secure flag decided per request, and none at
    all for the JSON API, which authenticates with tokens and never reads a cookie (opening
    a session costs a signing serializer per request)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        setting = app.config.get("COOKIE_SECURE", "auto")
        if setting != "auto":
            return bool(setting)
        if not has_request_context():
            return True
        return request.is_secure or not is_loopback(request.host)


def is_loopback(host: str) -> bool:
    """True for `localhost`, `127.0.0.1`, `[::1]` and the like, with or without a port."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]").rsplit("]:", 1)[0].strip("[]")
    if name in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
