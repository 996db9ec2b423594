"""The built documentation site (`SITE_DIR`, default `site`), served at `/` on the app's port.

A folder URL serves its `index.html` (a folder without the final slash is redirected to it,
as the site's relative links need), a missing page gets the site's own `404.html`, and types
are set from a fixed table so a machine's MIME configuration cannot change them. Any path
under `/api/` that no API route took is a JSON 404, never a site page.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path

from flask import Flask, abort, current_app, redirect, request, send_file
from flask.typing import ResponseReturnValue
from werkzeug.security import safe_join

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".xml": "application/xml",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".map": "application/json",
    ".gz": "application/gzip",
    ".webmanifest": "application/manifest+json",
    ".atom": "application/atom+xml",
    ".pdf": "application/pdf",
    ".yaml": "text/plain",
}


def register(app: Flask) -> None:
    """Add the site's catch-all route; every more specific route wins over it."""
    app.add_url_rule("/", "site.page", page, defaults={"path": ""}, methods=["GET", "HEAD"])
    app.add_url_rule("/<path:path>", "site.page", page, methods=["GET", "HEAD"])


def page(path: str) -> ResponseReturnValue:
    """The site file at `path`, the `index.html` of a folder, or the site's 404 page."""
    if path == "api" or path.startswith("api/"):
        abort(404)
    root = Path(current_app.config["SITE_DIR"]).resolve()
    target = safe_join(str(root), path) if path else str(root)
    if target is not None:
        found = Path(target)
        if found.is_dir():
            if path and not path.endswith("/"):
                query = request.query_string.decode("latin-1")
                return redirect(f"/{path}/" + (f"?{query}" if query else ""), code=308)
            found = found / "index.html"
        if found.is_file():
            return _send(found, 200)
    missing = root / "404.html"
    if missing.is_file():
        return _send(missing, 404)
    abort(404)


def _send(path: Path, status: int) -> ResponseReturnValue:
    content_type = CONTENT_TYPES.get(path.suffix.lower())
    if content_type is None:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = send_file(path, mimetype=content_type, conditional=status == 200, max_age=300)
    response.status_code = status
    if status != 200:
        response.headers.pop("ETag", None)
    return response
