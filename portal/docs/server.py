"""The preview's web server: the built site, a banner of problems, and a script that reloads.

The standard library's threaded HTTP server is enough for one person's browser. Pages leave
the build exactly as `portal build` writes them; the server adds, on the way out of each HTML
page, a banner listing the catalog's problems and drafts, a stylesheet for it and one small
script (`preview.js`, a file, so the site's CSP without inline script holds). The script asks
`/__preview__/status` twice a second and reloads the page when its version has moved on.
"""

from __future__ import annotations

import html
import json
import logging
import mimetypes
import posixpath
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from portal.docs.preview import Preview, Status

log = logging.getLogger(__name__)

PREFIX = "/__preview__/"
STATIC = Path(__file__).parent / "preview_static"
BANNER_ID = "portal-preview-banner"


def banner(status: Status) -> str:
    """The banner's HTML: nothing when all is well."""
    parts = []
    if status.problems:
        count = len(status.problems)
        parts.append(
            _section(
                f"The catalog has {count} problem{'s' if count != 1 else ''}; "
                "this preview shows the last good pages.",
                status.problems,
            )
        )
    if status.drafts:
        parts.append(
            _section(
                "Drafts: shown here, but portal build will refuse them until each has its "
                "change entry.",
                status.drafts,
            )
        )
    if status.warnings:
        parts.append(_section("portal build (strict) will refuse these warnings:", status.warnings))
    if not parts:
        return ""
    return f'<div id="{BANNER_ID}" role="alert">{"".join(parts)}</div>'


def _section(title: str, lines: tuple[str, ...]) -> str:
    items = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in lines)
    return f"<p>{html.escape(title)}</p><ul>{items}</ul>"


def decorate(page: bytes, status: Status) -> bytes:
    """An HTML page with the preview's stylesheet, script, version and banner added."""
    text = page.decode("utf-8")
    head = (
        f'<meta name="portal-preview-version" content="{status.version}">'
        f'<link rel="stylesheet" href="{PREFIX}preview.css">'
        f'<script src="{PREFIX}preview.js" defer></script>'
    )
    text = text.replace("</head>", head + "</head>", 1)
    body = text.find("<body")
    if body != -1:
        end = text.find(">", body) + 1
        text = text[:end] + banner(status) + text[end:]
    return text.encode("utf-8")


class Server(ThreadingHTTPServer):
    """Serves `preview.root` with `headers` on every answer."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], preview: Preview, headers: Mapping[str, str]
    ) -> None:
        self.preview = preview
        self.headers = dict(headers)
        super().__init__(address, _Handler)

    def start(self) -> threading.Thread:
        """Serve from a thread; `shutdown()` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="preview-server", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        path = unquote(urlsplit(self.path).path)
        if path.startswith(PREFIX):
            self._preview(path.removeprefix(PREFIX))
            return
        root = self.server.preview.root
        status = self.server.preview.status
        if root is None:  # no good build yet: a page with the banner alone
            body = "<html><head></head><body><h1>No good build yet</h1></body></html>"
            self._send(HTTPStatus.OK, "text/html", decorate(body.encode(), status))
            return
        file = _resolve(root, path)
        if file is not None and file.is_dir():
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", path + "/")
            self._headers()
            self.end_headers()
            return
        code = HTTPStatus.OK
        if file is None or not file.is_file():
            code, file = HTTPStatus.NOT_FOUND, root / "404.html"
            if not file.is_file():
                self._send(code, "text/plain", b"Not found\n")
                return
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        data = file.read_bytes()
        if kind == "text/html":
            data = decorate(data, status)
        self._send(code, kind, data)

    def _preview(self, name: str) -> None:
        if name == "status":
            preview = self.server.preview
            status = preview.status
            data = json.dumps(
                {
                    "version": status.version,
                    "built": preview.root is not None,
                    "problems": list(status.problems),
                    "drafts": list(status.drafts),
                }
            )
            self._send(HTTPStatus.OK, "application/json", data.encode())
        elif name in {"preview.js", "preview.css"}:
            kind = "text/javascript" if name.endswith(".js") else "text/css"
            self._send(HTTPStatus.OK, kind, (STATIC / name).read_bytes())
        else:
            self._send(HTTPStatus.NOT_FOUND, "text/plain", b"Not found\n")

    def _send(self, code: int, kind: str, data: bytes) -> None:
        self.send_response(code)
        textual = kind.startswith("text/") or kind.endswith(("json", "xml"))
        self.send_header("Content-Type", f"{kind}; charset=utf-8" if textual else kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")  # every reload shows the latest build
        self._headers()
        self.end_headers()
        self.wfile.write(data)

    def _headers(self) -> None:
        for name, value in self.server.headers.items():
            self.send_header(name, value)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)


def _resolve(root: Path, path: str) -> Path | None:
    """The file of a URL path inside `root` (`/x/` is `x/index.html`), or None outside it."""
    clean = posixpath.normpath(path)
    parts = [p for p in clean.split("/") if p and p not in {".", ".."}]
    file = root.joinpath(*parts)
    if path.endswith("/"):
        file = file / "index.html"
    return file
