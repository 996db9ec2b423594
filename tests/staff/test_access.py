"""Who may do what: each role, no session, no token, a disabled account, another case's token."""

from __future__ import annotations

import re

import pytest

from portal.cases import accounts
from portal.web import context

from .conftest import PASSWORD  # noqa: TID252


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _login(client, email: str, password: str = PASSWORD):
    page = client.get("/staff/login")
    return client.post(
        "/staff/login",
        data={"email": email, "password": password, "csrf_token": _csrf(page.text)},
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/staff/cases"),
        ("get", "/api/v1/staff/cases/REQ-2026-000001"),
        ("post", "/api/v1/staff/cases/REQ-2026-000001/actions"),
        ("get", "/api/v1/staff/calendar.ics"),
        ("get", "/api/v1/staff/exports/cases.csv"),
        ("get", "/api/v1/staff/exports/cases.json"),
        ("get", "/api/v1/staff/cases/INC-2026-000001/report.md"),
    ],
)
def test_staff_api_needs_a_staff_token(desk, method, path):
    receipt = desk.submit_request()
    tries = [
        {},
        {"Authorization": "Bearer staff_not-a-token"},
        {"Authorization": "Basic aGFuZGxlcjpwYXNz"},
        # A submitter's access token opens their own case on the public API, nothing here.
        {"Authorization": f"Bearer {receipt['access_token']}"},
    ]
    for headers in tries:
        response = getattr(desk.client, method)(
            path, headers=headers, json={"action": "acknowledge"}
        )
        assert response.status_code == 401, (headers, response.status_code)
        assert response.json["errors"][0]["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_session_cookie_does_not_open_the_staff_api(desk):
    """The API takes tokens only, so a signed-in browser cannot be made to act cross-site."""
    assert _login(desk.client, "handler@example.com").status_code == 302
    assert desk.client.get("/staff/").status_code == 200
    assert desk.client.get("/api/v1/staff/cases").status_code == 401


def test_roles_on_the_staff_api(desk):
    ref = desk.submit_request()["reference"]
    for role in accounts.ROLES:
        assert desk.client.get("/api/v1/staff/cases", headers=desk.headers(role)).status_code == 200
    viewer = desk.act(ref, role="viewer", action="acknowledge")
    assert viewer.status_code == 403
    assert viewer.json["errors"][0]["message"].startswith("Your role (viewer)")
    assert desk.staff_case(ref)["status"] == "received"
    assert desk.act(ref, role="handler", action="acknowledge").status_code == 200
    assert desk.act(ref, role="admin", action="note", note="Seen.").status_code == 200


def test_a_disabled_account_loses_its_token_and_session_at_once(desk):
    client = desk.app.test_client()
    assert _login(client, "handler@example.com").status_code == 302
    assert client.get("/staff/").status_code == 200
    with desk.app.app_context(), context.new_session() as session:
        accounts.disable_user(session, "handler@example.com", actor="test", now=desk.clock.now)
    assert (
        desk.client.get("/api/v1/staff/cases", headers=desk.headers("handler")).status_code == 401
    )
    assert client.get("/staff/").status_code == 302
    assert _login(desk.app.test_client(), "handler@example.com").status_code == 401


def test_pages_redirect_to_sign_in_without_a_session(desk):
    ref = desk.submit_request()["reference"]
    for path in ("/staff/", f"/staff/cases/{ref}", "/staff/accounts", "/staff/exports/cases.csv"):
        response = desk.client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/staff/login?next=")
    posted = desk.client.post(f"/staff/cases/{ref}/actions", data={"action": "acknowledge"})
    assert posted.status_code == 302
    assert desk.staff_case(ref)["status"] == "received"


def test_roles_on_the_pages(desk):
    ref = desk.submit_request()["reference"]
    viewer = desk.app.test_client()
    _login(viewer, "viewer@example.com")
    page = viewer.get(f"/staff/cases/{ref}")
    assert page.status_code == 200
    assert "Request clarification" not in page.text  # no action forms for a viewer
    assert (
        viewer.post(f"/staff/cases/{ref}/actions", data={"action": "acknowledge"}).status_code
        == 403
    )
    assert viewer.get("/staff/accounts").status_code == 403
    handler = desk.app.test_client()
    _login(handler, "handler@example.com")
    assert handler.get("/staff/accounts").status_code == 403
    done = handler.post(f"/staff/cases/{ref}/actions", data={"action": "acknowledge"})
    assert done.status_code == 302
    assert desk.staff_case(ref)["status"] == "in-progress"
    admin = desk.app.test_client()
    _login(admin, "admin@example.com")
    assert admin.get("/staff/accounts").status_code == 200
    added = admin.post(
        "/staff/accounts",
        data={
            "operation": "add",
            "email": "new@example.com",
            "role": "viewer",
            "password": PASSWORD,
        },
    )
    assert added.status_code == 302
    assert _login(desk.app.test_client(), "new@example.com").status_code == 302


def test_sign_in_refuses_wrong_passwords_and_foreign_redirects(desk):
    assert _login(desk.client, "handler@example.com", "wrong password!!").status_code == 401
    assert _login(desk.client, "nobody@example.com").status_code == 401
    page = desk.client.get("/staff/login?next=//evil.example/staff")
    response = desk.client.post(
        "/staff/login?next=//evil.example/staff",
        data={"email": "handler@example.com", "password": PASSWORD, "csrf_token": _csrf(page.text)},
    )
    assert response.headers["Location"] == "/staff/"


def test_session_cookie_flags(desk):
    """Secure, HttpOnly, SameSite=Lax for a real host; plain HTTP to loopback cannot be Secure."""
    client = desk.client.application.test_client()
    page = client.get("/staff/login", base_url="https://portal.example")
    response = client.post(
        "/staff/login",
        base_url="https://portal.example",
        data={"email": "viewer@example.com", "password": PASSWORD, "csrf_token": _csrf(page.text)},
    )
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    local = _login(desk.client, "viewer@example.com").headers["Set-Cookie"]
    assert "Secure" not in local and "HttpOnly" in local and "SameSite=Lax" in local


def test_sign_in_is_rate_limited(sqlite_url, tmp_path):
    from support import make_test_app

    app = make_test_app(sqlite_url, tmp_path, STAFF_LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [
        client.post("/staff/login", data={"email": "a@example.com", "password": "x"}).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    app.extensions[context.ENGINE].dispose()


def test_forms_need_the_csrf_token(sqlite_url, tmp_path):
    from support import make_test_app

    app = make_test_app(sqlite_url, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    assert (
        client.post("/staff/login", data={"email": "a@example.com", "password": "x"}).status_code
        == 400
    )
    app.extensions[context.ENGINE].dispose()
