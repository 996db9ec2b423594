"""create_app brings an embedded SQLite database to the latest migration by itself."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect

from portal import create_app

ROOT = Path(__file__).parent.parent.parent

INCIDENT = {
    "product": "lumen-large-3",
    "category": "health",
    "aware_at": "2026-01-05T09:00:00+01:00",
    "description": "The assistant gave a wrong dosage.",
    "reporter": {"organisation": "Clinic", "name": "Ann Lee", "email": "ann@clinic.example"},
}


def _app(url: str, tmp_path: Path, **config: object):
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "CATALOG_DIR": str(ROOT / "catalog"),
            "SITE_DIR": str(tmp_path / "site"),
            "MAIL_SENDER_THREAD": False,
            "SECRET_KEY": "test",
            "SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem"),
            "DATA_KEY_FILE": str(tmp_path / "data-key"),
            **config,
        }
    )


def test_fresh_sqlite_file_takes_submissions_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    app = _app(url, tmp_path)
    response = app.test_client().post("/api/v1/incidents", json=INCIDENT)
    assert response.status_code == 201, response.json
    assert response.json["reference"].startswith("INC-")


def test_migration_on_start_can_be_turned_off(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'untouched.db'}"
    _app(url, tmp_path, MIGRATE_SQLITE=False)
    assert "cases" not in inspect(create_engine(url)).get_table_names()
