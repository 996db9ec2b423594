"""Signed receipts: what they say, that they verify with `cryptography` alone, and where
the submitter finds them again (the status API, the acknowledgement mail)."""

from __future__ import annotations

import hashlib
import json
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from support import Inbox, incident_body, request_body

from portal.cases.models import OutboxMail
from portal.mail import SmtpBackend, send_pending
from portal.proof.canonical import canonical
from portal.proof.keys import kid_of, unb64url
from portal.web import context

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 15, 30, 12, tzinfo=UTC)


def _snippet() -> str:
    """The verification snippet exactly as the site's page prints it."""
    page = (ROOT / "site_src" / "verify" / "index.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


def _run_snippet(tmp_path: Path, receipt: Any, keys: Any) -> subprocess.CompletedProcess[str]:
    (tmp_path / "verify.py").write_text(_snippet(), encoding="utf-8")
    (tmp_path / "receipt.json").write_text(json.dumps(receipt), encoding="utf-8")
    (tmp_path / "keys.json").write_text(json.dumps(keys), encoding="utf-8")
    # -I: isolated mode, run from a folder with nothing of ours in it.
    command = [sys.executable, "-I", "verify.py", "receipt.json", "keys.json"]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)


def _keys(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/.well-known/aiact-portal-keys.json")
    assert response.status_code == 200
    keys: dict[str, Any] = response.json
    return keys


def test_the_published_keys_have_the_promised_shape(app: Flask) -> None:
    keys = _keys(app)
    [key] = keys["keys"]
    assert set(key) == {"kid", "alg", "public_key", "created", "retired"}
    assert key["alg"] == "Ed25519"
    assert key["retired"] is None
    raw = unb64url(key["public_key"])
    assert len(raw) == 32
    assert key["kid"] == hashlib.sha256(raw).hexdigest()[:16] == kid_of(raw)
    path = app.extensions[context.SIGNING_KEY]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_incident_receipt_says_what_the_issue_lists_and_verifies_alone(
    any_app: Flask, tmp_path: Path
) -> None:
    any_app.config["CLOCK"] = lambda: NOW
    client = any_app.test_client()
    body = client.post("/api/v1/incidents", json=incident_body()).json
    receipt = body["receipt"]
    assert set(receipt) == {"payload", "kid", "signature"}
    case = client.get(
        body["status_url"], headers={"Authorization": f"Bearer {body['access_token']}"}
    ).json
    assert receipt["payload"] == {
        "reference": "INC-2026-000001",
        "kind": "incident",
        "received_at": "2026-11-26T15:30:12+00:00",
        "content_sha256": hashlib.sha256(canonical(case["submitted"])).hexdigest(),
        "aware_at": "2026-11-25T09:00:00+00:00",
        "notification_due": "2026-11-27T09:00:00+00:00",
        "notified_on_time": True,
    }
    assert case["receipt"] == receipt
    keys = _keys(any_app)
    assert receipt["kid"] == keys["keys"][0]["kid"]
    result = _run_snippet(tmp_path, receipt, keys)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "valid: INC-2026-000001 received 2026-11-26T15:30:12+00:00\n"


def test_the_snippet_refuses_a_changed_payload(app: Flask, tmp_path: Path) -> None:
    receipt = app.test_client().post("/api/v1/incidents", json=incident_body()).json["receipt"]
    receipt["payload"]["notified_on_time"] = not receipt["payload"]["notified_on_time"]
    result = _run_snippet(tmp_path, receipt, _keys(app))
    assert result.returncode == 1
    assert "InvalidSignature" in result.stderr


def test_an_information_request_receipt_names_its_response_deadline(app: Flask) -> None:
    app.config["CLOCK"] = lambda: NOW
    body = app.test_client().post("/api/v1/information-requests", json=request_body()).json
    payload = body["receipt"]["payload"]
    assert set(payload) == {"reference", "kind", "received_at", "content_sha256", "response_due"}
    assert payload["kind"] == "information-request"
    assert payload["response_due"] == body["response_due"] == "2026-12-10T15:30:12+00:00"


def test_a_message_gets_its_own_receipt(app: Flask) -> None:
    client = app.test_client()
    body = client.post("/api/v1/incidents", json=incident_body()).json
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    url = f"/api/v1/cases/{body['reference']}"
    added = client.post(f"{url}/messages", json={"body": "It happened again."}, headers=auth)
    payload = added.json["receipt"]["payload"]
    assert payload["kind"] == "message"
    assert payload["reference"] == body["reference"]
    assert (
        payload["content_sha256"]
        == hashlib.sha256(canonical({"body": "It happened again."})).hexdigest()
    )
    [message] = client.get(url, headers=auth).json["messages"]
    assert message["receipt"] == added.json["receipt"]


def test_the_acknowledgement_mail_attaches_the_receipt(app: Flask) -> None:
    body = app.test_client().post("/api/v1/incidents", json=incident_body()).json
    with app.app_context(), context.new_session() as session:
        mails = session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        attached = {m.recipient: (m.attachment_name, m.attachment) for m in mails}
    name, content = attached["submitter"]
    assert name == "INC-2026-000001.receipt.json"
    assert content is not None and json.loads(content) == body["receipt"]
    assert attached["legal-team"] == (None, None)


def test_the_attached_receipt_reaches_the_submitter_by_smtp(
    app: Flask, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    body = app.test_client().post("/api/v1/incidents", json=incident_body()).json
    report = send_pending(
        app.extensions[context.SESSIONS],
        SmtpBackend("127.0.0.1", port),
        mail_from="portal@example.org",
        legal_team="legal@example.org",
        now=datetime.now(UTC),
    )
    assert report.sent == 2
    [mail] = [m for m in inbox.messages if m["To"] == "ada@example.com"]
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "INC-2026-000001.receipt.json"
    assert json.loads(attachment.get_content()) == body["receipt"]
