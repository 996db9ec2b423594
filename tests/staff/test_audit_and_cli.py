"""The audit chain (an edited event is detected) and the staff commands, through `portal`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from portal.cli import cli
from portal.web import context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _instance_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands find their keys as the app does: here, in the test's folder."""
    monkeypatch.setenv("PORTAL_DATA_KEY_FILE", str(tmp_path / "keys" / "data-key"))
    monkeypatch.setenv("PORTAL_SIGNING_KEY_FILE", str(tmp_path / "keys" / "signing-key.pem"))


def _env(database_url: str) -> dict[str, str]:
    return {
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_CATALOG_DIR": str(ROOT / "catalog"),
        "PORTAL_MAIL_SENDER_THREAD": "false",
    }


def _portal(database_url: str, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), env=_env(database_url), input=input)


def test_every_action_is_chained_and_an_edited_event_is_detected(any_desk, database_url):
    desk = any_desk
    receipt = desk.submit_request()
    ref = receipt["reference"]
    desk.act(ref, action="acknowledge")
    desk.act(ref, action="answer", body="Here it is.")
    trail = desk.staff_case(ref)["audit"]
    assert [e["action"] for e in trail] == ["case-received", "acknowledge", "answer"]
    assert trail[1]["actor"] == "handler@example.com"
    assert trail[1]["changes"] == {"status": ["received", "in-progress"]}

    ok = _portal(database_url, "audit", "verify")
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output

    seq = trail[1]["seq"]
    engine = desk.app.extensions[context.ENGINE]
    with engine.begin() as connection:
        # Someone with direct database access drops the guard and rewrites history.
        if engine.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER audit_events_no_update"))
        else:
            connection.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
        connection.execute(
            text("UPDATE audit_events SET actor = 'someone-else@example.com' WHERE seq = :seq"),
            {"seq": seq},
        )
    broken = _portal(database_url, "audit", "verify")
    assert broken.exit_code == 1
    assert f"Audit trail broken at event {seq}:" in broken.output


def test_the_log_refuses_edits_while_its_guard_stands(desk):
    import pytest
    from sqlalchemy.exc import DatabaseError

    engine = desk.app.extensions[context.ENGINE]
    with pytest.raises(DatabaseError), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events"))


def test_staff_commands(sqlite_url):
    added = _portal(
        sqlite_url,
        "staff",
        "add",
        "Ann@Example.com",
        "--role",
        "handler",
        "--password-stdin",
        input="a long enough password\n",
    )
    assert added.exit_code == 0, added.output
    assert "ann@example.com (handler)" in added.output
    again = _portal(
        sqlite_url,
        "staff",
        "add",
        "ann@example.com",
        "--role",
        "viewer",
        "--password-stdin",
        input="a long enough password\n",
    )
    assert again.exit_code == 1
    assert "already exists" in again.output
    weak = _portal(
        sqlite_url,
        "staff",
        "add",
        "bob@example.com",
        "--role",
        "viewer",
        "--password-stdin",
        input="short\n",
    )
    assert weak.exit_code == 1
    bad_role = _portal(
        sqlite_url,
        "staff",
        "add",
        "bob@example.com",
        "--role",
        "boss",
        "--password-stdin",
        input="a long enough password\n",
    )
    assert bad_role.exit_code == 2
    prompted = _portal(
        sqlite_url,
        "staff",
        "add",
        "cy@example.com",
        "--role",
        "admin",
        input="a long enough password\na long enough password\n",
    )
    assert prompted.exit_code == 0, prompted.output

    issued = _portal(sqlite_url, "staff", "token", "ann@example.com")
    assert issued.exit_code == 0
    token = issued.output.strip()
    assert token.startswith("staff_") and len(token) > 40
    assert _portal(sqlite_url, "staff", "token", "nobody@example.com").exit_code == 1

    from support import make_test_app

    app = make_test_app(sqlite_url, Path(sqlite_url.removeprefix("sqlite:///")).parent)
    client = app.test_client()
    assert (
        client.get("/api/v1/staff/cases", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    disabled = _portal(sqlite_url, "staff", "disable", "ann@example.com")
    assert disabled.exit_code == 0
    assert (
        client.get("/api/v1/staff/cases", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    assert _portal(sqlite_url, "staff", "disable", "ann@example.com").exit_code == 1
    listed = _portal(sqlite_url, "staff", "list")
    assert "ann@example.com\thandler\tdisabled" in listed.output
    app.extensions[context.ENGINE].dispose()

    verify = _portal(sqlite_url, "audit", "verify")
    assert verify.exit_code == 0  # account changes are chained too
