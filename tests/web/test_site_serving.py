"""The built site served at `/` by the app: files, folder URLs, content types, the 404 page."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import make_test_app
from werkzeug.test import TestResponse

from portal.web import context


@pytest.fixture
def site_client(sqlite_url: str, tmp_path: Path) -> Iterator[FlaskClient]:
    site = tmp_path / "site"
    (site / "products" / "lumen-large-3").mkdir(parents=True)
    (site / "assets").mkdir()
    (site / "index.html").write_text("<h1>Home</h1>")
    (site / "404.html").write_text("<h1>Not here</h1>")
    (site / "products" / "lumen-large-3" / "index.html").write_text("<h1>Lumen Large 3</h1>")
    (site / "assets" / "app.js").write_text("console.log(1)")
    (site / "assets" / "style.css").write_text("body{}")
    (site / "catalog.json").write_text("{}")
    (site / "feed.xml").write_text("<feed/>")
    (site / "font.woff2").write_bytes(b"wOF2")
    app: Flask = make_test_app(sqlite_url, tmp_path, SITE_DIR=str(site))
    yield app.test_client()
    app.extensions[context.ENGINE].dispose()


def _get(client: FlaskClient, path: str) -> TestResponse:
    """GET, read and close (a served file stays open until its response is closed)."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def test_home_page(site_client: FlaskClient) -> None:
    response = _get(site_client, "/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"Home" in response.data


def test_folder_urls_serve_their_index(site_client: FlaskClient) -> None:
    response = _get(site_client, "/products/lumen-large-3/")
    assert response.status_code == 200
    assert b"Lumen Large 3" in response.data
    redirect = _get(site_client, "/products/lumen-large-3")
    assert redirect.status_code == 308
    assert redirect.headers["Location"].endswith("/products/lumen-large-3/")


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [
        ("/assets/app.js", "text/javascript"),
        ("/assets/style.css", "text/css"),
        ("/catalog.json", "application/json"),
        ("/feed.xml", "application/xml"),
        ("/font.woff2", "font/woff2"),
    ],
)
def test_content_types(site_client: FlaskClient, path: str, mimetype: str) -> None:
    response = _get(site_client, path)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_missing_page_gets_the_site_404(site_client: FlaskClient) -> None:
    response = _get(site_client, "/no/such/page/")
    assert response.status_code == 404
    assert b"Not here" in response.data
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_paths_cannot_leave_the_site(site_client: FlaskClient) -> None:
    for path in ("/../conftest.py", "/%2e%2e/portal.db", "/assets/../../portal.db"):
        assert _get(site_client, path).status_code == 404


def test_api_paths_never_fall_back_to_the_site(site_client: FlaskClient) -> None:
    response = _get(site_client, "/api/v1/unknown")
    assert response.status_code == 404
    assert response.is_json


def test_importing_the_catalog_imports_no_flask() -> None:
    """`portal.create_app` is lazy: the catalog and the MkDocs plugin never pull in Flask."""
    code = "import sys, portal, portal.catalog; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
