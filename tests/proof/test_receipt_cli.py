"""`portal keys init|rotate` and `portal receipt verify`: exit 0 and one line when the receipt
holds, exit 1 with the reason when one byte of it or of the content changed."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from support import incident_body, make_test_app, serve_folder

from portal.cli import cli
from portal.web import context


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "signing-key.pem"


@pytest.fixture
def signing_app(sqlite_url: str, tmp_path: Path, key_file: Path) -> Iterator[Flask]:
    app = make_test_app(sqlite_url, tmp_path, SIGNING_KEY_FILE=str(key_file))
    yield app
    app.extensions[context.ENGINE].dispose()


def _portal(key_file: Path, *args: str) -> Result:
    env = {"PORTAL_SIGNING_KEY_FILE": str(key_file)}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _submit(app: Flask, tmp_path: Path, name: str = "receipt") -> tuple[Path, Path, Any]:
    """Submit an incident; write its receipt and its accepted content to files."""
    client = app.test_client()
    body = client.post("/api/v1/incidents", json=incident_body()).json
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    submitted = client.get(body["status_url"], headers=auth).json["submitted"]
    receipt_file = tmp_path / f"{name}.json"
    receipt_file.write_text(json.dumps(body["receipt"], indent=2), encoding="utf-8")
    content_file = tmp_path / f"{name}-content.json"
    content_file.write_text(json.dumps(submitted, ensure_ascii=False), encoding="utf-8")
    return receipt_file, content_file, body["receipt"]


def test_a_receipt_verifies_with_the_instance_keys_and_its_content(
    signing_app: Flask, tmp_path: Path, key_file: Path
) -> None:
    receipt_file, content_file, receipt = _submit(signing_app, tmp_path)
    result = _portal(
        key_file, "receipt", "verify", str(receipt_file), "--content", str(content_file)
    )
    assert result.exit_code == 0, result.output
    payload = receipt["payload"]
    assert result.output == (
        f"valid: {payload['reference']} received {payload['received_at']} (key {receipt['kid']})\n"
    )


def test_one_changed_byte_of_the_payload_fails(
    signing_app: Flask, tmp_path: Path, key_file: Path
) -> None:
    receipt_file, _, receipt = _submit(signing_app, tmp_path)
    receipt["payload"]["received_at"] = receipt["payload"]["received_at"].replace("2", "3", 1)
    receipt_file.write_text(json.dumps(receipt), encoding="utf-8")
    result = _portal(key_file, "receipt", "verify", str(receipt_file))
    assert result.exit_code == 1
    assert "invalid: the signature does not match" in result.output


def test_one_changed_byte_of_the_content_fails(
    signing_app: Flask, tmp_path: Path, key_file: Path
) -> None:
    receipt_file, content_file, _ = _submit(signing_app, tmp_path)
    content = json.loads(content_file.read_text(encoding="utf-8"))
    content["description"] = content["description"].replace("water", "wafer")
    content_file.write_text(json.dumps(content), encoding="utf-8")
    result = _portal(
        key_file, "receipt", "verify", str(receipt_file), "--content", str(content_file)
    )
    assert result.exit_code == 1
    assert "does not match the receipt's content_sha256" in result.output


def test_after_rotation_old_receipts_verify_and_new_ones_use_the_new_key(
    signing_app: Flask, tmp_path: Path, key_file: Path
) -> None:
    old_file, _, old = _submit(signing_app, tmp_path, "old")
    rotated = _portal(key_file, "keys", "rotate")
    assert rotated.exit_code == 0
    new_file, _, new = _submit(signing_app, tmp_path, "new")
    assert new["kid"] != old["kid"]
    assert rotated.output == f"new current key {new['kid']}\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    keys = signing_app.test_client().get("/.well-known/aiact-portal-keys.json").json["keys"]
    assert [(k["kid"], k["retired"] is None) for k in keys] == [
        (old["kid"], False),
        (new["kid"], True),
    ]
    for receipt_file in (old_file, new_file):
        result = _portal(key_file, "receipt", "verify", str(receipt_file))
        assert result.exit_code == 0, result.output


def test_keys_can_come_from_a_file_or_an_address(
    signing_app: Flask, tmp_path: Path, key_file: Path
) -> None:
    receipt_file, _, _ = _submit(signing_app, tmp_path)
    published = signing_app.test_client().get("/.well-known/aiact-portal-keys.json").data
    (tmp_path / "site").mkdir(exist_ok=True)
    (tmp_path / "site" / "keys.json").write_bytes(published)
    other = tmp_path / "other" / "signing-key.pem"  # a stranger's instance
    assert _portal(other, "keys", "init").exit_code == 0
    as_file = _portal(
        other,
        "receipt",
        "verify",
        str(receipt_file),
        "--keys",
        str(tmp_path / "site" / "keys.json"),
    )
    assert as_file.exit_code == 0, as_file.output
    with serve_folder(tmp_path / "site") as base:
        as_url = _portal(
            other, "receipt", "verify", str(receipt_file), "--keys", f"{base}/keys.json"
        )
    assert as_url.exit_code == 0, as_url.output
    strangers = _portal(other, "receipt", "verify", str(receipt_file))
    assert strangers.exit_code == 1
    assert "invalid: unknown key" in strangers.output


def test_keys_init_creates_a_private_file_once(key_file: Path) -> None:
    first = _portal(key_file, "keys", "init")
    assert first.output.startswith("created key ")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = _portal(key_file, "keys", "init")
    assert again.output.replace("kept", "created") == first.output
