"""The session cookie is Secure except over plain HTTP to this machine's loopback address."""

from __future__ import annotations

import pytest
from flask import Flask, request, session

from portal.web.cookies import SessionInterface, is_loopback


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("localhost:8000", True),
        ("127.0.0.1", True),
        ("127.0.0.1:8000", True),
        ("127.1.2.3:80", True),
        ("[::1]:8000", True),
        ("::1", True),
        ("portal.example", False),
        ("portal.example:443", False),
        ("10.0.0.1:8000", False),
        ("[2001:db8::1]:8000", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def _app(setting: object) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", COOKIE_SECURE=setting)
    app.session_interface = SessionInterface()

    @app.get("/")
    def index() -> str:
        session["seen"] = True
        return "ok"

    return app


@pytest.mark.parametrize(
    ("setting", "base_url", "secure"),
    [
        ("auto", "http://127.0.0.1:8000", False),
        ("auto", "http://localhost", False),
        ("auto", "https://127.0.0.1", True),
        ("auto", "http://portal.example", True),
        ("auto", "https://portal.example", True),
        (True, "http://127.0.0.1", True),
        (False, "https://portal.example", False),
    ],
)
def test_secure_flag(setting: object, base_url: str, secure: bool) -> None:
    response = _app(setting).test_client().get("/", base_url=base_url)
    cookie = response.headers["Set-Cookie"]
    assert ("Secure" in cookie) is secure, cookie


def test_the_api_opens_no_session(app: Flask) -> None:
    """The JSON API authenticates with tokens: it never opens the session cookie."""
    interface = app.session_interface
    for path, null in (("/api/v1/incidents", True), ("/staff/login", False), ("/status", False)):
        with app.test_request_context(path, headers={"Cookie": "session=anything"}):
            opened = interface.open_session(app, request)
            assert opened is not None and interface.is_null_session(opened) is null, path
    response = app.test_client().get("/api/v1/health")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
